"""Returns and lags from the clean levels (task C).

Columns of features.parquet (index: date, the days of clean.parquet), for each series
``X``, every return measured on X's own calendar between consecutive observed days (a
return after a closure spans it; one across missing data spans at most
``max_gap_days`` open days, else it is missing; see ``_returns``):

- ``ret:X``    log return. Prices and fx: log(P_t / P_prev). Yields: log(1 + r) of the
               par-bond total return r (carry for the weekdays elapsed, minus duration
               times the yield change, plus convexity). Levels (VIX): log change.
- ``simple:X`` simple return (exp(ret) - 1).
- ``dy_bp:X``  for yields only: the change in basis points since the previous observation.
- ``excess:X``  with a cash-rate series configured (a yield, e.g. DGS3MO): the simple
               return minus what cash earned over the same weekdays at the cash rate
               last published before the return's start; for prices and yields, not
               for the cash series itself.
- ``ret:X:lagK`` X's log return K observations earlier, for each configured lag.

Pairs are not compared on these columns: rolling_corr takes both legs' returns on the
days both markets traded (``_returns.pair_returns``).
"""

import logging

import numpy as np
import pandas as pd

from corrflow.analytics.panel import CleanPanel
from corrflow.analytics.returns import TRADING_DAYS, weekdays_elapsed
from corrflow.data.contracts import ret_column, write_parquet

logger = logging.getLogger("features")


def build_features(
    clean: pd.DataFrame, metadata: dict, lags: list[int], cash_rate: str | None = None
) -> pd.DataFrame:
    """features.parquet's columns from clean levels and clean.parquet's metadata."""
    panel = CleanPanel(clean, metadata)
    if cash_rate is not None and cash_rate not in clean.columns:
        logger.warning("cash rate %s has no data; no excess returns", cash_rate)
        cash_rate = None
    # the rate in force until the next publication (not a return), and none after its last one
    cash_level = clean[cash_rate].ffill().loc[: clean[cash_rate].last_valid_index()] if cash_rate else None
    columns: dict[str, pd.Series] = {}
    for series_id in clean.columns:
        spec = panel.spec(series_id)
        ret = panel.series_returns(series_id)
        observed = clean[series_id].dropna()
        columns[ret_column(series_id)] = ret
        columns[f"simple:{series_id}"] = np.expm1(ret)
        if cash_level is not None and series_id != cash_rate and spec.get("kind") in ("price", "yield"):
            previous_day = pd.Series(observed.index, index=observed.index).shift(1)
            rate = cash_level.reindex(previous_day.to_numpy()).to_numpy()
            earned = pd.Series(
                rate / 100.0 * weekdays_elapsed(observed.index) / TRADING_DAYS, index=observed.index
            )
            columns[f"excess:{series_id}"] = columns[f"simple:{series_id}"] - earned.reindex(clean.index)
        if spec.get("kind") == "yield":
            columns[f"dy_bp:{series_id}"] = (100.0 * observed.diff()).reindex(clean.index)
        for lag in lags:
            own = ret.reindex(observed.index)
            columns[f"{ret_column(series_id)}:lag{lag}"] = own.shift(lag).reindex(clean.index)
    return pd.DataFrame(columns, index=clean.index)


def run(*, clean: str, lags: list[int], cash_rate: str | None, out: str) -> None:
    """Returns, excess returns and lags from the clean levels (rule ``features``).

    clean: clean.parquet (levels)
    out: features.parquet
    """
    panel = CleanPanel.read(clean)
    features = build_features(panel.levels, panel.meta, lags, cash_rate)
    write_parquet(features, out, panel.meta | {"lags": lags})
    logger.info("wrote %s: %d rows x %d columns", out, *features.shape)
