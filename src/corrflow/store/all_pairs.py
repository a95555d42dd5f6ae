"""The all-pairs result on disk: writer (``write_all_pairs``) and reader (``read_all_pairs``,
``read_month_ends``) of the parquet layout, one file per block of first series (and, with
``history_of``, one file of the kept pairs' daily histories per block), listed by a manifest."""

import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd

from corrflow.analytics.correlation.rolling import AllPairsBySeries, JointDayPanel
from corrflow.analytics.panel import CleanPanel
from corrflow.data.contracts import METADATA_KEY
from corrflow.io import InputDataError, Progress, atomic_path
from corrflow.store.blocks import (
    block_first_series,
    block_parts,
    series_blocks,
    stored_bytes_per_row,
    stored_dates,
    stretch_rows,
)

logger = logging.getLogger("all_pairs")

STORE_COLUMNS = ["date", "a", "b", "corr"]
# How the store's columns are encoded (standard parquet, read by pandas, DuckDB, polars):
# the series names as the dictionaries they are (written as the codes they already are,
# no hashing); the dates, which repeat for every pair of a day, delta-encoded (a
# dictionary would hash every row: 5x the write time); the values plain (random floats: a
# dictionary is tried, then given up, at a cost), a value a pair does not have as null
# (no bytes; pandas reads NaN, DuckDB and polars NULL). No compression: the values do not
# compress enough to pay for it. Statistics of the date only, which let a reader skip row
# groups (statistics of the codes and values cost ~40 % of the write). Batches and pages
# of 64 Ki values and 8 MB instead of 1 Ki and 1 MB: fewer calls per value (measured in
# docs/performance.md, "The all-pairs store's writer").
PARQUET_OPTIONS = {
    "compression": "none",
    "use_dictionary": ["a", "b"],
    "column_encoding": {"date": "DELTA_BINARY_PACKED", "corr": "PLAIN"},
    "write_statistics": ["date"],
    "write_batch_size": 1 << 16,
    "data_page_size": 1 << 23,
}


LATEST_AMONG_MONTHS = 4  # row groups per block read first for the latest matrix (then twice as many)


def month_end_rows(index: pd.DatetimeIndex) -> np.ndarray:
    """Positions of the last date of each calendar month in ``index`` (sorted dates); the
    last date of the index closes the last, possibly partial, month."""
    if not len(index):
        return np.empty(0, dtype="int64")
    months = index.year.to_numpy() * 12 + index.month.to_numpy()
    return np.flatnonzero(np.r_[months[1:] != months[:-1], True])


def history_pairs(history_of: list[str], names: list[str]) -> set[tuple[int, int]]:
    """Pairs (i < j, universe positions) whose daily history ``history_of`` keeps: a
    series id keeps every pair with it, ``A:B`` that pair."""
    position = {name: k for k, name in enumerate(names)}
    kept: set[tuple[int, int]] = set()
    for entry in history_of:
        parts = entry.split(":")
        unknown = [p for p in parts if p not in position]
        if len(parts) > 2 or (len(parts) == 2 and parts[0] == parts[1]):
            raise InputDataError(
                f"all_pairs.history_of: {entry!r} is not a series id or a pair A:B of two series"
            )
        if unknown:
            raise InputDataError(
                f"all_pairs.history_of: {entry!r} names no series of the universe "
                f"({', '.join(unknown)}); give a series id or A:B"
            )
        if len(parts) == 1:
            k = position[parts[0]]
            kept |= {(min(k, m), max(k, m)) for m in range(len(names)) if m != k}
        else:
            i, j = sorted(position[p] for p in parts)
            kept.add((i, j))
    return kept


class LongColumns:
    """Row groups of the long layout for a fixed list of pairs: the pair-code columns are
    built once for the longest row group (as arrow arrays, sliced per row group without a
    copy or a check) and the date column's buffer is reused (fresh arrays of ~100 M rows
    per file would cost a page fault per page, ~1 s for 200 series); one table at a time,
    built on the thread that writes it."""

    def __init__(self, pair_a, pair_b, rows: int, dictionary, value_type, schema):
        import pyarrow as pa

        self.width = len(pair_a)
        # codes below len(dictionary) by construction: no check per row (safe=False)
        self.codes_a = pa.DictionaryArray.from_arrays(pa.array(np.tile(pair_a, rows)), dictionary, safe=False)
        self.codes_b = pa.DictionaryArray.from_arrays(pa.array(np.tile(pair_b, rows)), dictionary, safe=False)
        self.days = np.empty(rows * self.width, dtype="int64")
        self.value_type, self.schema = value_type, schema

    def table(self, day_values: np.ndarray, values: np.ndarray):
        """A table of ``values`` (dates x pairs, NaN where a pair has no value: written as
        null) on ``day_values`` (datetime64[ms]); its columns are views of this object's
        buffers, valid until the next call."""
        import pyarrow as pa

        n_rows = values.size
        days = self.days[:n_rows]
        days.reshape(len(day_values), self.width)[:] = day_values.astype("int64")[:, None]
        flat = np.ascontiguousarray(values).reshape(-1)
        missing = np.isnan(flat)
        valid = None
        if missing.any():  # a validity bitmap, bit-packed as arrow wants it (little-endian bits)
            valid = pa.py_buffer(np.packbits(~missing, bitorder="little"))
        return pa.Table.from_arrays(
            [
                pa.Array.from_buffers(pa.timestamp("ms"), n_rows, [None, pa.py_buffer(days)]),
                self.codes_a.slice(0, n_rows),
                self.codes_b.slice(0, n_rows),
                pa.Array.from_buffers(self.value_type, n_rows, [valid, pa.py_buffer(flat)]),
            ],
            schema=self.schema,
        )


def store_schema(value_type, metadata: dict):
    """The long layout's arrow schema: the keys ``date``, ``a``, ``b`` never null (no
    definition levels to write or read), ``corr`` null where a pair has no value."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("date", pa.timestamp("ms"), nullable=False),
            pa.field("a", pa.dictionary(pa.int32(), pa.string()), nullable=False),
            pa.field("b", pa.dictionary(pa.int32(), pa.string()), nullable=False),
            pa.field("corr", value_type),
        ]
    ).with_metadata({METADATA_KEY: json.dumps(metadata).encode()})


def write_all_pairs(
    levels: pd.DataFrame,
    metadata: dict,
    window: int,
    path,
    dtype: str = "float32",
    block: int = 0,
    n_blocks: int = 1,
    dates: str = "every_day",
    history_of: list[str] | None = None,
    history_path: str | None = None,
) -> int:
    """Every pair's rolling correlation (or one block of them) into a parquet file, or
    into part files (``path`` a list of paths) encoded side by side on as many threads;
    returns the pair count. Each pair on its own joint days, from clean levels and
    their metadata (``corrflow.analytics.correlation.rolling.JointDayPanel``): what rolling_corr.csv gives the
    pair configured, on the levels' dates (null on the days that are not the pair's).

    Layout, readable by any parquet reader without corrflow: long, one row per date and
    pair, columns ``date`` (timestamp), ``a`` and ``b`` (the pair's series, a before b in
    the universe's order; dictionary-encoded strings) and ``corr`` (float32, or float64
    with ``dtype``; null where the pair has no value: pandas reads NaN, DuckDB and
    polars NULL, so their null filters drop it), sorted by date and then pair, in row
    groups of about 256 dates (a whole number of windows). So ``pd.read_parquet(path,
    filters=[("a", "==", "SPY"), ("b", "==", "TLT")])``, DuckDB's ``SELECT date, corr
    FROM 'block.parquet' WHERE a = 'SPY' AND b = 'TLT'`` or polars give floats with
    dates and series names. The
    metadata key ``corrflow`` names the series, window, dtype, block, part and dates kept.
    float32 (the default) halves the file; its rounding error is below 6e-8 on values
    in [-1, 1]. With ``n_blocks`` > 1 the file holds block ``block`` of the first series
    (``series_blocks``), about 1/n_blocks of the pairs: the blocks are independent jobs.
    With K paths, part k holds the pairs of the k-th of K ranges of the block's first
    series (``block_parts``), about 1/K of its pairs: each part is a store like a block,
    listed as such by the manifest (pyarrow encodes one file on one thread; K files are
    encoded on K threads, while the kernel computes the next stretch).

    ``dates`` (``stored_dates``): ``every_day``; ``month_ends``, one matrix per month
    dated the month's last date of the levels, holding each pair's last value of the
    month (its last joint day: the day before a Tokyo holiday that ends the month), the
    last month's matrix being the latest; ``latest``, that last matrix only. The kernel
    walks every date either way; only the rows written differ. ``history_of`` (series
    ids, or ``A:B``) keeps those pairs' every day in ``history_path``, same layout.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    if not paths:
        raise ValueError("write_all_pairs: give a path, or the paths of the part files")
    names = list(levels.columns)
    try:
        dates = stored_dates(dates, len(names))
    except ValueError as err:
        raise InputDataError(str(err)) from None
    series = series_blocks(len(names), n_blocks)[block]
    parts = block_parts(len(names), n_blocks, block, len(paths))
    # row groups of whole windows (about 256 dates), each computed into one of two
    # buffers on the kernel's thread while the previous one is written: memory stays at
    # two row groups, and the buffers are reused, not faulted in afresh per date
    rows = stretch_rows(window)
    result = AllPairsBySeries(
        JointDayPanel(CleanPanel(levels, metadata)), window, dtype, series, rows, date_major=True, parts=parts
    )
    index_dates = levels.index.to_numpy(dtype="datetime64[ms]")
    n_pairs = len(result.pairs)
    part_pairs = [slice(a, b) for a, b in zip(result.part_start[:-1], result.part_start[1:], strict=True)]
    if dates == "every_day":
        matrix_rows = np.arange(result.n_rows)
    else:
        matrix_rows = month_end_rows(levels.index)[-1:] if dates == "latest" else month_end_rows(levels.index)
    kept = history_pairs(history_of or [], names) if dates != "every_day" else set()
    history = np.array([(int(i), int(j)) in kept for i, j in result.pairs], dtype=bool)
    metadata_out = {
        "window": window,
        "series": names,
        "dtype": dtype,
        "block": block,
        "n_blocks": n_blocks,
        "dates": dates,
        "history_of": list(history_of or []),
        "layout": "long: date, a, b, corr; a before b in `series` order; sorted by date, then pair",
    }
    dictionary = pa.array(names, type=pa.string())
    # the block's pairs in the kernel's order (by first series, then second)
    pair_a = result.pairs[:, 0].astype("int32")
    pair_b = result.pairs[:, 1].astype("int32")
    value_type = pa.float32() if dtype == "float32" else pa.float64()
    n_parts = len(paths)
    schemas = [
        store_schema(value_type, {**metadata_out, "part": k, "n_parts": n_parts}) for k in range(n_parts)
    ]
    history_schema = store_schema(value_type, {**metadata_out, "dates": "every_day", "history": True})
    n_history = int(history.sum())
    planned_rows = len(matrix_rows) * n_pairs + (result.n_rows * n_history)
    logger.info(
        "writing %s: %s (up to %d dates; a month of no full window is skipped) x %d pairs%s = %d rows at "
        "most, about %.0f MB",
        ", ".join(map(str, paths)),
        dates.replace("_", " "),
        len(matrix_rows),
        n_pairs,
        f", and every day of {n_history} pairs kept by history_of" if n_history else "",
        planned_rows,
        planned_rows * stored_bytes_per_row(len(names), dtype) / 1e6,
    )

    # a month-end store's table holds the month-ends of one stretch at most, not its every day
    stored_rows = (
        rows if dates == "every_day" else max(1, int(np.bincount(matrix_rows // rows).max(initial=1)))
    )
    part_columns = [
        LongColumns(pair_a[pairs], pair_b[pairs], stored_rows, dictionary, value_type, schema)
        for pairs, schema in zip(part_pairs, schemas, strict=True)
    ]
    part_history = [history[pairs] for pairs in part_pairs]
    history_columns = LongColumns(
        pair_a[history], pair_b[history], rows, dictionary, value_type, history_schema
    )

    # month-end matrices: each pair's last value so far in the month, carried across
    # stretches (one array per part: each part's thread updates its own)
    carries = [np.full(pairs.stop - pairs.start, np.nan, dtype=dtype) for pairs in part_pairs]
    is_matrix_row = np.zeros(result.n_rows, dtype=bool)
    is_matrix_row[matrix_rows] = True
    month_end = np.zeros(result.n_rows, dtype=bool)
    month_end[month_end_rows(levels.index)] = True

    written = [0] * (n_parts + 1)  # rows per part file and history file: an empty file still gets its schema

    def write_part(k: int, writer, t0: int, values: np.ndarray) -> None:
        """Part k's rows of the stretch from t0 (``values``: its dates x its pairs), on part k's thread."""
        t1 = t0 + len(values)
        columns = part_columns[k]
        if dates == "every_day":
            if values.size:
                writer.write_table(columns.table(index_dates[t0:t1], values), row_group_size=values.size)
                written[k] += values.size
            return
        carry = carries[k]
        emitted_days, emitted = [], []
        for t in range(t0, t1):
            row = values[t - t0]
            np.copyto(carry, row, where=~np.isnan(row))
            if month_end[t]:
                if is_matrix_row[t] and not np.isnan(carry).all():  # a month of no value is no matrix
                    emitted_days.append(index_dates[t])
                    emitted.append(carry.copy())
                carry.fill(np.nan)
        if emitted:  # a row group per month: the latest matrix is one row group's read
            writer.write_table(
                columns.table(np.array(emitted_days), np.vstack(emitted)), row_group_size=columns.width
            )
            written[k] += len(emitted) * columns.width

    def write_history(writer, t0: int, views: list[np.ndarray]) -> None:
        kept_values = np.concatenate([v[:, h] for v, h in zip(views, part_history, strict=True)], axis=1)
        writer.write_table(history_columns.table(index_dates[t0 : t0 + len(kept_values)], kept_values))
        written[-1] += kept_values.size

    stretches = [(t0, min(t0 + rows, result.n_rows)) for t0 in range(0, result.n_rows, rows)]
    buffers = [result.buffer() for _ in range(min(2, len(stretches)))]
    with ExitStack() as files:
        writers = [
            pq.ParquetWriter(files.enter_context(atomic_path(p)), schema, **PARQUET_OPTIONS)
            for p, schema in zip(paths, schemas, strict=True)
        ]
        history_writer = None
        if history_path is not None:
            history_writer = pq.ParquetWriter(
                files.enter_context(atomic_path(history_path)), history_schema, **PARQUET_OPTIONS
            )
        # the kernel on one thread, each file's encoding (pyarrow, without the GIL) on its
        # own: the executors shut down (their work done) before the files are renamed
        compute = files.enter_context(ThreadPoolExecutor(max_workers=1))
        encoders = [files.enter_context(ThreadPoolExecutor(max_workers=1)) for _ in range(len(paths) + 1)]
        # a bar on a terminal (the command), a log line every 10 s otherwise (a rule's log)
        progress = Progress(f"all pairs, block {block + 1} of {n_blocks}", result.n_rows, "dates", log=logger)
        pending = compute.submit(result.compute, buffers[0], *stretches[0]) if stretches else None
        writing = []  # (dates, futures) of the stretch being written
        for k, (t0, t1) in enumerate(stretches):
            views = pending.result()
            futures = [
                encoders[q].submit(write_part, q, writer, t0, views[q]) for q, writer in enumerate(writers)
            ]
            if n_history and history_writer is not None:
                futures.append(encoders[-1].submit(write_history, history_writer, t0, views))
            if writing:  # the buffer the next stretch goes into is free once its stretch is written
                done_rows, done = writing.pop()
                for future in done:
                    future.result()
                progress.advance(done_rows, f"{n_pairs:,} pairs")
            if k + 1 < len(stretches):
                pending = compute.submit(result.compute, buffers[(k + 1) % 2], *stretches[k + 1])
            writing.append((t1 - t0, futures))
        for done_rows, done in writing:
            for future in done:
                future.result()
            progress.advance(done_rows, f"{n_pairs:,} pairs")
        progress.close()
        for open_writer, open_schema, count in (
            *zip(writers, schemas, written, strict=False),
            (history_writer, history_schema, written[-1]),
        ):
            if open_writer is not None:
                if not count:  # a file of no row is still a store
                    open_writer.write_table(open_schema.empty_table())
                open_writer.close()
    return n_pairs


def store_files(paths) -> tuple[list[Path], list[Path]]:
    """(block files, history files) of one file, a list of files or a ``manifest.json``."""
    if isinstance(paths, (str, os.PathLike)) and str(paths).endswith(".json"):
        manifest = json.loads(Path(paths).read_text(encoding="utf-8"))
        folder = Path(paths).parent
        return (
            [folder / entry["file"] for entry in manifest["files"]],
            [folder / entry for entry in manifest.get("histories", [])],
        )
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    return [Path(p) for p in paths], []


def store_metadata(handle, path) -> dict:
    schema = handle.schema_arrow
    if METADATA_KEY not in (schema.metadata or {}) or schema.names != STORE_COLUMNS:
        raise InputDataError(
            f"{path}: not an all-pairs result of this version (no corrflow metadata, or columns other "
            f"than {', '.join(STORE_COLUMNS)}); write it again with `corrflow all-pairs-block`"
        )
    return json.loads(schema.metadata[METADATA_KEY])


def read_all_pairs(paths, pair: tuple[str, str] | None = None, latest: bool = False):
    """A slice of an all-pairs result (one file, the block files of one run, or their
    ``manifest.json``): one pair's history (Series named ``A:B``: every date of the
    store, or every day for a pair ``history_of`` kept), or the latest N x N matrix
    (DataFrame, its date in ``attrs["date"]``, the pairs with a value in
    ``attrs["valued"]`` of ``attrs["pairs"]``): each pair's last value in the store's last
    month in which at least half of all pairs have a value, however far back (the
    month-end matrix of ``read_month_ends`` for that month)."""
    import pyarrow.parquet as pq

    blocks, histories = store_files(paths)
    handles = [pq.ParquetFile(p) for p in blocks]
    metas = [store_metadata(h, p) for h, p in zip(handles, blocks, strict=True)]
    names = metas[0]["series"]
    position = {name: k for k, name in enumerate(names)}
    if pair is not None:
        unknown = [s for s in pair if s not in position]
        if unknown:
            raise InputDataError(f"all-pairs result: no series {unknown}; it holds {', '.join(names)}")
        a, b = sorted(pair, key=position.get)
        block = next(k for k, meta in enumerate(metas) if a in block_first_series(meta, names))
        source = blocks[block]
        if metas[block].get("dates", "every_day") != "every_day":
            kept = history_pairs(metas[block].get("history_of", []), names)
            if (position[a], position[b]) in kept:  # its every day is in the block's history file
                source = next(
                    (
                        p
                        for p in histories
                        if store_metadata(pq.ParquetFile(p), p)["block"] == metas[block]["block"]
                    ),
                    None,
                )
                if source is None:
                    raise InputDataError(
                        f"all-pairs result: {a}:{b}'s every day is in the history file of block "
                        f"{metas[block]['block'] + 1}; read the run's manifest.json, not block files alone"
                    )
        table = pq.read_table(source, columns=["date", "corr"], filters=[("a", "==", a), ("b", "==", b)])
        dates = pd.DatetimeIndex(table.column("date").to_numpy(), name="date").astype("datetime64[ns]")
        values = table.column("corr").to_numpy(zero_copy_only=False).astype("float64", copy=False)
        return pd.Series(values, index=dates, name=f"{a}:{b}")
    if latest:
        months, cube = read_month_ends(paths, last_only=True)
        out = pd.DataFrame(cube[-1] if len(cube) else np.eye(len(names)), index=names, columns=names)
        out.attrs["date"] = str(months[-1].date()) if len(months) else None
        upper = np.triu_indices(len(names), 1)
        out.attrs["valued"] = int(np.isfinite(out.to_numpy()[upper]).sum())
        out.attrs["pairs"] = len(upper[0])
        return out
    raise ValueError("read_all_pairs: give pair=(A, B) or latest=True")


def read_month_ends(
    paths, series: list[str] | None = None, last_only: bool = False
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """The store's month-end matrices: (dates, array dates x N x N) of each pair's last
    value in each month, dated the month's last date of the store: the stored rows of a
    store of ``dates: month_ends`` or ``latest``, taken from every day's rows otherwise.
    The diagonal is 1; a pair without a value in the month is NaN. ``series``: only
    those (in that order; default the universe); ``last_only``: the latest matrix, the
    last month in which at least half of all the pairs have a value, however far back
    (the fullest month when none has half): row groups are read from the end, twice as
    many each round, until such a month is found."""
    blocks, _ = store_files(paths)
    import pyarrow.parquet as pq

    handles = [pq.ParquetFile(p) for p in blocks]
    metas = [store_metadata(h, p) for h, p in zip(handles, blocks, strict=True)]
    names = metas[0]["series"]
    series = names if series is None else list(series)
    unknown = [s for s in series if s not in names]
    if unknown:
        raise InputDataError(f"all-pairs result: no series {unknown}; it holds {', '.join(names)}")
    if not last_only:
        return month_end_matrices(handles, blocks, names, series, None)
    upper = np.triu_indices(len(series), 1)
    total = len(upper[0])
    most = max((h.num_row_groups for h in handles), default=0)
    groups = LATEST_AMONG_MONTHS
    while True:
        dates, cube = month_end_matrices(handles, blocks, names, series, groups)
        read_all = groups >= most
        counts = np.isfinite(cube[:, upper[0], upper[1]]).sum(axis=1)
        # the earliest month read may be cut by the row groups' edge: it counts once all are read
        settled = counts if read_all else counts[1:]
        enough = np.flatnonzero(settled >= 0.5 * total) if total else np.array([], dtype=int)
        if len(enough) or read_all:
            if not len(dates):
                return dates, cube
            offset = 0 if read_all else 1
            if len(enough):
                pick = int(enough[-1]) + offset
            else:  # no month has half the pairs: the last of the fullest months
                pick = int(len(counts) - 1 - np.argmax(counts[::-1]))
            return dates[pick : pick + 1], cube[pick : pick + 1]
        groups *= 2


def month_end_matrices(handles, paths, names, series, last_groups: int | None):
    """(dates, dates x N x N over ``series``) of each pair's last value per month, from
    every row group or the last ``last_groups`` of each block file, dated the store's
    last date of the month; a month of no value among these series is no matrix.

    Every layout this version writes is a rectangle per row group: each date holds the
    block's pairs in one order, a null where a pair has no value (a month-end store one
    month per row group, an every-day store about 256 days). So a row group is read as a
    (dates x pairs) array on the dictionary codes (no string per row), and a month's
    last value per pair is found by array selection; later row groups overwrite earlier
    ones, the rows being in date order."""
    position = {name: k for k, name in enumerate(names)}
    where = np.full(len(names), -1, dtype="int64")
    where[[position[s] for s in series]] = np.arange(len(series))
    n = len(series)
    month_date: dict[int, int] = {}  # month number -> the store's last date in it (ms)
    matrices: dict[int, np.ndarray] = {}
    for handle, path in zip(handles, paths, strict=True):
        groups = list(range(handle.num_row_groups))
        if last_groups is not None:
            groups = groups[-last_groups:]
        for group in groups:  # one row group at a time: memory follows the series asked for
            table = handle.read_row_group(group)
            if not table.num_rows:
                continue
            days = table.column("date").to_numpy().astype("datetime64[ms]").astype("int64")
            width = int(np.searchsorted(days, days[0], side="right"))
            first_series, second_series = (
                pair_legs(table.column(c), position, width, path, group) for c in ("a", "b")
            )
            if table.num_rows % width or not (days.reshape(-1, width) == days[::width, None]).all():
                raise not_a_rectangle(path, group)
            i, j = where[first_series], where[second_series]
            keep = (i >= 0) & (j >= 0)
            if not keep.any():  # none of this block's pairs is asked for
                continue
            values = table.column("corr").to_numpy().astype("float64").reshape(-1, width)[:, keep]
            i, j = i[keep], j[keep]
            dates = days[::width]
            months = dates.astype("datetime64[ms]").astype("datetime64[M]").astype("int64")
            for month in np.unique(months):
                rows = np.flatnonzero(months == month)
                month_date[month] = max(month_date.get(month, dates[rows[-1]]), int(dates[rows[-1]]))
                stretch = values[rows]
                valid = np.isfinite(stretch)
                has = valid.any(axis=0)
                last = len(rows) - 1 - np.argmax(valid[::-1], axis=0)  # each pair's last valued row
                matrix = matrices.setdefault(month, np.full((n, n), np.nan))
                chosen = stretch[last, np.arange(len(i))][has]
                matrix[i[has], j[has]] = chosen
                matrix[j[has], i[has]] = chosen
    valued = sorted(m for m, matrix in matrices.items() if np.isfinite(matrix).any())
    dates = pd.DatetimeIndex(np.array([month_date[m] for m in valued], dtype="datetime64[ms]")).astype(
        "datetime64[ns]"
    )
    cube = np.stack([matrices[m] for m in valued]) if valued else np.full((0, n, n), np.nan)
    cube[:, np.arange(n), np.arange(n)] = 1.0
    return dates, cube


def pair_legs(column, position: dict[str, int], width: int, path, group: int) -> np.ndarray:
    """One leg (``a`` or ``b``) of a row group's pairs, as positions in the universe
    (``position``), from the row group's first date; checked on the dictionary codes (no
    string per row) to repeat on every date."""
    import pyarrow as pa

    chunk = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if isinstance(chunk, pa.ChunkedArray):  # pyarrow returns a one-chunk array for dictionaries
        chunk = chunk.chunk(0)
    codes = chunk.indices.to_numpy(zero_copy_only=False)
    if len(codes) % width or not (codes.reshape(-1, width) == codes[:width]).all():
        raise not_a_rectangle(path, group)
    lookup = np.array([position[name] for name in chunk.dictionary.to_pylist()], dtype="int64")
    return lookup[codes[:width]]


def not_a_rectangle(path, group: int) -> InputDataError:
    return InputDataError(
        f"{path}: row group {group} is not one row per date and pair; write the store again with "
        "`corrflow all-pairs-block`"
    )
