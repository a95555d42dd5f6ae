"""Weekly and monthly correlations (task E) against pandas on a synthetic frame."""

import numpy as np
import pandas as pd

from corrflow.analytics.regimes.horizons import horizon_correlations, period_returns
from corrflow.data.contracts import HORIZON_COLUMNS


def synthetic_levels() -> tuple[pd.DataFrame, dict, dict]:
    """Two prices on weekdays with a holiday of one market, a missing stretch, and a yield."""
    rng = np.random.default_rng(5)
    index = pd.bdate_range("2010-01-01", "2016-12-30")
    common = rng.normal(0, 0.01, len(index))
    a = 100 * np.exp(np.cumsum(common + rng.normal(0, 0.01, len(index))))
    b = 50 * np.exp(np.cumsum(0.5 * common + rng.normal(0, 0.01, len(index))))
    y = 3 + np.cumsum(rng.normal(0, 0.03, len(index)))
    levels = pd.DataFrame({"A": a, "B": b, "Y": y}, index=index)
    closed = {
        "A": [],
        "B": ["2012-06-29", "2013-01-31"],
        "Y": [],
    }  # B's market closed on a Friday and a month end
    levels.loc[pd.DatetimeIndex(closed["B"]), "B"] = np.nan
    levels.loc["2014-03-03":"2014-03-21", "A"] = np.nan  # three weeks of A missing
    specs = {"A": {"kind": "price"}, "B": {"kind": "price"}, "Y": {"kind": "yield", "maturity": 10}}
    return levels, specs, closed


def test_weekly_and_monthly_correlations_match_pandas():
    levels, specs, closed = synthetic_levels()
    table = horizon_correlations(
        levels, specs, [["A", "B"], ["A", "C"]], closed, {"weekly": 52, "monthly": 36}
    )
    assert list(table.columns) == HORIZON_COLUMNS
    assert set(table["pair"]) == {"A:B"}  # a pair without data is left out
    joint = levels[["A", "B"]].dropna()  # the pair's days: both observed (closed days are NaN here)
    for frequency, rule, window in [("weekly", "W-FRI", 52), ("monthly", "ME", 36)]:
        ends = joint.resample(rule).last().dropna()
        returns = np.log(ends).diff().iloc[1:]
        expected = returns["A"].rolling(window).corr(returns["B"]).dropna()
        got = table[table["frequency"] == frequency].set_index("date")["corr"]
        assert (table.loc[table["frequency"] == frequency, "window"] == window).all()
        np.testing.assert_array_equal(got.index.to_numpy(), expected.index.to_numpy())
        np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), atol=1e-12)
    weekly = table[table["frequency"] == "weekly"].set_index("date")
    assert (
        pd.Timestamp("2014-03-14") not in weekly.index
    )  # weeks without A: no period, next return spans them
    assert (weekly.index.day_of_week == 4).all()


def test_period_end_uses_the_last_day_both_markets_traded():
    levels, specs, closed = synthetic_levels()
    returns = period_returns(levels, specs, "A", "B", closed, "W-FRI")
    thursday = levels.loc["2012-06-28", ["A", "B"]]  # B closed on Friday 2012-06-29: Thursday ends the week
    previous = levels.loc["2012-06-22", ["A", "B"]]
    assert returns.loc["2012-06-29", "A"] == np.log(thursday["A"] / previous["A"])
    following = levels.loc["2012-07-06", ["A", "B"]]
    assert returns.loc["2012-07-06", "B"] == np.log(following["B"] / thursday["B"])


def test_a_yield_leg_earns_carry_over_the_weekdays_of_the_period():
    levels, specs, closed = synthetic_levels()
    monthly = period_returns(levels, specs, "A", "Y", closed, "ME")
    ends = levels[["A", "Y"]].dropna().resample("ME").last()
    y0, y1 = ends["Y"].iloc[0] / 100, ends["Y"].iloc[1] / 100
    weekdays = np.busday_count(ends.index[0].date(), ends.index[1].date())
    # flat yield part of the return: carry y0 * weekdays / 252 (duration terms vanish when dy = 0)
    from corrflow.analytics.returns import par_bond_duration_convexity

    duration, convexity = par_bond_duration_convexity(np.array([y0]), 10)
    expected = np.log1p(y0 * weekdays / 252 - duration[0] * (y1 - y0) + 0.5 * convexity[0] * (y1 - y0) ** 2)
    assert abs(monthly["Y"].iloc[0] - expected) < 1e-12


def levels_until(last_day: str, calendar: str = "NYSE") -> tuple[pd.DataFrame, dict]:
    """Two prices on ``calendar``'s sessions from 2023 to ``last_day`` (the data's end)."""
    from corrflow.data.calendars import sessions

    days = sessions(calendar, "2023-01-02", last_day)
    rng = np.random.default_rng(7)
    levels = pd.DataFrame(
        100 * np.exp(np.cumsum(rng.normal(0, 0.01, (len(days), 2)), axis=0)), index=days, columns=["A", "B"]
    )
    specs = {"A": {"kind": "price", "calendar": calendar}, "B": {"kind": "price", "calendar": calendar}}
    return levels, specs


def test_a_week_and_month_ending_on_a_holiday_of_both_markets_are_whole():
    """Issue 29: data through Thursday 2024-03-28, the day before Good Friday (the NYSE
    closed, and March's last weekday): the week and the month are whole, dated by their
    ends, not called partial."""
    levels, specs = levels_until("2024-03-28")
    weekly = period_returns(levels, specs, "A", "B", {}, "W-FRI")
    monthly = period_returns(levels, specs, "A", "B", {}, "ME")
    assert weekly.index[-1] == pd.Timestamp("2024-03-29")
    assert monthly.index[-1] == pd.Timestamp("2024-03-31")


def test_a_data_end_before_an_open_day_of_both_markets_is_partial():
    """Data through Wednesday 2024-03-27: Thursday is open on both calendars, so the week
    and the month are partial and dated by their real last day."""
    levels, specs = levels_until("2024-03-27")
    weekly = period_returns(levels, specs, "A", "B", {}, "W-FRI")
    monthly = period_returns(levels, specs, "A", "B", {}, "ME")
    assert weekly.index[-1] == pd.Timestamp("2024-03-27")
    assert monthly.index[-1] == pd.Timestamp("2024-03-27")
    assert weekly.index[-2] == pd.Timestamp("2024-03-22")  # earlier weeks keep their Friday


def test_a_24_7_leg_is_open_on_the_other_legs_holiday_only_when_both_are():
    """A 24/7 leg beside the NYSE: Good Friday is closed for the pair (the NYSE), so data
    through Thursday is a whole week; two 24/7 legs trade on Good Friday: partial."""
    levels, specs = levels_until("2024-03-28")
    specs = {"A": {"kind": "price", "calendar": "NYSE"}, "B": {"kind": "price", "calendar": "24/7"}}
    assert period_returns(levels, specs, "A", "B", {}, "W-FRI").index[-1] == pd.Timestamp("2024-03-29")
    crypto = {"A": {"kind": "price", "calendar": "24/7"}, "B": {"kind": "price", "calendar": "24/7"}}
    assert period_returns(levels, crypto, "A", "B", {}, "W-FRI").index[-1] == pd.Timestamp("2024-03-28")
    # a month through the 28th: the weekend after Good Friday is open for two 24/7 legs
    assert period_returns(levels, crypto, "A", "B", {}, "ME").index[-1] == pd.Timestamp("2024-03-28")
