"""Features (task C): returns against pandas, bond returns against exact par-bond repricing."""

import numpy as np
import pandas as pd
import pytest

from corrflow.analytics.features import build_features
from corrflow.analytics.returns import (
    bond_returns_from_yields,
    log_returns,
    pair_returns,
    par_bond_duration_convexity,
    series_returns,
)


def par_bond_dirty_price(coupon: float, yield_: float, maturity: float, elapsed: float) -> float:
    """Exact value of a semiannual bond bought at par at ``coupon``, ``elapsed`` years later.

    Independent of features.py: discounts every remaining cash flow at the new yield
    (street convention within a coupon period), accrued interest included.
    """
    times = np.arange(1, int(round(2 * maturity)) + 1) / 2.0 - elapsed
    cash = np.full(times.shape, coupon / 2.0)
    cash[-1] += 1.0
    return float((cash * (1 + yield_ / 2.0) ** (-2.0 * times)).sum())


def test_par_bond_modified_duration_has_its_closed_form():
    y = np.array([0.01, 0.05, 0.08])
    duration, _ = par_bond_duration_convexity(y, 10)
    closed_form = (1 / y) * (1 - (1 + y / 2) ** (-20))
    np.testing.assert_allclose(duration, closed_form, rtol=1e-12)


def test_convexity_matches_second_difference_of_exact_price():
    y, h = 0.04, 1e-4
    _, convexity = par_bond_duration_convexity(np.array([y]), 10)
    second = (
        par_bond_dirty_price(y, y + h, 10, 0)
        - 2 * par_bond_dirty_price(y, y, 10, 0)
        + par_bond_dirty_price(y, y - h, 10, 0)
    ) / h**2
    assert convexity[0] == pytest.approx(second, rel=1e-5)


@pytest.mark.parametrize("maturity", [2, 10, 30])
@pytest.mark.parametrize("level", [1.0, 4.0, 8.0])
@pytest.mark.parametrize("move_bp", [-25, -10, -1, 0, 3, 15, 25])
def test_bond_return_within_1bp_of_exact_repricing(maturity, level, move_bp):
    yields = pd.Series([level, level + move_bp / 100.0], index=pd.bdate_range("2020-01-01", periods=2))
    approx = bond_returns_from_yields(yields, maturity).iloc[1]
    exact = par_bond_dirty_price(level / 100, (level + move_bp / 100) / 100, maturity, 1 / 252) - 1.0
    assert abs(approx - exact) < 1e-4


def test_log_returns_match_pandas_and_keep_gaps():
    levels = pd.Series([100.0, 101.0, np.nan, 99.0, 98.0], index=pd.bdate_range("2020-01-01", periods=5))
    expected = np.log(levels).diff()
    pd.testing.assert_series_equal(log_returns(levels), expected)
    assert np.isnan(log_returns(levels).iloc[3])  # no return across a missing day


def test_build_features_columns_and_lags():
    index = pd.bdate_range("2020-01-01", periods=6)
    clean = pd.DataFrame(
        {"SPY": [100, 101, 102, 101, 103, 104.0], "DGS10": [2.0, 2.1, 2.05, 2.0, 1.9, 1.95]}, index=index
    )
    meta = {"SPY": {"kind": "price"}, "DGS10": {"kind": "yield", "maturity": 10}}
    features = build_features(clean, {"series": meta}, [1, 2])
    assert list(features.columns) == [
        "ret:SPY",
        "simple:SPY",
        "ret:SPY:lag1",
        "ret:SPY:lag2",
        "ret:DGS10",
        "simple:DGS10",
        "dy_bp:DGS10",
        "ret:DGS10:lag1",
        "ret:DGS10:lag2",
    ]
    np.testing.assert_allclose(features["dy_bp:DGS10"].iloc[1:], [10, -5, -5, -10, 5], atol=1e-9)
    pd.testing.assert_series_equal(features["ret:SPY:lag2"], features["ret:SPY"].shift(2), check_names=False)
    np.testing.assert_allclose(
        features["simple:SPY"].iloc[1:], clean["SPY"].pct_change().iloc[1:], rtol=1e-12
    )
    # a rise in yields is a loss for the bond
    assert features["ret:DGS10"].iloc[1] < 0 < features["ret:DGS10"].iloc[4]


def test_excess_returns_subtract_yesterdays_cash_accrual():
    index = pd.bdate_range("2020-01-01", periods=4)
    clean = pd.DataFrame(
        {"SPY": [100.0, 101.0, 100.0, 102.0], "DGS3MO": [5.04, 2.52, 2.52, 0.0]}, index=index
    )
    meta = {"SPY": {"kind": "price"}, "DGS3MO": {"kind": "yield", "maturity": 0.25}}
    features = build_features(clean, {"series": meta}, [], cash_rate="DGS3MO")
    expected = clean["SPY"].pct_change() - clean["DGS3MO"].shift(1) / 100 / 252
    np.testing.assert_allclose(features["excess:SPY"].iloc[1:], expected.iloc[1:], rtol=1e-12)
    assert features["excess:SPY"].iloc[1] == pytest.approx(0.01 - 0.0002)
    assert "excess:DGS3MO" not in features


def test_bill_duration_is_its_maturity_over_one_plus_half_yield():
    duration, convexity = par_bond_duration_convexity(np.array([0.04]), 0.25)
    assert duration[0] == pytest.approx(0.25 / 1.02, rel=1e-12)
    assert convexity[0] == pytest.approx(0.25 * 0.75 / 1.02**2, rel=1e-12)


def test_a_return_after_a_closure_spans_it_and_a_long_gap_leaves_it_missing():
    # Mon 2015-10-12 (Columbus Day): the bond market is closed, the yield is not published
    index = pd.DatetimeIndex(["2015-10-08", "2015-10-09", "2015-10-12", "2015-10-13", "2015-10-14"])
    levels = pd.Series([2.10, 2.12, np.nan, 2.06, 2.02], index=index)
    spec = {"kind": "yield", "maturity": 10}
    returns = series_returns(levels, spec, closed=["2015-10-12"], max_gap=0)
    assert np.isnan(returns.loc["2015-10-12"])  # no made-up carry-only return on the holiday
    # Tuesday's return spans Friday -> Tuesday: two weekdays of carry and the whole move
    duration, convexity = par_bond_duration_convexity(np.array([0.0212]), 10)
    dy = 0.0206 - 0.0212
    expected = np.log1p(0.0212 * 2 / 252 - duration[0] * dy + 0.5 * convexity[0] * dy**2)
    assert returns.loc["2015-10-13"] == pytest.approx(expected, rel=1e-12)
    # the same missing Monday on a day the market was open is a gap: max_gap 0 refuses to span it
    assert np.isnan(series_returns(levels, spec, closed=[], max_gap=0).loc["2015-10-13"])
    assert not np.isnan(series_returns(levels, spec, closed=[], max_gap=1).loc["2015-10-13"])


def test_pair_returns_use_the_days_both_markets_traded():
    index = pd.DatetimeIndex(["2015-10-08", "2015-10-09", "2015-10-12", "2015-10-13"])
    levels = pd.DataFrame(
        {"SPY": [100.0, 101.0, 102.0, 100.0], "DGS10": [2.10, 2.12, np.nan, 2.06]}, index=index
    )
    specs = {"SPY": {"kind": "price"}, "DGS10": {"kind": "yield", "maturity": 10}}
    joint = pair_returns(levels, specs, "SPY", "DGS10", {"DGS10": ["2015-10-12"]}, max_gap=0)
    assert list(joint.index.strftime("%m-%d")) == ["10-08", "10-09", "10-13"]
    # the equity leg spans the bond market's holiday too: Friday -> Tuesday
    assert joint.loc["2015-10-13", "SPY"] == pytest.approx(np.log(100.0 / 101.0), rel=1e-15)


def test_non_positive_price_has_no_log_return():
    levels = pd.Series([20.0, 10.0, -36.98, 10.0], index=pd.bdate_range("2020-04-16", periods=4))
    returns = log_returns(levels)
    assert np.isnan(returns.iloc[2]) and np.isnan(returns.iloc[3])


def test_excess_returns_stop_where_the_cash_rate_series_ends():
    index = pd.bdate_range("2020-01-06", periods=5)
    clean = pd.DataFrame(
        {"SPY": [100.0, 101.0, 100.0, 102.0, 103.0], "DGS3MO": [2.52, 2.52, np.nan, np.nan, np.nan]},
        index=index,
    )
    meta = {"SPY": {"kind": "price"}, "DGS3MO": {"kind": "yield", "maturity": 0.25}}
    excess = build_features(clean, {"series": meta}, [], cash_rate="DGS3MO")["excess:SPY"]
    assert excess.iloc[1:3].notna().all()  # the last published rate still earns the next day
    assert excess.iloc[3:].isna().all()  # no rate is carried past the series' last value
