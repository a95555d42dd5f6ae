"""Clean and align the raw series onto one business-day calendar (task B).

Join: every series is left-joined onto the run's calendar (weekdays from start to end,
minus the exchange holidays inferred from the anchor price series: weekdays inside the
anchor's life on which it has no value). An observation on a day off the calendar is
not dropped silently: it is counted, and the next calendar day's forward fill sees it
(the fill is "as of"). A gap is forward-filled for at most ``ffill_limit`` business
days, never before a series' first observation nor after its last (a fill there would
invent flat returns at the end of the sample); longer gaps stay NaN and are
counted. Yields stay as levels in percent. A price in a currency other than the base
is converted with an fx series of the universe. Dates are unique and sorted (asserted).

CLI:
    python workflow/scripts/clean.py --raw data/raw/fred.csv data/raw/yahoo.csv \
        --ok data/raw/fred.ok data/raw/yahoo.ok --series "$(python -c ...)" \
        --start 1990-01-02 --end 2017-03-31 --out data/processed/clean.parquet
"""

import argparse
import logging

import numpy as np
import pandas as pd

from _helpers import (
    cli_parser,
    InputDataError,
    configure_logging,
    load_json_arg,
    run_script,
)
from _contracts import read_raw, read_statuses, write_parquet

logger = logging.getLogger("clean")

YIELD_BOUNDS_PERCENT = (-5.0, 30.0)


def validate_series(series_id: str, values: pd.Series, spec: dict, origin: str) -> None:
    """Plausibility checks by kind; a failure is schema drift the user must look at."""
    valid = values.dropna()
    if spec["kind"] in ("price", "fx") and (valid <= 0).any():
        bad = valid[valid <= 0]
        raise InputDataError(
            f"{origin}: series {series_id!r} ({spec['kind']}) has {len(bad)} non-positive value(s), first "
            f"{bad.iloc[0]} on {bad.index[0].date()}; log returns need positive levels - fix the data "
            f"or give the series kind 'level'"
        )
    if spec["kind"] == "yield" and len(valid):
        low, high = YIELD_BOUNDS_PERCENT
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


def business_calendar(start: str, end: str, anchor: pd.Series | None) -> tuple[pd.DatetimeIndex, int]:
    """Weekdays start..end minus the anchor's holidays (weekdays in its life with no value)."""
    weekdays = pd.bdate_range(start, end, name="date")
    if anchor is None or anchor.dropna().empty:
        return weekdays, 0
    valid = anchor.dropna().index
    inside = (weekdays >= valid[0]) & (weekdays <= valid[-1])
    holidays = weekdays[inside].difference(valid)
    return weekdays.difference(holidays).rename("date"), len(holidays)


def align_series(series: pd.Series, calendar: pd.DatetimeIndex, ffill_limit: int) -> tuple[pd.Series, dict]:
    """Left-join onto the calendar, as-of forward fill limited to ``ffill_limit`` calendar days."""
    series = series.dropna()
    off_calendar = int((~series.index.isin(calendar)).sum())
    union = calendar.union(series.index)
    # position of each day among calendar days, so the fill limit counts calendar days only
    on_calendar = pd.Series(union.isin(calendar), index=union)
    joined = series.reindex(union)
    last_obs_pos = pd.Series(np.where(joined.notna(), on_calendar.cumsum(), np.nan), index=union).ffill()
    filled = joined.ffill()
    age = on_calendar.cumsum() - last_obs_pos  # calendar days since the last observation
    filled[age > ffill_limit] = np.nan
    filled[union > series.index[-1]] = np.nan  # a series that has ended is not carried on
    aligned = filled.reindex(calendar)
    observed_on_calendar = series.reindex(calendar).notna()
    stats = {
        "observations": int(len(series)),
        "off_calendar_observations": off_calendar,
        "filled_days": int((aligned.notna() & ~observed_on_calendar).sum()),
        "gap_days_left_nan": int(aligned.isna().sum() - _leading_trailing_nan(aligned)),
    }
    return aligned, stats


def _leading_trailing_nan(series: pd.Series) -> int:
    valid = np.flatnonzero(series.notna().to_numpy())
    if not len(valid):
        return len(series)
    return int(valid[0] + (len(series) - 1 - valid[-1]))


def convert_currency(frame: pd.DataFrame, specs: list[dict], base_currency: str) -> tuple[pd.DataFrame, dict]:
    """Convert every price series quoted in another currency into the base currency.

    An fx series (kind fx) with ``base: B`` and ``currency: Q`` gives units of Q per one B
    (FRED DEXUSEU: base EUR, currency USD; DEXJPUS: base USD, currency JPY). A price in C
    is multiplied by a C->base rate (base C, currency base) or divided by base->C.
    """
    fx = {(s["base"], s["currency"]): s["id"] for s in specs if s["kind"] == "fx" and s["id"] in frame}
    out = frame.copy()
    converted = {}
    for spec in specs:
        ccy = spec.get("currency", base_currency)
        if spec["kind"] != "price" or ccy == base_currency or spec["id"] not in frame:
            continue
        if (ccy, base_currency) in fx:
            rate_id = fx[(ccy, base_currency)]
            out[spec["id"]] = frame[spec["id"]] * frame[rate_id]
        elif (base_currency, ccy) in fx:
            rate_id = fx[(base_currency, ccy)]
            out[spec["id"]] = frame[spec["id"]] / frame[rate_id]
        else:
            raise InputDataError(
                f"clean: series {spec['id']!r} is in {ccy} but the universe has no fx series to convert it to "
                f"{base_currency}; add one to config key `series` (kind: fx, base: {ccy}, currency: "
                f"{base_currency}, e.g. FRED DEXUSEU for EUR) or set its `currency`"
            )
        converted[spec["id"]] = rate_id
        logger.info("%s: converted from %s to %s with %s", spec["id"], ccy, base_currency, rate_id)
    return out, converted


def clean_prices(
    raw: pd.DataFrame,
    specs: list[dict],
    statuses: dict[str, dict],
    start: str,
    end: str,
    base_currency: str = "USD",
    anchor: str | None = None,
    ffill_limit: int = 3,
    origins: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Tidy raw rows -> one aligned wide frame of levels, plus the metadata later tasks read."""
    origins = origins or {}
    by_id = {s["id"]: s for s in specs}
    unknown = sorted(set(raw["series"]) - set(by_id))
    if unknown:
        raise InputDataError(
            f"clean: raw data has series {unknown} that config key `series` does not list; "
            f"re-run ingest after changing the universe (snakemake -R ingest)"
        )
    levels: dict[str, pd.Series] = {}
    for series_id, rows in raw.groupby("series", sort=False):
        values = pd.Series(rows["value"].to_numpy(), index=pd.DatetimeIndex(rows["date"]), name=series_id)
        values = values.sort_index()
        validate_series(series_id, values, by_id[series_id], origins.get(series_id, "raw data"))
        if values.notna().any():
            levels[series_id] = values
    if not levels:
        raise InputDataError("clean: no series has any data; check data/raw/*.ok for what ingest could serve")
    anchor_id = anchor or next((s["id"] for s in specs if s["kind"] == "price" and s["id"] in levels), None)
    if anchor and anchor not in by_id:
        raise InputDataError(
            f"clean: config key `calendar.anchor` names {anchor!r}, which is not in `series`"
        )
    calendar, holidays = business_calendar(start, end, levels.get(anchor_id))
    first = min(s.dropna().index[0] for s in levels.values())
    last = max(s.dropna().index[-1] for s in levels.values())
    calendar = calendar[(calendar >= first) & (calendar <= last)]
    aligned, align_stats = {}, {}
    for spec in specs:
        if spec["id"] in levels:
            aligned[spec["id"]], align_stats[spec["id"]] = align_series(
                levels[spec["id"]], calendar, ffill_limit
            )
            if align_stats[spec["id"]]["off_calendar_observations"]:
                logger.info(
                    "%s: %d observation(s) on days off the calendar (used as of the next day)",
                    spec["id"],
                    align_stats[spec["id"]]["off_calendar_observations"],
                )
    frame = pd.DataFrame(aligned, index=calendar)
    frame, converted = convert_currency(frame, specs, base_currency)
    if not (frame.index.is_unique and frame.index.is_monotonic_increasing):
        raise AssertionError("clean: calendar has duplicated or unsorted dates")  # never expected
    series_meta = {}
    for spec in specs:
        status = statuses.get(spec["id"], {}).get(
            "status", "missing" if spec["id"] not in levels else "unknown"
        )
        if spec["id"] not in levels:
            status = "missing"
            logger.warning("%s: missing (no level served it); pairs that need it will be skipped", spec["id"])
        series_meta[spec["id"]] = {
            **{k: spec.get(k) for k in ("kind", "source", "currency", "base", "maturity", "name")},
            "status": status,
            "live_attempts": statuses.get(spec["id"], {}).get("attempts", 0),
            "live_error": statuses.get(spec["id"], {}).get("last_error"),
            "in_clean": spec["id"] in frame.columns,
            "converted_with": converted.get(spec["id"]),
            "first": str(levels[spec["id"]].dropna().index[0].date()) if spec["id"] in levels else None,
            "last": str(levels[spec["id"]].dropna().index[-1].date()) if spec["id"] in levels else None,
            **align_stats.get(spec["id"], {}),
        }
    metadata = {
        "base_currency": base_currency,
        "calendar": {
            "anchor": anchor_id,
            "holidays_removed": holidays,
            "ffill_limit": ffill_limit,
            "first": str(calendar[0].date()),
            "last": str(calendar[-1].date()),
            "days": len(calendar),
        },
        "requested": {"start": start, "end": end},
        "series": series_meta,
    }
    return frame, metadata


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli_parser(__doc__)
    parser.add_argument("--raw", nargs="+", required=True, help="raw source files (series,date,value)")
    parser.add_argument("--ok", nargs="+", required=True, help="ingest status files (.ok)")
    parser.add_argument("--series", type=load_json_arg, required=True, help="JSON list of series specs")
    parser.add_argument("--start", required=True)
    parser.add_argument("--end", required=True)
    parser.add_argument("--base-currency", default="USD")
    parser.add_argument("--anchor", default=None, help="price series that defines exchange holidays")
    parser.add_argument("--ffill-limit", type=int, default=3)
    parser.add_argument("--out", required=True, help="clean.parquet")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    configure_logging(args.log)
    frames, origins = [], {}
    for path in args.raw:
        raw = read_raw(path)
        origins.update({series_id: path for series_id in raw["series"].unique()})
        frames.append(raw)
    raw = pd.concat(frames, ignore_index=True)
    clean, metadata = clean_prices(
        raw,
        args.series,
        read_statuses(args.ok),
        args.start,
        args.end,
        args.base_currency,
        args.anchor,
        args.ffill_limit,
        origins,
    )
    write_parquet(clean, args.out, metadata)
    logger.info(
        "wrote %s: %d business days %s..%s, series %s",
        args.out,
        len(clean),
        metadata["calendar"]["first"],
        metadata["calendar"]["last"],
        list(clean.columns),
    )


if __name__ == "__main__":
    run_script(main, globals())
