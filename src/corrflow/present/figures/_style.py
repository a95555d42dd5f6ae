"""Shared plotting helpers for the report figures: one style, one width, one way to save.

Figures use matplotlib's Agg backend, 1300 px wide, and carry no timestamps, so the same
inputs give the same bytes. matplotlib is imported inside the functions that draw.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from corrflow.io import atomic_path

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
SIGN_COLOURS = {"negative": "#2b83ba", "mixed": "#a9a9a9", "positive": "#d7191c"}  # figures and dashboard
# (mixed: a mid grey, apart from the stress episodes' light bands in the same legend)
FIGURE_WIDTH = 13.0  # inches at 100 dpi: 1300 px
LABELLED_EPISODES = 20  # episode names tried above a pair figure (configured first, then longest)
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
    return [(s, e, known.loc[s]) for s, e in zip(starts, ends, strict=False)]


def shade_sign(ax, labels: pd.Series) -> None:
    """Sign regimes as a colour strip filling ``ax`` (one colour per label, no gaps)."""
    for start, end, label in sign_runs(labels):
        ax.axvspan(start, end, color=SIGN_COLOURS.get(label, "white"), lw=0)
    ax.set_yticks([])
    ax.grid(False)


def label_rows(episodes: pd.DataFrame, start, end, axis_px: float, max_rows: int = LABEL_ROWS) -> list:
    """(episode, row, x, ha) for the labels that fit above the axis without overlapping:
    the configured (named) episodes first, then the longest, each in the lowest row whose
    last label ends before it; a label starts at its episode's start (``ha`` "left"), or,
    where it would run past the axis, ends at the episode's drawn end (``ha`` "right", so
    it never sits wholly over an earlier band). The episodes left out get a short date tag
    (``episode_tag``) from the figure, so every drawn episode is labelled."""
    span_days = max((end - start).days, 1)
    day_per_px = span_days / axis_px
    placed, row_ends = [], [[] for _ in range(max_rows)]
    named = episodes[episodes["name"].str.len() > 0]
    configured = named["rule"].astype("str").str.contains("named") if "rule" in named else False
    order = named.assign(_configured=configured).sort_values(
        ["_configured", "business_days"], ascending=[False, False], kind="stable"
    )
    for _, e in order.head(LABELLED_EPISODES).iterrows():
        left = max(pd.Timestamp(e["start"]), start)
        width = pd.Timedelta(days=(len(e["name"]) * 7.0 + 12) * day_per_px)
        right, x, ha = left + width, left, "left"
        if right > end:  # near the right edge: the label ends where the episode's band ends
            x = min(max(pd.Timestamp(e["end"]), left), end)
            left, right, ha = x - width, x, "right"
        for row, occupied in enumerate(row_ends):
            if all(right < lo or left > hi for lo, hi in occupied):
                occupied.append((left, right))
                placed.append((e, row, x, ha))
                break
    return placed


def episode_tag(episode) -> str:
    """The short label of an episode whose name does not fit above a figure: its start
    month ("1987-10"), drawn upright inside its band."""
    return str(episode["start"])[:7]


GAP_WEEKDAYS = 5  # a longer stretch without a value is a gap in the data, not a market holiday


def broken_at_gaps(values: pd.Series, gap_weekdays: int = GAP_WEEKDAYS) -> pd.Series:
    """A series drawn on its own days (no break at every closed-market day), with a NaN
    inserted wherever more than ``gap_weekdays`` weekdays pass without a value, so a line
    or a fill breaks there instead of running across the gap."""
    values = values.dropna()
    if len(values) < 2:
        return values
    days = values.index.values.astype("datetime64[D]")
    apart = np.busday_count(days[:-1], days[1:])
    gaps = values.index[:-1][apart > gap_weekdays] + pd.Timedelta(days=1)
    if not len(gaps):
        return values
    return pd.concat([values, pd.Series(np.nan, index=gaps)]).sort_index()


MIN_EPISODE_SHARE = 0.003  # of the time axis: a few days' episode on a 60-year axis is still ~3 px wide


def drawn_span(
    start: pd.Timestamp, end: pd.Timestamp, first: pd.Timestamp, last: pd.Timestamp
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """An episode's drawn extent: its days (the last one whole), widened about its middle to
    at least ``MIN_EPISODE_SHARE`` of the axis ``first`` .. ``last``, so no episode vanishes."""
    end = end + pd.Timedelta(days=1)
    least = (last - first) * MIN_EPISODE_SHARE
    if end - start >= least:
        return start, end
    middle = start + (end - start) / 2
    return middle - least / 2, middle + least / 2
