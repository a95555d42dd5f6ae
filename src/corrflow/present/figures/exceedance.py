"""Exceedance correlations per configured pair: the classic curve (Longin and Solnik 2001)
against the bivariate normal's, and the Hong-Tu-Zhou test in one sentence where it rejects."""

import logging
from pathlib import Path

import pandas as pd

from corrflow.analytics.correlation.exceedance import asymmetry_sentence
from corrflow.present.figures import figure
from corrflow.present.figures._style import FIGURE_WIDTH, MUTED_COLOURS, PRIMARY_COLOUR, STYLE, save_figure
from corrflow.present.figures.base import ReportContext

logger = logging.getLogger("report")

FULL = "full"


def curve_points(table: pd.DataFrame) -> pd.DataFrame:
    """One era's curve as drawn: below for q < 0.5, above for q > 0.5 and at q = 0.5 the
    mean of both sides (they are the two halves of one threshold)."""
    below = table[(table["side"] == "below") & (table["quantile"] < 0.5)]
    above = table[(table["side"] == "above") & (table["quantile"] > 0.5)]
    middle = table[table["quantile"] == 0.5]
    points = [below[["quantile", "corr", "normal_corr", "count"]]]
    if len(middle):
        points.append(
            pd.DataFrame(
                {
                    "quantile": [0.5],
                    "corr": [middle["corr"].mean()],
                    "normal_corr": [middle["normal_corr"].mean()],
                    "count": [int(middle["count"].min())],
                }
            )
        )
    points.append(above[["quantile", "corr", "normal_corr", "count"]])
    return pd.concat(points, ignore_index=True).sort_values("quantile", kind="stable")


def plot_exceedance(table: pd.DataFrame, a: str, b: str, names: dict, path: Path) -> None:
    """The pair's exceedance correlation curve of every era, the full sample bold, with
    the normal benchmark at the full sample's correlation dashed."""
    import matplotlib.pyplot as plt

    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(FIGURE_WIDTH, 5.2))
        fig.subplots_adjust(left=0.07, right=0.72, top=0.84, bottom=0.11)
        other = iter(MUTED_COLOURS * 3)
        for era, rows in table.groupby("era", sort=False):
            points = curve_points(rows)
            days, first, last = int(rows["days"].iloc[0]), rows["first"].iloc[0], rows["last"].iloc[0]
            label = f"{era} ({first[:4]}..{last[:4]}, {days} days)"
            full = era == FULL
            ax.plot(
                100 * points["quantile"],
                points["corr"],
                color=PRIMARY_COLOUR if full else next(other),
                lw=2.2 if full else 1.1,
                marker="o" if full else None,
                ms=4,
                label=label,
                zorder=3 if full else 2,
            )
            if full:
                ax.plot(
                    100 * points["quantile"],
                    points["normal_corr"],
                    color="black",
                    ls="--",
                    lw=1.2,
                    label=f"bivariate normal, correlation {rows['unconditional_corr'].iloc[0]:+.2f} (full)",
                )
        ax.axvline(50, color="#999999", lw=0.8)
        ax.axhline(0, color="black", lw=0.6)
        ax.set_xlim(0, 100)
        ax.set_xlabel("threshold: quantile of each leg's standardised return (%)")
        ax.set_ylabel("correlation on the days both are beyond it")
        ax.text(25, 1.02, "both below (joint falls)", transform=ax.get_xaxis_transform(), ha="center")
        ax.text(75, 1.02, "both above (joint rises)", transform=ax.get_xaxis_transform(), ha="center")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.text(0.07, 0.97, f"{a} vs {b}: exceedance correlations", fontsize=14, fontweight="bold", va="top")
        fig.text(
            0.07,
            0.92,
            f"{a}: {names.get(a, a)}; {b}: {names.get(b, b)} · daily returns on the days both markets traded",
            fontsize=10,
            color="#333333",
            va="top",
        )
        save_figure(fig, path)
        plt.close(fig)


# a side of the curve is "above the normal line" when its correlation is above the normal
# benchmark at this share of the side's measured thresholds (a tail of tens of days may dip)
ABOVE_SHARE = 0.8
MIN_THRESHOLDS = 3  # fewer measured thresholds on a side: nothing said about it


def side_gaps(rows: pd.DataFrame) -> dict[str, pd.Series]:
    """One era's curve minus the normal benchmark at each measured threshold, per side:
    ``below`` (q <= 50 %, joint falls) and ``above`` (q >= 50 %, joint rises)."""
    gaps = {}
    for side in ("below", "above"):
        points = rows[rows["side"] == side]
        gap = pd.to_numeric(points["corr"]) - pd.to_numeric(points["normal_corr"])
        gaps[side] = gap.dropna()
    return gaps


def side_is_above(gap: pd.Series) -> bool:
    return len(gap) >= MIN_THRESHOLDS and (gap > 0).mean() >= ABOVE_SHARE


def curve_reading(rows: pd.DataFrame, test: dict, label: str) -> str | None:
    """What the full sample's curve shows against the normal line, in one sentence: above it
    on the left only (correlation rising in joint falls, with the Hong-Tu-Zhou p), on both
    sides (volatility that changes over time and regimes mixed in the sample lift both
    tails: not a crash effect alone, docs/methods.md), on the right only, or on neither.
    Computed from exceedance.csv's points; None with too few measured thresholds."""
    gaps = side_gaps(rows)
    left, right = gaps["below"], gaps["above"]
    if len(left) < MIN_THRESHOLDS or len(right) < MIN_THRESHOLDS:
        return None
    left_above, right_above = side_is_above(left), side_is_above(right)
    p = test.get("p_value") if test.get("status", "ok") == "ok" else None
    if p is None:
        p_text = "the Hong-Tu-Zhou test not computed"
    else:
        verdict = "rejects" if p < 0.05 else "does not reject"
        shown = "< 0.001" if p < 0.001 else f"= {p:.3f}" if p < 0.05 else f"= {p:.2f}"
        p_text = f"Hong-Tu-Zhou p {shown}, {verdict} symmetry"
    means = (
        f"on average {left.mean():+.2f} above it on the left, {right.mean():+.2f} on the right, "
        "over the drawn quantiles"
    )
    asymmetric = p is not None and p < 0.05
    head = f"{label} (full sample): the curve lies above the normal line"
    if left_above and right_above:
        if asymmetric:
            falls = left.mean() > right.mean()
            return (
                f"{head} on both sides ({means}), further on the {'left' if falls else 'right'} "
                f"({p_text}): lifted on both sides as volatility and regimes changing over the sample "
                f"would lift it (not tested here), and joint {'falls' if falls else 'rises'} raise the "
                "correlation beyond that."
            )
        return (
            f"{head} on both sides ({means}; {p_text}): high on both sides is what volatility and "
            "regimes changing over the sample give (not tested here), not crashes alone, and is no "
            "evidence that diversification fails in joint falls."
        )
    if left_above:
        return (
            f"{head} on the left and not on the right ({means}; {p_text}): the correlation rises in "
            "joint falls, diversification failing when it is needed."
        )
    if right_above:
        return (
            f"{head} on the right and not on the left ({means}; {p_text}): the correlation rises in "
            "joint rises, not in joint falls."
        )
    return (
        f"{label} (full sample): the curve is not above the normal line on either side ({means}; "
        f"{p_text}): no sign of the correlation rising in joint moves."
    )


def era_order(era: str) -> tuple[int, str]:
    """full, before, since, last: the eras in the order ``exceedance.eras`` makes them
    (regimes.parquet's metadata keeps its keys sorted)."""
    return (next((k for k, w in enumerate(("full", "before", "since", "last")) if era.startswith(w)), 4), era)


def htz_sentences(tests: dict, label: str) -> list[str]:
    """One sentence per era whose Hong-Tu-Zhou test rejects symmetry at 5 %; one line
    saying so when none does."""
    tests = {era: tests[era] for era in sorted(tests, key=era_order)}
    sentences = [s for era, test in tests.items() if (s := asymmetry_sentence(label, era, test))]
    if sentences:
        return sentences
    tested = [era for era, test in tests.items() if test.get("p_value") is not None]
    if not tested:
        return []
    p_values = ", ".join(f"{era} p = {tests[era]['p_value']:.2f}" for era in tested)
    return [f"{label}: the Hong-Tu-Zhou test does not reject symmetric exceedance correlations ({p_values})."]


def section(context: ReportContext) -> tuple[list[str], list[str]]:
    """'## Do correlations rise in crashes?': each pair's exceedance figure and the test."""
    from corrflow.present.figures.pair import plot_missing_pair

    table, tests = context.exceedance, context.regimes_meta.get("exceedance", {})
    lines, drawn = ["## Do correlations rise in crashes? Exceedance correlations", ""], []
    if table is None:
        lines += [
            "Exceedance correlations: off (no exceedance.csv in this run; config key `regimes.exceedance`).",
            "",
        ]
    else:
        lines += [
            "Each leg's daily returns standardised; at a threshold the correlation on the days both "
            "legs are below their own quantile (left half: joint falls) or both above it (right "
            "half), beside what a bivariate normal with the same correlation gives (dashed). A "
            "curve above the dashed line on the left only is the correlation rising in joint falls; "
            "above it on both sides is what volatility and regimes changing over the sample give "
            "(docs/methods.md; not tested here), not a crash effect alone. Under each figure a "
            "sentence says which the full sample shows. "
            "The Hong-Tu-Zhou test compares the correlation above +c with the one below -c "
            "(c = 0, 0.5, 1, 1.5 standard deviations); a sentence follows where it rejects "
            "symmetry at 5 % (data/processed/exceedance.csv has every point and count).",
            "",
        ]
    for (a, b), name in FIGURE.files(context.pairs):
        key = f"{a}:{b}"
        rows = None if table is None else table[table["pair"] == key]
        if rows is None or rows.empty:
            why = (
                "exceedance correlations are off in this run"
                if table is None
                else "too few joint days for exceedance correlations"
            )
            context.draw(plot_missing_pair, a, b, why, context.figures_dir / name)
            if table is not None:
                lines += [f"{a} vs {b}: {why}.", ""]
            continue
        context.draw(plot_exceedance, rows, a, b, context.names, context.figures_dir / name)
        drawn.append(name)
        lines += [f"![{a} vs {b}: exceedance correlations]({name})", ""]
        reading = curve_reading(rows[rows["era"] == FULL], tests.get(key, {}).get(FULL, {}), f"{a}-{b}")
        lines += [*([reading] if reading else []), *htz_sentences(tests.get(key, {}), f"{a}-{b}"), ""]
        logger.info("report: exceedance %s-%s drawn", a, b)
    return [line for k, line in enumerate(lines) if line or (k and lines[k - 1])], drawn


FIGURE = figure("exceedance_figures")
