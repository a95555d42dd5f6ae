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
    python workflow/scripts/ingest.py --source fred --offline true \
        --series '[{"id": "DGS10", "source": "fred", "kind": "yield", "maturity": 10}]' \
        --start 1990-01-02 --end 2017-03-31 --csv data/raw/fred.csv --ok data/raw/fred.ok
"""

import logging
import os

import pandas as pd

from corrflow.data.http_client import FetchError, NetworkDown, RetryPolicy, Throttle  # noqa: F401
from corrflow.data.sources import REGISTRY
from corrflow.data.sources.chain import Outcome, ingest_source, status_record, tidy_frame  # noqa: F401
from corrflow.data.sources.csv_format import parse_series_csv  # noqa: F401
from corrflow.data.sources.yahoo import normalise_yahoo_frame  # noqa: F401
from corrflow.io import (  # noqa: F401 (InputDataError: part of this script's interface)
    InputDataError,
    call_with_arguments,
    cli_parser,
    configure_logging,
    load_json_arg,
    parse_bool,
    schema_defaults,
    write_csv_atomic,
    write_json_atomic,
)

logger = logging.getLogger("ingest")


def parse_args(argv=None):
    parser = cli_parser(__doc__)
    parser.add_argument("--source", required=True, choices=sorted(REGISTRY))
    parser.add_argument("--series", type=load_json_arg, required=True, help="JSON list of series specs")
    parser.add_argument("--start", required=True)
    parser.add_argument("--end", required=True)
    parser.add_argument("--offline", type=parse_bool, default=False)
    parser.add_argument("--network", type=load_json_arg, default={}, help="JSON: timeout_s, retries, ...")
    parser.add_argument("--paths", type=load_json_arg, default={}, help="JSON: cache, snapshot, local_csv")
    parser.add_argument("--csv", required=True, help="tidy raw output (series,date,value)")
    parser.add_argument("--ok", required=True, help="status JSON output")
    args = parser.parse_args(argv)
    # a command line may give part of a setting; the rest from the schema (a rule gives it whole)
    defaults = schema_defaults()
    args.network = {**defaults["network"], **args.network}
    args.paths = {**defaults["paths"], **args.paths}
    return args


def retry_policy(network: dict) -> RetryPolicy:
    return RetryPolicy(
        retries=network["retries"],
        backoff_s=network["backoff_s"],
        max_wait_s=network["max_retry_time_s"],
        timeout_s=network["timeout_s"],
        budget_s=network["source_budget_s"],
    )


def run(
    *,
    csv,
    end,
    network,
    offline,
    ok,
    paths,
    series,
    source,
    start,
) -> None:
    """The rule's work, from files and settings to files (``corrflow ingest``, and the
    rule script with the ``snakemake`` object's input, output and params)."""
    specs = [s for s in series if s["source"] == source]
    api_key = os.environ.get("FRED_API_KEY") or None
    if source == "fred" and not offline:
        logger.info(
            "fred: %s",
            "API key found in FRED_API_KEY" if api_key else "no FRED_API_KEY; using the CSV download",
        )
    outcomes = ingest_source(
        source, specs, start, end, offline, network, paths, retry_policy(network), api_key
    )
    tidy = tidy_frame(outcomes)
    write_csv_atomic(tidy, csv, index=False)
    write_json_atomic(status_record(source, outcomes, tidy), ok)
    counts = pd.Series([o.status for o in outcomes.values()]).value_counts().to_dict()
    logger.info("%s: wrote %s (%d rows); levels %s", source, csv, len(tidy), counts)


def main(argv=None) -> None:
    """``corrflow ingest``: the command line of ``run``."""
    call_with_arguments(run, parse_args(argv))
