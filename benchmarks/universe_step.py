"""The universe computed once (issue 27.3): what the report and the dashboard cost at 1,000
series now that the universe rule does the correlation work and they only read files.

What it measures, on a generated universe of ``--n-series`` series (default 1,000, mixed
calendars, ``--rows`` NYSE sessions):

- the universe rule's work (``corrflow.store.universe.build_universe``, the kernel path:
  40 Ward clusters of the 499,500 pairs' last-year correlations, the heatmap's matrices,
  the 40 representatives' month-end matrices and histories, the absorption ratio);
- the report's latest all-pairs summary of a 1,000 x 1,000 matrix: before, a Python loop
  building a label per pair (499,500 f-strings) and a pandas sort; now an argsort of the
  valued pairs' array, labels for the ten listed only (``matrix_summary``);
- the dashboard built from the universe rule's result (``build_dashboard``), with the
  joint-day kernel and its drivers replaced by functions that raise: it completes, so it
  did no correlation work; its Python function calls counted (cProfile), against the
  number of pairs of the universe.

    python benchmarks/universe_step.py                 # 1,000 series, 1,500 sessions
    python benchmarks/universe_step.py --n-series 200 --rows 800 --quick
"""

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from run import MIXED_CALENDARS, universe_levels  # noqa: E402

ALL_PAIRS_LISTED = 5


def labels_per_pair_before(matrix: pd.DataFrame) -> tuple[float, list, list]:
    """The report's all-pairs extremes as they were picked before (report.py, 2026-12-06):
    a label per pair in a Python loop, then a pandas sort."""
    upper = np.triu_indices(len(matrix), 1)
    pairs = pd.Series(
        matrix.to_numpy()[upper],
        index=[f"{matrix.index[i]} / {matrix.columns[j]}" for i, j in zip(*upper, strict=False)],
    )
    valid = pairs.dropna().sort_values(kind="stable")
    count = min(ALL_PAIRS_LISTED, (len(valid) + 1) // 2)
    return float(valid.median()), list(valid.iloc[::-1][:count].index), list(valid.iloc[:count].index)


def timed(call):
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def dashboard_inputs(levels: pd.DataFrame, metadata: dict, pairs: list, window: int):
    """The rolling_corr, regimes and episodes outputs the dashboard reads, for ``pairs``."""
    from corrflow.analytics.correlation.rolling import fisher_band, pair_rolling_corr

    columns = {}
    for a, b in pairs:
        values = pair_rolling_corr(levels, metadata, a, b, window)
        lo, hi = fisher_band(values, window, 0.95)
        columns |= {f"{a}:{b}:{window}": values, f"{a}:{b}:{window}:lo95": lo, f"{a}:{b}:{window}:hi95": hi}
    corr = pd.DataFrame(columns)
    corr.index.name = "date"
    regimes = pd.DataFrame(index=corr.index)
    episodes = pd.DataFrame(columns=["name", "reason", "start", "end"])
    return corr, regimes, episodes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n-series", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=1500, help="NYSE sessions (default 1,500: about 6 years)")
    parser.add_argument("--window", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help="skip the before/after of the labels")
    parser.add_argument("--out", type=Path, default=None, help="also write the markdown to this file")
    args = parser.parse_args(argv)

    from corrflow.analytics.correlation import rolling
    from corrflow.present.dashboard import build_dashboard
    from corrflow.store.universe import build_universe, loaded_universe, matrix_summary

    levels, metadata = universe_levels(args.n_series, args.rows, MIXED_CALENDARS)
    names = list(levels.columns)
    for name in names:
        observed = levels[name].dropna()
        metadata["series"][name] |= {
            "kind": "price",
            "first": str(observed.index[0].date()),
            "last": str(observed.index[-1].date()),
        }
    pairs = [[names[0], names[1]], [names[2], names[3]]]
    n_pairs = args.n_series * (args.n_series - 1) // 2
    build_universe(levels.iloc[:, :5], metadata, pairs[:1], args.window, [], None)  # compile the kernels
    rows = []

    seconds, (summary, frames, history) = timed(
        lambda: build_universe(levels, metadata, pairs, args.window, [], None)
    )
    rows.append(
        (
            f"universe rule (kernel path): {args.n_series} series, {n_pairs:,} pairs, {len(levels)} dates",
            seconds,
            f"{len(summary['dashboard']['order'])} representatives, {len(frames)} month-end matrices",
        )
    )

    rng = np.random.default_rng(7)
    factors = rng.normal(size=(300, 3))
    returns = factors @ rng.normal(size=(3, args.n_series)) + rng.normal(size=(300, args.n_series))
    matrix = pd.DataFrame(np.corrcoef(returns.T), index=names, columns=names)
    matrix.iloc[:50, -50:] = matrix.iloc[-50:, :50] = np.nan  # some pairs without a value
    if not args.quick:
        seconds, before = timed(lambda: labels_per_pair_before(matrix))
        step = f"report's all-pairs extremes before: a label per pair, {n_pairs:,} pairs"
        rows.append((step, seconds, "Python loop"))
    from corrflow.store import universe as universe_step

    validity = universe_step.latest_matrix_validity
    universe_step.latest_matrix_validity = lambda values, names: ""  # timed on its own below
    try:
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        after = matrix_summary(matrix.to_numpy(), names)
        profile.disable()
        seconds = time.perf_counter() - started
    finally:
        universe_step.latest_matrix_validity = validity
    calls = pstats.Stats(profile).total_calls
    if not args.quick:
        same = (
            [p for p, _ in after["most_positive"]] == before[1]
            and [p for p, _ in after["most_negative"]] == before[2]
            and abs(after["median"] - before[0]) < 1e-12
        )
        assert same, "the array selection must pick the same pairs as the loop"
    rows.append(
        (
            f"report's all-pairs summary now: argsort of the array, {n_pairs:,} pairs",
            seconds,
            f"{calls:,} Python calls",
        )
    )
    seconds, _ = timed(lambda: validity(matrix.to_numpy(), names))
    rows.append(
        (
            "report's validity sentence of that matrix (both before and now): smallest eigenvalue",
            seconds,
            f"{args.n_series} series, not repaired above 200",
        )
    )

    def refuse(*_args, **_kwargs):
        raise AssertionError("the dashboard called a correlation kernel")

    universe = loaded_universe(summary, frames, history)
    corr, regimes, episodes = dashboard_inputs(levels, metadata, pairs, args.window)
    saved = (rolling.JointDayPanel.run, rolling.joint_day_rolling_corr, rolling.rolling_corr_pairs)
    rolling.JointDayPanel.run = rolling.joint_day_rolling_corr = rolling.rolling_corr_pairs = refuse
    try:
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        page = build_dashboard(metadata, corr, regimes, episodes, {}, pairs, args.window, universe)
        profile.disable()
        seconds = time.perf_counter() - started
    finally:
        rolling.JointDayPanel.run, rolling.joint_day_rolling_corr, rolling.rolling_corr_pairs = saved
    calls = pstats.Stats(profile).total_calls
    shown = len(universe["dashboard"]["order"])
    rows.append(
        (
            f"dashboard from the universe rule's result ({shown} series shown)",
            seconds,
            f"no kernel call; {calls:,} Python calls for {n_pairs:,} pairs of the universe; page "
            f"{len(page.encode()) / 1e6:.1f} MB",
        )
    )

    lines = ["| step | seconds | note |", "|---|---:|---|"]
    lines += [f"| {step} | {seconds:.2f} | {note} |" for step, seconds, note in rows]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
