"""Report (task F) and the committed snapshot's provenance."""

import os
import re
import struct
from pathlib import Path

import pytest

from conftest import corrflow_command


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
    corr = pd.read_csv(workdir / "data/processed/rolling_corr.csv", index_col="date", parse_dates=True)
    report = (workdir / "docs/report.md").read_text()
    as_of = report.split("## At a glance: the latest values (")[1][:10]
    latest = corr["SPY:DGS10:60"].loc[:as_of].dropna()
    assert f"data as of {as_of}" in report.splitlines()[2]
    assert f"| SPY-DGS10 | 60 | {latest.index[-1].date()} | {latest.iloc[-1]:+.2f} |" in report


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

    from corrflow.data.contracts import read_parquet

    workdir, _ = workflow_run
    report = (workdir / "docs/report.md").read_text()
    assert "**real-time** uses only data up to each day" in report and "**hindsight**" in report
    regimes, _ = read_parquet(workdir / "data/processed/regimes.parquet")
    if any(":p_realtime:" in c for c in regimes.columns):
        assert "P(turbulent) real-time" in report
        # the quant's finding: the correlations' fits read as regimes; the page says what they are
        glance = report.split("- The correlations' Markov states say where each correlation sits")
        assert len(glance) == 2 and "P(high) real-time" in glance[0]
    else:  # a regimes file without Markov columns: the section says so
        assert "Markov regimes: off" in report
    assert "Stress flags on" in report or "No stress flag on" in report
    assert (
        "![correlation heatmap](fig_heatmap.png)" in report and "[dashboard.html](dashboard.html)" in report
    )
    episodes = pd.read_csv(workdir / "data/processed/stress_episodes.csv")
    longest = episodes.sort_values(["business_days", "start"], ascending=[False, True]).iloc[0]
    assert f"| {longest['start']} | {longest['end']} | {longest['business_days']} |" in report


@pytest.mark.e2e
def test_html_report_carries_the_tables_and_no_placeholder_for_a_skipped_pair(workflow_run, tmp_path):
    """`snakemake --report`: the headline and today's table are in it; a pair whose series
    has no data is not declared as a figure."""
    import json
    import re

    from conftest import snakemake
    from corrflow.data.contracts import read_parquet

    workdir, _ = workflow_run
    # written outside the shared run's folders (the page carries its creation date)
    snakemake(workdir, "--report", str(tmp_path / "report.html"), "--config", "offline=true")
    page = (tmp_path / "report.html").read_text(encoding="utf-8", errors="replace")
    headline = (workdir / "docs/report.md").read_text().splitlines()[2]
    as_of = headline.split("data as of ")[1][:10]
    assert "At a glance: the latest values" in page and f"data as of {as_of}" in page
    _, meta = read_parquet(workdir / "data/processed/clean.parquet", columns=[])
    missing = {k for k, m in meta["series"].items() if m.get("status") == "missing"}
    categories = json.loads(re.search(r"var categories = (\{.*?\});\n", page).group(1))
    results = {path for category in categories.values() for paths in category.values() for path in paths}
    assert "docs/report.md" in results and "docs/dashboard.html" in results
    for a, b in [("SPY", "TLT"), ("SPY", "DGS10")]:
        declared = f"docs/fig_corr_{a}_vs_{b}.png" in results
        assert declared == (not {a, b} & missing), (a, b, missing)


# ---------------------------------------------------------------- unit tests on synthetic outputs


def build(tmp_path, outputs=None, metrics=None, exclude=(), today=None, exceedance=None):
    from report_fixtures import build_synthetic_report

    return build_synthetic_report(tmp_path, outputs, metrics, exclude, today, exceedance)


def test_headline_says_offline_snapshot_and_the_as_of_date(tmp_path):
    text, drawn = build(tmp_path)
    assert text.splitlines()[2] == (
        "**Data: offline snapshot, data as of 2018-12-28 (the series end 2018-11-02 .. 2018-12-28: see "
        "Sources).** Missing at every level: D (pairs with them are skipped)."
    )
    # the skipped pair (A-D) is drawn as a notice, not listed as a chart
    assert drawn == ["fig_corr_A_vs_B.png", "fig_corr_A_vs_C.png", "fig_heatmap.png", "fig_regimes.png"]


def test_headline_names_a_mix_of_origins(tmp_path):
    from report_fixtures import synthetic_outputs

    outputs = synthetic_outputs(
        origins={"A": "live Yahoo", "B": "cache (downloaded 2026-11-20)", "C": "live Yahoo"}
    )
    text, _ = build(tmp_path, outputs)
    assert "**Data: cache (downloaded 2026-11-20) (1), live Yahoo (2); data as of 2018-12-28 (" in text
    assert "offline snapshot" not in text


def test_source_table_lists_origin_column_and_calendar(tmp_path):
    text, _ = build(tmp_path)
    assert (
        "| A | Stock fund | price | - | offline snapshot | Adj Close | XNYS | 2015-01-02 | 2018-12-28 | 0 |"
        in text
    )
    assert (
        "| C | Oil | price | - | offline snapshot | Adj Close | XNYS | 2016-02-29 | 2018-11-02 | 39 (stale) |"
        in text
    )
    assert "| D | Missing fund | price | - | MISSING |" in text


def test_today_uses_the_as_of_date_sign_words_and_marks_stale_series(tmp_path):
    from report_fixtures import synthetic_outputs

    o = synthetic_outputs()
    text, _ = build(tmp_path, o)
    ab = o["corr"]["A:B:60"].dropna()
    sign = o["regimes"]["sign:A:B:60"].loc["2018-12-28"]
    words = {"negative": "negative (bonds hedge)", "positive": "positive (co-move)", "mixed": "mixed"}[sign]
    lo, hi = o["corr"].loc["2018-12-28", ["A:B:60:lo95", "A:B:60:hi95"]]
    if lo <= 0 <= hi:
        words = f"{sign} regime; today near zero (band includes 0)"
    row = next(line for line in text.splitlines() if line.startswith("| A-B | 60 |"))
    assert row.startswith(f"| A-B | 60 | 2018-12-28 | {ab.iloc[-1]:+.2f} |") and f"| {words} |" in row
    relative = o["regimes"]["relative:A:B:60"].loc["2018-12-28"]
    assert row.split("|")[8].strip() == relative  # the own-history label in its own column
    stale_row = next(line for line in text.splitlines() if line.startswith("| A-C | 60 |"))
    assert "| 2018-11-02 |" in stale_row and "C stale (last observed 2018-11-02, 39 days behind)" in stale_row
    assert "last value 2018-11-02" not in stale_row  # the stale note gave the date: said once
    assert "| A-D | - | - | no data for D |" in text


def test_optional_parts_switched_off_are_said_not_crashed(tmp_path):
    from report_fixtures import synthetic_outputs

    o = synthetic_outputs()
    keep = [c for c in o["regimes"].columns if not c.startswith(("sign:", "mkv:", "relative:", "stress"))]
    o["regimes"] = o["regimes"][keep]
    o["regimes_meta"] = {}
    o["episodes"] = o["episodes"].iloc[0:0]
    text, drawn = build(tmp_path, o)
    assert "Markov regimes: off" in text and "Stress flags: off" in text and "Model: off" in text
    row = next(line for line in text.splitlines() if line.startswith("| A-B | 60 |"))
    assert "| off | off |" in row
    assert "No stress episodes within this pair's data." in text and len(drawn) == 4


def test_figures_are_deterministic_and_wide(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    build(tmp_path / "one")
    build(tmp_path / "two")
    names = sorted(p.name for p in (tmp_path / "one").glob("*.png"))
    assert names == [
        "fig_corr_A_vs_B.png",
        "fig_corr_A_vs_C.png",
        "fig_corr_A_vs_D.png",
        "fig_exceedance_A_vs_B.png",  # notices: no exceedance.csv given
        "fig_exceedance_A_vs_C.png",
        "fig_exceedance_A_vs_D.png",
        "fig_heatmap.png",
        "fig_regimes.png",
    ]
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
        assert png_size(tmp_path / "one" / name)[0] >= 1000, name


def test_figures_drawn_by_worker_processes_are_the_same_files_and_their_errors_surface(tmp_path, monkeypatch):
    """Issue 28.3: the report rule (2 threads) draws its figures in two worker processes
    while its text is written: the same text and the same bytes as drawn in one process;
    a figure that fails in a worker fails the report, with the worker's error."""
    from corrflow.present.figures import pair
    from corrflow.present.figures.base import Drawings
    from report_fixtures import build_synthetic_report, failing_figure

    (tmp_path / "one").mkdir()
    (tmp_path / "workers").mkdir()
    text, drawn = build(tmp_path / "one")
    with Drawings(2) as drawings:
        pids = {future.result() for future in drawings.warm_up}
        text_workers, drawn_workers = build_synthetic_report(tmp_path / "workers", drawings=drawings)
    assert len(pids) >= 1 and os.getpid() not in pids  # drawn elsewhere than in this process
    assert (text_workers, drawn_workers) == (text, drawn)
    names = sorted(p.name for p in (tmp_path / "one").glob("*.png"))
    assert len(names) == 8 and names == sorted(p.name for p in (tmp_path / "workers").glob("*.png"))
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "workers" / name).read_bytes(), name

    monkeypatch.setattr(pair, "plot_pair", failing_figure)  # sent to the workers by name
    (tmp_path / "broken").mkdir()
    with pytest.raises(ValueError, match="no room for the legend"), Drawings(2) as drawings:
        build_synthetic_report(tmp_path / "broken", drawings=drawings)


def test_heatmap_compares_each_pair_on_its_joint_days():
    import numpy as np

    from corrflow.analytics.correlation.universe import heatmap_series, period_sentence, universe_correlations
    from corrflow.analytics.returns import pair_returns
    from report_fixtures import synthetic_outputs

    o = synthetic_outputs()
    shown, left_out = heatmap_series(o["clean_meta"]["series"], o["levels"], ["C"])
    assert shown == ["A", "B"] and left_out == {
        "C": "excluded by config report.heatmap_exclude",
        "D": "no data at any ingest level",
    }
    shown = ["A", "B", "C"]
    full, recent, periods = universe_correlations(
        o["levels"], o["clean_meta"], shown, "2018-12-28", recent_days=100
    )
    for a, b in (("A", "B"), ("A", "C"), ("B", "C")):
        joint = pair_returns(o["levels"], o["clean_meta"]["series"], a, b, {}, 5).dropna()
        assert abs(full.loc[a, b] - np.corrcoef(joint[a], joint[b])[0, 1]) < 1e-12
        tail = joint.iloc[-100:]
        assert abs(recent.loc[b, a] - np.corrcoef(tail[a], tail[b])[0, 1]) < 1e-12
    text = period_sentence(periods)
    c_first = str(o["levels"]["C"].dropna().index[1].date())  # C's first return
    assert text == f"the longest pairs 2015-01-06 .. 2018-12-28; pairs with C {c_first} .. 2018-11-02", text


def test_episode_labels_do_not_overlap():
    import pandas as pd

    from corrflow.present.figures._style import label_rows

    episodes = pd.DataFrame(
        {
            "name": ["First long name", "Second long name", "Third", "Far away"],
            "start": ["2010-01-04", "2010-01-11", "2010-01-18", "2015-01-05"],
            "end": ["2010-03-01", "2010-02-01", "2010-02-01", "2015-02-02"],
            "business_days": [40, 15, 10, 20],
        }
    )
    placed = label_rows(
        episodes, pd.Timestamp("2008-01-01"), pd.Timestamp("2016-01-01"), axis_px=960, max_rows=2
    )
    rows = {e["name"]: row for e, row, _, _ in placed}
    assert rows == {"First long name": 0, "Far away": 0, "Second long name": 1}  # "Third" has no free row
    anchors = {e["name"]: (x, ha) for e, _, x, ha in placed}
    assert anchors["First long name"] == (pd.Timestamp("2010-01-04"), "left")
    # near the right edge the label ends at its episode's end, above its own band (it
    # used to end at the episode's start, over an earlier episode's band)
    edge = pd.DataFrame(
        {"name": ["Tariff shock 2025"], "start": ["2015-11-20"], "end": ["2015-12-10"], "business_days": [15]}
    )
    ((_, _, x, ha),) = label_rows(edge, pd.Timestamp("2008-01-01"), pd.Timestamp("2016-01-01"), axis_px=960)
    assert (x, ha) == (pd.Timestamp("2015-12-10"), "right")


def test_markdown_becomes_rst_that_docutils_renders(tmp_path):
    from docutils.core import publish_parts

    from corrflow.present.report import markdown_to_rst

    text, _ = build(tmp_path)
    rst = markdown_to_rst(text)
    assert ".. csv-table::" in rst and "fig_corr" not in rst
    body = publish_parts(rst, writer="html", settings_overrides={"report_level": 2, "halt_level": 2})["body"]
    assert "At a glance: the latest values" in body and "offline snapshot" in body and "<table" in body


def test_model_section_gives_the_forecast_and_says_when_it_does_not_beat_naive():
    import copy

    from corrflow.present.report import model_section
    from report_fixtures import METRICS

    text = "\n".join(model_section(METRICS))
    assert (
        "**Forecast made on 2018-12-28 for about 2019-01-28: -0.31 (90% prediction interval -0.55 .. -0.05"
        in text
    )
    assert "The model does not beat the naive rule" in text
    assert "does not beat the naive last-sign rule" in text
    better = copy.deepcopy(METRICS)
    better["model"]["rmse"] = 0.12
    better["logit"]["hit_rate"] = 0.95
    text = "\n".join(model_section(better))
    assert "does not beat" not in text and "20% below the last-value rule" in text
    skipped = {k: v for k, v in better.items() if k not in ("logit", "last_sign", "historical_share")}
    skipped["logit_skipped"] = "the A-B (60-day) correlation is positive on all 700 days"
    assert "Logit skipped: the A-B (60-day) correlation" in "\n".join(model_section(skipped))


def test_all_pairs_section_reads_the_latest_matrix_of_every_block(tmp_path):
    import json

    import numpy as np
    import pandas as pd

    from corrflow.present.report import all_pairs_section
    from corrflow.store.all_pairs import write_all_pairs
    from corrflow.store.manifest import manifest_of
    from corrflow.store.universe import all_pairs_summary

    rng = np.random.default_rng(3)
    names = [f"S{k}" for k in range(7)]
    common = rng.normal(size=(300, 1))
    loadings = np.array([1.0, 0.8, 0.5, 0.0, -0.5, -0.8, 0.2])
    returns = pd.DataFrame(
        common * loadings + rng.normal(size=(300, 7)) * 0.6,
        columns=names,
        index=pd.bdate_range("2020-01-01", periods=300, name="date"),
    )
    returns.iloc[-30:, 6] = np.nan  # S6 ends early, in the month before the last
    returns.iloc[:100, 5] = np.nan  # and S5 starts late
    returns.iloc[-3:, 4] = np.nan  # S4 misses the last 3 days: its pairs' last values of the month
    blocks = [tmp_path / f"block_{k + 1}-of-3.parquet" for k in range(3)]
    for k, path in enumerate(blocks):
        # levels whose log changes are these returns (NaN where a series has no value)
        write_all_pairs(100 * np.exp(returns.cumsum()), {"series": {}}, 60, path, "float64", k, 3)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(manifest_of([str(p) for p in blocks])))
    text = "\n".join(all_pairs_section(all_pairs_summary(manifest)))
    last = returns.iloc[-60:].corr(min_periods=60)
    with_s4 = returns.iloc[-63:-3].corr(min_periods=60)
    values = pd.Series(
        {
            f"{a} / {b}": (with_s4 if "S4" in (a, b) else last).loc[a, b]
            for i, a in enumerate(names[:6])
            for b in names[i + 1 : 6]
        }
    )
    assert len(values.dropna()) == 15
    assert (
        f"7 series, 21 pairs, 60-day window. The latest matrix: {returns.index[-1].date()}, 15 of 21 pairs "
        f"with a value (each pair's last value of {returns.index[-1].strftime('%B %Y')} up to that day"
        in text
    )
    assert (
        f"15 of 21 pairs with a value on {returns.index[-1].date()}: "
        f"median correlation {values.median():+.2f}" in text
    )
    assert "6 pairs without a value that month" in text
    assert f"| {values.idxmax()} | {values.max():+.3f} | {values.idxmin()} | {values.min():+.3f} |" in text
    table = [line for line in text.splitlines() if line.startswith("| S")]
    assert len(table) == 5 and table[0].startswith("| S0 / S1 |")


def test_horizons_section_gives_each_pairs_latest_weekly_and_monthly_value():
    import pandas as pd

    from corrflow.present.report import horizons_section

    horizons = pd.DataFrame(
        {
            "date": ["2018-11-30", "2018-12-28", "2019-01-04", "2018-10-31", "2018-11-30"],
            "pair": ["A:B", "A:B", "A:B", "A:B", "A:B"],
            "frequency": ["weekly", "weekly", "weekly", "monthly", "monthly"],
            "window": [26, 26, 26, 12, 12],
            "corr": [0.1, -0.25, 0.9, 0.3, None],
        }
    )
    text = "\n".join(horizons_section(horizons, "2018-12-28"))
    assert "| A-B | weekly | 26 | 2018-12-28 | -0.25 |" in text  # not the day after the as-of date
    assert "| A-B | monthly | 12 | 2018-10-31 | +0.30 |" in text  # the last known value
    assert "off (no horizons.csv" in "\n".join(horizons_section(None, "2018-12-28"))


def test_each_pair_lists_only_the_episodes_within_its_data(tmp_path):
    text, _ = build(tmp_path)
    ab = text.split("### Stock fund vs 10-year yield")[1].split("###")[0]
    ac = text.split("### Stock fund vs Oil")[1].split("###")[0]
    assert "| Oil slump 2016 | 2016-01-04 | 2016-02-12 | 30 | named episode | +0.30 | +0.50 | +0.41 |" in ab
    assert "Oil slump 2016" not in ac and "| Volmageddon 2018 |" in ac  # C starts 2016-02-29


def test_the_heatmap_compares_every_pair_on_its_own_days():
    import numpy as np

    from corrflow.analytics.correlation import universe
    from corrflow.analytics.returns import pair_returns
    from corrflow.data.contracts import closed_by_series
    from report_fixtures import synthetic_outputs

    o = synthetic_outputs()
    full, _, periods = universe.universe_correlations(
        o["levels"], o["clean_meta"], ["A", "B", "C"], "2018-12-28"
    )
    levels = o["levels"].loc[:"2018-12-28"]
    joint = pair_returns(levels, o["clean_meta"]["series"], "A", "C", closed_by_series(o["clean_meta"]), 5)
    joint = joint.dropna()
    assert abs(full.loc["A", "C"] - np.corrcoef(joint["A"], joint["C"])[0, 1]) < 1e-12
    assert set(periods) == {("A", "B"), ("A", "C"), ("B", "C")}


def test_today_table_gives_the_dcc_correlation_beside_the_windows(tmp_path):
    from report_fixtures import synthetic_outputs

    o = synthetic_outputs()
    dcc = o["corr"]["A:B:60"].rolling(5, min_periods=1).mean()  # any series on the pair's days
    o["regimes"] = o["regimes"].assign(**{"dcc:A:B": dcc})
    text, _ = build(tmp_path, o)
    row = next(line for line in text.splitlines() if line.startswith("| A-B | 60 |"))
    assert f"DCC {dcc.loc[:'2018-12-28'].dropna().iloc[-1]:+.2f}" in row
    assert "| other windows, DCC |" in text and "DCC: the DCC-GARCH(1,1)" in text


@pytest.mark.e2e
def test_a_rolling_corr_file_without_the_configured_pairs_stops_the_report(workflow_run, tmp_path):
    """The seed's one-pair file in place of the workflow's: the report names the fix in one line."""
    import subprocess

    import pandas as pd

    workdir, _ = workflow_run
    corr = pd.read_csv(workdir / "data/processed/rolling_corr.csv", index_col="date")
    seed_only = tmp_path / "rolling_corr.csv"
    corr[[c for c in corr.columns if c.startswith("SPY:TLT:60")]].to_csv(seed_only)
    processed = workdir / "data/processed"
    result = subprocess.run(
        [
            *corrflow_command("report"),
            "--clean", str(processed / "clean.parquet"),
            "--corr", str(seed_only),
            "--regimes", str(processed / "regimes.parquet"),
            "--episodes", str(processed / "stress_episodes.csv"),
            "--dq", str(workdir / "docs/dq_report.json"),
            "--universe", str(processed / "universe/universe.json"),
            "--pairs", '[["SPY", "TLT"], ["SPY", "DGS10"]]',
            "--windows", "60", "20",
            "--report", str(tmp_path / "report.md"),
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "run `snakemake --forcerun rolling_corr`" in result.stderr
    assert "SPY:TLT:20, SPY:DGS10:60, SPY:DGS10:20" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "report.md").exists()


def test_a_lone_asterisk_renders_without_a_docutils_warning():
    """`data/raw/*.ok` in the headline opened an emphasis docutils warned about in the HTML
    report; bold and code spans stay as they are."""
    from docutils.core import publish_parts

    from corrflow.present.report import markdown_to_rst

    rst = markdown_to_rst(
        "# Report\n\n**Data: live FRED (4); see data/raw/*.ok and logs/ingest/.** Figures `docs/fig_*.png`.\n"
    )
    body = publish_parts(rst, writer="html", settings_overrides={"report_level": 2, "halt_level": 2})["body"]
    assert "data/raw/*.ok" in body and "<strong>" in body and "fig_*.png" in body


def test_the_default_runs_html_summary_renders_without_a_docutils_message(workflow_run):
    """The real report's rst: `|during - before|` read as a substitution reference (an
    ERROR in the HTML report's system messages), and a table cell of just "-" as an empty
    bullet list."""
    from docutils.core import publish_parts

    workdir, _ = workflow_run
    rst = (workdir / "docs/report_summary.rst").read_text()
    body = publish_parts(rst, writer="html", settings_overrides={"report_level": 2, "halt_level": 2})["body"]
    assert "|during - before|" in body
    assert "<li></li>" not in body
    assert "<td>-</td>" in body


def test_a_figure_of_a_pair_no_longer_configured_is_removed(workflow_run, tmp_path):
    import shutil
    import subprocess

    workdir, _ = workflow_run
    processed = workdir / "data/processed"
    shutil.copy(workdir / "docs/fig_corr_SPY_vs_TLT.png", tmp_path / "fig_corr_SPY_vs_TLT.png")
    shutil.copy(workdir / "docs/fig_corr_SPY_vs_TLT.png", tmp_path / "fig_corr_SPY_vs_OLD.png")
    result = subprocess.run(
        [
            *corrflow_command("report"),
            "--clean", str(processed / "clean.parquet"),
            "--corr", str(processed / "rolling_corr.csv"),
            "--regimes", str(processed / "regimes.parquet"),
            "--episodes", str(processed / "stress_episodes.csv"),
            "--dq", str(workdir / "docs/dq_report.json"),
            "--universe", str(processed / "universe/universe.json"),
            "--pairs", '[["SPY", "TLT"]]',
            "--report", str(tmp_path / "report.md"),
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "fig_corr_SPY_vs_TLT.png").exists()
    assert not (tmp_path / "fig_corr_SPY_vs_OLD.png").exists()


def test_a_sign_word_only_where_the_band_excludes_zero(tmp_path):
    """SPY-TLT at -0.06 with band -0.31..+0.20 is no evidence that bonds hedge."""
    from report_fixtures import synthetic_outputs

    o = synthetic_outputs()
    day = "2018-12-28"
    o["corr"].loc[day, ["A:B:60", "A:B:60:lo95", "A:B:60:hi95"]] = [-0.06, -0.31, 0.20]
    o["regimes"].loc[day, "sign:A:B:60"] = "negative"
    text, _ = build(tmp_path, o)
    row = next(line for line in text.splitlines() if line.startswith("| A-B | 60 |"))
    assert "negative regime; today near zero (band includes 0)" in row and "bonds hedge" not in row
    o["corr"].loc[day, ["A:B:60", "A:B:60:lo95", "A:B:60:hi95"]] = [-0.5, -0.7, -0.25]
    text, _ = build(tmp_path, o)
    row = next(line for line in text.splitlines() if line.startswith("| A-B | 60 |"))
    assert "| negative (bonds hedge) |" in row


def test_percentiles_keep_the_precision_they_have():
    from corrflow.present.summary import percentile_text

    assert [percentile_text(p) for p in (99.98, 99.6, 57.3, 0.4, 0.02, float("nan"))] == [
        ">99.9",
        "99.6",
        "57",
        "0.4",
        "<0.1",
        "n/a (short history)",
    ]
    # ranked among 40 past windows: steps of 2.5 points, said as such
    # the count said as a count (never "88 (of 40 past windows)", read as 88 out of 40)
    assert [percentile_text(p, 40) for p in (100.0, 98.75, 87.5, 2.5, 51.25, 0.0)] == [
        "above all 40 past windows",
        "99th percentile (39 of 40 past windows lower)",
        "88th percentile (35 of 40 past windows lower)",
        "2nd percentile (1 of 40 past windows lower)",
        "51st percentile (20 of 40 past windows lower)",
        "below all 40 past windows",
    ]


def test_the_today_table_says_how_many_past_windows_a_percentile_ranks_among():
    """A pair at the edge of its history: today's value above every one of its 40 past
    non-overlapping windows reads "above all 40 past windows", never ">99.9"."""
    import numpy as np
    import pandas as pd

    from corrflow.analytics.regimes.regimes import own_history_percentile
    from corrflow.present.summary import today_table

    index = pd.bdate_range("2000-01-03", periods=60 * 45)
    values = pd.Series(np.linspace(-0.5, 0.9, len(index)), index=index)  # rising: today the highest
    corr = pd.DataFrame({"A:B:60": values})
    regimes = pd.DataFrame({"pct:A:B:60": own_history_percentile(values, 60, 40)})
    as_of = index[-1].strftime("%Y-%m-%d")
    meta = {s: {"kind": "price", "last": as_of, "status": "ok"} for s in "AB"}
    row = today_table(corr, regimes, [["A", "B"]], 60, as_of, meta, 40)[-1]
    assert "| above all 40 past windows |" in row and ">99.9" not in row


def test_the_data_age_is_said_once_and_days_behind_count_to_the_as_of_date(tmp_path):
    """A run on 2019-06-28 of data through 2018-12-28: the page says the data is six
    months old once, and the source table counts sessions behind the as-of date (one
    clock for the page), not behind the day the report was made."""
    text, _ = build(tmp_path, today="2019-06-28")
    assert (
        "**The data is about 6 months old**: its latest values are of 2018-12-28, and this report was made "
        "on 2019-06-28" in text
    )
    assert "| 2015-01-02 | 2018-12-28 | 0 |" in text
    assert "| 2016-02-29 | 2018-11-02 | 39 (stale) |" in text  # as the today table: 39 days behind
    fresh, _ = build(tmp_path, today="2018-12-31")
    assert "old**" not in fresh  # three days later: nothing to say


def test_exceedance_figure_and_a_sentence_only_where_symmetry_is_rejected(tmp_path):
    """A-B joined by a Clayton copula (joint falls) is rejected and said so in one sentence;
    A-C, bivariate normal, gets the figure and a line that the test does not reject."""
    import numpy as np
    import pandas as pd
    from scipy.stats import norm

    from corrflow.analytics.correlation.exceedance import pair_exceedance
    from report_fixtures import synthetic_outputs

    rng = np.random.default_rng(4)
    index = pd.bdate_range("1995-01-02", periods=6000)
    u, w = rng.uniform(size=6000), rng.uniform(size=6000)
    v = ((w ** (-1.5 / 2.5) - 1) * u ** (-1.5) + 1) ** (-1 / 1.5)
    clayton = pd.DataFrame({"A": norm.ppf(u), "B": norm.ppf(v)}, index=index)
    normal = pd.DataFrame(
        rng.multivariate_normal([0, 0], [[1, 0.3], [0.3, 1]], 6000), index=index, columns=["A", "C"]
    )
    o = synthetic_outputs()
    tables, tests = [], {}
    for key, returns in (("A:B", clayton), ("A:C", normal)):
        table, tests[key] = pair_exceedance(returns, key)
        tables.append(table)
    o["regimes_meta"] = {**o["regimes_meta"], "exceedance": tests}
    text, drawn = build(tmp_path, o, exceedance=pd.concat(tables, ignore_index=True))
    assert {"fig_exceedance_A_vs_B.png", "fig_exceedance_A_vs_C.png"} <= set(drawn)
    assert "fig_exceedance_A_vs_D.png" not in drawn  # D has no data: a notice, not a chart
    assert png_size(tmp_path / "fig_exceedance_A_vs_B.png")[0] >= 1000
    rejected = [line for line in text.splitlines() if "test rejects" in line]
    assert rejected and all(line.startswith("A-B (") and "joint falls" in line for line in rejected)
    assert "A-B (full," in text
    line = next(
        line for line in text.splitlines() if line.startswith("A-C: the Hong-Tu-Zhou test does not reject")
    )
    eras = re.findall(r"(full|before 2000|since 2000|last 10 years) p = ", line)
    assert eras == [
        "full",
        "before 2000",
        "since 2000",
        "last 10 years",
    ]  # in time's order, not the metadata's


def test_dcc_section_gives_the_standard_errors():
    from corrflow.present.report import dcc_section

    meta = {
        "dcc": {
            "SPY:TLT": {
                "status": "ok",
                "a": 0.0535,
                "b": 0.9313,
                "se_a": 0.006,
                "se_b": 0.01,
                "observations": 6001,
            },
            "SPY:X": {"status": "skipped: only 10 days of the pair (needs 500)"},
        }
    }
    lines = dcc_section(meta)
    assert "| SPY-TLT | 0.0535 (0.0060) | 0.9313 (0.0100) | 0.9848 | 6001 |" in lines
    meta["dcc"]["AAA:B"] = {**meta["dcc"]["SPY:TLT"]}
    rows = [line for line in dcc_section(meta, [["SPY", "TLT"], ["AAA", "B"]]) if line.startswith("| ")]
    assert [row.split(" | ")[0] for row in rows[1:]] == ["| SPY-TLT", "| AAA-B"]  # the configured order
    assert not any("SPY-X" in line for line in lines) and dcc_section({}) == []


def test_one_clock_per_page_every_count_of_days_behind_is_to_the_as_of_date(tmp_path):
    """Made months after its data ends, the report counts C's sessions behind the as-of
    date in the source table as in the today table (not to the day it was made), says the
    data's age once, and its headline names the as-of date with the range of last dates."""
    from report_fixtures import build_synthetic_report

    text = build_synthetic_report(tmp_path, today="2019-06-28")[0]
    assert "C stale (last observed 2018-11-02, 39 days behind)" in text
    source_row = next(line for line in text.splitlines() if line.startswith("| C |"))
    assert source_row.endswith("| 39 (stale) |")
    assert "| sessions behind 2018-12-28 |" in text
    assert "data as of 2018-12-28 (the series end 2018-11-02 .. 2018-12-28: see Sources)" in text
    assert text.count("this report was made on 2019-06-28") == 1


def test_the_today_table_says_when_daily_and_synchronised_differ_in_sign():
    """S&P-Ethereum on the as-of date: daily -0.32, synchronised +0.07 (the issue's case):
    the row says they differ in sign and which to read."""
    import pandas as pd

    from corrflow.present.summary import today_table

    index = pd.bdate_range("2026-06-01", periods=5)
    corr = pd.DataFrame({"SPY:ETH:60": -0.32, "SPY:ETH:60:sync": 0.07}, index=index)
    meta = {s: {"kind": "price", "last": "2026-06-05", "status": "ok"} for s in ("SPY", "ETH")}
    row = today_table(corr, pd.DataFrame(index=index), [["SPY", "ETH"]], 60, "2026-06-05", meta)[-1]
    assert "synchronised +0.07" in row
    assert "daily -0.32 and synchronised +0.07 differ in sign" in row
    corr["SPY:ETH:60:sync"] = -0.2
    row = today_table(corr, pd.DataFrame(index=index), [["SPY", "ETH"]], 60, "2026-06-05", meta)[-1]
    assert "differ in sign" not in row
