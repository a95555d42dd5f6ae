"""Is a download plausibly the series asked for? Checked on every live answer before it
may replace the cache; a refusal is a failed attempt (FetchError with a precise code)."""

import numpy as np
import pandas as pd

from _http import FetchError

YIELD_BOUNDS_PCT = (-5.0, 30.0)
# A few non-positive prices are real (WTI settled at -36.98 on 2020-04-20) and are left
# to clean and DQ; more than this share means the answer is not a price series.
MAX_NON_POSITIVE_PRICE_SHARE = 0.01
# Shared dates compared with the cached copy: below this many, too few to judge.
MIN_SHARED_FOR_IDENTITY = 5
REVISED_HINT = "if the source really revised or cut this history, delete the series' cache file to accept it"


def refuse(code: str, message: str, retryable: bool) -> FetchError:
    return FetchError(f"{code}: {message}", code=code, retryable=retryable)


def check_values(series: pd.Series, kind: str, label: str) -> list[str]:
    """Finite, and within the kind's bounds; returns notes on values kept but unusual."""
    values = series.dropna()
    if values.empty:
        raise FetchError(
            f"EmptySeries: {label}: the answer has no values", code="EmptySeries", retryable=False
        )
    infinite = values[~np.isfinite(values.to_numpy())]
    if len(infinite):
        raise refuse(
            "NotFinite",
            f"{label}: {len(infinite)} infinite value(s), first {infinite.iloc[0]} on "
            f"{infinite.index[0].date()}",
            retryable=False,
        )
    if kind == "yield":
        low, high = YIELD_BOUNDS_PCT
        outside = values[(values < low) | (values > high)]
        if len(outside):
            raise refuse(
                "OutOfBounds",
                f"{label}: {len(outside)} yield(s) outside {low}..{high} %, first {outside.iloc[0]} on "
                f"{outside.index[0].date()}",
                retryable=False,
            )
    if kind in ("price", "fx"):
        non_positive = values[values <= 0]
        share = len(non_positive) / len(values)
        if len(non_positive) and (kind == "fx" or share > MAX_NON_POSITIVE_PRICE_SHARE):
            raise refuse(
                "OutOfBounds",
                f"{label}: {len(non_positive)} non-positive {kind} value(s) ({share:.1%}), first "
                f"{non_positive.iloc[0]} on {non_positive.index[0].date()}",
                retryable=False,
            )
        if len(non_positive):
            first = f"first {non_positive.iloc[0]} on {non_positive.index[0].date()}"
            return [f"{len(non_positive)} non-positive price(s) kept from the download, {first}"]
    return []


def check_history(
    series: pd.Series, previous: pd.Series | None, start: str, end: str, label: str, compare_values: bool
) -> None:
    """A new download may extend the cached copy, never shrink it: every date the cache
    holds within start..end is in the answer, and the last date does not move back.
    With ``compare_values`` (sources that do not re-scale history, unlike Yahoo's
    adjusted closes) most shared values must agree, or the answer is another series."""
    if previous is None:
        return
    before = previous.loc[pd.Timestamp(start) : pd.Timestamp(end)]
    if before.empty:
        return
    lost = before.index.difference(series.index)
    if len(lost):
        last_new = series.index[-1].date() if len(series) else None
        raise refuse(
            "HistoryShrunk",
            f"{label}: the answer has {len(series)} rows ending {last_new}, the cached copy "
            f"{len(before)} ending "
            f"{before.index[-1].date()}; {len(lost)} cached date(s) missing, first {lost[0].date()}; "
            f"{REVISED_HINT}",
            retryable=True,
        )
    if not compare_values:
        return
    shared = before.dropna().index.intersection(series.dropna().index)
    if len(shared) < MIN_SHARED_FOR_IDENTITY:
        return
    old, new = before[shared].to_numpy(), series[shared].to_numpy()
    differ = ~np.isclose(new, old, rtol=1e-6, atol=1e-9)
    if differ.mean() > 0.5:
        first = shared[np.flatnonzero(differ)[0]]
        raise refuse(
            "WrongSeries",
            f"{label}: {int(differ.sum())} of {len(shared)} values differ from the cached copy (first "
            f"{first.date()}: {series[first]} vs {before[first]}); the answer looks like another series; "
            f"{REVISED_HINT}",
            retryable=False,
        )


def accept_download(
    series: pd.Series,
    spec: dict,
    previous: pd.Series | None,
    start: str,
    end: str,
    label: str,
    compare_values: bool = True,
) -> list[str]:
    """Raise FetchError unless ``series`` is plausibly ``spec``'s series; returns notes."""
    notes = check_values(series, spec["kind"], label)
    check_history(series, previous, start, end, label, compare_values)
    return notes
