"""Ingest one source (task A): live download -> verified local cache -> bundled snapshot
-> missing; or the user's local CSV files.

Writes ``data/raw/<source>.csv`` (tidy: series,date,value; sorted; clipped to the
configured range) and ``data/raw/<source>.ok`` (JSON: per series its status - fresh,
cached, snapshot, local or missing - origin, download time, file read, column used,
attempts and the seconds each took, precise last error, refused downloads with their
reason, revisions accepted (date, old, new), rows, first/last date, sha256; for a live
run also ``chunks``: each chunk's number, status, finished_at and series). A download
is held against the cache and the bundled snapshot (``_sources/acceptance.py``). A live
source is fetched ``network.chunk_size`` series at a time; a rerun fetches only the
chunks that did not come fresh (``sources/chunks.py``).
The sources live in ``_sources/`` (one module each, one registry), the network in
``_http.py``.

CLI:
    corrflow ingest --source fred --offline true \
        --series '[{"id": "DGS10", "source": "fred", "kind": "yield", "maturity": 10}]' \
        --start 1990-01-02 --end 2017-03-31 --csv data/raw/fred.csv --ok data/raw/fred.ok
"""

import logging
import os

import pandas as pd

from corrflow.config.sections import Network, Paths
from corrflow.data.dates import resolve_end
from corrflow.data.http_client import FetchError, NetworkDown, RetryPolicy, Throttle  # noqa: F401
from corrflow.data.sources import REGISTRY
from corrflow.data.sources.chain import Outcome, ingest_source, status_record, tidy_frame  # noqa: F401
from corrflow.data.sources.csv_format import parse_series_csv  # noqa: F401
from corrflow.data.sources.yahoo import normalise_yahoo_frame  # noqa: F401
from corrflow.io import InputDataError, write_csv_atomic, write_json_atomic

logger = logging.getLogger("ingest")


def retry_policy(network: Network) -> RetryPolicy:
    return RetryPolicy(
        retries=network.retries,
        backoff_s=network.backoff_s,
        max_wait_s=network.max_retry_time_s,
        timeout_s=network.timeout_s,
        budget_s=network.source_budget_s,
    )


def run(
    *,
    source: str,
    series: list,
    start: str,
    end: str,
    offline: bool,
    network: Network,
    paths: Paths,
    csv: str,
    ok: str,
) -> None:
    """One source's series into ``csv`` and its status record ``ok`` (rule ``ingest``).

    source: the source to ingest: fred, yahoo, french or csv
    series: JSON list of series specs; those of ``source`` are ingested
    csv: tidy raw output (series,date,value)
    ok: status record (JSON): each series' origin, attempts and refusals
    """
    if source not in REGISTRY:
        raise InputDataError(
            f"ingest: unknown source {source!r}; choose one of {', '.join(sorted(REGISTRY))}"
        )
    end = resolve_end(end)
    specs = [s for s in series if s["source"] == source]
    api_key = os.environ.get("FRED_API_KEY") or None
    if source == "fred" and not offline:
        logger.info(
            "fred: %s",
            "API key found in FRED_API_KEY" if api_key else "no FRED_API_KEY; using the CSV download",
        )
    # the sources take the plain mappings (their tests hand them partial ones, completed there)
    outcomes = ingest_source(
        source, specs, start, end, offline, network.as_dict(), paths.as_dict(), retry_policy(network), api_key
    )
    tidy = tidy_frame(outcomes)
    write_csv_atomic(tidy, csv, index=False)
    write_json_atomic(status_record(source, outcomes, tidy), ok)
    counts = pd.Series([o.status for o in outcomes.values()]).value_counts().to_dict()
    logger.info("%s: wrote %s (%d rows); levels %s", source, csv, len(tidy), counts)
