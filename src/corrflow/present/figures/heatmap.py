"""The universe heatmap: every series against every other, on each pair's joint days."""

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from corrflow.analytics.correlation.universe import RECENT_DAYS, period_sentence
from corrflow.present.figures import figure
from corrflow.present.figures._style import FIGURE_WIDTH, STYLE, save_figure
from corrflow.present.figures.base import ReportContext
from corrflow.present.summary import return_currency

MAX_ANNOTATED = 20  # heatmap cells with numbers up to this many series
MAX_LABELLED = 60  # heatmap tick labels up to this many series


def plot_heatmaps(
    full,
    recent,
    periods,
    left_out: dict,
    as_of: str,
    coverage: dict,
    path: Path,
    source: str = "",
    clusters: dict | None = None,
    yields: bool = True,
    currencies: dict | None = None,
) -> None:
    """Two heatmaps (all joint days of each pair; the last year of each pair), with the
    periods in the titles and a note on every series left out; with ``clusters`` (a
    universe too large to read) each row is a cluster's representative, its label
    counting the cluster's other members. ``currencies``: the series whose returns are not
    in the base currency as stored (converted, or kept local), with theirs ("USD from GBP",
    "EUR, local"), named in their labels."""
    import matplotlib.pyplot as plt

    n = len(full)
    labels = [
        f"{s}{f' +{len(clusters[s]) - 1}' if clusters and len(clusters[s]) > 1 else ''} "
        f"({f'{currencies[s]}, ' if currencies and s in currencies else ''}"
        f"{coverage[s][0][:4]}-{coverage[s][1][:4]})"
        for s in full.index
    ]
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
        clustered = (
            f"{sum(len(m) for m in clusters.values())} series in {len(clusters)} clusters of their last "
            f"{RECENT_DAYS} joint days' correlations (Ward); each row is a cluster's most central "
            "series (or a configured pair's), +k the others in it. "
            if clusters
            else ""
        )
        fig.text(
            0.5,
            0.905,
            textwrap.fill(
                f"{clustered}Periods: "
                + (  # 40 cluster rows would make the periods a paragraph over the heatmaps
                    f"each pair's joint days up to {as_of}." if clusters else f"{period_sentence(periods)}."
                )
                + (" Yields enter as par-bond returns." if yields else ""),
                170,
            ),
            ha="center",
            va="top",
            fontsize=10,
        )
        notes = [f"{s}: {why}" for s, why in left_out.items()]
        if notes:
            fig.text(
                0.5,
                0.04,
                textwrap.fill("Not shown: " + "; ".join(notes), 170),
                ha="center",
                fontsize=10,
                color="#7a1f1f",
            )
        save_figure(fig, path)
        plt.close(fig)


def heatmap_matrices(heatmap: dict) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(full, recent, periods) of universe.json's ``heatmap`` part, as
    ``universe.universe_correlations`` returned them when the universe step ran."""
    from datetime import date

    shown = heatmap["shown"]
    full = pd.DataFrame(
        np.array(heatmap["full"], dtype="float64").reshape(len(shown), len(shown)), index=shown, columns=shown
    )
    recent = pd.DataFrame(
        np.array(heatmap["recent"], dtype="float64").reshape(len(shown), len(shown)),
        index=shown,
        columns=shown,
    )
    periods = {
        (a, b): (date.fromisoformat(first), date.fromisoformat(last), date.fromisoformat(recent_first))
        for a, b, first, last, recent_first in heatmap["periods"]
    }
    return full, recent, periods


def section(context: ReportContext) -> tuple[list[str], list[str]]:
    """'## The universe': the heatmap and the series left out of it, read from the universe
    step's universe.json (its matrices and clusters are computed there, once)."""
    if context.universe is None:
        raise ValueError("the heatmap is drawn from the universe step's universe.json: give it to the report")
    heatmap = context.universe["heatmap"]
    _, left_out = context.heatmap_series
    clusters = heatmap["clusters"]
    full, recent, periods = heatmap_matrices(heatmap)
    shown = list(full.index)
    coverage = {s: tuple(heatmap["coverage"][s]) for s in shown}
    context.draw(
        plot_heatmaps,
        full,
        recent,
        periods,
        left_out,
        context.as_of,
        coverage,
        context.figures_dir / FIGURE.file,
        context.source,
        clusters,
        any(context.series_meta.get(s, {}).get("kind") == "yield" for s in shown),
        {
            s: return_currency(context.series_meta[s])
            for s in shown
            if context.series_meta[s].get("converted_from") or context.series_meta[s].get("local_currency")
        },
    )
    lines = ["## The universe", "", f"![correlation heatmap]({FIGURE.file})", ""]
    if clusters:
        prefer = [s for pair in context.pairs for s in pair]
        lines += cluster_lines(clusters, prefer)
        if heatmap["cluster_repair"]:
            lines += [f"The clustering's correlation matrix: {heatmap['cluster_repair']}.", ""]
    if left_out:
        lines += ["Not in the heatmap: " + "; ".join(f"{s} ({why})" for s, why in left_out.items()) + ".", ""]
    return lines, [FIGURE.file]


CLUSTER_MEMBERS_LISTED = 12


def cluster_lines(clusters: dict[str, list[str]], configured: list[str] = ()) -> list[str]:
    """The clusters behind a heatmap of representatives, as a table."""
    total = sum(len(members) for members in clusters.values())
    lines = [
        f"{total} series are too many to read one by one: the heatmap shows {len(clusters)} clusters of "
        f"their correlations over each pair's last {RECENT_DAYS} joint days (Ward linkage on "
        "sqrt(2 (1 - r))), one row per cluster, named by its most central series (or a configured "
        "pair's series).",
        "",
        "| row | series in the cluster | members |",
        "|---|---:|---|",
    ]
    for representative, members in clusters.items():
        listed = ", ".join(members[:CLUSTER_MEMBERS_LISTED])
        more = (
            f", ... and {len(members) - CLUSTER_MEMBERS_LISTED} more"
            if len(members) > CLUSTER_MEMBERS_LISTED
            else ""
        )
        row = f"{representative} (configured)" if representative in configured else representative
        lines.append(f"| {row} | {len(members)} | {listed}{more} |")
    return lines + [""]


FIGURE = figure("heatmap")
