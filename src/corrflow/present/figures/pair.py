"""The pair figure: one per configured pair, with its section of the report."""

import logging
import textwrap
from pathlib import Path

import pandas as pd

from corrflow.data.contracts import (
    band_of,
    parse_corr_column,
    pearson_columns,
    sign_column,
    sync_column,
)
from corrflow.present.figures import figure
from corrflow.present.figures._style import (
    EPISODE_COLOUR,
    FIGURE_WIDTH,
    MUTED_COLOURS,
    PRIMARY_COLOUR,
    SIGN_COLOURS,
    STYLE,
    date_axis,
    drawn_span,
    episode_tag,
    label_rows,
    save_figure,
    shade_sign,
)
from corrflow.present.figures.base import ReportContext
from corrflow.present.summary import (
    episodes_table,
    is_bond_pair,
    pair_currency_text,
    primary_of,
    sign_meaning,
)

logger = logging.getLogger("report")


SYNC_COLOUR = "#b8860b"
TAG_GAP_PX = 2  # clear pixels between two upright date tags, and between a tag and the curve


def plot_pair(corr, regimes, episodes, a, b, window, names, origins, path: Path, days=None, series_meta=None):
    """One pair: the primary window bold with its band, sign regimes as a strip under it,
    stress episodes as light bands, other windows and the EWMA thin in a panel below; for
    markets that close hours apart the synchronised correlation dashed beside it.

    Every line is drawn on the pair's ``days`` (both markets open; default: the days with
    a value), so a day without a value breaks it and its band: nothing is drawn across a
    gap. The title names the returns' currency (a pair in USD and the same pair in local
    currency are different curves), the sign strip's words follow the legs' asset classes.
    Returns the figure (closed), whose artists hold what was drawn."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    column = primary_of(corr, a, b, window)
    valid = corr[column].dropna().index
    start, end = valid[0], valid[-1]
    days = valid if days is None else days
    view = corr.reindex(days[(days >= start) & (days <= end)])
    primary = view[column]
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
        if band:  # NaN days split the band into separate polygons
            ax.fill_between(
                primary.index, view[band[0]], view[band[1]], color=PRIMARY_COLOUR, alpha=0.18, lw=0
            )
            handles.append(
                Patch(color=PRIMARY_COLOUR, alpha=0.18, label=f"{band[0].rsplit(':lo', 1)[1]} % band")
            )
        (line,) = ax.plot(
            primary.index, primary, lw=1.5, color=PRIMARY_COLOUR, zorder=3, label=f"{w}-day correlation"
        )
        handles.insert(0, line)
        if sync_column(column) in view:
            (synced,) = ax.plot(
                view.index,
                view[sync_column(column)],
                lw=1.0,
                ls="--",
                color=SYNC_COLOUR,
                zorder=3,
                # two lines: the legend column is narrow, one line ran off the figure
                label="synchronised\n(closes hours apart)",
            )
            handles.insert(1, synced)
        ax.axhline(0, color="black", lw=0.7, zorder=2)
        ax.set_ylim(-1, 1)
        ax.set_ylabel("correlation of daily returns")
        # stress episodes: light bands across all panels, labels above the top panel
        shown = episodes[
            (pd.to_datetime(episodes["end"]) >= start) & (pd.to_datetime(episodes["start"]) <= end)
        ]
        for _, e in shown.iterrows():
            # a few days' episode keeps a visible width on a decades-long axis
            e0, e1 = drawn_span(
                max(pd.Timestamp(e["start"]), start), min(pd.Timestamp(e["end"]), end), start, end
            )
            for axis in (ax, low):
                axis.axvspan(e0, e1, color=EPISODE_COLOUR, alpha=0.13, lw=0, zorder=1)
        if len(shown):
            handles.append(Patch(color=EPISODE_COLOUR, alpha=0.25, label="stress episode"))
        axis_px = FIGURE_WIDTH * 100 * (0.80 - 0.06)
        labelled = label_rows(shown, start, end, axis_px)
        named_above = {(e["name"], e["start"]) for e, _, _, _ in labelled}
        # every drawn episode is labelled: one whose name does not fit above gets its start
        # month, upright inside its band (drawn once the axis is laid out: draw_date_tags)
        tagged = []
        for _, e in shown.sort_values("start").iterrows():
            if (e["name"], e["start"]) in named_above:
                continue
            e0, e1 = drawn_span(
                max(pd.Timestamp(e["start"]), start), min(pd.Timestamp(e["end"]), end), start, end
            )
            tagged.append((e0 + (e1 - e0) / 2, episode_tag(e)))
        for e, row, x, ha in labelled:
            ax.annotate(
                e["name"],
                xy=(x, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(2 if ha == "left" else -2, 4 + 14 * row),
                ha=ha,
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
            meaning = sign_meaning(is_bond_pair(series_meta or {}, a, b))
            handles += [
                Patch(color=SIGN_COLOURS["negative"], label=f"negative ({meaning['negative']})"),
                Patch(color=SIGN_COLOURS["mixed"], label="mixed"),
                Patch(color=SIGN_COLOURS["positive"], label=f"positive ({meaning['positive']})"),
            ]
        else:
            strip.set_yticks([])
            strip.grid(False)
            strip.text(
                0.5, 0.5, "sign regimes off", transform=strip.transAxes, ha="center", va="center", fontsize=8
            )
        plt.setp(ax.get_xticklabels(), visible=False)
        plt.setp(strip.get_xticklabels(), visible=False)
        for colour, other in zip(MUTED_COLOURS, others, strict=False):
            values = view[other]
            (h,) = low.plot(
                values.index, values, lw=0.7, color=colour, label=f"{parse_corr_column(other).window}-day"
            )
            handles.append(h)
        for other in ewms:
            values = view[other]
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
        draw_date_tags(ax, tagged, primary)
        fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.815, 0.80), frameon=False)
        currency = f" ({pair_currency_text(series_meta, a, b)})" if series_meta else ""
        fig.text(
            0.06,
            0.975,
            f"{a} vs {b}: {w}-day rolling correlation{currency}",
            fontsize=14,
            fontweight="bold",
            va="top",
        )
        latest_note = f"latest {corr.loc[end, column]:+.2f} on {end.date()}"
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
    return fig


def draw_date_tags(ax, tagged: list[tuple[pd.Timestamp, str]], line: pd.Series) -> None:
    """The upright date tags of the episodes without a name above the figure, measured on
    the laid-out axis so none overlaps another or the curve: tags closer than one tag's
    width (plus ``TAG_GAP_PX``) share one label naming the first and last month
    ("2020-06..2020-10"); each stands at the foot of the panel, or hangs from its top where
    the curve runs low under it (the side with more room when neither is clear)."""
    import matplotlib.dates as mdates

    if not tagged:
        return
    renderer = ax.figure.canvas.get_renderer()
    style = {"rotation": 90, "fontsize": 6.5, "color": "#555555", "ha": "center", "zorder": 4}
    probe = ax.text(mdates.date2num(tagged[0][0]), 0, "2000-01", **style)
    width_px = probe.get_window_extent(renderer).width
    probe.remove()

    def x_px(day) -> float:
        return ax.transData.transform((mdates.date2num(day), 0))[0]

    groups: list[list] = []  # [anchor day, first tag, last tag]
    for day, tag in tagged:
        if groups and x_px(day) - x_px(groups[-1][0]) < width_px + TAG_GAP_PX:
            groups[-1][2] = tag
        else:
            groups.append([day, tag, tag])
    observed = line.dropna()
    line_x = mdates.date2num(observed.index)
    line_y = observed.to_numpy(dtype=float)
    to_data = ax.transData.inverted()
    for day, first_tag, last_tag in groups:
        text = first_tag if first_tag == last_tag else f"{first_tag}..{last_tag}"
        x = mdates.date2num(day)
        clearance = {}
        for y, va in ((-0.97, "bottom"), (0.97, "top")):
            drawn = ax.text(x, y, text, va=va, **style)
            box = drawn.get_window_extent(renderer).padded(TAG_GAP_PX)
            (x0, y0), (x1, y1) = to_data.transform([(box.x0, box.y0), (box.x1, box.y1)])
            under = line_y[(line_x >= x0) & (line_x <= x1)]
            # how far the curve stays clear of the tag (negative: it crosses the tag)
            clear = (under.min() - y1 if va == "bottom" else y0 - under.max()) if len(under) else 2.0
            clearance[va] = (clear, drawn)
            if clear > 0:
                break
        best = max(clearance, key=lambda side: clearance[side][0])
        for side, (_, drawn) in clearance.items():
            if side != best:
                drawn.remove()


def plot_missing_pair(a: str, b: str, why: str, path: Path) -> None:
    """A small notice for the markdown; not declared in Snakemake's HTML report."""
    import matplotlib.pyplot as plt

    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(FIGURE_WIDTH, 1.6))
        ax.axis("off")
        ax.text(0.5, 0.5, f"{a} vs {b}: not drawn - {why}", ha="center", va="center", fontsize=13)
        save_figure(fig, path)
        plt.close(fig)


def section(context: ReportContext) -> tuple[list[str], list[str]]:
    """'## Pairs': each pair's figure and its stress episodes; a pair without data gets a
    notice figure (not declared in the HTML report) and a sentence saying why."""
    corr, episodes, names, skipped = context.corr, context.episodes, context.names, context.skipped
    lines, drawn = ["## Pairs", ""], []
    for (a, b), name in FIGURE.files(context.pairs):
        lines += [f"### {names.get(a, a)} vs {names.get(b, b)}", ""]
        column = primary_of(corr, a, b, context.window)
        if (a, b) in skipped or column is None or corr[column].dropna().empty:
            why = (
                f"no data for {', '.join(skipped[(a, b)])} at any ingest level (live, cache, snapshot)"
                if (a, b) in skipped
                else "the two series have no common days"
            )
            context.draw(plot_missing_pair, a, b, why, context.figures_dir / name)
            lines += [f"Skipped: {why}.", ""]
            logger.warning("report: pair %s-%s skipped: %s", a, b, why)
            continue
        context.draw(
            plot_pair,
            corr,
            context.regimes,
            episodes,
            a,
            b,
            context.window,
            names,
            context.origins,
            context.figures_dir / name,
            context.clean.pair_days(a, b, corr.index),
            context.series_meta,
        )
        drawn.append(name)
        span = corr[column].dropna().index
        during = episodes[
            (pd.to_datetime(episodes["end"]) >= span[0]) & (pd.to_datetime(episodes["start"]) <= span[-1])
        ]  # only the episodes within the pair's data
        lines += [f"![{a} vs {b}]({name})", "", "Stress episodes:", "", *episodes_table(during, column), ""]
    return lines, drawn


FIGURE = figure("figures")
