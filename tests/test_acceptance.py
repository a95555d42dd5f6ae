"""Issue 22.1: no plausible-but-wrong download accepted, with or without a cache. A FRED
stand-in on 127.0.0.1 answers with real series from the bundled snapshot, altered as an
attacker or a broken mirror would; each test checks the cache and its sidecar, the raw
file ingest writes (byte for byte against a run that never saw the answer) and the
`.ok` record."""

import json
import shutil

import pandas as pd
import pytest

from conftest import ROOT
from corrflow.config.sections import Network
from corrflow.data import ingest
from corrflow.data.sources.cache import cache_path, sidecar_path, write_cache
from corrflow.io import schema_defaults, write_csv_atomic, write_json_atomic
from test_ingest import FAKE_KEY, FredServer, fred_csv, fred_xml

SAMPLE = ROOT / "data" / "sample"
YEAR = ("2020-01-01", "2020-12-31")


@pytest.fixture(params=["csv", "api"])
def key(request):
    """Every test against the keyless CSV download and the keyed XML API."""
    return None if request.param == "csv" else FAKE_KEY


def sample(series_id: str) -> pd.Series:
    """A snapshot series as ingest reads it (blank holiday rows as NaN)."""
    return ingest.parse_series_csv((SAMPLE / f"{series_id}.csv").read_text(), series_id)


def rows_of(series: pd.Series) -> list[tuple[str, str]]:
    return [(d.strftime("%Y-%m-%d"), "." if pd.isna(v) else repr(float(v))) for d, v in series.items()]


def body(series: pd.Series, key, symbol: str) -> str:
    return fred_xml(rows_of(series)) if key else fred_csv(rows_of(series), symbol)


def spec(series_id: str, kind: str) -> dict:
    return {"id": series_id, "source": "fred", "kind": kind, **({"maturity": 10} if kind == "yield" else {})}


def setup(tmp_path, snapshot_ids=(), cached: pd.Series | None = None, **network):
    """Settings of one run: a snapshot folder holding ``snapshot_ids`` (real files), a
    cache seeded with ``cached`` as a past download left it."""
    snapshot = tmp_path / "sample"
    snapshot.mkdir(exist_ok=True)
    for series_id in snapshot_ids:
        shutil.copy(SAMPLE / f"{series_id}.csv", snapshot / f"{series_id}.csv")
    paths = {"cache": str(tmp_path / "cache"), "snapshot": str(snapshot), "local_csv": str(tmp_path)}
    if cached is not None:
        path = cache_path(paths["cache"], "fred", cached.name)
        write_cache(cached, path, "fred", cached.name, cached.name, "2026-01-05T10:00:00+00:00")
    network = {"timeout_s": 20.0, "retries": 1, "backoff_s": 0.01, "max_retry_time_s": 1, **network}
    return network, paths


def run_ingest(tmp_path, name, specs, network, paths, start, end, base=None, key=None, offline=False):
    """ingest.py's main() minus its argument parsing: outcomes, raw CSV bytes, `.ok` record."""
    network = {**network, "fred_api_url": f"{base}/fred", "fred_csv_url": f"{base}/fredgraph.csv"}
    policy = ingest.retry_policy(Network.from_dict({**schema_defaults()["network"], **network}))
    outcomes = ingest.ingest_source(
        "fred", specs, start, end, offline, network, paths, policy, api_key=key, throttle=ingest.Throttle(0)
    )
    tidy = ingest.tidy_frame(outcomes)
    raw, ok = tmp_path / f"{name}.csv", tmp_path / f"{name}.ok"
    write_csv_atomic(tidy, raw, index=False)
    write_json_atomic(ingest.status_record("fred", outcomes, tidy), ok)
    record = {r["series"]: r for r in json.loads(ok.read_text())["series"]}
    return outcomes, raw.read_bytes(), record


def cache_bytes(paths, series_id):
    path = cache_path(paths["cache"], "fred", series_id)
    if not path.exists():
        return None
    return path.read_bytes(), sidecar_path(path).read_bytes()


def test_an_answer_whose_newest_45_percent_is_another_series_is_refused_against_the_cache(tmp_path, key):
    """Issue 22: with a good cache this was accepted (only a majority of differing values
    refused it) and overwrote the cache; SPY-DGS10 read +0.62 instead of +0.71."""
    dgs10, dgs2 = sample("DGS10").loc[YEAR[0] : YEAR[1]], sample("DGS2").loc[YEAR[0] : YEAR[1]]
    network, paths = setup(tmp_path, cached=dgs10)
    before = cache_bytes(paths, "DGS10")
    _, offline_raw, _ = run_ingest(
        tmp_path, "offline", [spec("DGS10", "yield")], network, paths, *YEAR, offline=True
    )
    cut = int(len(dgs10) * 0.55)
    mixed = pd.concat([dgs10.iloc[:cut], dgs2.iloc[cut:]])
    with FredServer([], body(mixed, key, "DGS10")) as server:
        outcomes, raw, record = run_ingest(
            tmp_path, "live", [spec("DGS10", "yield")], network, paths, *YEAR, server.base, key
        )
    outcome = outcomes["DGS10"]
    assert outcome.status == "cached" and outcome.last_error == "RevisionLimit" and outcome.attempts == 1
    assert cache_bytes(paths, "DGS10") == before and raw == offline_raw
    entry = record["DGS10"]
    assert entry["status"] == "cached" and entry["revisions"] == [] and len(entry["refused"]) == 1
    differ = int((dgs10.iloc[cut:] != dgs2.iloc[cut:]).sum() - dgs10.iloc[cut:].isna().sum())
    assert entry["refused"][0].startswith(
        f"RevisionLimit: fred DGS10: {differ} of {int(dgs10.notna().sum())} values"
    )
    assert (
        "differ from the cached copy" in entry["refused"][0]
        and "network.max_revision_share" in entry["refused"][0]
    )
    assert FAKE_KEY not in json.dumps(record)


@pytest.mark.parametrize("series_id, kind", [("DGS10", "yield"), ("VIXCLS", "level")])
def test_an_answer_cut_at_a_line_boundary_is_refused_against_the_snapshot(tmp_path, key, series_id, kind):
    """Issue 22: without a cache, DGS10 cut after 1994-01-28 (8,369 of 16,822 rows) was served
    `fresh`, became a verified cache, and later offline runs served it over the snapshot."""
    full = sample(series_id)
    start, end = str(full.index[0].date()), str(full.index[-1].date())
    cut = full.loc[:"1994-01-28"] if series_id == "DGS10" else full.iloc[: len(full) // 2]
    network, paths = setup(tmp_path, snapshot_ids=[series_id])
    _, offline_raw, offline = run_ingest(
        tmp_path, "offline", [spec(series_id, kind)], network, paths, start, end, offline=True
    )
    script = [("close", body(cut, key, series_id))] * 2  # whole-looking: no length to check
    with FredServer(script, body(cut, key, series_id)) as server:
        outcomes, raw, record = run_ingest(
            tmp_path, "live", [spec(series_id, kind)], network, paths, start, end, server.base, key
        )
    outcome = outcomes[series_id]
    assert outcome.status == "snapshot" and outcome.last_error == "HistoryShrunk" and outcome.attempts == 2
    assert cache_bytes(paths, series_id) is None  # a refused answer never becomes a cache
    assert raw == offline_raw and record[series_id]["rows"] == len(full) == offline[series_id]["rows"]
    reason = record[series_id]["refused"][0]
    assert reason.startswith(
        f"HistoryShrunk: fred {series_id}: the answer has {int(cut.notna().sum())} values"
    )
    assert (
        f"it ends {cut.dropna().index[-1].date()}, before the snapshot's {full.dropna().index[-1].date()}"
        in reason
    )
    assert len(record[series_id]["refused"]) == 2 and record[series_id]["revisions"] == []


@pytest.mark.parametrize("series_id, kind", [("DCOILWTICO", "price"), ("VIXCLS", "level")])
def test_a_constant_wrong_series_is_refused_without_a_cache(tmp_path, key, series_id, kind):
    """Issue 22: every value 123.45 was accepted for DCOILWTICO and VIXCLS ("VIX 123.5").
    With the snapshot it differs from the snapshot; with neither cache nor snapshot it is
    refused on its own (a quarter of a year of one value)."""
    real = sample(series_id).loc[YEAR[0] : YEAR[1]]
    constant = real.where(real.isna(), 123.45)
    for label, snapshot_ids, code, said in [
        ("snapshot", [series_id], "WrongSeries", "values differ from the bundled snapshot"),
        ("neither", [], "Implausible", "identical values in a row (123.45 from 2020-01-02"),
    ]:
        where = tmp_path / label
        where.mkdir()
        network, paths = setup(where, snapshot_ids=snapshot_ids)
        _, offline_raw, _ = run_ingest(
            where, "offline", [spec(series_id, kind)], network, paths, *YEAR, offline=True
        )
        with FredServer([], body(constant, key, series_id)) as server:
            outcomes, raw, record = run_ingest(
                where, "live", [spec(series_id, kind)], network, paths, *YEAR, server.base, key
            )
        outcome = outcomes[series_id]
        assert outcome.last_error == code and outcome.attempts == 1, label
        assert outcome.status == ("snapshot" if snapshot_ids else "missing")
        assert cache_bytes(paths, series_id) is None and raw == offline_raw
        assert (
            record[series_id]["refused"][0].startswith(f"{code}: fred {series_id}: ")
            and said in (record[series_id]["refused"][0])
        )


def revised(series: pd.Series, changes: dict[str, float]) -> pd.Series:
    out = series.copy()
    for day, value in changes.items():
        out.loc[day] = value
    return out


def test_revisions_within_the_limit_are_accepted_and_listed(tmp_path, key):
    dgs10 = sample("DGS10").loc[YEAR[0] : YEAR[1]]
    network, paths = setup(tmp_path, cached=dgs10)
    answer = revised(dgs10, {"2020-12-29": 0.95, "2020-12-30": 0.94})  # 2 of 251 values, last week
    with FredServer([], body(answer, key, "DGS10")) as server:
        outcomes, raw, record = run_ingest(
            tmp_path, "live", [spec("DGS10", "yield")], network, paths, *YEAR, server.base, key
        )
    assert outcomes["DGS10"].status == "fresh" and record["DGS10"]["refused"] == []
    assert record["DGS10"]["revisions"] == [
        {"date": "2020-12-29", "old": 0.94, "new": 0.95},
        {"date": "2020-12-30", "old": 0.93, "new": 0.94},
    ]
    assert "2 value(s) revised against the cached copy accepted" in record["DGS10"]["notes"][0]
    assert b"DGS10,2020-12-29,0.95\n" in raw  # the raw file and the cache hold the revised values
    cached = ingest.parse_series_csv(cache_path(paths["cache"], "fred", "DGS10").read_text(), "DGS10")
    assert cached.loc["2020-12-29"] == 0.95 and cached.loc["2020-12-30"] == 0.94


@pytest.mark.parametrize(
    "changes, network, accepted, said",
    [
        # 5 of 251 values (2 %): more than the default 1 %
        ({f"2020-12-{d}": 2.0 for d in (21, 22, 23, 24, 28)}, {}, False, "2.0% of the shared values"),
        ({f"2020-12-{d}": 2.0 for d in (21, 22, 23, 24, 28)}, {"max_revision_share": 0.05}, True, ""),
        # one value, older than the default 90 days before the copy's last value
        ({"2020-03-02": 1.5}, {}, False, "1 of them dated more than 90 days before the cached copy's last"),
        ({"2020-03-02": 1.5}, {"max_revision_age_days": 365}, True, ""),
    ],
    ids=["share", "share-raised", "age", "age-raised"],
)
def test_revisions_beyond_the_limit_are_refused(tmp_path, key, changes, network, accepted, said):
    dgs10 = sample("DGS10").loc[YEAR[0] : YEAR[1]]
    network, paths = setup(tmp_path, cached=dgs10, **network)
    before = cache_bytes(paths, "DGS10")
    _, offline_raw, _ = run_ingest(
        tmp_path, "offline", [spec("DGS10", "yield")], network, paths, *YEAR, offline=True
    )
    with FredServer([], body(revised(dgs10, changes), key, "DGS10")) as server:
        outcomes, raw, record = run_ingest(
            tmp_path, "live", [spec("DGS10", "yield")], network, paths, *YEAR, server.base, key
        )
    entry = record["DGS10"]
    if accepted:
        assert entry["status"] == "fresh" and len(entry["revisions"]) == len(changes)
        assert [r["date"] for r in entry["revisions"]] == sorted(changes) and cache_bytes(
            paths, "DGS10"
        ) != before
        return
    assert entry["status"] == "cached" and entry["last_error"] == "RevisionLimit" and entry["revisions"] == []
    assert entry["refused"][0].startswith("RevisionLimit: fred DGS10: ") and said in entry["refused"][0]
    assert cache_bytes(paths, "DGS10") == before and raw == offline_raw


def test_an_empty_answer_is_recorded_as_a_refusal(tmp_path, key):
    network, paths = setup(tmp_path, snapshot_ids=["DGS10"])
    empty = fred_xml([]) if key else "observation_date,DGS10\n"
    with FredServer([], empty) as server:
        outcomes, _, record = run_ingest(
            tmp_path, "live", [spec("DGS10", "yield")], network, paths, *YEAR, server.base, key
        )
    assert outcomes["DGS10"].status == "snapshot" and record["DGS10"]["last_error"] == "EmptySeries"
    assert record["DGS10"]["refused"] and record["DGS10"]["refused"][0].startswith("EmptySeries: ")
    assert cache_bytes(paths, "DGS10") is None


def test_an_answer_that_starts_later_than_the_series_is_known_to_is_refused(tmp_path):
    """Neither cache nor snapshot: DGS10 is published from 1962, an answer from 1994 was cut."""
    from corrflow.data.http_client import FetchError
    from corrflow.data.sources.acceptance import RevisionLimits, accept_download

    late = sample("DGS10").loc["1994-01-03":"1994-12-30"]
    limits = RevisionLimits(0.01, 90)
    with pytest.raises(
        FetchError, match="HistoryShrunk: fred DGS10: the answer starts 1994-01-03; the series is"
    ):
        accept_download(
            late, spec("DGS10", "yield"), "fred", "1962-01-02", "1994-12-30", "fred DGS10", limits
        )
    accepted = accept_download(
        late, spec("DGS10", "yield"), "fred", "1994-01-01", "1994-12-30", "fred DGS10", limits
    )
    assert accepted.revisions == [] and accepted.notes == []


def test_the_snapshot_holds_no_run_an_answer_would_be_refused_for():
    """The plausibility limits leave every real series of the snapshot alone."""
    from corrflow.data.sources.acceptance import MAX_CONSTANT_RUN, longest_constant_run

    for path in sorted(SAMPLE.glob("*.csv")):
        length, _, _ = longest_constant_run(sample(path.stem))
        assert length <= MAX_CONSTANT_RUN // 2, path.name
