"""Returns and lags from the clean levels (task C).

Columns of features.parquet (index: date), for each series ``X`` in clean.parquet:

- ``ret:X``    daily log return. Prices and fx: log(P_t / P_{t-1}). Yields: log(1 + r_t)
               of the par-bond total return r_t below. Levels (VIX): log change.
- ``simple:X`` daily simple return (exp(ret) - 1).
- ``dy_bp:X``  for yields only: the daily change in basis points.
- ``excess:X``  with a cash-rate series configured (a yield, e.g. DGS3MO): the simple
               return minus what cash earned that day, y_{t-1} / 100 / 252; for prices
               and yields, not for the cash series itself.
- ``ret:X:lagK`` the log return K business days earlier, for each configured lag.

Bond return from a yield series (maturity M years, yield y in decimals, par bond with
semiannual coupons bought at par at y_{t-1}):

    r_t ~= y_{t-1} / 252  -  D * dy_t  +  1/2 * C * dy_t**2

where D and C are the modified duration and convexity of that par bond at y_{t-1}
(exact closed forms from its cash flows, see ``par_bond_duration_convexity``).
"""

import argparse
import logging

import numpy as np
import pandas as pd

from _helpers import cli_parser, configure_logging, read_parquet, run_script, write_parquet

logger = logging.getLogger("features")

TRADING_DAYS = 252


def par_bond_duration_convexity(yield_decimal: np.ndarray, maturity: float) -> tuple[np.ndarray, np.ndarray]:
    """Modified duration and convexity of a par bond (semiannual coupons) at the given yields.

    With v = 1/(1 + y/2), cash flows cf_k at t_k = k/2 years (coupon y/2, plus 1 at the end):
    P = sum cf_k v^k = 1 at par, dP/dy = -sum cf_k t_k v^(k+1), d2P/dy2 = sum cf_k t_k (t_k + 1/2) v^(k+2).
    D = -P'/P and C = P''/P. A maturity under half a year is one payment of 1 + y*M at M.
    """
    y = np.asarray(yield_decimal, dtype="float64")
    v = 1.0 / (1.0 + y / 2.0)
    if maturity < 0.5:
        t = np.array([maturity])
        cash = (1.0 + y * maturity)[:, None]
    else:
        n = int(round(2 * maturity))
        t = np.arange(1, n + 1) / 2.0
        cash = np.repeat((y / 2.0)[:, None], n, axis=1)
        cash[:, -1] += 1.0
    k = 2.0 * t
    vk = v[:, None] ** k[None, :]
    price = (cash * vk).sum(axis=1)
    first = (cash * t * vk * v[:, None]).sum(axis=1)
    second = (cash * t * (t + 0.5) * vk * v[:, None] ** 2).sum(axis=1)
    return first / price, second / price


def bond_returns_from_yields(yields_percent: pd.Series, maturity: float) -> pd.Series:
    """Daily total return of a par bond from a yield series in percent (see module doc)."""
    y = yields_percent.to_numpy(dtype="float64") / 100.0
    previous = np.roll(y, 1)
    previous[0] = np.nan
    dy = y - previous
    safe_previous = np.where(np.isnan(previous), 0.0, previous)
    duration, convexity = par_bond_duration_convexity(safe_previous, maturity)
    returns = previous / TRADING_DAYS - duration * dy + 0.5 * convexity * dy**2
    return pd.Series(returns, index=yields_percent.index, name=yields_percent.name)


def log_returns(levels: pd.Series) -> pd.Series:
    """log(P_t / P_{t-1}); NaN where either day is missing (no fill across gaps here)."""
    return np.log(levels / levels.shift(1))


def series_log_returns(levels: pd.Series, spec: dict) -> pd.Series:
    """The ``ret:`` column of one series, by its kind (yields become par-bond returns)."""
    if spec.get("kind") == "yield":
        if not spec.get("maturity"):
            raise ValueError(f"yield series {levels.name!r} needs `maturity` in config key `series`")
        return np.log1p(bond_returns_from_yields(levels, float(spec["maturity"])))
    return log_returns(levels)


def build_features(
    clean: pd.DataFrame, series_meta: dict, lags: list[int], cash_rate: str | None = None
) -> pd.DataFrame:
    if cash_rate is not None and cash_rate not in clean.columns:
        logger.warning("cash rate %s has no data; no excess returns", cash_rate)
        cash_rate = None
    # yesterday's annual yield, per business day: what cash earned over today
    cash_daily = clean[cash_rate].shift(1) / 100.0 / TRADING_DAYS if cash_rate else None
    columns: dict[str, pd.Series] = {}
    for series_id in clean.columns:
        spec = series_meta.get(series_id, {"kind": "price"})
        ret = series_log_returns(clean[series_id], spec)
        columns[f"ret:{series_id}"] = ret
        columns[f"simple:{series_id}"] = np.expm1(ret)
        if cash_daily is not None and series_id != cash_rate and spec.get("kind") in ("price", "yield"):
            columns[f"excess:{series_id}"] = columns[f"simple:{series_id}"] - cash_daily
        if spec.get("kind") == "yield":
            columns[f"dy_bp:{series_id}"] = 100.0 * clean[series_id].diff()
        for lag in lags:
            columns[f"ret:{series_id}:lag{lag}"] = ret.shift(lag)
    return pd.DataFrame(columns, index=clean.index)


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli_parser(__doc__)
    parser.add_argument("--clean", required=True, help="clean.parquet (levels)")
    parser.add_argument("--lags", type=int, nargs="*", default=[1, 5])
    parser.add_argument("--cash-rate", default=None, help="yield series for excess returns (e.g. DGS3MO)")
    parser.add_argument("--out", required=True, help="features.parquet")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    configure_logging(args.log)
    clean, metadata = read_parquet(args.clean)
    features = build_features(clean, metadata.get("series", {}), args.lags, args.cash_rate)
    write_parquet(features, args.out, metadata | {"lags": args.lags})
    logger.info("wrote %s: %d rows x %d columns", args.out, *features.shape)


if __name__ == "__main__":
    run_script(main, globals())
