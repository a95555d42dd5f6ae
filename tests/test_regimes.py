"""Regimes (task E): z-scores, Markov switching against statsmodels, stress tags,
episodes, and no look-ahead in the data-driven labels."""

import numpy as np
import pandas as pd
import statsmodels.api as sm

from regimes import (
    MARKOV_DEFAULTS,
    STRESS_DEFAULTS,
    markov_states,
    stress_episodes,
    stress_tags,
    trailing_zscore,
    zscore_labels,
    zscore_regimes,
)
from _contracts import returns_from_features


def test_trailing_zscore_matches_a_plain_loop():
    rng = np.random.default_rng(3)
    corr = pd.Series(
        np.tanh(np.cumsum(rng.normal(0, 0.05, 400))), index=pd.bdate_range("2001-01-01", periods=400)
    )
    z = trailing_zscore(corr, 50)
    for t in [50, 123, 399]:
        history = corr.iloc[t - 50 : t].to_numpy()
        expected = (corr.iloc[t] - history.mean()) / history.std(ddof=1)
        assert abs(z.iloc[t] - expected) < 1e-12
    assert z.iloc[:50].isna().all()


def test_labels_by_threshold_and_missing_stays_missing():
    z = pd.Series([-2.0, -1.5, 0.0, 1.49, 1.5, np.nan])
    labels = zscore_labels(z, 1.5)
    assert labels.iloc[:5].tolist() == ["hedge", "hedge", "neutral", "neutral", "co-move"]
    assert pd.isna(labels.iloc[5])


def test_zscore_regimes_only_score_pearson_columns():
    index = pd.bdate_range("2001-01-01", periods=300)
    corr = pd.DataFrame(
        {"A:B:60": np.linspace(-0.5, 0.5, 300), "A:B:60:lo95": 0.0, "A:B:ewm30": 0.1}, index=index
    )
    regimes = zscore_regimes(corr, 100, 1.5)
    assert list(regimes.columns) == ["z:A:B:60", "regime:A:B:60"]
    assert regimes["regime:A:B:60"].dropna().eq("co-move").all()  # a steady rise is always above its past


def test_markov_matches_a_direct_statsmodels_call_and_orders_states(snapshot_frames):
    _, _, features = snapshot_frames
    returns = 100 * returns_from_features(features)["SPY"].loc["2005":"2012"]
    frame, info = markov_states(returns, "mkv:ret:SPY", "variance", ["calm", "turbulent"], MARKOV_DEFAULTS)
    direct = sm.tsa.MarkovRegression(
        returns.dropna().to_numpy(), k_regimes=2, trend="c", switching_variance=True
    )
    direct = direct.fit(search_reps=5, maxiter=200, rng=MARKOV_DEFAULTS["seed"], disp=False)
    variances = np.asarray(direct.params)[-2:]
    turbulent = int(np.argmax(variances))
    np.testing.assert_allclose(
        frame["mkv:ret:SPY:p_smoothed:1"].dropna(),
        direct.smoothed_marginal_probabilities[:, turbulent],
        atol=1e-10,
    )
    np.testing.assert_allclose(
        frame["mkv:ret:SPY:p_filtered:1"].dropna(),
        direct.filtered_marginal_probabilities[:, turbulent],
        atol=1e-10,
    )
    assert info["states"]["turbulent"]["variance"] > info["states"]["calm"]["variance"]
    again, _ = markov_states(returns, "mkv:ret:SPY", "variance", ["calm", "turbulent"], MARKOV_DEFAULTS)
    pd.testing.assert_frame_equal(frame, again)  # seeded: the same numbers every run


def test_markov_high_variance_state_covers_the_2008_crash(snapshot_frames):
    _, _, features = snapshot_frames
    returns = 100 * returns_from_features(features)["SPY"]
    frame, _ = markov_states(returns, "mkv:ret:SPY", "variance", ["calm", "turbulent"], MARKOV_DEFAULTS)
    autumn = frame.loc["2008-09-01":"2008-12-31", "mkv:ret:SPY:state"]
    assert (autumn == "turbulent").mean() > 0.8
    assert (frame.loc["2005-01-01":"2005-12-31", "mkv:ret:SPY:state"] == "calm").mean() > 0.8


def test_markov_failure_falls_back_to_nan_with_a_reason():
    flat = pd.Series(0.0, index=pd.bdate_range("2010-01-01", periods=300))
    frame, info = markov_states(flat, "mkv:x", "variance", ["calm", "turbulent"], MARKOV_DEFAULTS)
    assert info["status"].startswith("failed") and frame["mkv:x:p_smoothed:0"].isna().all()
    short, info = markov_states(flat.iloc[:20], "mkv:x", "variance", ["calm", "turbulent"], MARKOV_DEFAULTS)
    assert info["status"].startswith("skipped")


def stress_inputs():
    index = pd.bdate_range("2020-01-01", periods=40)
    equity = pd.Series(100.0, index=index)
    equity.iloc[10:20] = [95, 90, 85, 79, 75, 78, 82, 85, 88, 90]
    levels = pd.DataFrame({"EQ": equity, "VIX": 20.0}, index=index)
    levels.loc[index[25], "VIX"] = 35.0
    returns = pd.DataFrame({"EQ": np.log(equity).diff(), "BOND": 0.0}, index=index)
    returns.iloc[30:35] = -0.01  # both fall 1 % a day for 5 days
    settings = {
        **STRESS_DEFAULTS,
        "equity": "EQ",
        "bond": "BOND",
        "vix": "VIX",
        "episodes": [{"name": "Test crisis", "start": "2020-02-20", "end": "2020-02-21"}],
    }
    return levels, returns, settings


def test_each_stress_rule_says_why():
    levels, returns, settings = stress_inputs()
    tags = stress_tags(levels, returns, settings)
    reasons = tags["stress_reason"]
    assert (
        reasons.iloc[13] == "drawdown: EQ -21% from peak"
        and reasons.iloc[14] == "drawdown: EQ -25% from peak"
    )
    assert (
        tags["stress"].iloc[15] and not tags["stress"].iloc[12] and not tags["stress"].iloc[16]
    )  # -22, -15, -18 %
    assert reasons.iloc[25] == "VIX: VIX 35.0"
    assert reasons.iloc[34] == "joint fall: EQ -4.9%, BOND -4.9% in 5 days"
    assert "episode: Test crisis" in reasons.loc["2020-02-20"]
    assert tags["stress"].sum() == tags["stress_reason"].notna().sum()


def test_stress_episodes_merge_short_gaps():
    index = pd.bdate_range("2020-01-01", periods=30)
    regimes = pd.DataFrame(
        {
            "stress": False,
            "stress_reason": pd.Series(pd.NA, index=index, dtype="str"),
            "regime:A:B:5": "neutral",
        },
        index=index,
    )
    for day in [3, 4, 8, 20]:  # 3..8 merge (gap of 3 days), 20 stands alone
        regimes.iloc[day, 0], regimes.iloc[day, 1] = True, "VIX: V 40.0"
    corr = pd.DataFrame({"A:B:5": np.linspace(0, 1, 30)}, index=index)
    episodes = stress_episodes(regimes, corr)
    assert episodes[["business_days", "stress_days"]].to_numpy().tolist() == [[6, 3], [1, 1]]
    assert episodes["reasons"].tolist() == ["VIX", "VIX"]
    assert abs(episodes["mean_corr:A:B:5"].iloc[0] - corr["A:B:5"].iloc[3:9].mean()) < 1e-15


def test_data_driven_labels_have_no_look_ahead():
    levels, returns, settings = stress_inputs()
    settings["episodes"] = []
    rng = np.random.default_rng(0)
    corr = pd.DataFrame({"A:B:5": np.tanh(np.cumsum(rng.normal(0, 0.1, 40)))}, index=levels.index)
    cut = levels.index[22]
    before = stress_tags(levels, returns, settings).join(zscore_regimes(corr, 10, 1.0))
    changed_levels, changed_returns, changed_corr = levels.copy(), returns.copy(), corr.copy()
    changed_levels.loc[changed_levels.index > cut] *= 0.3
    changed_returns.loc[changed_returns.index > cut] = -0.2
    changed_corr.loc[changed_corr.index > cut] = -0.99
    after = stress_tags(changed_levels, changed_returns, settings).join(zscore_regimes(changed_corr, 10, 1.0))
    pd.testing.assert_frame_equal(before.loc[:cut], after.loc[:cut])
    assert not before.loc[cut:].equals(after.loc[cut:])
