"""Summaries of a universe too large to read (issue 23): the heatmap's correlations from
the compiled kernel equal plain pandas on each pair's joint days, and over READABLE_SERIES
series the report and dashboard show one series per cluster, every other one named."""

import numpy as np
import pandas as pd
import pytest


def grouped_universe(n_groups: int = 3, per_group: int = 4, days: int = 600) -> pd.DataFrame:
    """Series in groups that share a factor, on weekdays, some with holes (each pair on its
    own joint days)."""
    rng = np.random.default_rng(7)
    index = pd.bdate_range("2020-01-01", periods=days, name="date")
    columns, returns = [], []
    for g in range(n_groups):
        factor = rng.normal(size=days) * 0.01
        for k in range(per_group):
            columns.append(f"G{g}S{k}")
            returns.append(factor + rng.normal(size=days) * 0.004)
    levels = pd.DataFrame(100 * np.exp(np.cumsum(returns, axis=1).T), index=index, columns=columns)
    levels.iloc[::11, 1] = np.nan
    levels.iloc[5::13, 6] = np.nan
    return levels


def test_cluster_representatives_find_the_groups_and_prefer_configured_series(monkeypatch):
    from corrflow.analytics.correlation import universe

    levels = grouped_universe()
    names = list(levels.columns)
    as_of = str(levels.index[-1].date())
    chosen, clusters = universe.cluster_representatives(
        levels, {"series": {}}, names, as_of, 3, prefer=["G1S2"]
    )
    assert len(chosen) == 3 and "G1S2" in chosen
    assert sorted(sorted(m) for m in clusters.values()) == [[f"G{g}S{k}" for k in range(4)] for g in range(3)]
    for representative, members in clusters.items():
        assert representative in members
    # the distances are the same computed in many kernel calls
    whole = universe.recent_correlation_distances(levels, {"series": {}}, names, as_of)
    monkeypatch.setattr(universe, "CLUSTER_PAIRS_PER_CALL", 7)
    np.testing.assert_array_equal(
        universe.recent_correlation_distances(levels, {"series": {}}, names, as_of), whole
    )
    # and each is 1 - the pair's correlation over its last RECENT_DAYS joint days (pandas)
    position = 0
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            joint = np.log(levels[[a, b]].dropna()).diff().dropna().iloc[-universe.RECENT_DAYS :]
            assert abs(whole[position] - (1 - joint[a].corr(joint[b]))) < 1e-12, (a, b)
            position += 1


def test_the_report_heatmap_of_a_large_universe_shows_clusters(monkeypatch, tmp_path):
    from corrflow.present.figures import heatmap
    from corrflow.present.figures.base import Drawings
    from corrflow.store import universe

    levels = grouped_universe()
    names = list(levels.columns)
    monkeypatch.setattr(universe, "READABLE_SERIES", 3)

    class Context:
        series_meta = {s: {"first": "2020-01-01", "last": "2022-04-19"} for s in names}
        heatmap_series = (names, {})
        clean_meta = {"series": {}}
        pairs = [["G2S3", "G0S0"]]
        as_of = str(levels.index[-1].date())
        figures_dir = tmp_path
        source = ""
        draw = staticmethod(Drawings().draw)  # drawn in this process

    Context.levels = levels
    summary, _, _ = universe.build_universe(
        levels, {"series": Context.series_meta}, Context.pairs, 60, [], None
    )
    Context.universe = summary
    lines, files = heatmap.section(Context)
    text = "\n".join(lines)
    assert "12 series are too many to read one by one: the heatmap shows 3 clusters" in text
    rows = [line for line in lines if line.startswith("| G")]
    assert len(rows) == 3 and {r.split(" | ")[0][2:] for r in rows} >= {
        "G2S3 (configured)",
        "G0S0 (configured)",
    }
    assert all(r.split(" | ")[1] == "4" for r in rows)
    assert (tmp_path / files[0]).stat().st_size > 10_000


@pytest.mark.e2e
def test_heatmap_correlations_equal_pandas_on_each_pairs_inner_join(tmp_path_factory):
    """Every pair of the global-markets universe (New York, Tokyo in yen converted to
    dollars, a 24/7 coin, a yield): the kernel's full-period and last-year correlations
    equal plain pandas on the inner join of the two series' dates."""
    from conftest import snakemake
    from corrflow.analytics.correlation.universe import RECENT_DAYS, universe_correlations
    from corrflow.data.contracts import read_parquet
    from test_global_markets import PAIRS, SERIES, make_universe, reference_levels, reference_returns

    workdir, files = make_universe(tmp_path_factory.mktemp("heatmap"), SERIES, PAIRS)
    snakemake(workdir, "--cores", "2", "data/processed/clean.parquet")
    levels, meta = read_parquet(workdir / "data/processed/clean.parquet")
    names = list(levels.columns)
    full, recent, _ = universe_correlations(levels, meta, names, str(levels.index[-1].date()))
    reference = reference_levels(files)
    checked = 0
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            pair = reference_returns(reference, a, b).loc[: levels.index[-1]].dropna()
            assert abs(full.loc[a, b] - pair[a].corr(pair[b])) < 1e-9, (a, b)
            tail = pair.iloc[-RECENT_DAYS:]
            assert abs(recent.loc[a, b] - tail[a].corr(tail[b])) < 1e-9, (a, b)
            checked += 1
    assert checked == len(names) * (len(names) - 1) // 2 >= 15


def test_a_long_source_table_is_folded_behind_its_counts():
    from corrflow.present.report import folded_when_long
    from corrflow.present.summary import data_provenance

    meta = {
        f"S{k:03d}": {
            "kind": "price",
            "calendar": "XTKS" if k % 4 else "NYSE",
            "currency": "USD",
            "first": "2020-01-02",
            "last": "2020-06-30",
        }
        for k in range(41)
    }
    _, rows = data_provenance(meta, "2020-06-30")
    folded = folded_when_long(rows, meta)
    assert folded[0] == (
        "<details><summary>41 series (0 missing); calendars: 30 XTKS, 11 NYSE; kinds: 41 price; "
        "currencies: 41 USD (every series: click)</summary>"
    )
    assert folded[2:-2] == rows and folded[-1] == "</details>"
    del meta["S040"]
    _, rows = data_provenance(meta, "2020-06-30")
    assert folded_when_long(rows, meta) == rows  # 40 series: the table as it is


def test_a_series_is_not_stale_on_a_day_its_own_market_was_closed():
    """Tokyo and Xetra close on 31 December; New York does not. A Tokyo series whose last
    value is 30 December 2025 is up to date on 31 December; a New York one is a day behind.
    The headline counts local files as one origin."""
    from corrflow.present.summary import data_provenance, stale_series

    meta = {
        "N225": {"last": "2025-12-30", "calendar": "XTKS", "origin": "local file data/local/N225.csv"},
        "DAX": {"last": "2025-12-30", "calendar": "XETR", "origin": "local file data/local/DAX.csv"},
        "SPY": {"last": "2025-12-30", "calendar": "NYSE", "origin": "local file data/local/SPY.csv"},
        "TLT": {"last": "2025-12-31", "calendar": "NYSE", "origin": "local file data/local/TLT.csv"},
    }
    assert list(stale_series(meta, "2025-12-31")) == ["SPY"]
    headline, _ = data_provenance(meta, "2025-12-31")
    assert headline == (
        "**Data: local CSV files, data as of 2025-12-31 (the series end 2025-12-30 .. 2025-12-31: "
        "see Sources).**"
    )
