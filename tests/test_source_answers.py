"""Issue 30.1: any answer a source can give is refused or accepted, never a crash. A
local FRED stand-in answers 200 with bodies no parser expects (a maintenance page, XML
cut short, JSON of another shape, binary, a valid body of another series), keyed and
keyless, with a cache copy and with only the snapshot: each is refused with its reason,
recorded in `.ok` (``last_error``, ``refused``), and the chain serves the cache or the
snapshot, exactly as for a keyless malformed answer."""

import http.server
import json
import threading
from pathlib import Path

import pytest

from corrflow import ingest
from corrflow.http_client import REFUSAL_CODES, FetchError, RetryPolicy
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


class OneAnswer:
    """Every request answered 200 with the same bytes."""

    def __init__(self, body: bytes):
        server = self
        self.requests = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def run_ingest(tmp_path, base, keyed, monkeypatch):
    """``corrflow ingest``'s run() for DGS10 against ``base``: the `.ok` entry and the CSV."""
    network, paths = settings(tmp_path, base)
    network = {**ingest.schema_defaults()["network"], **network}
    network.update(retries=1, backoff_s=0.01, max_retry_time_s=1)
    if keyed:
        monkeypatch.setenv("FRED_API_KEY", FAKE_KEY)
    else:
        monkeypatch.delenv("FRED_API_KEY", raising=False)
    csv, ok = tmp_path / "fred.csv", tmp_path / "fred.ok"
    ingest.run(
        csv=str(csv), ok=str(ok), end="2020-12-31", start="2020-01-01", network=network, offline=False,
        paths=paths, series=[{"id": "DGS10", "source": "fred", "kind": "yield", "maturity": 10}],
        source="fred",
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
