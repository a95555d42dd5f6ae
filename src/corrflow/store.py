"""The all-pairs result on disk: writer (``write_all_pairs``) and reader (``read_all_pairs``)
of the parquet layout, one file per block of first series, listed by a manifest."""

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from corrflow.blocks import ALL_PAIRS_ROW_GROUP, series_blocks
from corrflow.contracts import METADATA_KEY
from corrflow.io import InputDataError, atomic_path
from corrflow.rolling import AllPairsBySeries, JointDayPanel

STORE_COLUMNS = ["date", "a", "b", "corr"]


def write_all_pairs(
    levels: pd.DataFrame,
    metadata: dict,
    window: int,
    path: str,
    dtype: str = "float32",
    block: int = 0,
    n_blocks: int = 1,
) -> int:
    """Every pair's rolling correlation (or one block of them) into a parquet file;
    returns the pair count. Each pair on its own joint days, from clean levels and
    their metadata (``corrflow.rolling.JointDayPanel``): what rolling_corr.csv gives the
    pair configured, on the levels' dates (NaN on the days that are not the pair's).

    Layout, readable by any parquet reader without corrflow: long, one row per date and
    pair, columns ``date`` (timestamp), ``a`` and ``b`` (the pair's series, a before b in
    the universe's order; dictionary-encoded strings) and ``corr`` (float32, or float64
    with ``dtype``), sorted by date and then pair, in row groups of about 256 dates (a
    whole number of windows). So ``pd.read_parquet(path, filters=[("a", "==", "SPY"),
    ("b", "==", "TLT")])``, DuckDB's ``SELECT date, corr FROM 'block.parquet' WHERE a =
    'SPY' AND b = 'TLT'`` or polars give floats with dates and series names; the latest
    matrix is in the last row group (``read_all_pairs(paths, latest=True)``). The
    metadata key ``corrflow`` names the series, window, dtype and block. float32 (the
    default) halves the file; its rounding error is below 6e-8 on values in [-1, 1].
    With ``n_blocks`` > 1 the file holds block ``block`` of the first series
    (``series_blocks``), about 1/n_blocks of the pairs: the blocks are independent jobs.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = list(levels.columns)
    series = series_blocks(len(names), n_blocks)[block]
    # row groups of whole windows (about 256 dates), each computed into one of two
    # buffers on the kernel's thread while the previous one is written: memory stays at
    # two row groups, and the buffers are reused, not faulted in afresh per date
    rows = window * max(1, round(ALL_PAIRS_ROW_GROUP / window))
    result = AllPairsBySeries(JointDayPanel(levels, metadata), window, dtype, series, rows)
    dates = levels.index.to_numpy(dtype="datetime64[ms]")
    metadata_out = {
        "window": window,
        "series": names,
        "dtype": dtype,
        "block": block,
        "n_blocks": n_blocks,
        "layout": "long: date, a, b, corr; a before b in `series` order; sorted by date, then pair",
    }
    dictionary = pa.array(names, type=pa.string())
    # the block's pairs in the kernel's order (by first series, then second)
    pair_a = result.pairs[:, 0].astype("int32")
    pair_b = result.pairs[:, 1].astype("int32")
    value_type = pa.float32() if dtype == "float32" else pa.float64()
    schema = pa.schema(
        [
            ("date", pa.timestamp("ms")),
            ("a", pa.dictionary(pa.int32(), pa.string())),
            ("b", pa.dictionary(pa.int32(), pa.string())),
            ("corr", value_type),
        ]
    ).with_metadata({METADATA_KEY: json.dumps(metadata_out).encode()})

    def row_group(t0: int, blocks: list[np.ndarray]):
        t1 = t0 + (len(blocks[0]) if blocks else 0)
        values = np.concatenate(blocks, axis=1) if blocks else np.empty((0, 0), dtype)  # dates x pairs
        n_dates, n_pairs = t1 - t0, len(pair_a)
        return pa.Table.from_arrays(
            [
                pa.array(np.repeat(dates[t0:t1], n_pairs)),
                pa.DictionaryArray.from_arrays(pa.array(np.tile(pair_a, n_dates)), dictionary),
                pa.DictionaryArray.from_arrays(pa.array(np.tile(pair_b, n_dates)), dictionary),
                pa.array(values.reshape(-1), type=value_type, from_pandas=False),
            ],
            schema=schema,
        )

    stretches = [(t0, min(t0 + rows, result.n_rows)) for t0 in range(0, result.n_rows, rows)]
    buffers = [result.buffer() for _ in range(min(2, len(stretches)))]
    with atomic_path(path) as tmp, ThreadPoolExecutor(max_workers=1) as compute:
        # statistics of the values buy nothing; the date's let a reader skip row groups
        writer = pq.ParquetWriter(tmp, schema, compression="none", write_statistics=["date"])
        pending = compute.submit(result.compute, buffers[0], *stretches[0]) if stretches else None
        for k, (t0, _) in enumerate(stretches):
            blocks = pending.result()
            if k + 1 < len(stretches):
                pending = compute.submit(result.compute, buffers[(k + 1) % 2], *stretches[k + 1])
            writer.write_table(row_group(t0, blocks), row_group_size=(rows * len(pair_a)) or 1)
        if not stretches:
            writer.write_table(schema.empty_table())
        writer.close()
    return len(result.pairs)


def read_all_pairs(paths, pair: tuple[str, str] | None = None, latest: bool = False):
    """A slice of an all-pairs result (one file, the block files of one run, or their
    ``manifest.json``): one pair's history (Series named ``A:B`` on every date of the
    store), or the latest N x N matrix (DataFrame, its date in ``attrs["date"]``): of
    the dates in the last row group, the last on which the most pairs have a value."""
    import pyarrow.parquet as pq

    if isinstance(paths, (str, os.PathLike)) and str(paths).endswith(".json"):
        manifest = json.loads(Path(paths).read_text(encoding="utf-8"))
        paths = [Path(paths).parent / entry["file"] for entry in manifest["files"]]
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    handles = [pq.ParquetFile(p) for p in paths]
    for path, handle in zip(paths, handles, strict=False):
        schema = handle.schema_arrow
        if METADATA_KEY not in (schema.metadata or {}) or schema.names != STORE_COLUMNS:
            raise InputDataError(
                f"{path}: not an all-pairs result of this version (no corrflow metadata, or columns other "
                f"than {', '.join(STORE_COLUMNS)}); write it again with `corrflow all-pairs-block`"
            )
    metadata = json.loads(handles[0].schema_arrow.metadata[METADATA_KEY])
    names = metadata["series"]
    position = {name: k for k, name in enumerate(names)}
    if pair is not None:
        unknown = [s for s in pair if s not in position]
        if unknown:
            raise InputDataError(f"all-pairs result: no series {unknown}; it holds {', '.join(names)}")
        a, b = sorted(pair, key=position.get)
        first = [k for k, handle in enumerate(handles) if a in block_first_series(handle, names)]
        table = pq.read_table(
            paths[first[0]], columns=["date", "corr"], filters=[("a", "==", a), ("b", "==", b)]
        )
        dates = pd.DatetimeIndex(table.column("date").to_numpy(), name="date").astype("datetime64[ns]")
        values = table.column("corr").to_numpy(zero_copy_only=False).astype("float64", copy=False)
        return pd.Series(values, index=dates, name=f"{a}:{b}")
    if latest:
        groups = [h.read_row_group(h.num_row_groups - 1).to_pandas() for h in handles]
        frame = pd.concat(groups, ignore_index=True)
        counts = frame.groupby("date", sort=True)["corr"].count()
        # the last date with the most pairs: a series whose data ends a few days early
        # would otherwise leave every pair of it blank on the very last date
        day = counts.index[len(counts) - 1 - int(np.argmax(counts.to_numpy()[::-1]))]
        rows = frame[frame["date"] == day]
        matrix = np.eye(len(names))
        i = rows["a"].map(position).to_numpy()
        j = rows["b"].map(position).to_numpy()
        values = rows["corr"].to_numpy(dtype="float64")
        matrix[i, j] = matrix[j, i] = values
        out = pd.DataFrame(matrix, index=names, columns=names)
        out.attrs["date"] = str(pd.Timestamp(day).date())
        return out
    raise ValueError("read_all_pairs: give pair=(A, B) or latest=True")


def block_first_series(handle, names: list[str]) -> list[str]:
    """The first series of a block file's pairs (from its metadata: block, n_blocks)."""
    meta = json.loads(handle.schema_arrow.metadata[METADATA_KEY])
    return [names[i] for i in series_blocks(len(names), meta["n_blocks"])[meta["block"]]]
