"""Ingest in chunks (issue 23.4): a universe of 7 series fetched 3 at a time from a real
HTTP server on 127.0.0.1 (FRED's CSV download, and a Yahoo stand-in reached through
``yahoo_fetch``) whose faults are injected per series; each chunk's progress in the log,
its record in ``<cache>/<source>/chunks.json``, and the rerun that fetches only the
chunks that failed. No request leaves this machine."""

import io
import json
import logging
import urllib.parse
from pathlib import Path

import pandas as pd
import pytest

from corrflow.data import ingest
from corrflow.data.http_client import RetryPolicy, http_get
from corrflow.data.sources.cache import cache_path, read_cache, sidecar_path, write_cache
from corrflow.data.sources.chunks import chunks_path
from http_standin import LocalServer, send
from test_ingest import closed_port_url, fake_policy, fred_csv, settings

START, END = "2020-01-01", "2020-12-31"
DAYS = ["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07", "2020-01-08", "2020-01-09", "2020-01-10"]
IDS = [f"S{n}" for n in range(1, 8)]
CHUNK_OF = {"S1": 1, "S2": 1, "S3": 1, "S4": 2, "S5": 2, "S6": 2, "S7": 3}
SECOND_CHUNK = {"S4", "S5", "S6"}
NOW = "2026-01-06T12:00:00+00:00"  # every run of a test on one day, whenever it runs


def value(series_id: str, day: int, source: str) -> float:
    """A distinct, plausible value per series and day: a yield for FRED, a price for Yahoo
    (S2X, S2 under another symbol, answers S2's values)."""
    n = int(series_id[1])
    return round((1.0 + 0.1 * n + 0.01 * day) if source == "fred" else (100.0 * n + day), 2)


def rows_of(series_id: str, source: str) -> list[tuple[str, str]]:
    return [(d, f"{value(series_id, i, source):.2f}") for i, d in enumerate(DAYS)]


def specs_of(source: str) -> list[dict]:
    if source == "fred":
        return [{"id": i, "source": "fred", "kind": "yield", "maturity": 10} for i in IDS]
    return [{"id": i, "source": "yahoo", "kind": "price"} for i in IDS]


class UniverseServer(LocalServer):
    """FRED's CSV download (``/fredgraph.csv?id=S1``, one series a request) and a Yahoo
    stand-in (``/yahoo?symbols=S1,S2,S3``: one batch a request, a CSV of closes). A
    request naming a symbol in ``failing`` is answered HTTP 503. ``requests`` logs the
    symbols of every request, in order."""

    def __init__(self, failing=()):
        super().__init__()
        self.failing = set(failing)
        self.requests: list[list[str]] = []

    def answer(self, handler):
        url = urllib.parse.urlparse(handler.path)
        query = urllib.parse.parse_qs(url.query)
        symbols = (query.get("id") or query.get("symbols"))[0].split(",")
        self.requests.append(symbols)
        if self.failing & set(symbols):
            status, body = 503, "Service Unavailable (injected)"
        elif url.path == "/fredgraph.csv":
            status, body = 200, fred_csv(rows_of(symbols[0], "fred"), symbols[0])
        else:
            closes = {s: [value(s, i, "yahoo") for i in range(len(DAYS))] for s in symbols}
            status, body = 200, pd.DataFrame(closes, index=pd.Index(DAYS, name="Date")).to_csv()
        send(handler, status, body.encode(), "text/csv")

    def requested(self) -> set[str]:
        return {symbol for request in self.requests for symbol in request}


def yahoo_through(base: str):
    """``yahoo_fetch`` over real HTTP: one request per batch, answered as yfinance's frame."""

    def fetch(symbols, start, end, network):
        query = urllib.parse.urlencode({"symbols": ",".join(symbols), "start": start, "end": end})
        body = http_get(f"{base}/yahoo?{query}", network["timeout_s"])
        frame = pd.read_csv(io.StringIO(body.decode()), index_col="Date", parse_dates=True)
        frame.columns = pd.MultiIndex.from_product([["Close"], frame.columns], names=["Price", "Ticker"])
        return frame

    return fetch


@pytest.fixture(autouse=True)
def info_logs(caplog):
    caplog.set_level(logging.INFO, logger="ingest")


@pytest.fixture(autouse=True)
def one_day(monkeypatch):
    """Downloads, chunk records and the day they are compared with all at NOW: a test
    that runs across midnight (UTC) must not see its first run as yesterday's."""
    monkeypatch.setattr("corrflow.data.sources.chain.utc_now", lambda: NOW)
    monkeypatch.setattr("corrflow.data.sources.chunks.utc_now", lambda: NOW)


@pytest.fixture(params=["fred", "yahoo"])
def source(request):
    return request.param


def run(source, tmp_path, server, end=END, specs=None, policy=None, chunk_size=3):
    """One ingest of the universe against ``server``: outcomes and the `.ok` record."""
    network, paths = settings(tmp_path, server.base)
    network["chunk_size"] = chunk_size
    extra = (
        {"throttle": ingest.Throttle(0.0)}
        if source == "fred"
        else {"yahoo_fetch": yahoo_through(server.base)}
    )
    outcomes = ingest.ingest_source(
        source,
        specs or specs_of(source),
        START,
        end,
        False,
        network,
        paths,
        policy or fake_policy()[0],
        **extra,
    )
    return outcomes, ingest.status_record(source, outcomes, ingest.tidy_frame(outcomes))


def seed_second_chunk_fallbacks(tmp_path, source):
    """S4 has a cache (an older download), S5 a snapshot copy, S6 nothing."""
    _, paths = settings(tmp_path)
    old = pd.Series(
        [value("S4", i, source) for i in range(3)], index=pd.DatetimeIndex(DAYS[:3], name="date"), name="S4"
    )
    write_cache(
        old, cache_path(paths["cache"], source, "S4"), source, "S4", "S4", "2026-01-05T10:00:00+00:00"
    )
    snapshot = "date,value\n" + "".join(f"{d},{v}\n" for d, v in rows_of("S5", source))
    (Path(paths["snapshot"]) / "S5.csv").write_text(snapshot)
    return paths


def chunk_record(paths, source) -> dict:
    return json.loads(chunks_path(paths["cache"], source).read_text())


def statuses(outcomes) -> dict[str, str]:
    return {series_id: o.status for series_id, o in outcomes.items()}


def test_a_rerun_fetches_only_the_chunk_that_failed(tmp_path, source, caplog):
    paths = seed_second_chunk_fallbacks(tmp_path, source)
    with UniverseServer(failing=SECOND_CHUNK) as server:
        first, first_ok = run(source, tmp_path, server)
        assert statuses(first) == {
            **dict.fromkeys(["S1", "S2", "S3", "S7"], "fresh"),
            "S4": "cached",
            "S5": "snapshot",
            "S6": "missing",
        }
        assert first["S4"].last_error == "HTTP503" and first["S6"].last_error == "HTTP503"
        record = chunk_record(paths, source)
        assert record["complete"] is False and record["planned"] == 3
        assert [(c["chunk"], c["series"], c["status"]) for c in record["chunks"]] == [
            (1, ["S1", "S2", "S3"], "fresh"),
            (2, ["S4", "S5", "S6"], "failed"),
            (3, ["S7"], "fresh"),
        ]
        assert record["chunks"][1]["failed"] == ["S4", "S5", "S6"]
        assert all((c["start"], c["end"]) == (START, END) for c in record["chunks"])
        assert [(c["number"], c["of"], c["status"]) for c in first_ok["chunks"]] == [
            (1, 3, "fresh"),
            (2, 3, "failed"),
            (3, 3, "fresh"),
        ]
        assert first_ok["chunks"][1]["series"] == ["S4", "S5", "S6"]
        kept = {i: cache_path(paths["cache"], source, i).read_bytes() for i in ("S1", "S7")}

        server.failing.clear()
        server.requests.clear()
        caplog.clear()
        second, second_ok = run(source, tmp_path, server)
    assert server.requested() == SECOND_CHUNK  # chunks 1 and 3 were not asked for again
    assert statuses(second) == {
        **dict.fromkeys(["S1", "S2", "S3", "S7"], "cached"),
        **dict.fromkeys(SECOND_CHUNK, "fresh"),
    }
    for series_id in ("S1", "S2", "S3", "S7"):
        outcome = second[series_id]
        assert outcome.origin == "cache (fresh in an earlier run, downloaded 2026-01-06)"
        assert outcome.downloaded_at == NOW
        assert outcome.series.tolist() == [value(series_id, i, source) for i in range(len(DAYS))]
        assert outcome.attempts == 0 and outcome.last_error is None
    assert {i: cache_path(paths["cache"], source, i).read_bytes() for i in ("S1", "S7")} == kept
    assert f"{source} chunk 1 of 3: fresh in an earlier run at {NOW}, not fetched again" in caplog.text
    assert [c["status"] for c in second_ok["chunks"]] == ["cached", "fresh", "cached"]
    assert chunk_record(paths, source)["complete"] is True
    # every series' `.ok` entry keeps the fields its readers know
    assert {e["series"]: e["status"] for e in second_ok["series"]} == statuses(second)


def test_a_finished_record_resumes_nothing(tmp_path, source):
    """Once every chunk has come fresh, the next run downloads everything again."""
    _, paths = settings(tmp_path)
    with UniverseServer() as server:
        run(source, tmp_path, server)
        assert chunk_record(paths, source)["complete"] is True
        server.requests.clear()
        again, _ = run(source, tmp_path, server)
    assert server.requested() == set(IDS) and set(statuses(again).values()) == {"fresh"}


def test_each_chunk_logs_its_progress_and_is_one_fetch(tmp_path, caplog):
    with UniverseServer() as server:
        outcomes, ok = run("yahoo", tmp_path, server)
    assert server.requests == [["S1", "S2", "S3"], ["S4", "S5", "S6"], ["S7"]]  # one batch per chunk
    assert set(statuses(outcomes).values()) == {"fresh"} and ok["partial"] is False
    assert "yahoo: 7 series in 3 chunk(s) of up to 3 (network.chunk_size)" in caplog.text
    for line in (
        "yahoo chunk 1 of 3: 3 series, fresh 3, rows 21, ",
        "yahoo chunk 2 of 3: 3 series, fresh 3, rows 21, ",
        "yahoo chunk 3 of 3: 1 series, fresh 1, rows 7, ",
        "yahoo: 3 chunk(s) in ",
    ):
        assert line in caplog.text, line
    assert " s: 3 fresh\n" in caplog.text + "\n"


def test_a_failed_chunk_says_so_and_what_a_rerun_fetches(tmp_path, caplog):
    with UniverseServer(failing={"S5"}) as server:
        run("yahoo", tmp_path, server)
    assert "yahoo chunk 2 of 3: 3 series, fresh 0, rows 0, " in caplog.text
    assert "; not fresh: S4, S5, S6" in caplog.text
    assert "2 fresh, 1 failed; a rerun today fetches chunk(s) 2 again" in caplog.text


def edit_specs(specs):
    specs[1]["symbol"] = "S2X"  # chunk 1 is another chunk now
    return specs


def yesterday_record(paths, source):
    record = chunk_record(paths, source)
    for chunk in record["chunks"]:
        chunk["finished_at"] = "2026-01-05T23:59:59+00:00"
    chunks_path(paths["cache"], source).write_text(json.dumps(record))


@pytest.mark.parametrize(
    "change, fetched",
    [
        ("end", set(IDS)),  # another range: every chunk again
        ("day", set(IDS)),  # the record is yesterday's: a fixed end must not pin old data
        ("symbol", {"S1", "S2X", "S3", *SECOND_CHUNK}),  # chunk 1's specs changed, chunk 3's did not
    ],
)
def test_a_changed_range_day_or_series_list_fetches_those_chunks_again(tmp_path, source, change, fetched):
    _, paths = settings(tmp_path)
    with UniverseServer(failing=SECOND_CHUNK) as server:
        run(source, tmp_path, server)
        server.failing.clear()
        server.requests.clear()
        specs, end = specs_of(source), END
        if change == "end":
            end = "2020-12-30"
        elif change == "day":
            yesterday_record(paths, source)
        else:
            specs = edit_specs(specs)
        outcomes, _ = run(source, tmp_path, server, end=end, specs=specs)
    assert server.requested() == fetched
    fresh = {k for k, o in outcomes.items() if o.status == "fresh"}
    assert fresh == {"S2" if i == "S2X" else i for i in fetched}


def test_a_chunk_whose_cache_file_was_damaged_is_fetched_again(tmp_path, source, caplog):
    _, paths = settings(tmp_path)
    with UniverseServer(failing=SECOND_CHUNK) as server:
        run(source, tmp_path, server)
        damaged = cache_path(paths["cache"], source, "S2")
        damaged.write_bytes(damaged.read_bytes().replace(b"2020-01-03", b"2020-01-04"))
        server.failing.clear()
        server.requests.clear()
        outcomes, _ = run(source, tmp_path, server)
    assert server.requested() == {"S1", "S2", "S3", *SECOND_CHUNK}  # chunk 3 still resumed
    assert outcomes["S7"].status == "cached" and outcomes["S2"].status == "fresh"
    assert "chunk 1 of 3: fresh in an earlier run at" in caplog.text
    assert "but S2 has no intact cache file; fetched again" in caplog.text
    assert read_cache(damaged, {"id": "S2"}) is not None and sidecar_path(damaged).exists()


class Interrupted(BaseException):
    """The job killed mid-run (as a SIGTERM from Snakemake or SLURM would end it)."""


def test_an_interrupted_run_resumes_after_its_last_finished_chunk(tmp_path):
    _, paths = settings(tmp_path)
    with UniverseServer() as server:
        batches = []
        real = yahoo_through(server.base)

        def killed_at_the_second_batch(symbols, start, end, network):
            batches.append(symbols)
            if len(batches) == 2:
                raise Interrupted()
            return real(symbols, start, end, network)

        network, _ = settings(tmp_path, server.base)
        network["chunk_size"] = 3
        with pytest.raises(Interrupted):
            ingest.ingest_source(
                "yahoo", specs_of("yahoo"), START, END, False, network, paths, fake_policy()[0],
                yahoo_fetch=killed_at_the_second_batch,
            )  # fmt: skip
        record = chunk_record(paths, "yahoo")
        assert [(c["chunk"], c["status"]) for c in record["chunks"]] == [(1, "fresh")]
        assert record["complete"] is False
        server.requests.clear()
        outcomes, _ = run("yahoo", tmp_path, server)
    assert server.requests == [["S4", "S5", "S6"], ["S7"]]
    assert outcomes["S1"].status == "cached" and outcomes["S7"].status == "fresh"


def test_each_chunk_has_its_own_budget(tmp_path):
    """A clock that jumps 60 s per call: one budget of 100 s for the source would stop at
    the third chunk; each chunk's own budget lets every chunk finish."""
    now = [0.0]
    with UniverseServer() as server:
        real = yahoo_through(server.base)

        def slow(symbols, start, end, network):
            now[0] += 60
            return real(symbols, start, end, network)

        network, paths = settings(tmp_path, server.base)
        network["chunk_size"] = 3
        policy = RetryPolicy(retries=0, budget_s=100, sleep=lambda s: None, clock=lambda: now[0])
        outcomes = ingest.ingest_source(
            "yahoo", specs_of("yahoo"), START, END, False, network, paths, policy, yahoo_fetch=slow
        )
    assert set(statuses(outcomes).values()) == {"fresh"} and now[0] == 180


def test_a_source_found_unreachable_is_not_tried_for_later_chunks(tmp_path):
    network, paths = settings(tmp_path, closed_port_url())
    network["chunk_size"] = 3
    policy, _ = fake_policy()
    outcomes = ingest.ingest_source(
        "fred", specs_of("fred"), START, END, False, network, paths, policy, throttle=ingest.Throttle(0.0)
    )
    assert outcomes["S1"].attempts == 4 and outcomes["S1"].last_error == "ConnectionRefused"
    later = [outcomes[i] for i in IDS[1:]]
    assert all(o.attempts == 0 and o.last_error == "SourceUnreachable" for o in later)
    assert policy.stopped_by == "SourceUnreachable" and set(statuses(outcomes).values()) == {"missing"}
    assert [c["status"] for c in chunk_record(paths, "fred")["chunks"]] == ["failed"] * 3


def test_offline_and_local_runs_keep_no_chunk_record(tmp_path):
    network, paths = settings(tmp_path)
    outcomes = ingest.ingest_source(
        "fred", specs_of("fred"), START, END, True, network, paths, fake_policy()[0]
    )
    record = ingest.status_record("fred", outcomes, ingest.tidy_frame(outcomes))
    assert "chunks" not in record and not chunks_path(paths["cache"], "fred").exists()


def test_an_unreadable_chunk_record_is_skipped_with_a_warning(tmp_path, caplog):
    _, paths = settings(tmp_path)
    chunks_path(paths["cache"], "yahoo").parent.mkdir(parents=True)
    chunks_path(paths["cache"], "yahoo").write_text("{not json")
    with UniverseServer() as server:
        outcomes, _ = run("yahoo", tmp_path, server)
    assert server.requested() == set(IDS) and set(statuses(outcomes).values()) == {"fresh"}
    assert "chunk record" in caplog.text and "skipped" in caplog.text
