"""Clean the raw series and lay them on their markets' trading calendars (task B).

Calendars come from a maintained library (``_calendars``: NYSE for equities, ETFs and
indices, SIFMA US for Treasury yields, 24/5 for fx by default; a series' ``calendar:``
key names any of the library's, e.g. XTKS for Tokyo or 24/7 for crypto), never from the
data. The frame's days are the union of the series'
sessions from ``start`` to ``end`` (clipped to the data); each series holds the value
it published on that day and NaN where it published none or its market was closed.
Nothing is forward filled: a return across a closure or a short gap spans it (see
``_returns``), so no flat return is ever made up, and a series that ends early changes
no other series' days.

Per series the checks by kind (errors name the file, date and fix): a yield must be in
percent (not decimals, not a mix) and must look like a level (a file of daily changes
declared as a yield is refused); a price, fx rate or level (VIX) at or below zero has
no log return: that day is left out, recorded and flagged by DQ (WTI's -36.98 on
2020-04-20); an
observation on a day its market was closed (a Saturday row, a holiday) is left out and
counted (DQ flags it). A price in a currency other than the base is converted with an
fx series of the universe (unless ``local_currency``); a rate whose level contradicts its
declared direction for a major currency is refused. The metadata records per series its
calendar, its currency and what it was converted from, where it came
from (``origin``), the file column used, first/last date and staleness against the
as-of date (``as_of``: the latest day on which any configured pair has both values;
``pairs_last`` gives each pair's); ``data_through`` is the last date every served
series has reached.

CLI:
    corrflow clean --raw data/raw/fred.csv data/raw/yahoo.csv \
        --ok data/raw/fred.ok data/raw/yahoo.ok --series "$(python -c ...)" \
        --start 1990-01-02 --end 2026-06-30 --out data/processed/clean.parquet
"""

import logging

import numpy as np
import pandas as pd

from corrflow.data.calendars import check_calendar, closed_days, default_calendar, sessions
from corrflow.data.contracts import read_raw, read_statuses, write_parquet
from corrflow.data.dates import resolve_end
from corrflow.io import (
    InputDataError,
)

logger = logging.getLogger("clean")

YIELD_BOUNDS_PERCENT = (-5.0, 30.0)
STALE_SESSIONS = 5  # a series this many of its sessions behind the as-of date is stale


def validate_series(series_id: str, values: pd.Series, spec: dict, origin: str) -> None:
    """Plausibility checks by kind; a failure is schema drift the user must look at."""
    valid = values.dropna()
    if spec["kind"] in ("price", "fx", "level") and len(valid) > 20:
        # a level is positive (WTI's one negative day aside): many signs mean daily returns
        negative_share = float((valid < 0).mean())
        if negative_share > 0.2:
            raise InputDataError(
                f"{origin}: {spec['kind']} series {series_id!r} looks like daily returns, not levels: "
                f"{negative_share:.0%} of its values are negative, median size {valid.abs().median():.4g}; "
                "supply the prices themselves (e.g. adjusted closes) or an index built from the returns"
            )
    if spec["kind"] == "yield" and len(valid):
        low, high = YIELD_BOUNDS_PERCENT
        negative_share = float((valid < 0).mean())
        persistence = valid.autocorr(1) if len(valid) > 20 else 1.0
        if len(valid) > 20 and negative_share > 0.2 and not persistence > 0.5:
            raise InputDataError(
                f"{origin}: yield series {series_id!r} looks like daily changes, not a level: "
                f"{negative_share:.0%} of values are negative, mean {valid.mean():+.3f}, day-to-day "
                f"autocorrelation {persistence:.2f} (a yield level is near 1); supply the yield itself in "
                f"percent (e.g. FRED DGS10), or give the series another kind"
            )
        if valid.abs().median() < 0.5 and valid.abs().max() < 0.3:
            raise InputDataError(
                f"{origin}: yield series {series_id!r} looks like decimals (median {valid.median():.4f}); "
                f"yields must be in percent like FRED (7.94, not 0.0794) - multiply the file by 100"
            )
        # a decimal next to a percent value (0.0502 after 5.01) means two units in one file
        ratio = (valid / valid.shift(1)).abs()
        mixed = ((ratio > 20) | (ratio < 1 / 20)) & (np.minimum(valid.abs(), valid.shift(1).abs()) < 0.3)
        mixed &= np.maximum(valid.abs(), valid.shift(1).abs()) >= 1.0
        if mixed.any():
            day = mixed.index[np.argmax(mixed.to_numpy())]
            position = valid.index.get_loc(day)
            raise InputDataError(
                f"{origin}: yield series {series_id!r} jumps from {valid.iloc[position - 1]} to "
                f"{valid.iloc[position]} on {day.date()}: decimals mixed with percent; "
                f"give every value in percent like FRED (7.94, not 0.0794)"
            )
        outside = valid[(valid < low) | (valid > high)]
        if len(outside):
            raise InputDataError(
                f"{origin}: yield series {series_id!r} has {len(outside)} value(s) outside {low}..{high} %, "
                f"first {outside.iloc[0]} on {outside.index[0].date()}; check the series id and units"
            )


MIN_PAIR_VALUES = 3  # the shortest window (2) correlates 2 returns: 3 values


def check_pair_history(series_id: str, values: pd.Series, pairs: list[list[str]], where: str) -> None:
    """A series of a configured pair with too few values for any correlation is a cut or
    wrong file, not a pair to skip in silence."""
    in_pairs = [f"{a}-{b}" for a, b in pairs if series_id in (a, b)]
    if in_pairs and len(values) < MIN_PAIR_VALUES:
        raise InputDataError(
            f"{where}: series {series_id!r} has only {len(values)} values ({values.index[0].date()}.."
            f"{values.index[-1].date()}), too few for any correlation of pair {', '.join(in_pairs)} (at "
            f"least {MIN_PAIR_VALUES}); supply its whole history or remove the pair from config key "
            "`correlation.pairs`"
        )


# plausible units of each major currency per one US dollar since 1950 (wide: a rate far
# outside both this range and its inverse is left to the user; one inside only the
# inverse is a rate declared the wrong way round)
UNITS_PER_USD = {
    "JPY": (60.0, 400.0),
    "EUR": (0.55, 1.25),
    "GBP": (0.2, 1.0),
    "CHF": (0.6, 4.5),
    "CAD": (0.85, 1.75),
    "AUD": (0.6, 2.2),
    "CNY": (1.4, 9.5),
}


def check_fx_direction(rate_id: str, rate: pd.Series, spec: dict, where: str = "clean") -> None:
    """Refuse an fx series whose level contradicts its declared direction (``base`` and
    ``currency``: units of currency per one base) for a major currency against USD."""
    base, quote = spec.get("base"), spec.get("currency")
    if "USD" not in (base, quote) or base == quote:
        return
    other = quote if base == "USD" else base
    if other not in UNITS_PER_USD:
        return
    low, high = UNITS_PER_USD[other]
    values = rate.dropna()
    if not len(values):
        return
    units_per_usd = values if base == "USD" else 1.0 / values
    inside = float(((units_per_usd >= low) & (units_per_usd <= high)).mean())
    inverse = float(((1.0 / units_per_usd >= low) & (1.0 / units_per_usd <= high)).mean())
    if inside < 0.5 and inverse >= 0.9:
        raise InputDataError(
            f"{where}: fx series {rate_id!r} is declared as {quote} per one {base} (base: {base}, "
            f"currency: {quote}) but its values (median {values.median():.4g}) are {base} per one {quote}; "
            f"swap them in config key `series` ({rate_id}): base: {quote}, currency: {base}"
        )


def convert_currency(
    frame: pd.DataFrame, specs: list[dict], base_currency: str
) -> tuple[pd.DataFrame, dict[str, dict]]:
    """Convert every price series quoted in another currency into the base currency.

    An fx series (kind fx) with ``base: B`` and ``currency: Q`` gives units of Q per one B
    (FRED DEXUSEU: base EUR, currency USD; DEXJPUS: base USD, currency JPY). A price in C
    is multiplied by a C->base rate (base C, currency base) or divided by base->C, on the
    days both have a value. A series with ``local_currency: true`` keeps its own currency.
    Returns the frame and per converted series {"from": C, "with": rate id}.
    """
    fx_specs = [s for s in specs if s["kind"] == "fx" and s["id"] in frame]
    for spec in fx_specs:
        check_fx_direction(spec["id"], frame[spec["id"]], spec)
    fx = {(s["base"], s["currency"]): s["id"] for s in fx_specs}
    out = frame.copy()
    converted = {}
    for spec in specs:
        ccy = spec.get("currency", base_currency)
        if (
            spec["kind"] != "price"
            or ccy == base_currency
            or spec["id"] not in frame
            or spec.get("local_currency")
        ):
            continue
        if (ccy, base_currency) in fx:
            rate_id = fx[(ccy, base_currency)]
            out[spec["id"]] = frame[spec["id"]] * frame[rate_id]
        elif (base_currency, ccy) in fx:
            rate_id = fx[(base_currency, ccy)]
            out[spec["id"]] = frame[spec["id"]] / frame[rate_id]
        else:
            raise InputDataError(
                f"clean: series {spec['id']!r} is in {ccy} but the universe has no fx series to "
                "convert it to "
                f"{base_currency}; add one to config key `series` (kind: fx, base: {ccy}, currency: "
                f"{base_currency}, e.g. FRED DEXUSEU for EUR), or set `local_currency: true` to keep "
                f"it in {ccy}"
            )
        converted[spec["id"]] = {"from": ccy, "with": rate_id} | conversion_losses(
            spec["id"], frame[spec["id"]], rate_id, frame[rate_id]
        )
        logger.info("%s: converted from %s to %s with %s", spec["id"], ccy, base_currency, rate_id)
    return out, converted


def conversion_losses(price_id: str, price: pd.Series, rate_id: str, rate: pd.Series) -> dict:
    """What a conversion drops: the price's closes on days its rate has no value, and
    those after the rate's last value (the converted series then ends where the rate ends,
    not where its own file does: the cause named, in the log and in the metadata)."""
    observed = price.dropna()
    lost = observed.index[rate.reindex(observed.index).isna().to_numpy()]
    rate_last = rate.last_valid_index()
    after_end = lost[lost > rate_last] if rate_last is not None else lost
    losses = {
        "own_last": str(observed.index[-1].date()) if len(observed) else None,
        "rate_last": str(rate_last.date()) if rate_last is not None else None,
        "dropped_without_rate": int(len(lost)),
        "dropped_after_rate_end": int(len(after_end)),
    }
    if len(after_end):
        logger.warning(
            "%s: %d closes after %s dropped (%s .. %s): its fx rate %s ends on %s; extend %s's data "
            "(or set `local_currency: true`) to keep them",
            price_id,
            len(after_end),
            losses["rate_last"],
            after_end[0].date(),
            after_end[-1].date(),
            rate_id,
            losses["rate_last"],
            rate_id,
        )
    if len(lost) > len(after_end):
        logger.info(
            "%s: %d closes on days %s has no value dropped in conversion",
            price_id,
            len(lost) - len(after_end),
            rate_id,
        )
    return losses


def origin_label(status: dict, source: str | None) -> str:
    """Where a series came from, in words (ingest's own label when it wrote one)."""
    if status.get("origin"):
        return status["origin"]
    level = status.get("status", "missing")
    if level == "local" or (level == "fresh" and source == "csv"):
        return f"local file {status.get('path') or ''}".strip()
    if level == "fresh":
        return {"fred": "live FRED", "yahoo": "live Yahoo"}.get(source, f"live {source}")
    if level == "cached":
        day = (status.get("downloaded_at") or "")[:10]
        return f"cache (downloaded {day})" if day else "cache"
    return {"snapshot": "offline snapshot", "missing": "missing"}.get(level, level)


def on_calendar(values: pd.Series, calendar_days: pd.DatetimeIndex) -> tuple[pd.Series, pd.DatetimeIndex]:
    """The observations on days the market was open, and the dates of the others."""
    inside = values.index.isin(calendar_days)
    return values[inside], values.index[~inside]


def check_universe(raw: pd.DataFrame, specs: list[dict]) -> dict[str, str]:
    """Every raw series is configured and every calendar known: each series' calendar."""
    by_id = {s["id"] for s in specs}
    unknown = sorted(set(raw["series"].unique()) - by_id)
    if unknown:
        raise InputDataError(
            f"clean: raw data has series {unknown} that config key `series` does not list; "
            f"re-run ingest after changing the universe (snakemake -R ingest)"
        )
    calendar_of = {s["id"]: default_calendar(s) for s in specs}
    for series_id, calendar in calendar_of.items():
        try:
            check_calendar(calendar, f"config key `series` ({series_id}): calendar")
        except ValueError as error:
            raise InputDataError(str(error)) from None
    return calendar_of


def series_on_its_calendar(
    series_id: str, rows: pd.DataFrame, spec: dict, calendar: str, where: str, pairs: list[list[str]]
) -> tuple[pd.Series | None, dict]:
    """One raw series checked (``validate_series``) and laid on its calendar: its values
    on the days its market was open and positive where a log return needs it (None when
    it has none), and what was left out (days its market was closed, non-positive values)."""
    values = pd.Series(rows["value"].to_numpy(), index=pd.DatetimeIndex(rows["date"]), name=series_id)
    values = values.sort_index().dropna()
    validate_series(series_id, values, spec, where)
    if values.empty:
        return None, {}
    if len(values) < 2:
        raise InputDataError(
            f"{where}: series {series_id!r} has a single value ({values.index[0].date()}: "
            f"{values.iloc[0]}); "
            "a return needs at least two - supply its whole history or remove it from config "
            "key `series`"
        )
    check_pair_history(series_id, values, pairs, where)
    open_days = sessions(calendar, values.index[0], values.index[-1])
    values, off_calendar = on_calendar(values, open_days)
    # log returns (prices, fx) and log changes (levels such as VIX) need positive values
    non_positive = values[values <= 0] if spec["kind"] != "yield" else values.iloc[0:0]
    if len(off_calendar):
        logger.warning(
            "%s: %d observation(s) on days its market (%s) was closed left out, first %s",
            series_id,
            len(off_calendar),
            calendar,
            off_calendar[0].date(),
        )
    if len(non_positive):
        logger.warning(
            "%s: %d non-positive value(s) left out (a log return is undefined there), first %s on %s",
            series_id,
            len(non_positive),
            non_positive.iloc[0],
            non_positive.index[0].date(),
        )
    values = values[~values.index.isin(non_positive.index)]
    left_out = {
        "off_calendar_observations": len(off_calendar),
        "off_calendar_dates": [str(d.date()) for d in off_calendar[:10]],
        "non_positive": [{"date": str(d.date()), "value": float(v)} for d, v in non_positive.items()],
    }
    return values, left_out


def union_frame(
    levels: dict[str, pd.Series], specs: list[dict], calendar_of: dict[str, str], start: str, end: str
) -> tuple[pd.DataFrame, list[str]]:
    """The series on the union of their calendars' sessions from start to end (clipped to
    the data), in the configured order; and the calendars used."""
    first = max(pd.Timestamp(start), min(s.index[0] for s in levels.values()))
    last = min(pd.Timestamp(end), max(s.index[-1] for s in levels.values()))
    used_calendars = sorted({calendar_of[s] for s in levels})
    days = sessions(used_calendars[0], first, last)
    for name in used_calendars[1:]:
        days = days.union(sessions(name, first, last))
    frame = pd.DataFrame(
        {s["id"]: levels[s["id"]].reindex(days) for s in specs if s["id"] in levels}, index=days
    )
    frame.index.name = "date"
    return frame, used_calendars


def as_of_dates(frame: pd.DataFrame, pairs: list[list[str]]) -> tuple[pd.Timestamp, dict, pd.Timestamp]:
    """(as of: the latest day any configured pair has both values, each pair's last day,
    data through: the last day every series has reached)."""
    last_of = {sid: frame[sid].last_valid_index() for sid in frame.columns}
    pairs_last = {
        f"{a}-{b}": frame[[a, b]].dropna().last_valid_index()
        for a, b in pairs
        if a in frame.columns and b in frame.columns
    }
    pairs_last = {name: day for name, day in pairs_last.items() if day is not None}
    as_of = max(pairs_last.values(), default=max(v for v in last_of.values() if v is not None))
    data_through = min(v for v in last_of.values() if v is not None)
    return as_of, pairs_last, data_through


def series_metadata(
    spec: dict,
    status: dict,
    frame: pd.DataFrame,
    calendar: str,
    left_out: dict,
    converted: dict,
    base_currency: str,
    as_of: pd.Timestamp,
    last: pd.Timestamp,
) -> dict:
    """What later tasks read of one series: where it came from, its calendar and
    currency, what clean left out, and its coverage and staleness against the as-of date."""
    sid = spec["id"]
    served = sid in frame.columns
    level = "missing" if not served else status.get("status", "unknown")
    if not served:
        logger.warning("%s: missing (no level served it); pairs that need it will be skipped", sid)
    meta = {
        **{k: spec.get(k) for k in ("kind", "source", "currency", "base", "maturity", "name")},
        "calendar": calendar,
        "status": level,
        "origin": origin_label({**status, "status": level}, spec.get("source")),
        "path": status.get("path"),
        "column": status.get("column"),
        "downloaded_at": status.get("downloaded_at"),
        "live_attempts": status.get("attempts", 0),
        "live_error": status.get("last_error"),
        "refused": status.get("refused", []),
        "in_clean": served,
        # the currency of the stored values, and what they were converted from
        "currency": base_currency if sid in converted else spec.get("currency"),
        "converted_from": converted.get(sid, {}).get("from"),
        "converted_with": converted.get(sid, {}).get("with"),
        # a converted series ends where its rate ends: the closes dropped, and the cause
        **(
            {
                k: converted[sid][k]
                for k in ("own_last", "rate_last", "dropped_without_rate", "dropped_after_rate_end")
            }
            if sid in converted
            else {}
        ),
        "local_currency": bool(spec.get("local_currency")),
        **(left_out or {"off_calendar_observations": 0, "off_calendar_dates": [], "non_positive": []}),
    }
    if not served:
        return meta | {"first": None, "last": None, "observations": 0, "stale": None, "days_behind": None}
    observed = frame[sid].dropna()
    own_days = sessions(calendar, observed.index[0], last)
    behind = int(
        own_days.searchsorted(as_of, side="right") - own_days.searchsorted(observed.index[-1], side="right")
    )
    within = own_days[own_days <= observed.index[-1]]
    ends_early = {}
    if meta.get("dropped_after_rate_end"):
        # why the stored series ends where it does: its fx rate's end, not its own data's
        ends_early["ends_because"] = (
            f"its fx rate {meta['converted_with']} ends on {meta['rate_last']} "
            f"(its own data runs to {meta['own_last']})"
        )
    return (
        meta
        | ends_early
        | {
            "first": str(observed.index[0].date()),
            "last": str(observed.index[-1].date()),
            "observations": int(len(observed)),
            "missing_open_days": int(len(within) - len(observed)),
            "days_behind": max(behind, 0),
            "stale": behind >= STALE_SESSIONS,
        }
    )


def clean_prices(
    raw: pd.DataFrame,
    specs: list[dict],
    statuses: dict[str, dict],
    start: str,
    end: str,
    base_currency: str,
    max_gap_days: int,
    origins: dict[str, str] | None = None,
    pairs: list[list[str]] | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Tidy raw rows -> one frame of levels on the union of the series' calendars, plus
    the metadata later tasks read (see the module doc): the universe checked, each series
    on its calendar, the union frame, currencies converted, the as-of dates, metadata."""
    origins, pairs = origins or {}, pairs or []
    by_id = {s["id"]: s for s in specs}
    calendar_of = check_universe(raw, specs)
    levels: dict[str, pd.Series] = {}
    left_out: dict[str, dict] = {}
    for series_id, rows in raw.groupby("series", sort=False):
        where = origins.get(series_id, "raw data")
        # name the user's own file too, not only ingest's copy of it
        user_file = statuses.get(series_id, {}).get("path")
        where = f"{where} (from {user_file})" if user_file and user_file != where else where
        values, dropped = series_on_its_calendar(
            series_id, rows, by_id[series_id], calendar_of[series_id], where, pairs
        )
        if values is not None:
            levels[series_id], left_out[series_id] = values, dropped
    if not levels:
        raise InputDataError("clean: no series has any data; check data/raw/*.ok for what ingest could serve")
    frame, used_calendars = union_frame(levels, specs, calendar_of, start, end)
    frame, converted = convert_currency(frame, specs, base_currency)
    as_of, pairs_last, data_through = as_of_dates(frame, pairs)
    last = min(pd.Timestamp(end), max(s.index[-1] for s in levels.values()))
    series_meta = {
        spec["id"]: series_metadata(
            spec,
            statuses.get(spec["id"], {}),
            frame,
            calendar_of[spec["id"]],
            left_out.get(spec["id"], {}),
            converted,
            base_currency,
            as_of,
            last,
        )
        for spec in specs
    }
    metadata = {
        "base_currency": base_currency,
        "calendar": {
            "calendars": used_calendars,
            "first": str(frame.index[0].date()),
            "last": str(frame.index[-1].date()),
            "days": len(frame),
            "max_gap_days": max_gap_days,
            "source": f"pandas_market_calendars ({', '.join(used_calendars)})",
        },
        "calendars": {name: closed_days(name, frame.index) for name in used_calendars},
        "requested": {"start": start, "end": end},
        "as_of": str(as_of.date()),
        "pairs_last": {name: str(day.date()) for name, day in pairs_last.items()},
        "data_through": str(data_through.date()),
        "series": series_meta,
    }
    return frame, metadata


def run(
    *,
    raw: list[str],
    ok: list[str],
    series: list,
    start: str,
    end: str,
    base_currency: str,
    max_gap_days: int,
    pairs: list,
    out: str,
) -> None:
    """Raw series on their markets' calendars, in one currency (rule ``clean``).

    raw: raw source files (series,date,value), one per source
    ok: ingest status files (.ok), one per source
    series: JSON list of series specs
    out: clean.parquet
    """
    end = resolve_end(end)
    frames, origins = [], {}
    for path in raw:
        raw = read_raw(path)
        origins.update({series_id: path for series_id in raw["series"].unique()})
        frames.append(raw)
    raw = pd.concat(frames, ignore_index=True)
    clean, metadata = clean_prices(
        raw,
        series,
        read_statuses(ok),
        start,
        end,
        base_currency,
        max_gap_days,
        origins,
        pairs,
    )
    write_parquet(clean, out, metadata)
    logger.info(
        "wrote %s: %d days %s..%s (calendars %s), series %s",
        out,
        len(clean),
        metadata["calendar"]["first"],
        metadata["calendar"]["last"],
        ", ".join(metadata["calendar"]["calendars"]),
        list(clean.columns),
    )
