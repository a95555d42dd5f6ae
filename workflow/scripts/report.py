"""Markdown report and charts (task F): docs/report.md, docs/report_summary.rst and docs/fig_*.png.

The report opens with a one-screen summary: where each series came from (its origin:
live FRED / live Yahoo / cache with its download date / local file / offline snapshot),
the as-of date (the last date every configured pair has data), today's correlation of
each pair against its own history with its sign regime in words, stale series marked,
today's Markov states and stress flags. Then a section per pair (one figure: the
primary window bold with its band, sign regimes as a strip, stress episodes as light
bands, the other windows and the EWMA muted in a panel below; its stress episodes with
the Forbes-Rigobon adjusted correlation), a heatmap of the universe where every pair is
compared on the days both series traded, a regime figure (one Markov panel per series,
sign regimes, stress days), the DQ summary, the model (today's forecast with its
interval, against the naive rules) and the latest all-pairs matrix when that ran.

Every number is read from the workflow's outputs, never retyped. An optional part that
is switched off (a column family absent from regimes.parquet, no model) gives a
sentence saying so, not an error. Figures use matplotlib's Agg backend, one style,
1300 px wide, and carry no timestamps, so the same inputs give the same bytes.
``report_summary.rst`` holds the same headline and tables for Snakemake's HTML report.
"""

import argparse
import json
import logging
import os
import re
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from _all_pairs_store import read_all_pairs
from _contracts import (
    HORIZON_COLUMNS,
    SIGN_LABELS,
    STRESS,
    band_of,
    parse_corr_column,
    pearson_columns,
    read_parquet,
    read_rolling_corr,
    sign_column,
)
from _helpers import (
    InputDataError,
    atomic_path,
    cli_parser,
    configure_logging,
    load_json_arg,
    run_script,
    write_text_atomic,
)
from _summary import (
    DASHBOARD,
    RECENT_DAYS,
    SIGN_COLOURS,
    as_of_date,
    current_state,
    data_provenance,
    episodes_table,
    heatmap_series,
    is_missing,
    markov_name,
    markov_panels,
    normalised_episodes,
    pair_correlations,
    pair_figure_name,
    period_sentence,
    primary_of,
    series_origin,
    stale_series,
    today_table,
)

logger = logging.getLogger("report")

TIMELINE_FIGURE = "fig_regimes.png"
HEATMAP_FIGURE = "fig_heatmap.png"
PRIMARY_COLOUR = "#17365d"
MUTED_COLOURS = ["#8fa9c7", "#c9a66b", "#9cc59a", "#b9a3cf"]
EPISODE_COLOUR = "#7f7f7f"
STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 9,
    "legend.frameon": False,
}
FIGURE_WIDTH = 13.0  # inches at 100 dpi: 1300 px
MAX_ANNOTATED = 20  # heatmap cells with numbers up to this many series
MAX_LABELLED = 60  # heatmap tick labels up to this many series
LABELLED_EPISODES = 10  # episode labels on a pair figure, longest first
LABEL_ROWS = 3  # rows of episode labels above a pair figure

def save_figure(fig, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})


def date_axis(ax) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=6, maxticks=14)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def sign_runs(labels: pd.Series) -> list[tuple]:
    """(start, end, label) of each run of one sign label; a run ends where the next begins."""
    known = labels.dropna()
    if known.empty:
        return []
    change = known.ne(known.shift()).to_numpy()
    starts = known.index[change]
    ends = list(starts[1:]) + [known.index[-1]]
    return [(s, e, known.loc[s]) for s, e in zip(starts, ends)]


def shade_sign(ax, labels: pd.Series) -> None:
    """Sign regimes as a colour strip filling ``ax`` (one colour per label, no gaps)."""
    for start, end, label in sign_runs(labels):
        ax.axvspan(start, end, color=SIGN_COLOURS.get(label, "white"), lw=0)
    ax.set_yticks([])
    ax.grid(False)


def label_rows(episodes: pd.DataFrame, start, end, axis_px: float, max_rows: int = LABEL_ROWS) -> list:
    """(episode, row) for the labels that fit above the axis without overlapping: the
    longest episodes first, each in the lowest row whose last label ends before it."""
    span_days = max((end - start).days, 1)
    day_per_px = span_days / axis_px
    placed, row_ends = [], [[] for _ in range(max_rows)]
    named = episodes[episodes["name"].str.len() > 0]
    for _, e in (
        named.sort_values("business_days", ascending=False, kind="stable").head(LABELLED_EPISODES).iterrows()
    ):
        left = max(pd.Timestamp(e["start"]), start)
        width = pd.Timedelta(days=(len(e["name"]) * 7.0 + 12) * day_per_px)
        right = left + width
        if right > end:  # a label near the right edge is drawn leftwards from the episode's end
            left, right = left - width, left
        for row, occupied in enumerate(row_ends):
            if all(right < lo or left > hi for lo, hi in occupied):
                occupied.append((left, right))
                placed.append((e, row, left))
                break
    return placed


def plot_pair(corr, regimes, episodes, a, b, window, names, origins, path: Path) -> None:
    """One pair: the primary window bold with its band, sign regimes as a strip under it,
    stress episodes as light bands, other windows and the EWMA thin in a panel below."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    column = primary_of(corr, a, b, window)
    primary = corr[column].dropna()
    start, end = primary.index[0], primary.index[-1]
    view = corr.loc[start:end]
    others = [c for c in pearson_columns(corr) if c.startswith(f"{a}:{b}:") and c != column]
    ewms = [c for c in corr.columns if c.startswith(f"{a}:{b}:ewm")]
    w = parse_corr_column(column).window
    with plt.rc_context(STYLE):
        fig = plt.figure(figsize=(FIGURE_WIDTH, 7.4))
        grid = fig.add_gridspec(
            3, 1, height_ratios=[3.4, 0.22, 1.5], hspace=0.12, left=0.06, right=0.80, top=0.80, bottom=0.07
        )
        ax = fig.add_subplot(grid[0])
        strip = fig.add_subplot(grid[1], sharex=ax)
        low = fig.add_subplot(grid[2], sharex=ax)
        handles = []
        band = band_of(corr, column)
        # a pair's columns are NaN on days either market was closed: draw each on its own days
        if band:
            on_days = view.loc[primary.index]
            ax.fill_between(
                primary.index, on_days[band[0]], on_days[band[1]], color=PRIMARY_COLOUR, alpha=0.18, lw=0
            )
            handles.append(
                Patch(color=PRIMARY_COLOUR, alpha=0.18, label=f"{band[0].rsplit(':lo', 1)[1]} % band")
            )
        (line,) = ax.plot(
            primary.index, primary, lw=1.5, color=PRIMARY_COLOUR, zorder=3, label=f"{w}-day correlation"
        )
        handles.insert(0, line)
        ax.axhline(0, color="black", lw=0.7, zorder=2)
        ax.set_ylim(-1, 1)
        ax.set_ylabel("correlation of daily returns")
        # stress episodes: light bands across all panels, labels above the top panel
        shown = episodes[
            (pd.to_datetime(episodes["end"]) >= start) & (pd.to_datetime(episodes["start"]) <= end)
        ]
        for _, e in shown.iterrows():
            e0, e1 = max(pd.Timestamp(e["start"]), start), min(pd.Timestamp(e["end"]), end)
            if e1 == e0:
                e1 = e0 + pd.Timedelta(days=1)
            for axis in (ax, low):
                axis.axvspan(e0, e1, color=EPISODE_COLOUR, alpha=0.13, lw=0, zorder=1)
        if len(shown):
            handles.append(Patch(color=EPISODE_COLOUR, alpha=0.25, label="stress episode"))
        axis_px = FIGURE_WIDTH * 100 * (0.80 - 0.06)
        for e, row, left in label_rows(shown, start, end, axis_px):
            ax.annotate(
                e["name"],
                xy=(left, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(2, 4 + 14 * row),
                textcoords="offset points",
                fontsize=8.5,
                color="#444444",
                va="bottom",
                annotation_clip=False,
            )
        # sign regimes as a strip right under the line (shading the line's panel hides it)
        sign = sign_column(column)
        if sign in regimes:
            shade_sign(strip, regimes[sign].reindex(view.index))
            strip.set_ylabel("sign", rotation=0, ha="right", va="center", fontsize=9)
            handles += [
                Patch(color=SIGN_COLOURS["negative"], label="negative (hedge)"),
                Patch(color=SIGN_COLOURS["mixed"], label="mixed"),
                Patch(color=SIGN_COLOURS["positive"], label="positive (co-move)"),
            ]
        else:
            strip.set_yticks([])
            strip.grid(False)
            strip.text(
                0.5, 0.5, "sign regimes off", transform=strip.transAxes, ha="center", va="center", fontsize=8
            )
        plt.setp(ax.get_xticklabels(), visible=False)
        plt.setp(strip.get_xticklabels(), visible=False)
        for colour, other in zip(MUTED_COLOURS, others):
            values = view[other].dropna()
            (h,) = low.plot(
                values.index, values, lw=0.7, color=colour, label=f"{parse_corr_column(other).window}-day"
            )
            handles.append(h)
        for other in ewms:
            values = view[other].dropna()
            (h,) = low.plot(
                values.index,
                values,
                lw=0.9,
                color="#555555",
                ls="--",
                label=f"EWMA, half-life {other.rsplit(':ewm', 1)[1]} d",
            )
            handles.append(h)
        low.axhline(0, color="black", lw=0.6)
        low.set_ylim(-1, 1)
        low.set_ylabel("other windows", fontsize=9)
        low.set_xlim(start, end)
        date_axis(low)
        fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.815, 0.80), frameon=False)
        fig.text(
            0.06, 0.975, f"{a} vs {b}: {w}-day rolling correlation", fontsize=14, fontweight="bold", va="top"
        )
        latest_note = f"latest {primary.iloc[-1]:+.2f} on {end.date()}"
        # the long names on a line of their own, wrapped, so nothing runs off the figure
        subtitle = (
            f"{a}: {names.get(a, a)}; {b}: {names.get(b, b)}\n"
            f"{start.date()} .. {end.date()} (days both markets traded) · {latest_note} · "
            f"source: {a} {origins.get(a, '?')}, {b} {origins.get(b, '?')}"
        )
        fig.text(
            0.06,
            0.94,
            "\n".join(textwrap.fill(line, 150) for line in subtitle.splitlines()),
            fontsize=10,
            color="#333333",
            va="top",
        )
        save_figure(fig, path)
        plt.close(fig)


def plot_heatmaps(
    full, recent, periods, left_out: dict, as_of: str, coverage: dict, path: Path, source: str = ""
) -> None:
    """Two heatmaps (all joint days of each pair; the last year of each pair), with the
    periods in the titles and a note on every series left out."""
    import matplotlib.pyplot as plt

    n = len(full)
    labels = [f"{s} ({coverage[s][0][:4]}-{coverage[s][1][:4]})" for s in full.index]
    recent_from = min((p[2] for p in periods.values()), default=None)
    with plt.rc_context({**STYLE, "axes.grid": False, "axes.titlelocation": "center"}):
        fig, axes = plt.subplots(1, 2, figsize=(FIGURE_WIDTH + 2, 7.4))
        fig.subplots_adjust(left=0.14, right=0.9, top=0.8, bottom=0.2, wspace=0.08)
        for ax, matrix, title in (
            (axes[0], full, "every pair over all its joint days"),
            (
                axes[1],
                recent,
                f"last {RECENT_DAYS} joint days of each pair (from {recent_from} at the earliest)",
            ),
        ):
            image = ax.imshow(matrix.to_numpy(dtype="float64"), cmap="RdBu_r", vmin=-1, vmax=1)
            if n <= MAX_LABELLED:
                ax.set_xticks(range(n), list(full.columns), rotation=45, ha="right")
                ax.set_yticks(range(n), labels if ax is axes[0] else [""] * n)
            if n <= MAX_ANNOTATED:
                values = matrix.to_numpy(dtype="float64")
                for i, j in np.argwhere(np.isfinite(values)):
                    if i != j:
                        ax.text(
                            j,
                            i,
                            f"{values[i, j]:.2f}",
                            ha="center",
                            va="center",
                            fontsize=8,
                            color="white" if abs(values[i, j]) > 0.6 else "black",
                        )
            ax.set_title(title, fontsize=11)
        cax = fig.add_axes([0.915, 0.25, 0.012, 0.5])
        fig.colorbar(image, cax=cax, label="correlation of daily returns")
        fig.suptitle(
            f"Correlation of daily returns, each pair on the days both series traded, data through {as_of}"
            + (f" ({source})" if source else ""),
            fontweight="bold",
        )
        fig.text(
            0.5,
            0.905,
            textwrap.fill(f"Periods: {period_sentence(periods)}. Yields enter as par-bond returns.", 170),
            ha="center",
            va="top",
            fontsize=10,
        )
        notes = [f"{s}: {why}" for s, why in left_out.items()]
        if notes:
            fig.text(
                0.5, 0.04, textwrap.fill("Not shown: " + "; ".join(notes), 170), ha="center", fontsize=10, color="#7a1f1f"
            )
        save_figure(fig, path)
        plt.close(fig)


def sign_label(column: str) -> str:
    """'sign:SPY:TLT:60' -> 'SPY-TLT 60d'."""
    a, b, window, _ = parse_corr_column(column.removeprefix("sign:"))
    return f"{a}-{b} {window}d"


def plot_regime_timeline(
    regimes: pd.DataFrame, regimes_meta: dict, sign_columns: list[str], path: Path, source: str = ""
) -> None:
    """One Markov panel per series (real-time probability shaded, hindsight as a line),
    a sign-regime strip per pair, and the stress days."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    panels = markov_panels(regimes, regimes_meta)
    signs = [c for c in sign_columns if c in regimes]
    rows = len(panels) + 2
    ratios = [1.3] * len(panels) + [max(0.5, 0.32 * len(signs)), 0.35]
    dates = regimes.index
    off = [name for name, on in (("Markov regimes", panels), ("sign regimes", signs)) if not on]
    off += [] if STRESS in regimes else ["stress flags"]
    height = 1.6 * len(panels) + 0.45 * max(len(signs), 1) + 2.4
    with plt.rc_context(STYLE):
        fig = plt.figure(figsize=(FIGURE_WIDTH, height))
        top = 1 - 1.05 / height  # room for the heading, in inches
        grid = fig.add_gridspec(
            rows, 1, height_ratios=ratios, hspace=0.6, left=0.14, right=0.80, top=top, bottom=0.45 / height
        )
        axes = [fig.add_subplot(grid[k]) for k in range(rows)]
        for ax in axes[1:]:
            ax.sharex(axes[0])
        for ax, panel, colour in zip(
            axes, panels, ["#c0392b", "#1b4f72", "#7d3c98", "#1e8449", "#b9770e"] * 4
        ):
            prefix, state = panel["prefix"], panel["top"]
            realtime = regimes[f"{prefix}:p_realtime:{state}"].dropna()  # each on its own days, no gaps
            ax.fill_between(
                realtime.index, 0, realtime.to_numpy(dtype="float64"), color=colour, alpha=0.35, lw=0
            )
            hindsight = f"{prefix}:p_hindsight:{state}"
            if hindsight in regimes:
                known = regimes[hindsight].dropna()
                ax.plot(known.index, known, color=colour, lw=0.8)
            ax.set_ylim(0, 1)
            ax.set_yticks([0, 0.5, 1])
            caveat = "  (states not well separated: read with care)" if not panel["separated"] else ""
            ax.set_title(f"{markov_name(prefix)}: P({state}){caveat}", fontsize=11)
        sign_ax = axes[len(panels)]
        sign_ax.grid(False)
        if signs:
            import matplotlib.dates as mdates
            from matplotlib.colors import ListedColormap

            codes = {label: k for k, label in enumerate(SIGN_LABELS)}
            matrix = np.array(
                [
                    # closed-market days carry no label: drawn with the day before (display only)
                    [
                        codes.get(v, np.nan) if isinstance(v, str) else np.nan
                        for v in regimes[c].ffill(limit=5)
                    ]
                    for c in signs
                ]
            )
            sign_ax.imshow(
                np.ma.masked_invalid(matrix),
                aspect="auto",
                interpolation="nearest",
                extent=[mdates.date2num(dates[0]), mdates.date2num(dates[-1]), len(signs) - 0.5, -0.5],
                vmin=0,
                vmax=2,
                cmap=ListedColormap([SIGN_COLOURS[label] for label in SIGN_LABELS]),
            )
            sign_ax.set_yticks(range(len(signs)), [sign_label(c) for c in signs])
            sign_ax.set_title("sign regime of each pair's primary-window correlation", fontsize=11)
        else:
            sign_ax.set_yticks([])
            sign_ax.text(0.5, 0.5, "sign regimes: off", transform=sign_ax.transAxes, ha="center", va="center")
        stress_ax = axes[-1]
        stress_ax.grid(False)
        stress_ax.set_yticks([])
        if STRESS in regimes:
            stress_ax.fill_between(
                dates,
                0,
                1,
                where=regimes[STRESS].fillna(False).to_numpy(dtype=bool),
                color="#555555",
                lw=0,
                step="post",
            )
            stress_ax.set_title("stress days", fontsize=11)
        else:
            stress_ax.text(
                0.5, 0.5, "stress flags: off", transform=stress_ax.transAxes, ha="center", va="center"
            )
        for ax in axes[:-1]:
            plt.setp(ax.get_xticklabels(), visible=False)
        stress_ax.set_xlim(dates[0], dates[-1])
        date_axis(stress_ax)
        handles = []
        if panels:
            handles += [
                Patch(color="#888888", alpha=0.35, label="P(state) real-time\n(data up to that day)"),
                Line2D([], [], color="#888888", lw=0.8, label="P(state) hindsight\n(full-sample smoothed)"),
            ]
        if signs:
            handles += [
                Patch(color=SIGN_COLOURS["negative"], label="negative (hedge)"),
                Patch(color=SIGN_COLOURS["mixed"], label="mixed"),
                Patch(color=SIGN_COLOURS["positive"], label="positive (co-move)"),
            ]
        if STRESS in regimes:
            handles.append(Patch(color="#555555", label="stress day"))
        if handles:
            fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.815, top), frameon=False)
        fig.text(
            0.14,
            1 - 0.15 / height,
            f"Regimes {dates[0].date()} .. {dates[-1].date()}" + (f" ({source})" if source else ""),
            fontsize=14,
            fontweight="bold",
            va="top",
        )
        if off:
            fig.text(0.14, 1 - 0.5 / height, f"Off in this run: {', '.join(off)}.", fontsize=10, va="top")
        save_figure(fig, path)
        plt.close(fig)


# ---------------------------------------------------------------- horizons


def horizons_section(horizons: pd.DataFrame | None, as_of: str) -> list[str]:
    """Each pair's latest weekly and monthly correlation on or before the as-of date
    (horizons.csv: long ``date,pair,frequency,window,corr``)."""
    lines = ["## Longer horizons", ""]
    if horizons is None:
        return lines + ["Weekly and monthly correlations: off (no horizons.csv in this run).", ""]
    absent = [c for c in HORIZON_COLUMNS if c not in horizons.columns]
    if absent:
        raise InputDataError(f"horizons.csv: lacks column(s) {absent}; expected {HORIZON_COLUMNS}")
    known = horizons.dropna(subset=["corr"])
    known = known[pd.to_datetime(known["date"]) <= pd.Timestamp(as_of)]
    if known.empty:
        return lines + [f"No weekly or monthly correlation on or before {as_of}.", ""]
    latest = (
        known.sort_values("date", kind="stable").groupby(["pair", "frequency", "window"], sort=True).last()
    )
    lines += ["| pair | frequency | window (periods) | date | correlation |", "|---|---|---|---|---|"]
    for (pair, frequency, window), row in latest.iterrows():
        lines.append(f"| {pair} | {frequency} | {window} | {str(row['date'])[:10]} | {row['corr']:+.2f} |")
    return lines + [
        "",
        "The same pairs measured on weekly and monthly returns: a daily correlation can hide "
        "offsetting moves within the week that a longer horizon shows.",
        "",
    ]


# ---------------------------------------------------------------- model


def model_section(metrics: dict | None) -> list[str]:
    if not metrics:
        return ["## Model", "", "Model: off (config key `model.enabled`).", ""]
    lines = [
        "## Model: next-month correlation forecast",
        "",
        f"{metrics['model_kind']} forecast of {metrics['pair']} {metrics['horizon']} business days "
        f"ahead; walk-forward test over {metrics['test_days']} days ({metrics['test_first']} .. "
        f"{metrics['test_last']}), refitted every {metrics['refit_every']} days on known targets only.",
        "",
    ]
    today = metrics.get("forecast")
    if today:
        lines += [
            f"**Forecast made on {today['date']} for about {today['target_date']}: {today['value']:+.2f} "
            f"({today['level']:.0%} prediction interval {today['lower']:+.2f} .. {today['upper']:+.2f}; "
            f"today {today['current']:+.2f}).**",
            "",
        ]
    lines += ["| forecast | RMSE | MAE |", "|---|---|---|"]
    for name in ("model", "last_value", "historical_mean"):
        lines.append(
            f"| {name.replace('_', ' ')} | {metrics[name]['rmse']:.4f} | {metrics[name]['mae']:.4f} |"
        )
    lines.append("")
    if metrics["model"]["rmse"] >= metrics["last_value"]["rmse"]:
        lines += [
            f"The model does not beat the naive rule: its RMSE {metrics['model']['rmse']:.3f} is no better than "
            f"carrying today's correlation forward ({metrics['last_value']['rmse']:.3f}), so treat its forecast "
            "as no more informative than today's value.",
            "",
        ]
    else:
        lines += [
            f"The model's RMSE is {1 - metrics['model']['rmse'] / metrics['last_value']['rmse']:.0%} below the "
            "last-value rule over the test period.",
            "",
        ]
    if "logit" in metrics:
        lines += [
            f"{metrics['logit_kind']}: Brier score (lower is better) and hit rate.",
            "",
            "| probability | Brier | hit rate |",
            "|---|---|---|",
        ]
        for name in ("logit", "last_sign", "historical_share"):
            lines.append(
                f"| {name.replace('_', ' ')} | {metrics[name]['brier']:.4f} | {metrics[name]['hit_rate']:.1%} |"
            )
        lines.append("")
        if metrics["logit"]["hit_rate"] <= metrics["last_sign"]["hit_rate"]:
            lines += [
                f"The Logit's hit rate ({metrics['logit']['hit_rate']:.1%}) does not beat the naive last-sign rule "
                f"({metrics['last_sign']['hit_rate']:.1%}): for calling the sign a month ahead, today's sign is as "
                "good a guide.",
                "",
            ]
    elif metrics.get("logit_skipped"):
        lines += [f"Logit skipped: {metrics['logit_skipped']}", ""]
    return lines


# ---------------------------------------------------------------- assembly

ALL_PAIRS_LISTED = 5  # most positive and most negative pairs listed


def all_pairs_section(manifest_path: str | Path) -> list[str]:
    """The all-pairs result on its latest date (``read_all_pairs(..., latest=True)``): how
    correlated the universe is, and its most positive and most negative pairs (only the
    last row group of each block is read)."""
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    matrix = read_all_pairs(manifest_path, latest=True)
    upper = np.triu_indices(len(matrix), 1)
    pairs = pd.Series(
        matrix.to_numpy()[upper],
        index=[f"{matrix.index[i]} / {matrix.columns[j]}" for i, j in zip(*upper)],
    )
    valid = pairs.dropna().sort_values(kind="stable")
    lines = [
        "## All pairs",
        "",
        f"{len(matrix)} series, {manifest['pairs']} pairs, {manifest['window']}-day window, on "
        f"{matrix.attrs['date']} (stored as {manifest['dtype']} in {len(manifest['files'])} block files; "
        f'`_all_pairs_store.read_all_pairs("{Path(manifest_path).as_posix()}", pair=(A, B))` reads one pair\'s '
        "history).",
        "",
    ]
    if valid.empty:
        return lines + ["No pair has a full window of data on that date.", ""]
    lines += [
        f"Median correlation {valid.median():+.2f}; {(valid > 0.5).mean():.0%} of pairs above +0.5, "
        f"{(valid < -0.5).mean():.0%} below -0.5; {len(pairs) - len(valid)} pairs without a full window.",
        "",
        "| most positive | corr | most negative | corr |",
        "|---|---|---|---|",
    ]
    count = min(ALL_PAIRS_LISTED, (len(valid) + 1) // 2)
    top, bottom = valid.iloc[::-1][:count], valid.iloc[:count]
    for (high, high_value), (low, low_value) in zip(top.items(), bottom.items()):
        lines.append(f"| {high} | {high_value:+.3f} | {low} | {low_value:+.3f} |")
    return lines + [""]


def skipped_pairs(series_meta: dict, pairs) -> dict[tuple[str, str], list[str]]:
    """Configured pairs with a series that has no data, with those series."""
    out = {}
    for a, b in pairs:
        absent = [s for s in (a, b) if is_missing(series_meta.get(s, {}))]
        if absent:
            out[(a, b)] = absent
    return out


def build_report(
    clean_meta,
    levels,
    corr,
    regimes,
    regimes_meta,
    episodes,
    dq,
    metrics,
    pairs,
    figures_dir: Path,
    all_pairs_manifest: str | None = None,
    window: int | None = None,
    heatmap_exclude: list[str] | None = None,
    horizons: pd.DataFrame | None = None,
) -> tuple[str, list[str]]:
    """The markdown text and the figure file names it drew (all under ``figures_dir``)."""
    series_meta = clean_meta["series"]
    names = {
        k: (m.get("name") or k) + (" (bond return)" if m.get("kind") == "yield" else "")
        for k, m in series_meta.items()
    }
    origins = {k: series_origin(m) for k, m in series_meta.items()}
    as_of = as_of_date(clean_meta, pairs)
    headline, series_rows = data_provenance(series_meta, as_of, clean_meta.get("data_through"))
    episodes = normalised_episodes(episodes, regimes_meta)
    stale = stale_series(series_meta, as_of)
    lines = [
        "# Cross-asset correlation report",
        "",
        headline,
        "",
        f"Interactive version: [dashboard.html]({DASHBOARD}) (one file, works offline).",
        "",
        f"## Today at a glance ({as_of})",
        "",
        *today_table(corr, regimes, pairs, window, as_of, series_meta),
        "",
        *current_state(regimes, regimes_meta, as_of),
        "",
    ]
    if stale:
        lines += ["Stale on " + as_of + ": " + "; ".join(f"{s} {why}" for s, why in stale.items()) + ".", ""]
    lines += [
        "Sign regime: the primary-window correlation's sign (negative: bonds hedge equities; positive: "
        "they co-move; mixed: in between or changing). 'vs its past year': today's correlation against "
        "the pair's own trailing year (z-score). Percentile: share of the pair's own history at or below "
        "today's value. DCC: the DCC-GARCH(1,1) conditional correlation of the pair's daily returns "
        "(regimes.dcc), which reacts faster than a rolling window.",
        "",
        "## Sources",
        "",
        *series_rows,
        "",
    ]
    drawn = []
    lines += ["## Pairs", ""]
    skipped = skipped_pairs(series_meta, pairs)
    for a, b in pairs:
        name = pair_figure_name(a, b)
        lines += [f"### {names.get(a, a)} vs {names.get(b, b)}", ""]
        column = primary_of(corr, a, b, window)
        if (a, b) in skipped or column is None or corr[column].dropna().empty:
            why = (
                f"no data for {', '.join(skipped[(a, b)])} at any ingest level (live, cache, snapshot)"
                if (a, b) in skipped
                else "the two series have no common days"
            )
            plot_missing_pair(a, b, why, figures_dir / name)
            lines += [f"Skipped: {why}.", ""]
            logger.warning("report: pair %s-%s skipped: %s", a, b, why)
            continue
        plot_pair(corr, regimes, episodes, a, b, window, names, origins, figures_dir / name)
        drawn.append(name)
        span = corr[column].dropna().index
        during = episodes[
            (pd.to_datetime(episodes["end"]) >= span[0]) & (pd.to_datetime(episodes["start"]) <= span[-1])
        ]  # only the episodes within the pair's data
        lines += [f"![{a} vs {b}]({name})", "", "Stress episodes:", "", *episodes_table(during, column), ""]
    shown, left_out = heatmap_series(series_meta, levels, heatmap_exclude or [])
    full, recent, periods = pair_correlations(levels, clean_meta, shown, as_of)
    coverage = {s: (str(series_meta[s]["first"]), str(series_meta[s]["last"])) for s in shown}
    source = "source: " + ", ".join(sorted({origins[s] for s in shown}))
    plot_heatmaps(full, recent, periods, left_out, as_of, coverage, figures_dir / HEATMAP_FIGURE, source)
    lines += ["## The universe", "", f"![correlation heatmap]({HEATMAP_FIGURE})", ""]
    if left_out:
        lines += ["Not in the heatmap: " + "; ".join(f"{s} ({why})" for s, why in left_out.items()) + ".", ""]
    sign_columns = [
        sign_column(primary_of(corr, a, b, window))
        for a, b in pairs
        if (a, b) not in skipped and primary_of(corr, a, b, window)
    ]
    plot_regime_timeline(regimes, regimes_meta, sign_columns, figures_dir / TIMELINE_FIGURE, source)
    lines += [
        "## Regimes",
        "",
        f"![regimes]({TIMELINE_FIGURE})",
        "",
        "Markov-switching probabilities come in two kinds: **real-time** uses only data up to each day "
        "(expanding-window fits), so it is what one could have known then; **hindsight** is the full-sample "
        "smoothed probability, which also uses the days after it. Both are in `data/processed/regimes.parquet`.",
        "",
    ]
    fits = [p for p in markov_panels(regimes, regimes_meta) if p["fit"]]
    if fits:
        lines += ["| Markov fit | states (mean, variance, share of days) | well separated |", "|---|---|---|"]
        for panel in fits:
            states = "; ".join(
                f"{label}: {s.get('mean', np.nan):+.3f}, {s.get('variance', np.nan):.3f}, {s.get('share_of_days', np.nan):.0%}"
                for label, s in panel["fit"].get("states", {}).items()
            )
            lines.append(
                f"| {markov_name(panel['prefix'])} | {states or '-'} | {'yes' if panel['separated'] else 'no'} |"
            )
        lines.append("")
    lines += horizons_section(horizons, as_of)
    lines += [
        "## Data quality",
        "",
        "Full report: [dq_report.md](dq_report.md).",
        "",
        "| series | flags |",
        "|---|---|",
    ]
    for series_id, r in dq["series"].items():
        flags = [f"{check}: {state}" for check, state in r["checks"].items() if state not in ("pass", "n/a")]
        lines.append(f"| {series_id} | {', '.join(flags) or 'all pass'} |")
    lines.append("")
    lines += model_section(metrics)
    if all_pairs_manifest:
        lines += all_pairs_section(all_pairs_manifest)
    return "\n".join(lines), drawn


def plot_missing_pair(a: str, b: str, why: str, path: Path) -> None:
    """A small notice for the markdown; not declared in Snakemake's HTML report."""
    import matplotlib.pyplot as plt

    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(FIGURE_WIDTH, 1.6))
        ax.axis("off")
        ax.text(0.5, 0.5, f"{a} vs {b}: not drawn - {why}", ha="center", va="center", fontsize=13)
        save_figure(fig, path)
        plt.close(fig)


# ---------------------------------------------------------------- markdown -> rst (HTML report)


def _rst_inline(text: str) -> str:
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"``\1``", text)
    return re.sub(r"(?<!`)`([^`]+)`(?!`)", r"``\1``", text)


def markdown_to_rst(markdown: str) -> str:
    """The report's own markdown (headings, paragraphs, bullets, pipe tables) as
    reStructuredText, for Snakemake's HTML report. Images are left out (the figures are
    report items of their own)."""
    out, table = [], []
    underline = {1: "=", 2: "-", 3: "~"}

    def flush():
        if not table:
            return
        cells = [[c.strip().replace('"', '""') for c in row.strip().strip("|").split("|")] for row in table]
        header, body = cells[0], [r for r in cells[2:]]
        out.append(".. csv-table::")
        out.append("   :header: " + ", ".join(f'"{_rst_inline(c)}"' for c in header))
        out.append("")
        for row in body:
            out.append("   " + ", ".join(f'"{_rst_inline(c)}"' for c in row))
        out.append("")
        table.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        heading = re.match(r"^(#+) (.*)$", line)
        if heading:
            level, title = len(heading.group(1)), _rst_inline(heading.group(2))
            out += [title, underline.get(level, "^") * len(title), ""]
        elif line.startswith("!["):
            continue
        else:
            out.append(_rst_inline(line.strip()))
    flush()
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip() + "\n"


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli_parser(__doc__)
    parser.add_argument("--clean", required=True)
    parser.add_argument("--features", default=None, help="(unused; kept for older rules)")
    parser.add_argument("--corr", required=True)
    parser.add_argument("--regimes", required=True)
    parser.add_argument("--episodes", required=True, help="stress_episodes.csv")
    parser.add_argument("--dq", required=True, help="dq_report.json")
    parser.add_argument("--metrics", default=None, help="models/metrics.json (when task G ran)")
    parser.add_argument(
        "--all-pairs", default=None, help="data/processed/all_pairs/manifest.json (when all pairs ran)"
    )
    parser.add_argument("--pairs", type=load_json_arg, required=True)
    parser.add_argument("--window", type=int, default=None, help="the primary window")
    parser.add_argument("--horizons", default=None, help="data/processed/horizons.csv (when it ran)")
    parser.add_argument("--heatmap-exclude", nargs="*", default=[], help="series left out of the heatmap")
    parser.add_argument("--report", required=True, help="docs/report.md; figures go beside it")
    parser.add_argument("--summary", default=None, help="docs/report_summary.rst for the HTML report")
    parser.add_argument("--figures", nargs="*", default=[], help="pair figures (drawn beside the report)")
    parser.add_argument("--timeline", default=None, help="regime figure (beside the report)")
    parser.add_argument("--heatmap", default=None, help="heatmap figure (beside the report)")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    configure_logging(args.log)
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    figures_dir = Path(args.report).parent
    expected = {figures_dir / pair_figure_name(a, b) for a, b in args.pairs}
    expected |= {figures_dir / TIMELINE_FIGURE, figures_dir / HEATMAP_FIGURE}
    declared = {Path(p) for p in [*args.figures, args.timeline, args.heatmap] if p}
    if not declared <= expected:
        raise InputDataError(
            f"report: figures are drawn beside the report as {sorted(map(str, expected))}; "
            f"got {sorted(map(str, declared - expected))}"
        )
    levels, clean_meta = read_parquet(args.clean)
    corr = read_rolling_corr(args.corr)
    regimes, regimes_meta = read_parquet(args.regimes)
    episodes = pd.read_csv(args.episodes)
    dq = json.loads(Path(args.dq).read_text(encoding="utf-8"))
    metrics = json.loads(Path(args.metrics).read_text(encoding="utf-8")) if args.metrics else None
    text, drawn = build_report(
        clean_meta,
        levels,
        corr,
        regimes,
        regimes_meta,
        episodes,
        dq,
        metrics,
        args.pairs,
        figures_dir,
        args.all_pairs,
        args.window,
        args.heatmap_exclude,
        pd.read_csv(args.horizons) if args.horizons else None,
    )
    write_text_atomic(text + "\n", args.report)
    if args.summary:
        write_text_atomic(markdown_to_rst(text), args.summary)
    logger.info("wrote %s with figures %s", args.report, drawn)


if __name__ == "__main__":
    run_script(main, globals())
