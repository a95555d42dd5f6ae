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
sentence saying so, not an error. Each figure and its section come from a module in
``_figures/`` (``_figures.REGISTRY``, in the report's order; the report rule declares the
same files from it); figures use matplotlib's Agg backend, one style, 1300 px wide, and
carry no timestamps, so the same inputs give the same bytes.
``report_summary.rst`` holds the same headline and tables for Snakemake's HTML report.
"""

import json
import logging
import os
import re
from pathlib import Path

import pandas as pd

from corrflow.analytics.correlation.calendar_effect import read_calendar_effect
from corrflow.analytics.correlation.exceedance import read_exceedance
from corrflow.analytics.correlation.universe import READABLE_SERIES
from corrflow.analytics.panel import CleanPanel
from corrflow.analytics.returns import gap_sentence
from corrflow.data.contracts import (
    HORIZON_COLUMNS,
    is_missing,
    read_parquet,
    read_rolling_corr,
)
from corrflow.io import (
    InputDataError,
    job_threads,
    write_text_atomic,
)
from corrflow.present import figures as _figures
from corrflow.present.figures.base import Drawings, ReportContext
from corrflow.present.summary import (
    DASHBOARD,
    currency_words,
    current_state,
    data_age_sentence,
    data_provenance,
    normalised_episodes,
    series_label,
    series_origin,
    stale_series,
    table_definitions,
    today_table,
)
from corrflow.store.universe import read_universe

logger = logging.getLogger("report")

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
    partial = False
    for (pair, frequency, window), row in latest.iterrows():
        label = pair.replace(":", "-")  # A-B, as the rest of the report names a pair
        day = pd.Timestamp(row["date"])
        # a period is dated by its end (Friday, month end) unless the pair's data end within it
        cut = day.weekday() != 4 if frequency == "weekly" else not day.is_month_end
        partial |= cut
        date = f"{str(row['date'])[:10]}{' (partial)' if cut else ''}"
        lines.append(f"| {label} | {frequency} | {window} | {date} | {row['corr']:+.2f} |")
    return lines + [
        "",
        "The same pairs measured on weekly and monthly returns: a daily correlation can hide "
        "offsetting moves within the week that a longer horizon shows."
        + (
            " Partial: the pair's data end within that week or month; its last period is dated by "
            "its real last day and its return covers only the days up to it."
            if partial
            else ""
        ),
        "",
    ]


# ---------------------------------------------------------------- DCC


def dcc_section(regimes_meta: dict, pairs: list | None = None) -> list[str]:
    """'## DCC-GARCH': each pair's a and b with their robust two-step standard errors, in
    the configured pairs' order."""
    rank = {f"{a}:{b}": k for k, (a, b) in enumerate(pairs or [])}
    fitted = regimes_meta.get("dcc") or {}
    fits = {
        pair: fitted[pair]
        for pair in sorted(fitted, key=lambda p: (rank.get(p, len(rank)), p))
        if fitted[pair].get("status") == "ok"
    }
    if not fits:
        return []
    lines = [
        "## DCC-GARCH parameters",
        "",
        "| pair | a (se) | b (se) | a + b | days |",
        "|---|---|---|---|---|",
    ]
    for pair, fit in fits.items():
        se_a, se_b = fit.get("se_a"), fit.get("se_b")
        a_text = f"{fit['a']:.4f}" + (f" ({se_a:.4f})" if se_a is not None else "")
        b_text = f"{fit['b']:.4f}" + (f" ({se_b:.4f})" if se_b is not None else "")
        persistence = fit["a"] + fit["b"]
        lines.append(
            f"| {pair.replace(':', '-')} | {a_text} | {b_text} | {persistence:.4f} | {fit['observations']} |"
        )
    return lines + [
        "",
        "a: how much yesterday's joint shock moves today's correlation; b: how long it lasts. "
        "Standard errors: the robust sandwich of the two-step estimator, counting the GARCH legs' "
        "and the targets' estimation error (Engle and Sheppard 2001).",
        "",
    ]


# ---------------------------------------------------------------- model


def model_section(metrics: dict | None) -> list[str]:
    """'## Model': the forecast, its errors against the naive rules, and a verdict that
    follows the evidence: an RMSE or Brier gain is called a gain only with its
    Diebold-Mariano test (HAC variance: the h-day targets overlap) beside it; the Logit is
    judged by its Brier score (a proper score) first and its hit rate second."""
    if not metrics:
        return ["## Model", "", "Model: off (config key `model.enabled`).", ""]

    def p_text(p: float) -> str:
        # three significant digits near the 5% line, so a p of 0.0497 never prints as 0.05
        return "< 0.001" if p < 0.001 else f"= {p:.3g}" if p < 0.1 else f"= {p:.2f}"

    def tested(test: dict | None) -> str:
        if not test or test.get("p_value") is None:
            return "no Diebold-Mariano test in models/metrics.json (re-run the model rule)"
        p = test["p_value"]
        verdict = "significant at 5%" if significant(test) else "not significant at 5%"
        if p < 0.05 and not significant(test):
            verdict += (
                f" once the window's overlap is counted (p {p_text(test['p_value_long'])} with "
                f"{test['lags_long']} lags)"
            )
        return (
            f"Diebold-Mariano p {p_text(p)} over {test['days']} days, Newey-West variance with "
            f"{test['lags']} lags for the overlapping targets: {verdict}"
        )

    def significant(test: dict | None) -> bool:
        """p < 0.05 with h - 1 lags and with the window's overlap (W + h - 1) alike."""
        if not test or test.get("p_value") is None or test["p_value"] >= 0.05:
            return False
        return test.get("p_value_long") is None or test["p_value_long"] < 0.05

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
    test = metrics.get("dm_model_vs_last_value")
    if metrics["model"]["rmse"] >= metrics["last_value"]["rmse"]:
        lines += [
            f"The model does not beat the naive rule: its RMSE {metrics['model']['rmse']:.3f} is no "
            f"better than carrying today's correlation forward ({metrics['last_value']['rmse']:.3f}; "
            f"{tested(test)}), so treat its forecast as no more informative than today's value.",
            "",
        ]
    else:
        gain = f"{1 - metrics['model']['rmse'] / metrics['last_value']['rmse']:.0%}"
        if significant(test):
            verdict = "the model forecasts better than today's value over the test period"
        elif test and test.get("p_value") is not None:
            verdict = (
                "there is no evidence that the model forecasts better than today's value: the gain is "
                "within what chance gives on this many overlapping targets"
            )
        else:
            verdict = "the gain is untested: read it as no more than a difference in this sample"
        lines += [f"The model's RMSE is {gain} below the last-value rule ({tested(test)}). So {verdict}.", ""]
    if "logit" in metrics:
        logit = metrics["logit"]
        lines += [
            f"{metrics['logit_kind']}: Brier score (lower is better; a proper score of the whole "
            "probability), Brier skill score (1 - Brier / the baseline's Brier; above 0 is better) and "
            "hit rate (the sign called at 50%).",
            "",
        ]
        # the fitted persistence probability (P(positive ahead | today's sign)) is the fair
        # reference; a metrics.json from before it has the last sign and the share only
        baselines = [b for b in ("persistence", "last_sign", "historical_share") if b in metrics]
        header = {
            "persistence": "skill vs fitted persistence",
            "last_sign": "skill vs last sign (0/1)",
            "historical_share": "skill vs historical share",
        }
        if "persistence" not in metrics:
            header["last_sign"] = "skill vs last sign"
        lines += [
            "| probability | Brier | " + " | ".join(header[b] for b in baselines) + " | hit rate |",
            "|---|---|" + "---|" * len(baselines) + "---|",
        ]
        for name in ("logit", *baselines):
            skills = [
                (
                    f"{logit[f'brier_skill_vs_{b}']:+.0%}"
                    if name == "logit" and logit.get(f"brier_skill_vs_{b}") is not None
                    else "-"
                )
                for b in baselines
            ]
            label = "persistence (fitted)" if name == "persistence" else name.replace("_", " ")
            lines.append(
                f"| {label} | {metrics[name]['brier']:.4f} | {' | '.join(skills)} | "
                f"{metrics[name]['hit_rate']:.1%} |"
            )
        lines.append("")
        reference = "persistence" if "persistence" in metrics else "last_sign"
        reference_words = {
            "persistence": ("the fitted persistence probability", "a persistence probability"),
            "last_sign": ("the naive last-sign rule", "today's sign"),
        }[reference]
        sign_test = metrics.get(f"dm_logit_vs_{reference}")
        lower = logit["brier"] < metrics[reference]["brier"]
        if lower and significant(sign_test):
            brier_verdict = f"the Logit gives better probabilities than {reference_words[1]}"
        elif lower:
            brier_verdict = "the Logit's lower Brier score is not evidence of better probabilities"
        else:
            brier_verdict = f"the Logit's probabilities are no better than {reference_words[1]}"
        lines.append(
            f"Against {reference_words[0]} the Logit's Brier score is {logit['brier']:.3f} vs "
            f"{metrics[reference]['brier']:.3f} ({tested(sign_test)}): {brier_verdict}."
        )
        if logit["hit_rate"] <= metrics["last_sign"]["hit_rate"]:
            lines.append(
                f"Its hit rate ({logit['hit_rate']:.1%}) does not beat the naive last-sign rule "
                f"({metrics['last_sign']['hit_rate']:.1%}): as a yes/no call of the sign a month ahead it "
                "adds nothing to today's sign"
                + (", though its probabilities are better." if lower and significant(sign_test) else ".")
            )
        lines.append("")
    elif metrics.get("logit_skipped"):
        lines += [f"Logit skipped: {metrics['logit_skipped']}", ""]
    return lines


# ---------------------------------------------------------------- assembly


def folded_when_long(table: list[str], series_meta: dict) -> list[str]:
    """A source table of more than READABLE_SERIES series behind a one-line count of its
    calendars, kinds and currencies (click to unfold, in any markdown viewer with HTML)."""
    if len(table) - 2 <= READABLE_SERIES:
        return table
    from collections import Counter

    def counts(values) -> str:
        return ", ".join(f"{n} {value}" for value, n in Counter(values).most_common())

    present = [m for m in series_meta.values() if not is_missing(m)]
    summary = (
        f"{len(series_meta)} series ({len(series_meta) - len(present)} missing); calendars: "
        f"{counts(m.get('calendar') or '-' for m in present)}; "
        f"kinds: {counts(m.get('kind', '-') for m in present)}; "
        f"currencies: {counts(currency_words(m) for m in present)}"
    )
    return [f"<details><summary>{summary} (every series: click)</summary>", "", *table, "", "</details>"]


def stored_dates_phrase(manifest: dict) -> str:
    """What an all-pairs store keeps, in words."""
    dates = manifest.get("dates", "every_day")
    kept = {"every_day": "every day", "month_ends": "month-end matrices", "latest": "the latest matrix"}
    kept = kept[dates]
    if dates != "every_day" and manifest.get("history_of"):
        kept += f" and every day of the pairs of {', '.join(manifest['history_of'])}"
    return kept


def all_pairs_section(summary: dict | None) -> list[str]:
    """The all-pairs result's latest matrix as the universe step summarised it
    (``corrflow.store.universe.all_pairs_summary``): the last month in which at least half
    the pairs have a value, its date and how many pairs it holds, how correlated those
    pairs are, and the most positive and most negative of them."""
    if not summary:
        return []
    if summary["date"] is None:
        return ["## All pairs", "", f"{summary['series']} series: no pair has a full window of data.", ""]
    date, valued = summary["date"], summary["valued"]
    held = f"{valued:,} of {summary['pairs']:,} pairs"
    lines = [
        "## All pairs",
        "",
        f"{summary['series']} series, {summary['pairs']} pairs, {summary['window']}-day window. The latest "
        f"matrix: {date}, {held} with a value (each pair's last value of "
        f"{pd.Timestamp(date).strftime('%B %Y')} up to that day, the last month in which at least half "
        f"the pairs have one; stored as {summary['dtype']} in {summary['files']} parquet files, "
        f"{stored_dates_phrase(summary)}; "
        f'`corrflow.read_all_pairs("{Path(summary["manifest"]).as_posix()}", pair=(A, B))`, or any parquet '
        "reader filtering columns a and b (a first in the universe's order, in the file the "
        "manifest lists for a), reads one pair's history).",
        "",
    ]
    if not valued:
        return lines + ["No pair has a full window of data on that date.", ""]

    def share_of(count: int) -> str:
        """A share that never rounds a few pairs away: '31%', or '84 (<1%)'."""
        return f"{count / valued:.0%}" if count / valued >= 0.01 or count == 0 else f"{count} (<1%)"

    lines += [
        summary["validity"],
        "",
        f"Over the {held} with a value on {date}: median correlation {summary['median']:+.2f}; "
        f"{share_of(summary['above'])} of them above +0.5, {share_of(summary['below'])} below -0.5; "
        f"{summary['pairs'] - valued} pairs without a value that month.",
        "",
    ]
    if not summary["most_negative"]:  # one pair: listed once, never as both extremes
        pair, value = summary["most_positive"][0]
        return lines + [f"The one pair with a value: {pair} {value:+.3f}.", ""]
    lines += ["| most positive | corr | most negative | corr |", "|---|---|---|---|"]
    for (high, high_value), (low, low_value) in zip(
        summary["most_positive"], summary["most_negative"], strict=False
    ):
        lines.append(f"| {high} | {high_value:+.3f} | {low} | {low_value:+.3f} |")
    return lines + [""]


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
    universe: dict | None = None,
    window: int | None = None,
    heatmap_exclude: list[str] | None = None,
    horizons: pd.DataFrame | None = None,
    gaps: pd.DataFrame | None = None,
    today: str | None = None,
    exceedance: pd.DataFrame | None = None,
    calendar_effect: list[dict] | None = None,
    drawings: Drawings | None = None,
) -> tuple[str, list[str]]:
    """The markdown text and the file names of the charts it drew (all under ``figures_dir``;
    a skipped pair's notice is drawn but not listed). Every figure in ``_figures.REGISTRY``
    is drawn and its section embedded, in the registry's order."""
    clean = CleanPanel(levels, clean_meta)
    series_meta = clean.specs
    names = {k: series_label(k, m) for k, m in series_meta.items()}
    origins = {k: series_origin(m) for k, m in series_meta.items()}
    as_of = clean.as_of_date(pairs)
    headline, series_rows = data_provenance(series_meta, as_of, clean.data_through, today)
    episodes = normalised_episodes(episodes, regimes_meta)
    stale = stale_series(series_meta, as_of)
    context = ReportContext(
        clean=clean,
        corr=corr,
        regimes=regimes,
        regimes_meta=regimes_meta,
        episodes=episodes,
        pairs=pairs,
        window=window,
        heatmap_exclude=heatmap_exclude or [],
        as_of=as_of,
        figures_dir=Path(figures_dir),
        names=names,
        origins=origins,
        exceedance=exceedance,
        universe=universe,
        drawings=drawings or Drawings(),
    )
    lines = [
        "# Cross-asset correlation report",
        "",
        headline,
        "",
        f"Interactive version: [dashboard.html]({DASHBOARD}) (one file, works offline).",
        "",
        f"## At a glance: the latest values ({as_of})",
        "",
        *([age] if (age := data_age_sentence(as_of, today)) else []),
        *([""] if age else []),
        *today_table(corr, regimes, pairs, window, as_of, series_meta, regimes_meta.get("unusual_history")),
        "",
        *current_state(regimes, regimes_meta, as_of, corr),
        "",
    ]
    if stale:
        lines += [
            "Stale on " + as_of + ": " + "; ".join(f"{s} {why}" for s, why in stale.items()) + ".",
            "",
        ]
    if gaps is not None and len(gaps):
        lines += [
            f"**Pairs without a value ({len(gaps)} stretch(es), rolling_corr's pair_gaps.csv):**",
            "",
            *[
                f"- {gap_sentence(gap, clean.calendar_of, clean.max_gap_days)}."
                for gap in gaps.to_dict("records")
            ],
            "",
        ]
    lines += [
        table_definitions(regimes_meta),
        "",
        "## Sources",
        "",
        *folded_when_long(series_rows, series_meta),
        "",
        "Sessions behind: the series' own market sessions after its last value, up to the "
        "as-of date (the latest day on which a configured pair has both values); "
        '"none, runs past it": the series has values after that date.',
        "",
    ]
    drawn = []
    for figure in _figures.REGISTRY:
        section, charts = figure.draw(context)
        lines += section
        drawn += charts
    lines += horizons_section(horizons, as_of)
    lines += dcc_section(regimes_meta, pairs)
    lines += [
        "## Data quality",
        "",
        "Warnings and failures per series; the full report, with the info flags (coverage, "
        "calendars, stale runs, single outliers), is [dq_report.md](dq_report.md).",
        "",
        "| series | warnings and failures |",
        "|---|---|",
    ]
    passing = []
    for series_id, r in dq["series"].items():
        flags = [f"{check}: {state}" for check, state in r["checks"].items() if state in ("warn", "fail")]
        if not flags and len(dq["series"]) > READABLE_SERIES:
            passing.append(series_id)  # a large universe: the series with a flag, then a count
            continue
        lines.append(f"| {series_id} | {', '.join(flags) or 'none'} |")
    if passing:
        lines.append(f"| the other {len(passing)} series | none |")
    lines.append("")
    lines += calendar_advice_lines(dq, calendar_effect)
    lines += model_section(metrics)
    lines += all_pairs_section(universe.get("all_pairs") if universe else None)
    context.drawings.finish()  # every figure file written (a worker's error raised here)
    return "\n".join(lines), drawn


def calendar_advice_lines(dq: dict, effects: list[dict] | None = None) -> list[str]:
    """DQ's calendar suggestion for a series, in the report with what it changes for each of
    the series' pairs, as the calendar_effect step measured it (calendar_effect.csv): the
    days the pair's returns are taken on, how much its correlation moves, and whether the
    synchronised estimate appears or disappears."""
    lines = []
    for series_id, r in dq.get("series", {}).items():
        advice = r.get("calendar_advice")
        if not advice:
            continue
        found = [e for e in effects or [] if e["series"] == series_id]
        said = "; ".join(calendar_effect_phrase(e) for e in found)
        lines.append(
            f"- **{series_id}: {advice}.**"
            + (f" With it, {said}." if said else "")
            + " Until then its returns follow the wrong market's holidays, which can move a pair's"
            " correlation (see dq_report.md)."
        )
    return lines + ([""] if lines else [])


def calendar_effect_phrase(effect: dict) -> str:
    """One pair's row of calendar_effect.csv in words."""
    other = effect["pair"].split("-")
    other = other[1] if other[0] == effect["series"] else other[0]
    days = (
        f"{effect['pair']} is computed on {effect['suggested_calendar']}'s days instead of "
        f"{effect['current_calendar']}'s"
        + (
            f" (with {other} on {effect['other_leg_calendar']}, DQ's suggestion for it too)"
            if effect.get("other_leg_suggested")
            else ""
        )
    )
    window = f"its {effect['window']}-day correlation"
    if not effect.get("days_compared"):
        change = f"{window} has no day with a value in both versions"
    elif not effect.get("max_change_date"):
        change = f"{window} does not change on the {effect['days_compared']} days both versions have a value"
    else:
        change = (
            f"{window} changes by up to {effect['max_abs_change']:.3f} ({effect['max_change_date']}), "
            f"{effect['mean_abs_change']:.3f} on average over the {effect['days_compared']} days both "
            f"versions have a value ({effect['last_change']:+.3f} on {effect['last_common_day']})"
        )
    hours = effect.get("closes_apart_hours")
    if hours is None:  # a version without the pair's data
        return f"{days}: {change}"
    synchronised = {
        "appears": "it gets the synchronised estimate",
        "disappears": "it loses the synchronised estimate",
        "kept": "it keeps the synchronised estimate",
    }.get(effect.get("synchronised"), "it has no synchronised estimate either way")
    return f"{days}: {change}, and {synchronised} (closes {hours:.1f} h apart)"


# ---------------------------------------------------------------- markdown -> rst (HTML report)


def _rst_inline(text: str) -> str:
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"``\1``", text)
    # a lone * outside code (data/raw/*.ok) would open an emphasis docutils warns about, and
    # a | (|during - before|) a substitution reference; **bold** stays, code spans keep theirs
    parts = re.split(r"(`[^`]*`)", text)
    text = "".join(
        p if p.startswith("`") else re.sub(r"(?<!\*)\*(?!\*)", r"\\*", p).replace("|", r"\|") for p in parts
    )
    return re.sub(r"(?<!`)`([^`]+)`(?!`)", r"``\1``", text)


def _rst_cell(text: str) -> str:
    """A table cell as inline text: a cell of just "-" (or "1.") would be a list in rst."""
    text = _rst_inline(text)
    return "\\" + text if re.match(r"^([-*+]|\d+[.)])(\s|$)", text) else text


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
        out.append("   :header: " + ", ".join(f'"{_rst_cell(c)}"' for c in header))
        out.append("")
        for row in body:
            out.append("   " + ", ".join(f'"{_rst_cell(c)}"' for c in row))
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


def run(
    *,
    clean: str,
    corr: str,
    regimes: str,
    episodes: str,
    horizons: str | None = None,
    dq: str,
    gaps: str | None = None,
    exceedance: str | None = None,
    metrics: str | None = None,
    calendar_effect: str | None = None,
    universe: str,
    pairs: list,
    window: int | None = None,
    windows: list[int] | None = None,
    heatmap_exclude: list[str],
    today: str | None,
    report: str,
    summary: str | None = None,
    **figures: list[str],
) -> None:
    """docs/report.md, its figures and the HTML report's summary (rule ``report``); each
    figure's rule output by name (``--heatmap docs/fig_heatmap.png``).

    clean: clean.parquet
    corr: rolling_corr.csv
    regimes: regimes.parquet
    episodes: stress_episodes.csv
    horizons: horizons.csv (when it ran)
    dq: dq_report.json
    gaps: pair_gaps.csv (rolling_corr)
    exceedance: data/processed/exceedance.csv (regimes; when it ran)
    metrics: models/metrics.json (when task G ran)
    calendar_effect: calendar_effect.csv: what DQ's calendar suggestions change in each pair
    universe: universe.json (rule universe): the heatmaps' matrices, the latest all-pairs matrix
    window: the primary window
    windows: the configured windows (checked in rolling_corr.csv)
    report: docs/report.md; figures go beside it
    summary: docs/report_summary.rst for the HTML report
    """
    figures = {name: [paths] if isinstance(paths, str) else list(paths) for name, paths in figures.items()}
    figures = {figure.output: [] for figure in _figures.REGISTRY} | figures
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    # the figures shared with a worker process per further thread of the job
    with Drawings(job_threads() - 1) as drawings:
        figures_dir = Path(report).parent
        expected = {figures_dir / name for figure in _figures.REGISTRY for _, name in figure.files(pairs)}
        declared = {Path(p) for paths in figures.values() for p in paths}
        if not declared <= expected:
            raise InputDataError(
                f"report: figures are drawn beside the report as {sorted(map(str, expected))}; "
                f"got {sorted(map(str, declared - expected))}"
            )
        clean = CleanPanel.read(clean)
        levels = clean.levels
        # every configured pair with data, at every configured window: a file written by another
        # command (or an older config) is refused with the one command that rebuilds it
        with_data = [[a, b] for a, b in pairs if a in levels.columns and b in levels.columns]
        corr = read_rolling_corr(corr, with_data, windows) if windows else read_rolling_corr(corr)
        regimes, regimes_meta = read_parquet(regimes)
        episodes = pd.read_csv(episodes)
        dq = json.loads(Path(dq).read_text(encoding="utf-8"))
        metrics = json.loads(Path(metrics).read_text(encoding="utf-8")) if metrics else None
        text, drawn = build_report(
            clean.meta,
            levels,
            corr,
            regimes,
            regimes_meta,
            episodes,
            dq,
            metrics,
            pairs,
            figures_dir,
            read_universe(universe),
            window,
            heatmap_exclude,
            pd.read_csv(horizons) if horizons else None,
            pd.read_csv(gaps) if gaps else None,
            today,
            read_exceedance(exceedance) if exceedance else None,
            read_calendar_effect(calendar_effect) if calendar_effect else None,
            drawings,
        )
        write_text_atomic(text + "\n", report)
        if summary:
            write_text_atomic(markdown_to_rst(text), summary)
        # a figure of a pair no longer configured would stay beside the report, looking current
        for stale in sorted(set(figures_dir.glob("fig_*.png")) - expected):
            stale.unlink()
            logger.info("removed %s: no figure of this run", stale)
        logger.info("wrote %s with figures %s", report, drawn)
