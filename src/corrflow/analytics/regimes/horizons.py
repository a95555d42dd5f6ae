"""Correlations of weekly and monthly returns (calendar-aware), beside the daily ones.

For a pair, the levels on the pair's days (both markets open, both observed) are
resampled to the last observation of each week (W-FRI) or month (ME); a period with no
such day is left out, so the next return spans it. Returns between consecutive period
ends are taken by kind (``_returns.kind_log_returns``: a yield's carry counts the
weekdays elapsed), and their rolling Pearson correlation over ``window`` periods
(min_periods = window) is labelled by the period end (Friday, month end), except a pair's
last period when it is partial (a day after its last joint day, within the period, is
open on both legs' calendars: the data end within it): that one is dated by its real
last day, so a 5-day June is not dated June 30 (the report marks it partial). A period
whose last weekdays are holidays of the pair's markets (Good Friday) is whole.
"""

import pandas as pd

from corrflow.analytics.returns import kind_log_returns
from corrflow.data.calendars import default_calendar, open_mask, sessions

FREQUENCIES = {"weekly": "W-FRI", "monthly": "ME"}  # _contracts.HORIZON_FREQUENCIES and their period ends


def period_returns(
    levels: pd.DataFrame, specs: dict, a: str, b: str, closed: dict, rule: str
) -> pd.DataFrame:
    """Both legs' log returns between the last joint observations of consecutive periods."""
    both_open = open_mask(levels.index, closed.get(a, [])) & open_mask(levels.index, closed.get(b, []))
    joint = levels.loc[both_open, [a, b]].dropna()
    ends = joint.assign(day=joint.index).resample(rule).last().dropna()
    # returns between the actual last days (a yield's carry counts their weekdays), labelled by period end
    on_days = ends.set_index("day")
    returns = pd.DataFrame({c: kind_log_returns(on_days[c], specs.get(c, {"kind": "price"})) for c in (a, b)})
    labels = ends.index
    if len(ends) and both_open_after(specs, a, b, ends["day"].iloc[-1], labels[-1]):
        labels = labels[:-1].append(pd.DatetimeIndex([ends["day"].iloc[-1]]))  # partial: its real date
    return returns.set_axis(labels).iloc[1:]


def both_open_after(specs: dict, a: str, b: str, last_day: pd.Timestamp, period_end: pd.Timestamp) -> bool:
    """Whether a day after ``last_day``, up to ``period_end``, is a session of both legs'
    calendars (their specs' ``calendar``, else the default by kind; a 24/7 leg is open
    every day): the pair could have had a value there, so its period is partial."""
    first = pd.Timestamp(last_day).normalize() + pd.Timedelta(days=1)
    end = pd.Timestamp(period_end).normalize()
    if first > end:
        return False
    calendars = [
        specs.get(s, {}).get("calendar") or default_calendar(specs.get(s, {"kind": "price"})) for s in (a, b)
    ]
    open_days = sessions(calendars[0], first, end)
    for name in calendars[1:]:
        open_days = open_days.intersection(sessions(name, first, end))
    return len(open_days) > 0


def horizon_correlations(
    levels: pd.DataFrame, specs: dict, pairs: list[list[str]], closed: dict, windows: dict[str, int]
) -> pd.DataFrame:
    """Long table (HORIZON_COLUMNS): date, pair "A:B", frequency, window, corr (NaN rows left out)."""
    from corrflow.data.contracts import HORIZON_COLUMNS, horizon_pair

    frames = []
    for a, b in pairs:
        if a not in levels or b not in levels:
            continue
        for frequency, window in windows.items():
            returns = period_returns(levels, specs, a, b, closed, FREQUENCIES[frequency])
            corr = returns[a].rolling(window, min_periods=window).corr(returns[b]).dropna()
            frames.append(
                pd.DataFrame(
                    {
                        "date": corr.index,
                        "pair": horizon_pair(a, b),
                        "frequency": frequency,
                        "window": window,
                        "corr": corr.to_numpy(),
                    }
                )
            )
    if not frames:
        return pd.DataFrame(
            {c: pd.Series(dtype="float64" if c == "corr" else "object") for c in HORIZON_COLUMNS}
        )
    out = pd.concat(frames, ignore_index=True)[HORIZON_COLUMNS]
    out["window"] = out["window"].astype("int64")
    out["corr"] = out["corr"].clip(-1.0, 1.0).astype("float64")
    return out
