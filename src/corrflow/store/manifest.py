"""List the block files of an all-pairs run (the gather step of its scatter-gather).

manifest.json: window, dtype, dates kept, history_of, series (the universe's order),
pairs, per block file (each part file of a block: ``block_1-of-2.part1.parquet``) its
block, part and first series, and the history files, so
``corrflow.read_all_pairs("manifest.json", ...)`` (or any parquet reader) finds a pair's
rows without opening every file.

CLI:
    corrflow all-pairs-manifest --blocks data/processed/all_pairs/block_*.parquet \
        --histories data/processed/all_pairs/history_*.parquet \
        --manifest data/processed/all_pairs/manifest.json
"""

import json
import logging
from pathlib import Path

from corrflow.io import (
    InputDataError,
    write_json_atomic,
)
from corrflow.store.blocks import block_first_series

logger = logging.getLogger("all_pairs")


def store_meta(path) -> dict:
    import pyarrow.parquet as pq

    return json.loads((pq.read_schema(path).metadata or {}).get(b"corrflow", b"{}"))


def file_order(meta: dict) -> tuple[int, int]:
    """A block file's place in the run: its block, then its part (from its metadata)."""
    return meta.get("block", 0), meta.get("part", 0)


def manifest_of(paths: list[str], histories: list[str] = ()) -> dict:
    files, series, settings, kept = [], None, None, None
    metas = {path: store_meta(path) for path in paths}
    for path, meta in metas.items():
        if "series" not in meta:
            raise InputDataError(
                f"{path}: not an all-pairs block (no corrflow metadata); re-run all_pairs_block"
            )
    for path in sorted(paths, key=lambda p: file_order(metas[p])):
        meta = metas[path]
        if series is not None and (meta["series"] != series or (meta["window"], meta["dtype"]) != settings):
            raise InputDataError(
                f"{path}: a block of another run (series, window or dtype differ); re-run all"
            )
        series, settings = meta["series"], (meta["window"], meta["dtype"])
        kept = (meta.get("dates", "every_day"), meta.get("history_of", []))
        block, part = file_order(meta)
        files.append(
            {
                "file": Path(path).name,
                "block": block,
                "part": part,
                "first_series": block_first_series(meta, series),
            }
        )
    history_metas = {path: store_meta(path) for path in histories}
    for path, meta in history_metas.items():
        if meta.get("series") != series or (meta.get("window"), meta.get("dtype")) != settings:
            raise InputDataError(f"{path}: not a history file of this all-pairs run; re-run all_pairs_block")
    n = len(series)
    return {
        "window": settings[0],
        "dtype": settings[1],
        "dates": kept[0],
        "history_of": kept[1],
        "series": series,
        "pairs": n * (n - 1) // 2,
        "files": files,
        "histories": [Path(p).name for p in sorted(histories, key=lambda p: file_order(history_metas[p]))],
    }


def run(*, blocks: list[str], histories: list[str] = [], manifest: str) -> None:  # noqa: B006 (read only)
    """List the block files of an all-pairs run (rule ``all_pairs``).

    blocks: the blocks' parquet files
    histories: the blocks' history parquet files
    manifest: manifest.json
    """
    listing = manifest_of(blocks, histories)
    write_json_atomic(listing, manifest)
    logger.info("wrote %s: %d pairs in %d files", manifest, listing["pairs"], len(listing["files"]))
