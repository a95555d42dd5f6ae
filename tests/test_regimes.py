"""Regimes (task E): relative labels, sign regimes with hysteresis, Markov switching in
real time and in hindsight (no look-ahead), and the rule script's outputs."""

import numpy as np
import pandas as pd
import pytest

from corrflow.analytics.regimes import markov as _markov
from corrflow.analytics.regimes.regimes import (
    markov_views,
    own_history_percentile,
    relative_labels,
    relative_regimes,
    run_lengths,
    sign_regimes,
)
from corrflow.analytics.returns import pair_returns, series_returns
from corrflow.config.sections import Markov, Sign
from corrflow.data.contracts import markov_column
from corrflow.io import schema_defaults

SIGN = schema_defaults()["regimes"]["sign"]
MARKOV = schema_defaults()["regimes"]["markov"]


def markov_of(**overrides) -> Markov:
    """The default Markov settings with ``overrides``, as the step receives them."""
    return Markov.from_dict({**MARKOV, **overrides})


def sign_of(corr: pd.Series, **overrides) -> pd.Series:
    settings = {**SIGN, **overrides}
    return sign_regimes(
        corr, settings["enter"], settings["exit"], settings["min_days"], settings["hard_exit"]
    )


def random_correlation(seed: int, n: int = 3000, step: float = 0.08) -> pd.Series:
    """A bounded random walk that crosses zero often (the hard case for the labels)."""
    rng = np.random.default_rng(seed)
    return pd.Series(
        np.tanh(np.cumsum(rng.normal(0, step, n)) * 0.5), index=pd.bdate_range("2001-01-01", periods=n)
    )


# ---------------------------------------------------------------- relative labels


def test_own_history_percentile_matches_a_plain_loop_over_non_overlapping_windows():
    corr = random_correlation(3, 900)
    corr.iloc[[100, 101, 250]] = np.nan  # a market closed: the day has no value and no say
    percentile = own_history_percentile(corr, 20, 30)
    observed = corr.dropna()
    for t in [300, 617, 896]:
        past = observed.iloc[t - 20 :: -20].to_numpy()[:30]  # 20, 40, ... observations back
        today = observed.iloc[t]
        expected = 100 * ((past < today).sum() + 0.5 * (past == today).sum()) / len(past)
        assert percentile[observed.index[t]] == pytest.approx(expected, abs=1e-12)
    # fewer than half the history (15 past windows): no label yet
    assert percentile.loc[: observed.index[20 * 15 - 1]].isna().all()
    assert percentile.iloc[[100, 101, 250]].isna().all()


def test_relative_labels_say_low_or_high_against_its_own_past_not_the_sign():
    percentile = pd.Series([1.0, 2.4, 50.0, 97.5, 97.6, np.nan])
    labels = relative_labels(percentile, 2.5)
    assert labels.iloc[:5].tolist() == [
        "unusually low",
        "unusually low",
        "normal",
        "normal",
        "unusually high",
    ]
    assert pd.isna(labels.iloc[5])
    index = pd.bdate_range("2001-01-01", periods=1500)
    corr = pd.DataFrame(
        {"A:B:60": np.linspace(-0.9, -0.5, 1500), "A:B:60:lo95": 0.0, "A:B:ewm30": 0.1}, index=index
    )
    regimes = relative_regimes(corr, 20, 2.5)
    assert list(regimes.columns) == ["pct:A:B:60", "relative:A:B:60"]
    # a steady rise is always above its past, though the correlation stays negative
    assert regimes["relative:A:B:60"].dropna().eq("unusually high").all()


def test_unusual_labels_are_rare_on_every_pair_of_the_snapshot(snapshot_frames):
    """'unusually high/low' on at most ~10 % (11) of a pair's days over its whole history (the
    old z-score against the past year fired on 23-25 %)."""
    from corrflow.analytics.correlation.rolling import pair_rolling_corr

    levels, metadata, _ = snapshot_frames
    for a, b in [("SPY", "TLT"), ("SPY", "DGS10"), ("SPY", "DCOILWTICO"), ("FF_MKT", "DGS10")]:
        for window in (20, 60, 120):
            corr = pair_rolling_corr(levels, metadata, a, b, window)
            labels = relative_labels(own_history_percentile(corr, window, 40), 2.5).dropna()
            assert len(labels) > 2000
            share = labels.ne("normal").mean()
            assert share <= 0.11, (a, b, window, share)


# ---------------------------------------------------------------- sign regimes


def test_sign_regimes_hysteresis_on_a_small_example():
    values = [0.0] * 3 + [0.3] * 5 + [0.1] * 3 + [-0.1] * 3 + [-0.3] * 5 + [0.5]
    index = pd.bdate_range("2020-01-01", periods=len(values))
    labels = sign_of(pd.Series(values, index=index), min_days=2, enter=0.15, exit=-0.05)
    assert labels.tolist() == (
        ["mixed"] * 3  # near zero: no sign yet
        + ["positive"] * 5  # above +0.15: positive
        + ["positive"] * 3  # 0.1 is below enter but above exit (-0.05): still positive
        + ["mixed"] * 3  # -0.1 is below exit: the regime ends; not below -0.15, so mixed
        + ["negative"] * 5  # below -0.15 once mixed has lasted min_days
        + ["positive"]  # +0.5 crosses the hard exit (+0.2): negative ends at once
    )


def test_a_regime_is_held_min_days_unless_the_sign_contradicts_it():
    values = [0.3] * 3 + [0.1, -0.1, -0.1] + [-0.25] + [0.3] * 3
    labels = sign_of(pd.Series(values, index=pd.bdate_range("2020-01-01", periods=len(values))), min_days=21)
    assert labels.tolist()[:6] == ["positive"] * 6  # held: -0.1 is below exit but within min_days
    assert labels.iloc[6] == "negative"  # -0.25 crosses -hard_exit: out at once, straight to negative
    assert labels.iloc[7:].tolist() == ["positive"] * 3  # +0.3 crosses +hard_exit the other way


@pytest.mark.parametrize("seed", range(8))
def test_no_sign_label_contradicts_the_sign_on_random_data(seed):
    corr = random_correlation(seed)
    corr.iloc[500:520] = np.nan  # closed days stay unlabelled
    labels = sign_of(corr)
    assert not ((labels == "negative") & (corr > 0.2)).any()
    assert not ((labels == "positive") & (corr < -0.2)).any()
    assert labels.iloc[500:520].isna().all() and labels.drop(labels.index[500:520]).notna().all()
    # stretches of weeks, not flicker (a regime ends early only on a crossing of +-0.2)
    assert run_lengths(labels).median() >= 15


def test_sign_regimes_only_look_back():
    corr = random_correlation(11, 800)
    cut = corr.index[400]
    changed = corr.copy()
    changed.loc[changed.index > cut] = -corr.loc[corr.index > cut]
    before, after = sign_of(corr), sign_of(changed)
    pd.testing.assert_series_equal(before.loc[:cut], after.loc[:cut])
    assert not before.loc[cut:].equals(after.loc[cut:])


def snapshot_correlation(levels, metadata, a, b, window):
    returns = pair_returns(levels, metadata["series"], a, b).dropna()
    return returns[a].rolling(window, min_periods=window).corr(returns[b]).reindex(levels.index)


def test_sign_regimes_on_the_snapshot_read_as_an_analyst_would(snapshot_frames):
    levels, metadata, _ = snapshot_frames
    corr = snapshot_correlation(levels, metadata, "SPY", "DGS10", 60)
    labels = sign_of(corr)
    assert not ((labels == "negative") & (corr > 0.2)).any()
    assert not ((labels == "positive") & (corr < -0.2)).any()
    assert run_lengths(labels).median() >= 20

    def share(span, label):
        return (labels.loc[span].dropna() == label).mean()

    assert share(slice("1993", "1997"), "positive") > 0.8  # stocks and bonds moved together
    assert share(slice("2008", "2020"), "negative") > 0.85  # bonds hedged stocks
    assert share(slice("2008", "2012"), "negative") > 0.9
    assert share(slice("2022-05", None), "positive") > 0.5  # and moved together again since 2022
    for a, b in [("SPY", "TLT"), ("FF_MKT", "DGS10")]:
        stock_bond = sign_of(snapshot_correlation(levels, metadata, a, b, 60))
        assert (stock_bond.loc["2022-05":].dropna() == "positive").mean() > 0.5, (a, b)
        assert (stock_bond.loc["2008":"2020"].dropna() == "negative").mean() > 0.85, (a, b)
    for a, b in [("SPY", "DCOILWTICO"), ("SP500", "DGS2")]:
        other = snapshot_correlation(levels, metadata, a, b, 60)
        other_labels = sign_of(other)
        assert not ((other_labels == "negative") & (other > 0.2)).any()
        assert not ((other_labels == "positive") & (other < -0.2)).any()


# ---------------------------------------------------------------- Markov switching


def simulated_switching(n=4000, seed=1):
    rng = np.random.default_rng(seed)
    state = np.zeros(n, dtype=int)
    for t in range(1, n):
        state[t] = state[t - 1] if rng.random() < 0.985 else 1 - state[t - 1]
    y = np.where(state == 0, rng.normal(-0.2, 0.1, n), rng.normal(0.3, 0.15, n))
    return pd.Series(y, index=pd.bdate_range("1995-01-02", periods=n)), state


def test_em_matches_statsmodels_maximum_likelihood():
    import statsmodels.api as sm

    y, _ = simulated_switching()
    ours = _markov.fit(y.to_numpy(), 2, "mean")
    theirs = sm.tsa.MarkovRegression(y.to_numpy(), k_regimes=2, trend="c", switching_variance=True).fit(
        disp=False
    )
    params = dict(zip(theirs.model.param_names, np.asarray(theirs.params), strict=False))
    order = np.argsort([params["const[0]"], params["const[1]"]])
    np.testing.assert_allclose(ours.mu, [params[f"const[{i}]"] for i in order], rtol=1e-3)
    np.testing.assert_allclose(ours.sigma2, [params[f"sigma2[{i}]"] for i in order], rtol=1e-3)
    stay = [params["p[0->0]"], 1 - params["p[1->0]"]]
    np.testing.assert_allclose(np.diag(ours.transition), [stay[i] for i in order], atol=1e-3)
    smoothed = np.asarray(theirs.smoothed_marginal_probabilities)[:, order]
    # statsmodels starts from the chain's steady state, EM from its own estimate: only the first days differ
    np.testing.assert_allclose(
        _markov.smoothed_probabilities(y.to_numpy(), ours)[20:], smoothed[20:], atol=1e-3
    )


def test_states_are_labelled_by_mean_and_recover_the_simulated_path():
    y, state = simulated_switching()
    frame, info = markov_views(y, "mkv:x", "mean", ["low", "high"], markov_of())
    assert info["states"]["high"]["mean"] > info["states"]["low"]["mean"]
    assert info["well_separated"] and info["separation"]["mean_gap_over_sd"] > 3
    hindsight = frame[markov_column("mkv:x", "p_hindsight", "high")]
    realtime = frame[markov_column("mkv:x", "p_realtime", "high")]
    assert ((hindsight > 0.5) == (state == 1)).mean() > 0.97
    live = realtime.notna()
    assert live.sum() > 3000 and ((realtime[live] > 0.5) == (state[live.to_numpy()] == 1)).mean() > 0.95
    assert realtime.iloc[: MARKOV["min_obs"] - 1].isna().all()
    np.testing.assert_allclose(
        frame[[markov_column("mkv:x", "p_realtime", s) for s in ("low", "high")]].dropna().sum(axis=1), 1.0
    )


def test_realtime_probabilities_do_not_change_when_later_data_does():
    y, _ = simulated_switching(n=2500, seed=4)
    settings = markov_of(min_obs=300)
    before, _ = markov_views(y, "mkv:x", "mean", ["low", "high"], settings)
    for cut in [y.index[700], y.index[1500] + pd.offsets.MonthEnd(0)]:
        cut = y.index[y.index.searchsorted(cut, side="right") - 1]
        changed = y.copy()
        changed.loc[changed.index > cut] = np.random.default_rng(9).normal(
            2.0, 1.0, (changed.index > cut).sum()
        )
        after, _ = markov_views(changed, "mkv:x", "mean", ["low", "high"], settings)
        columns = [markov_column("mkv:x", "p_realtime", s) for s in ("low", "high")]
        pd.testing.assert_frame_equal(before.loc[:cut, columns], after.loc[:cut, columns])
        hindsight = markov_column("mkv:x", "p_hindsight", "high")
        assert not before.loc[:cut, hindsight].equals(after.loc[:cut, hindsight])  # hindsight does look ahead


def test_markov_max_iter_reaches_the_real_time_first_fit():
    """Issue 27: `regimes.markov.max_iter` bounded the hindsight fit only; the real-time
    first fit ran 1000 iterations whatever the config said."""
    y, _ = simulated_switching(n=1500, seed=6)
    settings = markov_of(min_obs=300)
    columns = [markov_column("mkv:x", "p_realtime", s) for s in ("low", "high")]
    first_refit = _markov.refit_positions(y.index, settings.refit, settings.min_obs)[0]
    segment = slice(first_refit, first_refit + 10)
    frames = {}
    for max_iter in (2, settings.max_iter):
        frame, _ = markov_views(
            y, "mkv:x", "mean", ["low", "high"], markov_of(min_obs=300, max_iter=max_iter)
        )
        frames[max_iter] = frame[columns].iloc[segment].to_numpy()
    assert np.isfinite(frames[2]).all()
    assert not np.allclose(frames[2], frames[settings.max_iter])


def test_refits_happen_at_period_ends_and_warm_start_saves_iterations():
    y, _ = simulated_switching(n=2000, seed=5)
    positions = _markov.refit_positions(y.index, "ME", 504)
    assert (y.index[positions].month != y.index[np.minimum(positions + 1, len(y) - 1)].month).all()
    assert positions[0] >= 503
    _, fits = _markov.realtime_probabilities(y.to_numpy(), y.index, 2, "mean", "ME", 504)
    assert len(fits) == len(positions)
    assert np.median([f.iterations for f in fits[1:]]) < fits[0].iterations


def test_one_regime_data_is_reported_as_not_well_separated_and_flat_data_fails():
    noise = pd.Series(
        np.random.default_rng(2).normal(0, 1, 1500), index=pd.bdate_range("2000-01-03", periods=1500)
    )
    _, info = markov_views(noise, "mkv:x", "mean", ["low", "high"], markov_of(realtime=False))
    assert info["status"] == "ok" and not info["well_separated"]
    flat = pd.Series(0.0, index=noise.index)
    frame, info = markov_views(flat, "mkv:x", "mean", ["low", "high"], markov_of())
    assert info["status"].startswith("failed") and frame.isna().all().all()
    _, info = markov_views(flat.iloc[:40], "mkv:x", "mean", ["low", "high"], markov_of())
    assert info["status"].startswith("skipped")


def test_turbulent_state_covers_the_2008_crash(snapshot_frames):
    levels, metadata, _ = snapshot_frames
    returns = 100 * series_returns(levels["SPY"], metadata["series"]["SPY"])
    frame, info = markov_views(returns, "mkv:ret:SPY", "variance", ["calm", "turbulent"], markov_of())
    assert info["states"]["turbulent"]["variance"] > info["states"]["calm"]["variance"]
    for view in ("p_hindsight", "p_realtime"):
        turbulent = frame[markov_column("mkv:ret:SPY", view, "turbulent")]
        assert (turbulent.loc["2008-10-01":"2008-12-31"] > 0.5).mean() > 0.8, view
        assert (turbulent.loc["2005-01-01":"2005-12-31"] < 0.5).mean() > 0.8, view


def test_a_long_break_in_the_data_starts_the_regime_afresh():
    values = pd.Series([0.3] * 30 + [np.nan] * 15 + [0.0] * 5, index=pd.bdate_range("2020-01-01", periods=50))
    labels = sign_of(values)
    assert labels.iloc[:30].eq("positive").all() and labels.iloc[45:].eq("mixed").all()
    short = pd.Series([0.3] * 30 + [np.nan] * 3 + [0.0] * 5, index=pd.bdate_range("2020-01-01", periods=38))
    assert sign_of(short).iloc[33:].eq("positive").all()  # a few closed days are no break: still positive


def union_calendar_inputs(snapshot_frames):
    """The snapshot as the union-of-calendars data layer shapes it: NaN where a market was
    closed (bond market: Columbus and Veterans Day) and no forward fill; the rolling
    correlations NaN on days either market was closed."""
    from corrflow.data.contracts import corr_column

    levels, metadata, _ = snapshot_frames
    levels = levels.loc["2004":"2012"].copy()
    weekdays = levels.index[levels.index.day_of_week < 5]
    bond_holidays = [d for d in weekdays if (d.month, d.day_of_week) in [(10, 0)] and 8 <= d.day <= 14]
    bond_holidays += [d for d in weekdays if d.month == 11 and d.day == 11]
    levels.loc[pd.DatetimeIndex(bond_holidays), ["DGS10", "DGS2"]] = np.nan
    levels.loc["2010-06-01":"2010-06-10", "DCOILWTICO"] = np.nan  # a stretch of missing data
    metadata = {  # a new dict: the session fixture's metadata stays as it is
        "series": {
            series_id: {**spec, "calendar": "SIFMA_US" if spec["kind"] == "yield" else "NYSE"}
            for series_id, spec in metadata["series"].items()
        },
        "calendars": {"NYSE": [], "SIFMA_US": [str(d.date()) for d in bond_holidays]},
        "calendar": {"max_gap_days": 5},
    }
    corr = {}
    for a, b in [("SPY", "DGS10"), ("SPY", "DCOILWTICO")]:
        returns = pair_returns(
            levels, metadata["series"], a, b, {"DGS10": metadata["calendars"]["SIFMA_US"]}, 5
        )
        returns = returns.dropna()
        for window in (60, 20):
            corr[corr_column(a, b, window)] = returns[a].rolling(window).corr(returns[b])
    return levels, metadata, pd.DataFrame(corr).reindex(levels.index)


def test_the_rule_on_union_calendar_data_with_closed_days(snapshot_frames):
    from corrflow.analytics.correlation.exceedance import COLUMNS as EXCEEDANCE_COLUMNS
    from corrflow.analytics.regimes.regimes import RegimeSettings, build_regimes, pair_returns_of
    from corrflow.data.contracts import EPISODE_COLUMNS, HORIZON_COLUMNS

    levels, metadata, corr = union_calendar_inputs(snapshot_frames)
    defaults = schema_defaults()
    settings = {
        "primary_window": 60,
        "pairs": [["SPY", "DGS10"], ["SPY", "DCOILWTICO"]],
        "unusual_history": 40,
        "unusual_level": 2.5,
        "sign": SIGN,
        "markov": {**MARKOV, "refit": "QE"},
        "dcc": defaults["regimes"]["dcc"],
        "horizons": defaults["regimes"]["horizons"],
        "stress": {**defaults["stress"], "equity": "SPY", "bond": "DGS10", "vix": "VIXCLS"},
        "exceedance": defaults["regimes"]["exceedance"],
        "outlier_z": defaults["dq"]["outlier_z"],
    }
    regimes, info, episodes, horizons, exceedance = build_regimes(
        corr, levels, metadata, RegimeSettings.from_dict(settings)
    )
    closed = corr["SPY:DGS10:60"].isna()
    assert regimes.loc[closed, "sign:SPY:DGS10:60"].isna().all()
    assert regimes.loc[~closed, "sign:SPY:DGS10:60"].notna().all()
    assert regimes.loc["2011-10-10", ["dcc:SPY:DGS10", "pct:SPY:DGS10:60"]].isna().all()  # Columbus Day
    assert regimes.loc["2011-10-10", "dcc:SPY:DCOILWTICO"] == regimes.loc["2011-10-10", "dcc:SPY:DCOILWTICO"]
    assert {f["series"]: f["status"] for f in info["markov"]} == {
        "mkv:ret:SPY": "ok",
        "mkv:SPY:DGS10:60": "ok",
        "mkv:SPY:DCOILWTICO:60": "ok",
    }
    assert list(episodes.columns[:6]) == EPISODE_COLUMNS
    assert {"corr_before:SPY:DGS10:60", "corr_during:SPY:DGS10:60", "corr_adjusted:SPY:DGS10:60"} <= set(
        episodes
    )
    assert "corr_before:SPY:DGS10:20" not in episodes  # the primary window only
    gfc = episodes[episodes["name"].str.contains("GFC")].iloc[0]
    assert gfc["corr_during:SPY:DGS10:60"] < 0  # bonds hedged stocks in 2008
    assert list(horizons.columns) == HORIZON_COLUMNS and set(horizons["frequency"]) == {"weekly", "monthly"}
    # exceedance curves per configured pair and era, the tests in the metadata; DCC standard errors
    assert list(exceedance.columns) == EXCEEDANCE_COLUMNS
    assert set(exceedance["pair"]) == {"SPY:DGS10", "SPY:DCOILWTICO"} == set(info["exceedance"])
    full = exceedance[(exceedance["pair"] == "SPY:DGS10") & (exceedance["era"] == "full")]
    assert full["days"].iloc[0] == len(pair_returns_of(levels, metadata, "SPY", "DGS10"))
    assert info["exceedance"]["SPY:DGS10"]["full"]["p_value"] is not None
    assert 0 < info["dcc"]["SPY:DGS10"]["se_a"] < info["dcc"]["SPY:DGS10"]["a"]
    stress = regimes["stress"]
    assert stress.dtype == "boolean" and regimes["stress_reason"].notna().sum() == stress.sum()


def test_sign_settings_that_cannot_work_are_refused_naming_the_key():
    from corrflow.analytics.regimes.regimes import check_sign_settings
    from corrflow.io import InputDataError

    with pytest.raises(InputDataError, match="config key `regimes.sign`: exit"):
        check_sign_settings(Sign.from_dict({**SIGN, "enter": 0.1, "exit": 0.2}))


# ---------------------------------------------------------------- the timeline figure


def test_timeline_draws_each_markov_panel_over_its_own_data_and_keeps_short_episodes_visible():
    """A Markov panel whose data start in 1993 on a 1962 axis starts at 1993 (not a blank
    stretch that reads as P = 0), on the same date scale as the strips below; a three-day
    stress run on a 64-year axis is drawn at least the minimum width."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from corrflow.present.figures._style import MIN_EPISODE_SHARE
    from corrflow.present.figures.regimes import draw_regime_timeline

    dates = pd.bdate_range("1962-01-02", "2026-06-30")
    p = pd.Series(0.5 + 0.4 * np.sin(np.arange(len(dates)) / 300.0), index=dates)
    late = p.where(dates >= "1993-01-29")
    regimes = pd.DataFrame(
        {
            markov_column("mkv:ret:FF_MKT", "p_realtime", "turbulent"): p,
            markov_column("mkv:ret:FF_MKT", "p_realtime", "calm"): 1 - p,
            markov_column("mkv:ret:SPY", "p_realtime", "turbulent"): late,
            markov_column("mkv:ret:SPY", "p_realtime", "calm"): 1 - late,
            markov_column("mkv:ret:SPY", "p_hindsight", "turbulent"): late,
            markov_column("mkv:ret:SPY", "p_hindsight", "calm"): 1 - late,
            "stress": dates.isin(pd.bdate_range("2025-04-03", "2025-04-07")),
        },
        index=dates,
    )
    fig = draw_regime_timeline(regimes, {"markov": []}, [])
    try:
        full, spy, _sign, stress = fig.axes[:4]
        assert "from 1993" in spy.get_title("left") and "from" not in full.get_title("left")

        def pixel_x(ax, day):
            return ax.transData.transform((matplotlib.dates.date2num(pd.Timestamp(day)), 0))[0]

        fig.canvas.draw()
        # the late panel's left edge is 1993-01-29 on the stress strip's scale; both end together
        assert spy.get_xlim()[0] == pytest.approx(matplotlib.dates.date2num(pd.Timestamp("1993-01-29")))
        for day in ("1993-01-29", "2010-06-30", "2026-06-30"):
            assert pixel_x(spy, day) == pytest.approx(pixel_x(stress, day), abs=0.5)
        assert pixel_x(full, "1962-01-02") == pytest.approx(pixel_x(stress, "1962-01-02"), abs=0.5)
        (run,) = [patch for patch in stress.patches]
        width = run.get_width() if hasattr(run, "get_width") else np.ptp(run.get_xy()[:, 0])
        axis_days = matplotlib.dates.date2num(dates[-1]) - matplotlib.dates.date2num(dates[0])
        assert width >= MIN_EPISODE_SHARE * axis_days * (1 - 1e-9)
        assert width > 10  # three business days would be 5 days wide: widened to stay visible
    finally:
        plt.close(fig)


def test_exceedance_pairs_on_request_every_pair_of_the_universe():
    from corrflow.analytics.regimes.regimes import exceedance_pairs

    levels = pd.DataFrame(columns=["SPY", "TLT", "DGS10", "GLD"], dtype="float64")
    configured = [["SPY", "TLT"], ["DGS10", "SPY"], ["SPY", "NOPE"]]
    assert exceedance_pairs(levels, configured, False) == [("SPY", "TLT"), ("DGS10", "SPY")]
    every = exceedance_pairs(levels, configured, True)
    assert every[:2] == [("SPY", "TLT"), ("DGS10", "SPY")] and len(every) == 6  # 4 series: 6 pairs, each once
    assert ("SPY", "DGS10") not in every and ("TLT", "GLD") in every


def test_dqs_outlier_threshold_reaches_the_stress_rules(snapshot_frames, monkeypatch):
    """`dq.outlier_z` is the rule's param `outlier_z`: the stress rules screen data errors
    with the user's threshold (they read the schema's default before, whatever was set)."""
    from corrflow.analytics.regimes import stress as stress_module
    from corrflow.analytics.regimes.regimes import RegimeSettings, build_regimes

    levels, metadata, corr = union_calendar_inputs(snapshot_frames)
    defaults = schema_defaults()
    seen = []
    real = stress_module.without_data_errors
    monkeypatch.setattr(
        stress_module,
        "without_data_errors",
        lambda levels, metadata, outlier_z: seen.append(outlier_z) or real(levels, metadata, outlier_z),
    )
    settings = {
        "primary_window": 60,
        "pairs": [["SPY", "DGS10"]],
        "unusual_history": 40,
        "unusual_level": 2.5,
        "sign": SIGN,
        "markov": {**MARKOV, "enabled": False},
        "dcc": {**defaults["regimes"]["dcc"], "enabled": False},
        "horizons": {**defaults["regimes"]["horizons"], "enabled": False},
        "stress": {**defaults["stress"], "equity": "SPY", "bond": "DGS10", "vix": "VIXCLS"},
        "exceedance": {**defaults["regimes"]["exceedance"], "enabled": False},
        "outlier_z": 5.5,
    }
    _, info, *_ = build_regimes(corr, levels, metadata, RegimeSettings.from_dict(settings))
    assert seen == [5.5]
    assert "outlier_z" not in info["stress"]  # the stress settings recorded as configured


def test_the_timeline_ends_at_the_last_day_with_inputs_not_the_longest_series():
    """regimes.parquet runs to oil's last day (2026-08-18) while the equity ends 2026-06-05
    (Markov, sign and stress inputs): the title and the axis end 2026-06-05, where the stress
    flag's NA (no inputs) begins, never 08-18."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from corrflow.present.figures.regimes import draw_regime_timeline

    dates = pd.bdate_range("2020-01-02", "2026-08-18")
    p = pd.Series(0.5, index=dates).where(dates <= "2026-06-05")
    stress = pd.Series(False, index=dates, dtype="boolean").where(dates <= "2026-06-05")
    regimes = pd.DataFrame(
        {
            markov_column("mkv:ret:SPY", "p_realtime", "turbulent"): p,
            markov_column("mkv:ret:SPY", "p_realtime", "calm"): 1 - p,
            "sign:SPY:TLT:60": pd.Series("negative", index=dates, dtype="str").where(dates <= "2026-06-05"),
            "stress": stress,
        },
        index=dates,
    )
    fig = draw_regime_timeline(regimes, {"markov": []}, ["sign:SPY:TLT:60"])
    try:
        title = next(t.get_text() for t in fig.texts if t.get_text().startswith("Regimes "))
        assert title == "Regimes 2020-01-02 .. 2026-06-05"
        strip = fig.axes[-1]
        assert strip.get_xlim()[1] == pytest.approx(matplotlib.dates.date2num(pd.Timestamp("2026-06-05")))
    finally:
        plt.close(fig)


def test_the_steps_dcc_and_exceedance_import_neither_arch_nor_scipy_stats():
    """arch (~2 s: scipy.stats, statsmodels, matplotlib) and scipy.stats (~0.8 s) were the
    regimes step's largest imports; the GARCH legs, the normal quantiles, the chi-square
    tail and the bivariate normal now come from corrflow, scipy.special and the standard
    library (tests/test_dcc.py and tests/test_exceedance.py compare them with arch and
    scipy.stats)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import numpy as np, pandas as pd\n"
        "import corrflow.analytics.regimes.regimes, corrflow.analytics.regimes.stress\n"
        "import corrflow.analytics.regimes.horizons\n"
        "from corrflow.analytics.regimes.dcc import dcc_correlation\n"
        "from corrflow.analytics.correlation.exceedance import pair_exceedance\n"
        "rng = np.random.default_rng(5)\n"
        "z = rng.multivariate_normal([0, 0], [[1, 0.4], [0.4, 1]], size=1500)\n"
        "days = pd.bdate_range('2001-01-01', periods=1500)\n"
        "returns = pd.DataFrame(0.01 * z, index=days, columns=['A', 'B'])\n"
        "_, info = dcc_correlation(returns)\n"
        "table, tests = pair_exceedance(returns, 'A:B')\n"
        "assert info['converged'] and table['normal_corr'].notna().all() and tests['full']['p_value'] > 0\n"
        "heavy = ('arch', 'scipy.stats', 'statsmodels', 'matplotlib')\n"
        "print('LOADED', sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout
