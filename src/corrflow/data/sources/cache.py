"""The local cache of last good downloads, versioned and self-checking.

``data/cache/<source>/<id>.csv`` holds ``date,value``; its sidecar ``<id>.csv.json``
holds the file's sha256, row count, first/last date, when it was downloaded, and the
source, symbol and column it came from. The data file is written first and the sidecar
last (each atomically), so an interrupted write leaves a sidecar that does not match:
such a cache, or one without a sidecar, empty or unparsable, is skipped with a warning
and the chain goes on to the snapshot. It never stops a run.
"""

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from corrflow.data.sources.csv_format import decode_csv_bytes, parse_series_csv, series_csv_text
from corrflow.io import InputDataError, write_json_atomic, write_text_atomic

logger = logging.getLogger("ingest")

SIDECAR_KEYS = ("sha256", "rows", "first", "last", "downloaded_at", "source", "symbol", "column")


@dataclass
class CacheEntry:
    series: pd.Series
    path: Path
    meta: dict  # the sidecar


def cache_path(cache_root: str | Path, source: str, series_id: str) -> Path:
    return Path(cache_root) / source / f"{series_id}.csv"


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def write_cache(
    series: pd.Series, path: Path, source: str, symbol: str, column: str, downloaded_at: str
) -> dict:
    """Store a good download: data first, then the sidecar that vouches for it."""
    text = series_csv_text(series)
    data = text.encode("utf-8")
    meta = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "rows": len(series),
        "first": series.index[0].strftime("%Y-%m-%d") if len(series) else None,
        "last": series.index[-1].strftime("%Y-%m-%d") if len(series) else None,
        "downloaded_at": downloaded_at,
        "source": source,
        "symbol": symbol,
        "column": column,
    }
    write_text_atomic(text, path)
    write_json_atomic(meta, sidecar_path(path))
    return meta


def cache_problem(path: Path, data: bytes, meta) -> str | None:
    """Why a cache file cannot be trusted, or None."""
    if not isinstance(meta, dict) or any(key not in meta for key in SIDECAR_KEYS):
        lacking = [k for k in SIDECAR_KEYS if k not in (meta or {})]
        return f"its sidecar {sidecar_path(path).name} lacks {lacking}"
    if not data:
        return "it is empty"
    digest = hashlib.sha256(data).hexdigest()
    if digest != meta["sha256"]:
        return f"its sha256 {digest[:12]}... does not match the sidecar's {str(meta['sha256'])[:12]}..."
    return None


def read_cache(path: Path, spec: dict) -> CacheEntry | None:
    """The verified cache copy of one series, or None (absent, or skipped with a warning)."""
    sidecar = sidecar_path(path)
    if not path.exists() and not sidecar.exists():
        return None

    def skip(reason: str) -> None:
        logger.warning(
            "%s: cache file %s skipped: %s; falling through to the snapshot", spec["id"], path, reason
        )

    if not path.is_file():
        return skip("the data file is missing or not a file")
    if not sidecar.is_file():
        return skip(f"no sidecar {sidecar.name} (written by an older version, or the write was interrupted)")
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return skip(f"unreadable sidecar ({type(err).__name__})")
    data = path.read_bytes()
    problem = cache_problem(path, data, meta)
    if problem:
        return skip(problem)
    try:
        text, _ = decode_csv_bytes(data, str(path))
        series = parse_series_csv(text, spec["id"], origin=str(path))
    except InputDataError as err:
        return skip(str(err))
    if len(series) != meta["rows"]:
        return skip(f"{len(series)} rows where the sidecar says {meta['rows']}")
    if series.notna().sum() == 0:
        return skip("it has no values")
    return CacheEntry(series, path, meta)
