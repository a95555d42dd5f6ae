"""Markdown report and charts (task F): docs/report.md and docs/fig_*.png.

Every number in the report is read from the workflow's outputs (clean.parquet's
metadata, rolling_corr.csv, regimes.parquet, dq_report.json, models/metrics.json),
never retyped. Figures use matplotlib's Agg backend and carry no timestamps, so the
same inputs give the same bytes.
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
    cli_parser,
    argv_from_snakemake,
    atomic_path,
    configure_logging,
    load_json_arg,
    read_parquet,
    run_main,
    write_text_atomic,
)
from regimes import read_rolling_corr
from rolling_corr import pearson_columns

logger = logging.getLogger("report")

LEVEL_WORDS = {
    "fresh": "live download",
    "cached": "local cache (last good download)",
    "snapshot": "bundled offline snapshot",
    "missing": "MISSING",
}
TIMELINE_FIGURE = "fig_regimes.png"
REGIME_COLOURS = {"hedge": "#2b83ba", "neutral": "#ffffff", "co-move": "#d7191c"}


def pair_figure_name(a: str, b: str) -> str:
    return f"fig_corr_{a}_vs_{b}.png"


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
            for s in ("fresh", "cached", "snapshot")
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
        "| pair | window | date | correlation | percentile vs own history | z-score | regime |",
        "|---|---|---|---|---|---|---|",
    ]
    for column in pearson_columns(corr):
        series = corr[column].dropna()
        a, b, window = column.split(":")
        if series.empty:
            rows.append(f"| {a}-{b} | {window} | - | no data | - | - | - |")
            continue
        latest = series.iloc[-1]
        percentile = (series <= latest).mean() * 100
        z = regimes[f"z:{column}"].reindex(series.index).iloc[-1]
        label = regimes[f"regime:{column}"].reindex(series.index).iloc[-1]
        rows.append(
            f"| {a}-{b} | {window} | {series.index[-1].date()} | {latest:+.2f} | {percentile:.0f} "
            f"| {z:+.2f} | {label if isinstance(label, str) else 'n/a'} |"
        )
    return rows


def save_figure(fig, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})


def plot_pair(corr: pd.DataFrame, regimes: pd.DataFrame, a: str, b: str, names: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    columns = [c for c in corr.columns if c.startswith(f"{a}:{b}:")]
    fig, ax = plt.subplots(figsize=(12, 4.5))
    for column in columns:
        ax.plot(corr.index, corr[column], lw=1.0, label=f"{column.split(':')[2]}-day")
    if columns:
        labels = regimes[f"regime:{columns[0]}"]
        for regime in ("hedge", "co-move"):
            mask = (labels == regime).to_numpy()
            ax.fill_between(
                corr.index,
                -1,
                1,
                where=mask,
                color=REGIME_COLOURS[regime],
                alpha=0.15,
                lw=0,
                label=f"{regime} (z-score, {columns[0].split(':')[2]}-day)",
            )
    ax.axhline(0, color="black", lw=0.6)
    ax.set_ylim(-1, 1)
    ax.set_ylabel("Pearson correlation of daily returns")
    ax.set_xlabel("date")
    ax.set_title(f"Rolling correlation: {names.get(a, a)} vs {names.get(b, b)}")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8, ncol=4)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def plot_missing_pair(a: str, b: str, absent: list[str], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 2))
    ax.axis("off")
    ax.text(
        0.5,
        0.5,
        f"{a} vs {b}: not drawn - no data for {', '.join(absent)} at any ingest level",
        ha="center",
        va="center",
        fontsize=12,
    )
    save_figure(fig, path)
    plt.close(fig)


def plot_regime_timeline(regimes: pd.DataFrame, path: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    columns = [c for c in regimes.columns if c.startswith("regime:")]
    codes = {"hedge": 0, "neutral": 1, "co-move": 2}
    fig, ax = plt.subplots(figsize=(12, 0.6 + 0.5 * max(1, len(columns))))
    if columns:
        matrix = np.array(
            [[codes.get(v, np.nan) if isinstance(v, str) else np.nan for v in regimes[c]] for c in columns]
        )
        dates = regimes.index
        extent = [dates[0], dates[-1], len(columns) - 0.5, -0.5]
        ax.imshow(
            np.ma.masked_invalid(matrix),
            aspect="auto",
            interpolation="nearest",
            extent=extent,
            cmap=ListedColormap([REGIME_COLOURS["hedge"], "#eeeeee", REGIME_COLOURS["co-move"]]),
            vmin=0,
            vmax=2,
        )
        ax.set_yticks(
            range(len(columns)), [c.removeprefix("regime:").replace(":", " ") + "d" for c in columns]
        )
        ax.xaxis_date()
    ax.set_xlabel("date")
    ax.set_title("Correlation regimes by z-score: blue hedge, grey neutral, red co-move, white no data")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def build_report(
    clean_meta: dict,
    corr: pd.DataFrame,
    regimes: pd.DataFrame,
    dq: dict,
    metrics: dict | None,
    pairs: list[list[str]],
    figures_dir: Path,
) -> tuple[str, list[str]]:
    """The markdown text and the figure file names it drew (all under ``figures_dir``)."""
    series_meta = clean_meta["series"]
    names = {
        k: (m.get("name") or k) + (" (bond return)" if m["kind"] == "yield" else "")
        for k, m in series_meta.items()
    }
    headline, series_rows = data_provenance(series_meta, clean_meta["calendar"])
    lines = [
        "# Cross-asset correlation report",
        "",
        headline,
        "",
        f"Calendar: {clean_meta['calendar']['days']} business days {clean_meta['calendar']['first']} .. "
        f"{clean_meta['calendar']['last']} (weekdays minus {clean_meta['calendar']['holidays_removed']} "
        f"holidays of {clean_meta['calendar']['anchor']}); gaps forward-filled for at most "
        f"{clean_meta['calendar']['ffill_limit']} days.",
        "",
        "## Latest correlations",
        "",
        *latest_summary(corr, regimes),
        "",
        "## Data",
        "",
        *series_rows,
        "",
    ]
    drawn = []
    lines += ["## Pairs", ""]
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
        plot_pair(corr, regimes, a, b, names, figures_dir / name)
        drawn.append(name)
        lines += [f"![{a} vs {b}]({name})", ""]
    plot_regime_timeline(regimes, figures_dir / TIMELINE_FIGURE)
    lines += ["## Regime timeline", "", "![regime timeline](fig_regimes.png)", ""]
    lines += [
        "## Data quality",
        "",
        "Full report: [dq_report.md](dq_report.md).",
        "",
        "| series | flags |",
        "|---|---|",
    ]
    for series_id, r in dq["series"].items():
        flags = [f"{check}: {state}" for check, state in r["checks"].items() if state != "pass"]
        lines.append(f"| {series_id} | {', '.join(flags) or 'all pass'} |")
    lines.append("")
    if metrics:
        lines += [
            "## Model: next-month correlation forecast",
            "",
            f"{metrics['model_kind']} forecast of {metrics['pair']} {metrics['horizon']} business days ahead; "
            f"walk-forward test over {metrics['test_days']} days ({metrics['test_first']} .. {metrics['test_last']}).",
            "",
            "| forecast | RMSE | MAE |",
            "|---|---|---|",
        ]
        for name in ("model", "last_value", "historical_mean"):
            lines.append(
                f"| {name.replace('_', ' ')} | {metrics[name]['rmse']:.4f} | {metrics[name]['mae']:.4f} |"
            )
        lines.append("")
    return "\n".join(lines), drawn


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli_parser(__doc__)
    parser.add_argument("--clean", required=True)
    parser.add_argument("--corr", required=True)
    parser.add_argument("--regimes", required=True)
    parser.add_argument("--dq", required=True, help="dq_report.json")
    parser.add_argument("--metrics", default=None, help="models/metrics.json (when task G ran)")
    parser.add_argument("--pairs", type=load_json_arg, required=True)
    parser.add_argument("--report", required=True, help="docs/report.md; figures go beside it")
    parser.add_argument("--figures", nargs="*", default=[], help="pair figures (drawn beside the report)")
    parser.add_argument(
        "--timeline", default=None, help="regime timeline figure (default: beside the report)"
    )
    parser.add_argument("--log", default=None)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    configure_logging(args.log)
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    _, clean_meta = read_parquet(args.clean, columns=[])
    corr = read_rolling_corr(args.corr)
    regimes, _ = read_parquet(args.regimes)
    dq = json.loads(Path(args.dq).read_text(encoding="utf-8"))
    metrics = json.loads(Path(args.metrics).read_text(encoding="utf-8")) if args.metrics else None
    figures_dir = Path(args.report).parent
    expected = {figures_dir / pair_figure_name(a, b) for a, b in args.pairs} | {figures_dir / TIMELINE_FIGURE}
    declared = {Path(p) for p in [*args.figures, *([args.timeline] if args.timeline else [])]}
    if not declared <= expected:
        raise InputDataError(
            f"report: figures are drawn beside the report as {sorted(map(str, expected))}; "
            f"got {sorted(map(str, declared - expected))}"
        )
    text, drawn = build_report(clean_meta, corr, regimes, dq, metrics, args.pairs, figures_dir)
    write_text_atomic(text + "\n", args.report)
    logger.info("wrote %s with figures %s", args.report, drawn)


if __name__ == "__main__":
    if "snakemake" in globals():
        run_main(main, argv_from_snakemake(snakemake))  # noqa: F821
    else:
        run_main(main)
