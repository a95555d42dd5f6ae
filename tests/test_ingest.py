"""Ingest (task A): real HTTP against a local server, the fallback chain, CSV variants."""

import http.server
import json
import threading
import time
import urllib.parse
from pathlib import Path

import pandas as pd
import pytest

import ingest
from ingest import FetchError, RetryPolicy, ingest_source, parse_series_csv

FRED_CSV = "observation_date,DGS10\n2020-01-02,1.88\n2020-01-03,1.80\n2020-01-06,.\n2020-01-07,1.83\n"


class FredServer:
    """A FRED CSV endpoint on 127.0.0.1 that plays a script of responses, one per request."""

    def __init__(self, script):
        self.script = list(script)
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(urllib.parse.urlparse(self.path))
                action = server.script.pop(0) if server.script else ("ok", FRED_CSV)
                kind, payload = action
                if kind == "hang":
                    time.sleep(payload)
                    return
                status = 200 if kind == "ok" else payload[0]
                body = payload if kind == "ok" else payload[1]
                self.send_response(status)
                self.send_header("Content-Type", "text/csv")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/fredgraph.csv"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def settings(tmp_path, url="http://127.0.0.1:9/none", timeout=2.0):
    network = {"timeout_s": timeout, "retries": 3, "backoff_s": 1.0, "max_retry_time_s": 15,
               "fred_api_url": "http://127.0.0.1:9/fred", "fred_csv_url": url}
    snapshot = tmp_path / "sample"
    snapshot.mkdir(exist_ok=True)
    paths = {"cache": str(tmp_path / "cache"), "snapshot": str(snapshot), "local_csv": str(tmp_path / "local")}
    return network, paths


def fake_policy():
    waits = []
    return RetryPolicy(retries=3, backoff_s=1.0, max_wait_s=15, sleep=waits.append), waits


SPEC = [{"id": "DGS10", "source": "fred", "kind": "yield", "maturity": 10}]


def run_fred(tmp_path, url, **kwargs):
    network, paths = settings(tmp_path, url, **kwargs)
    policy, waits = fake_policy()
    no_throttle = ingest.Throttle(0.0)
    outcomes = ingest_source("fred", SPEC, "2020-01-01", "2020-12-31", False, network, paths, policy,
                             throttle=no_throttle)
    return outcomes["DGS10"], waits, paths


def test_fresh_download_parses_dots_as_nan_and_fills_the_cache(tmp_path):
    with FredServer([]) as server:
        outcome, waits, paths = run_fred(tmp_path, server.url)
    assert outcome.status == "fresh" and outcome.attempts == 1 and waits == []
    assert outcome.series.isna().sum() == 1 and outcome.series.loc["2020-01-07"] == 1.83
    query = urllib.parse.parse_qs(server.requests[0].query)
    assert query == {"id": ["DGS10"], "cosd": ["2020-01-01"], "coed": ["2020-12-31"]}
    cached = pd.read_csv(Path(paths["cache"]) / "fred" / "DGS10.csv")
    assert list(cached.columns) == ["date", "value"] and len(cached) == 4


def test_server_errors_retry_with_exponential_backoff(tmp_path):
    script = [("err", (500, "boom")), ("err", (429, "slow down")), ("ok", FRED_CSV)]
    with FredServer(script) as server:
        outcome, waits, _ = run_fred(tmp_path, server.url)
    assert outcome.status == "fresh" and outcome.attempts == 3 and len(server.requests) == 3
    assert len(waits) == 2 and 0.75 <= waits[0] <= 1.25 and 1.5 <= waits[1] <= 2.5


def test_bad_request_is_not_retried_and_snapshot_serves(tmp_path):
    network, paths = settings(tmp_path)
    (Path(paths["snapshot"]) / "DGS10.csv").write_text("date,value\n2020-01-02,1.88\n2020-01-03,1.8\n")
    with FredServer([("err", (400, "Bad Request. The series does not exist."))]) as server:
        outcome, waits, _ = run_fred(tmp_path, server.url)
    assert outcome.status == "snapshot" and outcome.attempts == 1 and waits == []
    assert outcome.last_error == "FetchError" and len(server.requests) == 1


def test_hang_past_timeout_then_cache_wins_over_snapshot_and_is_unchanged(tmp_path):
    network, paths = settings(tmp_path)
    cache_file = Path(paths["cache"]) / "fred" / "DGS10.csv"
    cache_file.parent.mkdir(parents=True)
    cache_file.write_text("date,value\n2020-01-02,1.5\n")
    (Path(paths["snapshot"]) / "DGS10.csv").write_text("date,value\n2020-01-02,9.9\n")
    before = cache_file.read_bytes()
    with FredServer([("hang", 1.5)] * 4) as server:
        outcome, waits, _ = run_fred(tmp_path, server.url, timeout=0.3)
    assert outcome.status == "cached" and outcome.attempts == 4 and len(waits) == 3
    assert outcome.series.iloc[0] == 1.5
    assert cache_file.read_bytes() == before


def test_unresolvable_host_marks_network_down_without_retries(tmp_path):
    network, paths = settings(tmp_path, "http://no-such-host.invalid/fredgraph.csv")
    policy, waits = fake_policy()
    specs = SPEC + [{"id": "DGS2", "source": "fred", "kind": "yield", "maturity": 2}]
    outcomes = ingest_source("fred", specs, "2020-01-01", "2020-12-31", False, network, paths, policy,
                             throttle=ingest.Throttle(0.0))
    assert [o.status for o in outcomes.values()] == ["missing", "missing"]
    assert outcomes["DGS10"].attempts == 1 and outcomes["DGS2"].attempts == 0
    assert waits == [] and policy.network_down


def test_offline_skips_the_network(tmp_path):
    network, paths = settings(tmp_path)
    (Path(paths["snapshot"]) / "DGS10.csv").write_text("date,value\n2019-12-31,1.9\n2020-01-02,1.88\n")
    policy, _ = fake_policy()
    outcomes = ingest_source("fred", SPEC, "2020-01-01", "2020-12-31", True, network, paths, policy)
    assert outcomes["DGS10"].status == "snapshot" and outcomes["DGS10"].attempts == 0
    assert list(outcomes["DGS10"].series.index.strftime("%Y-%m-%d")) == ["2020-01-02"]  # clipped to the range


def yahoo_frame(symbols, start, end, network):
    index = pd.DatetimeIndex(["2020-01-02", "2020-01-03"], name="Date")
    columns = pd.MultiIndex.from_product([["Close", "Open"], ["SPY", "^GSPC"]], names=["Price", "Ticker"])
    return pd.DataFrame([[320.0, 3250.0, 1, 1], [321.0, 3240.0, 1, 1]], index=index, columns=columns)


def test_yahoo_batch_normalises_multiindex_and_marks_absent_tickers(tmp_path):
    network, paths = settings(tmp_path)
    policy, _ = fake_policy()
    specs = [{"id": "SPY", "source": "yahoo", "kind": "price"},
             {"id": "SP500", "source": "yahoo", "symbol": "^GSPC", "kind": "price"},
             {"id": "TLT", "source": "yahoo", "kind": "price"}]
    outcomes = ingest_source("yahoo", specs, "2020-01-01", "2020-12-31", False, network, paths, policy,
                             yahoo_fetch=yahoo_frame)
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

    outcomes = ingest_source("yahoo", [{"id": "SPY", "source": "yahoo", "kind": "price"}], "2020-01-01",
                             "2020-12-31", False, network, paths, policy, yahoo_fetch=empty)
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
    outcomes = ingest_source("csv", [{"id": "MINE", "source": "csv", "kind": "price"}], "2020-01-01", "2020-12-31",
                             False, network, paths, policy)
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
        ingest_source("csv", [{"id": "MINE", "source": "csv", "kind": "price"}], "2020-01-01", "2020-12-31",
                      False, network, paths, policy)
