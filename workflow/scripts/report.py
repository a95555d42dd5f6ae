"""Markdown report and charts (task F): docs/report.md and docs/fig_*.png.

The report opens with a one-screen summary (where the data came from, the latest
correlation of each pair against its own history, today's regime and stress flags),
then a section per pair (chart: every window, the Fisher-z band, the EWMA, z-score
regimes shaded, named episodes marked; its stress episodes), a correlation heatmap of
the universe (full sample beside the last 252 days), a regime timeline, the DQ summary,
the model's metrics when task G ran, and the latest all-pairs matrix in brief when that
ran (read from the last row group of each block only).

Every number is read from the workflow's outputs (clean.parquet's metadata,
features.parquet, rolling_corr.csv, regimes.parquet, stress_episodes.csv,
dq_report.json, models/metrics.json, all_pairs/manifest.json), never retyped. Figures
use matplotlib's Agg backend, one style, at least 1200 px wide, and carry no
timestamps, so the same inputs give the same bytes.
"""

import argparse
import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from _helpers import (
    InputDataError,
    atomic_path,
    cli_parser,
    configure_logging,
    load_json_arg,
    run_script,
    write_text_atomic,
)
from _contracts import parse_corr_column, pearson_columns, read_parquet, read_rolling_corr, returns_from_features
from _all_pairs_store import read_all_pairs

logger = logging.getLogger("report")

LEVEL_WORDS = {
    "fresh": "live download",
    "local": "local file",
    "cached": "local cache (last good download)",
    "snapshot": "bundled offline snapshot",
    "missing": "MISSING",
}
TIMELINE_FIGURE = "fig_regimes.png"
HEATMAP_FIGURE = "fig_heatmap.png"
REGIME_COLOURS = {"negative": "#2b83ba", "mixed": "#eeeeee", "positive": "#d7191c"}
LINE_COLOURS = ["#1b4f72", "#e67e22", "#27ae60", "#8e44ad", "#c0392b"]
STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 11,
    "axes.titlesize": 13,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 9,
    "legend.frameon": False,
}
RECENT_DAYS = 252
MAX_ANNOTATED = 20  # heatmap cells with numbers up to this many series
MAX_LABELLED = 60  # heatmap tick labels up to this many series
TOP_EPISODES = 12


def pair_figure_name(a: str, b: str) -> str:
    return f"fig_corr_{a}_vs_{b}.png"


# ---------------------------------------------------------------- text


def data_provenance(series_meta: dict, calendar: dict) -> tuple[str, list[str]]:
    """One headline sentence on where the data came from, plus a table of series."""
    statuses = {m["status"] for m in series_meta.values()}
    through = min((m["last"] for m in series_meta.values() if m.get("last")), default=calendar["last"])
    served = statuses - {"missing"}
    if served == {"snapshot"}:
        headline = f"**Data: offline snapshot, data through {through}.**"
    elif served == {"fresh"}:
        headline = f"**Data: live download, data through {through}.**"
    else:
        mix = ", ".join(
            f"{sum(m['status'] == s for m in series_meta.values())} {LEVEL_WORDS[s]}"
            for s in ("fresh", "local", "cached", "snapshot")
            if s in served
        )
        headline = f"**Data: partial run ({mix}), data through {through}.**"
    missing = sorted(k for k, m in series_meta.items() if m["status"] == "missing")
    if missing:
        headline += f" Missing at every level: {', '.join(missing)} (pairs with them are skipped)."
    failed = {k: m["live_error"] for k, m in series_meta.items() if m.get("live_error")}
    if failed:
        errors = sorted(set(failed.values()))
        headline += (
            f" Live download failed for {len(failed)} series ({', '.join(sorted(failed))}; "
            f"{', '.join(errors)}): see data/raw/*.ok and logs/ingest/."
        )
    rows = [
        "| series | name | kind | served from | first | last | filled days | gaps left |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for series_id, m in series_meta.items():
        rows.append(
            f"| {series_id} | {m.get('name') or ''} | {m['kind']} | {LEVEL_WORDS.get(m['status'], m['status'])} "
            f"| {m.get('first') or '-'} | {m.get('last') or '-'} | {m.get('filled_days', '-')} "
            f"| {m.get('gap_days_left_nan', '-')} |"
        )
    return headline, rows


def latest_summary(corr: pd.DataFrame, regimes: pd.DataFrame) -> list[str]:
    rows = [
        "| pair | window | date | correlation | 95 % band | percentile vs own history | z-score | vs own past year | sign regime |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for column in pearson_columns(corr):
        series = corr[column].dropna()
        a, b, window, _ = parse_corr_column(column)
        if series.empty:
            rows.append(f"| {a}-{b} | {window} | - | no data | - | - | - | - | - |")
            continue
        day = series.index[-1]
        latest = series.iloc[-1]
        percentile = (series <= latest).mean() * 100
        band = [c for c in corr.columns if c.startswith(f"{column}:lo") or c.startswith(f"{column}:hi")]
        band_text = " .. ".join(f"{corr.loc[day, c]:+.2f}" for c in sorted(band, key=lambda c: ":hi" in c))
        z = regimes[f"z:{column}"].get(day, np.nan)
        label = regimes[f"relative:{column}"].get(day)
        sign = regimes[f"sign:{column}"].get(day) if f"sign:{column}" in regimes else None
        rows.append(
            f"| {a}-{b} | {window} | {day.date()} | {latest:+.2f} | {band_text or '-'} | {percentile:.0f} "
            f"| {z:+.2f} | {label if isinstance(label, str) else 'n/a'} | {sign if isinstance(sign, str) else '-'} |"
        )
    return rows


def current_state(regimes: pd.DataFrame, regimes_meta: dict) -> list[str]:
    """Today's Markov state and stress flags, in words."""
    day = regimes.index[-1]
    lines = []
    for fit in regimes_meta.get("markov", []):
        prefix = fit["series"]
        if fit.get("status") != "ok":
            lines.append(f"- Markov {prefix.removeprefix('mkv:')}: {fit['status']}.")
            continue
        top = fit["labels"][-1]
        realtime_column = f"{prefix}:p_realtime:{top}"
        realtime = regimes[realtime_column].dropna() if realtime_column in regimes else pd.Series(dtype=float)
        hindsight = regimes[f"{prefix}:p_hindsight:{top}"].dropna()
        if hindsight.empty:
            continue
        live = f"real time {realtime.iloc[-1]:.2f}, " if len(realtime) else ""
        separated = "" if fit.get("well_separated", True) else " (states not well separated)"
        lines.append(
            f"- Markov {prefix.removeprefix('mkv:')} on {hindsight.index[-1].date()}: P({top}) "
            f"{live}hindsight {hindsight.iloc[-1]:.2f}{separated}."
        )
    reason = regimes["stress_reason"].iloc[-1] if "stress_reason" in regimes else None
    if isinstance(reason, str):
        lines.append(f"- **Stress flags on {day.date()}: {reason}.**")
    else:
        lines.append(f"- No stress flag on {day.date()}.")
    return lines


def episodes_table(episodes: pd.DataFrame, column: str | None) -> list[str]:
    """The longest stress episodes, with one pair column's return correlation before and during."""
    if episodes.empty:
        return ["No stress episodes in the sample."]
    top = episodes.sort_values(["business_days", "start"], ascending=[False, True]).head(TOP_EPISODES)
    top = top.sort_values("start")
    rows = [
        "| episode | start | end | business days | rules | correlation before | during | adjusted |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, e in top.iterrows():
        values = [e.get(f"corr_{kind}:{column}") if column else None for kind in ("before", "during", "adjusted")]
        text = [f"{v:+.2f}" if isinstance(v, float) and pd.notna(v) else "-" for v in values]
        rows.append(
            f"| {e['name']} | {e['start']} | {e['end']} | {e['business_days']} | {e['rule']} | {' | '.join(text)} |"
        )
    if len(episodes) > TOP_EPISODES:
        rows.append(
            f"\nThe {TOP_EPISODES} longest of {len(episodes)} episodes; all, with their reasons, in "
            f"`data/processed/stress_episodes.csv`."
        )
    return rows


# ---------------------------------------------------------------- figures


def save_figure(fig, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})


def date_axis(ax) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=6, maxticks=14)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def plot_pair(corr, regimes, episodes_config, a, b, names, path: Path) -> None:
    import matplotlib.pyplot as plt

    columns = [c for c in pearson_columns(corr) if c.startswith(f"{a}:{b}:")]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(13, 5.2))
        if columns:
            first = columns[0]
            labels = regimes.get(f"sign:{first}", pd.Series(index=regimes.index, dtype="str"))
            for regime in ("negative", "positive"):
                ax.fill_between(
                    corr.index,
                    0,
                    1,
                    where=(labels == regime).to_numpy(),
                    color=REGIME_COLOURS[regime],
                    alpha=0.13,
                    lw=0,
                    transform=ax.get_xaxis_transform(),
                    label=f"{regime} sign regime ({first.split(':')[2]}-day)",
                )
            band = [c for c in corr.columns if c.startswith(f"{first}:lo")]
            if band:
                hi = band[0].replace(":lo", ":hi")
                ax.fill_between(
                    corr.index,
                    corr[band[0]],
                    corr[hi],
                    color=LINE_COLOURS[0],
                    alpha=0.18,
                    lw=0,
                    label=f"{band[0].rsplit(':lo', 1)[1]} % band ({first.split(':')[2]}-day)",
                )
        # the other windows thin and underneath, the primary (first) one on top
        for colour, column in reversed(list(zip(LINE_COLOURS, columns))):
            primary = column == columns[0]
            ax.plot(
                corr.index,
                corr[column],
                lw=1.3 if primary else 0.7,
                alpha=1.0 if primary else 0.75,
                color=colour,
                zorder=3 if primary else 2,
                label=f"{column.split(':')[2]}-day Pearson",
            )
        for column in [c for c in corr.columns if c.startswith(f"{a}:{b}:ewm")]:
            ax.plot(
                corr.index,
                corr[column],
                lw=0.9,
                color="#555555",
                ls="--",
                label=f"EWMA, half-life {column.rsplit(':ewm', 1)[1]} days",
            )
        start, end = corr.index[0], corr.index[-1]
        for episode in episodes_config:
            e0, e1 = pd.Timestamp(episode["start"]), pd.Timestamp(episode["end"])
            if e1 < start or e0 > end:
                continue
            ax.axvspan(max(e0, start), min(e1, end), color="#999999", alpha=0.25, lw=0)
            ax.text(
                max(e0, start),
                0.98,
                episode["name"],
                rotation=90,
                va="top",
                ha="right",
                fontsize=8,
                color="#444444",
                transform=ax.get_xaxis_transform(),
            )
        ax.axhline(0, color="black", lw=0.7)
        ax.set_ylim(-1, 1)
        ax.set_ylabel("correlation of daily returns")
        ax.set_xlabel("date")
        ax.set_title(f"{names.get(a, a)} vs {names.get(b, b)}: rolling correlation")
        date_axis(ax)
        ax.legend(loc="lower left", ncol=3)
        fig.tight_layout()
        save_figure(fig, path)
        plt.close(fig)


def plot_missing_pair(a: str, b: str, absent: list[str], path: Path) -> None:
    import matplotlib.pyplot as plt

    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(13, 2))
        ax.axis("off")
        ax.text(
            0.5,
            0.5,
            f"{a} vs {b}: not drawn - no data for {', '.join(absent)} at any ingest level",
            ha="center",
            va="center",
            fontsize=13,
        )
        save_figure(fig, path)
        plt.close(fig)


def correlation_matrices(
    returns: pd.DataFrame, recent_days: int = RECENT_DAYS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pairwise-complete Pearson correlation of daily returns: full sample, last ``recent_days``."""
    usable = returns.loc[:, returns.notna().sum() > 2]
    return usable.corr(), usable.iloc[-recent_days:].corr()


def plot_heatmaps(
    full: pd.DataFrame, recent: pd.DataFrame, first_day, last_day, recent_from, path: Path
) -> None:
    import matplotlib.pyplot as plt

    with plt.rc_context({**STYLE, "axes.grid": False}):
        fig, axes = plt.subplots(1, 2, figsize=(15, 6.8))
        for ax, matrix, title in (
            (axes[0], full, f"full sample {first_day} .. {last_day}"),
            (axes[1], recent, f"last {RECENT_DAYS} days {recent_from} .. {last_day}"),
        ):
            image = ax.imshow(matrix.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
            if len(matrix) <= MAX_LABELLED:  # a large universe is a picture, not a table
                ax.set_xticks(range(len(matrix)), matrix.columns, rotation=45, ha="right")
                ax.set_yticks(range(len(matrix)), matrix.index if ax is axes[0] else [""] * len(matrix))
            if len(matrix) <= MAX_ANNOTATED:
                for i, j in np.argwhere(np.isfinite(matrix.to_numpy())):
                    value = matrix.iloc[i, j]
                    ax.text(
                        j,
                        i,
                        f"{value:.2f}",
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if abs(value) > 0.6 else "black",
                    )
            ax.set_title(title)
        fig.colorbar(image, ax=axes, shrink=0.8, label="correlation of daily returns")
        fig.suptitle(
            "Correlation of daily returns across the universe (yields as bond returns)", fontweight="bold"
        )
        save_figure(fig, path)
        plt.close(fig)


def plot_regime_timeline(regimes: pd.DataFrame, regimes_meta: dict, path: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    z_columns = [c for c in regimes.columns if c.startswith("sign:")]
    markov = [f for f in regimes_meta.get("markov", []) if f.get("status") == "ok"]
    codes = {"negative": 0, "mixed": 1, "positive": 2}
    dates = regimes.index
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            3,
            1,
            figsize=(13, 7),
            sharex=True,
            gridspec_kw={"height_ratios": [max(1, len(z_columns)), 2, 0.6]},
        )
        if z_columns:
            matrix = np.array(
                [
                    [codes.get(v, np.nan) if isinstance(v, str) else np.nan for v in regimes[c]]
                    for c in z_columns
                ]
            )
            axes[0].imshow(
                np.ma.masked_invalid(matrix),
                aspect="auto",
                interpolation="nearest",
                extent=[dates[0], dates[-1], len(z_columns) - 0.5, -0.5],
                vmin=0,
                vmax=2,
                cmap=ListedColormap(
                    [REGIME_COLOURS["negative"], REGIME_COLOURS["mixed"], REGIME_COLOURS["positive"]]
                ),
            )
            axes[0].set_yticks(
                range(len(z_columns)), [c.removeprefix("sign:").replace(":", " ") + "d" for c in z_columns]
            )
            axes[0].grid(False)
        axes[0].set_title(
            "sign regimes: blue negative, grey mixed, red positive (white: no full window yet)"
        )
        for colour, fit in zip(LINE_COLOURS, markov):
            column = f"{fit['series']}:p_realtime:{fit['labels'][-1]}"
            if column not in regimes:
                column = f"{fit['series']}:p_hindsight:{fit['labels'][-1]}"
            axes[1].plot(
                dates,
                regimes[column],
                lw=0.8,
                color=colour,
                label=f"{fit['series'].removeprefix('mkv:')}: P({fit['labels'][-1]}) {column.split(':')[-2]}",
            )
        axes[1].set_ylim(0, 1)
        axes[1].set_ylabel("probability")
        axes[1].set_title("Markov switching: real-time probability of the high state (expanding-window refits)")
        if markov:
            axes[1].legend(loc="upper left", ncol=len(markov), frameon=True, framealpha=0.9)
        if "stress" in regimes:
            axes[2].fill_between(
                dates, 0, 1, where=regimes["stress"].to_numpy(dtype=bool), color="#c0392b", lw=0
            )
        axes[2].set_yticks([])
        axes[2].set_title("stress days (drawdown, VIX, stocks and bonds falling together, named episodes)")
        axes[2].set_xlabel("date")
        date_axis(axes[2])
        fig.tight_layout()
        save_figure(fig, path)
        plt.close(fig)


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


def build_report(
    clean_meta,
    returns,
    corr,
    regimes,
    regimes_meta,
    episodes,
    dq,
    metrics,
    pairs,
    figures_dir: Path,
    all_pairs_manifest: str | None = None,
) -> tuple[str, list[str]]:
    """The markdown text and the figure file names it drew (all under ``figures_dir``)."""
    series_meta = clean_meta["series"]
    names = {
        k: (m.get("name") or k) + (" (bond return)" if m["kind"] == "yield" else "")
        for k, m in series_meta.items()
    }
    headline, series_rows = data_provenance(series_meta, clean_meta["calendar"])
    calendar = clean_meta["calendar"]
    lines = [
        "# Cross-asset correlation report",
        "",
        headline,
        "",
        "## Today at a glance",
        "",
        *latest_summary(corr, regimes),
        "",
        *current_state(regimes, regimes_meta),
        "",
        *series_rows,
        "",
        f"Calendar: {calendar['days']} trading days {calendar['first']} .. {calendar['last']}, the union of "
        f"{', '.join(calendar['calendars'])} ({calendar['source']}); each pair is compared on the days both of "
        f"its markets traded, and a return spans at most {calendar['max_gap_days']} open days of missing data "
        f"(nothing is forward filled). Percentile: share of the pair's own history at or below "
        f"today's value. z-score: today against the previous {regimes_meta.get('zscore_window', '-')} days; "
        f"|z| >= {regimes_meta.get('zscore_threshold', '-')} is unusually low or unusually high against its own "
        f"past year. Sign regime: negative (hedge), mixed or positive (co-move), with hysteresis.",
        "",
    ]
    drawn = []
    lines += ["## Pairs", ""]
    episodes_config = regimes_meta.get("stress", {}).get("episodes", [])
    for a, b in pairs:
        name = pair_figure_name(a, b)
        absent = [s for s in (a, b) if not series_meta.get(s, {}).get("in_clean")]
        lines += [f"### {names.get(a, a)} vs {names.get(b, b)}", ""]
        if absent:
            plot_missing_pair(a, b, absent, figures_dir / name)
            lines += [
                f"Skipped: no data for {', '.join(absent)} at any ingest level (live, cache, snapshot).",
                "",
            ]
            logger.warning("report: pair %s-%s skipped, no data for %s", a, b, absent)
            continue
        plot_pair(corr, regimes, episodes_config, a, b, names, figures_dir / name)
        drawn.append(name)
        first = next((c for c in pearson_columns(corr) if c.startswith(f"{a}:{b}:")), None)
        lines += [f"![{a} vs {b}]({name})", "", "Stress episodes:", "", *episodes_table(episodes, first), ""]
    full, recent = correlation_matrices(returns)
    recent_from = returns.index[-min(RECENT_DAYS, len(returns))].date()
    plot_heatmaps(
        full,
        recent,
        returns.index[0].date(),
        returns.index[-1].date(),
        recent_from,
        figures_dir / HEATMAP_FIGURE,
    )
    lines += ["## The universe", "", f"![correlation heatmap]({HEATMAP_FIGURE})", ""]
    plot_regime_timeline(regimes, regimes_meta, figures_dir / TIMELINE_FIGURE)
    lines += [
        "## Regime timeline",
        "",
        f"![regime timeline]({TIMELINE_FIGURE})",
        "",
        "Markov-switching probabilities come in two kinds: **real time** uses parameters refitted on an "
        "expanding window and data up to each day; **hindsight** is smoothed with full-sample parameters and "
        "uses the days after it, so it is not a signal. Both are in `data/processed/regimes.parquet`.",
        "",
    ]
    fits = regimes_meta.get("markov", [])
    if fits:
        lines += ["| Markov fit | status | states (mean, variance, share of days) |", "|---|---|---|"]
        for fit in fits:
            states = "; ".join(
                f"{label}: {s['mean']:+.3f}, {s['variance']:.3f}, {s['share_of_days']:.0%}"
                for label, s in fit.get("states", {}).items()
            )
            status = fit["status"] + ("" if fit.get("well_separated", True) else ", states not well separated")
            lines.append(f"| {fit['series'].removeprefix('mkv:')} | {status} | {states or '-'} |")
        lines.append("")
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
    if metrics:
        lines += [
            "## Model: next-month correlation forecast",
            "",
            f"{metrics['model_kind']} forecast of {metrics['pair']} {metrics['horizon']} business days "
            f"ahead; walk-forward test over {metrics['test_days']} days ({metrics['test_first']} .. "
            f"{metrics['test_last']}), refitted every {metrics['refit_every']} days on known targets only.",
            "",
            "| forecast | RMSE | MAE |",
            "|---|---|---|",
        ]
        for name in ("model", "last_value", "historical_mean"):
            lines.append(
                f"| {name.replace('_', ' ')} | {metrics[name]['rmse']:.4f} | {metrics[name]['mae']:.4f} |"
            )
        if "logit" in metrics:
            lines += [
                "",
                f"{metrics['logit_kind']}: Brier score (lower is better) and hit rate.",
                "",
                "| probability | Brier | hit rate |",
                "|---|---|---|",
            ]
            for name in ("logit", "last_sign", "historical_share"):
                lines.append(
                    f"| {name.replace('_', ' ')} | {metrics[name]['brier']:.4f} | "
                    f"{metrics[name]['hit_rate']:.1%} |"
                )
        lines.append("")
    if all_pairs_manifest:
        lines += all_pairs_section(all_pairs_manifest)
    return "\n".join(lines), drawn


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli_parser(__doc__)
    parser.add_argument("--clean", required=True)
    parser.add_argument("--features", required=True)
    parser.add_argument("--corr", required=True)
    parser.add_argument("--regimes", required=True)
    parser.add_argument("--episodes", required=True, help="stress_episodes.csv")
    parser.add_argument("--dq", required=True, help="dq_report.json")
    parser.add_argument("--metrics", default=None, help="models/metrics.json (when task G ran)")
    parser.add_argument(
        "--all-pairs", default=None, help="data/processed/all_pairs/manifest.json (when all pairs ran)"
    )
    parser.add_argument("--pairs", type=load_json_arg, required=True)
    parser.add_argument("--report", required=True, help="docs/report.md; figures go beside it")
    parser.add_argument("--figures", nargs="*", default=[], help="pair figures (drawn beside the report)")
    parser.add_argument("--timeline", default=None, help="regime timeline figure (beside the report)")
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
    _, clean_meta = read_parquet(args.clean, columns=[])
    features, _ = read_parquet(args.features)
    corr = read_rolling_corr(args.corr)
    regimes, regimes_meta = read_parquet(args.regimes)
    episodes = pd.read_csv(args.episodes)
    dq = json.loads(Path(args.dq).read_text(encoding="utf-8"))
    metrics = json.loads(Path(args.metrics).read_text(encoding="utf-8")) if args.metrics else None
    text, drawn = build_report(
        clean_meta,
        returns_from_features(features),
        corr,
        regimes,
        regimes_meta,
        episodes,
        dq,
        metrics,
        args.pairs,
        figures_dir,
        args.all_pairs,
    )
    write_text_atomic(text + "\n", args.report)
    logger.info("wrote %s with figures %s", args.report, drawn)


if __name__ == "__main__":
    run_script(main, globals())
