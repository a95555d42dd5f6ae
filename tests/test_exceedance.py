"""Exceedance correlations and the Hong-Tu-Zhou test (issue 31): the normal benchmark
against a Monte Carlo, a bivariate normal that keeps to it and is not rejected, a Clayton
copula (joint crashes) that is, and one curve against plain pandas."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from corrflow.analytics.correlation.exceedance import (
    COLUMNS,
    asymmetry_sentence,
    eras,
    exceedance_curve,
    hong_tu_zhou,
    normal_exceedance_corr,
    pair_exceedance,
)


def normal_pair(n: int, rho: float, seed: int) -> pd.DataFrame:
    z = np.random.default_rng(seed).multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n)
    return pd.DataFrame(0.01 * z, index=pd.bdate_range("1990-01-01", periods=n), columns=["EQ", "BOND"])


def clayton_pair(n: int, theta: float, seed: int) -> pd.DataFrame:
    """Normal margins joined by a Clayton copula: dependence in the lower tail only."""
    rng = np.random.default_rng(seed)
    u, w = rng.uniform(size=n), rng.uniform(size=n)
    v = ((w ** (-theta / (1 + theta)) - 1) * u ** (-theta) + 1) ** (-1 / theta)
    return pd.DataFrame(
        0.01 * np.column_stack([norm.ppf(u), norm.ppf(v)]),
        index=pd.bdate_range("1990-01-01", periods=n),
        columns=["EQ", "BOND"],
    )


@pytest.mark.parametrize(
    ("rho", "h", "k", "side"),
    [
        (0.5, 0.5, 0.5, "above"),
        (0.5, -1.0, -0.5, "below"),
        (-0.3, 1.2, 0.3, "above"),
        (0.8, 0.0, 0.0, "below"),
    ],
)
def test_normal_benchmark_matches_a_monte_carlo(rho, h, k, side):
    z = np.random.default_rng(11).multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=2_000_000)
    inside = (z[:, 0] > h) & (z[:, 1] > k) if side == "above" else (z[:, 0] < h) & (z[:, 1] < k)
    simulated = np.corrcoef(z[inside].T)[0, 1]
    # Monte Carlo standard error of a correlation on >= 100,000 points is below 0.003
    assert normal_exceedance_corr(rho, h, k, side) == pytest.approx(simulated, abs=0.01)


def orthant_by_quadrature(h: float, k: float, rho: float) -> float:
    """P(X > h, Y > k) as a one-dimensional integral, int_h^inf phi(x) P(Y > k | x) dx, by
    adaptive quadrature to ~1e-15: a reference independent of both the code and scipy.stats
    (whose multivariate_normal.cdf is a quasi-Monte Carlo integration to 1e-5 in general; in
    two dimensions scipy 1.17 calls Genz's BVNU, exact to rounding, older versions did not)."""
    import math

    from scipy import integrate

    s = math.sqrt(1.0 - rho * rho)

    def integrand(x):
        return (
            math.exp(-0.5 * x * x)
            / math.sqrt(2.0 * math.pi)
            * 0.5
            * math.erfc((k - rho * x) / s / math.sqrt(2))
        )

    value, error = integrate.quad(integrand, h, math.inf, epsabs=1e-15, epsrel=1e-13, limit=200)
    assert error < 1e-13
    return value


def test_the_bivariate_normal_orthant_is_exact_on_a_grid():
    """Owen's T formula against quadrature over correlations, thresholds of either sign,
    zero thresholds (its special cases) and the quantiles the curve uses."""
    from corrflow.analytics.correlation.exceedance import bivariate_normal_upper

    thresholds = (-3.0, -1.6448536269514722, -0.5, 0.0, 0.3, 1.0, 2.5)
    worst = 0.0
    for rho in (-0.99, -0.9, -0.5, -0.1, 0.0, 0.1, 0.5, 0.9, 0.99):
        for h in thresholds:
            for k in (*thresholds, 3.0):
                worst = max(worst, abs(bivariate_normal_upper(h, k, rho) - orthant_by_quadrature(h, k, rho)))
    assert worst < 1e-12


def test_quantiles_and_the_chi_square_tail_equal_scipy_stats():
    """The normal quantile from the standard library and the chi-square tail from
    scipy.special give scipy.stats' numbers (without importing it in the step)."""
    from statistics import NormalDist

    from scipy.special import chdtrc
    from scipy.stats import chi2

    for q in (0.001, 0.05, 0.25, 0.5, 0.8, 0.95, 0.999):
        assert NormalDist().inv_cdf(q) == pytest.approx(norm.ppf(q), rel=1e-14, abs=1e-15)
    for df in (1, 2, 3, 4):
        for statistic in (0.0, 0.01, 1.5, 7.8, 44.6, 200.0):
            assert chdtrc(df, statistic) == pytest.approx(chi2.sf(statistic, df), rel=1e-14, abs=1e-300)


def test_normal_benchmark_falls_towards_the_tails_and_is_symmetric():
    values = [normal_exceedance_corr(0.5, norm.ppf(q), side="below") for q in (0.05, 0.25, 0.5)]
    assert values[0] < values[1] < values[2] < 0.5
    assert normal_exceedance_corr(0.5, -0.7, side="below") == pytest.approx(
        normal_exceedance_corr(0.5, 0.7, side="above"), abs=1e-12
    )


def test_bivariate_normal_keeps_to_the_benchmark_and_is_not_rejected():
    returns = normal_pair(8000, 0.4, seed=5)
    curve = exceedance_curve(returns)
    enough = curve[curve["count"] >= 300]
    assert len(enough) >= 12
    # sampling error of a correlation on >= 300 points is about 0.06
    assert (enough["corr"] - enough["normal_corr"]).abs().mean() < 0.04
    assert hong_tu_zhou(returns)["p_value"] > 0.05
    # the test's size: at 5 %, about 5 % of normal samples are rejected (0.025 in a 40-seed run)
    rejected = [hong_tu_zhou(normal_pair(2000, 0.4, seed=100 + s))["p_value"] < 0.05 for s in range(30)]
    assert np.mean(rejected) <= 0.15


def test_clayton_copula_is_rejected_and_the_fall_side_is_stronger():
    returns = clayton_pair(3000, 1.5, seed=9)
    test = hong_tu_zhou(returns)
    assert test["p_value"] < 0.001 and test["df"] == 4
    assert np.mean(test["corr_below"]) > np.mean(test["corr_above"]) + 0.2
    curve = exceedance_curve(returns)
    low = curve[(curve["side"] == "below") & (curve["quantile"] == 0.1)].iloc[0]
    high = curve[(curve["side"] == "above") & (curve["quantile"] == 0.9)].iloc[0]
    assert low["corr"] > low["normal_corr"] + 0.2 and low["corr"] > high["corr"] + 0.2
    sentence = asymmetry_sentence("EQ-BOND", "full", {"status": "ok", "first": "a", "last": "b", **test})
    assert "rejects" in sentence and "joint falls" in sentence


def test_no_sentence_where_symmetry_is_not_rejected():
    test = {"status": "ok", "first": "a", "last": "b", **hong_tu_zhou(normal_pair(8000, 0.4, seed=5))}
    assert test["p_value"] > 0.05 and asymmetry_sentence("EQ-BOND", "full", test) is None


def test_one_curve_equals_a_plain_pandas_computation():
    returns = clayton_pair(1500, 0.8, seed=21)
    curve = exceedance_curve(returns, min_count=5)
    z = (returns - returns.mean()) / returns.std(ddof=0)
    for row in curve.itertuples():
        ta, tb = z["EQ"].quantile(row.quantile), z["BOND"].quantile(row.quantile)
        if row.side == "below":
            inside = z[(z["EQ"] < ta) & (z["BOND"] < tb)]
        else:
            inside = z[(z["EQ"] > ta) & (z["BOND"] > tb)]
        assert row.count == len(inside)
        assert row.threshold_a == pytest.approx(ta, abs=1e-12)
        assert row.corr == pytest.approx(inside["EQ"].corr(inside["BOND"]), abs=1e-12)
    assert curve["unconditional_corr"].iloc[0] == pytest.approx(
        returns["EQ"].corr(returns["BOND"]), abs=1e-12
    )


def test_too_few_days_give_no_correlation_but_the_count():
    curve = exceedance_curve(normal_pair(300, 0.4, seed=1), min_count=20)
    tail = curve[curve["quantile"] == 0.05]
    assert (tail["count"] < 20).all() and tail["corr"].isna().all()


def test_eras_and_the_tidy_table():
    returns = normal_pair(9000, 0.4, seed=3)  # 1990-01-01 .. 2024-06
    names = [name for name, _, _ in eras(returns.index)]
    assert names == ["full", "before 2000", "since 2000", "last 10 years"]
    table, tests = pair_exceedance(returns, "EQ:BOND")
    assert list(table.columns) == COLUMNS
    assert set(table["era"]) == set(names) and set(tests) == set(names)
    before = table[table["era"] == "before 2000"]
    assert before["last"].iloc[0] < "2000-01-01" and before["days"].iloc[0] == len(returns.loc[:"1999-12-31"])
    recent = tests["last 10 years"]
    assert pd.Timestamp(recent["first"]) > returns.index[-1] - pd.DateOffset(years=10)
    short, short_tests = pair_exceedance(returns.iloc[:100], "EQ:BOND")
    assert short.empty and short_tests["full"]["status"].startswith("skipped")


def full_curve(left_corr, right_corr, normal=-0.05):
    """An exceedance.csv era as the step writes it: 10 thresholds a side, the given
    correlations, the normal benchmark flat at ``normal``."""
    quantiles = np.round(np.arange(0.05, 1.0, 0.05), 2)
    rows = [("below", q, left_corr[k]) for k, q in enumerate(q for q in quantiles if q <= 0.5)]
    rows += [("above", q, right_corr[k]) for k, q in enumerate(q for q in quantiles if q >= 0.5)]
    return pd.DataFrame(
        [
            {"pair": "A:B", "era": "full", "side": s, "quantile": q, "corr": c, "normal_corr": normal}
            for s, q, c in rows
        ]
    )


@pytest.mark.parametrize(
    "left, right, p, says, never",
    [
        # SPY-TLT: +0.16..+0.51 on both sides, p = 0.68: volatility and regimes, not crashes
        (
            0.3,
            0.3,
            0.68,
            ["on both sides", "not crashes alone", "p = 0.68, does not reject"],
            "rises in joint falls",
        ),
        # left above, right at the normal line: the crash effect, with the test's p
        (
            0.3,
            -0.1,
            0.001,
            ["on the left and not on the right", "rises in joint falls", "p = 0.001, rejects"],
            "both sides",
        ),
        (
            0.35,
            0.12,
            0.0001,
            ["on both sides", "further on the left", "p < 0.001", "joint falls raise"],
            "not crashes",
        ),
        (-0.1, 0.3, 0.01, ["on the right and not on the left", "not in joint falls"], "both sides"),
        (-0.1, -0.1, 0.5, ["not above the normal line on either side"], "rises in joint falls"),
    ],
)
def test_the_report_sentence_says_what_the_curve_shows(left, right, p, says, never):
    from corrflow.present.figures.exceedance import curve_reading

    curve = full_curve([left] * 10, [right] * 10)
    sentence = curve_reading(curve, {"status": "ok", "p_value": p}, "A-B")
    assert sentence.startswith("A-B (full sample): ")
    for words in says:
        assert words in sentence, (words, sentence)
    assert never not in sentence


def test_a_side_with_one_dipping_tail_still_counts_as_above_and_too_few_points_say_nothing():
    from corrflow.present.figures.exceedance import curve_reading

    right = [0.2] * 9 + [-0.3]  # the 95 % tail, on tens of days, below the normal's
    assert "on both sides" in curve_reading(full_curve([0.3] * 10, right), {"p_value": 0.5}, "A-B")
    sparse = full_curve([np.nan] * 8 + [0.3, 0.3], [0.3] * 10)
    assert curve_reading(sparse, {"p_value": 0.5}, "A-B") is None
