"""Every pair of the universe, one block of first series (the scatter step of all pairs).

Each pair on its own joint days (the days both series have a value), both legs' returns
spanning the same stretch, exactly as rolling_corr.csv computes a configured pair: a
Tokyo holiday, a 24/7 weekend or a missing day of one series changes no other pair.
The compiled kernel walks every pair's dates at once (``_rolling.JointDayPanel``). Layout
of the parquet file: ``corrflow.store.all_pairs.write_all_pairs``.

CLI (two part files, encoded side by side; one ``--out`` writes one file):
    corrflow all-pairs-block --prices data/processed/clean.parquet --window 60 --block 0 \
        --n-blocks 1 --out data/processed/all_pairs/block_1-of-1.part1.parquet \
        data/processed/all_pairs/block_1-of-1.part2.parquet
"""

import logging

from corrflow.analytics.panel import CleanPanel
from corrflow.io import (
    ArgumentError,
    InputDataError,
)
from corrflow.store.all_pairs import stored_dates, write_all_pairs

logger = logging.getLogger("all_pairs")


def run(
    *,
    prices: str,
    window: int,
    dtype: str,
    block: int = 0,
    n_blocks: int,
    dates: str,
    history_of: list[str],
    history_out: str | None = None,
    out: list[str],
) -> None:
    """Every pair's rolling correlation, one block of first series (rule ``all_pairs_block``).

    prices: clean.parquet (levels)
    block: which block of pairs (0-based)
    history_out: parquet of the history_of pairs' every day
    out: output parquet file(s); several split the block's pairs, written side by side
    """
    if not 0 <= block < n_blocks:
        raise ArgumentError("block", f"{block} is not in 0..{n_blocks - 1} (--n-blocks {n_blocks})")
    if history_of and history_out is None:
        raise ArgumentError(
            "history_of", "give --history-out, the parquet file those pairs' every day goes to"
        )
    out = [out] if isinstance(out, str) else list(out)
    if not out:
        raise ArgumentError("out", "give the output parquet file, or one per part")
    for path in out:
        if not str(path).endswith(".parquet"):
            raise ArgumentError("out", f"{path} must end in .parquet")
    if len(set(out)) < len(out):
        raise ArgumentError("out", f"{', '.join(out)} names a file twice; give each part its own file")
    panel = CleanPanel.read(prices)
    levels = panel.levels
    if len(levels) < window:
        raise InputDataError(
            f"all_pairs: window {window} is longer than the {len(levels)} days of {prices}; "
            f"shorten config key `all_pairs.window` or widen start/end"
        )
    count = write_all_pairs(
        levels, panel.meta, window, out, dtype, block, n_blocks, dates, list(history_of), history_out
    )
    logger.info(
        "wrote %s: %d pairs (window %d, %s)",
        ", ".join(out),
        count,
        window,
        stored_dates(dates, len(levels.columns)),
    )
