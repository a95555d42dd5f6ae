"""Trading calendars of the series, from a maintained library (pandas_market_calendars).

Each series trades on one calendar: by default equities, ETFs, indices and volatility
indices on the NYSE's, US Treasury yields from FRED on the bond market's (SIFMA US:
closed on Columbus and Veterans Day, when the NYSE trades), fx on every weekday (24/5).
A series' ``calendar:`` key in config names any calendar of the library (``XTKS``,
``XLON``, ``24/7``, ...). A pair's returns are compared on the days both of its calendars
are open; nothing is inferred from the data (DQ only suggests a calendar that fits a
series' rows better, ``calendar_fit``). The calendars' regular close times tell which
pairs close hours apart (``closes_apart_hours``: Tokyo and New York, crypto and New York).

Known limits of the library's rules, stated where they matter: SIFMA US holidays start
in 1970 (before that every weekday is a session, so a bond-market holiday shows as a
one-day gap in the data), and from 1970 today's holidays are applied before they existed
(MLK day before 1986, Veterans Day on 11 November in 1971-77): a yield published on such
a day is left out by clean and listed by DQ. NYSE history covers the exchange's special
closures.
"""

import difflib
import hashlib
import importlib.util
import os
import re
from datetime import datetime, time
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from corrflow.data.dates import resolve_end  # noqa: F401  (one home for `end: latest`)
from corrflow.io import DiskFullError, atomic_path

TRADING_DAYS = 252  # trading days a year: carry accrual, annualised volatility, a year of history

# names kept from earlier versions of the config; every other name is the library's own
ALIASES = {"FX_24_5": "24/5"}
ASYNC_CLOSE_HOURS = 2.0  # closes this far apart: the same-day return misses part of the other's day


def default_calendar(spec: dict) -> str:
    """The calendar of a series spec: its own `calendar:` key, else by kind and source."""
    if spec.get("calendar"):
        return spec["calendar"]
    if spec["kind"] == "fx":
        return "FX_24_5"
    if spec["kind"] == "yield":
        return "SIFMA_US"
    return "NYSE"


@lru_cache(maxsize=1)
def calendar_names() -> tuple[str, ...]:
    """Every name `calendar:` accepts: pandas_market_calendars' names and the aliases."""
    import pandas_market_calendars as mcal

    return tuple(sorted(set(mcal.get_calendar_names()) | set(ALIASES)))


def check_calendar(name: str, where: str = "calendar") -> None:
    """One line naming a close match when ``name`` is no calendar of the library."""
    if name in calendar_names():
        return
    close = difflib.get_close_matches(name, calendar_names(), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    # the library's ~200 names would make the line thousands of characters: the command lists them
    raise ValueError(
        f"{where}: {name!r} is not a calendar of pandas_market_calendars; {hint}"
        f"e.g. NYSE, XTKS (Tokyo), XLON (London), XETR (Frankfurt), XHKG (Hong Kong), 24/7 (crypto), "
        f"24/5 (fx), SIFMA_US (US bonds); all {len(calendar_names())}: python -c "
        "'import pandas_market_calendars as m; print(m.get_calendar_names())'"
    )


def _library_calendar(name: str):
    import warnings

    import pandas_market_calendars as mcal

    check_calendar(name)
    with warnings.catch_warnings():  # notes on discontinued lunch breaks: not used here
        warnings.simplefilter("ignore", UserWarning)
        return mcal.get_calendar(ALIASES.get(name, name))


CALENDAR_SPAN = ("1900-01-01", "2099-12-31")  # computed once per process, then sliced


# A folder where the session lists are kept across processes (the workflow sets it to
# `<paths.cache>/calendars`): each step of a run otherwise spends ~0.1-0.35 s of CPU per
# calendar computing the same 200 years of days, and importing the library. Unset: none.
SESSIONS_CACHE_ENV = "CORRFLOW_CALENDAR_CACHE"
_LIBRARIES = ("pandas_market_calendars", "exchange_calendars")


def _library_versions() -> str | None:
    """The installed calendar libraries' dist-info names (their versions), found without
    importing them (importlib.metadata costs ~0.25 s); None when they cannot be found."""
    spec = importlib.util.find_spec(_LIBRARIES[0])
    if spec is None or not spec.origin:
        return None
    site = Path(spec.origin).parent.parent
    try:
        found = sorted(n for n in os.listdir(site) if n.endswith(".dist-info") and n.startswith(_LIBRARIES))
    except OSError:
        return None
    return " ".join(found) if len(found) == len(_LIBRARIES) else None


def _sessions_cache_file(name: str) -> Path | None:
    folder = os.environ.get(SESSIONS_CACHE_ENV)
    versions = _library_versions() if folder else None
    if not versions:
        return None
    key = hashlib.sha256(f"{name}|{CALENDAR_SPAN}|{versions}".encode()).hexdigest()[:16]
    return Path(folder) / f"{re.sub(r'[^A-Za-z0-9_]', '_', name)}-{key}.npy"


def _write_sessions(path: Path, days: np.ndarray) -> None:
    """Written whole or not at all (steps running side by side may write the same file);
    a disk that refuses it costs only the next process computing them again."""
    try:
        with atomic_path(path) as partial:
            with open(partial, "wb") as handle:
                np.save(handle, days, allow_pickle=False)
    except (OSError, DiskFullError):
        pass


@lru_cache(maxsize=None)
def _all_sessions(name: str) -> pd.DatetimeIndex:
    cached = _sessions_cache_file(name)
    if cached is not None and cached.is_file():
        try:
            days = np.load(cached, allow_pickle=False)
            if days.dtype == np.dtype("datetime64[ns]"):
                return pd.DatetimeIndex(days, name="date")
        except (OSError, ValueError):  # unreadable: computed and written again below
            pass
    try:
        days = _library_calendar(name).valid_days(*CALENDAR_SPAN)
    except NotImplementedError:  # a few of the library's calendars have no day list
        raise ValueError(
            f"calendar {name!r}: pandas_market_calendars cannot list its trading days; "
            "choose another calendar for this market (e.g. its exchange's ISO MIC)"
        ) from None
    index = pd.DatetimeIndex(days.tz_localize(None).normalize().astype("datetime64[ns]"), name="date")
    if cached is not None:
        _write_sessions(cached, index.to_numpy())
    return index


def sessions(name: str, start, end) -> pd.DatetimeIndex:
    """The calendar's trading days from start to end (inclusive), as naive dates."""
    days = _all_sessions(name)
    return days[days.searchsorted(pd.Timestamp(start)) : days.searchsorted(pd.Timestamp(end), side="right")]


def closed_days(name: str, days: pd.DatetimeIndex) -> list[str]:
    """The days of ``days`` (a frame's dates) on which the calendar is closed, ISO dates:
    weekends of a weekday market, holidays and special closures."""
    if not len(days):
        return []
    own = sessions(name, days[0], days[-1])
    return [str(d.date()) for d in days.difference(own)]


# calendars DQ tries a series' rows against (besides its own): the main markets of each
# region, the bond market, fx and crypto
CANDIDATE_CALENDARS = (
    "NYSE",
    "SIFMA_US",
    "24/5",
    "24/7",
    "XTKS",
    "XHKG",
    "XSHG",
    "XASX",
    "XKRX",
    "XLON",
    "XETR",
    "XPAR",
    "XSWX",
    "XTSE",
    "BVMF",
)


def calendar_fit(dates: pd.DatetimeIndex, own: str) -> dict[str, float]:
    """How well each candidate calendar (and ``own``) fits a series' dates from its first
    to its last: days that are both a row and a session over days that are either."""
    fits = {}
    for name in dict.fromkeys([own, *CANDIDATE_CALENDARS]):
        days = sessions(name, dates[0], dates[-1])
        both = len(dates.intersection(days))
        fits[name] = both / max(len(dates.union(days)), 1)
    return fits


def open_mask(index: pd.DatetimeIndex, closed: list[str]) -> np.ndarray:
    """True on the days of ``index`` (a frame's dates, or some of them) not in ``closed``."""
    return ~index.isin(pd.DatetimeIndex(closed))


def close_utc_hours(name: str, day) -> float:
    """The calendar's regular close on ``day``, in hours after midnight UTC (0 <= h < 24)."""
    calendar = _library_calendar(name)
    close = calendar.close_time
    zone = close.tzinfo or ZoneInfo(str(calendar.tz))
    local = datetime.combine(pd.Timestamp(day).date(), time(close.hour, close.minute), tzinfo=zone)
    utc = local.astimezone(ZoneInfo("UTC"))
    return utc.hour + utc.minute / 60.0


def closes_apart_hours(name_a: str, name_b: str, day) -> float:
    """How far apart two calendars' regular closes are on ``day``, in hours (0..12)."""
    gap = abs(close_utc_hours(name_a, day) - close_utc_hours(name_b, day)) % 24.0
    return min(gap, 24.0 - gap)
