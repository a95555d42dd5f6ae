"""Data-quality checks on the raw files (task H), beside clean and features.

Per series, on its own market's calendar (``_calendars``): coverage (first/last date
against the configured ``start``/``end``: a series that starts late or ends early is a
named warning; sessions expected vs present), calendar (rows on days its market was
closed, e.g. a Saturday: clean leaves them out), history (fail under 2 values, warn
under a year of them), missing values (open days without a value) and the longest
gap, duplicated dates,
stale runs (the same value on ``stale_days`` or more observations in a row),
non-positive values of prices (clean leaves those days out), outliers (|daily log
return| with a robust z-score, median/MAD, above ``outlier_z``, listed with dates and
values) and the ingest level that served it. Writes docs/dq_report.md (summary table,
then details) and docs/dq_report.json;
with ``--stop-on-fail true`` (config ``dq.stop_on_fail``) any failed check then ends the
run with exit code 1 and the failures listed in the log.
"""

import json
import logging

import numpy as np
import pandas as pd

from corrflow.data.calendars import (
    TRADING_DAYS,  # a year of values
    calendar_fit,
    default_calendar,
    sessions,
)
from corrflow.data.contracts import read_raw, read_statuses
from corrflow.data.dates import resolve_end
from corrflow.data.robust import robust_centre_scale
from corrflow.data.sources.csv_format import UNADJUSTED_NOTE
from corrflow.io import (
    InputDataError,
    write_json_atomic,
    write_text_atomic,
)

logger = logging.getLogger("dq")

CHECKS = (
    "coverage",
    "calendar",
    "history",
    "missing",
    "duplicates",
    "stale",
    "non_positive",
    "outliers",
    "format",
    "level",
)
DATA_ERROR_FACTOR = 2.0  # a value x2 or /2 out and straight back: typed wrong (as the stress step's)
CALENDAR_ADVICE_MARGIN = 0.02  # another calendar fits the rows this much better: name it
# a yield at or below this (percent) held for days is the zero-bound explanation of a run of
# equal values (the Fed's 0-0.25 % target range); a run at 3.9 % in 1963 is not that
ZERO_BOUND = 0.25


def plural(count: int, noun: str) -> str:
    """ "1 weekday", "2 weekdays"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def longest_run(mask: np.ndarray) -> tuple[int, int]:
    """(length, start position) of the longest run of True."""
    best, best_start, run, start = 0, -1, 0, 0
    for i, flag in enumerate(mask):
        if flag:
            if run == 0:
                start = i
            run += 1
            if run > best:
                best, best_start = run, start
        else:
            run = 0
    return best, best_start


def coverage_notes(first, last, start: str | None, end: str | None, calendar: str) -> list[str]:
    """Named warnings for a series that starts late or ends early against start/end."""
    notes = []
    slack = 5  # sessions: a few days' publication lag is not a coverage problem
    if end is not None and last < pd.Timestamp(end):
        behind = len(sessions(calendar, last, end)) - 1
        if behind > slack:
            notes.append(
                f"ends early: last value {last.date()}, {behind} {calendar} sessions before `end` {end}"
            )
    if start is not None and first > pd.Timestamp(start):
        late = len(sessions(calendar, start, first)) - 1
        if late > slack:
            notes.append(
                f"starts late: first value {first.date()}, {late} {calendar} sessions after `start` {start}"
            )
    return notes


def missing_runs(missing_mask: np.ndarray, open_days: pd.DatetimeIndex, longer_than: int) -> list[dict]:
    """Every run of more than ``longer_than`` open days without a value: first, last, days."""
    runs, start = [], None
    for k, flag in enumerate(np.append(missing_mask, False)):
        if flag and start is None:
            start = k
        elif not flag and start is not None:
            if k - start > longer_than:
                first, last = open_days[start].date(), open_days[k - 1].date()
                runs.append({"from": str(first), "to": str(last), "days": k - start})
            start = None
    return runs


def calendar_advice(series_id: str, dates: pd.DatetimeIndex, calendar: str) -> tuple[str, str] | None:
    """A better-fitting calendar for the series' rows when one fits much better than its
    own (``_calendars.calendar_fit``): (its name, the advice in one line), else None."""
    # a fit is at most 1 (days in both over days in either), so when the own calendar fits
    # above 1 - margin no other can fit better by the margin: no advice, and no need for the
    # day lists of the 15 candidate calendars (~2 s of pandas_market_calendars per process).
    # The own fit as calendar_fit computes it.
    days = sessions(calendar, dates[0], dates[-1])
    own = len(dates.intersection(days)) / max(len(dates.union(days)), 1)
    if 1.0 - own < CALENDAR_ADVICE_MARGIN:
        return None
    fits = calendar_fit(dates, calendar)
    best = max(fits, key=fits.get)
    if best == calendar or fits[best] - fits[calendar] < CALENDAR_ADVICE_MARGIN:
        return None
    return (
        best,
        f"{series_id}'s rows match {best} on {fits[best]:.1%} of days, {calendar} on {fits[calendar]:.1%}: "
        f"set `calendar: {best}` in config key `series` ({series_id})",
    )


def series_checks(
    values: pd.Series,
    kind: str,
    status: str,
    stale_days: int,
    outlier_z: float,
    duplicates: int = 0,
    calendar: str = "NYSE",
    start: str | None = None,
    end: str | None = None,
    max_gap_days: int | None = None,
    series_id: str = "series",
    unpublished: pd.DatetimeIndex | None = None,
) -> dict:
    """All checks of one series; ``values`` on its raw dates (NaN = a row without a value).
    ``unpublished``: open days on which its source never publishes (the Fed's H.10 rates
    on US federal holidays); without a value there they are information, not missing."""
    valid = values.dropna()
    result: dict = {"kind": kind, "level": status, "rows": int(len(values)), "calendar": calendar}
    if valid.empty:
        result.update(first=None, last=None, checks={c: "n/a" for c in CHECKS} | {"level": "fail"})
        return result
    open_days = sessions(calendar, valid.index[0], valid.index[-1])
    never_published = pd.DatetimeIndex([])
    if unpublished is not None:
        never_published = open_days[open_days.isin(unpublished) & ~open_days.isin(valid.index)]
        open_days = open_days[~open_days.isin(never_published)]
    off_calendar = valid.index[~valid.index.isin(open_days)]
    present = int(valid.index.isin(open_days).sum())
    missing_mask = ~open_days.isin(valid.index)
    gap, gap_start = longest_run(missing_mask)
    unchanged = (valid.diff() == 0).to_numpy()
    stale_len, stale_start = longest_run(unchanged)
    stale_len = stale_len + 1 if stale_len else 0  # n equal differences = n + 1 equal values
    non_positive = valid[valid <= 0] if kind != "yield" else valid.iloc[0:0]
    outliers = []
    positive = valid[valid > 0]
    if kind in ("price", "fx", "level") and len(positive) > 10:
        ret = np.log(positive / positive.shift(1)).dropna()
        centre_scale = robust_centre_scale(ret.to_numpy())
        if centre_scale is not None:
            z = (ret - centre_scale[0]) / centre_scale[1]
            flagged = z.abs() > outlier_z
            for date in z.index[flagged]:
                position = positive.index.get_loc(date)
                k = z.index.get_loc(date)
                # one value out of line (a price typed x100): the move in and the opposite move
                # out both outliers of at least DATA_ERROR_FACTOR, the day before and the day
                # after agreeing (the rule of the stress step's likely data errors); a crash
                # that whipsaws by ~10 % is a market move
                back = False
                if k + 1 < len(z):
                    move_in, move_out = ret.iloc[k], ret.iloc[k + 1]
                    across = (move_in + move_out - centre_scale[0]) / centre_scale[1]
                    back = bool(
                        flagged.iloc[k + 1]
                        and move_in * move_out < 0
                        and min(abs(move_in), abs(move_out)) >= np.log(DATA_ERROR_FACTOR)
                        and abs(across) <= outlier_z
                    )
                previous_date = positive.index[position - 1]
                # a non-positive value between (WTI's -36.98) was left out: the return is from
                # the last positive value, which the report says
                skipped = valid[(valid.index > previous_date) & (valid.index < date) & (valid <= 0)]
                outliers.append(
                    {
                        "date": str(date.date()),
                        "value": float(positive.iloc[position]),
                        "previous": float(positive.iloc[position - 1]),
                        "previous_date": str(previous_date.date()),
                        "skipped_non_positive": [
                            {"date": str(d.date()), "value": float(v)} for d, v in skipped.items()
                        ],
                        "return": float(np.expm1(ret[date])),
                        "z": float(z[date]),
                        "likely_error": bool(back),
                    }
                )
    # the move straight back from a likely data error is that error's, not a market move
    for before, after in zip(outliers, outliers[1:], strict=False):
        if before["likely_error"] and after["previous_date"] == before["date"]:
            after["back_from"] = before["date"]
    notes = coverage_notes(valid.index[0], valid.index[-1], start, end, calendar)
    if status == "local":
        notes = [
            n + " (the file ends there: add the newer rows to it, or set `end`)"
            if n.startswith("ends early")
            else n
            for n in notes
        ]
    if status in ("snapshot", "cached"):
        # a snapshot or a cache ends where it was taken: nothing in the file to fix
        notes = [
            n + f" (the {'bundled snapshot' if status == 'snapshot' else 'local cache'} ends there; "
            "a live run with `offline: false` gets the newer days)"
            if n.startswith("ends early")
            else n
            for n in notes
        ]
    long_gaps = missing_runs(missing_mask, open_days, max_gap_days) if max_gap_days is not None else []
    suggestion, advice = (
        calendar_advice(series_id, valid.index, calendar) if len(off_calendar) or long_gaps else None
    ) or (None, None)
    result.update(
        {
            "first": str(valid.index[0].date()),
            "last": str(valid.index[-1].date()),
            "sessions_expected": int(len(open_days)),
            "sessions_present": present,
            "values": int(len(valid)),
            "coverage": present / len(open_days),
            "coverage_notes": notes,
            "off_calendar_rows": int(len(off_calendar)),
            "off_calendar_dates": [str(d.date()) for d in off_calendar[:5]],
            "weekend_rows": int((off_calendar.day_of_week >= 5).sum()),
            "missing_values": int(missing_mask.sum()),
            "blank_rows": int(values.isna().sum()),
            "longest_gap_days": gap,
            "longest_gap_from": str(open_days[gap_start].date()) if gap else None,
            "gaps_beyond_max": long_gaps,
            "max_gap_days": max_gap_days,
            "calendar_advice": advice,
            # the suggested calendar's name, for the steps that read it (calendar_effect)
            "calendar_suggestion": suggestion,
            "duplicated_dates": duplicates,
            "longest_stale_run": stale_len,
            # difference i compares value i with value i-1, so the run starts one value earlier
            "stale_from": str(valid.index[stale_start - 1].date()) if stale_len >= stale_days else None,
            "stale_value": float(valid.iloc[stale_start - 1]) if stale_len >= stale_days else None,
            "non_positive": [{"date": str(d.date()), "value": float(v)} for d, v in non_positive.items()],
            "outliers": outliers,
        }
    )
    if unpublished is not None:  # only where a source never publishes on some open days
        result["unpublished_days"] = int(len(never_published))
    # a run of equal values that reaches the last observation may be a feed that stopped
    # updating (worth a look); one inside the history is the source's own record (rates
    # held at the zero bound, prices quoted coarsely): information
    stale_at_end = stale_len >= stale_days and stale_start - 1 + stale_len == len(valid)
    result["stale_at_end"] = bool(stale_at_end)
    # in the user's own file such a run may be a spreadsheet's fill-down: worth a look
    # (rates held at the zero bound aside)
    result["stale_in_own_file"] = bool(
        status == "local"
        and stale_len >= stale_days
        and not stale_at_end
        and not (kind == "yield" and abs(result["stale_value"]) <= ZERO_BOUND)
    )
    share_missing = result["missing_values"] / max(len(open_days), 1)
    result["checks"] = {
        # a series that starts after `start` (its history begins later) or a served snapshot is
        # information: nothing the user can act on; one that ends early or has holes is a warning
        "coverage": (
            "fail"
            if result["coverage"] < 0.8
            else (
                "warn"
                if result["coverage"] < 0.95
                or any(not n.startswith("starts late") and "a live run" not in n for n in notes)
                else "info"
                if notes
                else "pass"
            )
        ),
        # real prints on days the calendar lists as holidays (a holiday applied before it
        # existed) are information; weekend rows on a weekday calendar, or a calendar that
        # another fits much better, are warnings
        "calendar": ("warn" if advice or result["weekend_rows"] else "info" if len(off_calendar) else "pass"),
        "history": "fail" if len(valid) < 2 else ("warn" if len(valid) < TRADING_DAYS else "pass"),
        "missing": (
            "warn"
            if share_missing > 0.01 or gap > 5 or long_gaps
            else "info"
            if len(never_published)
            else "pass"
        ),
        "duplicates": "pass" if duplicates == 0 else "fail",
        "stale": (
            "pass"
            if stale_len < stale_days
            else "warn"
            if stale_at_end or result["stale_in_own_file"]
            else "info"
        ),
        # clean leaves such a day out (a log return is undefined there): a warning, not a stop
        "non_positive": "pass" if non_positive.empty else "warn",
        # a likely typing error is worth a look; real market moves (a crash day) are information
        "outliers": (
            "pass" if not outliers else "warn" if any(o["likely_error"] for o in outliers) else "info"
        ),
        "format": "pass",  # set from ingest's notes on the source file (quality_report)
        # the bundled snapshot and the cache are what an offline run is for: information
        "level": {"fresh": "pass", "local": "pass", "cached": "info", "snapshot": "info"}.get(status, "fail"),
    }
    return result


def conversion_rate(spec: dict, specs: list[dict], base_currency: str) -> str | None:
    """The fx series clean converts a price with (``clean.convert_currency``'s choice), or None."""
    currency = spec.get("currency", base_currency)
    if spec["kind"] != "price" or currency == base_currency or spec.get("local_currency"):
        return None
    fx = {(s.get("base"), s.get("currency")): s["id"] for s in specs if s["kind"] == "fx"}
    return fx.get((currency, base_currency)) or fx.get((base_currency, currency))


def note_conversion_ends(series: dict, specs: list[dict], by_series: dict, base_currency: str) -> None:
    """A price converted with an fx rate that ends before it: its closes after the rate's
    end are dropped by clean, so the converted series ends with the rate, not its file.
    Named on the price's coverage (a warning: extending the rate keeps them)."""
    for spec in specs:
        rate_id = conversion_rate(spec, specs, base_currency)
        own, rate = series.get(spec["id"], {}), series.get(rate_id or "", {})
        if rate_id is None or not own.get("last") or not rate.get("last") or own["last"] <= rate["last"]:
            continue
        rows = by_series[spec["id"]]
        dates = pd.DatetimeIndex(rows["date"][rows["value"].notna().to_numpy()])
        # the closes clean would keep: on its market's open days after the rate's last value
        open_days = sessions(own["calendar"], rate["last"], own["last"])
        after = int(dates[dates > pd.Timestamp(rate["last"])].isin(open_days).sum())
        own["ends_with_rate"] = {"rate": rate_id, "rate_last": rate["last"], "dropped": after}
        own.setdefault("coverage_notes", []).append(
            f"converted to {base_currency} with {rate_id}, which ends on {rate['last']}: its {after} "
            f"close(s) after that (to {own['last']}) are dropped by clean, so the converted series "
            f"ends on {rate['last']}; extend {rate_id}'s data or set `local_currency: true`"
        )
        own["checks"]["coverage"] = "warn" if own["checks"]["coverage"] != "fail" else "fail"


def is_h10_rate(spec: dict) -> bool:
    """A FRED fx rate of the Fed's H.10 release (DEXUSUK, DEXUSEU, DEXJPUS, ...)."""
    return spec.get("source") == "fred" and str(spec.get("symbol", spec["id"])).startswith("DEX")


def fed_holidays(dates: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """US federal holidays as the Federal Reserve keeps them (H.10 publishes no rate on
    them): one falling on a Sunday is kept the Monday after; one on a Saturday is not
    moved to the Friday before (the Reserve Banks are open that Friday)."""
    from pandas.tseries.holiday import (
        AbstractHolidayCalendar,
        Holiday,
        USFederalHolidayCalendar,
        sunday_to_monday,
    )

    if not len(dates):
        return pd.DatetimeIndex([])

    class FedHolidays(AbstractHolidayCalendar):
        rules = [
            Holiday(
                rule.name,
                month=rule.month,
                day=rule.day,
                offset=rule.offset,
                observance=sunday_to_monday if rule.observance is not None else None,
                start_date=rule.start_date,
                end_date=rule.end_date,
            )  # fmt: skip
            for rule in USFederalHolidayCalendar.rules
        ]

    return FedHolidays().holidays(dates.min(), dates.max() + pd.Timedelta(days=7))


def percent_text(fraction: float) -> str:
    """A return as a percentage of sane width: +12.3 %, or +1.00e+310 % for a 1e308 jump."""
    if not abs(fraction) >= 1e6:  # below 100 million per cent, and nan
        return f"{fraction:+.1%}"
    if np.isinf(fraction):
        return f"{fraction:+}%"
    mantissa, exponent = f"{fraction:+.2e}".split("e")
    return f"{mantissa}e{int(exponent) + 2:+d}%"


def number_text(value: float, spec: str = "g") -> str:
    """A table's number in at most about 12 characters (``spec`` when it fits, else .3g)."""
    text = format(value, spec)
    return text if len(text) <= 12 else format(value, "+.3g" if spec.startswith("+") else ".3g")


def quality_report(
    raw: pd.DataFrame,
    specs: list[dict],
    statuses: dict,
    stale_days: int,
    outlier_z: float,
    start: str | None = None,
    end: str | None = None,
    max_gap_days: int | None = None,
    pairs: list[list[str]] | None = None,
    base_currency: str | None = None,
) -> dict:
    series = {}
    # one grouping, not a scan of every row per series (1,000 series: seconds, not half a minute)
    by_series = dict(iter(raw.groupby("series", sort=False))) if len(raw) else {}
    for spec in specs:
        rows = by_series.get(spec["id"], raw.iloc[:0])
        duplicates = int(rows.duplicated("date").sum())
        values = pd.Series(rows["value"].to_numpy(), index=pd.DatetimeIndex(rows["date"])).sort_index()
        values = values[~values.index.duplicated(keep="last")]
        ingest_status = statuses.get(spec["id"], {})
        status = ingest_status.get("status", "missing")
        result = series_checks(
            values,
            spec["kind"],
            status,
            stale_days,
            outlier_z,
            duplicates,
            default_calendar(spec),
            start,
            end,
            max_gap_days,
            spec["id"],
            unpublished=fed_holidays(values.index) if is_h10_rate(spec) else None,
        )
        result["pairs"] = [f"{a}-{b}" for a, b in pairs or [] if spec["id"] in (a, b)]
        result["origin"] = ingest_status.get("origin")
        result["column"] = ingest_status.get("column")
        result["live_attempts"] = ingest_status.get("attempts", 0)
        result["live_error"] = ingest_status.get("last_error")
        result["refused"] = ingest_status.get("refused", [])
        result["source_notes"] = ingest_status.get("notes", [])
        if result["checks"]["format"] != "n/a":
            # a warning only where the user has something to do (unadjusted closes); what
            # was handled (a byte-order mark, rows sorted, times of day, Yahoo's null markers,
            # an encoding, revisions accepted) is information
            worth_a_look = [n for n in result["source_notes"] if n.startswith(UNADJUSTED_NOTE)]
            result["checks"]["format"] = (
                "warn" if worth_a_look else "info" if result["source_notes"] else "pass"
            )
        series[spec["id"]] = result
    if base_currency:
        note_conversion_ends(series, specs, by_series, base_currency)
    return {
        "thresholds": {"stale_days": stale_days, "outlier_z": float(outlier_z), "max_gap_days": max_gap_days},
        "requested": {"start": start, "end": end},
        "series": series,
    }


def render_markdown(report: dict) -> str:
    marks = {"pass": "pass", "info": "info", "warn": "**warn**", "fail": "**FAIL**", "n/a": "n/a"}
    lines = [
        "# Data-quality report",
        "",
        f"Checks on the raw files (before cleaning). Thresholds: stale run >= "
        f"{report['thresholds']['stale_days']} equal values; outlier |robust z| > "
        f"{report['thresholds']['outlier_z']}.",
        "The level check says which ingest level served the series: pass for a live download or a "
        "local file, info for the local cache or the bundled snapshot, fail when nothing could. "
        "info marks what is worth knowing but needs no action (a history that starts after `start`, "
        "a snapshot that ends before `end`, prints on days the calendar lists as closed, equal values "
        "inside the history, market moves the market did not take back); warn what the user can act "
        "on (a value out and straight back, a feed that stopped, an fx rate that ends first, a better "
        "calendar). "
        "Coverage and missing values are counted on each series' own market calendar.",
        "",
        "| series | " + " | ".join(CHECKS) + " |",
        "|---|" + "---|" * len(CHECKS),
    ]
    for series_id, r in report["series"].items():
        cells = [marks[r["checks"][c]] + (f" ({r['level']})" if c == "level" else "") for c in CHECKS]
        lines.append(f"| {series_id} | " + " | ".join(cells) + " |")
    lines += ["", "## Details", ""]
    for series_id, r in report["series"].items():
        served = r.get("origin") or r["level"]
        column = f", column {r['column']!r}" if r.get("column") else ""
        lines.append(
            f"### {series_id} ({r['kind']}, {r.get('calendar', '-')} calendar, from: {served}{column})"
        )
        lines.append("")
        for note in r.get("source_notes", []):
            lines.append(f"- source file: {note}")
        for reason in r.get("refused", []):
            lines.append(f"- live download refused: {reason}")
        for note in r.get("coverage_notes", []):
            lines.append(f"- **{note}**")
        if r.get("calendar_advice"):
            lines.append(f"- **calendar: {r['calendar_advice']}**")
        if r.get("off_calendar_rows"):
            weekend = f" ({r['weekend_rows']} on a weekend)" if r.get("weekend_rows") else ""
            why = (
                "another calendar fits better (above)"
                if r.get("calendar_advice")
                else (
                    "check the file's dates (weekend rows on a weekday calendar)"
                    if r.get("weekend_rows")
                    else f"prints on days {r['calendar']} lists as closed: its own market traded then"
                    # the NYMEX example only where it is the reason (WTI on an NYSE calendar)
                    + (
                        " (WTI on NYMEX trades on some NYSE holidays)"
                        if "WTI" in series_id.upper() and r["calendar"] == "NYSE"
                        else ""
                    )
                    + " or the holiday was applied before it existed; nothing to fix unless its "
                    "`calendar:` is wrong"
                )
            )
            lines.append(
                f"- {r['off_calendar_rows']} row(s) on days its market was closed{weekend}, first "
                f"{', '.join(r['off_calendar_dates'])}: left out by clean; {why}"
            )
        for run in r.get("gaps_beyond_max", []):
            pairs = ", ".join(r.get("pairs", [])) or "none configured"
            lines.append(
                f"- **no value on {run['days']} open {r['calendar']} days {run['from']}..{run['to']}, "
                f"more than `clean.max_gap_days: {r['max_gap_days']}`: the return across is missing, "
                f"so its pairs ({pairs}) have no value for a window's length of days after; if these "
                f"were its market's holidays set its `calendar:`, else raise `clean.max_gap_days` or "
                f"fill the file**"
            )
        if r.get("live_error"):
            lines.append(f"- live download failed after {r['live_attempts']} attempt(s): {r['live_error']}")
        if r.get("first") is None:
            lines += ["No data at any level.", ""]
            continue
        lines.append(
            f"- coverage: {r['first']} .. {r['last']}, {r['sessions_present']} of "
            f"{r['sessions_expected']} {r['calendar']} sessions ({r['coverage']:.1%})"
        )
        gap = (
            f", longest gap {plural(r['longest_gap_days'], 'weekday')} from {r['longest_gap_from']}"
            if r["longest_gap_days"]
            else ""
        )
        lines.append(
            f"- missing values: {r['missing_values']} open day(s) without a value ({r['blank_rows']} blank "
            f"row(s) in the file){gap}"
        )
        if r.get("unpublished_days"):
            lines.append(
                f"- {r['unpublished_days']} US federal holiday(s) without a value: the Fed's H.10 rates "
                f"are never published on them, so they are not counted as missing"
            )
        lines.append(f"- duplicated dates: {r['duplicated_dates']}")
        stale = f" from {r['stale_from']}" if r["stale_from"] else ""
        why_stale = ""
        if r["stale_from"]:
            why_stale = (
                ": it reaches the last value, so the source may have stopped updating; check it"
                if r.get("stale_at_end")
                else ": inside your file's history; check that those days were not filled forward from "
                "the last value (a spreadsheet's fill-down), nothing to fix if the market printed it"
                if r.get("stale_in_own_file")
                else ": inside the source's history ("
                + (
                    "rates held at the zero bound"
                    if r["kind"] == "yield"
                    and r.get("stale_value") is not None
                    and abs(r["stale_value"]) <= ZERO_BOUND
                    else "the source printed the same value on those days"
                )
                + "), nothing to fix"
            )
        lines.append(f"- longest run of equal values: {r['longest_stale_run']}{stale}{why_stale}")
        if r["non_positive"]:
            first = r["non_positive"][0]
            lines.append(
                f"- non-positive values: {len(r['non_positive'])}, first {number_text(first['value'])} on "
                f"{first['date']}: "
                "a log return is undefined there, so clean leaves the day out (the next return is "
                "taken from the value before it, within `clean.max_gap_days`). What to do: nothing "
                "if it is a real print (as WTI crude oil below zero on 2020-04-20); if it "
                "is an error, correct the source (a csv series' file) or drop the series from `series`"
            )
        if r["outliers"]:
            errors = sum(bool(o.get("likely_error")) for o in r["outliers"])
            lines.append(
                f"- outliers ({len(r['outliers'])}; "
                + (
                    f"{errors} likely data error(s): a move out and straight back, check the file"
                    if errors
                    else "each a move the market did not take back: real, nothing to fix"
                )
                + "):"
            )
            lines.append("")
            lines.append("  | date | previous | value | return | robust z | reading |")
            lines.append("  |---|---|---|---|---|---|")
            for o in r["outliers"]:
                reading = (
                    "likely data error"
                    if o.get("likely_error")
                    else "back from error"  # the row above: the likely error it undoes
                    if o.get("back_from")
                    else "market move"
                )
                previous = number_text(o["previous"])
                if o.get("skipped_non_positive"):
                    left_out = ", ".join(
                        f"{number_text(v['value'])} on {v['date']}" for v in o["skipped_non_positive"]
                    )
                    previous += f" (of {o['previous_date']}: the {left_out} is not positive, left out)"
                lines.append(
                    f"  | {o['date']} | {previous} | {number_text(o['value'])} | "
                    f"{percent_text(o['return'])} | {number_text(o['z'], '+.1f')} | {reading} |"
                )
        lines.append("")
    return "\n".join(lines)


def run(
    *,
    raw: list[str],
    ok: list[str],
    series: list,
    start: str | None = None,
    end: str | None = None,
    stale_days: int,
    max_gap_days: int,
    pairs: list,
    outlier_z: float,
    stop_on_fail: bool,
    base_currency: str | None = None,
    md: str,
    json_path: str,
) -> None:
    """Data-quality report of the raw files (rule ``dq``).

    raw: raw source files (series,date,value)
    ok: ingest status files (.ok)
    series: JSON list of series specs
    start: configured start (coverage check)
    end: configured end (coverage check)
    md: docs/dq_report.md
    json_path: docs/dq_report.json
    """
    end = resolve_end(end) if end else end
    raw = pd.concat([read_raw(p, allow_duplicates=True) for p in raw], ignore_index=True)
    report = quality_report(
        raw,
        series,
        read_statuses(ok),
        stale_days,
        outlier_z,
        start,
        end,
        max_gap_days,
        pairs,
        base_currency,
    )
    write_json_atomic(report, json_path)
    write_text_atomic(render_markdown(report) + "\n", md)
    flagged = {
        s: [c for c, v in r["checks"].items() if v not in ("pass", "info")]
        for s, r in report["series"].items()
    }
    logger.info("wrote %s and %s; flags %s", md, json_path, json.dumps(flagged))
    failed = {s: [c for c, v in r["checks"].items() if v == "fail"] for s, r in report["series"].items()}
    failed = {s: checks for s, checks in failed.items() if checks}
    if failed and stop_on_fail:
        for series_id, checks in failed.items():
            logger.error("%s failed: %s", series_id, ", ".join(checks))
        raise InputDataError(
            f"dq: data-quality checks failed ({json.dumps(failed)}) and config key "
            "`dq.stop_on_fail` is true; "
            "details above in this log; fix the data, or set dq.stop_on_fail: false to carry on "
            "with warnings"
        )
