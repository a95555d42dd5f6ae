"""Report (task F); the snapshot's own tests are in test_snapshot.py."""

import struct
from pathlib import Path

import pytest


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", data[16:24])


@pytest.mark.e2e
def test_figures_are_valid_pngs_of_sane_size(workflow_run):
    workdir, _ = workflow_run
    for figure in sorted((workdir / "docs").glob("fig_*.png")):
        width, height = png_size(figure)
        assert 1000 <= width <= 4000 and 100 <= height <= 3000, (figure, width, height)


@pytest.mark.e2e
def test_report_numbers_come_from_the_outputs(workflow_run):
    import pandas as pd

    workdir, _ = workflow_run
    corr = pd.read_csv(workdir / "data/processed/rolling_corr.csv", index_col="date")
    latest = corr["SPY:DGS10:60"].dropna()
    report = (workdir / "docs/report.md").read_text()
    assert f"| SPY-DGS10 | 60 | {latest.index[-1]} | {latest.iloc[-1]:+.2f} |" in report


@pytest.mark.e2e
def test_stock_bond_correlation_changed_sign(workflow_run):
    """The well-documented sign change: positive in 1993-97, negative over 2001-2017."""
    import pandas as pd

    workdir, _ = workflow_run
    corr = pd.read_csv(workdir / "data/processed/rolling_corr.csv", index_col="date", parse_dates=True)
    pair = corr["SPY:DGS10:60"]
    assert pair.loc["1993":"1997"].mean() > 0.2
    assert pair.loc["2001":"2017"].mean() < -0.2


@pytest.mark.e2e
def test_report_summary_explains_markov_and_lists_episodes(workflow_run):
    import pandas as pd

    workdir, _ = workflow_run
    report = (workdir / "docs/report.md").read_text()
    assert "**real time** uses parameters refitted" in report and "**hindsight** is smoothed" in report
    assert "P(turbulent) real time" in report and (
        "Stress flags on" in report or "No stress flag on" in report
    )
    episodes = pd.read_csv(workdir / "data/processed/stress_episodes.csv")
    gfc = episodes[(episodes["start"] <= "2008-10-15") & (episodes["end"] >= "2008-10-15")].iloc[0]
    assert f"| {gfc['name']} | {gfc['start']} | {gfc['end']} | {gfc['business_days']} |" in report
    assert "![correlation heatmap](fig_heatmap.png)" in report


def test_heatmap_matrices_are_pairwise_complete_pearson():
    import numpy as np
    import pandas as pd

    from report import correlation_matrices

    rng = np.random.default_rng(2)
    returns = pd.DataFrame(rng.normal(size=(400, 3)), columns=list("ABC"))
    returns.iloc[:100, 2] = np.nan
    full, recent = correlation_matrices(returns, recent_days=50)
    both = returns[["A", "C"]].dropna()
    assert abs(full.loc["A", "C"] - np.corrcoef(both["A"], both["C"])[0, 1]) < 1e-12
    assert (
        abs(recent.loc["A", "B"] - np.corrcoef(returns["A"].iloc[-50:], returns["B"].iloc[-50:])[0, 1])
        < 1e-12
    )


def test_all_pairs_section_reads_the_latest_matrix_of_every_block(tmp_path):
    import json

    import numpy as np
    import pandas as pd

    from all_pairs_manifest import manifest_of
    from report import all_pairs_section
    from _all_pairs_store import write_all_pairs

    rng = np.random.default_rng(3)
    names = [f"S{k}" for k in range(7)]
    common = rng.normal(size=(300, 1))
    loadings = np.array([1.0, 0.8, 0.5, 0.0, -0.5, -0.8, 0.2])
    returns = pd.DataFrame(
        common * loadings + rng.normal(size=(300, 7)) * 0.6,
        columns=names,
        index=pd.bdate_range("2020-01-01", periods=300, name="date"),
    )
    returns.iloc[-30:, 6] = np.nan  # S6 ends early: the latest date with all pairs is 30 days back
    returns.iloc[:100, 5] = np.nan  # and S5 starts late
    blocks = [tmp_path / f"block_{k + 1}-of-3.parquet" for k in range(3)]
    for k, path in enumerate(blocks):
        write_all_pairs(returns, 60, path, "float64", k, 3)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(manifest_of([str(p) for p in blocks])))
    text = "\n".join(all_pairs_section(manifest))
    last = returns.iloc[-90:-30].corr(min_periods=60)
    values = pd.Series(
        {f"{a} / {b}": last.loc[a, b] for i, a in enumerate(names) for b in names[i + 1 :]}
    ).dropna()
    assert len(values) == 21
    assert f"7 series, 21 pairs, 60-day window, on {returns.index[-31].date()}" in text
    assert f"Median correlation {values.median():+.2f}" in text and "0 pairs without a full window" in text
    assert f"| {values.idxmax()} | {values.max():+.3f} | {values.idxmin()} | {values.min():+.3f} |" in text
    table = [line for line in text.splitlines() if line.startswith("| S")]
    assert len(table) == 5 and table[0].startswith("| S0 / S1 |")
