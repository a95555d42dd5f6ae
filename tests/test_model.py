"""Modelling (task G): statsmodels agreement, walk-forward without look-ahead, metrics."""

import numpy as np
import pytest
import pandas as pd
import statsmodels.api as sm

from model import FEATURES, fit_ols_hac, forecast_metrics, model_frame, walk_forward


def synthetic(n=900, seed=5):
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2005-01-03", periods=n)
    common = rng.normal(size=n)
    returns = pd.DataFrame(
        {"A": common + rng.normal(size=n), "B": 0.3 * common + rng.normal(size=n)}, index=index
    )
    corr = returns["A"].rolling(60, min_periods=60).corr(returns["B"])
    return returns, corr


def test_fit_matches_a_direct_statsmodels_call():
    returns, corr = synthetic()
    frame = model_frame(returns, corr, "A", "B", 21).dropna()
    ours = fit_ols_hac(frame, 21)
    direct = sm.OLS(frame["target"], sm.add_constant(frame[FEATURES])).fit(
        cov_type="HAC", cov_kwds={"maxlags": 21}
    )
    np.testing.assert_allclose(ours.params, direct.params, rtol=1e-12)
    np.testing.assert_allclose(ours.bse, direct.bse, rtol=1e-12)


def test_no_look_ahead_in_features_or_forecasts():
    returns, corr = synthetic()
    frame = model_frame(returns, corr, "A", "B", 21)
    forecasts = walk_forward(frame, 21, 0.6)
    cut = forecasts.index[len(forecasts) // 2]
    changed = returns.copy()
    changed.loc[changed.index > cut] *= -3.0  # rewrite the future after `cut`
    changed_corr = changed["A"].rolling(60, min_periods=60).corr(changed["B"])
    frame2 = model_frame(changed, changed_corr, "A", "B", 21)
    forecasts2 = walk_forward(frame2, 21, 0.6)
    pd.testing.assert_frame_equal(frame.loc[:cut, FEATURES], frame2.loc[:cut, FEATURES])
    pd.testing.assert_series_equal(forecasts.loc[:cut, "model"], forecasts2.loc[:cut, "model"])
    for column in ["historical_mean", "logit", "last_sign", "historical_share"]:
        pd.testing.assert_series_equal(forecasts.loc[:cut, column], forecasts2.loc[:cut, column])
    assert not forecasts.loc[cut:, "model"].equals(forecasts2.loc[cut:, "model"])


def test_metrics_are_computed_from_the_forecasts():
    index = pd.bdate_range("2010-01-01", periods=4)
    forecasts = pd.DataFrame(
        {
            "target": [0.0, 1.0, np.nan, 0.5],
            "model": [0.0, 0.5, 0.2, 0.5],
            "last_value": [1.0, 1.0, 1.0, 1.0],
            "historical_mean": [0.0, 0.0, 0.0, 0.0],
        },
        index=index,
    )
    metrics = forecast_metrics(forecasts)
    assert metrics["test_days"] == 3
    assert metrics["model"]["rmse"] == np.sqrt(0.25 / 3) and metrics["model"]["mae"] == 0.5 / 3
    assert metrics["last_value"]["mae"] == (1 + 0 + 0.5) / 3


def test_logit_probabilities_are_scored_against_baselines():
    rng = np.random.default_rng(8)
    n = 1500
    index = pd.bdate_range("2000-01-03", periods=n)
    common = rng.normal(size=n)
    loading = np.sin(2 * np.pi * np.arange(n) / 250)  # the correlation changes sign every half cycle
    returns = pd.DataFrame(
        {"A": common + rng.normal(size=n), "B": loading * common + rng.normal(size=n)}, index=index
    )
    corr = returns["A"].rolling(60, min_periods=60).corr(returns["B"])
    forecasts = walk_forward(model_frame(returns, corr, "A", "B", 21), 21, 0.6)
    assert forecasts["logit"].between(0, 1).all() and forecasts.attrs["logit_failures"] == 0
    metrics = forecast_metrics(forecasts)
    scored = forecasts.dropna(subset=["target", "logit"])
    brier = ((scored["logit"] - scored["positive"]) ** 2).mean()
    assert metrics["logit"]["brier"] == pytest.approx(brier, rel=1e-12)
    assert set(metrics) >= {"logit", "last_sign", "historical_share", "positive_share"}


def test_logit_that_cannot_be_fitted_leaves_nan_and_is_counted():
    returns, corr = synthetic()  # the correlation is positive on every training day
    forecasts = walk_forward(model_frame(returns, corr, "A", "B", 21), 21, 0.6)
    assert forecasts.attrs["logit_failures"] > 0 and forecasts["logit"].isna().any()
    assert forecasts["model"].notna().all()  # the OLS forecast is unaffected
