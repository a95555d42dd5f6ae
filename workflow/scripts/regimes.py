"""Correlation regimes by z-score (task E).

For every correlation column ``A:B:W`` of rolling_corr.csv: the z-score of today's
correlation against the mean and standard deviation of the previous ``zscore_window``
days (today excluded, so a jump scores against its own past), and a label:
``hedge`` (z <= -threshold: unusually negative, bonds hedging stocks more than usual),
``co-move`` (z >= threshold: unusually positive, diversification failing), ``neutral``
in between; missing where there is not yet a full trailing window.

regimes.parquet: index date; columns ``z:A:B:W`` (float) and ``regime:A:B:W`` (string).
"""

import argparse
import logging

import numpy as np
import pandas as pd

from _helpers import (
    cli_parser,
    InputDataError,
    argv_from_snakemake,
    configure_logging,
    run_main,
    write_parquet,
)

logger = logging.getLogger("regimes")

LABELS = ("hedge", "neutral", "co-move")


def trailing_zscore(corr: pd.Series, window: int) -> pd.Series:
    history = corr.shift(1).rolling(window, min_periods=window)
    std = history.std()
    z = (corr - history.mean()) / std.where(std > 0)
    return z


def zscore_labels(z: pd.Series, threshold: float) -> pd.Series:
    labels = np.where(z <= -threshold, "hedge", np.where(z >= threshold, "co-move", "neutral"))
    return pd.Series(labels, index=z.index, dtype="str").where(z.notna())


def zscore_regimes(corr: pd.DataFrame, window: int, threshold: float) -> pd.DataFrame:
    columns = {}
    for name in corr.columns:
        z = trailing_zscore(corr[name], window)
        columns[f"z:{name}"] = z
        columns[f"regime:{name}"] = zscore_labels(z, threshold)
    frame = pd.DataFrame(columns, index=corr.index)
    frame.index.name = "date"
    return frame


def read_rolling_corr(path: str) -> pd.DataFrame:
    try:
        corr = pd.read_csv(path, index_col="date", parse_dates=["date"])
    except (ValueError, pd.errors.EmptyDataError) as err:
        raise InputDataError(f"{path}: not a rolling-correlation CSV with a 'date' column ({err})") from None
    bad = [c for c in corr.columns if c.count(":") != 2]
    if bad:
        raise InputDataError(f"{path}: columns {bad} are not named A:B:WINDOW; re-run rolling_corr")
    return corr


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli_parser(__doc__)
    parser.add_argument("--corr", required=True, help="rolling_corr.csv")
    parser.add_argument("--zscore-window", type=int, default=252)
    parser.add_argument("--zscore-threshold", type=float, default=1.5)
    parser.add_argument("--out", required=True, help="regimes.parquet")
    parser.add_argument("--log", default=None)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    configure_logging(args.log)
    corr = read_rolling_corr(args.corr)
    regimes = zscore_regimes(corr, args.zscore_window, args.zscore_threshold)
    write_parquet(
        regimes, args.out, {"zscore_window": args.zscore_window, "zscore_threshold": args.zscore_threshold}
    )
    latest = {
        c: regimes[c].dropna().iloc[-1]
        for c in regimes
        if c.startswith("regime:") and regimes[c].notna().any()
    }
    logger.info("wrote %s: %d rows; latest labels %s", args.out, len(regimes), latest)


if __name__ == "__main__":
    if "snakemake" in globals():
        run_main(main, argv_from_snakemake(snakemake))  # noqa: F821
    else:
        run_main(main)
