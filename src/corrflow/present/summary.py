"""What the report and the dashboard say in words and tables: where the data came from,
the as-of date and the data's age, today's table, Markov states, stress episodes. One job:
words and tables from the outputs (the universe's correlations for the heatmaps are
``corrflow.analytics.correlation.universe``'s, the colours ``corrflow.present.figures._style``'s)."""

import re

import numpy as np
import pandas as pd

from corrflow.data.contracts import (
    STRESS,
    STRESS_REASON,
    as_of_date,  # noqa: F401  (its home is data.contracts; the report and dashboard import it here)
    band_of,
    corr_adjusted_column,
    corr_before_column,
    corr_column,
    corr_during_column,
    dcc_column,
    is_missing,
    parse_corr_column,
    pearson_columns,
    percentile_column,
    primary_window_of,
    relative_column,
    sign_column,
    sync_column,
)

DASHBOARD = "dashboard.html"
TOP_EPISODES = 12
SIGN_SPLIT_MIN = 0.05  # daily and synchronised both at least this far from 0 with opposite signs: said


# ---------------------------------------------------------------- provenance


def series_origin(meta: dict) -> str:
    """The human label of where a series came from (clean.parquet's `origin`, which clean
    writes for every series)."""
    return str(meta.get("origin") or "missing")


def origin_group(label: str) -> str:
    """An origin label as a headline counts it: every local file as one group."""
    return "local CSV files" if label.startswith("local file ") else label


def stale_series(series_meta: dict, as_of: str) -> dict[str, str]:
    """Series stale on the as-of date, each with a few words on why."""
    stale = {}
    for series_id, meta in series_meta.items():
        if is_missing(meta):
            continue
        behind = meta.get("days_behind")
        # behind the as-of date only if its own market traded after its last value (a Tokyo
        # series is not stale on a New York day Tokyo was closed)
        if meta.get("stale") or (
            str(meta["last"])[:10] < as_of and business_days_since(meta["last"], as_of, meta.get("calendar"))
        ):
            stale[series_id] = f"last observed {str(meta['last'])[:10]}" + (
                f", {behind} days behind" if behind else ""
            )
            if meta.get("ends_because"):  # a converted series ends where its fx rate ends
                stale[series_id] = f"ends {str(meta['last'])[:10]}: {meta['ends_because']}"
    return stale


def business_days_since(last: str, today: str | None, calendar: str | None) -> int | None:
    """The series' market sessions after ``last`` up to ``today`` (None without a today)."""
    from corrflow.data.calendars import sessions

    if today is None or not last:
        return None
    return max(len(sessions(calendar or "NYSE", str(last)[:10], today)) - 1, 0)


def data_age_sentence(as_of: str, today: str | None) -> str | None:
    """How old the data is on the day the report was made, when that is more than a week."""
    if today is None:
        return None
    days = (pd.Timestamp(today) - pd.Timestamp(as_of)).days
    if days <= 7:
        return None
    age = f"about {round(days / 30.44)} months" if days > 60 else f"{days} days"
    return (
        f"**The data is {age} old**: its latest values are of {as_of}, and this report was made on "
        f"{today} (an offline snapshot, or sources that stopped: see Sources)."
    )


def data_provenance(
    series_meta: dict, as_of: str, data_through: str | None = None, today: str | None = None
) -> tuple[str, list[str]]:
    """One headline sentence on where the data came from, plus the source table.

    One clock per page: the as-of date (the latest day a configured pair has both values,
    the date of the table's values). The headline names it, and the range of the series'
    last dates when they differ; the source table counts each series' market sessions
    behind the as-of date ("none, runs past it" where a series runs past it), as the today table does.
    How old the as-of date is on the day the report was made (``today``) is said once,
    by ``data_age_sentence``. ``data_through`` (the last day every series has reached) is
    kept for callers that pass it; the range of last dates says the same, and more."""
    origins = {k: origin_group(series_origin(m)) for k, m in series_meta.items() if not is_missing(m)}
    labels = sorted(set(origins.values()))
    lasts = sorted(str(m["last"])[:10] for m in series_meta.values() if not is_missing(m) and m.get("last"))
    dates = as_of
    if lasts and (lasts[0] != as_of or lasts[-1] != as_of):
        dates = f"{as_of} (the series end {lasts[0]} .. {lasts[-1]}: see Sources)"
    if labels == ["offline snapshot"]:
        headline = f"**Data: offline snapshot, data as of {dates}.**"
    elif len(labels) == 1:
        headline = f"**Data: {labels[0]}, data as of {dates}.**"
    else:
        mix = ", ".join(f"{label} ({sum(o == label for o in origins.values())})" for label in labels)
        headline = f"**Data: {mix}; data as of {dates}.**"
    missing = sorted(k for k, m in series_meta.items() if is_missing(m))
    if missing:
        headline += f" Missing at every level: {', '.join(missing)} (pairs with them are skipped)."
    failed = {k: m["live_error"] for k, m in series_meta.items() if m.get("live_error")}
    if failed:
        headline += (
            f" Live download failed for {len(failed)} series ({', '.join(sorted(failed))}; "
            f"{'; '.join(sorted(set(map(str, failed.values()))))}): see data/raw/*.ok and logs/ingest/."
        )
    rows = [
        "| series | name | kind | currency | origin | column used | calendar | first | last | "
        f"sessions behind {as_of} |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for series_id, m in series_meta.items():
        # clean's count to the as-of date (what the today table says), else counted here
        behind = m.get("days_behind")
        if behind is None and m.get("last"):
            behind = business_days_since(m.get("last"), as_of, m.get("calendar"))
        if m.get("last") and str(m["last"])[:10] > as_of:
            behind = "none, runs past it"  # after the as-of date (a configured pair's last joint day)
        stale = " (stale)" if m.get("stale") else ""
        rows.append(
            f"| {series_id} | {m.get('name') or ''} | {m.get('kind', '-')} | {currency_words(m)} | "
            f"{'MISSING' if is_missing(m) else series_origin(m)} | {m.get('column') or '-'} | "
            f"{m.get('calendar') or '-'} | {m.get('first') or '-'} | {m.get('last') or '-'} | "
            f"{'-' if behind is None else behind}{stale} |"
        )
    return headline, rows


def currency_words(meta: dict) -> str:
    """A series' currency as stored, and its conversion: "USD (from JPY with DEXJPUS)"."""
    currency = meta.get("currency") or "-"
    if meta.get("kind") == "fx":
        return f"{currency} per {meta.get('base') or '?'}"
    if meta.get("kind") == "yield":
        return f"percent ({currency} rates)"
    if meta.get("kind") == "level":
        return "index points"  # an indicator such as VIX, not an amount of money
    if meta.get("converted_from"):
        return f"{currency} (from {meta['converted_from']} with {meta.get('converted_with')})"
    if meta.get("local_currency"):
        return f"{currency} (local currency, not converted)"
    return currency


# ---------------------------------------------------------------- regimes in words


def sign_meaning(bond_pair: bool) -> dict[str, str]:
    """What each sign means for a pair, by its legs' asset classes: a stock-bond pair's
    negative sign is the bond hedging, its positive one co-moving; any other pair (two
    equity markets, equity and crypto or oil) simply moves together or opposite."""
    if bond_pair:
        return {"negative": "bonds hedge", "positive": "co-move"}
    return {"negative": "move opposite", "positive": "move together"}


def sign_words(label, bond_pair: bool = True) -> str:
    """A sign-regime label in words (never a z-score label), by the pair's asset classes."""
    if not isinstance(label, str):
        return "n/a"
    if label in ("negative", "positive"):
        return f"{label} ({sign_meaning(bond_pair)[label]})"
    return label


def series_label(series_id: str, meta: dict, name: bool = True) -> str:
    """A series as pages name it: its name (or, ``name=False``, its id), a yield's marked
    "(bond return)", since its correlations are of its par-bond returns. The one label of
    the report, its figures' names and the dashboard."""
    label = (meta.get("name") or series_id) if name else series_id
    return f"{label} (bond return)" if meta.get("kind") == "yield" else label


def table_definitions(regimes_meta: dict) -> str:
    """What the latest-values table's words and numbers mean (its columns' definitions), the
    one text under the table in the report and on the dashboard."""
    unusual_history = regimes_meta.get("unusual_history", "the")
    unusual_level = regimes_meta.get("unusual_level", 2.5)
    return (
        "Sign regime: the primary-window correlation's sign (for a stock-bond pair negative: bonds hedge "
        "equities, positive: they co-move; for any other pair negative: they move opposite, positive: "
        "together; mixed: in between or changing), in words only when today's band excludes zero. "
        f"Percentile: where today's value falls among the pair's last {unusual_history} non-overlapping "
        "past windows (W, 2W, ... days back, so no day is counted twice); 'unusually high' above its "
        f"{100 - unusual_level:g}th percentile, 'unusually low' below its {unusual_level:g}th (about "
        f"{2 * unusual_level:g} % of a steady pair's days), n/a with less than half that history. "
        "As of: the latest day a configured pair has both values, the one date every count on this "
        "page is made against; days behind: each series' market sessions from its last value to "
        "the as-of date. Synchronised (pairs whose markets close hours apart, e.g. Tokyo and New "
        "York): the correlation of synchronised returns, each leg's return plus the share of the "
        "other's it trades a day late, so news one market trades a day later still counts; a "
        "correlation, so within -1 .. +1 by construction. "
        "DCC: the DCC-GARCH(1,1) conditional correlation of the pair's daily returns "
        "(regimes.dcc), which reacts faster than a rolling window."
    )


def return_currency(meta: dict) -> str:
    """The currency a series' returns are in, short, for figure titles and labels:
    "USD", "USD from GBP" (converted), "GBP, local" (kept in its own currency), "USD
    bond return" (a yield), "index points" (a level such as VIX)."""
    currency = meta.get("currency") or "?"
    if meta.get("kind") == "yield":
        return f"{currency} bond return"
    if meta.get("kind") == "level":
        return "index points"
    if meta.get("kind") == "fx":
        return f"{currency} per {meta.get('base') or '?'}"
    if meta.get("converted_from"):
        return f"{currency} from {meta['converted_from']}"
    if meta.get("local_currency"):
        return f"{currency}, local"
    return currency


def pair_currency_text(series_meta: dict, a: str, b: str) -> str:
    """A pair's currencies for its figure's title: "in USD" when both legs' returns are in
    one currency, else each leg's ("FTSE in GBP, local; SPY in USD")."""
    words = {s: return_currency(series_meta.get(s, {})) for s in (a, b)}
    money = {w.split(" ")[0].rstrip(",") for w in words.values() if w != "index points"}
    if len(money) <= 1 and all("from" not in w and "local" not in w for w in words.values()):
        return f"in {next(iter(money))}" if money else "in index points"
    return f"{a} in {words[a]}; {b} in {words[b]}"


def is_bond_pair(series_meta: dict, a: str, b: str) -> bool:
    """A stock-bond pair: one leg a yield (a bond return) or a Treasury/bond fund."""

    def bondish(s):
        m = series_meta.get(s, {})
        return m.get("kind") == "yield" or bool(re.search(r"treasury|bond", str(m.get("name", "")), re.I))

    return bondish(a) != bondish(b)


def primary_of(corr: pd.DataFrame, a: str, b: str, window: int | None) -> str | None:
    """The pair's Pearson column at the primary window (data.contracts.primary_window_of),
    None where the file has none: never another window's column under the primary's name."""
    column = corr_column(a, b, primary_window_of(corr, window) or 0)
    return column if column in pearson_columns(corr) else None


JUMP = 0.5  # a Markov probability that moves this much in one day is said to have jumped


def value_on(series: pd.Series, day: pd.Timestamp):
    """(date, value) of the last observation on or before ``day``."""
    known = series.loc[:day].dropna()
    return (known.index[-1], known.iloc[-1]) if len(known) else (None, np.nan)


def ordinal_suffix(number: str) -> str:
    """English ordinal suffix of a number's text: "1" -> "st", "12" -> "th", "99.6" -> "th"."""
    if not number.isdigit():
        return "th"
    if number[-2:] in ("11", "12", "13"):
        return "th"
    return {"1": "st", "2": "nd", "3": "rd"}.get(number[-1], "th")


def percentile_text(percentile: float, past: int | None = None) -> str:
    """A percentile with the precision it has. Among ``past`` past windows its steps are
    100 / past points, and the count is said as a count, never as "88 (of 40)", which reads
    as 88 out of 40: "above all 40 past windows", "88th percentile (35 of 40 past windows
    lower)", "below all 40 past windows"; with no count: ">99.9", "99.6", "57", "<0.1"."""
    if not np.isfinite(percentile):
        return "n/a (short history)"
    if past:
        if percentile >= 100.0:
            return f"above all {past} past windows"
        if percentile <= 0.0:
            return f"below all {past} past windows"
        digits = 0 if past <= 100 else 1
        number = f"{percentile:.{digits}f}"
        # the percentile counts a tie as half: the windows strictly lower are its floor
        lower = int(np.floor(percentile * past / 100.0 + 1e-9))
        return f"{number}{ordinal_suffix(number)} percentile ({lower} of {past} past windows lower)"
    if percentile > 99.9:
        return ">99.9"
    if percentile < 0.1:
        return "<0.1"
    return f"{percentile:.1f}" if percentile > 99 or percentile < 1 else f"{percentile:.0f}"


def past_windows(corr: pd.Series, date: pd.Timestamp, window: int, history: int | None) -> int | None:
    """How many non-overlapping past values the percentile of ``date`` was ranked among
    (``own_history_percentile``: every ``window``-th observed value before it, at most
    ``history``); None when the history length is not known."""
    if not history:
        return None
    observed = corr.dropna()
    if date not in observed.index:
        return None
    return min(history, observed.index.get_loc(date) // window)


def today_table(
    corr, regimes, pairs, window, as_of: str, series_meta: dict, history: int | None = None
) -> list[str]:
    """Each pair on the one as-of date: primary-window correlation, its band, percentile
    among its own non-overlapping past windows, sign regime (in words only where the band
    excludes zero), whether today is unusual against that history, the other windows and
    the DCC-GARCH correlation; stale legs marked."""
    day = pd.Timestamp(as_of)
    stale = stale_series(series_meta, as_of)
    has_sign = any(c.startswith("sign:") for c in regimes.columns)
    has_relative = any(c.startswith("relative:") for c in regimes.columns)
    rows = [
        "| pair | window | date | correlation | band | percentile vs own history | sign regime | "
        "unusual vs own history | other windows, DCC | note |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for a, b in pairs:
        column = primary_of(corr, a, b, window)
        if column is None or corr[column].dropna().empty:
            missing = [s for s in (a, b) if is_missing(series_meta.get(s, {}))]
            why = f"no data for {', '.join(missing)}" if missing else "no correlation"
            rows.append(f"| {a}-{b} | - | - | {why} | - | - | - | - | - | skipped |")
            continue
        date, latest = value_on(corr[column], day)
        band = band_of(corr, column)
        band_text = f"{corr.at[date, band[0]]:+.2f} .. {corr.at[date, band[1]]:+.2f}" if band else "-"
        straddles_zero = bool(band) and corr.at[date, band[0]] <= 0 <= corr.at[date, band[1]]
        percentile = (
            regimes[percentile_column(column)].get(date, np.nan)
            if percentile_column(column) in regimes
            else np.nan
        )
        past = past_windows(corr[column], date, int(parse_corr_column(column).window), history)
        sign = regimes[sign_column(column)].get(date) if sign_column(column) in regimes else None
        relative = regimes[relative_column(column)].get(date) if relative_column(column) in regimes else None
        relative_text = relative if isinstance(relative, str) else "n/a (short history)"
        if not has_relative:
            relative_text = "off"
        sign_text = sign_words(sign, is_bond_pair(series_meta, a, b)) if has_sign else "off"
        if has_sign and isinstance(sign, str) and straddles_zero:
            # the band includes zero: today's value does not show a sign, whatever the regime
            sign_text = f"{sign} regime; today near zero (band includes 0)"
        others = []
        for other in pearson_columns(corr):
            if other.startswith(f"{a}:{b}:") and other != column:
                _, value = value_on(corr[other], day)
                others.append(f"{parse_corr_column(other).window}d {value:+.2f}")
        synced = np.nan
        if sync_column(column) in corr:  # markets that close hours apart
            _, synced = value_on(corr[sync_column(column)], day)
            others.append(f"synchronised {synced:+.2f}")
        dcc = dcc_column(a, b)
        if dcc in regimes and regimes[dcc].loc[:day].notna().any():
            # the DCC-GARCH conditional correlation beside the rolling windows
            _, value = value_on(regimes[dcc], day)
            others.append(f"DCC {value:+.2f}")
        notes = [
            f"{s} {stale[s]}" if series_meta.get(s, {}).get("ends_because") else f"{s} stale ({stale[s]})"
            for s in (a, b)
            if s in stale
        ]
        if date.date() != day.date() and not any(str(date.date()) in note for note in notes):
            notes.append(f"last value {date.date()}")  # unless a stale leg's note gave the date already
        if np.isfinite(synced) and synced * latest < 0 and min(abs(synced), abs(latest)) >= SIGN_SPLIT_MIN:
            # the same-day value misses what the later market trades a day late
            notes.append(
                f"daily {latest:+.2f} and synchronised {synced:+.2f} differ in sign: the markets close hours "
                "apart, read the synchronised one"
            )
        rows.append(
            f"| {a}-{b} | {parse_corr_column(column).window} | {date.date()} | {latest:+.2f} | {band_text} "
            f"| {percentile_text(percentile, past)} | {sign_text} "
            f"| {relative_text} | {', '.join(others) or '-'} | {'; '.join(notes) or '-'} |"
        )
    return rows


def markov_panels(regimes: pd.DataFrame, regimes_meta: dict) -> list[dict]:
    """One entry per Markov fit found in regimes.parquet: its prefix, states, the state
    drawn (turbulent/high), and whether its states are well separated."""
    found: dict[str, list[str]] = {}
    for column in regimes.columns:
        if ":p_realtime:" in column:
            prefix, state = column.split(":p_realtime:")
            found.setdefault(prefix, []).append(state)
    fits = {
        f.get("prefix") or f.get("series"): f for f in regimes_meta.get("markov", []) if isinstance(f, dict)
    }
    panels = []
    for prefix, states in found.items():
        fit = fits.get(prefix, {})
        top = next((s for s in ("turbulent", "high") if s in states), states[-1])
        separated = fit.get("well_separated", fit.get("separated", True))
        panels.append(
            {"prefix": prefix, "states": states, "top": top, "separated": bool(separated), "fit": fit}
        )
    return panels


def markov_name(prefix: str) -> str:
    """'mkv:ret:SPY' -> 'SPY returns'; 'mkv:SPY:TLT:60' -> 'SPY-TLT 60-day correlation'."""
    parts = prefix.removeprefix("mkv:").split(":")
    if parts[0] == "ret" and len(parts) == 2:
        return f"{parts[1]} returns"
    if len(parts) == 3:
        return f"{parts[0]}-{parts[1]} {parts[2]}-day correlation"
    return ":".join(parts)


OUTSIDE_STATES_SD = 3.0  # today's value further than this from every state: no state describes it


def outside_states(value: float, fit: dict) -> str:
    """Words for a value further than ``OUTSIDE_STATES_SD`` of its own standard deviations
    from every fitted state's mean (the filter's probability then only says which state is
    less unlikely, not that the value fits it); "" when a state describes it."""
    states = fit.get("states") or {}
    distances = {
        name: abs(value - state["mean"]) / np.sqrt(state["variance"])
        for name, state in states.items()
        if state.get("variance", 0) > 0
    }
    if not np.isfinite(value) or not distances or min(distances.values()) <= OUTSIDE_STATES_SD:
        return ""
    means = ", ".join(f"{name} {states[name]['mean']:+.2f}" for name in states)
    return (
        f"; today's value {value:+.2f} lies {min(distances.values()):.1f} state standard deviations "
        f"or more from both states (means {means}): the probability only says which state is less "
        "unlikely, and neither describes today"
    )


def current_state(
    regimes: pd.DataFrame, regimes_meta: dict, as_of: str, corr: pd.DataFrame | None = None
) -> list[str]:
    """Today's Markov states and stress flags on the as-of date, in words; with ``corr``,
    a correlation's fit whose states are all far from today's value says so."""
    day = pd.Timestamp(as_of)
    lines = []
    panels = markov_panels(regimes, regimes_meta)
    if not panels:
        lines.append("- Markov regimes: off (no Markov columns in regimes.parquet).")
    for panel in panels:
        realtime = regimes[f"{panel['prefix']}:p_realtime:{panel['top']}"]
        date, p = value_on(realtime, day)
        if date is None:
            lines.append(f"- Markov {markov_name(panel['prefix'])}: no probability yet.")
            continue
        hindsight_column = f"{panel['prefix']}:p_hindsight:{panel['top']}"
        hindsight = regimes[hindsight_column] if hindsight_column in regimes else None
        _, q = value_on(hindsight, day) if hindsight is not None else (None, np.nan)
        caveat = "" if panel["separated"] else " (states not well separated: read with care)"
        before = realtime.loc[: date - pd.Timedelta(days=1)].dropna()
        if len(before) and abs(p - before.iloc[-1]) >= JUMP:  # one day's move: say so
            caveat += f"; it was {before.iloc[-1]:.2f} on {before.index[-1].date()}, the day before"
        if pd.notna(q) and hindsight.last_valid_index() == date:
            caveat += "; on the data's last day hindsight has no later day to use"
        column = panel["prefix"].removeprefix("mkv:")
        if corr is not None and column in corr:  # a correlation's fit: today's value against its states
            caveat += outside_states(corr[column].get(date, np.nan), panel["fit"])
        lines.append(
            f"- Markov {markov_name(panel['prefix'])} on {date.date()}: P({panel['top']}) real-time {p:.2f}"
            + (f", hindsight {q:.2f}" if pd.notna(q) else "")
            + f"{caveat}."
        )
    if corr is not None and any(panel["prefix"].removeprefix("mkv:") in corr for panel in panels):
        lines.append(
            "- The correlations' Markov states say where each correlation sits, not that it has two "
            "regimes: the fit takes a day as independent of the day before given its state, which a "
            "rolling window's overlapping days are not, so probabilities near 0 or 1 overstate the "
            "evidence (docs/methods.md)."
        )
    if STRESS_REASON in regimes:
        on_day = regimes.loc[:day]
        reason = on_day[STRESS_REASON].iloc[-1] if len(on_day) else None
        when = on_day.index[-1].date() if len(on_day) else as_of
        flag = on_day[STRESS].iloc[-1] if STRESS in on_day and len(on_day) else False
        if isinstance(reason, str) and reason:
            lines.append(f"- **Stress flags on {when}: {reason}.**")
        elif pd.isna(flag):  # after the stress rules' inputs end: neither stress nor calm
            known = regimes[STRESS].last_valid_index()
            since = f": the stress rules' inputs end {known.date()}" if known is not None else ""
            lines.append(f"- Stress flag not known on {when}{since}.")
        else:
            lines.append(f"- No stress flag on {when}.")
    else:
        lines.append("- Stress flags: off (no stress column in regimes.parquet).")
    return lines + data_error_lines(regimes_meta, as_of)


MAX_DATA_ERRORS_NAMED = 3


def data_error_lines(regimes_meta: dict, as_of: str) -> list[str]:
    """The values DQ flags as outliers among the stress rules' inputs (regimes' ``data_errors``,
    ``_stress.likely_data_errors``): confirmed ones were left out of the flags; an unconfirmed
    last value on or before the as-of date may be what today's flags rest on."""
    errors = regimes_meta.get("data_errors") or []
    lines = []
    left_out = [e for e in errors if e.get("confirmed")]
    if left_out:
        named = sorted(left_out, key=lambda e: e["date"])[-MAX_DATA_ERRORS_NAMED:]
        words = "; ".join(
            f"{e['series']} {e['value']:.6g} on {e['date']} (between {e['previous']:.6g} and "
            f"{e['next']:.6g}, DQ robust z {e['z']:+.0f})"
            for e in named
        )
        more = f" and {len(left_out) - len(named)} more" if len(left_out) > len(named) else ""
        lines.append(
            f"- Flagged as likely data errors and left out of the stress flags: {words}{more}; correlations "
            "and Markov fits over those days still use them (see docs/dq_report.md and fix the file)."
        )
    for e in errors:
        if e.get("confirmed") or e["date"] > as_of:
            continue
        what = "flagged as a likely data error" if e.get("likely_error") else "a DQ outlier"
        lines.append(
            f"- **{e['series']} {e['return']:+.0%} on {e['date']}, {what}** (from {e['previous']:.6g} to "
            f"{e['value']:.6g}, DQ robust z {e['z']:+.0f}; its last value, so no later day confirms or "
            "clears it): today's stress flags and Markov states may rest on it; check the file before acting "
            "on them."
        )
    return lines


def normalised_episodes(episodes: pd.DataFrame, regimes_meta: dict) -> pd.DataFrame:
    """Episodes with name/start/end/business_days/reason (an older file: `reasons`, no name)."""
    out = episodes.copy()
    if "reason" not in out and "reasons" in out:
        out["reason"] = out["reasons"]
    if "name" not in out:
        out["name"] = ""
        named = regimes_meta.get("stress", {}).get("episodes", [])
        extra = pd.DataFrame(
            [
                {
                    "name": e["name"],
                    "start": e["start"],
                    "end": e["end"],
                    "business_days": len(pd.bdate_range(e["start"], e["end"])),
                    "reason": "named episode",
                }
                for e in named
            ]
        )
        out = pd.concat([out, extra], ignore_index=True) if len(extra) else out
    for column in ("name", "reason"):
        out[column] = out[column].fillna("").astype(str) if column in out else ""
    return out


def episode_severity(episodes: pd.DataFrame, column: str | None) -> pd.Series:
    """How severe each episode was for the pair: |corr during - corr before| (NaN where
    either is missing: ranked after every measured one)."""
    if not column:
        return pd.Series(np.nan, index=episodes.index)
    during, before = corr_during_column(column), corr_before_column(column)
    if during not in episodes or before not in episodes:
        return pd.Series(np.nan, index=episodes.index)
    return (pd.to_numeric(episodes[during]) - pd.to_numeric(episodes[before])).abs()


def episodes_count_note(in_span: int, measured: int) -> list[str]:
    """The sentence under a pair's episodes table, counting what it ranks: the episodes with
    a correlation measured during them (``measured``) among all ``in_span`` within the
    pair's data, so "12 of 32" never implies 32 ranked episodes when 13 have a number."""
    where = "all in `data/processed/stress_episodes.csv`."
    if measured == 0:
        return [
            f"\nNo episode of the {in_span} in the pair's span has a correlation measured during it; " + where
        ]
    others = (
        f" ({in_span} in the pair's span; the others have too few of the pair's days during or before "
        "them: a few days long, or before a leg's data)"
        if measured < in_span
        else ""
    )
    if measured > TOP_EPISODES:
        return [
            f"\nThe {TOP_EPISODES} of the {measured} episodes with a correlation measured "
            f"during them{others} in which this pair's correlation moved furthest from its calm "
            f"baseline (|during - before|; a short episode's change is the noisiest: see its n), in "
            f"date order; {where}"
        ]
    if others:
        return [
            f"\nThe {measured} episodes with a correlation measured during them{others}, in date order; "
            + where
        ]
    return []


def episodes_table(episodes: pd.DataFrame, column: str | None) -> list[str]:
    """The pair's most severe stress episodes (``TOP_EPISODES``, by ``episode_severity``:
    how far its correlation moved from the calm baseline, never by length, which kept slow
    bear markets and dropped Black Monday) in date order, with the pair's correlation before
    (a calm baseline), during and volatility-adjusted (Forbes-Rigobon), each with its days
    (n) and Fisher-z interval; an episode too short for inference says so instead of an
    adjusted value; then the method's assumptions in one sentence."""
    from corrflow.analytics.regimes.stress import FR_ASSUMPTIONS, FR_CONFIDENCE, episode_stat_column

    if episodes.empty:
        return ["No stress episodes within this pair's data."]
    severity = episode_severity(episodes, column)
    during_column = corr_during_column(column) if column else None
    measured = (
        pd.to_numeric(episodes[during_column]).notna()
        if during_column in episodes
        else pd.Series(False, index=episodes.index)
    )
    # only episodes with a correlation measured during them are ranked and shown when
    # there are any: the others (a few days long, or before a leg's data) have no row to show
    candidates = episodes[measured] if measured.any() else episodes
    ranked = candidates.assign(_severity=severity[candidates.index]).sort_values(
        ["_severity", "business_days", "start"], ascending=[False, False, True], na_position="last"
    )
    top = ranked.head(TOP_EPISODES).sort_values("start").drop(columns="_severity")
    names = {
        "before": corr_before_column(column) if column else None,
        "during": corr_during_column(column) if column else None,
        "adjusted": corr_adjusted_column(column) if column else None,
    }

    def stat(e, key):
        name = names.get(key) or (episode_stat_column(key, column) if column else None)
        return e[name] if name and name in e and pd.notna(e[name]) else None

    def cell(e, key, n_key=None):
        value = stat(e, key)
        if value is None:
            return "-"
        text = f"{value:+.2f}"
        lo, hi = stat(e, f"{key}_lo"), stat(e, f"{key}_hi")
        if lo is not None and hi is not None:
            text += f" [{lo:+.2f}, {hi:+.2f}]"
        n = stat(e, n_key) if n_key else None
        return text + (f" (n {int(n)})" if n is not None else "")

    def adjusted_cell(e):
        too_short = stat(e, "too_short")
        if isinstance(too_short, str):  # read back from CSV without dtypes
            too_short = too_short.strip().lower() == "true"
        if too_short and stat(e, "n_during") is not None:
            return f"too short for inference (n {int(stat(e, 'n_during'))})"
        return cell(e, "adjusted")

    level = f"{FR_CONFIDENCE:.0%}"
    rows = [
        f"| episode | start | end | business days | why | corr before [{level}] (n) "
        f"| corr during [{level}] (n) | adjusted (Forbes-Rigobon) [{level}] |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, e in top.iterrows():
        rows.append(
            f"| {e['name'] or '-'} | {e['start']} | {e['end']} | {e['business_days']} | {e['reason'] or '-'} "
            f"| {cell(e, 'before', 'n_before')} | {cell(e, 'during', 'n_during')} | {adjusted_cell(e)} |"
        )
    rows += episodes_count_note(len(episodes), int(measured.sum()))
    rows.append(
        "\nCorr before: the pair's last days before the episode that lie in no stress episode (a calm "
        f"baseline); intervals are Fisher z at {level} on n days. {FR_ASSUMPTIONS}"
    )
    return rows
