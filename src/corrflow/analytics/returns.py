"""Returns from levels: one series on its own calendar, or a pair on the days both traded.

A return is taken between consecutive observed days of the calendar it is measured on
(the series' own, or the pair's: the days both markets were open). A return across a
day a market was closed spans the closure; a return across missing data on open days
spans at most ``max_gap`` such days, else it is missing (NaN). Nothing is forward
filled, so no zero return is ever made up.

Kinds: price and fx give log(P_t / P_prev); a level (an indicator such as VIX) gives its
log change; a yield (percent) gives log(1 + r) of a par bond's total return:

    r ~= y_prev * n / 252  -  D * dy  +  1/2 * C * dy**2

with n the weekdays elapsed (carry accrues across a closure), D and C the modified
duration and convexity of a par bond at y_prev (``par_bond_duration_convexity``).
A non-positive price has no log return: clean leaves such a day out (and DQ flags it).
"""

import numpy as np
import pandas as pd

from corrflow.data.calendars import TRADING_DAYS, open_mask


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


def weekdays_elapsed(index: pd.DatetimeIndex) -> np.ndarray:
    """Weekdays from the previous date of ``index`` to each date (NaN for the first)."""
    days = index.values.astype("datetime64[D]")
    out = np.full(len(days), np.nan)
    if len(days) > 1:
        out[1:] = np.busday_count(days[:-1], days[1:])
    return out


def bond_returns_from_yields(yields_percent: pd.Series, maturity: float) -> pd.Series:
    """Total return of a par bond between consecutive observations of a yield in percent
    (carry for the weekdays elapsed, see module doc)."""
    y = yields_percent.to_numpy(dtype="float64") / 100.0
    if not len(y):  # no observation (e.g. a pair whose legs share no day): no return
        return pd.Series(y, index=yields_percent.index, name=yields_percent.name)
    previous = np.roll(y, 1)
    previous[0] = np.nan
    dy = y - previous
    safe_previous = np.where(np.isnan(previous), 0.0, previous)
    duration, convexity = par_bond_duration_convexity(safe_previous, maturity)
    accrual = weekdays_elapsed(yields_percent.index) / TRADING_DAYS
    returns = previous * accrual - duration * dy + 0.5 * convexity * dy**2
    return pd.Series(returns, index=yields_percent.index, name=yields_percent.name)


def log_returns(levels: pd.Series) -> pd.Series:
    """log(P_t / P_{t-1}) between consecutive rows; NaN where either is missing or not positive."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = levels / levels.shift(1)
        return np.log(ratio.where(ratio > 0))


def kind_log_returns(observed: pd.Series, spec: dict) -> pd.Series:
    """Log returns between consecutive rows of ``observed`` (no missing values), by kind."""
    if spec.get("kind") == "yield":
        if not spec.get("maturity"):
            raise ValueError(f"yield series {observed.name!r} needs `maturity` in config key `series`")
        return np.log1p(bond_returns_from_yields(observed, float(spec["maturity"])))
    return log_returns(observed)


def _gap_too_long(
    observed_days: pd.DatetimeIndex, open_days: pd.DatetimeIndex, max_gap: int | None
) -> np.ndarray:
    """True where more than ``max_gap`` open days lie strictly between an observation and
    the previous one (data missing on days the market(s) traded)."""
    if max_gap is None or not len(observed_days):
        return np.zeros(len(observed_days), dtype=bool)
    position = open_days.searchsorted(observed_days)
    skipped = np.empty(len(observed_days))
    skipped[0] = 0
    skipped[1:] = np.diff(position) - 1
    return skipped > max_gap


def series_returns(
    levels: pd.Series, spec: dict, closed: list[str] | None = None, max_gap: int | None = None
) -> pd.Series:
    """One series' log returns on its own observed days, on ``levels``' index (NaN on the
    other days). ``closed``: its calendar's closed weekdays (for counting missing days)."""
    observed = levels.dropna()
    returns = kind_log_returns(observed, spec)
    open_days = levels.index[open_mask(levels.index, closed or [])]
    returns[_gap_too_long(observed.index, open_days, max_gap)] = np.nan
    return returns.reindex(levels.index)


def pair_returns(
    levels: pd.DataFrame,
    specs: dict[str, dict],
    a: str,
    b: str,
    closed: dict[str, list[str]] | None = None,
    max_gap: int | None = None,
) -> pd.DataFrame:
    """Both series' log returns on the days both were observed and both markets open,
    each return spanning the same stretch of time (columns ``a`` and ``b``).

    ``closed``: per series id its calendar's closed weekdays; a day either market was
    closed is not a day of the pair (a value there is not used)."""
    closed = closed or {}
    both_open = open_mask(levels.index, closed.get(a, [])) & open_mask(levels.index, closed.get(b, []))
    open_days = levels.index[both_open]
    joint = levels.loc[both_open, [a, b]].dropna()
    out = (
        pd.DataFrame(
            {
                a: kind_log_returns(joint[a], specs.get(a, {"kind": "price"})),
                b: kind_log_returns(joint[b], specs.get(b, {"kind": "price"})),
            },
            index=joint.index,
        )
        if a != b
        else pd.DataFrame({a: kind_log_returns(joint[a], specs.get(a, {"kind": "price"}))})
    )
    out.loc[_gap_too_long(joint.index, open_days, max_gap)] = np.nan
    return out


GAP_COLUMNS = [
    "pair",
    "window",
    "missing",
    "missing_from",
    "missing_to",
    "open_days_missing",
    "blank_from",
    "blank_to",
    "blank_days",
]


def pair_gaps(
    levels: pd.DataFrame,
    joint: pd.DataFrame,
    a: str,
    b: str,
    closed: dict[str, list[str]],
    window: int,
) -> pd.DataFrame:
    """Where the pair has no ``window``-day value because a leg had no value on more than
    ``max_gap_days`` days both markets were open (``GAP_COLUMNS``): which series was
    missing on which open days, and the stretch of the pair's days left without a
    correlation. ``joint``: the pair's returns (``pair_returns``), NaN across such a gap."""
    observed = joint.index[1:][joint.iloc[1:].isna().all(axis=1).to_numpy()]
    both_open = open_mask(levels.index, closed.get(a, [])) & open_mask(levels.index, closed.get(b, []))
    open_days = levels.index[both_open]
    rows = []
    for day in observed:
        position = joint.index.get_loc(day)
        previous = joint.index[position - 1]
        inside = open_days[(open_days > previous) & (open_days < day)]
        absent = [s for s in (a, b) if levels.loc[inside, s].isna().any()]
        blank_to = joint.index[min(position + window - 1, len(joint) - 1)]
        rows.append(
            {
                "pair": f"{a}-{b}",
                "window": window,
                "missing": " and ".join(absent),
                "missing_from": str(inside[0].date()),
                "missing_to": str(inside[-1].date()),
                "open_days_missing": len(inside),
                "blank_from": str(day.date()),
                "blank_to": str(blank_to.date()),
                "blank_days": int(min(window, len(joint) - position)),
            }
        )
    return pd.DataFrame(rows, columns=GAP_COLUMNS)


def gap_sentence(gap: dict, calendar_of: dict[str, str], max_gap: int | None) -> str:
    """One line on a pair's gap: which pair, which days, why, and what to change."""
    missing = gap["missing"] or "a leg"
    legs = [s for s in str(gap["missing"]).split(" and ") if s]
    calendars = ", ".join(f"{s} on {calendar_of.get(s, '?')}" for s in legs)
    return (
        f"pair {gap['pair']} has no {gap['window']}-day value on {gap['blank_days']} of its days "
        f"{gap['blank_from']}..{gap['blank_to']}: {missing} has no value on {gap['open_days_missing']} days "
        f"both markets were open ({gap['missing_from']}..{gap['missing_to']}), more than "
        f"`clean.max_gap_days: {max_gap}`; if those were its market's holidays set its `calendar:` "
        f"({calendars}), else raise `clean.max_gap_days` or fill the file"
    )
