"""Trading calendars from pandas_market_calendars, and `end: latest`."""

import pandas as pd
import pytest

from _calendars import closed_weekdays, default_calendar, resolve_end, sessions


@pytest.mark.parametrize(
    "now, expected",
    [
        ("2026-11-26 09:00", "2026-11-25"),  # Thursday: Wednesday's closes
        ("2026-11-30 09:00", "2026-11-27"),  # Monday: Friday's
        ("2026-11-29 18:00", "2026-11-27"),  # Sunday: Friday's
    ],
)
def test_latest_is_the_last_business_day_before_today_in_new_york(now, expected):
    assert resolve_end("latest", pd.Timestamp(now, tz="America/New_York")) == expected
    assert resolve_end("2017-03-31") == "2017-03-31"  # a fixed end stays fixed


def test_bond_market_and_exchange_calendars_differ_where_they_should():
    # Columbus and Veterans Day: the NYSE trades, the US bond market (SIFMA) does not
    assert closed_weekdays("SIFMA_US", "2015-10-01", "2016-11-30")[:2] == ["2015-10-12", "2015-11-11"]
    nyse = sessions("NYSE", "2015-10-01", "2016-11-30")
    assert pd.Timestamp("2015-10-12") in nyse and pd.Timestamp("2016-11-11") in nyse
    # special closures: Hurricane Sandy, the national day of mourning for President Carter
    assert "2012-10-29" in closed_weekdays("NYSE", "2012-10-01", "2012-10-31")
    assert "2025-01-09" in closed_weekdays("NYSE", "2025-01-01", "2025-01-31")
    assert len(sessions("FX_24_5", "2020-12-21", "2020-12-31")) == 9  # every weekday


def test_default_calendar_by_kind_and_its_override():
    assert default_calendar({"kind": "yield"}) == "SIFMA_US"
    assert default_calendar({"kind": "fx"}) == "FX_24_5"
    assert default_calendar({"kind": "price"}) == default_calendar({"kind": "level"}) == "NYSE"
    assert default_calendar({"kind": "price", "calendar": "FX_24_5"}) == "FX_24_5"
