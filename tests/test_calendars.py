"""Trading calendars from pandas_market_calendars, and `end: latest`."""

import numpy as np
import pandas as pd
import pytest

from corrflow.data.calendars import (
    calendar_fit,
    check_calendar,
    closed_days,
    closes_apart_hours,
    default_calendar,
    resolve_end,
    sessions,
)


def closed_weekdays(name, start, end):
    return closed_days(name, pd.bdate_range(start, end))


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


@pytest.mark.parametrize("name", ["XTKS", "JPX", "XLON", "XETR", "XHKG", "24/7", "CME_Equity", "SIFMAUS"])
def test_every_calendar_of_the_library_is_accepted(name):
    check_calendar(name)
    assert len(sessions(name, "2024-01-01", "2024-12-31")) > 200


def test_an_unknown_calendar_is_one_line_with_a_close_match():
    with pytest.raises(ValueError) as error:
        check_calendar("XTKO", "config key `series` (N225): calendar")
    message = str(error.value)
    assert "\n" not in message and message.startswith("config key `series` (N225): calendar: 'XTKO'")
    assert "did you mean XTKS" in message


def test_tokyo_golden_week_and_crypto_weekends():
    tokyo = sessions("XTKS", "2019-04-26", "2019-05-08")
    # the ten-day Golden Week of 2019 (the new emperor's enthronement): closed 27 April - 6 May
    assert list(tokyo.strftime("%Y-%m-%d")) == ["2019-04-26", "2019-05-07", "2019-05-08"]
    crypto = sessions("24/7", "2019-05-04", "2019-05-05")
    assert len(crypto) == 2  # Saturday and Sunday are sessions
    # on a frame with weekends (a 24/7 series in the universe) the NYSE is closed on them
    days = pd.date_range("2019-05-03", "2019-05-06", name="date")
    assert closed_days("NYSE", days) == ["2019-05-04", "2019-05-05"] and closed_days("24/7", days) == []


def test_close_times_tell_which_markets_close_apart():
    assert closes_apart_hours("NYSE", "XTKS", "2019-06-03") > 9
    assert closes_apart_hours("NYSE", "24/7", "2019-06-03") == 4.0  # 00:00 UTC vs 16:00 New York (EDT)
    assert closes_apart_hours("NYSE", "SIFMA_US", "2019-06-03") == 1.5


def test_the_best_fitting_calendar_of_a_foreign_series():
    rows = sessions("XTKS", "2015-01-01", "2019-12-31").delete([10, 400])  # two missing days
    fits = calendar_fit(rows, "NYSE")
    assert max(fits, key=fits.get) == "XTKS" and fits["XTKS"] > 0.99 and fits["NYSE"] < 0.95


def test_session_lists_are_kept_across_processes_in_the_cache_folder(tmp_path, monkeypatch):
    """Issue 28.3: with CORRFLOW_CALENDAR_CACHE set (the workflow sets `<paths.cache>/calendars`)
    the first process writes each calendar's days, later ones read them without the library;
    an unreadable file is computed and written again."""
    from corrflow.data import calendars

    monkeypatch.setenv(calendars.SESSIONS_CACHE_ENV, str(tmp_path))
    calendars._all_sessions.cache_clear()
    computed = calendars._all_sessions("24/7")
    (written,) = tmp_path.glob("24_7-*.npy")

    def no_library(name):
        raise AssertionError(f"the library was asked for {name}")

    monkeypatch.setattr(calendars, "_library_calendar", no_library)
    calendars._all_sessions.cache_clear()
    read = calendars._all_sessions("24/7")
    assert read.equals(computed) and read.name == computed.name == "date" and read.dtype == computed.dtype
    assert calendars.sessions("24/7", "2020-02-28", "2020-03-01").strftime("%m-%d").tolist() == [
        "02-28",
        "02-29",
        "03-01",
    ]

    written.write_bytes(b"not an array")
    monkeypatch.undo()
    monkeypatch.setenv(calendars.SESSIONS_CACHE_ENV, str(tmp_path))
    calendars._all_sessions.cache_clear()
    assert calendars._all_sessions("24/7").equals(computed)
    assert np.load(written).dtype == np.dtype("datetime64[ns]")
    calendars._all_sessions.cache_clear()
