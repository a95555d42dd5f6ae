"""Dates the workflow needs before any data is read: ``end: latest`` and business days.

Standard library only: the Snakefile uses these at parse time, where only Snakemake is
installed (trading calendars, which need pandas_market_calendars, live in ``calendars``).
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")


def today_in_new_york(now: datetime | None = None) -> date:
    """Today's date in New York (a US market's day), from ``now`` (default: the clock)."""
    return (now or datetime.now(tz=NEW_YORK)).astimezone(NEW_YORK).date()


def resolve_end(end: str, now: datetime | None = None) -> str:
    """config `end`: a date as given, or ``latest``: the last weekday before today in New
    York (the last business day whose closes are published)."""
    if end != "latest":
        return end
    day = today_in_new_york(now) - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day.isoformat()


def business_days(start: str, end: str) -> int:
    """Weekdays from ``start`` to ``end``, both included (0 when end is before start)."""
    first, last = date.fromisoformat(str(start)[:10]), date.fromisoformat(str(end)[:10])
    if last < first:
        return 0
    whole_weeks, rest = divmod((last - first).days + 1, 7)
    extra = sum((first.weekday() + k) % 7 < 5 for k in range(rest))
    return whole_weeks * 5 + extra
