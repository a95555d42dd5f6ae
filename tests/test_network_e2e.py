"""The whole workflow with every live source failing (no packet leaves this machine):
it must finish from the snapshot, quickly, and never write the FRED key anywhere."""

import json
import socket
import time

import pytest

from conftest import snakemake

pytestmark = pytest.mark.e2e

FAKE_KEY = "e2efakekey5f0c9a7d3b1e8a6c4f2d0b9e7a5c"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_failing_network_falls_back_fast_and_leaks_no_key(workflow_copy):
    port = closed_port()
    (workflow_copy / "config" / "network_down.yaml").write_text(
        "offline: false\n"
        "network:\n"
        f"  fred_api_url: http://127.0.0.1:{port}/fred\n"
        f"  fred_csv_url: http://127.0.0.1:{port}/fredgraph.csv\n"
        "  backoff_s: 0.05\n"
        "  timeout_s: 2\n"
    )
    proxy = f"http://127.0.0.1:{port}"  # Yahoo's calls go to a closed local proxy port
    env = {
        "FRED_API_KEY": FAKE_KEY,
        "https_proxy": proxy,
        "http_proxy": proxy,
        "HTTPS_PROXY": proxy,
        "HTTP_PROXY": proxy,
        "no_proxy": "127.0.0.1,localhost",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    started = time.monotonic()
    snakemake(
        workflow_copy,
        "--cores",
        "2",
        "--configfile",
        "config/config.yaml",
        "config/network_down.yaml",
        env=env,
    )
    elapsed = time.monotonic() - started
    fred = json.loads((workflow_copy / "data/raw/fred.ok").read_text())
    assert {s["status"] for s in fred["series"]} == {"snapshot"}
    attempts = {s["series"]: s["attempts"] for s in fred["series"]}
    assert attempts["DGS10"] == 4 and sum(attempts.values()) == 4  # the first series gives the source up
    yahoo = json.loads((workflow_copy / "data/raw/yahoo.ok").read_text())
    assert {s["series"]: s["status"] for s in yahoo["series"]} == {
        "SPY": "snapshot",
        "SP500": "snapshot",
        "TLT": "snapshot",
    }
    report = (workflow_copy / "docs/report.md").read_text()
    assert "offline snapshot" in report and "Live download failed for 8 series" in report
    assert (
        "live download failed after 4 attempt(s): FetchError"
        in (workflow_copy / "docs/dq_report.md").read_text()
    )
    fred_log = (workflow_copy / "logs/ingest/fred.log").read_text()
    assert "API key found in FRED_API_KEY" in fred_log and "attempt 4 failed" in fred_log
    assert elapsed < 60  # the whole run; the failed attempts themselves are bounded by backoff and timeouts
    leaked = [str(p) for p in workflow_copy.rglob("*") if p.is_file() and FAKE_KEY.encode() in p.read_bytes()]
    assert leaked == []
