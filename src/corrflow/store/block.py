"""Every pair of the universe, one block of first series (the scatter step of all pairs).

Each pair on its own joint days (the days both series have a value), both legs' returns
spanning the same stretch, exactly as rolling_corr.csv computes a configured pair: a
Tokyo holiday, a 24/7 weekend or a missing day of one series changes no other pair.
The compiled kernel walks every pair's dates at once (``_rolling.JointDayPanel``). Layout
of the parquet file: ``corrflow.store.all_pairs.write_all_pairs``.

CLI:
    python workflow/scripts/all_pairs_block.py --prices data/processed/clean.parquet \
        --window 60 --block 0 --n-blocks 1 --out data/processed/all_pairs/block_1-of-1.parquet
"""

import argparse
import logging

from corrflow.data.contracts import read_parquet
from corrflow.io import (
    InputDataError,
    call_with_arguments,
    cli_parser,
    schema_defaults,
    window_arg,
)
from corrflow.store.all_pairs import stored_dates, write_all_pairs

logger = logging.getLogger("all_pairs")


def parse_args(argv=None) -> argparse.Namespace:
    defaults = schema_defaults()["all_pairs"]
    parser = cli_parser(__doc__)
    parser.add_argument("--prices", required=True, help="clean.parquet (levels)")
    parser.add_argument(
        "--window", type=window_arg, default=defaults["window"], help="window in business days"
    )
    parser.add_argument("--dtype", choices=["float32", "float64"], default=defaults["dtype"])
    parser.add_argument("--block", type=int, default=0, help="which block of pairs (0-based)")
    parser.add_argument(
        "--n-blocks", type=int, default=defaults["n_blocks"], help="blocks the pairs are split into"
    )
    parser.add_argument(
        "--dates",
        choices=["auto", "every_day", "month_ends", "latest"],
        default=defaults["dates"],
        help="dates whose all-pair matrix is kept (auto: every day up to 300 series, month-ends above)",
    )
    parser.add_argument(
        "--history-of",
        nargs="*",
        default=defaults["history_of"],
        help="series (every pair with it) or A:B pairs whose every day is kept in --history-out",
    )
    parser.add_argument("--history-out", default=None, help="parquet of the --history-of pairs' every day")
    parser.add_argument("--out", required=True, help="output parquet (.parquet)")
    args = parser.parse_args(argv)
    if not 0 <= args.block < args.n_blocks:
        parser.error(f"--block: {args.block} is not in 0..{args.n_blocks - 1} (--n-blocks {args.n_blocks})")
    if args.history_of and args.history_out is None:
        parser.error("--history-of: give --history-out, the parquet file those pairs' every day goes to")
    if not str(args.out).endswith(".parquet"):
        parser.error(f"--out: {args.out} must end in .parquet")
    return args


def run(
    *,
    block,
    dtype,
    n_blocks,
    out,
    prices,
    window,
    dates,
    history_of,
    history_out,
) -> None:
    """The rule's work, from files and settings to files (``corrflow all-pairs-block``, and the
    rule script with the ``snakemake`` object's input, output and params)."""
    levels, metadata = read_parquet(prices)
    if len(levels) < window:
        raise InputDataError(
            f"all_pairs: window {window} is longer than the {len(levels)} days of {prices}; "
            f"shorten config key `all_pairs.window` or widen start/end"
        )
    count = write_all_pairs(
        levels, metadata, window, out, dtype, block, n_blocks, dates, list(history_of), history_out
    )
    logger.info(
        "wrote %s: %d pairs (window %d, %s)", out, count, window, stored_dates(dates, len(levels.columns))
    )


def main(argv=None) -> None:
    """``corrflow all-pairs-block``: the command line of ``run``."""
    call_with_arguments(run, parse_args(argv))
