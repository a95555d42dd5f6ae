"""Checks a JSON schema cannot express, on a validated config; each names the key to change."""

import difflib
from datetime import date

from corrflow.config.errors import ConfigError
from corrflow.data.dates import business_days
from corrflow.data.sources import SOURCES

EARLIEST_DATE = "1900-01-01"  # config `start`/`end` bound (schema: `start`)


def check_calendar_name(name: str, where: str) -> None:
    """An unknown calendar is one line with the close matches, before any job; with only
    Snakemake installed (no pandas_market_calendars) clean checks it instead."""
    try:
        from corrflow.data.calendars import check_calendar
    except ImportError:
        return
    try:
        check_calendar(name, where)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def check_series(config: dict) -> None:
    """Unique ids and known sources."""
    ids = [s["id"] for s in config["series"]]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ConfigError(f"config key `series`: duplicated id(s) {duplicated}; ids must be unique")
    for s in config["series"]:
        if s["source"] not in SOURCES:
            close = difflib.get_close_matches(str(s["source"]), SOURCES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"config key `series` ({s['id']}): source {s['source']!r} is unknown{hint}; "
                f"allowed: {', '.join(sorted(SOURCES))}"
            )


def check_series_kinds(config: dict) -> None:
    """The keys a kind needs (a yield's maturity, an fx rate's base), known calendars."""
    for s in config["series"]:
        if s["kind"] == "yield" and "maturity" not in s:
            raise ConfigError(f"config key `series`: yield series {s['id']!r} needs `maturity` (years)")
        if s["kind"] == "fx" and "base" not in s:
            raise ConfigError(
                f"config key `series`: fx series {s['id']!r} needs `base` (e.g. EUR for DEXUSEU)"
            )
        if s.get("calendar"):
            check_calendar_name(s["calendar"], f"config key `series` ({s['id']}): calendar")


def check_dates(config: dict, end: str, today: date) -> None:
    """`start` and `end` (resolved) are dates from 1900 to ``today``, in order; the longest
    window fits between them."""
    # before 1900 no calendar or series here has data (and pandas' days end in 1677); a
    # day after today has none yet
    for key, value in (("start", config["start"]), ("end", end)):
        try:
            day = date.fromisoformat(str(value))
        except ValueError:
            raise ConfigError(f"config key `{key}`: {value!r} is not a calendar date (YYYY-MM-DD)") from None
        if not date.fromisoformat(EARLIEST_DATE) <= day <= today:
            raise ConfigError(
                f"config key `{key}`: {value} is outside {EARLIEST_DATE}..{today} (today); "
                f"give a date in that range{' or `latest`' if key == 'end' else ''}"
            )
    if end < config["start"]:
        raise ConfigError(f"config key `end` ({end}) is before `start` ({config['start']})")
    days = business_days(config["start"], end)
    longest = max(config["correlation"]["windows"])
    if longest > days:
        raise ConfigError(
            f"config key `correlation.windows`: window {longest} is longer than the "
            f"{days} business days from `start` to `end`; shorten it or widen the range"
        )


def check_pairs(config: dict) -> None:
    """Each configured pair names two different series of the universe."""
    ids = [s["id"] for s in config["series"]]
    for a, b in config["correlation"]["pairs"]:
        if a == b:
            raise ConfigError(
                f"config key `correlation.pairs`: pair [{a}, {b}] pairs a series with itself (its "
                f"correlation is 1 by definition); name two different series"
            )
        for series_id in (a, b):
            if series_id not in ids:
                raise ConfigError(
                    f"config key `correlation.pairs`: pair [{a}, {b}] names {series_id!r}, "
                    f"which is not in `series` (known: {', '.join(ids)})"
                )


def check_references(config: dict) -> None:
    """Keys that name series, windows or pairs name ones the config has."""
    series = {s["id"]: s for s in config["series"]}
    cash = config["features"]["cash_rate"]
    if cash is not None and (cash not in series or series[cash]["kind"] != "yield"):
        raise ConfigError(f"config key `features.cash_rate`: {cash!r} must be a yield series in `series`")
    for key in ("equity", "bond", "vix"):
        series_id = config["stress"][key]
        if series_id is not None and series_id not in series:
            raise ConfigError(f"config key `stress.{key}`: {series_id!r} is not in `series`")
    for episode in config["stress"]["episodes"]:
        if episode["end"] < episode["start"]:
            raise ConfigError(f"config key `stress.episodes`: {episode['name']!r} ends before it starts")
    primary = config["correlation"]["primary_window"]
    if primary is not None and primary not in config["correlation"]["windows"]:
        raise ConfigError(
            f"config key `correlation.primary_window`: {primary} is not one of `correlation.windows` "
            f"{config['correlation']['windows']}"
        )
    for entry in config["all_pairs"]["history_of"]:
        unknown = [s for s in entry.split(":") if s not in series]
        if unknown:
            raise ConfigError(
                f"config key `all_pairs.history_of`: {entry!r} names {', '.join(unknown)}, not in `series`; "
                "give a series id (every pair with it) or A:B"
            )
    model_pair = config["model"]["pair"]
    if model_pair is not None and list(model_pair) not in [list(p) for p in config["correlation"]["pairs"]]:
        raise ConfigError(f"config key `model.pair`: {model_pair} is not one of `correlation.pairs`")


def check_config(config: dict, end: str, today: date) -> None:
    """Every cross-key check, in the order a user meets them."""
    check_series(config)
    check_dates(config, end, today)
    check_pairs(config)
    check_series_kinds(config)
    check_references(config)


def check_numbers_fit_the_data(config: dict, end: str, primary_window: int) -> None:
    """Numbers bounded by the data the range can hold (the schema bounds them absolutely)."""
    days = business_days(config["start"], end)
    horizon = config["model"]["horizon"]
    if config["model"]["enabled"] and horizon + primary_window >= days:
        raise ConfigError(
            f"config key `model.horizon`: {horizon} business days ahead do not fit in the {days} business "
            f"days from `start` to `end` with the {primary_window}-day window (at most "
            f"{days - primary_window - 1}, and a useful model needs far fewer); shorten it or widen the range"
        )
    all_pairs_window = config["all_pairs"]["window"]
    if config["all_pairs"]["enabled"] and all_pairs_window > days:
        raise ConfigError(
            f"config key `all_pairs.window`: window {all_pairs_window} is longer than the {days} business "
            f"days from `start` to `end`; shorten it or widen the range"
        )
