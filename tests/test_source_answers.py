"""Issue 30.1: any answer a source can give is refused or accepted, never a crash. A
local FRED stand-in answers 200 with bodies no parser expects (a maintenance page, XML
cut short, JSON of another shape, binary, a valid body of another series), keyed and
keyless, with a cache copy and with only the snapshot: each is refused with its reason,
recorded in `.ok` (``last_error``, ``refused``), and the chain serves the cache or the
snapshot, exactly as for a keyless malformed answer."""

import json
import urllib.parse
from pathlib import Path

import pandas as pd
import pytest

from corrflow.config.sections import Network, Paths
from corrflow.data import ingest
from corrflow.data.http_client import REFUSAL_CODES, FetchError, RetryPolicy
from corrflow.io import schema_defaults
from http_standin import LocalServer, send
from test_ingest import FAKE_KEY, OTHER_SERIES, ROWS, fred_csv, fred_xml, seed_cache, settings

MAINTENANCE_PAGE = (
    '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>FRED is down for maintenance</title></head>'
    "<body><h1>Scheduled maintenance</h1><p>Back at 06:00 CT.</p></body></html>"
)
BODIES = {
    "maintenance_page": MAINTENANCE_PAGE.encode(),
    "html_not_xml": b"<!DOCTYPE html><html><body><p>Maintenance<br></p></body></html>",
    "xml_cut_short": fred_xml(ROWS).encode()[:150],
    "json_of_another_shape": json.dumps({"error_code": 503, "error_message": "maintenance"}).encode(),
    "binary": bytes(range(256)) * 8,
}


def other_series_body(keyed: bool) -> bytes:
    """A valid answer, but DGS2's values (keyed XML names no series; the CSV's header does)."""
    return (fred_xml(OTHER_SERIES) if keyed else fred_csv(OTHER_SERIES, "DGS2")).encode()


class OneAnswer(LocalServer):
    """Every request answered 200 with the same bytes."""

    def __init__(self, body: bytes):
        super().__init__()
        self.body = body
        self.requests = 0

    def answer(self, handler):
        self.requests += 1
        send(handler, 200, self.body, "text/html")


def run_ingest(tmp_path, base, keyed, monkeypatch):
    """``corrflow ingest``'s run() for DGS10 against ``base``: the `.ok` entry and the CSV."""
    network, paths = settings(tmp_path, base)
    network = {**schema_defaults()["network"], **network}
    network.update(retries=1, backoff_s=0.01, max_retry_time_s=1)
    if keyed:
        monkeypatch.setenv("FRED_API_KEY", FAKE_KEY)
    else:
        monkeypatch.delenv("FRED_API_KEY", raising=False)
    csv, ok = tmp_path / "fred.csv", tmp_path / "fred.ok"
    ingest.run(
        csv=str(csv), ok=str(ok), end="2020-12-31", start="2020-01-01", network=Network.from_dict(network),
        offline=False, paths=Paths.from_dict(paths), source="fred",
        series=[{"id": "DGS10", "source": "fred", "kind": "yield", "maturity": 10}],
    )  # fmt: skip
    return json.loads(ok.read_text())["series"][0], csv.read_text()


@pytest.mark.parametrize("reference", ["cache", "snapshot"])
@pytest.mark.parametrize("keyed", [False, True], ids=["csv", "api"])
@pytest.mark.parametrize("body", [*BODIES, "another_series"])
def test_any_answer_is_refused_with_its_reason_and_the_chain_falls_back(
    tmp_path, monkeypatch, caplog, body, keyed, reference
):
    network, paths = settings(tmp_path)
    if reference == "cache":
        seed_cache(paths, rows=[("2020-01-02", "1.88")])
    (Path(paths["snapshot"]) / "DGS10.csv").write_text(
        "date,value\n" + "".join(f"{d},{v}\n" for d, v in ROWS)
    )
    answer = other_series_body(keyed) if body == "another_series" else BODIES[body]
    with OneAnswer(answer) as server:
        entry, csv = run_ingest(tmp_path, server.base, keyed, monkeypatch)
        requests = server.requests
    assert requests == entry["attempts"] >= 1  # each attempt got the answer, and it was read
    assert entry["status"] == ("cached" if reference == "cache" else "snapshot"), entry
    assert entry["last_error"] in REFUSAL_CODES and entry["refused"], entry
    assert all(reason.startswith(entry["last_error"]) for reason in entry["refused"][-1:])
    assert csv.startswith("series,date,value\nDGS10,2020-01-02,1.88\n")
    assert len(entry["network_s"]) == len(entry["parse_s"]) == entry["attempts"]
    assert FAKE_KEY not in caplog.text and FAKE_KEY not in json.dumps(entry)


def test_the_maintenance_page_keyed_says_what_it_was(tmp_path, monkeypatch):
    """The case that crashed ingest with fredapi's TypeError: the reason names the page."""
    _, paths = settings(tmp_path)
    seed_cache(paths, rows=[("2020-01-02", "1.88")])
    with OneAnswer(BODIES["maintenance_page"]) as server:
        entry, _ = run_ingest(tmp_path, server.base, True, monkeypatch)
    assert entry["status"] == "cached" and entry["last_error"] == "Malformed"
    assert (
        "not FRED's observations XML (its root is <{http://www.w3.org/1999/xhtml}html>)"
        in entry["refused"][0]
    )


def test_any_error_while_reading_an_answer_is_a_refusal_not_a_crash():
    """The boundary itself, for every source: an attempt raising a TypeError (a parser
    meeting what it did not expect) is a Malformed refusal, retried like one; the key
    never appears in the reason."""
    policy = RetryPolicy(retries=1, backoff_s=0.0, sleep=lambda s: None)

    def parser_trips(deadline_s):
        raise TypeError(f"float() argument must be a string or a real number, not 'NoneType' {FAKE_KEY}")

    done = policy.call(parser_trips, "fred X", bounds_itself=True, secret=FAKE_KEY)
    assert done.result is None and done.attempts == 2 and done.last_error == "Malformed"
    assert done.refused[0].startswith("Malformed: fred X: the answer could not be read (TypeError: float()")
    assert FAKE_KEY not in " ".join(done.refused)
    # a source's own refusals keep their code
    done = policy.call(lambda: (_ for _ in ()).throw(FetchError("WrongSeries: x", "WrongSeries", False)), "y")
    assert done.last_error == "WrongSeries" and done.attempts == 1


# ---------------------------------------------------------------- Yahoo against a local stand-in

HOSTILE_SYMBOL = "SPY/../../v1/test/getcrumb?crumb=x&period1=0#frag"
YAHOO_DAYS = [("2020-01-02", 1577975400, 300.29), ("2020-01-03", 1578061800, 297.99)]  # 09:30 New York


def yahoo_chart_json(symbol: str, rows=YAHOO_DAYS) -> bytes:
    return json.dumps(
        {
            "chart": {
                "result": [
                    {
                        "meta": {"symbol": symbol, "exchangeTimezoneName": "America/New_York"},
                        "timestamp": [stamp for _, stamp, _ in rows],
                        "indicators": {
                            "quote": [{"close": [value + 1 for *_, value in rows]}],
                            "adjclose": [{"adjclose": [value for *_, value in rows]}],
                        },
                    }
                ],
                "error": None,
            }
        }
    ).encode()


class YahooStandIn(LocalServer):
    """Yahoo's chart API on 127.0.0.1: answers each symbol with its own chart, or with
    ``body`` when given; records every request's raw path (``paths``)."""

    def __init__(self, body: bytes | None = None):
        super().__init__()
        self.body = body

    def answer(self, handler):
        segment = handler.path.split("?", 1)[0].rsplit("/", 1)[-1]
        body = self.body if self.body is not None else yahoo_chart_json(urllib.parse.unquote(segment))
        send(handler, 200, body, "application/json")


def ingest_yahoo(tmp_path, base, specs, cached=False):
    network, paths = settings(tmp_path)
    network = {**schema_defaults()["network"], **network, "yahoo_chart_url": base}
    network.update(retries=1, backoff_s=0.01, max_retry_time_s=1)
    if cached:
        from corrflow.data.sources.cache import cache_path, write_cache

        series = ingest.parse_series_csv("date,value\n2020-01-02,300.29\n2020-01-03,297.99\n", "SPY")
        write_cache(series, cache_path(paths["cache"], "yahoo", "SPY"), "yahoo", "SPY", "Close", "2026-01-05")
    return ingest.ingest_source(
        "yahoo", specs, "2020-01-01", "2020-12-31", False, network, paths,
        RetryPolicy(retries=1, backoff_s=0.01, sleep=lambda s: None),
    )  # fmt: skip


def test_yahoo_from_a_local_stand_in_with_a_hostile_symbol(tmp_path):
    """Issue 30.4: the Yahoo request for a hostile symbol can be observed: the symbol is
    one escaped path segment, the query holds only the range, and the answer is read."""
    specs = [
        {"id": "SPY", "source": "yahoo", "kind": "price"},
        {"id": "ODD", "source": "yahoo", "kind": "price", "symbol": HOSTILE_SYMBOL},
    ]
    with YahooStandIn() as yahoo:
        outcomes = ingest_yahoo(tmp_path, yahoo.base, specs)
    assert {series_id: o.status for series_id, o in outcomes.items()} == {"SPY": "fresh", "ODD": "fresh"}
    assert outcomes["SPY"].series.to_dict() == {
        pd.Timestamp("2020-01-02"): 300.29,
        pd.Timestamp("2020-01-03"): 297.99,
    }  # adjusted closes, on New York's dates
    hostile = next(path for path in yahoo.paths if "SPY%2F" in path)
    route, query = hostile.split("?", 1)
    assert route == "/v8/finance/chart/" + urllib.parse.quote(HOSTILE_SYMBOL, safe="")
    assert urllib.parse.unquote(route.rsplit("/", 1)[-1]) == HOSTILE_SYMBOL
    assert sorted(urllib.parse.parse_qs(query)) == ["events", "interval", "period1", "period2"]
    assert urllib.parse.parse_qs(query)["period1"] == ["1577836800"]  # 2020-01-01, not the symbol's 0


@pytest.mark.parametrize("body", ["maintenance_page", "json_of_another_shape", "binary", "another_symbol"])
def test_yahoo_answers_no_parser_expects_are_refused_and_the_cache_serves(tmp_path, body):
    answer = yahoo_chart_json("QQQ") if body == "another_symbol" else BODIES[body]
    with YahooStandIn(answer) as yahoo:
        outcome = ingest_yahoo(
            tmp_path, yahoo.base, [{"id": "SPY", "source": "yahoo", "kind": "price"}], True
        )["SPY"]
    assert outcome.status == "cached" and outcome.last_error in REFUSAL_CODES and outcome.refused
    assert outcome.attempts == len(yahoo.paths) >= 1
