"""Stress episodes (task E): each rule in a sentence, one table for the universe, episodes
that do not span calm years, the VIX stand-in named, and Forbes-Rigobon correlations."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from corrflow.analytics.regimes.stress import (
    FR_ASSUMPTIONS,
    drawdown_intervals,
    episode_correlations,
    fisher_interval,
    forbes_rigobon,
    joint_fall_intervals,
    merge_intervals,
    volatility_intervals,
)
from corrflow.analytics.regimes.stress import stress_episodes as stress_rules
from corrflow.config.sections import Stress
from corrflow.data.contracts import EPISODE_COLUMNS
from corrflow.io import schema_defaults

ROOT = Path(__file__).resolve().parents[1]
# stress settings as the regimes step hands them over: with DQ's outlier threshold
STRESS = {**schema_defaults()["stress"], "outlier_z": schema_defaults()["dq"]["outlier_z"]}


def stress_episodes(levels, metadata, settings: dict, notes=None):
    """The stress rules with the settings as these tests write them (one dict, DQ's
    ``outlier_z`` in it): the Stress section and the threshold, as the regimes step passes them."""
    stress = Stress.from_dict({k: v for k, v in settings.items() if k != "outlier_z"})
    return stress_rules(levels, metadata, stress, settings["outlier_z"], notes)


def path_of(points: list[tuple[int, float]], start="2020-01-01") -> pd.Series:
    """A price path through (day, level) points, linear in between."""
    days, values = zip(*points, strict=False)
    index = pd.bdate_range(start, periods=days[-1] + 1)
    return pd.Series(np.interp(np.arange(days[-1] + 1), days, values), index=index, name="EQ")


def test_drawdown_episode_starts_on_a_fast_fall_and_ends_at_the_trough():
    prices = path_of([(0, 100), (20, 100), (40, 80), (60, 70), (80, 90), (120, 100), (140, 100)])
    (episode,) = drawdown_intervals(prices, 15, 10, 63, 0.5)
    onset = prices.index[int(np.argmax((prices / 100 - 1 <= -0.15).to_numpy()))]
    assert episode["start"] == onset  # 15 % below the peak, having fallen 15 % in under 63 days
    assert episode["end"] == prices.index[60]  # the trough, confirmed by winning back half the loss
    assert (
        "15% below its 2020-01-29 peak" in episode["reason"]
        and "trough 2020-03-25 (-30%)" in episode["reason"]
    )


def test_a_slow_grind_is_not_a_drawdown_episode_and_a_new_fall_needs_a_new_peak():
    grind = path_of([(0, 100), (600, 80)])  # -20 % over two and a half years: never -10 % in 63 days
    assert drawdown_intervals(grind, 15, 10, 63, 0.5) == []
    # fall, half recovery, second fall from the recovery: two episodes, the second from the new peak
    twice = path_of([(0, 100), (30, 80), (60, 92), (90, 75), (130, 100)])
    first, second = drawdown_intervals(twice, 15, 10, 63, 0.5)
    assert first["end"] == twice.index[30] and second["end"] == twice.index[90]
    assert "peak" in second["reason"] and str(twice.index[60].date()) in second["reason"]


def test_an_unrecovered_drawdown_runs_to_the_end_of_the_data():
    prices = path_of([(0, 100), (30, 70), (60, 72)])
    (episode,) = drawdown_intervals(prices, 15, 10, 63, 0.5)
    assert episode["end"] == prices.index[-1] and "not recovered" in episode["reason"]


def test_vix_where_it_has_data_and_realised_volatility_standing_in_elsewhere():
    index = pd.bdate_range("2010-01-01", periods=300)
    rng = np.random.default_rng(0)
    returns = pd.Series(rng.normal(0, 0.005, 300), index=index, name="EQ")
    returns.iloc[40:70] = rng.normal(0, 0.04, 30)  # ~60 % annualised, before VIX starts
    vix = pd.Series(np.nan, index=index, name="VIX")
    vix.iloc[150:] = 15.0
    vix.iloc[200:205] = 35.0
    intervals = volatility_intervals(vix, returns, 30, 21, 30, 10)
    rules = sorted(i["rule"] for i in intervals)
    assert rules == ["VIX", "realised volatility"]
    stand_in = next(i for i in intervals if i["rule"] == "realised volatility")
    assert stand_in["start"] > index[40] and stand_in["end"] < index[150]
    assert (
        "standing in for VIX" in stand_in["reason"]
        and f"VIX (VIX) has data only {index[150].date()}" in stand_in["reason"]
    )
    by_vix = next(i for i in intervals if i["rule"] == "VIX")
    assert (by_vix["start"], by_vix["end"]) == (index[200], index[204]) and "peak 35.0" in by_vix["reason"]
    # no VIX in the universe: the stand-in everywhere, and the reason says why
    (alone,) = volatility_intervals(None, returns, 30, 21, 30, 10)
    assert "no VIX series in the universe" in alone["reason"]


def test_joint_fall_covers_the_window_over_which_both_fell():
    index = pd.bdate_range("2020-01-01", periods=40)
    pair = pd.DataFrame({"EQ": 0.001, "BOND": 0.0005}, index=index)
    pair.iloc[20:25] = -0.0045  # both -2.2 % over these 5 days; no 5-day window short of them gets to -2 %
    (episode,) = joint_fall_intervals(pair, 5, 2.0, 10)
    assert episode["start"] == index[20] and episode["end"] == index[24]
    assert "EQ and BOND both down 2% or more over 5 days" in episode["reason"]


def test_overlapping_or_close_signals_form_one_episode():
    day = pd.Timestamp
    intervals = [
        {"start": day("2020-01-06"), "end": day("2020-01-10"), "rule": "VIX"},
        {"start": day("2020-01-20"), "end": day("2020-01-24"), "rule": "VIX"},  # 5 weekdays later: merged
        {"start": day("2020-03-02"), "end": day("2020-03-03"), "rule": "VIX"},  # far: its own episode
    ]
    groups = merge_intervals(intervals, 5)
    assert [len(g) for g in groups] == [2, 1]
    assert len(merge_intervals(intervals, 4)) == 3


def test_the_table_is_one_row_per_episode_with_named_ones_and_long_ones_explained():
    prices = path_of([(0, 100), (20, 100), (80, 80), (400, 45), (420, 50), (520, 100)], start="2000-01-03")
    prices.iloc[200:230] *= 1 + 0.05 * np.sin(np.arange(30))  # a volatile stretch inside the fall
    levels = pd.DataFrame({"EQ": prices})
    settings = {
        **STRESS,
        "equity": "EQ",
        "bond": None,
        "vix": None,
        "episodes": [{"name": "Test crisis", "start": "2000-06-01", "end": "2000-06-30"}],
    }
    table, tags = stress_episodes(levels, {"series": {"EQ": {"kind": "price"}}}, settings)
    assert list(table.columns) == EPISODE_COLUMNS
    (row,) = table.itertuples()  # drawdown, volatility and the named episode overlap: one episode
    assert row.name == "Test crisis" and row.business_days > 261
    assert set(row.rule.split(", ")) == {"drawdown", "named", "realised volatility"}
    assert row.reason.startswith("longer than a year: EQ kept falling")
    assert tags["stress"].sum() == row.business_days
    assert tags.loc[row.start, "stress_reason"].startswith("drawdown EQ")
    assert tags["stress_reason"].notna().sum() == tags["stress"].sum()


def snapshot_levels(*series) -> pd.DataFrame:
    frames = {
        s: pd.read_csv(ROOT / "data/sample" / f"{s}.csv", index_col="date", parse_dates=["date"])["value"]
        for s in series
    }
    return pd.DataFrame(frames).loc["1990-01-02":]


def sp500_inputs():
    """The snapshot's S&P 500, VIX and 10-year yield: (levels, metadata, stress settings)."""
    levels = snapshot_levels("SP500", "VIXCLS", "DGS10")
    metadata = {
        "series": {
            "SP500": {"kind": "price"},
            "VIXCLS": {"kind": "level"},
            "DGS10": {"kind": "yield", "maturity": 10},
        }
    }
    return levels, metadata, {**STRESS, "equity": "SP500", "bond": "DGS10", "vix": "VIXCLS"}


@pytest.fixture(scope="module")
def sp500_episodes():
    """The snapshot's S&P 500, 10-year yield and VIX, with VIX cut to 2014-01-03 .. 2019-01-03
    (what an older VIX file holds): the realised-volatility stand-in must fill in around it."""
    levels, metadata, settings = sp500_inputs()
    outside = (levels.index < "2014-01-03") | (levels.index > "2019-01-03")
    levels.loc[outside, "VIXCLS"] = np.nan
    return stress_episodes(levels, metadata, settings)


def test_no_episode_spans_calm_years_and_the_known_crises_appear(sp500_episodes):
    table, tags = sp500_episodes
    start, end = pd.to_datetime(table["start"]), pd.to_datetime(table["end"])
    calm = (start <= "2006-12-31") & (end >= "2003-06-01")
    # the calm mid-2000s: at most a week of stocks and bonds falling together, no long episode
    assert (table.loc[calm, "business_days"] <= 10).all() and (table.loc[calm, "rule"] == "joint fall").all()
    assert tags.loc["2003-06-01":"2006-12-31", "stress"].mean() < 0.02
    assert not tags.loc["2017-01-01":"2017-12-31", "stress"].any()  # and 2017
    names = " | ".join(table["name"])
    assert "Covid crash 2020" in names and "Inflation and rates 2022" in names
    covid = table[table["name"].str.contains("Covid")].iloc[0]
    assert {"drawdown", "named", "realised volatility"} <= set(
        covid["rule"].split(", ")
    )  # the cut VIX ends 2019
    long = table[table["business_days"] > 261]
    assert long["reason"].str.startswith("longer than a year: ").all() and len(long) >= 1


def test_vix_and_its_stand_in_are_named_in_the_table(sp500_episodes):
    table, _ = sp500_episodes
    assert table["rule"].str.contains("realised volatility").any() and table["rule"].str.contains("VIX").any()
    stand_in = table[table["rule"].str.contains("realised volatility")]
    assert (
        stand_in["reason"]
        .str.contains("standing in for VIX: VIX \\(VIXCLS\\) has data only 2014-01-03")
        .all()
    )
    assert pd.to_datetime(stand_in["start"]).min() < pd.Timestamp("2014-01-01")


def test_forbes_rigobon_against_the_formula_on_known_numbers():
    # rho 0.6, volatility doubled (variance x4): delta = 3, rho* = 0.6 / sqrt(1 + 3 * 0.64) = 0.6 / sqrt(2.92)
    assert forbes_rigobon(0.6, 4.0, 1.0) == pytest.approx(0.6 / np.sqrt(2.92), abs=1e-15)
    assert forbes_rigobon(0.6, 4.0, 1.0) == pytest.approx(0.351123, abs=1e-6)
    assert forbes_rigobon(-0.5, 1.0, 1.0) == -0.5  # no change in volatility, no adjustment
    assert forbes_rigobon(0.4, 0.5, 1.0) > 0.4  # calmer than before: the adjusted value is larger


def test_episode_correlations_before_during_and_adjusted():
    rng = np.random.default_rng(1)
    index = pd.bdate_range("2015-01-01", periods=400)
    pair = pd.DataFrame(rng.normal(0, 0.01, (400, 2)), index=index, columns=["EQ", "BOND"])
    pair.iloc[300:340] *= 3
    pair.iloc[300:340, 1] += 0.5 * pair.iloc[300:340, 0]
    episodes = pd.DataFrame(
        {"start": [str(index[300].date()), "2015-01-05"], "end": [str(index[339].date()), "2015-01-06"]}
    )
    values = episode_correlations(episodes, pair, 126, 10, 30)
    before, during = pair.iloc[174:300], pair.iloc[300:340]
    assert values.loc[0, "before"] == pytest.approx(
        np.corrcoef(before["EQ"], before["BOND"])[0, 1], abs=1e-12
    )
    assert values.loc[0, "during"] == pytest.approx(
        np.corrcoef(during["EQ"], during["BOND"])[0, 1], abs=1e-12
    )
    expected = forbes_rigobon(values.loc[0, "during"], during["EQ"].var(), before["EQ"].var())
    assert values.loc[0, "adjusted"] == pytest.approx(expected, abs=1e-15)
    assert values.loc[1, ["before", "during", "adjusted"]].isna().all()  # two days, two before: too short
    assert values.loc[1, "n_during"] == 2 and values.loc[1, "too_short"]


def test_unnamed_episodes_of_one_month_get_distinct_names():
    index = pd.bdate_range("2020-01-01", periods=60)
    pair = pd.DataFrame({"EQ": 0.001, "BOND": 0.0005}, index=index)
    pair.iloc[3:8] = -0.0045
    pair.iloc[15:20] = -0.0045  # a second joint fall in January, 7 weekdays after the first
    levels = pd.DataFrame(
        {"EQ": 100 * np.exp(pair["EQ"].cumsum()), "BOND": 100 * np.exp(pair["BOND"].cumsum())}
    )
    settings = {**STRESS, "equity": "EQ", "bond": "BOND", "vix": None, "episodes": [], "merge_gap_days": 3}
    metadata = {"series": {"EQ": {"kind": "price"}, "BOND": {"kind": "price"}}}
    table, _ = stress_episodes(levels, metadata, settings)
    assert table["name"].tolist() == ["joint fall 2020-01", "joint fall 2020-01 (2)"]


def test_with_the_whole_vix_history_the_crises_carry_the_vix_rule():
    table, _ = stress_episodes(*sp500_inputs())
    for name in ("GFC 2008", "Covid crash 2020"):
        episode = table[table["name"].str.contains(name)].iloc[0]
        assert "VIX" in episode["rule"].split(", "), episode["rule"]
    assert not table["rule"].str.contains("realised volatility").any()  # VIX covers the whole range


def test_an_episode_of_several_stretches_quotes_its_extremes_not_its_first_stretchs():
    """The analyst's finding: "Inflation and rates 2022 ... VIX peak 31.1 on 2021-12-01"
    (the first of six VIX stretches; the episode's peak was 36.5 on 2022-03-07) and a
    joint fall's worst moves from its first stretch. On the snapshot: every quoted VIX peak
    is the episode's highest VIX (an independent max over its days), and a joint fall's
    worst moves are each leg's lowest 5-day move over the days its stretches cover."""
    levels, metadata, settings = sp500_inputs()
    table, tags = stress_episodes(levels, metadata, settings)
    vix = levels["VIXCLS"]
    several = 0
    vix_words = re.compile(r"VIX: VIXCLS at or above 30 \(peak ([\d.]+) on ([\d-]+)\)([^;]*)")
    for _, episode in table.iterrows():
        span = slice(episode["start"], episode["end"])
        quoted = vix_words.search(episode["reason"])
        if quoted:
            assert quoted.group(1) == f"{vix.loc[span].max():.1f}", episode["name"]
            assert quoted.group(2) == str(vix.loc[span].idxmax().date()), episode["name"]
            several += "stretches" in quoted.group(3)
    assert several >= 4  # the check reaches episodes of several VIX stretches
    (inflation,) = table[table["name"] == "Inflation and rates 2022"].itertuples()
    assert "(peak 36.5 on 2022-03-07) (the most extreme of 6 stretches)" in inflation.reason
    assert "(each leg's worst over 4 stretches)" in inflation.reason


def test_a_joint_fall_of_several_stretches_quotes_each_legs_worst_move():
    from corrflow.analytics.regimes.stress import joint_fall_intervals, stretches_reason

    index = pd.bdate_range("2020-01-01", periods=120)
    pair = pd.DataFrame({"EQ": 0.001, "BOND": 0.0005}, index=index)
    pair.iloc[20:25] = [-0.0045, -0.012]  # the bond's worst fall
    pair.iloc[80:85] = [-0.010, -0.0045]  # the equity's, two months later
    parts = joint_fall_intervals(pair, 5, 2.0, 10)
    assert len(parts) == 2
    worst_equity, worst_bond = np.expm1(5 * -0.010), np.expm1(5 * -0.012)
    assert stretches_reason(parts) == (
        f"joint fall: EQ and BOND both down 2% or more over 5 days (worst {worst_equity:+.1%} and "
        f"{worst_bond:+.1%}) (each leg's worst over 2 stretches)"
    )
    assert f"{worst_bond:+.1%}" not in parts[1]["reason"] and f"{worst_equity:+.1%}" not in parts[0]["reason"]


def test_the_most_severe_drawdown_stretch_speaks_for_its_episode():
    from corrflow.analytics.regimes.stress import drawdown_intervals, stretches_reason

    # a 20 % fall to day 60, recovered by day 100; a new fall from there, 30 % to day 170
    levels = path_of([(0, 100), (20, 100), (60, 80), (100, 95), (120, 95), (170, 66.5), (230, 95)])
    parts = drawdown_intervals(levels, 15, 10, 63, 0.5)
    assert len(parts) == 2
    text = stretches_reason(parts)
    assert text == parts[1]["reason"] + " (the most extreme of 2 stretches)"
    assert "(-30%)" in text and parts[0]["reason"].endswith("(-20%)")


def test_the_baseline_leaves_out_earlier_episodes_and_each_value_has_its_interval_and_days():
    """A June-2020-like case: a second episode soon after a crash; its 'before' must be
    calm days, not the crash (which made its adjusted value look larger than during)."""
    rng = np.random.default_rng(7)
    index = pd.bdate_range("2015-01-01", periods=400)
    pair = pd.DataFrame(rng.normal(0, 0.01, (400, 2)), index=index, columns=["EQ", "BOND"])
    pair.iloc[200:240] = rng.normal(0, 0.05, (40, 1)) * [1.0, 0.9] + rng.normal(0, 0.01, (40, 2))  # the crash
    pair.iloc[260:275] *= 2  # the later, short episode
    episodes = pd.DataFrame(
        {
            "start": [str(index[200].date()), str(index[260].date())],
            "end": [str(index[239].date()), str(index[274].date())],
        }
    )
    values = episode_correlations(episodes, pair, 126, 10, 30)
    later = values.loc[1]
    calm = pd.concat([pair.iloc[94:200], pair.iloc[240:260]])  # the last 126 days outside both episodes
    assert later["n_before"] == 126 and later["baseline_start"] == str(index[94].date())
    assert later["baseline_end"] == str(index[259].date())
    assert later["before"] == pytest.approx(np.corrcoef(calm["EQ"], calm["BOND"])[0, 1], abs=1e-12)
    during = pair.iloc[260:275]
    rho = np.corrcoef(during["EQ"], during["BOND"])[0, 1]
    assert later["n_during"] == 15 and later["during"] == pytest.approx(rho, abs=1e-12)
    half = 1.959963984540054 / np.sqrt(15 - 3)  # Fisher z: se 1 / sqrt(n - 3)
    assert later["during_lo"] == pytest.approx(np.tanh(np.arctanh(rho) - half), abs=1e-12)
    assert later["during_hi"] == pytest.approx(np.tanh(np.arctanh(rho) + half), abs=1e-12)
    variances = during["EQ"].var(), calm["EQ"].var()
    assert later["adjusted"] == pytest.approx(forbes_rigobon(rho, *variances), abs=1e-12)
    assert later["adjusted_lo"] == pytest.approx(forbes_rigobon(later["during_lo"], *variances), abs=1e-12)
    assert later["adjusted_lo"] < later["adjusted"] < later["adjusted_hi"]
    assert later["too_short"] and not values.loc[0, "too_short"]  # 15 days < 30; the crash has 40
    assert values.loc[0, "n_before"] == 126 and values.loc[0, "baseline_end"] == str(index[199].date())
    assert "assumes" in FR_ASSUMPTIONS and FR_ASSUMPTIONS.count(". ") == 0  # one sentence


def test_fisher_interval_needs_four_days():
    assert np.isnan(fisher_interval(0.5, 3)).all()
    lo, hi = fisher_interval(0.0, 28)
    assert lo == pytest.approx(-np.tanh(1.959963984540054 / 5), abs=1e-12) and hi == pytest.approx(-lo)


def long_history_inputs(start: str):
    """The snapshot's SPY (1993), SP500 (1990), FF_MKT (1926), VIX and 10-year yield from ``start``,
    with the default stress settings: (levels, metadata, settings)."""
    series = ("SPY", "SP500", "FF_MKT", "VIXCLS", "DGS10")
    frames = {
        s: pd.read_csv(ROOT / "data/sample" / f"{s}.csv", index_col="date", parse_dates=["date"])["value"]
        for s in series
    }
    levels = pd.DataFrame(frames).loc[start:]
    kinds = {"VIXCLS": {"kind": "level"}, "DGS10": {"kind": "yield", "maturity": 10}}
    metadata = {"series": {s: kinds.get(s, {"kind": "price"}) for s in series}}
    return levels, metadata, {**STRESS, "equity": "SPY", "bond": "DGS10", "vix": "VIXCLS"}


def episode_on(table: pd.DataFrame, day: str) -> pd.Series:
    inside = (pd.to_datetime(table["start"]) <= day) & (pd.to_datetime(table["end"]) >= day)
    assert inside.sum() == 1, (day, table[["name", "start", "end"]])
    return table[inside].iloc[0]


def test_stress_history_reaches_back_through_the_longest_equity_series():
    """SPY starts in 1993: FF_MKT (the universe's longest equity history, found by its
    correlation with SPY) carries the rules back to 1962, so 1973-74 and 1987 are there
    by the rules' own evidence, not only as names; from 1993 SPY's own data decides."""
    table, tags = stress_episodes(*long_history_inputs("1962-01-02"))
    bear = episode_on(table, "1974-06-28")
    assert "drawdown" in bear["rule"] and "drawdown: FF_MKT" in bear["reason"]
    assert "Bear market 1973-74" in bear["name"]
    crash = episode_on(table, "1987-10-19")
    assert {"drawdown", "realised volatility"} <= set(crash["rule"].split(", "))
    assert "realised volatility: FF_MKT" in crash["reason"] and "Black Monday 1987" in crash["name"]
    assert "drawdown: SPY" in episode_on(table, "2008-11-20")["reason"]  # SPY from its own start
    assert "drawdown: SPY" in episode_on(table, "2020-03-23")["reason"]
    assert tags.loc["1974-06-28", "stress"] and "FF_MKT" in tags.loc["1974-06-28", "stress_reason"]
    for name in ("Dot-com bust 2000-02", "GFC 2008", "Covid crash 2020", "Inflation and rates 2022"):
        assert table["name"].str.contains(name, regex=False).any(), name
    # the configured history wins over the automatic choice; naming the equity itself turns it off
    levels, metadata, settings = long_history_inputs("1962-01-02")
    alone, _ = stress_episodes(levels, metadata, {**settings, "history_equity": "SPY"})
    assert pd.to_datetime(alone.loc[alone["rule"] != "named", "start"]).min() >= pd.Timestamp("1990-01-01")


def test_from_1926_the_depression_is_a_stress_episode():
    table, _ = stress_episodes(*long_history_inputs("1926-07-01"))
    depression = episode_on(table, "1931-06-01")
    assert "drawdown: FF_MKT" in depression["reason"] and "Crash and Depression 1929-32" in depression["name"]


def test_the_episodes_table_shows_n_intervals_short_episodes_and_the_assumptions(tmp_path):
    """Through the rule's columns and a CSV round trip, as the report reads them."""
    from corrflow.analytics.regimes.regimes import episode_correlation_columns
    from corrflow.present.summary import episodes_table, normalised_episodes

    rng = np.random.default_rng(3)
    index = pd.bdate_range("2015-01-01", periods=400)
    returns = pd.DataFrame(rng.normal(0, 0.01, (400, 2)), index=index, columns=["EQ", "BOND"])
    returns.iloc[300:313] *= 3
    levels = 100 * np.exp(returns.cumsum())
    episodes = pd.DataFrame(
        {
            "name": ["Long one", "Short one"],
            "start": [str(index[200].date()), str(index[300].date())],
            "end": [str(index[259].date()), str(index[312].date())],
            "business_days": [60, 13],
            "rule": ["named", "named"],
            "reason": ["test", "test"],
        }
    )
    metadata = {"series": {"EQ": {"kind": "price"}, "BOND": {"kind": "price"}}}
    stress = Stress.from_dict({k: v for k, v in STRESS.items() if k != "outlier_z"})
    table = episode_correlation_columns(episodes, levels, metadata, ["EQ:BOND:60"], stress)
    table.to_csv(tmp_path / "episodes.csv", index=False)
    rows = episodes_table(normalised_episodes(pd.read_csv(tmp_path / "episodes.csv"), {}), "EQ:BOND:60")
    assert "corr during [95%] (n)" in rows[0]
    long_row, short_row = rows[2], rows[3]
    assert "(n 126)" in long_row and "(n 60)" in long_row and "too short" not in long_row
    lo, hi = fisher_interval(table.loc[0, "corr_during:EQ:BOND:60"], 60)
    assert f"[{lo:+.2f}, {hi:+.2f}] (n 60)" in long_row
    assert short_row.endswith("| too short for inference (n 13) |")
    assert FR_ASSUMPTIONS in rows[-1] and "no stress episode" in rows[-1]


def test_the_episodes_table_keeps_the_most_severe_episodes_not_the_longest():
    """Thirteen long, mild episodes and one three-day crash that flips the pair's sign
    (Black Monday: +0.63 before, -0.05 during): the crash is in the table, the shortest
    of the mild ones (the least severe) is not, and the note says how they were chosen."""
    from corrflow.data.contracts import corr_before_column, corr_during_column
    from corrflow.present.summary import TOP_EPISODES, episodes_table

    column = "EQ:BOND:60"
    starts = pd.date_range("1970-01-01", periods=TOP_EPISODES + 1, freq="YS")
    mild = pd.DataFrame(
        {
            "name": [f"bear {d.year}" for d in starts],
            "start": [str(d.date()) for d in starts],
            "end": [str((d + pd.Timedelta(days=200)).date()) for d in starts],
            "business_days": [140 + k for k in range(len(starts))],
            "rule": "drawdown",
            "reason": "slow",
            corr_before_column(column): 0.30,
            corr_during_column(column): [0.30 + 0.01 * k for k in range(len(starts))],
        }
    )
    crash = pd.DataFrame(
        {
            "name": ["Black Monday"], "start": ["1987-10-19"], "end": ["1987-10-21"], "business_days": [3],
            "rule": ["drawdown"], "reason": ["crash"],
            corr_before_column(column): [0.63], corr_during_column(column): [-0.05],
        }
    )  # fmt: skip
    rows = episodes_table(pd.concat([mild, crash], ignore_index=True), column)
    shown = [r.split("|")[1].strip() for r in rows[2 : 2 + TOP_EPISODES]]
    assert "Black Monday" in shown and "bear 1970" not in shown  # the least severe is left out
    assert shown == sorted(shown, key=lambda n: n.split()[-1] if n != "Black Monday" else "1987")
    assert any("moved furthest from its calm baseline" in r for r in rows)


def test_the_episodes_note_counts_the_episodes_with_a_measured_correlation():
    """32 episodes in a pair's span of which 13 have a correlation during them (the rest a
    few days long): the note says "12 of the 13 ... (32 in the pair's span",
    never "12 of 32", and no unmeasured episode takes a row; with 5 of 8 measured, all 5."""
    from corrflow.data.contracts import corr_before_column, corr_during_column
    from corrflow.present.summary import TOP_EPISODES, episodes_table

    column = "EQ:BOND:60"

    def during(n_measured, n_total):  # the later the more severe; the last ones unmeasured
        return [0.3 - 0.05 * k if k < n_measured else np.nan for k in range(n_total)]

    def episodes(n_measured, n_total):
        starts = pd.date_range("1970-01-01", periods=n_total, freq="YS")
        return pd.DataFrame(
            {
                "name": [f"episode {d.year}" for d in starts],
                "start": [str(d.date()) for d in starts],
                "end": [str((d + pd.Timedelta(days=30)).date()) for d in starts],
                "business_days": 22,
                "rule": "drawdown",
                "reason": "why",
                corr_before_column(column): 0.3,
                corr_during_column(column): [
                    0.3 - 0.05 * k if k < n_measured else np.nan for k in range(n_total)
                ],
            }
        )

    rows = episodes_table(episodes(13, 32), column)
    note = next(r for r in rows if "in the pair's span" in r)
    assert f"The {TOP_EPISODES} of the 13 episodes with a correlation measured during them" in note
    assert "(32 in the pair's span;" in note and "12 of 32" not in note
    shown = [r.split("|")[1].strip() for r in rows[2 : 2 + TOP_EPISODES]]
    assert "episode 1970" not in shown and "episode 1971" in shown  # the least severe measured one out
    assert all(int(n.split()[-1]) < 1970 + 13 for n in shown)  # no unmeasured episode shown

    rows = episodes_table(episodes(5, 8), column)
    assert sum(r.startswith("| episode 19") for r in rows) == 5
    assert any(
        r.startswith("\nThe 5 episodes with a correlation measured during them (8 in the pair's span")
        for r in rows
    )


def test_forbes_rigobon_takes_the_volatility_rise_out_and_recovers_the_calm_correlation():
    """A shock that triples the first leg's volatility with the same underlying model: the
    raw correlation during the episode rises well above the calm one, the Forbes-Rigobon
    adjusted value falls back to it (within sampling error), through episode_correlations."""
    from corrflow.analytics.regimes.stress import episode_correlations

    rng = np.random.default_rng(21)
    n_calm, n_shock, beta = 3000, 3000, 0.4
    shock = np.r_[np.ones(n_calm), 3 * np.ones(n_shock)]
    x = rng.normal(size=n_calm + n_shock) * shock
    y = beta * x + rng.normal(size=n_calm + n_shock)
    index = pd.bdate_range("1990-01-01", periods=n_calm + n_shock)
    pair = pd.DataFrame({"EQ": x, "BOND": y}, index=index)
    episodes = pd.DataFrame({"start": [str(index[n_calm].date())], "end": [str(index[-1].date())]})
    row = episode_correlations(episodes, pair, n_calm, 20, 20).iloc[0]
    calm = beta / np.sqrt(beta**2 + 1)
    assert row["before"] == pytest.approx(calm, abs=0.03)
    assert row["during"] > row["before"] + 0.3  # the volatility rise alone lifts it
    assert row["adjusted"] == pytest.approx(row["before"], abs=0.04)  # adjusted-during against calm
    assert row["adjusted_lo"] < row["before"] < row["adjusted_hi"]


def test_a_blip_joins_the_episode_beside_it_and_an_isolated_one_stays():
    """A one-day VIX print 15 weekdays after a drawdown is part of that stress (one
    episode); one a year away from anything stays an episode of its own."""
    from corrflow.analytics.regimes.stress import BLIP_REACH_WEEKDAYS, Interval, merge_blips, merge_intervals

    def interval(start, end, rule):
        return Interval(start=pd.Timestamp(start), end=pd.Timestamp(end), rule=rule, reason=rule, daily={})

    drawdown = interval("2020-02-24", "2020-03-23", "drawdown")
    near_blip = interval("2020-04-14", "2020-04-14", "VIX")  # 15 weekdays after the trough
    far_blip = interval("2021-06-01", "2021-06-01", "VIX")
    groups = merge_intervals([drawdown, near_blip, far_blip], 10)
    assert len(groups) == 3  # the merge gap (10) alone leaves the near blip apart
    merged = merge_blips(groups)
    assert [[i["rule"] for i in g] for g in merged] == [["drawdown", "VIX"], ["VIX"]]
    assert 15 <= BLIP_REACH_WEEKDAYS


def test_no_stress_is_never_claimed_after_the_rules_inputs_end():
    """Issue 29: regimes.parquet said stress=False up to oil's last day although VIX and the
    equity had ended. A universe where the equity ends first (day 200), the bond later (250)
    and VIX and another series run to day 300 with a VIX spike at day 280: False only up to
    the equity's last day, True on the VIX episode after it, NA (not False) on the rest;
    with the bond ending first (day 150) the joint-fall rule has no input after it: NA from
    there."""
    index = pd.bdate_range("2010-01-01", periods=300)
    rng = np.random.default_rng(3)
    equity = pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 0.004, 300))), index=index)
    bond = pd.Series(3 + np.cumsum(rng.normal(0, 0.01, 300)), index=index)
    vix = pd.Series(15.0, index=index)
    vix.iloc[278:283] = 40.0
    other = pd.Series(50.0 + np.arange(300), index=index)
    metadata = {
        "series": {
            "EQ": {"kind": "price"},
            "BOND": {"kind": "yield", "maturity": 10},
            "VIX": {"kind": "level"},
            "OTHER": {"kind": "price"},
        }
    }
    settings = {
        **STRESS,
        "equity": "EQ",
        "bond": "BOND",
        "vix": "VIX",
        "episodes": [],
        "history_equity": None,
    }

    levels = pd.DataFrame({"EQ": equity, "BOND": bond, "VIX": vix, "OTHER": other})
    levels.loc[index[200] :, "EQ"] = np.nan
    levels.loc[index[250] :, "BOND"] = np.nan
    _, tags = stress_episodes(levels, metadata, settings)
    flags = tags["stress"]
    assert flags.dtype == "boolean"
    assert flags.iloc[:200].notna().all() and not flags.iloc[:200].any()  # calm while every rule reads data
    assert flags.iloc[278:283].eq(True).all()  # VIX still fires after the equity's end
    after = flags.iloc[200:].drop(index[278:283])
    assert after.isna().all()  # neither stress nor calm: no drawdown or realised-volatility input

    levels = pd.DataFrame({"EQ": equity, "BOND": bond, "VIX": vix, "OTHER": other})
    levels.loc[index[150] :, "BOND"] = np.nan
    _, tags = stress_episodes(levels, metadata, settings)
    flags = tags["stress"]
    assert flags.iloc[:150].notna().all() and flags.iloc[150:].drop(index[278:283]).isna().all()


def test_calm_days_are_the_days_inside_no_episode():
    """``calm_days`` (one running sum over the episodes) against its definition, a day at
    a time: overlapping and nested episodes, starts and ends between the index's days or
    beyond it, an episode with no day of the index, and one that ends before it starts."""
    from corrflow.analytics.regimes.stress import calm_days

    rng = np.random.default_rng(4)
    index = pd.bdate_range("2001-01-01", periods=3000)
    starts = pd.to_datetime("2000-06-01") + pd.to_timedelta(rng.integers(0, 4600, 60), unit="D")
    ends = starts + pd.to_timedelta(rng.integers(-10, 120, 60), unit="D")  # a few end before they start
    episodes = pd.DataFrame({"start": starts.strftime("%Y-%m-%d"), "end": ends.strftime("%Y-%m-%d")})
    episodes.loc[len(episodes)] = ["2001-01-06", "2001-01-07"]  # a weekend: no day of the index
    expected = np.array(
        [
            not (
                (episodes["start"] <= d.strftime("%Y-%m-%d")) & (episodes["end"] >= d.strftime("%Y-%m-%d"))
            ).any()
            for d in index
        ]
    )
    calm = calm_days(index, episodes)
    assert calm.dtype == bool and 0 < calm.sum() < len(index)
    np.testing.assert_array_equal(calm, expected)
    assert calm_days(index, episodes.iloc[:0]).all()
