"""The data contracts between tasks: column names, file readers and the metadata key.

Every script that writes or reads a processed file names its columns through the
functions here, so a name is built in one place and parsed back in the same place.

Files and their columns (index ``date`` unless said otherwise):

- ``data/raw/<source>.csv``: tidy ``series,date,value`` (``read_raw``); ``<source>.ok``:
  JSON, per series the ingest level that served it (``read_statuses``).
- ``clean.parquet``: one column per series id, the level observed on that day; NaN
  where the series has no observation or its market was closed (no forward fill).
  Its metadata (``read_parquet``) holds per series the calendar, origin and coverage.
- ``features.parquet``: ``ret:X`` (``ret_column``) own-calendar log returns, ``simple:X``,
  ``dy_bp:X``, ``excess:X``, ``ret:X:lagK``.
- ``rolling_corr.csv``: per pair A-B and window W ``A:B:W`` (``corr_column``), its band
  ``A:B:W:loNN`` / ``A:B:W:hiNN`` (``band_columns``), ``A:B:W:spearman``, ``A:B:ewmH``
  (``ewm_column``), ``A:B:W:sync`` (``sync_column``) for markets that close hours apart;
  a pair's columns are NaN on days either market was closed.
- ``pair_gaps.csv``: the configured pairs' stretches without a value because a leg had
  no value on more than ``max_gap_days`` open days (``_returns.GAP_COLUMNS``).
- ``regimes.parquet``: ``pct:A:B:W`` (``percentile_column``), ``relative:A:B:W``
  (``RELATIVE_LABELS``),
  ``sign:A:B:W`` (``SIGN_LABELS``, primary window), Markov probabilities
  ``<prefix>:<view>:<state>`` (``markov_column``), ``dcc:A:B``, ``stress``,
  ``stress_reason``.
- ``stress_episodes.csv``: one row per episode (``EPISODE_COLUMNS``) and per pair
  column ``corr_before:A:B:W``, ``corr_during:A:B:W``, ``corr_adjusted:A:B:W``.
- ``horizons.csv``: long, ``date,pair,frequency,window,corr`` (``HORIZON_COLUMNS``; ``pair``
  is ``A:B`` (``horizon_pair``), ``frequency`` one of ``HORIZON_FREQUENCIES``).
"""

import json
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from corrflow.io import InputDataError, atomic_path

METADATA_KEY = b"corrflow"


class DuplicateDatesError(InputDataError):
    """A raw file holds a series twice on one date (DQ counts them; clean refuses)."""


# ---------------------------------------------------------------- returns


RET_PREFIX = "ret:"


def ret_column(series_id: str) -> str:
    return f"{RET_PREFIX}{series_id}"


def returns_from_features(features: pd.DataFrame) -> pd.DataFrame:
    """The ``ret:X`` columns of features.parquet (lags left out), named by series id."""
    cols = [c for c in features.columns if c.startswith(RET_PREFIX) and c.count(":") == 1]
    return features[cols].rename(columns=lambda c: c.split(":", 1)[1])


# ---------------------------------------------------------------- correlations


class CorrColumn(NamedTuple):
    a: str
    b: str
    window: str  # "60", or "ewm30" for an EWMA column
    stat: str | None  # None (the correlation), "lo95", "hi95", "spearman"


def corr_column(a: str, b: str, window: int) -> str:
    return f"{a}:{b}:{window}"


def band_columns(column: str, confidence: float) -> tuple[str, str]:
    tag = f"{round(confidence * 100):d}"
    return f"{column}:lo{tag}", f"{column}:hi{tag}"


def spearman_column(column: str) -> str:
    return f"{column}:spearman"


def sync_column(column: str) -> str:
    """The synchronised correlation beside ``A:B:W`` (markets that close hours apart)."""
    return f"{column}:sync"


def ewm_column(a: str, b: str, halflife: float) -> str:
    return f"{a}:{b}:ewm{halflife:g}"


def parse_corr_column(name: str) -> CorrColumn:
    """'A:B:60' -> (A, B, '60', None); 'A:B:60:lo95' -> (A, B, '60', 'lo95'); 'A:B:ewm30' -> (A, "
    "B, 'ewm30', None)."""
    parts = name.split(":")
    if len(parts) not in (3, 4):
        raise ValueError(f"not a correlation column name: {name!r}")
    return CorrColumn(parts[0], parts[1], parts[2], parts[3] if len(parts) == 4 else None)


def is_pearson(name: str) -> bool:
    parts = name.split(":")
    return len(parts) == 3 and parts[2].isdigit()


def pearson_columns(corr: pd.DataFrame, window: int | None = None) -> list[str]:
    """The plain rolling Pearson columns (A:B:W), optionally of one window only."""
    return [
        c for c in corr.columns if is_pearson(c) and (window is None or c.rsplit(":", 1)[1] == str(window))
    ]


def primary_window_of(corr: pd.DataFrame, window: int | None) -> int | None:
    """The primary window, the one home of its rule: the configured one (the workflow always
    passes `correlation.primary_window`, resolved), else, for a rolling_corr.csv read on its
    own (a command, a notebook), the first window in the file; None for a file without one."""
    if window is not None:
        return int(window)
    pearson = pearson_columns(corr)
    return int(parse_corr_column(pearson[0]).window) if pearson else None


def band_of(corr: pd.DataFrame, column: str) -> tuple[str, str] | None:
    """The (lo, hi) band columns of a Pearson column, if the file has them."""
    lo = next((c for c in corr.columns if c.startswith(f"{column}:lo")), None)
    if lo is None:
        return None
    hi = lo.replace(":lo", ":hi")
    return (lo, hi) if hi in corr.columns else None


def read_rolling_corr(
    path: str | os.PathLike, pairs: list[list[str]] | None = None, windows: list[int] | None = None
) -> pd.DataFrame:
    """rolling_corr.csv as a frame on its dates; with ``pairs``/``windows``, checks that every
    configured pair and window is there (a file written by another command is refused)."""
    try:
        corr = pd.read_csv(path, index_col="date", parse_dates=["date"])
    except (ValueError, pd.errors.EmptyDataError) as err:
        raise InputDataError(f"{path}: not a rolling-correlation CSV with a 'date' column ({err})") from None
    bad = [c for c in corr.columns if c.count(":") not in (2, 3)]
    if bad:
        raise InputDataError(f"{path}: columns {bad} are not named A:B:WINDOW[:STAT]; re-run rolling_corr")
    if pairs is not None and windows is not None:
        expected = [corr_column(a, b, w) for a, b in pairs for w in windows]
        absent = [c for c in expected if c not in corr.columns]
        if absent:
            raise InputDataError(
                f"{path}: lacks the configured pair/window column(s) {', '.join(absent)} (written by another "
                f"command or an older config); run `snakemake --forcerun rolling_corr`"
            )
    return corr


# ---------------------------------------------------------------- regimes

SIGN_LABELS = ("negative", "mixed", "positive")  # sign regime of the primary window
# today's value against the pair's own non-overlapping past windows (regimes.relative_regimes)
RELATIVE_LABELS = ("unusually low", "normal", "unusually high")
STRESS = "stress"
STRESS_REASON = "stress_reason"


def percentile_column(column: str) -> str:
    """Today's percentile among the pair's non-overlapping past values (0..100)."""
    return f"pct:{column}"


def relative_column(column: str) -> str:
    return f"relative:{column}"


def sign_column(column: str) -> str:
    return f"sign:{column}"


def markov_column(prefix: str, view: str, state: str) -> str:
    """``view``: ``p_realtime`` (expanding-window fits, data up to that day) or
    ``p_hindsight`` (full-sample smoothed); ``state``: the state's label."""
    return f"{prefix}:{view}:{state}"


def dcc_column(a: str, b: str) -> str:
    return f"dcc:{a}:{b}"


EPISODE_COLUMNS = ["name", "start", "end", "business_days", "rule", "reason"]


def corr_before_column(column: str) -> str:
    return f"corr_before:{column}"


def corr_during_column(column: str) -> str:
    return f"corr_during:{column}"


def corr_adjusted_column(column: str) -> str:
    """Forbes-Rigobon volatility-adjusted correlation during the episode."""
    return f"corr_adjusted:{column}"


HORIZON_COLUMNS = ["date", "pair", "frequency", "window", "corr"]
HORIZON_FREQUENCIES = ("weekly", "monthly")  # values of ``frequency``: W-FRI and ME period ends


def horizon_pair(a: str, b: str) -> str:
    """The ``pair`` value of horizons.csv: ``A:B``."""
    return f"{a}:{b}"


# ---------------------------------------------------------------- parquet with metadata


def write_parquet(frame: pd.DataFrame, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Write a frame (index kept) to parquet, atomically, with our metadata as JSON."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=True)
    if metadata is not None:
        merged = dict(table.schema.metadata or {})
        merged[METADATA_KEY] = json.dumps(metadata, sort_keys=True, default=str).encode()
        table = table.replace_schema_metadata(merged)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def read_parquet(path: str | os.PathLike, columns: list[str] | None = None) -> tuple[pd.DataFrame, dict]:
    """Read one of our parquet files: (frame, metadata dict). Clear error if it is not one."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.exists():
        raise InputDataError(f"{path}: file not found; build it first (e.g. `snakemake {path}`)")
    try:
        schema = pq.read_schema(path)
    except Exception as err:  # pyarrow raises several types for a non-parquet file
        raise InputDataError(f"{path}: not a readable parquet file ({err})") from err
    raw = (schema.metadata or {}).get(METADATA_KEY)
    metadata = json.loads(raw) if raw else {}
    return pd.read_parquet(path, columns=columns), metadata


# ---------------------------------------------------------------- raw files and ingest status

RAW_COLUMNS = ["series", "date", "value"]


def read_raw(path: str | Path, allow_duplicates: bool = False) -> pd.DataFrame:
    """Read and validate one raw file (series,date,value); errors name the file, row and fix.
    Duplicated dates raise DuplicateDatesError unless ``allow_duplicates`` (DQ counts them)."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype={"series": str, "date": str}, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise InputDataError(f"{path}: empty file; re-run ingest (snakemake -R ingest)") from None
    if list(frame.columns) != RAW_COLUMNS:
        raise InputDataError(
            f"{path}: schema drift: expected columns {RAW_COLUMNS}, found {list(frame.columns)}; "
            f"the file was not written by this version of ingest - delete it and re-run ingest"
        )
    dates = pd.to_datetime(frame["date"], format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna())[0])
        raise InputDataError(f"{path}: row {row + 2}: date {frame['date'].iloc[row]!r} is not YYYY-MM-DD")
    values = pd.to_numeric(frame["value"], errors="coerce")
    bad = (values.isna() & frame["value"].notna()) | np.isinf(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputDataError(
            f"{path}: row {row + 2}: value {frame['value'].iloc[row]!r} is not a finite number"
        )
    out = pd.DataFrame({"series": frame["series"], "date": dates, "value": values.astype("float64")})
    duplicated = out.duplicated(["series", "date"], keep=False)
    if duplicated.any() and not allow_duplicates:
        first = out[duplicated].iloc[0]
        raise DuplicateDatesError(
            f"{path}: series {first['series']!r} has {int(duplicated.sum())} rows on duplicated dates "
            f"(first {first['date'].date()}); fix the source file or re-run ingest"
        )
    return out


def read_statuses(ok_paths: list[str]) -> dict[str, dict]:
    """Per series id, its ingest record from the ``.ok`` files (plus the source name)."""
    statuses = {}
    for path in ok_paths:
        try:
            record = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise InputDataError(f"{path}: unreadable ingest status ({err}); re-run ingest") from None
        for entry in record.get("series", []):
            statuses[entry["series"]] = {k: v for k, v in entry.items() if k != "series"} | {
                "source": record["source"]
            }
    return statuses


def closed_days(metadata: dict, series_id: str) -> list[str]:
    """The days of clean.parquet on which the series' market was closed, from its metadata."""
    calendar = metadata.get("series", {}).get(series_id, {}).get("calendar")
    return metadata.get("calendars", {}).get(calendar, [])


def closed_by_series(metadata: dict) -> dict[str, list[str]]:
    return {series_id: closed_days(metadata, series_id) for series_id in metadata.get("series", {})}


def is_missing(meta: dict) -> bool:
    """Whether a series' clean.parquet metadata says it has no data (ingest found none, clean
    dropped it, or it has no last date)."""
    return meta.get("status") == "missing" or meta.get("in_clean") is False or not meta.get("last")


def as_of_date(clean_meta: dict, pairs: list[list[str]]) -> str:
    """The data's last common date: clean.parquet's `as_of`, else the earliest last date
    of the series in configured pairs that have data."""
    if clean_meta.get("as_of"):
        return str(clean_meta["as_of"])[:10]
    series_meta = clean_meta.get("series", {})
    in_pairs = {s for pair in pairs for s in pair}
    lasts = [m["last"] for k, m in series_meta.items() if k in in_pairs and not is_missing(m)]
    lasts = lasts or [m["last"] for m in series_meta.values() if not is_missing(m)]
    if not lasts:
        raise InputDataError("report: clean.parquet's metadata has no series with data; re-run clean")
    return min(str(d)[:10] for d in lasts)
