"""Trading calendars of the series, from a maintained library (pandas_market_calendars).

Each series trades on one calendar: by default equities, ETFs, indices and volatility
indices on the NYSE's, US Treasury yields from FRED on the bond market's (SIFMA US:
closed on Columbus and Veterans Day, when the NYSE trades), fx on every weekday (24/5).
A series' ``calendar:`` key in config overrides the default. A pair's returns are
compared on the days both of its calendars are open; nothing is inferred from the data.

Known limits of the library's rules, stated where they matter: SIFMA US holidays start
in 1970 (before that every weekday is a session, so a bond-market holiday shows as a
one-day gap in the data), and from 1970 today's holidays are applied before they existed
(MLK day before 1986, Veterans Day on 11 November in 1971-77): a yield published on such
a day is left out by clean and listed by DQ. NYSE history covers the exchange's special
closures.
"""

from functools import lru_cache

import numpy as np
import pandas as pd

# the names a series may give in `calendar:`; values are pandas_market_calendars names
CALENDARS = {"NYSE": "NYSE", "SIFMA_US": "SIFMAUS", "FX_24_5": "24/5"}


def default_calendar(spec: dict) -> str:
    """The calendar of a series spec: its own `calendar:` key, else by kind and source."""
    if spec.get("calendar"):
        return spec["calendar"]
    if spec["kind"] == "fx":
        return "FX_24_5"
    if spec["kind"] == "yield":
        return "SIFMA_US"
    return "NYSE"


CALENDAR_SPAN = ("1900-01-01", "2099-12-31")  # computed once per process, then sliced


@lru_cache(maxsize=None)
def _all_sessions(name: str) -> pd.DatetimeIndex:
    import pandas_market_calendars as mcal

    days = mcal.get_calendar(CALENDARS[name]).valid_days(*CALENDAR_SPAN)
    return pd.DatetimeIndex(days.tz_localize(None).normalize().astype("datetime64[ns]"), name="date")


def sessions(name: str, start, end) -> pd.DatetimeIndex:
    """The calendar's trading days from start to end (inclusive), as naive dates."""
    if name not in CALENDARS:
        raise ValueError(f"unknown calendar {name!r}; known: {', '.join(CALENDARS)}")
    days = _all_sessions(name)
    return days[days.searchsorted(pd.Timestamp(start)) : days.searchsorted(pd.Timestamp(end), side="right")]


def closed_weekdays(name: str, start, end) -> list[str]:
    """Weekdays on which the calendar is closed (holidays, special closures), ISO dates."""
    weekdays = pd.bdate_range(start, end)
    return [str(d.date()) for d in weekdays.difference(sessions(name, start, end))]


def open_mask(index: pd.DatetimeIndex, closed: list[str]) -> np.ndarray:
    """True on the days of ``index`` that are weekdays and not in ``closed``."""
    weekday = index.day_of_week < 5
    return weekday & ~index.isin(pd.DatetimeIndex(closed))


def resolve_end(end: str, now: pd.Timestamp | None = None) -> str:
    """config `end`: a date as given, or ``latest``: the last weekday before today in New
    York (the last business day whose closes are published)."""
    if end != "latest":
        return end
    today = (
        (now if now is not None else pd.Timestamp.now(tz="America/New_York")).tz_localize(None).normalize()
    )
    return str((today - pd.offsets.BDay(1)).date())
