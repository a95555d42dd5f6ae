"""Rolling correlations of return pairs (task D).

Output ``rolling_corr.csv``: wide, one row per business day (``date``); per pair A-B
and window W the columns

- ``A:B:W``        Pearson over the last W returns, min_periods = W (any missing
                   return in the window gives NaN; a window where either series is
                   flat gives NaN, never inf);
- ``A:B:W:lo95``, ``A:B:W:hi95``  its Fisher-z 95 % confidence band;
- ``A:B:W:spearman``  rank correlation over the same window (when switched on);
- ``A:B:ewmH``     exponentially weighted correlation with half-life H days.

A pair naming a series that no level could serve is skipped with a warning.

Three ways in:
    # from prices (the seed's command): log returns computed here; a yield column
    # (per clean.parquet's metadata) becomes bond returns exactly as in `features`
    python workflow/scripts/rolling_corr.py --prices data/processed/clean.parquet \
        --eq-col SPY --bond-col DGS10 --window 60 --out rolling_corr.csv
    # from features (what the workflow does)
    python workflow/scripts/rolling_corr.py --features data/processed/features.parquet \
        --pairs '[["SPY", "DGS10"]]' --windows 20 60 --ewma-halflife 30 --out rolling_corr.csv
    # every pair of the universe, to parquet (layout: see write_all_pairs)
    python workflow/scripts/rolling_corr.py --prices P.parquet --all-pairs --window 60 --out OUT.parquet
"""

import argparse
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd

from _helpers import (
    cli_parser,
    InputDataError,
    atomic_path,
    configure_logging,
    limit_threads,
    load_json_arg,
    parse_bool,
    read_parquet,
    run_script,
    write_csv_atomic,
)

logger = logging.getLogger("rolling_corr")


def corr_column(a: str, b: str, window: int) -> str:
    return f"{a}:{b}:{window}"


def _segments(values: np.ndarray, window: int) -> np.ndarray:
    """Overlapping 2-window segments: segment b holds rows (b-1)*window .. (b+1)*window - 1.

    Shape (blocks, 2 * window, columns); rows before the start are NaN. Every trailing
    window ending in block b lies inside segment b, so sums over it can be taken from
    prefix sums within the segment, centred on the segment's own mean.
    """
    n_rows, n_cols = values.shape
    blocks = -(-n_rows // window)
    padded = np.full(((blocks + 1) * window, n_cols), np.nan)
    padded[window : window + n_rows] = values
    view = np.lib.stride_tricks.sliding_window_view(padded, 2 * window, axis=0)[::window]
    return np.moveaxis(view, -1, 1)[:blocks]


def _window_sums(prefix: np.ndarray, window: int, n_rows: int) -> np.ndarray:
    """Trailing-window sums from in-segment inclusive prefix sums -> (n_rows, columns)."""
    sums = prefix[:, window:, :] - prefix[:, :window, :]
    return sums.reshape(-1, prefix.shape[2])[:n_rows]


def _trailing_counts(flags: np.ndarray, window: int) -> np.ndarray:
    """Exact integer count of true flags in each trailing window (-1 before a full window)."""
    total = np.cumsum(flags, axis=0, dtype="int64")
    out = np.full(total.shape, -1, dtype="int64")
    if len(total) >= window:
        out[window - 1] = total[window - 1]
        out[window:] = total[window:] - total[:-window]
    return out


def _column_moments(values: np.ndarray, window: int):
    """Per column: segment-centred values and, per trailing window, the centred sum and
    1 / sqrt(centred sum of squares), NaN where the window has a missing value or no
    change at all (decided on exact integer counts, not on a rounding-sized variance)."""
    n_rows = values.shape[0]
    missing = np.isnan(values)
    changed = np.zeros_like(missing)
    changed[1:] = values[1:] != values[:-1]
    usable = (_trailing_counts(missing, window) == 0) & (_trailing_counts(changed, window - 1) > 0)
    usable[: window - 1] = False
    segments = _segments(values, window)
    valid = ~np.isnan(segments)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.where(valid, segments, 0.0).sum(axis=1) / valid.sum(axis=1)
    centred = np.where(valid, segments - np.nan_to_num(centre)[:, None, :], 0.0)
    sums = _window_sums(np.cumsum(centred, axis=1), window, n_rows)
    sums_sq = _window_sums(np.cumsum(centred * centred, axis=1), window, n_rows)
    variance = np.where(usable, sums_sq - sums * sums / window, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        inv_sd = 1.0 / np.sqrt(np.where(variance > 0, variance, np.nan))
    return centred, sums, inv_sd


class _PairKernel:
    """The per-column arrays of one (returns, window), computed once, and the compiled
    per-pair loop run over any stretch of dates into any layout."""

    def __init__(self, values: np.ndarray, window: int):
        centred, sums, inv_sd = _column_moments(values, window)
        self.window, self.n_rows = window, values.shape[0]
        self.centred = np.ascontiguousarray(np.moveaxis(centred, 2, 0))
        self.sums = np.ascontiguousarray(sums.T)
        self.means = self.sums / window
        self.inv_sd = np.ascontiguousarray(inv_sd.T)

    def run(self, pairs, out, offsets, strides, t_start: int = 0, t_stop: int | None = None) -> None:
        from _kernels import segment_cross_corr

        segment_cross_corr(
            self.centred,
            self.sums,
            self.means,
            self.inv_sd,
            np.ascontiguousarray(pairs, dtype="int64"),
            self.window,
            t_start,
            self.n_rows if t_stop is None else t_stop,
            out,
            np.asarray(offsets, dtype="int64"),
            np.asarray(strides, dtype="int64"),
        )


def rolling_corr_pairs(returns: np.ndarray, pairs: np.ndarray, window: int) -> np.ndarray:
    """Rolling Pearson correlation of column pairs: (T x N), (P x 2) -> (P x T).

    Pandas semantics with min_periods = window: a window with any missing value in
    either column is NaN. A window in which a column does not change (zero variance) is
    NaN, never inf; results are clipped to [-1, 1]. Each pair's series is contiguous in
    the result (row p).

    Numerics: sums over each window come from prefix sums inside an overlapping segment
    of two windows, on values centred by that segment's mean. The running totals stay
    the size of two windows (no drift over the whole sample) and the centring keeps the
    one-pass formulas cov = Sxy - Sx*Sy/W, var = Sxx - Sx^2/W free of cancellation; the
    result is within 1e-13 of an exact (extended-precision, two-pass) computation for
    windows of 5 and more, and within ~1e-12 of pandas' online algorithm, whose own
    error is of that size on near-flat series (at window 2, where r is +-1 anyway, a
    nearly constant pair can be off by ~1e-11). Per-column work is numpy, O(T N); the
    per-pair loop, O(T P), is compiled (``_kernels.segment_cross_corr``).
    """
    values = np.asarray(returns, dtype="float64")
    n_rows = values.shape[0]
    pairs = np.asarray(pairs, dtype="int64").reshape(-1, 2)
    if n_rows < window or not len(pairs):
        return np.full((len(pairs), n_rows), np.nan)
    out = np.empty(len(pairs) * n_rows)  # the kernel writes every cell (NaN before a full window)
    _PairKernel(values, window).run(pairs, out, np.arange(len(pairs)) * n_rows, np.ones(len(pairs)))
    return out.reshape(len(pairs), n_rows)


def series_blocks(n_series: int, n_blocks: int) -> list[range]:
    """Split the first-series indices 0..N-2 into contiguous blocks of about equal pair
    counts (series i leads N-1-i pairs), for scatter-gather over a cluster."""
    leads = n_series - 1 - np.arange(max(n_series - 1, 0))
    if n_blocks < 1:
        raise ValueError("n_blocks must be at least 1")
    cumulative = np.cumsum(leads)
    total = cumulative[-1] if len(cumulative) else 0
    cuts = [0]
    for k in range(1, n_blocks):
        cuts.append(max(cuts[-1], int(np.searchsorted(cumulative, total * k / n_blocks)) + 1))
    cuts.append(len(leads))
    return [range(min(a, len(leads)), min(b, len(leads))) for a, b in zip(cuts[:-1], cuts[1:])]


class AllPairsBySeries:
    """Every pair's rolling correlation, grouped by the first series: for each i in
    ``series`` (default: all) a (dates x (N-1-i)) array whose column c is the pair
    (i, i+1+c). The kernel writes straight into that layout, a stretch of at most
    ``rows`` dates at a time (default: all) into a buffer from ``buffer()``; a writer
    alternates two buffers, storing one stretch while the next is computed, so memory
    stays at two stretches whatever the number of dates."""

    def __init__(
        self,
        returns: np.ndarray,
        window: int,
        dtype: str = "float64",
        series: range | None = None,
        rows: int | None = None,
    ):
        values = np.asarray(returns, dtype="float64")
        self.n_rows, n_cols = values.shape
        self.rows = self.n_rows if rows is None else max(1, min(rows, self.n_rows))
        self.dtype = dtype
        series = range(n_cols - 1) if series is None else series
        pairs = all_pairs(list(range(n_cols)))
        self.pairs = pairs[(pairs[:, 0] >= series.start) & (pairs[:, 0] < series.stop)]
        self.widths = n_cols - 1 - np.arange(series.start, series.stop)
        self.block_start = np.concatenate([[0], np.cumsum(self.widths * self.rows)[:-1]]).astype("int64")
        # pair p at date t goes to offsets[p] + (t - t_start) * strides[p] of a buffer
        self.offsets = self.block_start[self.pairs[:, 0] - series.start] + (
            self.pairs[:, 1] - self.pairs[:, 0] - 1
        )
        self.strides = self.widths[self.pairs[:, 0] - series.start]
        self.kernel = _PairKernel(values, window) if self.n_rows >= window and len(self.pairs) else None

    def buffer(self) -> np.ndarray:
        return np.empty(len(self.pairs) * self.rows, dtype=self.dtype)

    def compute(self, out: np.ndarray, t_start: int = 0, t_stop: int | None = None) -> list[np.ndarray]:
        """Dates t_start <= t < t_stop into ``out``; returns the per-series blocks, views
        of ``out`` of t_stop - t_start rows each."""
        t_stop = self.n_rows if t_stop is None else t_stop
        if t_stop - t_start > self.rows:
            raise ValueError(f"a stretch of {t_stop - t_start} dates does not fit a buffer of {self.rows}")
        blocks = [
            out[s : s + w * self.rows].reshape(self.rows, w)[: t_stop - t_start]
            for s, w in zip(self.block_start, self.widths)
        ]
        if self.kernel is None:
            for block in blocks:
                block[:] = np.nan
        else:
            self.kernel.run(
                self.pairs, out, self.offsets - t_start * self.strides, self.strides, t_start, t_stop
            )
        return blocks


def all_pairs_by_series(
    returns: np.ndarray, window: int, dtype: str = "float64", series: range | None = None
) -> list[np.ndarray]:
    """All dates of ``AllPairsBySeries`` at once: the list of (T x (N-1-i)) blocks."""
    result = AllPairsBySeries(returns, window, dtype, series)
    return result.compute(result.buffer())


def rolling_corr_pairs_numpy(
    returns: np.ndarray, pairs: np.ndarray, window: int, chunk: int = 512
) -> np.ndarray:
    """The same computation as ``rolling_corr_pairs`` in plain numpy (benchmark baseline)."""
    values = np.asarray(returns, dtype="float64")
    n_rows = values.shape[0]
    pairs = np.asarray(pairs, dtype="int64").reshape(-1, 2)
    out = np.full((len(pairs), n_rows), np.nan)
    if n_rows < window or not len(pairs):
        return out
    centred, sums, inv_sd = _column_moments(values, window)
    means = sums / window
    for start in range(0, len(pairs), chunk):
        i, j = pairs[start : start + chunk, 0], pairs[start : start + chunk, 1]
        cross = _window_sums(np.cumsum(centred[:, :, i] * centred[:, :, j], axis=1), window, n_rows)
        r = (cross - sums[:, i] * means[:, j]) * inv_sd[:, i] * inv_sd[:, j]
        out[start : start + chunk] = np.clip(r, -1.0, 1.0).T
    return out


def all_pairs(columns: list[str]) -> np.ndarray:
    """Every unordered pair (i < j) of N columns, row by row: N(N-1)/2 x 2."""
    i, j = np.triu_indices(len(columns), k=1)
    return np.column_stack([i, j])


def rolling_pearson(x: pd.Series, y: pd.Series, window: int) -> pd.Series:
    """One pair's rolling Pearson correlation (see ``rolling_corr_pairs``)."""
    values = np.column_stack([x.to_numpy(dtype="float64"), y.to_numpy(dtype="float64")])
    result = rolling_corr_pairs(values, np.array([[0, 1]]), window)[0]
    return pd.Series(result, index=x.index, name=f"{x.name}:{y.name}:{window}")


def fisher_band(corr: pd.Series, window: int, confidence: float) -> tuple[pd.Series, pd.Series]:
    """Confidence band of a Pearson correlation over ``window`` observations (Fisher z).

    z = atanh(r) is about normal with standard error 1/sqrt(n - 3); the band is
    tanh(z -+ q * se) with q the normal quantile of the two-sided confidence.
    """
    q = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    z = np.arctanh(corr.clip(-1 + 1e-15, 1 - 1e-15))
    half_width = q / np.sqrt(window - 3)
    return np.tanh(z - half_width), np.tanh(z + half_width)


def ewma_corr(x: pd.Series, y: pd.Series, halflife: float) -> pd.Series:
    """Exponentially weighted correlation (pandas' ewm, adjusted weights), half-life in
    business days; defined once 2 * halflife observations have been seen."""
    return x.ewm(halflife=halflife, min_periods=int(2 * halflife)).corr(y)


def rolling_spearman(x: pd.Series, y: pd.Series, window: int) -> pd.Series:
    """Spearman rank correlation over each trailing window (average ranks for ties)."""
    from scipy.stats import rankdata

    out = np.full(len(x), np.nan)
    if len(x) >= window:
        xw = np.lib.stride_tricks.sliding_window_view(x.to_numpy(dtype="float64"), window)
        yw = np.lib.stride_tricks.sliding_window_view(y.to_numpy(dtype="float64"), window)
        complete = ~(np.isnan(xw).any(axis=1) | np.isnan(yw).any(axis=1))
        rx = rankdata(xw[complete], axis=1)
        ry = rankdata(yw[complete], axis=1)
        rx -= rx.mean(axis=1, keepdims=True)
        ry -= ry.mean(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (rx * ry).sum(axis=1) / np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
        values = np.full(len(complete), np.nan)
        values[complete] = r
        out[window - 1 :] = values
    return pd.Series(out, index=x.index)


def parse_corr_column(name: str) -> tuple[str, str, str, str | None]:
    """'A:B:60' -> (A, B, '60', None); 'A:B:60:lo95' -> (A, B, '60', 'lo95'); 'A:B:ewm30' -> (A, B, 'ewm30', None)."""
    parts = name.split(":")
    if len(parts) not in (3, 4):
        raise ValueError(f"not a correlation column name: {name!r}")
    return parts[0], parts[1], parts[2], parts[3] if len(parts) == 4 else None


def pearson_columns(corr: pd.DataFrame) -> list[str]:
    """The plain rolling Pearson columns (A:B:W), the ones regimes and the report score."""
    return [c for c in corr.columns if c.count(":") == 2 and c.rsplit(":", 1)[1].isdigit()]


def rolling_corr(
    returns: pd.DataFrame,
    pairs: list[list[str]],
    windows: list[int],
    ewma_halflife: float | None = None,
    spearman: bool = False,
    confidence: float = 0.95,
) -> tuple[pd.DataFrame, list[str]]:
    """All configured pairs x windows; returns (wide frame, skipped pair descriptions).

    Columns per pair: ``A:B:W`` (Pearson), ``A:B:W:lo95`` and ``A:B:W:hi95`` (Fisher-z
    band at ``confidence``), ``A:B:W:spearman`` when asked, ``A:B:ewmH`` for an EWMA
    half-life H.
    """
    columns, skipped = {}, []
    tag = f"{round(confidence * 100):d}"
    for a, b in pairs:
        absent = [s for s in (a, b) if s not in returns.columns]
        if absent:
            skipped.append(f"{a}-{b} (no data for {', '.join(absent)})")
            logger.warning("pair %s-%s skipped: no data for %s", a, b, ", ".join(absent))
            continue
        for window in windows:
            if returns[[a, b]].dropna().shape[0] < window:
                logger.warning(
                    "pair %s-%s: fewer than %d joint returns; window %d is all NaN", a, b, window, window
                )
            name = corr_column(a, b, window)
            columns[name] = rolling_pearson(returns[a], returns[b], window)
            columns[f"{name}:lo{tag}"], columns[f"{name}:hi{tag}"] = fisher_band(
                columns[name], window, confidence
            )
            if spearman:
                columns[f"{name}:spearman"] = rolling_spearman(returns[a], returns[b], window)
        if ewma_halflife:
            columns[f"{a}:{b}:ewm{ewma_halflife:g}"] = ewma_corr(returns[a], returns[b], ewma_halflife)
    frame = pd.DataFrame(columns, index=returns.index)
    frame.index.name = "date"
    return frame, skipped


# ---------------------------------------------------------------- all pairs

ALL_PAIRS_ROW_GROUP = 256  # dates per parquet row group: the latest matrix is a small read


def write_all_pairs(
    returns: pd.DataFrame, window: int, path: str, dtype: str = "float32", block: int = 0, n_blocks: int = 1
) -> int:
    """Every pair's rolling correlation (or one block of them) into a parquet file;
    returns the pair count.

    Layout: one row per date (column ``date``); per series A one column ``A`` of
    fixed-size binary values, each the little-endian float32 (or float64) correlations
    of A with every later series B, in the universe's order (``np.frombuffer`` reads a
    value; the metadata key ``corrflow`` names the series, window and dtype). Row groups
    of about 256 dates (a whole number of windows). One pair (A, B) is one column to read
    (``read_all_pairs(paths, pair=(A, B))``); the latest N x N matrix is in the last
    row group (``read_all_pairs(paths, latest=True)``). N columns rather than
    N(N-1)/2 keep the file's metadata small; binary values rather than parquet lists
    spare the writer a repetition and definition level per number, which took two
    thirds of the write time. With ``n_blocks`` > 1
    the file holds block ``block`` of the first series (``series_blocks``), about
    1/n_blocks of the pairs: the blocks are independent jobs. float32 (the default)
    halves the file; its rounding error is below 6e-8 on values in [-1, 1]; float64
    keeps the computed values exactly.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = list(returns.columns)
    series = series_blocks(len(names), n_blocks)[block]
    # row groups of whole windows (about 256 dates), each computed into one of two
    # buffers on the kernel's threads while the previous one is written: memory stays at
    # two row groups, and the buffers are reused, not faulted in afresh per date
    rows = window * max(1, round(ALL_PAIRS_ROW_GROUP / window))
    result = AllPairsBySeries(returns.to_numpy(dtype="float64"), window, dtype, series, rows)
    dates = pa.array(returns.index.to_numpy(dtype="datetime64[ms]"))
    metadata = {
        "window": window,
        "series": names,
        "dtype": dtype,
        "block": block,
        "n_blocks": n_blocks,
        "layout": (
            "column A: fixed-size binary, the little-endian `dtype` values of corr(A, B) "
            "for the series B after A, in `series` order"
        ),
    }
    columns = ["date", *[names[i] for i in series]]
    little = np.dtype(dtype).newbyteorder("<")  # a no-op view on little-endian machines
    value_types = [pa.binary(int(width) * little.itemsize) for width in result.widths]

    def row_group(t0: int, blocks: list[np.ndarray]):
        t1 = t0 + (len(blocks[0]) if blocks else 0)
        arrays = [dates[t0:t1]] + [
            pa.Array.from_buffers(
                value_type, t1 - t0, [None, pa.py_buffer(np.ascontiguousarray(values, little))]
            )
            for value_type, values in zip(value_types, blocks)
        ]
        return pa.Table.from_arrays(arrays, names=columns)

    stretches = [(t0, min(t0 + rows, result.n_rows)) for t0 in range(0, result.n_rows, rows)]
    buffers = [result.buffer() for _ in range(min(2, len(stretches)))]
    empty = [np.empty((0, int(width)), dtype) for width in result.widths]
    schema = row_group(0, empty).schema.with_metadata({b"corrflow": json.dumps(metadata).encode()})
    with atomic_path(path) as tmp, ThreadPoolExecutor(max_workers=1) as compute:
        # statistics and dictionaries buy nothing on correlations and cost most of the time
        writer = pq.ParquetWriter(
            tmp, schema, compression="none", use_dictionary=False, write_statistics=["date"]
        )
        pending = compute.submit(result.compute, buffers[0], *stretches[0]) if stretches else None
        for k, (t0, _) in enumerate(stretches):
            blocks = pending.result()
            if k + 1 < len(stretches):
                pending = compute.submit(result.compute, buffers[(k + 1) % 2], *stretches[k + 1])
            writer.write_table(row_group(t0, blocks), row_group_size=rows)
        if not stretches:
            writer.write_table(row_group(0, empty))
        writer.close()
    return len(result.pairs)


def read_all_pairs(paths, pair: tuple[str, str] | None = None, latest: bool = False):
    """A slice of an all-pairs result (one file, the block files of one run, or their
    ``manifest.json``): one pair's history (Series), or the latest N x N matrix
    (DataFrame, its date in ``attrs["date"]``): of the dates in the last row group, the
    last on which the most pairs have a value. Only the column(s) or the last row group
    needed are read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(paths, (str, os.PathLike)) and str(paths).endswith(".json"):
        manifest = json.loads(Path(paths).read_text(encoding="utf-8"))
        paths = [Path(paths).parent / entry["file"] for entry in manifest["files"]]
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    handles = [pq.ParquetFile(p) for p in paths]
    for path, handle in zip(paths, handles):
        schema = handle.schema_arrow
        if b"corrflow" not in (schema.metadata or {}) or not all(
            pa.types.is_fixed_size_binary(schema.field(name).type) for name in schema.names[1:]
        ):
            raise InputDataError(
                f"{path}: not an all-pairs result of this version (no corrflow metadata, or columns "
                "that are not fixed-size binary); write it again with rolling_corr.py --all-pairs"
            )
    metadata = json.loads(handles[0].schema_arrow.metadata[b"corrflow"])
    names, value_type = metadata["series"], np.dtype(metadata["dtype"]).newbyteorder("<")

    def values_of(column) -> np.ndarray:
        """A fixed-size binary column as a (dates x later series) float array."""
        array = column.combine_chunks()
        width = array.type.byte_width
        data = array.buffers()[1][array.offset * width : (array.offset + len(array)) * width]
        return np.frombuffer(data, value_type).reshape(len(array), width // value_type.itemsize)

    position = {name: k for k, name in enumerate(names)}
    if pair is not None:
        unknown = [s for s in pair if s not in position]
        if unknown:
            raise InputDataError(f"all-pairs result: no series {unknown}; it holds {', '.join(names)}")
        a, b = sorted(pair, key=position.get)
        handle = next(h for h in handles if a in h.schema_arrow.names)
        table = handle.read(columns=["date", a])
        values = values_of(table.column(a))
        dates = pd.DatetimeIndex(table.column("date").to_numpy(), name="date")
        return pd.Series(values[:, position[b] - position[a] - 1].copy(), index=dates, name=f"{a}:{b}")
    if latest:
        groups = [handle.read_row_group(handle.num_row_groups - 1) for handle in handles]
        by_series = {a: values_of(group.column(a)) for group in groups for a in group.column_names[1:]}
        counts = sum(np.isfinite(values).sum(axis=1) for values in by_series.values())
        # the last date with the most pairs: a series whose data ends a few days early
        # would otherwise leave every pair of it blank on the very last date
        row = len(counts) - 1 - int(np.argmax(counts[::-1])) if by_series else -1
        matrix = np.eye(len(names))
        for a, values in by_series.items():
            k = position[a]
            matrix[k, k + 1 :] = matrix[k + 1 :, k] = values[row]
        frame = pd.DataFrame(matrix, index=names, columns=names)
        frame.attrs["date"] = str(pd.Timestamp(groups[0].column("date")[row].as_py()).date())
        return frame
    raise ValueError("read_all_pairs: give pair=(A, B) or latest=True")


def returns_from_features(features: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in features.columns if c.startswith("ret:") and c.count(":") == 1]
    return features[cols].rename(columns=lambda c: c.split(":", 1)[1])


def returns_from_prices(
    clean: pd.DataFrame, metadata: dict, columns: list[str] | None, origin: str
) -> pd.DataFrame:
    """Log returns (bond returns for yields, as in features) of the named columns, or all."""
    from features import series_log_returns

    series_meta = metadata.get("series", {})
    out = {}
    for column in columns if columns is not None else list(clean.columns):
        if column not in clean.columns:
            status = series_meta.get(column, {}).get("status")
            why = f"ingest marked it {status}" if status else "it is not in the universe"
            raise InputDataError(
                f"{origin}: no column {column!r} ({why}); available: {', '.join(clean.columns)}"
            )
        out[column] = series_log_returns(clean[column], series_meta.get(column, {"kind": "price"}))
    return pd.DataFrame(out, index=clean.index)


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli_parser(__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--prices", help="clean.parquet (levels); returns are computed here")
    source.add_argument("--features", help="features.parquet (ret:* columns)")
    parser.add_argument("--eq-col", help="with --prices: the equity column")
    parser.add_argument("--bond-col", help="with --prices: the bond (or other) column")
    parser.add_argument("--pairs", type=load_json_arg, help='JSON list of pairs, e.g. [["SPY","TLT"]]')
    parser.add_argument(
        "--all-pairs",
        type=parse_bool,
        nargs="?",
        const=True,
        default=False,
        help="every pair of the universe, to parquet",
    )
    parser.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        default="float32",
        help="with --all-pairs: stored precision (float32: error below 6e-8)",
    )
    parser.add_argument(
        "--block", type=int, default=0, help="with --all-pairs: which block of pairs (0-based)"
    )
    parser.add_argument(
        "--n-blocks", type=int, default=1, help="with --all-pairs: blocks the pairs are split into"
    )
    parser.add_argument("--window", type=int, help="one window (same as --windows W)")
    parser.add_argument("--windows", type=int, nargs="+", help="windows in business days")
    parser.add_argument("--ewma-halflife", type=float, default=None, help="also an EWMA correlation")
    parser.add_argument("--spearman", type=parse_bool, default=False, help="also rolling Spearman")
    parser.add_argument("--confidence", type=float, default=0.95, help="Fisher-z band level")
    parser.add_argument("--out", required=True, help="output CSV (parquet with --all-pairs)")
    args = parser.parse_args(argv)
    args.windows = args.windows or ([args.window] if args.window else None)
    if not args.windows:
        parser.error("give --window W or --windows W [W ...]")
    if args.eq_col or args.bond_col:
        if not (args.eq_col and args.bond_col):
            parser.error("--eq-col and --bond-col go together")
        args.pairs = [[args.eq_col, args.bond_col]]
    if args.all_pairs and (args.pairs or len(args.windows) > 1):
        parser.error("--all-pairs takes one --window and no pairs")
    if not args.pairs and not args.all_pairs:
        parser.error("give --eq-col and --bond-col, --pairs, or --all-pairs")
    if any(w < 2 for w in args.windows):
        parser.error("windows must be at least 2")
    if not 0 < args.confidence < 1:
        parser.error("--confidence must be between 0 and 1")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    configure_logging(args.log)
    limit_threads(args.threads)
    if args.prices:
        clean, metadata = read_parquet(args.prices)
        needed = None if args.all_pairs else list(dict.fromkeys(s for pair in args.pairs for s in pair))
        returns = returns_from_prices(clean, metadata, needed, args.prices)
    else:
        features, _ = read_parquet(args.features)
        returns = returns_from_features(features)
    longest = max(args.windows)
    if len(returns) < longest:
        raise InputDataError(
            f"rolling_corr: window {longest} is longer than the data ({len(returns)} business days); "
            f"shorten config key `correlation.windows` or widen start/end"
        )
    if args.all_pairs:
        if not 0 <= args.block < args.n_blocks:
            raise InputDataError(f"rolling_corr: --block {args.block} is not in 0..{args.n_blocks - 1}")
        count = write_all_pairs(returns, args.windows[0], args.out, args.dtype, args.block, args.n_blocks)
        logger.info(
            "wrote %s: %d dates x %d pairs (window %d)", args.out, len(returns), count, args.windows[0]
        )
        return
    corr, skipped = rolling_corr(
        returns, args.pairs, args.windows, args.ewma_halflife, args.spearman, args.confidence
    )
    write_csv_atomic(corr, args.out, date_format="%Y-%m-%d")
    logger.info(
        "wrote %s: %d rows, columns %s; skipped %s",
        args.out,
        len(corr),
        list(corr.columns),
        skipped or "none",
    )


if __name__ == "__main__":
    run_script(main, globals())
