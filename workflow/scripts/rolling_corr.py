"""Rolling Pearson correlations of return pairs (task D).

Output ``rolling_corr.csv``: wide, one row per business day (``date``), one column per
pair x window named ``A:B:W`` (e.g. ``SPY:DGS10:60``), Pearson over the last W returns
with min_periods = W (any missing return in the window gives NaN). A pair naming a
series that no level could serve is skipped with a warning.

Two ways in:
    # from prices (the seed's command): log returns computed here; a yield column
    # (per clean.parquet's metadata) becomes bond returns exactly as in `features`
    python workflow/scripts/rolling_corr.py --prices data/processed/clean.parquet \
        --eq-col SPY --bond-col DGS10 --window 60 --out rolling_corr.csv
    # from features (what the workflow does)
    python workflow/scripts/rolling_corr.py --features data/processed/features.parquet \
        --pairs '[["SPY", "DGS10"]]' --windows 20 60 --out data/processed/rolling_corr.csv
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
    load_json_arg,
    read_parquet,
    run_main,
    write_csv_atomic,
)

logger = logging.getLogger("rolling_corr")


def corr_column(a: str, b: str, window: int) -> str:
    return f"{a}:{b}:{window}"


def rolling_pearson(x: pd.Series, y: pd.Series, window: int) -> pd.Series:
    """Pearson correlation over a trailing window, min_periods = window.

    Centred two-pass moments per window (stable for flat or offset data); a window with
    zero variance in either series gives NaN, never inf; results are clipped to [-1, 1].
    """
    xv = x.to_numpy(dtype="float64")
    yv = y.to_numpy(dtype="float64")
    n = len(xv)
    out = np.full(n, np.nan)
    if n >= window:
        xw = np.lib.stride_tricks.sliding_window_view(xv, window)
        yw = np.lib.stride_tricks.sliding_window_view(yv, window)
        complete = ~(np.isnan(xw).any(axis=1) | np.isnan(yw).any(axis=1))
        xc = xw[complete] - xw[complete].mean(axis=1, keepdims=True)
        yc = yw[complete] - yw[complete].mean(axis=1, keepdims=True)
        sxx = (xc * xc).sum(axis=1)
        syy = (yc * yc).sum(axis=1)
        sxy = (xc * yc).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = sxy / np.sqrt(sxx * syy)
        r[(sxx <= 0) | (syy <= 0) | ~np.isfinite(r)] = np.nan
        values = np.full(len(complete), np.nan)
        values[complete] = np.clip(r, -1.0, 1.0)
        out[window - 1 :] = values
    return pd.Series(out, index=x.index, name=f"{x.name}:{y.name}:{window}")


def rolling_corr(
    returns: pd.DataFrame, pairs: list[list[str]], windows: list[int]
) -> tuple[pd.DataFrame, list[str]]:
    """All configured pairs x windows; returns (wide frame, skipped pair descriptions)."""
    columns, skipped = {}, []
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
            columns[corr_column(a, b, window)] = rolling_pearson(returns[a], returns[b], window)
    frame = pd.DataFrame(columns, index=returns.index)
    frame.index.name = "date"
    return frame, skipped


def returns_from_features(features: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in features.columns if c.startswith("ret:") and c.count(":") == 1]
    return features[cols].rename(columns=lambda c: c.split(":", 1)[1])


def returns_from_prices(clean: pd.DataFrame, metadata: dict, columns: list[str], origin: str) -> pd.DataFrame:
    from features import series_log_returns

    series_meta = metadata.get("series", {})
    out = {}
    for column in columns:
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
    parser.add_argument("--window", type=int, help="one window (same as --windows W)")
    parser.add_argument("--windows", type=int, nargs="+", help="windows in business days")
    parser.add_argument("--out", required=True, help="output CSV")
    parser.add_argument("--log", default=None)
    args = parser.parse_args(argv)
    args.windows = args.windows or ([args.window] if args.window else None)
    if not args.windows:
        parser.error("give --window W or --windows W [W ...]")
    if args.eq_col or args.bond_col:
        if not (args.eq_col and args.bond_col):
            parser.error("--eq-col and --bond-col go together")
        args.pairs = [[args.eq_col, args.bond_col]]
    if not args.pairs:
        parser.error("give --eq-col and --bond-col, or --pairs")
    if any(w < 2 for w in args.windows):
        parser.error("windows must be at least 2")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    configure_logging(args.log)
    if args.prices:
        clean, metadata = read_parquet(args.prices)
        needed = list(dict.fromkeys(s for pair in args.pairs for s in pair))
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
    corr, skipped = rolling_corr(returns, args.pairs, args.windows)
    write_csv_atomic(corr, args.out, date_format="%Y-%m-%d")
    logger.info(
        "wrote %s: %d rows, columns %s; skipped %s",
        args.out,
        len(corr),
        list(corr.columns),
        skipped or "none",
    )


if __name__ == "__main__":
    if "snakemake" in globals():
        run_main(main, argv_from_snakemake(snakemake))  # noqa: F821
    else:
        run_main(main)
