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
    their metadata (``_rolling.JointDayPanel``): what rolling_corr.csv gives the pair
    configured, on the levels' dates (NaN on the days that are not the pair's).

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

    names = list(levels.columns)
    series = series_blocks(len(names), n_blocks)[block]
    # row groups of whole windows (about 256 dates), each computed into one of two
    # buffers on the kernel's threads while the previous one is written: memory stays at
    # two row groups, and the buffers are reused, not faulted in afresh per date
    rows = window * max(1, round(ALL_PAIRS_ROW_GROUP / window))
    result = AllPairsBySeries(JointDayPanel(levels, metadata), window, dtype, series, rows)
    dates = pa.array(levels.index.to_numpy(dtype="datetime64[ms]"))
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
            for value_type, values in zip(value_types, blocks, strict=False)
        ]
        return pa.Table.from_arrays(arrays, names=columns)

    stretches = [(t0, min(t0 + rows, result.n_rows)) for t0 in range(0, result.n_rows, rows)]
    buffers = [result.buffer() for _ in range(min(2, len(stretches)))]
    empty = [np.empty((0, int(width)), dtype) for width in result.widths]
    schema = row_group(0, empty).schema.with_metadata({METADATA_KEY: json.dumps(metadata).encode()})
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
    for path, handle in zip(paths, handles, strict=False):
        schema = handle.schema_arrow
        if METADATA_KEY not in (schema.metadata or {}) or not all(
            pa.types.is_fixed_size_binary(schema.field(name).type) for name in schema.names[1:]
        ):
            raise InputDataError(
                f"{path}: not an all-pairs result of this version (no corrflow metadata, or columns "
                "that are not fixed-size binary); write it again with all_pairs_block.py"
            )
    metadata = json.loads(handles[0].schema_arrow.metadata[METADATA_KEY])
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
