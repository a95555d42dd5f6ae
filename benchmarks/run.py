"""Benchmarks: all-pairs rolling correlation against pandas, the CLI end to end, and
whole-workflow timings. One command; results as markdown tables.

    python benchmarks/run.py                 # kernels (N = 50, 200) and the all-pairs CLI
    python benchmarks/run.py --workflow      # + default run cold / no-op, 200-series universe
    python benchmarks/run.py --quick         # tiny sizes, seconds (the test suite runs this)
    python benchmarks/run.py --cli           # pandas' N = 200 figure and the all-pairs CLI only (~1 min)
    python benchmarks/run.py --out benchmarks/results.md

Each kernel row: implementation, N series, window, seconds (best of --repeat), speed-up
against pandas ``df.rolling(w).corr()`` measured in the same run, and max abs error
against pandas where pandas is finite (NaN must match NaN). "fill" is the time to
merely write the (pairs x T) float64 output array, the floor any implementation pays.
"""

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # the package, installed or not

from corrflow.analytics.correlation.rolling import (  # noqa: E402
    _column_moments,
    _window_sums,
    all_pairs,
    rolling_corr_pairs,
)
from corrflow.data.contracts import write_parquet  # noqa: E402


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


def random_returns(n_rows: int, n_series: int, seed: int = 0) -> np.ndarray:
    """Correlated returns with a few gaps and a flat stretch, like real data."""
    rng = np.random.default_rng(seed)
    common = rng.normal(size=(n_rows, 1))
    values = 0.01 * (0.5 * common + rng.normal(size=(n_rows, n_series)))
    values[rng.integers(0, n_rows, n_series // 5 + 1), rng.integers(0, n_series, n_series // 5 + 1)] = np.nan
    values[n_rows // 3 : n_rows // 3 + 30, 0] = 0.0
    return values


def best_of(function, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        result = None
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), result


def pandas_pairs(values: np.ndarray, window: int, pairs: np.ndarray) -> np.ndarray:
    frame = pd.DataFrame(values)
    matrix = frame.rolling(window).corr().to_numpy().reshape(len(frame), values.shape[1], values.shape[1])
    return matrix[:, pairs[:, 0], pairs[:, 1]].T


def max_error(ours: np.ndarray, reference: np.ndarray) -> float:
    finite = np.isfinite(reference)
    if not np.isnan(ours[~finite]).all():
        return float("inf")
    return float(np.max(np.abs(ours[finite] - reference[finite]))) if finite.any() else 0.0


def kernel_table(sizes, windows, n_rows: int, repeat: int, pandas_limit: int) -> list[dict]:
    import numba

    rows = []
    rolling_corr_pairs(random_returns(100, 3), all_pairs([0, 1, 2]), 10)  # compile or load the cached kernel
    threads = numba.config.NUMBA_NUM_THREADS
    for n_series in sizes:
        values = random_returns(n_rows, n_series)
        pairs = all_pairs(list(range(n_series)))
        fill_s, _ = best_of(partial(np.full, (len(pairs), n_rows), 0.5), repeat)
        for window in windows:
            if n_series > pandas_limit and window != 60:
                continue
            pandas_s, reference = best_of(
                partial(pandas_pairs, values, window, pairs), 1 if n_series > 50 else repeat
            )
            rows.append(
                {
                    "implementation": "pandas rolling().corr()",
                    "N": n_series,
                    "window": window,
                    "seconds": pandas_s,
                    "speedup": 1.0,
                    "max_error": 0.0,
                }
            )
            candidates = [
                ("numpy (segment sums)", partial(rolling_corr_pairs_numpy, values, pairs, window), None)
            ]
            candidates += [
                (
                    f"numba, {k} thread{'s' if k > 1 else ''}",
                    partial(rolling_corr_pairs, values, pairs, window),
                    k,
                )
                for k in sorted({1, threads})
            ]
            for name, function, n_threads in candidates:
                if n_threads:
                    numba.set_num_threads(n_threads)
                seconds, ours = best_of(function, repeat)
                rows.append(
                    {
                        "implementation": name,
                        "N": n_series,
                        "window": window,
                        "seconds": seconds,
                        "speedup": pandas_s / seconds,
                        "max_error": max_error(ours, reference),
                    }
                )
            numba.set_num_threads(threads)
            rows.append(
                {
                    "implementation": "fill the output array",
                    "N": n_series,
                    "window": window,
                    "seconds": fill_s,
                    "speedup": pandas_s / fill_s,
                    "max_error": None,
                }
            )
    return rows


MIXED_CALENDARS = ("NYSE", "XTKS", "24/7", "SIFMA_US")


def universe_levels(n_series: int, n_rows: int, calendars=("NYSE",), seed: int = 1, holes: int = 5):
    """Clean levels and their metadata as clean.parquet holds them: ``n_series`` random
    walks spread over ``calendars`` (each on its own sessions, NaN on the others), over
    the first ``n_rows`` NYSE sessions from 2000, ``holes`` missing days in every series
    (each such series' pairs take the general joint-day walk, see ``JointDayPlan``)."""
    from corrflow.data.calendars import closed_days, sessions

    rng = np.random.default_rng(seed)
    span = sessions("NYSE", "2000-01-03", "2100-01-01")[:n_rows]
    own = {name: sessions(name, span[0], span[-1]) for name in calendars}
    days = own[calendars[0]]
    for name in calendars[1:]:
        days = days.union(own[name])
    days.name = "date"
    names = [f"S{k:03d}" for k in range(n_series)]
    calendar_of = {name: calendars[k % len(calendars)] for k, name in enumerate(names)}
    values = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (len(days), n_series)), axis=0))
    for k, name in enumerate(names):
        values[~days.isin(own[calendar_of[name]]), k] = np.nan
        values[rng.choice(len(days), holes, replace=False), k] = np.nan  # missing days of its own
    metadata = {
        "series": {name: {"kind": "price", "calendar": calendar_of[name]} for name in names},
        "calendars": {name: closed_days(name, days) for name in calendars},
        "calendar": {"max_gap_days": 3},
    }
    return pd.DataFrame(values, index=days, columns=names), metadata


def plain_streaming_kernel():
    """The plain streaming kernel, the yardstick of the joint-day kernel (issue 28): every
    pair's five running sums moved one date at a time over one common grid of returns,
    vectorised across pairs, written date-major as the store's stretches; no NaN
    handling, no re-centring, no calendars. Compiled on first use (not cached)."""
    import numba

    @numba.njit(parallel=True, nogil=True)
    def streaming(returns, left, right, window, t_start, t_stop, out, sums):
        n_pairs = left.shape[0]
        for chunk in numba.prange((n_pairs + 511) // 512):
            p0 = chunk * 512
            p1 = min(n_pairs, p0 + 512)
            for t in range(t_start, t_stop):
                row = out[(t - t_start) * n_pairs : (t - t_start + 1) * n_pairs]
                for p in range(p0, p1):
                    x = returns[t, left[p]]
                    y = returns[t, right[p]]
                    sums[0, p] += x
                    sums[1, p] += y
                    sums[2, p] += x * x
                    sums[3, p] += y * y
                    sums[4, p] += x * y
                    if t >= window:
                        x = returns[t - window, left[p]]
                        y = returns[t - window, right[p]]
                        sums[0, p] -= x
                        sums[1, p] -= y
                        sums[2, p] -= x * x
                        sums[3, p] -= y * y
                        sums[4, p] -= x * y
                    sx = sums[0, p]
                    sy = sums[1, p]
                    vx = sums[2, p] - sx * sx / window
                    vy = sums[3, p] - sy * sy / window
                    row[p] = (sums[4, p] - sx * sy / window) / np.sqrt(vx * vy)

    return streaming


def joint_day_rows(n_series: int, n_rows: int, repeat: int) -> list[dict]:
    """The joint-day kernel (every pair on its own days, as the all-pairs store computes
    it, in stretches of 240 dates into a reused float32 buffer) beside, in the same run,
    the plain streaming kernel and merely filling that buffer (the memory floor): on one
    calendar (every pair's legs on the same days: the lock-step path), on four mixed
    ones (NYSE, Tokyo, 24/7, US bonds: lock-step per pair of calendars) and on one
    calendar with 5 missing days of its own in every series (every pair on the general
    walk)."""
    from corrflow.analytics.correlation.rolling import AllPairsBySeries, JointDayPanel, all_pairs
    from corrflow.analytics.panel import CleanPanel

    stretch = 240
    rows, timings = [], {}
    levels, _ = universe_levels(n_series, n_rows, holes=0)
    returns = np.ascontiguousarray(np.diff(np.log(levels.to_numpy()), axis=0))
    pairs = all_pairs(list(range(n_series))).astype("int32")
    left, right = np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1])
    streaming = plain_streaming_kernel()
    out = np.empty(stretch * len(pairs), dtype="float32")

    def plain():
        sums = np.zeros((5, len(pairs)))
        for t0 in range(0, len(returns), stretch):
            streaming(returns, left, right, 60, t0, min(t0 + stretch, len(returns)), out, sums)

    def fill():
        for _ in range(0, len(returns), stretch):
            out.fill(0.5)

    plain()  # compile
    for name, call in (("plain streaming kernel", plain), ("fill", fill)):
        timings[name], _ = best_of(call, repeat)
    cases = (
        ("single", ("NYSE",), 0, "one calendar, no holes of a series' own (lock-step)"),
        (
            "mixed",
            MIXED_CALENDARS,
            0,
            f"calendars {', '.join(MIXED_CALENDARS)} (lock-step per pair of calendars)",
        ),
        ("holes", ("NYSE",), 5, "one calendar, 5 missing days of its own in every series (the general walk)"),
    )
    for key, calendars, holes, what in cases:
        levels, metadata = universe_levels(n_series, n_rows, calendars, holes=holes)

        def compute(levels=levels, metadata=metadata):
            result = AllPairsBySeries(
                JointDayPanel(CleanPanel(levels, metadata)), 60, "float32", rows=stretch, date_major=True
            )
            buffer = result.buffer()
            for t0 in range(0, result.n_rows, stretch):
                result.compute(buffer, t0, min(t0 + stretch, result.n_rows))

        compute()  # compile once
        timings[key], _ = best_of(compute, repeat)
        timings[key + " dates"] = len(levels)
        rows.append(
            {
                "step": f"joint-day kernel, N = {n_series}, {len(levels)} dates, {what}",
                "seconds": timings[key],
                "note": (
                    f"{timings[key] / timings['plain streaming kernel']:.2f}x the plain streaming kernel, "
                    f"{timings[key] / timings['fill']:.1f}x the fill, "
                    f"{timings[key] / timings['single']:.2f}x the single-calendar run"
                ),
            }
        )
    rows += [
        {
            "step": f"plain streaming kernel (running sums per pair), N = {n_series}, {n_rows - 1} dates",
            "seconds": timings["plain streaming kernel"],
            "note": "the yardstick: no NaN, no calendars, no re-centring",
        },
        {
            "step": f"fill the kernels' float32 stretch buffer, N = {n_series}, {n_rows} dates",
            "seconds": timings["fill"],
            "note": "the memory floor",
        },
    ]
    return rows


def write_all_pairs_binary(levels, metadata, window: int, path: str, dtype: str = "float32") -> None:
    """The store's earlier layout (until the package move), kept here as the baseline of
    the layout benchmark: one row per date, per series A a fixed-size binary column of
    corr(A, B) for the later series B. Compact and quick to write, but only corrflow's
    own reader turned the bytes into floats."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from corrflow.analytics.correlation.rolling import AllPairsBySeries, JointDayPanel
    from corrflow.analytics.panel import CleanPanel
    from corrflow.store.blocks import ALL_PAIRS_ROW_GROUP

    names = list(levels.columns)
    rows = window * max(1, round(ALL_PAIRS_ROW_GROUP / window))
    result = AllPairsBySeries(JointDayPanel(CleanPanel(levels, metadata)), window, dtype, None, rows)
    dates = pa.array(levels.index.to_numpy(dtype="datetime64[ms]"))
    value_types = [pa.binary(int(width) * np.dtype(dtype).itemsize) for width in result.widths]
    writer, buffer = None, result.buffer()
    for t0 in range(0, result.n_rows, rows):
        blocks = result.compute(buffer, t0, min(t0 + rows, result.n_rows))
        arrays = [dates[t0 : t0 + len(blocks[0])]] + [
            pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(np.ascontiguousarray(values))])
            for kind, values in zip(value_types, blocks, strict=False)
        ]
        table = pa.Table.from_arrays(arrays, names=["date", *names[:-1]])
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, compression="none", use_dictionary=False)
        writer.write_table(table, row_group_size=rows)
    writer.close()


def universe_summary_rows(n_series: int, n_rows: int, repeat: int, pandas_limit: int) -> list[dict]:
    """The heatmap and clustering of a large universe: every pair's last-year correlation
    (the clustering's distances; the kernel stops after 252 joint days), every pair's
    full-period and last-year correlation, and pandas' ``.corr()`` (one common grid,
    pairwise complete) on the same returns as a yardstick."""
    from corrflow.analytics.correlation.universe import (
        cluster_representatives,
        recent_correlation_distances,
        universe_correlations,
    )

    levels, metadata = universe_levels(n_series, n_rows, MIXED_CALENDARS)
    names = list(levels.columns)
    as_of = str(levels.index[-1].date())
    recent_correlation_distances(levels.iloc[:, :4], metadata, names[:4], as_of)  # compile
    universe_correlations(levels.iloc[:, :4], metadata, names[:4], as_of)
    pairs = n_series * (n_series - 1) // 2
    rows = []
    for what, call in (
        (
            "last-year correlation of every pair (clustering distances)",
            lambda: recent_correlation_distances(levels, metadata, names, as_of),
        ),
        (
            "clusters: distances, Ward linkage, 40 representatives",
            lambda: cluster_representatives(levels, metadata, names, as_of, 40),
        ),
        (
            "full-period and last-year correlation of every pair (heatmap of all)",
            lambda: universe_correlations(levels, metadata, names, as_of),
        ),
    ):
        seconds, _ = best_of(call, repeat)
        rows.append(
            {
                "step": f"universe summary, N = {n_series} ({pairs:,} pairs), {len(levels)} dates: {what}",
                "seconds": seconds,
                "note": "each pair on its own joint days",
            }
        )
    small = levels.iloc[:, : min(n_series, pandas_limit * 10)]
    seconds, _ = best_of(lambda: np.log(small).diff().corr(), repeat)
    rows.append(
        {
            "step": f"pandas DataFrame.corr(), N = {small.shape[1]}, {len(small)} dates, one common grid",
            "seconds": seconds,
            "note": "the yardstick of the issue (1.24 s at N = 500, T = 2,500); O(N^2 T)",
        }
    )
    return rows


def store_layout_rows(n_series: int, n_rows: int, repeat: int, workdir: Path) -> list[dict]:
    """The all-pairs store's layout: the long table any parquet reader understands
    (date, a, b, corr) against the earlier binary columns, compute and write in one
    process (the kernel's time is in both)."""
    from corrflow.store.all_pairs import write_all_pairs

    levels, metadata = universe_levels(n_series, n_rows, holes=0)
    out = workdir / "layout.parquet"
    rows = []
    for what, write in (
        ("binary columns (earlier layout, corrflow's reader only)", write_all_pairs_binary),
        ("long table date, a, b, corr (any parquet reader)", write_all_pairs),
    ):
        write(levels, metadata, 60, str(out), "float32")  # compile, warm the page cache
        seconds, _ = best_of(lambda write=write: write(levels, metadata, 60, str(out), "float32"), repeat)
        rows.append(
            {
                "step": f"all-pairs store, N = {n_series}, T = {n_rows}, float32: {what}",
                "seconds": seconds,
                "note": f"{out.stat().st_size / 1e6:.0f} MB",
            }
        )
    return rows


def cli_rows(
    n_series: int,
    n_rows: int,
    workdir: Path,
    pandas_seconds: float | None,
    repeat: int,
    calendars=("NYSE",),
    dates: str = "every_day",
    timed: bool = True,
) -> list[dict]:
    """The all-pairs CLI, whole process, writing new files (as in a workflow run, where
    Snakemake removes a job's outputs before it starts) and replacing existing ones, in
    two part files as the workflow's rule writes a block (encoded side by side);
    ``dates``: every day's matrix, or the month-end matrices (``all_pairs.dates``)."""
    levels, metadata = universe_levels(n_series, n_rows, calendars, holes=0)
    prices = workdir / f"prices{n_series}.parquet"
    write_parquet(levels, prices, metadata)
    parts = [workdir / "all.part1.parquet", workdir / "all.part2.parquet"]
    command = [
        "/usr/bin/time",
        "-f",
        "%M",
        sys.executable,
        "-m",
        "corrflow",
        "all-pairs-block",
        "--prices",
        str(prices),
        "--window",
        "60",
        "--dates",
        dates,
        "--out",
        *map(str, parts),
    ]
    if not Path(command[0]).exists():  # GNU time reports peak RSS; without it, no RSS
        command = command[3:]
    # this checkout's package, as the benchmark imports it (not another one installed in the venv)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
    }

    def run(fresh: bool) -> tuple[float, float | None]:
        if fresh:
            for out in parts:
                out.unlink(missing_ok=True)
        started = time.perf_counter()
        result = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - started
        last = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
        return seconds, int(last) / 1024 if last.isdigit() else None

    # timed: a warm-up run (numba's cache, the page cache), then new and replaced files;
    # else (--quick: the code checked, not timed) one run writing new files
    if timed:
        run(True)
    rows = []
    measured = [(True, "new file"), (False, "replacing the last run's file")][: 2 if timed else 1]
    for fresh, what in measured:
        seconds, rss = min(run(fresh) for _ in range(repeat if timed else 1))
        size = sum(out.stat().st_size for out in parts) / 1e6
        notes = (
            [f"{pandas_seconds / seconds:.1f}x faster than pandas' compute alone"] if pandas_seconds else []
        )
        notes += [f"peak RSS {rss:.0f} MB"] if rss else []
        rows.append(
            {
                "step": (
                    f"all-pairs CLI, N = {n_series}, {len(levels)} dates ({', '.join(calendars)}), "
                    f"{dates.replace('_', ' ')}: read, compute, write {size:.0f} MB float32 in two part "
                    f"files, {what}"
                ),
                "seconds": seconds,
                "note": "; ".join(notes),
            }
        )
    return rows


def generated_universe(workdir: Path, n_series: int, n_rows: int) -> None:
    """A csv-source universe of n_series random-walk prices, for the load test."""
    rng = np.random.default_rng(2)
    local = workdir / "data" / "local"
    local.mkdir(parents=True, exist_ok=True)
    from corrflow.data.calendars import sessions

    dates = sessions("NYSE", "2000-01-03", "2100-01-01")[:n_rows].strftime("%Y-%m-%d")  # NYSE trading days
    levels = 100 * np.exp(
        np.cumsum(0.01 * (0.5 * rng.normal(size=(n_rows, 1)) + rng.normal(size=(n_rows, n_series))), axis=0)
    )
    series = []
    for k in range(n_series):
        pd.DataFrame({"date": dates, "value": np.round(levels[:, k], 6)}).to_csv(
            local / f"X{k:03d}.csv", index=False
        )
        series.append({"id": f"X{k:03d}", "source": "csv", "kind": "price"})
    import yaml

    (workdir / "config" / "universe.yaml").write_text(
        yaml.safe_dump(
            {
                "start": dates[0],
                "end": dates[-1],
                "series": series,
                "correlation": {"pairs": [["X000", f"X{k:03d}"] for k in range(1, 6)], "windows": [60]},
                "features": {"cash_rate": None},
                "stress": {"equity": "X000", "bond": None, "vix": None, "episodes": []},
                "all_pairs": {"enabled": True, "n_blocks": 2},
            }
        )
    )


def snakemake_timed(workdir: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).parent / "snakemake"), *args],
        cwd=workdir,
        check=True,
        capture_output=True,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
    )
    return time.perf_counter() - started


WORKFLOW_PARTS = [
    "Snakefile",
    "config",
    "workflow",
    "src",
    "envs",
    "profiles",
    "data/sample",
    "pyproject.toml",
]


def copy_workflow(dest: Path) -> Path:
    """A clean copy of the workflow (no outputs, no caches) to run Snakemake in."""
    for part in WORKFLOW_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (dest / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / part)
    return dest


def peak_rss(workdir: Path) -> tuple[float, str]:
    worst, rule = 0.0, ""
    for tsv in (workdir / "logs" / "benchmarks").rglob("*.tsv"):
        rss = pd.read_csv(tsv, sep="\t")["max_rss"].max()
        if rss > worst:
            worst, rule = float(rss), str(tsv.relative_to(workdir / "logs" / "benchmarks"))
    return worst, rule


def workflow_rows(tmp: Path, n_series: int, n_rows: int) -> list[dict]:
    rows = []
    default = copy_workflow(tmp / "default")
    cold = snakemake_timed(default, "--cores", "2", "--config", "offline=true")
    noop = snakemake_timed(default, "--cores", "2", "--config", "offline=true")
    rss, rule = peak_rss(default)
    rows.append(
        {
            "step": "default run, cold, --cores 2, offline",
            "seconds": cold,
            "note": f"peak RSS {rss:.0f} MB ({rule})",
        }
    )
    rows.append({"step": "default run again (nothing to do)", "seconds": noop, "note": ""})
    big = copy_workflow(tmp / "universe")
    generated_universe(big, n_series, n_rows)
    seconds = snakemake_timed(
        big, "--cores", "2", "--configfile", "config/config.yaml", "config/universe.yaml"
    )
    rss, rule = peak_rss(big)
    rows.append(
        {
            "step": f"{n_series}-series csv universe end to end (all pairs in 2 blocks), --cores 2",
            "seconds": seconds,
            "note": f"peak RSS {rss:.0f} MB ({rule})",
        }
    )
    return rows


def machine_cpu() -> str:
    """The CPU's model name (Linux), else what platform says."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return platform.processor()
    models = (
        line.split(":", 1)[1].strip()
        for line in cpuinfo.read_text().splitlines()
        if line.startswith("model name")
    )
    return next(models, platform.processor())


def load_average() -> str:
    """The 1-minute load average (Linux), what else competed for the cores."""
    loadavg = Path("/proc/loadavg")
    return loadavg.read_text().split()[0] if loadavg.exists() else "unknown"


def seconds_text(seconds: float) -> str:
    """Seconds to two decimals, or three significant digits below a second's tenth (the
    kernels' and the fill's rows, whose ratios the table gives)."""
    return f"{seconds:.2f}" if seconds >= 0.1 else f"{seconds:.3g}"


def markdown(kernels: list[dict], steps: list[dict], n_rows: int, loads: tuple[str, str]) -> str:
    import numba

    cpu = machine_cpu()
    lines = [
        f"Machine: {cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"numpy {np.__version__}, pandas {pd.__version__}, numba {numba.__version__}; {dt.date.today()}; "
        f"load average (1 min, /proc/loadavg) {loads[0]} at the start, {loads[1]} at the end.",
        "",
        f"All pairs, T = {n_rows} days, float64:",
        "",
        "| implementation | N | window | seconds | x pandas | max abs error vs pandas |",
        "|---|---|---|---|---|---|",
    ]
    for row in kernels:
        error = "-" if row["max_error"] is None else f"{row['max_error']:.1e}"
        lines.append(
            f"| {row['implementation']} | {row['N']} | {row['window']} | {row['seconds']:.3f} | "
            f"{row['speedup']:.1f} | {error} |"
        )
    if steps:
        lines += ["", "| step | seconds | note |", "|---|---|---|"]
        lines += [f"| {row['step']} | {seconds_text(row['seconds'])} | {row['note']} |" for row in steps]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds); fails on a wrong result")
    parser.add_argument("--workflow", action="store_true", help="also time whole-workflow runs")
    parser.add_argument(
        "--cli",
        action="store_true",
        help="only pandas' all-pairs figure and the all-pairs CLI beside it (a minute, not five)",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="also write the tables to this file")
    args = parser.parse_args(argv)
    if args.quick:
        sizes, windows, n_rows, pandas_limit, cli_n, universe = [6, 12], [20, 60], 400, 12, 12, (8, 400)
        summary_n = 12
    else:
        sizes, windows, n_rows, pandas_limit, cli_n, universe = (
            [50, 200],
            [20, 60, 252],
            5000,
            50,
            200,
            (200, 5000),
        )
        summary_n = 1000
    load_at_start = load_average()
    if args.cli:  # pandas' compute for the CLI's N and window, once (as kernel_table times it)
        kernels = [
            {
                "implementation": "pandas rolling().corr()",
                "N": cli_n,
                "window": 60,
                "seconds": best_of(
                    partial(pandas_pairs, random_returns(n_rows, cli_n), 60, all_pairs(list(range(cli_n)))), 1
                )[0],
                "speedup": 1.0,
                "max_error": 0.0,
            }
        ]
    else:
        kernels = kernel_table(sizes, windows, n_rows, args.repeat, pandas_limit)
    pandas_big = next(
        (
            r["seconds"]
            for r in kernels
            if r["N"] == cli_n and r["window"] == 60 and r["implementation"].startswith("pandas")
        ),
        None,
    )
    with tempfile.TemporaryDirectory() as tmp:
        steps = [] if args.cli else joint_day_rows(cli_n, n_rows, args.repeat)
        steps += [] if args.cli else store_layout_rows(cli_n, n_rows, args.repeat, Path(tmp))
        timed = not args.quick
        steps += cli_rows(cli_n, n_rows, Path(tmp), pandas_big, args.repeat, timed=timed)
        steps += (
            []
            if args.cli
            else cli_rows(cli_n, n_rows, Path(tmp), None, args.repeat, MIXED_CALENDARS, timed=timed)
        )
        steps += cli_rows(cli_n, n_rows, Path(tmp), pandas_big, args.repeat, dates="month_ends", timed=timed)
        steps += [] if args.cli else universe_summary_rows(summary_n, n_rows, args.repeat, pandas_limit)
        if args.workflow:
            steps += workflow_rows(Path(tmp), *universe)
    text = markdown(kernels, steps, n_rows, (load_at_start, load_average()))
    print(text)
    if args.out:
        args.out.write_text(text)
    wrong = [r for r in kernels if r["max_error"] is not None and r["max_error"] > 1e-12]
    if wrong:
        print(f"error: results differ from pandas by more than 1e-12: {wrong}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
