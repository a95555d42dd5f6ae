"""Modelling (task G): statsmodels agreement, walk-forward without look-ahead, metrics."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from corrflow.analytics.model import FEATURES, fit_ols_hac, forecast_metrics, model_frame, walk_forward


def synthetic(n=900, seed=5, loading=0.3):
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2005-01-03", periods=n)
    common = rng.normal(size=n)
    returns = pd.DataFrame(
        {"A": common + rng.normal(size=n), "B": loading * common + rng.normal(size=n)}, index=index
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
    metrics = forecast_metrics(forecasts, 21)
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
    metrics = forecast_metrics(forecasts, 21)
    scored = forecasts.dropna(subset=["target", "logit"])
    brier = ((scored["logit"] - scored["positive"]) ** 2).mean()
    assert metrics["logit"]["brier"] == pytest.approx(brier, rel=1e-12)
    assert set(metrics) >= {"logit", "last_sign", "historical_share", "positive_share"}


def test_logit_that_cannot_be_fitted_on_a_training_window_leaves_nan_and_is_counted():
    rng = np.random.default_rng(5)
    n = 900
    index = pd.bdate_range("2005-01-03", periods=n)
    common = rng.normal(size=n)
    loading = np.where(np.arange(n) < 700, 0.4, -0.6)  # positive for the first fits, negative at the end
    returns = pd.DataFrame(
        {"A": common + rng.normal(size=n), "B": loading * common + rng.normal(size=n)}, index=index
    )
    corr = returns["A"].rolling(60, min_periods=60).corr(returns["B"])
    forecasts = walk_forward(model_frame(returns, corr, "A", "B", 21), 21, 0.6)
    assert forecasts.attrs["logit_failures"] > 0 and forecasts["logit"].isna().any()
    assert forecasts["model"].notna().all()  # the OLS forecast is unaffected


def test_logit_is_skipped_with_a_reason_when_the_sign_never_changes():
    from corrflow.analytics.model import logit_skip_reason

    returns, corr = synthetic(loading=1.0)  # the correlation is positive on every day
    assert (corr.dropna() > 0).all()
    frame = model_frame(returns, corr, "A", "B", 21)
    reason = logit_skip_reason(frame, "A-B (60-day)")
    assert reason.startswith("the A-B (60-day) correlation 2005-") and "is positive on all" in reason
    assert reason.endswith("so there is no sign change to predict")
    forecasts = walk_forward(frame, 21, 0.6, "A-B (60-day)")
    assert "logit" not in forecasts and forecasts.attrs["logit_failures"] == 0
    assert "logit" not in forecast_metrics(forecasts, 21)


def write_inputs(tmp_path, returns, corr):
    from corrflow.data.contracts import write_parquet

    features = returns.rename(columns=lambda c: f"ret:{c}")
    features.index.name = "date"
    write_parquet(features, tmp_path / "features.parquet", {})
    corr.rename("A:B:60").rename_axis("date").to_frame().to_csv(tmp_path / "rolling_corr.csv")


def run_model(tmp_path, *extra):
    from corrflow.analytics.model import run
    from corrflow.cli import parse_step_arguments
    from corrflow.steps import STEPS

    (tmp_path / "models").mkdir(exist_ok=True)
    arguments, *_ = parse_step_arguments(
        STEPS["model"],
        [
            "--features",
            str(tmp_path / "features.parquet"),
            "--corr",
            str(tmp_path / "rolling_corr.csv"),
            "--pair",
            '["A","B"]',
            "--window",
            "60",
            "--model",
            str(tmp_path / "models/corr_forecast.pkl"),
            "--logit",
            str(tmp_path / "models/comove_logit.pkl"),
            "--metrics",
            str(tmp_path / "models/metrics.json"),
            *extra,
        ],
    )
    run(**arguments)
    import json

    return json.loads((tmp_path / "models/metrics.json").read_text())


def test_model_runs_through_when_the_correlation_never_changes_sign(tmp_path):
    """Used to crash (LinAlgError / perfect separation) in the final Logit fit."""
    import pickle

    returns, corr = synthetic(loading=1.0)
    assert (corr.dropna() > 0).all()
    write_inputs(tmp_path, returns, corr)
    metrics = run_model(tmp_path)
    assert "no sign change to predict" in metrics["logit_skipped"] and "logit" not in metrics
    with open(tmp_path / "models/comove_logit.pkl", "rb") as handle:
        assert pickle.load(handle) == {"skipped": metrics["logit_skipped"]}
    assert metrics["model"]["rmse"] > 0


def test_today_forecast_is_the_final_fit_with_its_prediction_interval(tmp_path):
    from corrflow.analytics.model import today_forecast

    returns, corr = synthetic()
    frame = model_frame(returns, corr, "A", "B", 21)
    final = fit_ols_hac(frame.dropna(), 21)
    forecast = today_forecast(final, frame, 21)
    last = frame.dropna(subset=FEATURES).iloc[[-1]]
    expected = final.get_prediction(sm.add_constant(last[FEATURES], has_constant="add")).summary_frame(
        alpha=0.1
    )
    assert forecast["date"] == str(frame.index[-1].date()) and forecast["current"] == corr.iloc[-1]
    assert forecast["value"] == pytest.approx(expected["mean"].iloc[0], rel=1e-12)
    assert forecast["lower"] == pytest.approx(expected["obs_ci_lower"].iloc[0], rel=1e-12)
    assert forecast["lower"] < forecast["value"] < forecast["upper"] and forecast["level"] == 0.9
    assert forecast["target_date"] == str((frame.index[-1] + pd.offsets.BDay(21)).date())
    write_inputs(tmp_path, returns, corr)
    assert run_model(tmp_path)["forecast"] == pytest.approx(forecast)


def test_the_forecast_target_counts_the_pairs_sessions_not_weekdays():
    """21 NYSE sessions after Friday 2026-06-05 skip Juneteenth and July 3: 2026-07-08, not
    the 21st weekday (07-06); with a Tokyo leg, the days both markets open (the pair's days)."""
    import pandas_market_calendars as mcal

    from corrflow.analytics.model import leg_calendars, sessions_ahead

    day = pd.Timestamp("2026-06-05")
    assert sessions_ahead(day, 21, ["NYSE", "NYSE"]) == pd.Timestamp("2026-07-08")
    assert sessions_ahead(day, 21, [None, None]) == pd.Timestamp("2026-07-06")  # no calendar known
    both = None
    for name in ("NYSE", "XTKS"):
        days = mcal.get_calendar(name).valid_days("2026-06-06", "2026-09-30").tz_localize(None).normalize()
        both = days if both is None else both.intersection(days)
    assert sessions_ahead(day, 21, ["NYSE", "XTKS"]) == both[20]
    assert leg_calendars({"series": {"A": {"calendar": "XTKS"}}}, "A", "B") == ["XTKS", None]


def test_too_few_usable_days_names_the_pair_and_the_cause(tmp_path):
    from corrflow.io import InputDataError

    returns, corr = synthetic(n=110)
    write_inputs(tmp_path, returns, corr)
    with pytest.raises(InputDataError) as error:
        run_model(tmp_path)
    message = str(error.value)
    first, last = corr.dropna().index[[0, -1]].date
    assert message.startswith(f"model: pair A-B (60-day) has 51 usable days ({first} .. {last})"), message
    assert "rolling correlation and 21-day volatilities of both legs" in message and "`model.pair`" in message


def test_diebold_mariano_matches_a_hac_regression_on_a_known_case():
    """DM with h-1 Newey-West lags is the t-statistic of the mean loss difference from a
    regression on a constant with Bartlett HAC errors (no small-sample correction)."""
    from corrflow.analytics.model import diebold_mariano, newey_west_variance

    rng = np.random.default_rng(21)
    n, horizon = 600, 21
    shocks = rng.normal(size=n + horizon)
    overlapping = np.convolve(shocks, np.ones(horizon), mode="valid")[:n]  # MA(20): 21-day overlap
    loss_model = 1.0 + 0.1 * overlapping + 0.2 * rng.normal(size=n)
    loss_baseline = 1.3 + 0.1 * overlapping + 0.2 * rng.normal(size=n)
    result = diebold_mariano(loss_model, loss_baseline, horizon)
    d = loss_model - loss_baseline
    regression = sm.OLS(d, np.ones(n)).fit(
        cov_type="HAC", cov_kwds={"maxlags": horizon - 1, "use_correction": False}
    )
    assert result["statistic"] == pytest.approx(regression.tvalues[0], rel=1e-10)
    assert result["p_value"] == pytest.approx(regression.pvalues[0], rel=1e-8)
    assert result["lags"] == 20 and result["days"] == n and result["statistic"] < 0
    # with no lags: the plain variance (divisor n); overlap makes the plain test overconfident
    assert newey_west_variance(d, 0) == pytest.approx(d.var(), rel=1e-12)
    assert newey_west_variance(overlapping, 20) > 5 * newey_west_variance(overlapping, 0)
    same = diebold_mariano(loss_model, loss_model, horizon)
    assert same["statistic"] is None and same["p_value"] is None  # identical forecasts: nothing to test
    # the check at the window's overlap: the same test at W + h - 1 lags
    checked = diebold_mariano(loss_model, loss_baseline, horizon, window=60)
    longer = sm.OLS(d, np.ones(n)).fit(cov_type="HAC", cov_kwds={"maxlags": 80, "use_correction": False})
    assert checked["lags_long"] == 80 and checked["p_value"] == result["p_value"]
    assert checked["statistic_long"] == pytest.approx(longer.tvalues[0], rel=1e-10)
    assert checked["p_value_long"] == pytest.approx(longer.pvalues[0], rel=1e-8)
    assert "p_value_long" not in result


def test_metrics_carry_brier_skill_and_diebold_mariano_tests():
    rng = np.random.default_rng(8)
    n = 1500
    index = pd.bdate_range("2000-01-03", periods=n)
    common = rng.normal(size=n)
    loading = np.sin(2 * np.pi * np.arange(n) / 250)
    returns = pd.DataFrame(
        {"A": common + rng.normal(size=n), "B": loading * common + rng.normal(size=n)}, index=index
    )
    corr = returns["A"].rolling(60, min_periods=60).corr(returns["B"])
    forecasts = walk_forward(model_frame(returns, corr, "A", "B", 21), 21, 0.6)
    metrics = forecast_metrics(forecasts, 21, 60)
    for baseline in ("last_sign", "historical_share"):
        skill = metrics["logit"][f"brier_skill_vs_{baseline}"]
        assert skill == pytest.approx(1 - metrics["logit"]["brier"] / metrics[baseline]["brier"], rel=1e-12)
        assert metrics[f"dm_logit_vs_{baseline}"]["days"] == metrics["logit"]["days"]
    dm = metrics["dm_model_vs_last_value"]
    assert dm["lags"] == 20 and dm["days"] == metrics["test_days"] and 0 <= dm["p_value"] <= 1
    assert dm["lags_long"] == 80 and 0 <= dm["p_value_long"] <= 1
    assert np.sign(dm["statistic"]) == np.sign(metrics["model"]["rmse"] - metrics["last_value"]["rmse"])


def test_the_verdict_follows_the_evidence():
    """Better Brier but a lower hit rate: the section says both and does not dismiss the
    Logit on hit rate; an RMSE gain without a significant test is not called a win."""
    import copy

    from corrflow.present.report import model_section
    from report_fixtures import METRICS

    metrics = copy.deepcopy(METRICS)
    metrics["model"]["rmse"] = 0.138  # 8 % below the last value's 0.15 ...
    metrics["dm_model_vs_last_value"] = {"statistic": -1.1, "p_value": 0.27, "lags": 20, "days": 300}
    metrics["logit"] |= {"brier": 0.096, "brier_skill_vs_last_sign": 1 - 0.096 / 0.124}
    metrics["logit"]["brier_skill_vs_historical_share"] = 1 - 0.096 / 0.2
    metrics["last_sign"]["brier"] = 0.124
    metrics["dm_logit_vs_last_sign"] = {"statistic": -2.9, "p_value": 0.0037, "lags": 20, "days": 300}
    metrics["dm_logit_vs_historical_share"] = {"statistic": -4.0, "p_value": 0.00006, "lags": 20, "days": 300}
    text = "\n".join(model_section(metrics))
    assert "8% below the last-value rule" in text
    assert "Diebold-Mariano" in text and "p = 0.27" in text and "not significant at 5%" in text
    assert "no evidence that the model forecasts better than today's value" in text
    assert "| logit | 0.0960 | +23% | +52% | 90.0% |" in text  # Brier, skill vs last sign / share, hit rate
    assert "p = 0.0037" in text and "better probabilities than today's sign" in text
    assert "today's sign is as good a guide" not in text  # the old verdict on hit rate alone
    significant = copy.deepcopy(metrics)
    significant["dm_model_vs_last_value"]["p_value"] = 0.01
    assert "significant at 5%" in "\n".join(model_section(significant))
    assert "no evidence" not in "\n".join(model_section(significant)).split("| probability")[0]


def test_a_difference_significant_only_at_h_minus_1_lags_is_not_called_significant():
    """The quant's finding: the Logit's p = 0.027 at 20 lags was 0.05-0.055 at 60-120: the
    60-day targets overlap past h - 1 days. Significant only when the check at W + h - 1
    lags agrees; the section says the p at both."""
    import copy

    from corrflow.present.report import model_section
    from report_fixtures import METRICS

    metrics = copy.deepcopy(METRICS)
    metrics["logit"] |= {"brier": 0.094, "brier_skill_vs_last_sign": 1 - 0.094 / 0.124}
    metrics["last_sign"]["brier"] = 0.124
    borderline = {"statistic": -2.2, "p_value": 0.027, "lags": 20, "days": 2356}
    borderline |= {"statistic_long": -1.9, "p_value_long": 0.055, "lags_long": 80}
    metrics["dm_logit_vs_last_sign"] = borderline
    metrics.pop("persistence", None)
    text = "\n".join(model_section(metrics))
    assert (
        "p = 0.027 over 2356 days, Newey-West variance with 20 lags for the overlapping targets: not "
        "significant at 5% once the window's overlap is counted (p = 0.055 with 80 lags)" in text
    )
    assert "the Logit's lower Brier score is not evidence of better probabilities" in text
    metrics["dm_logit_vs_last_sign"] = borderline | {"p_value_long": 0.01}
    text = "\n".join(model_section(metrics))
    assert "with 20 lags for the overlapping targets: significant at 5%" in text
    assert "better probabilities than today's sign" in text


def test_the_model_frame_is_on_the_pairs_days_when_a_24_7_series_makes_every_day_a_row():
    """A coin elsewhere in the universe makes weekends rows of features.parquet, where the
    weekday legs have no return: volatilities, the 21-day correlation and the horizon are
    on the pair's own days (weekdays), as if the coin were not there."""
    import numpy as np
    import pandas as pd

    from corrflow.analytics.model import model_frame

    rng = np.random.default_rng(5)
    every_day = pd.date_range("2020-01-01", periods=400, freq="D")
    weekdays = every_day[every_day.day_of_week < 5]
    legs = pd.DataFrame(rng.normal(0, 0.01, (len(weekdays), 2)), index=weekdays, columns=["A", "B"])
    returns = legs.reindex(every_day)
    returns["COIN"] = rng.normal(0, 0.03, len(every_day))
    corr = legs["A"].rolling(60).corr(legs["B"])
    with_coin = model_frame(returns, corr.reindex(every_day), "A", "B", 21)
    alone = model_frame(legs, corr, "A", "B", 21)
    pd.testing.assert_frame_equal(with_coin, alone)
    assert with_coin.index.equals(weekdays) and with_coin["vol_a"].notna().sum() == len(weekdays) - 20
    assert with_coin["target"].iloc[100] == corr.iloc[121]  # 21 of the pair's days ahead
    expected = legs["A"].iloc[:21].std() * np.sqrt(252) * 100
    assert abs(with_coin["vol_a"].iloc[20] - expected) < 1e-12


def test_the_brier_skill_is_measured_against_a_fitted_persistence_probability():
    """A hard 0/1 'the sign stays' forecast loses a whole point of Brier on every flip; the
    fitted persistence probability (share of positive targets given today's sign, from the
    training rows only) is the fair reference, and the report names it first."""
    from corrflow.analytics.model import persistence_probability
    from corrflow.present.report import model_section

    rng = np.random.default_rng(8)
    n = 1500
    index = pd.bdate_range("2000-01-03", periods=n)
    common = rng.normal(size=n)
    loading = np.sin(2 * np.pi * np.arange(n) / 250)
    returns = pd.DataFrame(
        {"A": common + rng.normal(size=n), "B": loading * common + rng.normal(size=n)}, index=index
    )
    corr = returns["A"].rolling(60, min_periods=60).corr(returns["B"])
    frame = model_frame(returns, corr, "A", "B", 21)
    forecasts = walk_forward(frame, 21, 0.6)
    # the first test block's persistence probability, by hand from its training rows
    usable = frame.dropna(subset=FEATURES)
    first = int(len(usable) * 0.6)
    train = usable.iloc[: first - 21].dropna(subset=["target"])
    up = train["corr"] > 0
    p_up = (train.loc[up, "target"] > 0).mean()
    p_down = (train.loc[~up, "target"] > 0).mean()
    day = usable.index[first]
    expected = p_up if usable.at[day, "corr"] > 0 else p_down
    assert forecasts.at[day, "persistence"] == pytest.approx(expected, rel=1e-12)
    assert 0 < p_down < p_up < 1  # a probability, not 0/1
    # the hard rule is beaten by more than the fitted one: its skill flatters the Logit
    metrics = forecast_metrics(forecasts, 21)
    assert metrics["persistence"]["brier"] < metrics["last_sign"]["brier"]
    assert metrics["logit"]["brier_skill_vs_persistence"] < metrics["logit"]["brier_skill_vs_last_sign"]
    assert metrics["dm_logit_vs_persistence"]["days"] == metrics["logit"]["days"]
    from report_fixtures import METRICS

    text = "\n".join(model_section({**METRICS, **metrics}))
    assert "| skill vs fitted persistence | skill vs last sign (0/1) |" in text
    assert "Against the fitted persistence probability the Logit's Brier score" in text
    # a sign never seen in training: the overall share
    only_up = pd.DataFrame({"target": [0.2, -0.1, 0.3], "corr": [0.5, 0.4, 0.6]})
    today = pd.Series([-0.3], index=[0])
    assert persistence_probability(only_up, today).iloc[0] == pytest.approx(2 / 3)
