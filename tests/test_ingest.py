"""Ingest (task A): real HTTP against a local server, download acceptance, the verified
cache, the fallback chain, the `.ok` record, CSV variants and the source registry."""

import json
import logging
import random
import socket
import threading
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT, snakemake
from corrflow.data import ingest
from corrflow.data.http_client import FetchError, RetryPolicy, call_with_deadline
from corrflow.data.ingest import ingest_source, parse_series_csv
from corrflow.data.sources import REGISTRY
from corrflow.data.sources.cache import cache_path, read_cache, sidecar_path, write_cache
from http_standin import LocalServer, send

ROWS = [
    ("2020-01-02", "1.88"),
    ("2020-01-03", "1.80"),
    ("2020-01-06", "."),
    ("2020-01-07", "1.83"),
    ("2020-01-08", "1.87"),
    ("2020-01-09", "1.86"),
    ("2020-01-10", "1.82"),
]
OTHER_SERIES = [(d, v if v == "." else f"{float(v) - 0.3:.2f}") for d, v in ROWS]  # like DGS2 beside DGS10
FAKE_KEY = "abcdef0123456789fakekey0123456789"


def fred_csv(rows, symbol="DGS10"):
    return f"observation_date,{symbol}\n" + "".join(f"{d},{v}\n" for d, v in rows)


def fred_xml(rows, count=None):
    observations = "".join(f'  <observation date="{d}" value="{v}"/>\n' for d, v in rows)
    return (
        '<?xml version="1.0" encoding="utf-8" ?>\n'
        f'<observations realtime_start="2026-01-01" count="{len(rows) if count is None else count}" '
        f'limit="100000">\n{observations}</observations>\n'
    )


FRED_ERROR_XML = (
    '<?xml version="1.0" encoding="utf-8" ?>\n'
    '<error code="400" message="Bad Request.  The series does not exist."/>\n'
)


class FredServer(LocalServer):
    """FRED on 127.0.0.1: the CSV download and the keyed XML API, playing a script of
    actions, one per request: ("ok", body), ("status", code, body), ("hang", seconds),
    ("truncate", body) (announces more bytes than it sends, then closes), ("close", body)
    (no Content-Length: a whole-looking body ended by closing), ("drip", body, seconds)
    (one line every so many seconds)."""

    def __init__(self, script, good_body):
        super().__init__()
        self.script = list(script)
        self.good_body = good_body
        self.requests = []

    def answer(self, handler):
        self.requests.append(urllib.parse.urlparse(handler.path))
        action = self.script.pop(0) if self.script else ("ok", self.good_body)
        if action[0] == "hang":
            time.sleep(action[1])
            return
        if action[0] in ("drip", "close"):
            handler.send_response(200)
            handler.send_header("Content-Type", "text/plain")
            handler.end_headers()
            for line in action[1].splitlines(keepends=True):
                handler.wfile.write(line.encode())
                handler.wfile.flush()
                if action[0] == "drip":
                    time.sleep(action[2])
            handler.close_connection = True
            return
        status, body = (200, action[1]) if action[0] in ("ok", "truncate") else (action[1], action[2])
        send(handler, status, body.encode(), "text/plain", 100 if action[0] == "truncate" else 0)
        if action[0] == "truncate":
            handler.close_connection = True


class BlackHole:
    """A socket that accepts connections and never answers (nor closes them)."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.base = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.accepted = []
        self.thread = threading.Thread(target=self.accept_forever, daemon=True)

    def accept_forever(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.listener.close()
        for connection in self.accepted:
            connection.close()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def settings(tmp_path, base="http://127.0.0.1:9", timeout=2.0):
    network = {
        "timeout_s": timeout,
        "retries": 3,
        "backoff_s": 1.0,
        "max_retry_time_s": 15,
        "fred_api_url": f"{base}/fred",
        "fred_csv_url": f"{base}/fredgraph.csv",
    }
    snapshot = tmp_path / "sample"
    snapshot.mkdir(parents=True, exist_ok=True)
    paths = {
        "cache": str(tmp_path / "cache"),
        "snapshot": str(snapshot),
        "local_csv": str(tmp_path / "local"),
    }
    return network, paths


def fake_policy(**kwargs):
    """Real deadlines (when asked for), but no real sleeping between attempts."""
    waits = []
    return RetryPolicy(retries=3, backoff_s=1.0, max_wait_s=15, sleep=waits.append, **kwargs), waits


SPEC = [{"id": "DGS10", "source": "fred", "kind": "yield", "maturity": 10}]
TWO_FRED = SPEC + [{"id": "DGS2", "source": "fred", "kind": "yield", "maturity": 2}]
SPY_YAHOO = [{"id": "SPY", "source": "yahoo", "kind": "price"}]
MINE_CSV = [{"id": "MINE", "source": "csv", "kind": "price"}]


def ingest_2020(source, specs, network, paths, policy, offline=False, **kwargs):
    """ingest_source over 2020, the range every test here asks for."""
    return ingest_source(source, specs, "2020-01-01", "2020-12-31", offline, network, paths, policy, **kwargs)


def run_fred(tmp_path, base, api_key=None, policy=None, timeout=2.0):
    network, paths = settings(tmp_path, base, timeout)
    waits = []
    if policy is None:
        policy, waits = fake_policy()
    started = time.monotonic()
    outcomes = ingest_2020(
        "fred", SPEC, network, paths, policy, api_key=api_key, throttle=ingest.Throttle(0.0)
    )
    logging.getLogger("ingest").info(
        "measured: DGS10 served from %s in %.2f s (%s)",
        outcomes["DGS10"].status,
        time.monotonic() - started,
        "api" if api_key else "csv",
    )
    return outcomes["DGS10"], waits, paths


@pytest.fixture(autouse=True)
def info_logs(caplog):
    caplog.set_level(logging.INFO, logger="ingest")


@pytest.fixture(params=["csv", "api"])
def fred_mode(request):
    """Every FRED test runs against the keyless CSV download and the keyed XML API."""
    if request.param == "csv":
        return {
            "key": None,
            "body": fred_csv,
            "good": fred_csv(ROWS[:4]),
            "empty": "observation_date,DGS10\n",
            "error_body": "Bad Request. The series does not exist.",
        }
    return {
        "key": FAKE_KEY,
        "body": lambda rows, symbol="DGS10": fred_xml(rows),
        "good": fred_xml(ROWS[:4]),
        "empty": fred_xml([]),
        "error_body": FRED_ERROR_XML,
    }


def series_of(rows, series_id="DGS10"):
    values = [float("nan") if v == "." else float(v) for _, v in rows]
    return pd.Series(values, index=pd.DatetimeIndex([d for d, _ in rows], name="date"), name=series_id)


def seed_cache(paths, rows=(("2020-01-02", "1.5"),), series_id="DGS10"):
    """A good cache copy with its sidecar, as a past download left it."""
    path = cache_path(paths["cache"], "fred", series_id)
    write_cache(series_of(rows, series_id), path, "fred", series_id, series_id, "2026-01-05T10:00:00+00:00")
    return path


def expect_fallback(tmp_path, fred_mode, script, attempts, waits_expected, error, caplog, log_text, **kwargs):
    """The fault ends at the cache, which is served and left byte-for-byte unchanged."""
    _, paths = settings(tmp_path)
    cache_file = seed_cache(paths)
    before = cache_file.read_bytes(), sidecar_path(cache_file).read_bytes()
    with FredServer(script, fred_mode["good"]) as server:
        outcome, waits, _ = run_fred(tmp_path, server.base, fred_mode["key"], **kwargs)
    assert outcome.status == "cached" and outcome.series.iloc[0] == 1.5
    assert outcome.origin == "cache (downloaded 2026-01-05)" and outcome.path == str(cache_file)
    assert outcome.attempts == attempts and len(waits) == waits_expected and outcome.last_error == error
    assert (cache_file.read_bytes(), sidecar_path(cache_file).read_bytes()) == before
    assert log_text in caplog.text and FAKE_KEY not in caplog.text
    return server, outcome


# ---------------------------------------------------------------- live answers


def test_fresh_download_parses_dots_as_nan_and_fills_the_verified_cache(tmp_path, fred_mode):
    with FredServer([], fred_mode["good"]) as server:
        outcome, waits, paths = run_fred(tmp_path, server.base, fred_mode["key"])
    assert outcome.status == "fresh" and outcome.attempts == 1 and waits == []
    assert outcome.origin == "live FRED" and outcome.column == "DGS10" and outcome.downloaded_at
    assert outcome.series.isna().sum() == 1 and outcome.series.loc["2020-01-07"] == 1.83
    query = urllib.parse.parse_qs(server.requests[0].query)
    if fred_mode["key"]:
        assert query["series_id"] == ["DGS10"] and query["observation_start"] == ["2020-01-01"]
        assert query["api_key"] == [FAKE_KEY]
    else:
        assert query == {"id": ["DGS10"], "cosd": ["2020-01-01"], "coed": ["2020-12-31"]}
    cache_file = Path(paths["cache"]) / "fred" / "DGS10.csv"
    cached = pd.read_csv(cache_file)
    assert list(cached.columns) == ["date", "value"] and len(cached) == 4
    sidecar = json.loads(sidecar_path(cache_file).read_text())
    assert {k: sidecar[k] for k in ("rows", "first", "last", "source", "symbol", "column")} == {
        "rows": 4,
        "first": "2020-01-02",
        "last": "2020-01-07",
        "source": "fred",
        "symbol": "DGS10",
        "column": "DGS10",
    }
    assert sidecar["downloaded_at"] == outcome.downloaded_at and sidecar["downloaded_at"].endswith("+00:00")
    assert read_cache(cache_file, SPEC[0]).series.equals(outcome.series)


@pytest.mark.parametrize("code", [429, 500, 503])
def test_retryable_http_errors_back_off_then_succeed(tmp_path, fred_mode, code, caplog):
    script = [("status", code, "busy"), ("status", code, "busy")]
    with FredServer(script, fred_mode["good"]) as server:
        outcome, waits, _ = run_fred(tmp_path, server.base, fred_mode["key"])
    assert outcome.status == "fresh" and outcome.attempts == 3 and len(server.requests) == 3
    assert outcome.last_error is None and outcome.refused == []
    assert len(waits) == 2 and 0.75 <= waits[0] <= 1.25 and 1.5 <= waits[1] <= 2.5
    assert (
        f"fred DGS10: attempt 1 failed: HTTP {code}" in caplog.text
        and "fred DGS10: retry 2 in" in caplog.text
    )
    assert FAKE_KEY not in caplog.text


@pytest.mark.parametrize("code", [429, 503])
def test_the_ok_record_names_the_http_status_precisely(tmp_path, fred_mode, code, caplog):
    expect_fallback(
        tmp_path, fred_mode, [("status", code, "busy")] * 4, 4, 3, f"HTTP{code}", caplog, f"HTTP {code}"
    )


def test_bad_request_is_not_retried(tmp_path, fred_mode, caplog):
    server, _ = expect_fallback(
        tmp_path,
        fred_mode,
        [("status", 400, fred_mode["error_body"])],
        1,
        0,
        "HTTP400",
        caplog,
        "The series does not exist",
    )
    assert len(server.requests) == 1


def test_hang_past_the_timeout_is_retried_then_cache(tmp_path, fred_mode, caplog):
    """timeout_s is the call's deadline: a server that says nothing is cut there."""
    expect_fallback(
        tmp_path,
        fred_mode,
        [("hang", 1.5)] * 4,
        4,
        3,
        "DeadlineExceeded",
        caplog,
        "no complete answer within 0.30 s",
        timeout=0.3,
    )


def test_truncated_body_is_retried(tmp_path, fred_mode, caplog):
    script = [("truncate", fred_mode["good"][:60])] * 4
    _, outcome = expect_fallback(tmp_path, fred_mode, script, 4, 3, "Truncated", caplog, "attempt 4 failed")
    assert len(outcome.refused) == 4 and outcome.refused[0].startswith(
        "Truncated: the body stopped after 60 bytes"
    )


def test_keyed_answer_with_fewer_observations_than_announced_is_truncated(tmp_path, caplog):
    mode = {"key": FAKE_KEY, "good": fred_xml(ROWS[:2], count=4)}
    expect_fallback(tmp_path, mode, [], 4, 3, "Truncated", caplog, "announced 4 observations and sent 2")


def test_malformed_body_is_retried(tmp_path, fred_mode, caplog):
    script = [("ok", "<observations><observation date='2020-01-02' value=\n")] * 4
    expect_fallback(tmp_path, fred_mode, script, 4, 3, "Malformed", caplog, "Malformed")


def test_empty_series_falls_back(tmp_path, fred_mode, caplog):
    expect_fallback(
        tmp_path, fred_mode, [("ok", fred_mode["empty"])], 1, 0, "EmptySeries", caplog, "EmptySeries"
    )


def test_wrong_series_by_its_header_is_refused_without_retry(tmp_path, caplog):
    mode = {"key": None, "good": fred_csv(ROWS[:4], "DGS2")}
    _, outcome = expect_fallback(tmp_path, mode, [], 1, 0, "WrongSeries", caplog, "header names DGS2")
    assert outcome.refused == ["WrongSeries: asked for DGS10, the answer's header names DGS2"]


def test_wrong_series_by_its_values_is_refused_in_both_modes(tmp_path, fred_mode, caplog):
    """The keyed API does not name the series in its answer: the cached copy shows it is another."""
    _, paths = settings(tmp_path)
    cache_file = seed_cache(paths, ROWS)
    before = cache_file.read_bytes()
    with FredServer([], fred_mode["body"](OTHER_SERIES)) as server:
        outcome, _, _ = run_fred(tmp_path, server.base, fred_mode["key"])
    assert outcome.status == "cached" and outcome.last_error == "WrongSeries" and outcome.attempts == 1
    assert "6 of 6 values differ from the cached copy" in outcome.refused[0]
    assert cache_file.read_bytes() == before


def test_a_whole_looking_answer_that_shrinks_history_is_refused(tmp_path, fred_mode, caplog):
    """Issue 16.1: a short answer ended cleanly (no length to check) must not replace the cache."""
    _, paths = settings(tmp_path)
    cache_file = seed_cache(paths, ROWS)
    before = cache_file.read_bytes(), sidecar_path(cache_file).read_bytes()
    script = [("close", fred_mode["body"](ROWS[:3]))] * 4
    with FredServer(script, fred_mode["good"]) as server:
        outcome, waits, _ = run_fred(tmp_path, server.base, fred_mode["key"])
    assert outcome.status == "cached" and outcome.last_error == "HistoryShrunk" and outcome.attempts == 4
    assert len(outcome.series) == len(ROWS) and len(waits) == 3
    assert (
        "the answer has 3 rows ending 2020-01-06, the cached copy 7 ending 2020-01-10" in outcome.refused[0]
    )
    assert (cache_file.read_bytes(), sidecar_path(cache_file).read_bytes()) == before


def test_an_answer_that_extends_the_cache_replaces_it(tmp_path, fred_mode):
    _, paths = settings(tmp_path)
    cache_file = seed_cache(paths, ROWS[:3])
    with FredServer([], fred_mode["body"](ROWS)) as server:
        outcome, _, _ = run_fred(tmp_path, server.base, fred_mode["key"])
    assert outcome.status == "fresh" and len(outcome.series) == len(ROWS)
    assert json.loads(sidecar_path(cache_file).read_text())["last"] == "2020-01-10"


@pytest.mark.parametrize(
    "value, code, said",
    [
        ("100", "OutOfBounds", "yield(s) outside -5.0..30.0 %, first 100.0 on 2020-01-02"),
        ("inf", "NotFinite", "inf"),
    ],
)
def test_values_outside_the_kinds_bounds_are_refused(tmp_path, fred_mode, caplog, value, code, said):
    rows = [(d, value if v != "." else v) for d, v in ROWS[:4]]
    mode = {**fred_mode, "good": fred_mode["body"](rows)}
    _, outcome = expect_fallback(tmp_path, mode, [], 1, 0, code, caplog, said)
    assert outcome.refused and outcome.refused[0].startswith(code)


def test_a_price_download_may_keep_a_rare_real_negative_but_not_many(tmp_path):
    from corrflow.data.sources.acceptance import check_values

    dates = pd.bdate_range("2020-01-01", periods=200)
    wti = pd.Series(50.0, index=dates)
    wti.loc["2020-04-20"] = -36.98  # the real settlement
    notes = check_values(wti, "price", "fred DCOILWTICO")
    assert notes == ["1 non-positive price(s) kept from the download, first -36.98 on 2020-04-20"]
    wti.iloc[:50] = -1.0
    with pytest.raises(FetchError, match="OutOfBounds: .* 51 non-positive price value"):
        check_values(wti, "price", "fred DCOILWTICO")
    with pytest.raises(FetchError, match="non-positive fx"):
        check_values(pd.Series([1.1, 0.0], index=dates[:2]), "fx", "fred DEXUSEU")


def test_connection_refused_is_retried_then_cache_and_the_source_given_up(tmp_path, fred_mode, caplog):
    network, paths = settings(tmp_path, closed_port_url())
    cache_file = seed_cache(paths)
    before = cache_file.read_bytes()
    policy, waits = fake_policy()
    outcomes = ingest_2020(
        "fred", TWO_FRED, network, paths, policy, api_key=fred_mode["key"], throttle=ingest.Throttle(0.0)
    )
    assert outcomes["DGS10"].status == "cached" and outcomes["DGS10"].attempts == 4 and len(waits) == 3
    assert outcomes["DGS10"].last_error == "ConnectionRefused"
    assert outcomes["DGS2"].status == "missing" and outcomes["DGS2"].attempts == 0  # not tried again
    assert outcomes["DGS2"].last_error == "SourceUnreachable"
    assert "ConnectionRefused" in caplog.text and "source unreachable" in caplog.text
    assert cache_file.read_bytes() == before and FAKE_KEY not in caplog.text


def test_throttle_spaces_requests():
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    throttle = ingest.Throttle(0.5, clock=lambda: now[0], sleep=sleep)
    throttle.wait()
    now[0] += 0.1
    throttle.wait()
    now[0] += 2.0
    throttle.wait()
    assert slept == [pytest.approx(0.4)]


def test_unresolvable_host_marks_network_down_without_retries(tmp_path):
    network, paths = settings(tmp_path, "http://no-such-host.invalid/fredgraph.csv")
    policy, waits = fake_policy()
    outcomes = ingest_2020("fred", TWO_FRED, network, paths, policy, throttle=ingest.Throttle(0.0))
    assert [o.status for o in outcomes.values()] == ["missing", "missing"]
    assert outcomes["DGS10"].attempts == 1 and outcomes["DGS2"].attempts == 0
    assert outcomes["DGS10"].last_error == "NetworkDown"
    assert waits == [] and policy.network_down


def test_offline_skips_the_network(tmp_path):
    network, paths = settings(tmp_path)
    (Path(paths["snapshot"]) / "DGS10.csv").write_text("date,value\n2019-12-31,1.9\n2020-01-02,1.88\n")
    policy, _ = fake_policy()
    outcomes = ingest_2020("fred", SPEC, network, paths, policy, offline=True)
    assert outcomes["DGS10"].status == "snapshot" and outcomes["DGS10"].attempts == 0
    assert outcomes["DGS10"].origin == "offline snapshot" and outcomes["DGS10"].downloaded_at is None
    assert list(outcomes["DGS10"].series.index.strftime("%Y-%m-%d")) == ["2020-01-02"]  # clipped to the range


# ---------------------------------------------------------------- the verified cache


def corrupt_by_flipping_a_digit(path):
    path.write_bytes(path.read_bytes().replace(b"1.5", b"7.5"))


def empty_it(path):
    path.write_bytes(b"")


def drop_the_sidecar(path):
    sidecar_path(path).unlink()


def garbage_with_a_matching_sidecar(path):
    """Bytes that are not a CSV but that the sidecar vouches for (a buggy writer)."""
    import hashlib

    data = b"\x00\x01binary"
    path.write_bytes(data)
    meta = json.loads(sidecar_path(path).read_text())
    sidecar_path(path).write_text(json.dumps({**meta, "sha256": hashlib.sha256(data).hexdigest()}))


def interrupted_write(path):
    """New data written, the process killed before its sidecar: they do not match."""
    path.write_text("date,value\n2020-01-02,1.5\n2020-01-03,1.6\n")


@pytest.mark.parametrize(
    "damage, said",
    [
        (corrupt_by_flipping_a_digit, "does not match the sidecar's"),
        (empty_it, "it is empty"),
        (drop_the_sidecar, "no sidecar DGS10.csv.json"),
        (garbage_with_a_matching_sidecar, "binary file"),
        (interrupted_write, "does not match the sidecar's"),
    ],
)
def test_a_cache_that_fails_its_check_is_skipped_for_the_snapshot(tmp_path, caplog, damage, said):
    _, paths = settings(tmp_path)
    cache_file = seed_cache(paths)
    damage(cache_file)
    before = cache_file.read_bytes()
    (Path(paths["snapshot"]) / "DGS10.csv").write_text("date,value\n2020-01-02,1.88\n")
    with FredServer([("status", 503, "down")] * 4, "") as server:
        started = time.monotonic()
        outcome, _, _ = run_fred(tmp_path, server.base)
        logging.getLogger("ingest").info("measured: served in %.2f s", time.monotonic() - started)
    assert (
        outcome.status == "snapshot" and outcome.series.tolist() == [1.88] and outcome.last_error == "HTTP503"
    )
    assert f"cache file {cache_file} skipped: " in caplog.text and said in caplog.text
    assert cache_file.read_bytes() == before


def test_cache_write_puts_the_data_first_and_the_sidecar_last(tmp_path, monkeypatch):
    import corrflow.data.sources.cache as cache_module

    written = []
    monkeypatch.setattr(cache_module, "write_text_atomic", lambda text, path: written.append(Path(path).name))
    monkeypatch.setattr(cache_module, "write_json_atomic", lambda obj, path: written.append(Path(path).name))
    write_cache(series_of(ROWS), tmp_path / "X.csv", "fred", "X", "X", "2026-01-01T00:00:00+00:00")
    assert written == ["X.csv", "X.csv.json"]


# ---------------------------------------------------------------- retries and deadlines


def test_retry_budget_caps_total_wait():
    waits = []
    policy = RetryPolicy(retries=10, backoff_s=4.0, max_wait_s=15, sleep=waits.append, rng=random.Random(1))

    def always_fails():
        raise FetchError("HTTP 503", code="HTTP503")

    done = policy.call(always_fails, "x")
    assert done.result is None and done.last_error == "HTTP503" and sum(waits) <= 15 and done.attempts < 11


def test_jitter_comes_from_an_unseeded_source_unless_a_test_injects_one():
    assert RetryPolicy().backoff(1) != RetryPolicy().backoff(1)  # two real runs spread apart
    seeded = [RetryPolicy(rng=random.Random(7)).backoff(2) for _ in range(2)]
    assert seeded[0] == seeded[1] and 1.5 <= seeded[0] <= 2.5


def test_a_call_is_abandoned_at_its_deadline_whatever_it_does():
    release = threading.Event()
    with pytest.raises(FetchError) as err:
        call_with_deadline(lambda: release.wait(300), 0.2, "stuck")
    # the call came back while its worker still waited: abandoned, not waited for
    stuck = [t for t in threading.enumerate() if t.name == "fetch stuck"]
    still_waiting = bool(stuck) and stuck[0].is_alive() and not release.is_set()
    release.set()
    assert err.value.code == "DeadlineExceeded" and "within 0.20 s (call abandoned)" in str(err.value)
    assert still_waiting


def test_the_source_budget_stops_attempts_when_used_up(tmp_path):
    """A clock that jumps 40 s per attempt: the 100 s budget allows three attempts."""
    now = [0.0]

    def slow_failure():
        now[0] += 40
        raise FetchError("Timeout: timed out", code="Timeout")

    policy = RetryPolicy(retries=10, timeout_s=40, budget_s=100, sleep=lambda s: None, clock=lambda: now[0])
    done = policy.call(slow_failure, "x")
    assert done.attempts == 3 and done.last_error == "Timeout" and policy.stopped_by == "BudgetExhausted"
    later = policy.call(slow_failure, "y")  # the next series is not tried
    assert later.attempts == 0 and later.last_error == "BudgetExhausted"


# ---------------------------------------------------------------- Yahoo


def yahoo_frame(symbols, start, end, network):
    index = pd.DatetimeIndex(["2020-01-02", "2020-01-03"], name="Date")
    columns = pd.MultiIndex.from_product([["Close", "Open"], ["SPY", "^GSPC"]], names=["Price", "Ticker"])
    return pd.DataFrame([[320.0, 3250.0, 1, 1], [321.0, 3240.0, 1, 1]], index=index, columns=columns)


def test_yahoo_batch_normalises_multiindex_and_marks_absent_tickers(tmp_path):
    network, paths = settings(tmp_path)
    policy, _ = fake_policy()
    specs = [
        {"id": "SPY", "source": "yahoo", "kind": "price"},
        {"id": "SP500", "source": "yahoo", "symbol": "^GSPC", "kind": "price"},
        {"id": "TLT", "source": "yahoo", "kind": "price"},
    ]
    outcomes = ingest_2020("yahoo", specs, network, paths, policy, yahoo_fetch=yahoo_frame)
    assert outcomes["SPY"].status == "fresh" and outcomes["SPY"].series.tolist() == [320.0, 321.0]
    assert outcomes["SPY"].origin == "live Yahoo" and outcomes["SPY"].column.startswith(
        "Close (auto_adjust=True"
    )
    assert outcomes["SP500"].series.tolist() == [3250.0, 3240.0]
    assert outcomes["TLT"].status == "missing" and outcomes["TLT"].last_error == "EmptySeries"
    sidecar = json.loads(sidecar_path(cache_path(paths["cache"], "yahoo", "SP500")).read_text())
    assert sidecar["symbol"] == "^GSPC" and sidecar["source"] == "yahoo"


def test_yahoo_answer_that_shrinks_the_cache_is_refused_for_that_symbol_only(tmp_path):
    network, paths = settings(tmp_path)
    policy, _ = fake_policy()
    longer = pd.Series(
        [319.0, 320.0, 321.0], index=pd.DatetimeIndex(["2019-12-31", "2020-01-02", "2020-01-06"])
    )
    write_cache(
        longer,
        cache_path(paths["cache"], "yahoo", "SPY"),
        "yahoo",
        "SPY",
        "Close",
        "2026-01-05T00:00:00+00:00",
    )
    specs = SPY_YAHOO + [{"id": "SP500", "source": "yahoo", "symbol": "^GSPC", "kind": "price"}]
    outcomes = ingest_2020("yahoo", specs, network, paths, policy, yahoo_fetch=yahoo_frame)
    assert outcomes["SP500"].status == "fresh"
    assert outcomes["SPY"].status == "cached" and outcomes["SPY"].last_error == "HistoryShrunk"
    assert outcomes["SPY"].series.tolist() == [320.0, 321.0]  # clipped to 2020


def test_yahoo_empty_frame_is_a_failure_and_retried(tmp_path):
    network, paths = settings(tmp_path)
    policy, waits = fake_policy()
    calls = []

    def empty(symbols, start, end, network):
        calls.append(symbols)
        return pd.DataFrame()

    outcomes = ingest_2020("yahoo", SPY_YAHOO, network, paths, policy, yahoo_fetch=empty)
    assert outcomes["SPY"].status == "missing" and outcomes["SPY"].attempts == 4 and len(calls) == 4
    assert outcomes["SPY"].last_error == "EmptyAnswer" and len(waits) == 3


def test_yahoo_rate_limit_error_is_retried_then_served(tmp_path, caplog):
    from yfinance.exceptions import YFRateLimitError

    network, paths = settings(tmp_path)
    policy, waits = fake_policy()
    answers = [YFRateLimitError(), YFRateLimitError()]

    def flaky(symbols, start, end, network):
        if answers:
            raise answers.pop(0)
        return yahoo_frame(symbols, start, end, network)

    outcomes = ingest_2020("yahoo", SPY_YAHOO, network, paths, policy, yahoo_fetch=flaky)
    assert outcomes["SPY"].status == "fresh" and outcomes["SPY"].attempts == 3 and len(waits) == 2
    assert "attempt 1 failed: YFRateLimitError" in caplog.text


def test_yahoo_single_ticker_flat_columns():
    index = pd.DatetimeIndex(["2020-01-02"], tz="America/New_York")
    frame = pd.DataFrame({"Open": [1.0], "Close": [320.0]}, index=index)
    closes = ingest.normalise_yahoo_frame(frame, ["SPY"])
    assert closes["SPY"].index[0] == pd.Timestamp("2020-01-02") and closes["SPY"].iloc[0] == 320.0


# ---------------------------------------------------------------- CSV files


CSV_VARIANTS = {
    "plain": "date,value\n2020-01-02,10.5\n2020-01-03,11\n",
    "fred_new": "observation_date,SPY\n2020-01-02,10.5\n2020-01-03,11\n",
    "fred_old": "DATE,SPY\n2020-01-02,10.5\n2020-01-03,11\n",
    "yfinance_single": (
        "Date,Open,High,Low,Close,Volume\n2020-01-02,1,1,1,10.5,100\n2020-01-03,1,1,1,11,100\n"
    ),
    "yfinance_multi": "Price,Close,High,Low,Open,Volume\nTicker,SPY,SPY,SPY,SPY,SPY\nDate,,,,,\n"
    "2020-01-02,10.5,1,1,1,100\n2020-01-03,11,1,1,1,100\n",
    "yfinance_multi_adjusted": "Price,Adj Close,Close,High,Low,Open,Volume\nTicker,SPY,SPY,SPY,SPY,SPY,SPY\n"
    "Date,,,,,,\n2020-01-02,10.5,12,1,1,1,100\n2020-01-03,11,12.5,1,1,1,100\n",
    "yfinance_tz": "Date,Close\n2020-01-02 00:00:00-05:00,10.5\n2020-01-03 00:00:00-05:00,11\n",
    "bom_crlf": "\ufeffdate,value\r\n2020-01-02,10.5\r\n2020-01-03,11\r\n",
}


@pytest.mark.parametrize("variant", sorted(CSV_VARIANTS))
def test_csv_variants_parse_to_the_same_series(variant):
    series = parse_series_csv(CSV_VARIANTS[variant], "SPY")
    assert list(series.index.strftime("%Y-%m-%d")) == ["2020-01-02", "2020-01-03"]
    assert series.tolist() == [10.5, 11.0]


def test_csv_column_can_be_chosen():
    text = "Date,Open,Close\n2020-01-02,1,10.5\n"
    series = parse_series_csv(text, "X", column="Open")
    assert series.tolist() == [1.0] and series.attrs["column"] == "Open"


YAHOO_BOTH = (
    "Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,1,1,1,12,10.5,100\n2020-01-03,1,1,1,12.5,11,100\n"
)
YAHOO_UNADJUSTED = "Date,Open,High,Low,Close,Volume\n2020-01-02,1,1,1,12,100\n2020-01-03,1,1,1,12.5,100\n"


def local_outcome(tmp_path, text, **spec):
    network, paths = settings(tmp_path)
    Path(paths["local_csv"]).mkdir(exist_ok=True)
    (Path(paths["local_csv"]) / "MINE.csv").write_text(text)
    policy, _ = fake_policy()
    outcomes = ingest_2020("csv", [{**MINE_CSV[0], **spec}], network, paths, policy)
    return outcomes, ingest.status_record("csv", outcomes, ingest.tidy_frame(outcomes))["series"][0]


def test_adjusted_close_is_taken_over_close_and_recorded(tmp_path):
    outcomes, entry = local_outcome(tmp_path, YAHOO_BOTH)
    assert outcomes["MINE"].series.tolist() == [10.5, 11.0]
    assert entry["column"] == "Adj Close" and entry["notes"] == []


def test_an_unadjusted_close_of_a_price_series_gets_a_note_naming_the_fix(tmp_path):
    _, entry = local_outcome(tmp_path, YAHOO_UNADJUSTED)
    assert entry["column"] == "Close"
    assert entry["notes"] == [
        (
            "unadjusted close: column 'Close' read (the file has no 'Adj Close'), so dividends and "
            "splits show as "
            "price moves; supply adjusted closes, or set `column: Close` for MINE if these closes "
            "are already "
            "adjusted (yfinance auto_adjust=True)"
        )
    ]
    _, chosen = local_outcome(tmp_path / "b", YAHOO_UNADJUSTED, column="Close")  # a stated choice: no note
    assert chosen["column"] == "Close" and chosen["notes"] == []
    _, a_level = local_outcome(tmp_path / "c", YAHOO_UNADJUSTED, kind="level")
    assert a_level["notes"] == []


def test_the_column_key_overrides_adjusted_close(tmp_path):
    outcomes, entry = local_outcome(tmp_path, YAHOO_BOTH, column="Close")
    assert outcomes["MINE"].series.tolist() == [12.0, 12.5] and entry["column"] == "Close"


def test_local_csv_is_labelled_local_not_fresh(tmp_path):
    _, entry = local_outcome(tmp_path, CSV_VARIANTS["plain"])
    path = str(tmp_path / "local" / "MINE.csv")
    assert entry["status"] == "local" and entry["origin"] == f"local file {path}" and entry["path"] == path
    assert entry["downloaded_at"] is None and entry["refused"] == [] and entry["last_error"] is None
    assert entry["rows"] == 2 and entry["first"] == "2020-01-02" and len(entry["sha256"]) == 64
    outcomes, _ = local_outcome(tmp_path / "d", CSV_VARIANTS["plain"])
    record = ingest.status_record("csv", outcomes, ingest.tidy_frame(outcomes))
    assert record["partial"] is False and set(record) == {"source", "partial", "written_at", "series"}


def test_local_csv_missing_file_is_a_clear_error(tmp_path):
    network, paths = settings(tmp_path)
    policy, _ = fake_policy()
    with pytest.raises(ingest.InputDataError, match="MINE.csv does not exist"):
        ingest_2020("csv", MINE_CSV, network, paths, policy)


OK_KEYS = {
    "series", "status", "origin", "downloaded_at", "path", "column", "attempts", "last_error", "refused",
    "revisions", "attempt_s", "network_s", "parse_s", "rows", "first", "last", "sha256", "notes",
}  # fmt: skip


def test_the_ok_record_labels_every_level_truthfully(tmp_path):
    network, paths = settings(tmp_path, closed_port_url())
    specs = [{"id": i, "source": "fred", "kind": "yield", "maturity": 1} for i in ("CACHED", "SNAP", "GONE")]
    seed_cache(paths, series_id="CACHED")
    (Path(paths["snapshot"]) / "SNAP.csv").write_text("date,value\n2020-01-02,1.88\n")
    policy, _ = fake_policy()
    outcomes = ingest_2020("fred", specs, network, paths, policy, throttle=ingest.Throttle(0.0))
    record = ingest.status_record("fred", outcomes, ingest.tidy_frame(outcomes))
    json.dumps(record)
    entries = {e["series"]: e for e in record["series"]}
    assert all(set(e) == OK_KEYS for e in entries.values()) and record["partial"] is True
    cached = entries["CACHED"]
    assert len(cached["attempt_s"]) == len(cached["network_s"]) == len(cached["parse_s"]) == 4
    assert cached | {"sha256": None, "attempt_s": None, "network_s": None, "parse_s": None} == {
        "series": "CACHED",
        "status": "cached",
        "origin": "cache (downloaded 2026-01-05)",
        "downloaded_at": "2026-01-05T10:00:00+00:00",
        "path": str(cache_path(paths["cache"], "fred", "CACHED")),
        "column": "CACHED",
        "attempts": 4,
        "last_error": "ConnectionRefused",
        "refused": [],
        "revisions": [],
        "attempt_s": None,
        "network_s": None,
        "parse_s": None,
        "rows": 1,
        "first": "2020-01-02",
        "last": "2020-01-02",
        "sha256": None,
        "notes": [],
    }
    assert entries["SNAP"]["status"] == "snapshot" and entries["SNAP"]["origin"] == "offline snapshot"
    assert entries["SNAP"]["path"].endswith("SNAP.csv") and entries["SNAP"]["column"] == "value"
    assert entries["GONE"]["status"] == "missing" and entries["GONE"]["path"] is None
    assert entries["GONE"]["last_error"] == "SourceUnreachable"


# ---------------------------------------------------------------- one registry, one place


def test_the_source_registry_drives_the_wildcard_the_config_check_and_the_cli_choices(workflow_copy):
    """Adding a source is one module and one registry line: the wildcard constraint and the
    start-up check read the registry, and so do the CLI's choices."""
    rule = (ROOT / "workflow/rules/ingest.smk").read_text()
    assert 'source="|".join(SOURCE_NAMES)' in rule
    for name, source_class in REGISTRY.items():
        assert source_class.name == name and source_class.label
    from corrflow.cli import parse_step_arguments
    from corrflow.steps import STEPS

    rest = ["--series", "[]", "--start", "2020-01-02", "--end", "2020-01-03", "--csv", "a", "--ok", "b"]
    for name in REGISTRY:
        assert parse_step_arguments(STEPS["ingest"], ["--source", name, *rest])[0]["source"] == name
    with pytest.raises(
        ingest.InputDataError, match="unknown source 'nosuch'; choose one of csv, fred, french, yahoo"
    ):
        ingest.run(
            source="nosuch",
            series=[],
            start="2020-01-02",
            end="2020-01-03",
            offline=True,
            network={},
            paths={},
            csv=str(workflow_copy / "a.csv"),
            ok=str(workflow_copy / "a.ok"),
        )
    result = snakemake(
        workflow_copy,
        "-n",
        "--config",
        "series=[{'id': 'X', 'source': 'nosuch', 'kind': 'price'}]",
        "correlation={'pairs': [['X', 'X']]}",
        check=False,
    )
    allowed = ", ".join(sorted(REGISTRY))
    assert result.returncode != 0
    assert f"source 'nosuch' is unknown; allowed: {allowed}" in result.stdout + result.stderr


def test_network_settings_have_upper_bounds():
    import jsonschema

    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    network = schema["properties"]["network"]
    validator = jsonschema.Draft202012Validator(network)
    assert validator.is_valid(
        {"timeout_s": 20, "backoff_s": 1, "max_retry_time_s": 15, "source_budget_s": 180}
    )
    for key, too_big in [
        ("backoff_s", 1e6),
        ("timeout_s", 1e308),
        ("max_retry_time_s", 1e9),
        ("source_budget_s", 1e9),
    ]:
        errors = list(validator.iter_errors({key: too_big}))
        assert errors and errors[0].validator == "maximum", key


@pytest.mark.e2e
def test_an_edited_or_deleted_local_csv_re_runs_ingest(workflow_copy):
    """The data engineer's finding: the ingest rule had no input, so an edited local CSV
    left the old data in every output ("Nothing to be done"). The files a source reads
    are the rule's input: an edit re-runs ingest and clean, a deleted file stops the run
    with ingest's one line."""
    local = workflow_copy / "data/local"
    local.mkdir(parents=True)
    days = pd.bdate_range("2019-01-02", "2020-06-30")

    def write_mine(scale: float) -> None:
        levels = 100 * np.exp(scale * np.sin(np.arange(len(days)) / 7.0))
        rows = [f"{d.date()},{v:.6f}" for d, v in zip(days, levels, strict=True)]
        (local / "MINE.csv").write_text("date,value\n" + "\n".join(rows) + "\n")

    (workflow_copy / "config/mine.yaml").write_text(
        "start: '2019-01-02'\nend: '2020-06-30'\noffline: true\n"
        "paths: {local_csv: data/local}\n"
        "series:\n  - {id: SPY, source: yahoo, kind: price}\n  - {id: MINE, source: csv, kind: price}\n"
        "correlation: {pairs: [[SPY, MINE]], windows: [60]}\n"
        "features: {cash_rate: null}\nstress: {equity: SPY, bond: null, vix: null}\n"
    )
    target = ["data/processed/clean.parquet", "--cores", "2", "--configfile", "config/config.yaml"]
    target.append("config/mine.yaml")
    write_mine(0.01)
    snakemake(workflow_copy, *target)
    first = pd.read_parquet(workflow_copy / "data/processed/clean.parquet")["MINE"].dropna()
    write_mine(0.02)
    rerun = snakemake(workflow_copy, *target)
    assert "rule ingest:" in rerun.stdout + rerun.stderr and "rule clean:" in rerun.stdout + rerun.stderr
    second = pd.read_parquet(workflow_copy / "data/processed/clean.parquet")["MINE"].dropna()
    assert len(second) == len(first) and not np.allclose(second, first)
    again = snakemake(workflow_copy, *target)
    assert "Nothing to be done" in again.stdout + again.stderr
    (local / "MINE.csv").unlink()
    gone = snakemake(workflow_copy, *target, check=False)
    assert gone.returncode != 0
    output = gone.stdout + gone.stderr
    assert "has source csv but data/local/MINE.csv does not exist; put the file there" in output
