"""What DQ's calendar suggestion would change in each pair's correlation.

DQ suggests a calendar for a series whose rows fit another market's days much better than
its own (``dq.calendar_advice``: a London index left on the NYSE's default calendar). For
each such series and each configured pair holding it, the pair's clean levels are built
twice from the raw files by clean's own code (``corrflow.data.clean.clean_prices``: the
series on its calendar, currencies converted), once with the configured specs and once
with that series' ``calendar`` set to the suggestion (and the other leg's, when DQ
suggests one for it too: the advice followed, since a London-Frankfurt pair left on the
NYSE's days changes only when both legs leave them), and the pair's rolling Pearson
correlation at the primary window is computed on each with rolling_corr's function
(``pair_rolling_corr``: the pair's joint days). One row per
(series, pair), ``COLUMNS``: the days both versions have a value, the largest absolute
change (suggested minus current) and its date, the mean change and mean absolute change,
the change on the last common day, and whether the synchronised estimate appears or
disappears (rolling_corr's rule: ``is_asynchronous``, closes ``ASYNC_CLOSE_HOURS`` or
more apart on the pair's last day). No suggestion: a header-only CSV, without reading
the raw files.
"""

import csv
import io
import json
import logging
from pathlib import Path

logger = logging.getLogger("calendar_effect")

COLUMNS = [
    "series",
    "suggested_calendar",
    "current_calendar",
    "pair",
    "other_leg_calendar",  # the pair's other leg in the suggested version
    "other_leg_suggested",  # whether that is DQ's suggestion for it too
    "window",
    "days_compared",
    "max_abs_change",
    "max_change_date",
    "mean_change",
    "mean_abs_change",
    "last_common_day",
    "last_change",
    "synchronised",  # appears, disappears, kept or none (rolling_corr's :sync column)
    "closes_apart_hours",  # the pair's closes with the suggestion, on its last day
    "closes_apart_hours_current",
]


def suggestions(dq_report: dict) -> dict[str, str]:
    """Series id -> the calendar DQ suggests for it (dq_report.json's ``calendar_suggestion``)."""
    return {
        series_id: record["calendar_suggestion"]
        for series_id, record in dq_report.get("series", {}).items()
        if record.get("calendar_suggestion")
    }


def pair_specs(specs: list[dict], pair: list[str], base_currency: str) -> list[dict]:
    """The specs clean needs for one pair: its legs and the fx rates that convert them, in
    the configured order (the rest of the universe changes nothing on the pair's days)."""
    from corrflow.data.dq import conversion_rate

    needed = set(pair)
    for spec in specs:
        if spec["id"] in pair:
            rate = conversion_rate(spec, specs, base_currency)
            if rate:
                needed.add(rate)
    return [spec for spec in specs if spec["id"] in needed]


def pair_version(raw, specs, statuses, start, end, base_currency, max_gap_days, pair, window, origins=None):
    """One version of a pair: (its rolling correlation on clean's days, clean's metadata)."""
    from corrflow.analytics.correlation.rolling import pair_rolling_corr
    from corrflow.data.clean import clean_prices

    ids = {spec["id"] for spec in specs}
    rows = raw[raw["series"].isin(ids)]
    # clean's notes on the rows (days left out, ...) are in clean.log already: errors only here
    clean_logger = logging.getLogger("clean")
    level = clean_logger.level
    clean_logger.setLevel(logging.ERROR)
    try:
        levels, metadata = clean_prices(
            rows, specs, statuses, start, end, base_currency, max_gap_days, origins, pairs=[pair]
        )
    finally:
        clean_logger.setLevel(level)
    a, b = pair
    if a not in levels.columns or b not in levels.columns:
        return None, metadata
    return pair_rolling_corr(levels, metadata, a, b, window), metadata


def synchronised_change(current_meta: dict, suggested_meta: dict, a: str, b: str) -> tuple[str, float, float]:
    """(appears / disappears / kept / none, closes apart with the suggestion, closes apart now):
    rolling_corr's rule, on each version's calendars and the pair's last day."""
    import pandas as pd

    from corrflow.analytics.correlation.rolling_corr import is_asynchronous
    from corrflow.data.calendars import closes_apart_hours

    def hours(meta):
        calendars = [meta["series"][s]["calendar"] for s in (a, b)]
        return closes_apart_hours(calendars[0], calendars[1], meta.get("as_of"))

    from corrflow.analytics.panel import CleanPanel

    def asynchronous(meta) -> bool:  # the calendars and as-of day only: no levels needed
        return is_asynchronous(CleanPanel(pd.DataFrame(), meta), a, b)

    now, then = asynchronous(current_meta), asynchronous(suggested_meta)
    word = {(False, True): "appears", (True, False): "disappears", (True, True): "kept"}.get(
        (now, then), "none"
    )
    return word, hours(suggested_meta), hours(current_meta)


def effect_rows(
    raw,
    specs: list[dict],
    statuses: dict,
    suggested: dict[str, str],
    start: str,
    end: str,
    base_currency: str,
    max_gap_days: int,
    pairs: list[list[str]],
    window: int,
    origins: dict[str, str] | None = None,
) -> list[dict]:
    """One row (``COLUMNS``) per suggested series and configured pair holding it."""
    import numpy as np

    from corrflow.data.calendars import default_calendar

    by_id = {spec["id"]: spec for spec in specs}
    rows = []
    for series_id in by_id:  # in the configured order (dq_report.json's keys are sorted)
        calendar = suggested.get(series_id)
        if not calendar:
            continue
        for a, b in pairs:
            if series_id not in (a, b) or a == b:
                continue
            other = b if series_id == a else a
            # DQ's advice followed for the pair: the other leg's suggestion too, if it has
            # one (a London-Frankfurt pair moves only when both leave the NYSE's days)
            moved = {series_id: calendar} | ({other: suggested[other]} if other in suggested else {})
            legs = pair_specs(specs, [a, b], base_currency)
            versions = {
                name: pair_version(
                    raw, chosen, statuses, start, end, base_currency, max_gap_days, [a, b], window, origins
                )
                for name, chosen in (
                    ("current", legs),
                    (
                        "suggested",
                        [{**s, "calendar": moved[s["id"]]} if s["id"] in moved else s for s in legs],
                    ),
                )
            }
            (current, current_meta), (then, then_meta) = versions["current"], versions["suggested"]
            row = dict.fromkeys(COLUMNS)
            row |= {
                "series": series_id,
                "suggested_calendar": calendar,
                "current_calendar": default_calendar(by_id[series_id]),
                "pair": f"{a}-{b}",
                "other_leg_calendar": moved.get(other, default_calendar(by_id[other])),
                "other_leg_suggested": other in moved,
                "window": int(window),
                "days_compared": 0,
            }
            if current is not None and then is not None:
                both = (then - current.reindex(then.index)).dropna()
                if len(both):
                    largest = both.abs().idxmax()
                    row |= {
                        "days_compared": int(len(both)),
                        "max_abs_change": float(abs(both[largest])),
                        # no change at all has no date of its largest
                        "max_change_date": str(largest.date()) if both[largest] != 0 else None,
                        "mean_change": float(both.mean()),
                        "mean_abs_change": float(np.abs(both).mean()),
                        "last_common_day": str(both.index[-1].date()),
                        "last_change": float(both.iloc[-1]),
                    }
                word, hours_then, hours_now = synchronised_change(current_meta, then_meta, a, b)
                row |= {
                    "synchronised": word,
                    "closes_apart_hours": round(hours_then, 2),
                    "closes_apart_hours_current": round(hours_now, 2),
                }
            logger.info(
                "%s with `calendar: %s`: pair %s-%s changes by up to %s (%d common days); synchronised: %s",
                series_id,
                calendar,
                a,
                b,
                "n/a"
                if row["max_abs_change"] is None
                else f"{row['max_abs_change']:.3f} on {row['max_change_date'] or 'no day'}",
                row["days_compared"],
                row["synchronised"],
            )
            rows.append(row)
    return rows


def csv_text(rows: list[dict]) -> str:
    """The rows as CSV text (``COLUMNS``; an empty cell for no value; floats in full)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: "" if v is None else repr(v) if isinstance(v, float) else v for k, v in row.items()}
        )
    return out.getvalue()


def read_calendar_effect(path: str | Path) -> list[dict]:
    """calendar_effect.csv as records (numbers as floats, days_compared and window as ints,
    empty cells None); a file without the expected columns is refused in one line."""
    from corrflow.io import InputDataError

    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        absent = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if absent:
            raise InputDataError(
                f"{path}: lacks column(s) {absent}; rebuild it with `snakemake --forcerun calendar_effect`"
            )
        records = list(reader)
    numbers = {"max_abs_change", "mean_change", "mean_abs_change", "last_change"}
    numbers |= {"closes_apart_hours", "closes_apart_hours_current"}
    out = []
    for record in records:
        parsed = {}
        for key in COLUMNS:
            value = record[key]
            if value == "":
                parsed[key] = None
            elif key in numbers:
                parsed[key] = float(value)
            elif key in ("window", "days_compared"):
                parsed[key] = int(value)
            elif key == "other_leg_suggested":
                parsed[key] = value == "True"
            else:
                parsed[key] = value
        out.append(parsed)
    return out


def run(
    *,
    raw: list[str],
    ok: list[str],
    dq: str,
    series: list,
    start: str,
    end: str,
    base_currency: str,
    max_gap_days: int,
    pairs: list,
    window: int | None = None,
    out: str,
) -> None:
    """How each calendar DQ suggests would change its pairs' correlation (rule ``calendar_effect``).

    raw: raw source files (series,date,value), one per source
    ok: ingest status files (.ok), one per source
    dq: dq_report.json (its `calendar_suggestion` per series)
    series: JSON list of series specs
    window: the primary window
    out: calendar_effect.csv
    """
    from corrflow.io import ArgumentError, write_text_atomic

    if window is None or window < 2:
        raise ArgumentError("window", f"{window} is no window; give the primary window in days (e.g. 60)")
    suggested = suggestions(json.loads(Path(dq).read_text(encoding="utf-8")))
    suggested = {s: c for s, c in suggested.items() if any(s in pair for pair in pairs)}
    if not suggested:
        write_text_atomic(csv_text([]), out)
        logger.info("wrote %s: no calendar suggestion for a series of a configured pair", out)
        return
    import pandas as pd

    from corrflow.data.contracts import read_raw, read_statuses
    from corrflow.data.dates import resolve_end

    frames, origins = [], {}
    for path in raw:  # as clean reads them, so a bad file is named as clean names it
        frame = read_raw(path)
        origins.update({series_id: path for series_id in frame["series"].unique()})
        frames.append(frame)
    rows = effect_rows(
        pd.concat(frames, ignore_index=True),
        series,
        read_statuses(ok),
        suggested,
        start,
        resolve_end(end),
        base_currency,
        max_gap_days,
        pairs,
        window,
        origins,
    )
    write_text_atomic(csv_text(rows), out)
    logger.info("wrote %s: %d (series, pair) row(s)", out, len(rows))
