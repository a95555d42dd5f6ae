"""The figure registry (corrflow.present.figures) drives both the report rule's outputs and
what report.py draws and embeds: a figure added to the registry needs nothing else."""

import re
import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from corrflow.io import InputDataError
from corrflow.present import figures as _figures
from corrflow.present.figures import Figure, rule_outputs

EXTRA_MODULE = '''"""A tiny extra figure: one bar, the number of configured pairs."""

from corrflow.present.figures import Figure


def section(context):
    import matplotlib.pyplot as plt

    from corrflow.present.figures._style import STYLE, save_figure

    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(2, 1))
        ax.bar([0], [len(context.pairs)])
        save_figure(fig, context.figures_dir / FIGURE.file)
        plt.close(fig)
    lines = ["## Extra", "", f"![extra]({FIGURE.file})", "", f"{len(context.pairs)} pairs configured.", ""]
    return lines, [FIGURE.file]


FIGURE = Figure(
    output="extra", file="fig_extra.png", caption="fig_extra.rst", category="Extra", section=section
)
'''
PNG = b"\x89PNG\r\n\x1a\n"


def extra_figure() -> Figure:
    namespace: dict = {}
    exec(compile(EXTRA_MODULE, "extra.py", "exec"), namespace)
    return namespace["FIGURE"]


@pytest.fixture
def with_extra(monkeypatch):
    """The registry with one more figure appended, as its one new line would."""
    monkeypatch.setattr(_figures, "REGISTRY", [*_figures.REGISTRY, extra_figure()])


def test_a_registered_figure_is_drawn_and_embedded_without_touching_report_py(tmp_path, with_extra):
    from report_fixtures import build_synthetic_report, synthetic_outputs

    o = synthetic_outputs()
    text, drawn = build_synthetic_report(tmp_path, o)
    assert (tmp_path / "fig_extra.png").read_bytes()[:8] == PNG
    assert drawn == [
        "fig_corr_A_vs_B.png",
        "fig_corr_A_vs_C.png",
        "fig_heatmap.png",
        "fig_regimes.png",
        "fig_extra.png",
    ]
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    # in registry order: right after the last registered figure, before the sections that follow
    assert headings.index("## Extra") == headings.index("## Regimes") + 1
    assert headings.index("## Longer horizons") == headings.index("## Extra") + 1
    assert "![extra](fig_extra.png)" in text and f"{len(o['pairs'])} pairs configured." in text


def test_rule_outputs_name_every_registered_file_with_its_caption(with_extra):
    marked = {}

    def fake_report(path, **kwargs):
        marked[path] = kwargs
        return f"report:{path}"

    outputs = rule_outputs([["A", "B"], ["A", "D"]], "docs", {"D"}, fake_report)
    assert outputs == {
        "figures": ["report:docs/fig_corr_A_vs_B.png", "docs/fig_corr_A_vs_D.png"],  # D has no data
        "exceedance_figures": ["report:docs/fig_exceedance_A_vs_B.png", "docs/fig_exceedance_A_vs_D.png"],
        "heatmap": "report:docs/fig_heatmap.png",
        "timeline": "report:docs/fig_regimes.png",
        "extra": "report:docs/fig_extra.png",
    }
    assert marked["docs/fig_extra.png"] == {"caption": "../report/fig_extra.rst", "category": "Extra"}
    assert marked["docs/fig_corr_A_vs_B.png"] == {
        "caption": "../report/fig_corr.rst",
        "category": "Correlations",
        "labels": {"pair": "A_vs_B"},
    }
    assert rule_outputs([["A", "B"]])["extra"] == "docs/fig_extra.png"  # without report(): plain paths


def test_every_registered_figure_has_its_caption_and_a_flag_of_its_own():
    import inspect

    from corrflow.present.report import run

    outputs = [figure.output for figure in _figures.REGISTRY]
    assert len(set(outputs)) == len(outputs) and not {"report", "summary"} & set(outputs)
    # a figure's --<output> flag must not take an input's or setting's (``--exceedance`` is the csv)
    assert not set(outputs) & (
        set(inspect.signature(run).parameters) - {"figures"}
    )  # run(figures=) holds them
    for figure in _figures.REGISTRY:
        assert (ROOT / "workflow" / "report" / figure.caption).is_file(), figure.caption


def test_report_cli_takes_each_registered_output_and_refuses_a_figure_elsewhere(tmp_path, with_extra):
    from corrflow.cli import parse_step_arguments
    from corrflow.present.report import run
    from corrflow.steps import STEPS

    inputs = [
        f"--{name}={tmp_path / name}" for name in ("clean", "corr", "regimes", "episodes", "dq", "universe")
    ]
    report = tmp_path / "docs" / "report.md"
    argv = [*inputs, "--pairs", '[["A", "B"]]', "--today", "2024-01-02", "--report", str(report)]
    arguments, *_ = parse_step_arguments(STEPS["report"], [*argv, "--extra", "x.png"])
    assert arguments["extra"] == ["x.png"] and "figures" not in arguments
    arguments, *_ = parse_step_arguments(
        STEPS["report"], [*argv, "--extra", str(tmp_path / "elsewhere" / "fig_extra.png")]
    )
    with pytest.raises(InputDataError, match=r"drawn beside the report .*fig_extra\.png"):
        run(**arguments)


@pytest.mark.e2e
def test_a_new_module_and_registry_line_reach_the_rule_the_report_and_the_html_report(workflow_run, tmp_path):
    """On a copy of the finished default run: add corrflow/present/figures/extra.py, one registry line and its
    caption; Snakemake then asks for the file, report.py draws and embeds it, and the HTML
    report carries it under its category."""
    from conftest import snakemake

    workdir = tmp_path / "workflow"
    shutil.copytree(workflow_run[0], workdir, symlinks=True)
    package = workdir / "src" / "corrflow" / "present" / "figures"
    (package / "extra.py").write_text(EXTRA_MODULE, encoding="utf-8")
    init = (package / "__init__.py").read_text(encoding="utf-8")
    line = (
        '    Figure(output="extra", file="fig_extra.png", caption="fig_extra.rst", category="Extra", '
        'section="corrflow.present.figures.extra:section"),\n'
    )
    registered = init.replace(
        'section="corrflow.present.figures.regimes:section",\n    ),\n]',
        'section="corrflow.present.figures.regimes:section",\n    ),\n' + line + "]",
    )
    assert line in registered, "the registry's layout changed: update this test's edit"
    (package / "__init__.py").write_text(registered, encoding="utf-8")
    (workdir / "workflow" / "report" / "fig_extra.rst").write_text("One bar: the configured pairs.\n")

    snakemake(workdir, "--cores", "2", "--config", "offline=true")
    assert (workdir / "docs" / "fig_extra.png").read_bytes()[:8] == PNG
    report = (workdir / "docs" / "report.md").read_text(encoding="utf-8")
    assert "## Extra" in report and "![extra](fig_extra.png)" in report

    snakemake(workdir, "--report", str(tmp_path / "report.html"), "--config", "offline=true")
    page = (tmp_path / "report.html").read_text(encoding="utf-8", errors="replace")
    categories = json_categories(page)
    assert "docs/fig_extra.png" in {path for paths in categories["Extra"].values() for path in paths}


def json_categories(page: str) -> dict:
    import json

    return json.loads(re.search(r"var categories = (\{.*?\});\n", page).group(1))


def test_the_pair_figure_breaks_its_line_and_band_at_a_gap(tmp_path):
    """A pair without a value for 60 of its days: the line and its band are drawn on the
    pair's days with NaN there (no segment, no polygon across), never over dropna()."""
    import matplotlib

    matplotlib.use("Agg")
    from corrflow.present.figures.pair import plot_pair
    from report_fixtures import synthetic_outputs

    o = synthetic_outputs()
    corr = o["corr"].copy()
    gap = corr.index[(corr.index >= "2017-03-01") & (corr.index <= "2017-05-31")]
    corr.loc[gap, [c for c in corr.columns if c.startswith("A:B:")]] = np.nan
    fig = plot_pair(corr, o["regimes"], o["episodes"], "A", "B", 60, {}, {}, tmp_path / "fig.png", corr.index)
    top = fig.axes[0]
    line = next(drawn for drawn in top.get_lines() if drawn.get_label() == "60-day correlation")
    x = pd.DatetimeIndex(matplotlib.dates.num2date(line.get_xdata(orig=False))).tz_localize(None)
    y = np.asarray(line.get_ydata(), dtype=float)
    inside = (x >= gap[0]) & (x <= gap[-1])
    assert inside.sum() == len(gap) and np.isnan(y[inside]).all()  # the days are there, as NaN
    band = top.collections[0]
    for path in band.get_paths():  # each polygon lies on one side of the gap
        days = pd.DatetimeIndex(matplotlib.dates.num2date(path.vertices[:, 0])).tz_localize(None)
        assert days.max() < gap[0] or days.min() > gap[-1]
    assert len(band.get_paths()) >= 2


def test_markov_lines_break_at_a_gap_in_the_data_not_at_a_holiday():
    """A Markov probability drawn on its own days: a weekend or a holiday joins the line,
    a stretch of 60 days without a value (a pair's gap) breaks it."""
    from corrflow.present.figures._style import broken_at_gaps

    days = pd.bdate_range("2019-01-01", "2019-12-31")
    days = days.drop(pd.Timestamp("2019-11-28"))  # a holiday
    values = pd.Series(0.5, index=days)
    values.loc["2019-05-07":"2019-07-31"] = np.nan  # no value for 60 days
    drawn = broken_at_gaps(values)
    inside = drawn.loc["2019-05-07":"2019-07-31"]
    assert len(inside) == 1 and inside.isna().all()  # one break inside the gap
    around = drawn.loc["2019-11-25":"2019-12-03"]
    assert len(around) == 6 and around.notna().all()  # the holiday and the weekend join the line
    assert drawn.notna().sum() == values.notna().sum()


def test_the_pair_figure_keeps_a_short_episode_visible(tmp_path):
    """A one-day episode on a four-year axis is drawn at least MIN_EPISODE_SHARE wide."""
    import matplotlib

    matplotlib.use("Agg")
    from corrflow.present.figures._style import MIN_EPISODE_SHARE
    from corrflow.present.figures.pair import plot_pair
    from report_fixtures import synthetic_outputs

    o = synthetic_outputs()
    episodes = o["episodes"].iloc[:0].copy()
    episodes.loc[0, ["name", "start", "end"]] = ["one-day shock", "2017-06-01", "2017-06-01"]
    fig = plot_pair(o["corr"], o["regimes"], episodes, "A", "B", 60, {}, {}, tmp_path / "fig.png")
    top = fig.axes[0]
    first, last = top.get_xlim()
    spans = [p for p in top.patches if p.get_width() < (last - first) / 2]  # the episode's band
    assert spans and min(p.get_width() for p in spans) >= MIN_EPISODE_SHARE * (last - first) * 0.99


def test_pair_figures_name_their_currency_fit_their_legend_and_use_the_pairs_sign_words(tmp_path):
    """The same pair in USD and in local currency gets two titles; the synchronised line's
    legend entry (the longest) lies inside the figure; an equity-equity pair's strip says
    'move together / opposite', a stock-bond pair's 'bonds hedge / co-move'."""
    import matplotlib

    matplotlib.use("Agg")
    from corrflow.present.figures.pair import plot_pair
    from report_fixtures import synthetic_outputs

    o = synthetic_outputs()
    corr = o["corr"].copy()
    corr["A:B:60:sync"] = corr["A:B:60"]
    meta_usd = {"A": {"kind": "price", "currency": "USD"}, "B": {"kind": "price", "currency": "USD",
                                                              "converted_from": "GBP"}}  # fmt: skip
    meta_local = {**meta_usd, "B": {"kind": "price", "currency": "GBP", "local_currency": True}}
    titles, legends = [], []
    for meta in (meta_usd, meta_local):
        fig = plot_pair(corr, o["regimes"], o["episodes"], "A", "B", 60, {}, {}, tmp_path / "f.png",
                        series_meta=meta)  # fmt: skip
        titles.append(fig.texts[0].get_text())
        legends.append([t.get_text() for t in fig.legends[0].get_texts()])
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        renderer = FigureCanvasAgg(fig).get_renderer()
        width = fig.bbox.width
        for text in fig.legends[0].get_texts():
            assert text.get_window_extent(renderer).x1 <= width, text.get_text()  # nothing cut off
    assert titles[0] == "A vs B: 60-day rolling correlation (A in USD; B in USD from GBP)"
    assert titles[1] == "A vs B: 60-day rolling correlation (A in USD; B in GBP, local)"
    assert "negative (move opposite)" in legends[0] and "positive (move together)" in legends[0]
    assert not any("hedge" in entry or "co-move" in entry for entry in legends[0])
    assert "synchronised\n(closes hours apart)" in legends[0]
    bond = {"A": {"kind": "price", "currency": "USD"}, "B": {"kind": "yield", "currency": "USD"}}
    fig = plot_pair(
        corr, o["regimes"], o["episodes"], "A", "B", 60, {}, {}, tmp_path / "f.png", series_meta=bond
    )
    entries = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "negative (bonds hedge)" in entries and "positive (co-move)" in entries
    assert fig.texts[0].get_text().endswith("(in USD)")


def test_the_heatmap_labels_a_converted_or_local_series_with_its_currency(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from corrflow.present.figures.heatmap import plot_heatmaps

    names = ["SPY", "FTSE", "DAX"]
    matrix = pd.DataFrame(np.eye(3), index=names, columns=names)
    coverage = {s: ("2000-01-03", "2021-07-02") for s in names}
    captured = {}
    original = plt.close

    def keep(fig=None):
        captured["fig"] = fig
        return original(fig)

    plt.close = keep
    try:
        plot_heatmaps(matrix, matrix, {}, {}, "2021-07-02", coverage, tmp_path / "h.png", yields=False,
                      currencies={"FTSE": "USD from GBP", "DAX": "EUR, local"})  # fmt: skip
    finally:
        plt.close = original
    labels = [t.get_text() for t in captured["fig"].axes[0].get_yticklabels()]
    assert labels == ["SPY (2000-2021)", "FTSE (USD from GBP, 2000-2021)", "DAX (EUR, local, 2000-2021)"]


def test_every_drawn_episode_of_a_pair_figure_is_labelled(tmp_path):
    """Twenty episodes, among them a configured short one (Covid 2020): the names that fit
    are written above (configured ones first), every other episode carries its start month
    in its band; none is drawn without a label."""
    import matplotlib

    matplotlib.use("Agg")
    from corrflow.present.figures.pair import plot_pair
    from report_fixtures import synthetic_outputs

    o = synthetic_outputs()
    days = o["corr"]["A:B:60"].dropna().index
    starts = days[:: len(days) // 20][:20]
    episodes = pd.DataFrame(
        {
            "name": [f"drawdown {d:%Y-%m}" for d in starts],
            "start": [str(d.date()) for d in starts],
            "end": [str((d + pd.Timedelta(days=6)).date()) for d in starts],
            "business_days": range(30, 50),
            "rule": "drawdown",
            "reason": "-",
        }
    )
    episodes.loc[7, ["name", "rule", "business_days"]] = ["Covid 2020", "named", 5]
    fig = plot_pair(o["corr"], o["regimes"], episodes, "A", "B", 60, {}, {}, tmp_path / "f.png")
    top = fig.axes[0]
    written = {t.get_text() for t in top.texts}
    assert "Covid 2020" in written  # a configured episode's name comes first
    ranges = [(t.split("..")[0], t.split("..")[-1]) for t in written if t[:4].isdigit()]
    assert ranges  # some by their start month
    for _, e in episodes.iterrows():
        month = e["start"][:7]
        assert e["name"] in written or any(lo <= month <= hi for lo, hi in ranges), e["name"]


def test_the_pair_figures_date_tags_overlap_neither_each_other_nor_the_curve(tmp_path):
    """Issue 29: "2007-06, 2007-08" and "2020-06, 2020-10" were drawn over each other and
    over the curve. Clusters of short unnamed episodes a few weeks apart, where the curve
    runs low (a tag standing at the foot would cross it) and where it runs high: measured
    on the drawn figure, no two tags' boxes overlap and the curve never enters a tag's box."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from corrflow.present.figures.pair import plot_pair
    from report_fixtures import synthetic_outputs

    o = synthetic_outputs()
    corr = o["corr"].copy()
    column = "A:B:60"
    days = corr[column].dropna().index
    low_stretch = (corr.index >= "2016-05-01") & (corr.index <= "2016-12-31")
    high_stretch = (corr.index >= "2017-09-01") & (corr.index <= "2018-03-31")
    corr.loc[low_stretch & corr[column].notna(), column] = -0.8  # like SPY-TLT in 2007
    corr.loc[high_stretch & corr[column].notna(), column] = 0.85
    starts = [
        *pd.date_range("2016-06-01", periods=5, freq="20D"),
        *pd.date_range("2017-10-02", periods=4, freq="45D"),
        days[5],
    ]
    episodes = pd.DataFrame(
        {
            "name": "",
            "start": [str(d.date()) for d in starts],
            "end": [str((d + pd.Timedelta(days=3)).date()) for d in starts],
            "business_days": 4,
            "rule": "vix",
            "reason": "-",
        }
    )
    fig = plot_pair(corr, o["regimes"], episodes, "A", "B", 60, {}, {}, tmp_path / "f.png")
    top = fig.axes[0]
    renderer = FigureCanvasAgg(fig).get_renderer()  # the closed figure, laid out as saved
    tags = [t for t in top.texts if t.get_text()[:4].isdigit()]
    assert len(tags) >= 4
    boxes = [t.get_window_extent(renderer) for t in tags]
    for i, first in enumerate(boxes):
        for second in boxes[i + 1 :]:
            assert not first.overlaps(second), (tags[i].get_text(), first, second)
    line = next(drawn for drawn in top.get_lines() if drawn.get_label() == "60-day correlation")
    x = mdates.date2num(line.get_xdata(orig=True))
    points = top.transData.transform(np.column_stack([x, np.asarray(line.get_ydata(), dtype=float)]))
    points = points[np.isfinite(points).all(axis=1)]
    for tag, box in zip(tags, boxes, strict=True):
        inside = (
            (points[:, 0] >= box.x0)
            & (points[:, 0] <= box.x1)
            & (points[:, 1] >= box.y0)
            & (points[:, 1] <= box.y1)
        )
        assert not inside.any(), tag.get_text()
    # every episode still carries its month
    written = [t.get_text() for t in tags]
    for d in starts:
        month = f"{d:%Y-%m}"
        assert any(t.split("..")[0] <= month <= t.split("..")[-1] for t in written), month
