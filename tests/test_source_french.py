"""The Ken French source (FF_MKT) over real local HTTP: a zip of the daily factors file,
parsed into the market's total return index; a bad answer falls back to the snapshot."""

import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from corrflow.data.http_client import RetryPolicy
from corrflow.data.sources import REGISTRY
from corrflow.data.sources.chain import ingest_source
from corrflow.data.sources.french import french_daily_factors, market_total_return_index
from http_standin import LocalServer, send

SPEC = [{"id": "FF_MKT", "source": "french", "kind": "price"}]
ROWS = [
    ("20200102", "0.86", "-0.02", "-0.35", "0.006"),
    ("20200103", "-0.67", "0.33", "0.00", "0.006"),
    ("20200106", "0.36", "-0.19", "-0.56", "0.006"),
    ("20200107", "-0.19", "-0.07", "-0.17", "0.006"),
]


def french_csv(rows=ROWS) -> str:
    lines = [
        "This file was created by CMPT_ME_BEME_RETS_DAILY using the 202604 CRSP database.",
        "The Tbill return is the simple daily rate that, over the number of trading days",
        "",
        ",Mkt-RF,SMB,HML,RF",
        *[",".join(row) for row in rows],
        "",
        "Copyright 2026 Eugene F. Fama and Kenneth R. French",
    ]
    return "\r\n".join(lines) + "\r\n"


def zipped(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("F-F_Research_Data_Factors_daily.csv", text.encode("latin-1"))
    return buffer.getvalue()


class BytesServer(LocalServer):
    """Every request answered 200 with the same bytes, at ``url`` (started at once)."""

    def __init__(self, body: bytes):
        super().__init__()
        self.body = body
        self.requests = 0
        self.url = f"{self.base}/factors.zip"
        self.start()

    def answer(self, handler):
        self.requests += 1
        send(handler, 200, self.body)


def run(tmp_path, body: bytes):
    server = BytesServer(body)
    snapshot = tmp_path / "sample"
    snapshot.mkdir()
    (snapshot / "FF_MKT.csv").write_text("date,value\n2020-01-02,100.0\n2020-01-03,99.5\n")
    network = {"timeout_s": 5, "french_url": server.url}
    paths = {"cache": str(tmp_path / "cache"), "snapshot": str(snapshot), "local_csv": str(tmp_path)}
    policy = RetryPolicy(retries=1, backoff_s=0.01, max_wait_s=1, sleep=lambda s: None)
    try:
        return (
            ingest_source("french", SPEC, "2020-01-01", "2020-12-31", False, network, paths, policy)[
                "FF_MKT"
            ],
            server,
        )
    finally:
        server.close()


def test_the_market_total_return_index_is_mkt_rf_plus_rf_compounded():
    factors = french_daily_factors(french_csv(), "test file")
    index = market_total_return_index(factors)
    expected = 100 * np.cumprod(
        [
            1 + (0.86 + 0.006) / 100,
            1 + (-0.67 + 0.006) / 100,
            1 + (0.36 + 0.006) / 100,
            1 + (-0.19 + 0.006) / 100,
        ]
    )
    np.testing.assert_allclose(index.to_numpy(), np.round(expected, 6), rtol=0, atol=1e-9)
    assert list(index.index.strftime("%Y-%m-%d")) == ["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07"]


def test_a_live_answer_is_served_and_cached_with_its_origin(tmp_path):
    outcome, server = run(tmp_path, zipped(french_csv()))
    assert server.requests == 1 and outcome.status == "fresh"
    assert len(outcome.series) == 4 and outcome.series.iloc[0] == pytest.approx(100.866)
    assert (tmp_path / "cache/french/FF_MKT.csv").exists()
    assert "french" in REGISTRY and REGISTRY["french"].label == "Ken French Data Library"


@pytest.mark.parametrize(
    "body",
    [b"<html>Service unavailable</html>", zipped("no factors here\r\n"), b""],
    ids=["html", "no-table", "empty"],
)
def test_an_answer_that_is_not_the_factors_file_falls_back_to_the_snapshot(tmp_path, body):
    outcome, _ = run(tmp_path, body)
    assert outcome.status == "snapshot" and outcome.last_error in ("Malformed", "EmptySeries")
    assert not (tmp_path / "cache/french/FF_MKT.csv").exists()
    assert pd.Timestamp("2020-01-03") in outcome.series.index
