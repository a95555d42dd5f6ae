"""Ingest (task A): real HTTP against a local server, the fallback chain, CSV variants."""

import http.server
import json
import logging
import socket
import threading
import time
import urllib.parse
from pathlib import Path

import pandas as pd
import pytest

import ingest
from ingest import FetchError, RetryPolicy, ingest_source, parse_series_csv

FRED_CSV = "observation_date,DGS10\n2020-01-02,1.88\n2020-01-03,1.80\n2020-01-06,.\n2020-01-07,1.83\n"
FRED_XML = (
    '<?xml version="1.0" encoding="utf-8" ?>\n<observations realtime_start="2026-01-01" count="4">\n'
    '  <observation date="2020-01-02" value="1.88"/>\n  <observation date="2020-01-03" value="1.80"/>\n'
    '  <observation date="2020-01-06" value="."/>\n  <observation date="2020-01-07" value="1.83"/>\n'
    "</observations>\n"
)
FRED_EMPTY_XML = '<?xml version="1.0" encoding="utf-8" ?>\n<observations count="0">\n</observations>\n'
FRED_ERROR_XML = '<?xml version="1.0" encoding="utf-8" ?>\n<error code="400" message="Bad Request.  The series does not exist."/>\n'
FAKE_KEY = "abcdef0123456789fakekey0123456789"


class FredServer:
    """FRED on 127.0.0.1: the CSV download and the API fredapi calls, playing a script of
    actions, one per request: ("ok", body), ("status", code, body), ("hang", seconds),
    ("truncate", body) (announces more bytes than it sends, then closes)."""

    def __init__(self, script, good_body):
        self.script = list(script)
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(urllib.parse.urlparse(self.path))
                action = server.script.pop(0) if server.script else ("ok", good_body)
                if action[0] == "hang":
                    time.sleep(action[1])
                    return
                status, body = (200, action[1]) if action[0] in ("ok", "truncate") else (action[1], action[2])
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data) + (100 if action[0] == "truncate" else 0)))
                self.end_headers()
                self.wfile.write(data)
                if action[0] == "truncate":
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


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
    snapshot.mkdir(exist_ok=True)
    paths = {
        "cache": str(tmp_path / "cache"),
        "snapshot": str(snapshot),
        "local_csv": str(tmp_path / "local"),
    }
    return network, paths


def fake_policy():
    waits = []
    return RetryPolicy(retries=3, backoff_s=1.0, max_wait_s=15, sleep=waits.append), waits


SPEC = [{"id": "DGS10", "source": "fred", "kind": "yield", "maturity": 10}]
TWO_FRED = SPEC + [{"id": "DGS2", "source": "fred", "kind": "yield", "maturity": 2}]
SPY_YAHOO = [{"id": "SPY", "source": "yahoo", "kind": "price"}]
MINE_CSV = [{"id": "MINE", "source": "csv", "kind": "price"}]


def ingest_2020(source, specs, network, paths, policy, offline=False, **kwargs):
    """ingest_source over 2020, the range every test here asks for."""
    return ingest_source(source, specs, "2020-01-01", "2020-12-31", offline, network, paths, policy, **kwargs)


def run_fred(tmp_path, base, api_key=None, **kwargs):
    network, paths = settings(tmp_path, base, **kwargs)
    policy, waits = fake_policy()
    outcomes = ingest_2020(
        "fred", SPEC, network, paths, policy, api_key=api_key, throttle=ingest.Throttle(0.0)
    )
    return outcomes["DGS10"], waits, paths


@pytest.fixture(autouse=True)
def info_logs(caplog):
    caplog.set_level(logging.INFO, logger="ingest")


@pytest.fixture(params=["csv", "api"])
def fred_mode(request):
    """Every FRED test runs against the keyless CSV download and the keyed API (fredapi)."""
    if request.param == "csv":
        return {
            "key": None,
            "good": FRED_CSV,
            "empty": "observation_date,DGS10\n",
            "error_body": "Bad Request. The series does not exist.",
        }
    return {"key": FAKE_KEY, "good": FRED_XML, "empty": FRED_EMPTY_XML, "error_body": FRED_ERROR_XML}


def seed_cache(paths, text="date,value\n2020-01-02,1.5\n"):
    cache_file = Path(paths["cache"]) / "fred" / "DGS10.csv"
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    cache_file.write_text(text)
    return cache_file


def test_fresh_download_parses_dots_as_nan_and_fills_the_cache(tmp_path, fred_mode):
    with FredServer([], fred_mode["good"]) as server:
        outcome, waits, paths = run_fred(tmp_path, server.base, fred_mode["key"])
    assert outcome.status == "fresh" and outcome.attempts == 1 and waits == []
    assert outcome.series.isna().sum() == 1 and outcome.series.loc["2020-01-07"] == 1.83
    query = urllib.parse.parse_qs(server.requests[0].query)
    if fred_mode["key"]:
        assert query["series_id"] == ["DGS10"] and query["observation_start"] == ["2020-01-01"]
        assert query["api_key"] == [FAKE_KEY]
    else:
        assert query == {"id": ["DGS10"], "cosd": ["2020-01-01"], "coed": ["2020-12-31"]}
    cached = pd.read_csv(Path(paths["cache"]) / "fred" / "DGS10.csv")
    assert list(cached.columns) == ["date", "value"] and len(cached) == 4


@pytest.mark.parametrize("code", [429, 500, 503])
def test_retryable_http_errors_back_off_then_succeed(tmp_path, fred_mode, code, caplog):
    script = [("status", code, "busy"), ("status", code, "busy")]
    with FredServer(script, fred_mode["good"]) as server:
        outcome, waits, _ = run_fred(tmp_path, server.base, fred_mode["key"])
    assert outcome.status == "fresh" and outcome.attempts == 3 and len(server.requests) == 3
    assert len(waits) == 2 and 0.75 <= waits[0] <= 1.25 and 1.5 <= waits[1] <= 2.5
    assert (
        f"fred DGS10: attempt 1 failed: HTTP {code}" in caplog.text
        and "fred DGS10: retry 2 in" in caplog.text
    )
    assert FAKE_KEY not in caplog.text


def expect_fallback(tmp_path, fred_mode, script, attempts, waits_expected, error, caplog, log_text, **kwargs):
    """The fault ends at the cache, which is served and left byte-for-byte unchanged."""
    network, paths = settings(tmp_path)
    cache_file = seed_cache(paths)
    before = cache_file.read_bytes()
    with FredServer(script, fred_mode["good"]) as server:
        outcome, waits, _ = run_fred(tmp_path, server.base, fred_mode["key"], **kwargs)
    assert outcome.status == "cached" and outcome.series.iloc[0] == 1.5
    assert outcome.attempts == attempts and len(waits) == waits_expected and outcome.last_error == error
    assert cache_file.read_bytes() == before
    assert log_text in caplog.text and FAKE_KEY not in caplog.text
    return server


def test_bad_request_is_not_retried(tmp_path, fred_mode, caplog):
    server = expect_fallback(
        tmp_path,
        fred_mode,
        [("status", 400, fred_mode["error_body"])],
        1,
        0,
        "FetchError",
        caplog,
        "The series does not exist",
    )
    assert len(server.requests) == 1


def test_hang_past_the_timeout_is_retried_then_cache(tmp_path, fred_mode, caplog):
    expect_fallback(
        tmp_path, fred_mode, [("hang", 1.5)] * 4, 4, 3, "FetchError", caplog, "timed out", timeout=0.3
    )


def test_truncated_body_is_retried(tmp_path, fred_mode, caplog):
    script = [("truncate", fred_mode["good"][:60])] * 4
    expect_fallback(tmp_path, fred_mode, script, 4, 3, "FetchError", caplog, "attempt 4 failed")


def test_malformed_body_is_retried(tmp_path, fred_mode, caplog):
    script = [("ok", "<observations><observation date='2020-01-02' value=\n")] * 4
    expect_fallback(tmp_path, fred_mode, script, 4, 3, "FetchError", caplog, "malformed")


def test_empty_series_falls_back(tmp_path, fred_mode, caplog):
    if fred_mode["key"]:
        expect_fallback(
            tmp_path, fred_mode, [("ok", fred_mode["empty"])], 1, 0, "FetchError", caplog, "no observations"
        )
    else:
        expect_fallback(
            tmp_path,
            fred_mode,
            [("ok", fred_mode["empty"])],
            1,
            0,
            "EmptySeries",
            caplog,
            "live answer has no values",
        )


def test_wrong_series_returned_falls_back(tmp_path, caplog):
    mode = {"key": None, "good": FRED_CSV.replace("DGS10", "DGS2")}
    expect_fallback(tmp_path, mode, [], 1, 0, "FetchError", caplog, "wrong series returned")


def test_connection_refused_is_retried_then_cache_and_the_source_given_up(tmp_path, fred_mode, caplog):
    network, paths = settings(tmp_path, closed_port_url())
    cache_file = seed_cache(paths)
    policy, waits = fake_policy()
    outcomes = ingest_2020(
        "fred", TWO_FRED, network, paths, policy, api_key=fred_mode["key"], throttle=ingest.Throttle(0.0)
    )
    assert outcomes["DGS10"].status == "cached" and outcomes["DGS10"].attempts == 4 and len(waits) == 3
    assert outcomes["DGS2"].status == "missing" and outcomes["DGS2"].attempts == 0  # not tried again
    assert "ConnectionRefusedError" in caplog.text and "source unreachable" in caplog.text
    assert cache_file.read_text() == "date,value\n2020-01-02,1.5\n" and FAKE_KEY not in caplog.text


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
    assert waits == [] and policy.network_down


def test_offline_skips_the_network(tmp_path):
    network, paths = settings(tmp_path)
    (Path(paths["snapshot"]) / "DGS10.csv").write_text("date,value\n2019-12-31,1.9\n2020-01-02,1.88\n")
    policy, _ = fake_policy()
    outcomes = ingest_2020("fred", SPEC, network, paths, policy, offline=True)
    assert outcomes["DGS10"].status == "snapshot" and outcomes["DGS10"].attempts == 0
    assert list(outcomes["DGS10"].series.index.strftime("%Y-%m-%d")) == ["2020-01-02"]  # clipped to the range


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
    assert outcomes["SP500"].series.tolist() == [3250.0, 3240.0]
    assert outcomes["TLT"].status == "missing" and outcomes["TLT"].last_error == "EmptySeries"


def test_yahoo_empty_frame_is_a_failure_and_retried(tmp_path):
    network, paths = settings(tmp_path)
    policy, waits = fake_policy()
    calls = []

    def empty(symbols, start, end, network):
        calls.append(symbols)
        return pd.DataFrame()

    outcomes = ingest_2020("yahoo", SPY_YAHOO, network, paths, policy, yahoo_fetch=empty)
    assert outcomes["SPY"].status == "missing" and outcomes["SPY"].attempts == 4 and len(calls) == 4
    assert len(waits) == 3


def test_retry_budget_caps_total_wait():
    waits = []
    policy = RetryPolicy(retries=10, backoff_s=4.0, max_wait_s=15, sleep=waits.append)

    def always_fails():
        raise FetchError("HTTP 503")

    result, attempts, error = policy.call(always_fails, "x")
    assert result is None and error == "FetchError" and sum(waits) <= 15 and attempts < 11


CSV_VARIANTS = {
    "plain": "date,value\n2020-01-02,10.5\n2020-01-03,11\n",
    "fred_new": "observation_date,SPY\n2020-01-02,10.5\n2020-01-03,11\n",
    "fred_old": "DATE,SPY\n2020-01-02,10.5\n2020-01-03,11\n",
    "yfinance_single": "Date,Open,High,Low,Close,Volume\n2020-01-02,1,1,1,10.5,100\n2020-01-03,1,1,1,11,100\n",
    "yfinance_multi": "Price,Close,High,Low,Open,Volume\nTicker,SPY,SPY,SPY,SPY,SPY\nDate,,,,,\n"
    "2020-01-02,10.5,1,1,1,100\n2020-01-03,11,1,1,1,100\n",
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
    assert parse_series_csv(text, "X", column="Open").tolist() == [1.0]


def test_local_csv_source_and_status_file(tmp_path):
    network, paths = settings(tmp_path)
    Path(paths["local_csv"]).mkdir()
    (Path(paths["local_csv"]) / "MINE.csv").write_text(CSV_VARIANTS["plain"])
    policy, _ = fake_policy()
    outcomes = ingest_2020("csv", MINE_CSV, network, paths, policy)
    tidy = ingest.tidy_frame(outcomes)
    record = ingest.status_record("csv", outcomes, tidy)
    entry = record["series"][0]
    assert entry["status"] == "fresh" and entry["rows"] == 2 and entry["first"] == "2020-01-02"
    assert len(entry["sha256"]) == 64 and record["partial"] is False
    json.dumps(record)


def test_local_csv_missing_file_is_a_clear_error(tmp_path):
    network, paths = settings(tmp_path)
    policy, _ = fake_policy()
    with pytest.raises(ingest.InputDataError, match="MINE.csv does not exist"):
        ingest_2020("csv", MINE_CSV, network, paths, policy)


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
