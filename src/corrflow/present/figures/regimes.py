"""The regime timeline: Markov panels per series, sign regimes per pair, stress days."""

from pathlib import Path

import numpy as np
import pandas as pd

from corrflow.data.contracts import SIGN_LABELS, STRESS, parse_corr_column, sign_column
from corrflow.present.figures import figure
from corrflow.present.figures._style import (
    FIGURE_WIDTH,
    SIGN_COLOURS,
    STYLE,
    broken_at_gaps,
    date_axis,
    drawn_span,
    save_figure,
)
from corrflow.present.figures.base import ReportContext
from corrflow.present.summary import is_bond_pair, markov_name, markov_panels, primary_of, sign_meaning


def stress_runs(flags: pd.Series) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """(first, last) day of each run of flagged days."""
    flagged = flags.fillna(False).to_numpy(dtype=bool)
    edges = np.flatnonzero(np.diff(np.r_[False, flagged, False].astype(int)))
    return [(flags.index[a], flags.index[b - 1]) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def last_day_with_inputs(regimes: pd.DataFrame, panels: list[dict], signs: list[str]) -> pd.Timestamp | None:
    """The last day on which a drawn column (a Markov panel's probabilities, a sign strip,
    the stress flag: NA after the stress rules' inputs end) has a value; None when none has."""
    drawn = [c for c in regimes.columns if any(c.startswith(f"{p['prefix']}:") for p in panels)]
    drawn += [*signs, *([STRESS] if STRESS in regimes else [])]
    ends = [regimes[c].last_valid_index() for c in drawn]
    return max((end for end in ends if end is not None), default=None)


def sign_label(column: str) -> str:
    """'sign:SPY:TLT:60' -> 'SPY-TLT 60d'."""
    a, b, window, _ = parse_corr_column(column.removeprefix("sign:"))
    return f"{a}-{b} {window}d"


def plot_regime_timeline(
    regimes: pd.DataFrame,
    regimes_meta: dict,
    sign_columns: list[str],
    path: Path,
    source: str = "",
    meaning: dict | None = None,
) -> None:
    """The regime timeline (``draw_regime_timeline``) saved to ``path``."""
    import matplotlib.pyplot as plt

    with plt.rc_context(STYLE):
        fig = draw_regime_timeline(regimes, regimes_meta, sign_columns, source, meaning)
        save_figure(fig, path)
    plt.close(fig)


def draw_regime_timeline(
    regimes: pd.DataFrame,
    regimes_meta: dict,
    sign_columns: list[str],
    source: str = "",
    meaning: dict | None = None,
):
    """One Markov panel per series (real-time probability shaded, hindsight as a line) over
    its own data's range, a sign-regime strip per pair, and the stress days; the figure.
    ``meaning``: the signs' words shared by every strip's pair (``summary.sign_meaning``),
    None when the pairs' asset classes differ (the legend then names the signs only)."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    panels = markov_panels(regimes, regimes_meta)
    signs = [c for c in sign_columns if c in regimes]
    # the axis and the title end at the last day anything drawn has a value: regimes.parquet
    # runs to the longest series' last day (oil's), past every input of the panels
    last = last_day_with_inputs(regimes, panels, signs)
    if last is not None:
        regimes = regimes.loc[:last]
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
        axes[-2].sharex(axes[-1])  # the sign and stress strips span the whole range
        span_days = dates[-1] - dates[0]
        for ax, panel, colour in zip(
            axes, panels, ["#c0392b", "#1b4f72", "#7d3c98", "#1e8449", "#b9770e"] * 4, strict=False
        ):
            prefix, state = panel["prefix"], panel["top"]
            # each on its own days (no break at a holiday), broken where the data has a gap
            realtime = broken_at_gaps(regimes[f"{prefix}:p_realtime:{state}"])
            hindsight = f"{prefix}:p_hindsight:{state}"
            known_days = [realtime.index] + (
                [regimes[hindsight].dropna().index] if hindsight in regimes else []
            )
            first = min((days[0] for days in known_days if len(days)), default=dates[0])
            # the panel is drawn over its own data only: its box starts where its data starts
            # on the shared date scale (an empty stretch before it would read as P = 0)
            share = (first - dates[0]) / span_days if span_days > pd.Timedelta(0) else 0.0
            box = ax.get_position()
            ax.set_position([box.x0 + box.width * share, box.y0, box.width * (1 - share), box.height])
            ax.set_xlim(first, dates[-1])
            ax.fill_between(
                realtime.index, 0, realtime.to_numpy(dtype="float64"), color=colour, alpha=0.35, lw=0
            )
            if hindsight in regimes:
                known = broken_at_gaps(regimes[hindsight])
                ax.plot(known.index, known, color=colour, lw=0.8)
            ax.set_ylim(0, 1)
            ax.set_yticks([0, 0.5, 1])
            caveat = "  (states not well separated: read with care)" if not panel["separated"] else ""
            since = f" from {first.year}" if first.year > dates[0].year else ""
            # every title starts at the column's left edge, a shortened panel's too (x in its axes)
            ax.set_title(
                f"{markov_name(prefix)}: P({state}){since}{caveat}",
                fontsize=11,
                x=-share / (1 - share) if share < 1 else 0.0,
                pad=12,  # clear of the panel's top tick label ("1.0") where the title runs over it
            )
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
            for start, end in stress_runs(regimes[STRESS]):
                left, right = drawn_span(start, end, dates[0], dates[-1])
                stress_ax.axvspan(left, right, color="#555555", lw=0)
            stress_ax.set_ylim(0, 1)
            stress_ax.set_title("stress days (short runs drawn at a minimum width)", fontsize=11)
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
            words = {k: f" ({v})" for k, v in (meaning or {}).items()}
            handles += [
                Patch(color=SIGN_COLOURS["negative"], label=f"negative{words.get('negative', '')}"),
                Patch(color=SIGN_COLOURS["mixed"], label="mixed"),
                Patch(color=SIGN_COLOURS["positive"], label=f"positive{words.get('positive', '')}"),
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
    return fig


def section(context: ReportContext) -> tuple[list[str], list[str]]:
    """'## Regimes': the timeline, what real-time and hindsight mean, and the Markov fits."""
    corr, regimes, regimes_meta, window = context.corr, context.regimes, context.regimes_meta, context.window
    sign_columns = [
        sign_column(primary_of(corr, a, b, window))
        for a, b in context.pairs
        if (a, b) not in context.skipped and primary_of(corr, a, b, window)
    ]
    drawn_pairs = [(a, b) for a, b in context.pairs if (a, b) not in context.skipped]
    kinds = {is_bond_pair(context.series_meta, a, b) for a, b in drawn_pairs}
    context.draw(
        plot_regime_timeline,
        regimes,
        regimes_meta,
        sign_columns,
        context.figures_dir / FIGURE.file,
        context.source,
        sign_meaning(kinds.pop()) if len(kinds) == 1 else None,
    )
    lines = [
        "## Regimes",
        "",
        f"![regimes]({FIGURE.file})",
        "",
        "Markov-switching probabilities come in two kinds: **real-time** uses only data up to each day "
        "(expanding-window fits), so it is what one could have known then; **hindsight** is the full-sample "
        "smoothed probability, which also uses the days after it. Both are in "
        "`data/processed/regimes.parquet`.",
        "",
    ]
    fits = [p for p in markov_panels(regimes, regimes_meta) if p["fit"]]
    if fits:
        lines += [
            "| Markov fit | states (mean, variance, share of days; a returns fit in % a day and %²) "
            "| well separated |",
            "|---|---|---|",
        ]
        for panel in fits:
            states = "; ".join(
                f"{label}: {s.get('mean', np.nan):+.3f}, {s.get('variance', np.nan):.3f}, "
                f"{s.get('share_of_days', np.nan):.0%}"
                for label, s in panel["fit"].get("states", {}).items()
            )
            lines.append(
                f"| {markov_name(panel['prefix'])} | {states or '-'} | "
                f"{'yes' if panel['separated'] else 'no'} |"
            )
        lines.append("")
    return lines, [FIGURE.file]


FIGURE = figure("timeline")
