"""List the block files of an all-pairs run (the gather step of its scatter-gather).

manifest.json: window, dtype, series (the universe's order), pairs, and per block file
its first series, so ``corrflow.read_all_pairs("manifest.json", ...)`` (or any
parquet reader) finds a pair's column without opening every file.

CLI:
    python workflow/scripts/all_pairs_manifest.py --blocks data/processed/all_pairs/block_*.parquet \
        --manifest data/processed/all_pairs/manifest.json
"""

import argparse
import json
import logging
from pathlib import Path

from corrflow.io import (
    InputDataError,
    call_with_arguments,
    cli_parser,
    write_json_atomic,
)

logger = logging.getLogger("all_pairs")


def manifest_of(paths: list[str]) -> dict:
    import pyarrow.parquet as pq

    files, series, settings = [], None, None
    for path in sorted(paths, key=lambda p: int(Path(p).stem.split("_")[-1].split("-of-")[0])):
        schema = pq.read_schema(path)
        meta = json.loads((schema.metadata or {}).get(b"corrflow", b"{}"))
        if "series" not in meta:
            raise InputDataError(
                f"{path}: not an all-pairs block (no corrflow metadata); re-run all_pairs_block"
            )
        if series is not None and (meta["series"] != series or (meta["window"], meta["dtype"]) != settings):
            raise InputDataError(
                f"{path}: a block of another run (series, window or dtype differ); re-run all"
            )
        series, settings = meta["series"], (meta["window"], meta["dtype"])
        files.append({"file": Path(path).name, "first_series": schema.names[1:]})
    n = len(series)
    return {
        "window": settings[0],
        "dtype": settings[1],
        "series": series,
        "pairs": n * (n - 1) // 2,
        "files": files,
    }


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli_parser(__doc__)
    parser.add_argument("--blocks", nargs="+", required=True)
    parser.add_argument("--manifest", required=True)
    return parser.parse_args(argv)


def run(
    *,
    blocks,
    manifest,
) -> None:
    """The rule's work, from files and settings to files (``corrflow all-pairs-manifest``, and the
    rule script with the ``snakemake`` object's input, output and params)."""
    listing = manifest_of(blocks)
    write_json_atomic(listing, manifest)
    logger.info("wrote %s: %d pairs in %d files", manifest, listing["pairs"], len(listing["files"]))


def main(argv=None) -> None:
    """``corrflow all-pairs-manifest``: the command line of ``run``."""
    call_with_arguments(run, parse_args(argv))
