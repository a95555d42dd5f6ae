"""Ingest one source (task A): live download -> local cache -> bundled snapshot -> missing.

Writes ``data/raw/<source>.csv`` (tidy: series,date,value; sorted; clipped to the
configured range) and ``data/raw/<source>.ok`` (JSON: per series the level that served
it, attempts, last error class, rows, first/last date, sha256 of its raw rows).

CLI:
    python workflow/scripts/ingest.py --source fred --offline true \
        --series '[{"id": "DGS10", "source": "fred", "kind": "yield", "maturity": 10}]' \
        --start 1990-01-02 --end 2017-03-31 --csv data/raw/fred.csv --ok data/raw/fred.ok
"""

import argparse
import datetime as dt
import hashlib
import http.client
import io
import logging
import os
import random
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from _helpers import (
    cli_parser,
    InputDataError,
    configure_logging,
    load_json_arg,
    parse_bool,
    run_script,
    write_csv_atomic,
    write_json_atomic,
)

logger = logging.getLogger("ingest")

DATE_COLUMNS = ("date", "observation_date", "DATE", "Date", "Datetime", "time period")
VALUE_COLUMNS = ("value", "Adj Close", "adj close", "Close", "close", "price")


class FetchError(Exception):
    """A live download failed; ``retryable`` says whether another attempt may help,
    ``unreachable`` that no answer came at all (refused, timed out, reset)."""

    def __init__(self, message: str, retryable: bool = True, unreachable: bool = False):
        super().__init__(message)
        self.retryable = retryable
        self.unreachable = unreachable


class NetworkDown(FetchError):
    """The host name did not resolve: no network here, so no more attempts this run."""

    def __init__(self, message: str):
        super().__init__(message, retryable=False)


# ---------------------------------------------------------------- parsing


ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
US_DATE = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")
EXCEL_SERIAL = re.compile(r"^\d{5}(\.\d+)?$")


def parse_dates(raw: pd.Series, where: str, column: str) -> pd.DatetimeIndex:
    """Dates as written: ISO (a time and UTC offset may follow; the local date is kept, so
    yfinance's ``2020-01-02 00:00:00-05:00`` is 2 January) or, throughout, US ``M/D/YYYY``
    as in FRED's older downloads. Anything else, or a mix, is an error naming the row."""
    text = raw.fillna("").astype(str).str.strip()
    iso = text.str.match(ISO_DATE)
    us = text.str.match(US_DATE)
    row = lambda mask: int(np.flatnonzero(mask.to_numpy())[0]) + 2  # noqa: E731 (1-based, after the header)
    other = ~(iso | us)
    if other.any():
        first = text[other].iloc[0]
        if text[other].str.match(EXCEL_SERIAL).all():
            raise InputDataError(
                f"{where}: column {column!r} holds Excel serial dates (row {row(other)}: {first!r}); "
                f"format the column as dates (YYYY-MM-DD) before saving the CSV"
            )
        raise InputDataError(
            f"{where}: {int(other.sum())} unreadable date(s) in column {column!r}, first at row {row(other)}: "
            f"{first!r}; use ISO dates (YYYY-MM-DD) and remove notes or footers below the data"
        )
    if iso.any() and us.any():
        raise InputDataError(
            f"{where}: mixed date formats in column {column!r}: ISO (row {row(iso)}) and M/D/YYYY "
            f"(row {row(us)}: {text[us].iloc[0]!r}); use one format, preferably YYYY-MM-DD"
        )
    if iso.all():
        dates = pd.to_datetime(text.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    else:
        dates = pd.to_datetime(text, format="%m/%d/%Y", errors="coerce")
    if dates.isna().any():
        raise InputDataError(
            f"{where}: impossible date in column {column!r} at row {row(dates.isna())}: "
            f"{text[dates.isna()].iloc[0]!r}"
        )
    future = dates > pd.Timestamp.today().normalize()
    if future.any():
        raise InputDataError(
            f"{where}: {int(future.sum())} date(s) in the future, first at row {row(future)}: "
            f"{text[future].iloc[0]!r}; check the date column and its format"
        )
    return pd.DatetimeIndex(dates.to_numpy(), name="date")


def parse_series_csv(text: str, series_id: str, column: str | None = None, origin: str = "") -> pd.Series:
    """Parse one series from CSV text: ``date,value``, FRED's download, or yfinance's CSVs.

    yfinance writes either a single header (Date,Open,...,Close,...) or a 3-row header
    (Price / Ticker / Date). FRED writes ``observation_date,<ID>`` (older: ``DATE,<ID>``)
    with "." on days without a value. Rows may come in any order (they are sorted);
    a date given twice is an error. Returns a float Series on a sorted DatetimeIndex,
    empty when the file has a header but no rows.
    """
    where = origin or f"CSV for {series_id}"
    notes = ["byte-order mark removed"] if text.startswith("\ufeff") else []
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or not lines[0].strip():
        raise InputDataError(f"{where}: empty file; expected a header like 'date,value'")
    if "," not in lines[0]:
        separator = next((name for sep, name in ((";", "semicolon"), ("\t", "tab")) if sep in lines[0]), None)
        if separator:
            raise InputDataError(f"{where}: the file is {separator}-separated; save it comma-separated")
    header = [h.strip() for h in lines[0].split(",")]
    skip = 0
    if len(lines) > 2 and lines[1].startswith("Ticker,") and lines[2].startswith("Date,"):
        skip = 2  # yfinance multi-row header: keep row 0 (Price names), drop Ticker and Date rows
    try:
        frame = pd.read_csv(
            io.StringIO("\n".join(lines)),
            skiprows=range(1, 1 + skip),
            na_values=[".", ""],
            keep_default_na=True,
            dtype=str,
        )
    except pd.errors.ParserError as err:
        raise InputDataError(f"{where}: not a well-formed CSV ({err}); fix or remove that line") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    date_col = next((c for c in frame.columns if c in DATE_COLUMNS or c.lower() == "date"), None)
    if date_col is None and skip:
        date_col = frame.columns[0]
    if date_col is None:
        raise InputDataError(
            f"{where}: no date column; found columns {header}; expected one of {list(DATE_COLUMNS)}"
        )
    candidates = [column] if column else [*VALUE_COLUMNS, series_id]
    value_col = next((c for c in candidates if c in frame.columns), None)
    if value_col is None:
        others = [c for c in frame.columns if c != date_col]
        if len(others) == 1 and not column:
            value_col = others[0]
        else:
            hint = f"set `column:` for series {series_id} in config/config.yaml"
            raise InputDataError(
                f"{where}: no value column {column or list(VALUE_COLUMNS)}; found {header}; {hint}"
            )
    index = parse_dates(frame[date_col], where, date_col)
    values = pd.to_numeric(frame[value_col].str.strip(), errors="coerce")
    bad_values = frame.loc[values.isna() & frame[value_col].notna(), value_col]
    if len(bad_values):
        raise InputDataError(
            f"{where}: {len(bad_values)} non-numeric value(s) in column {value_col!r}, first at row "
            f"{bad_values.index[0] + 2 + skip}: {bad_values.iloc[0]!r}; fix the file or leave missing values empty"
        )
    if index.has_duplicates:
        repeated = sorted(set(index[index.duplicated()].strftime("%Y-%m-%d")))
        raise InputDataError(
            f"{where}: {len(repeated)} date(s) appear more than once ({', '.join(repeated[:3])}"
            f"{', ...' if len(repeated) > 3 else ''}); keep one row per date"
        )
    if not index.is_monotonic_increasing:
        notes.append("rows were not in date order; sorted")
    if frame[date_col].astype(str).str.contains(r"\d[ T]\d\d:\d\d", regex=True).any():
        notes.append("times of day and UTC offsets dropped; each row's own local date kept")
    series = pd.Series(values.to_numpy(dtype="float64"), index=index, name=series_id).sort_index()
    series.attrs["notes"] = notes  # reach the .ok file and the DQ report's format check
    return series


def clip_to_range(series: pd.Series, start: str, end: str) -> pd.Series:
    clipped = series.loc[pd.Timestamp(start) : pd.Timestamp(end)]
    if len(clipped) < len(series):
        logger.info(
            "%s: %d row(s) outside %s..%s left out", series.name, len(series) - len(clipped), start, end
        )
    return clipped


# ---------------------------------------------------------------- retries


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter; sleep and clock are injectable so tests stay fast."""

    retries: int = 3
    backoff_s: float = 1.0
    max_wait_s: float = 15.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    waited_s: float = 0.0  # total across this source, to cap the time offline machines lose
    network_down: bool = False

    def backoff(self, attempt: int) -> float:
        """Wait before retry number ``attempt`` (1-based): base * 2**(attempt-1), +-25 % jitter."""
        return self.backoff_s * 2 ** (attempt - 1) * (0.75 + 0.5 * self.rng.random())

    def call(self, fetch: Callable[[], pd.Series], label: str) -> tuple[pd.Series | None, int, str | None]:
        """Run ``fetch`` with retries: (result or None, attempts made, last error class)."""
        if self.network_down:
            return None, 0, "NetworkDown"
        attempts, last_error, unreachable = 0, None, True
        for attempt in range(1, self.retries + 2):
            attempts = attempt
            try:
                return fetch(), attempts, None
            except FetchError as err:
                last_error = type(err).__name__
                unreachable = unreachable and err.unreachable
                logger.warning("%s: attempt %d failed: %s", label, attempt, err)
                if isinstance(err, NetworkDown):
                    self.network_down = True
                    logger.warning("%s: network is down; no further live attempts this run", label)
                    break
                if not err.retryable or attempt > self.retries:
                    if unreachable and attempt > self.retries:
                        # every attempt went unanswered: the next series would fare no better
                        self.network_down = True
                        logger.warning("%s: source unreachable; no further live attempts this run", label)
                    break
                wait = self.backoff(attempt)
                if self.waited_s + wait > self.max_wait_s:
                    logger.warning("%s: retry budget of %.0f s used up; giving up", label, self.max_wait_s)
                    break
                logger.info("%s: retry %d in %.2f s", label, attempt, wait)
                self.sleep(wait)
                self.waited_s += wait
        return None, attempts, last_error


# ---------------------------------------------------------------- live sources


def check_host_resolves(url: str) -> None:
    """Raise NetworkDown when the URL's host does not resolve (no network: stop trying).

    Behind a proxy (http(s)_proxy set) the proxy resolves names, so nothing is checked.
    """
    parsed = urllib.parse.urlparse(url)
    host = parsed.hostname or ""
    if parsed.scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(host):
        return
    try:
        socket.getaddrinfo(host, None)
    except socket.gaierror as err:
        raise NetworkDown(f"cannot resolve {host} ({err.strerror})") from None


def http_get(url: str, timeout: float, secret: str | None = None) -> str:
    """GET a URL; HTTP and socket failures become FetchError without the URL (it may hold a key)."""
    check_host_resolves(url)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read().decode("utf-8")
    except urllib.error.HTTPError as err:
        body = err.read().decode("utf-8", "replace")[:200]
        retryable = err.code == 429 or err.code >= 500
        message = f"HTTP {err.code} {err.reason}: {body}"
        raise FetchError(redact(message, secret), retryable=retryable) from None
    except OSError as err:  # URLError, refused, timed out, reset: no answer
        reason = getattr(err, "reason", err)
        raise FetchError(redact(f"{type(reason).__name__}: {reason}", secret), unreachable=True) from None
    except (http.client.HTTPException, UnicodeDecodeError) as err:  # an answer, but cut off or garbled
        raise FetchError(redact(f"{type(err).__name__}: {err}", secret)) from None


def redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


class Throttle:
    """At most one request per ``interval_s`` (FRED answers 429 above about 2 requests/s)."""

    def __init__(self, interval_s: float, clock=time.monotonic, sleep=time.sleep):
        self.interval_s, self.clock, self.sleep, self.last = interval_s, clock, sleep, None

    def wait(self) -> None:
        now = self.clock()
        if self.last is not None and now - self.last < self.interval_s:
            self.sleep(self.interval_s - (now - self.last))
            now = self.clock()
        self.last = now


def fetch_fred(
    spec: dict, start: str, end: str, network: dict, api_key: str | None, throttle: Throttle
) -> pd.Series:
    """One FRED series: JSON API through fredapi with a key, the public CSV download without."""
    symbol = spec.get("symbol", spec["id"])
    throttle.wait()
    if api_key:
        return fetch_fred_api(symbol, spec["id"], start, end, network, api_key)
    query = urllib.parse.urlencode({"id": symbol, "cosd": start, "coed": end})
    text = http_get(f"{network['fred_csv_url']}?{query}", network["timeout_s"])
    header = text.lstrip("\ufeff").split("\n", 1)[0].strip().split(",")
    if len(header) == 2 and header[0] in ("observation_date", "DATE") and header[1] != symbol:
        raise FetchError(f"wrong series returned: asked for {symbol}, got {header[1]}", retryable=False)
    try:
        return parse_series_csv(text, spec["id"], column=symbol, origin=f"FRED CSV for {symbol}")
    except InputDataError as err:
        raise FetchError(f"malformed FRED CSV: {err}", retryable=True) from None


def fetch_fred_api(
    symbol: str, series_id: str, start: str, end: str, network: dict, api_key: str
) -> pd.Series:
    """One series through fredapi, with the timeout and typed errors fredapi lacks.

    fredapi calls ``urlopen(url)`` with no timeout and turns every HTTP error into a
    ValueError (or a ParseError for a body that is not XML). Its module-level
    ``urlopen`` is swapped, for this call, for one with our timeout that raises
    FetchError (retryable for 429 and 5xx), so retries see what really happened.
    """
    import xml.etree.ElementTree as ET

    import fredapi.fred as fredapi_module

    check_host_resolves(network["fred_api_url"])

    def urlopen_with_timeout(url):
        try:
            return urllib.request.urlopen(url, timeout=network["timeout_s"])
        except urllib.error.HTTPError as err:
            body = err.read().decode("utf-8", "replace")
            try:
                message = ET.fromstring(body).get("message") or body[:200]
            except ET.ParseError:
                message = body[:200]
            retryable = err.code == 429 or err.code >= 500
            raise FetchError(redact(f"HTTP {err.code}: {message}", api_key), retryable=retryable) from None
        except OSError as err:
            reason = getattr(err, "reason", err)
            raise FetchError(
                redact(f"{type(reason).__name__}: {reason}", api_key), unreachable=True
            ) from None

    fred = fredapi_module.Fred(api_key=api_key)
    fred.root_url = network["fred_api_url"].rstrip("/")
    original = fredapi_module.urlopen
    fredapi_module.urlopen = urlopen_with_timeout
    try:
        data = fred.get_series(symbol, observation_start=start, observation_end=end)
    except ET.ParseError as err:
        raise FetchError(f"malformed FRED answer: {err}") from None
    except (OSError, http.client.HTTPException) as err:  # a body cut off or timing out while read
        raise FetchError(redact(f"{type(err).__name__}: {err}", api_key)) from None
    except ValueError as err:  # fredapi: no data for the id, or an unparsable value
        raise FetchError(redact(f"FRED error: {err}", api_key), retryable=False) from None
    finally:
        fredapi_module.urlopen = original
    if data.empty:
        raise FetchError(f"FRED returned no observations for {symbol}", retryable=False)
    series = pd.Series(
        pd.to_numeric(data, errors="coerce").to_numpy(dtype="float64"),
        index=pd.DatetimeIndex(data.index, name="date").normalize(),
        name=series_id,
    )
    return series.sort_index()


def normalise_yahoo_frame(frame: pd.DataFrame, symbols: list[str]) -> dict[str, pd.Series]:
    """yfinance's frame (MultiIndex (field, ticker) or flat) -> adjusted close per symbol."""
    out: dict[str, pd.Series] = {}
    if frame is None or frame.empty:
        return out
    if isinstance(frame.columns, pd.MultiIndex):
        level = 0 if "Close" in frame.columns.get_level_values(0) else 1
        closes = frame.xs("Close", axis=1, level=level)
    else:
        closes = frame[["Close"]].rename(columns={"Close": symbols[0]})
    index = (
        pd.DatetimeIndex(closes.index).tz_localize(None).normalize()
        if closes.index.tz is not None
        else pd.DatetimeIndex(closes.index).normalize()
    )
    for symbol in symbols:
        if symbol in closes.columns:
            series = pd.Series(closes[symbol].to_numpy(dtype="float64"), index=index).dropna()
            if len(series):
                out[symbol] = series
    return out


def fetch_yahoo_batch(symbols: list[str], start: str, end: str, network: dict) -> pd.DataFrame:
    """One batched yfinance call; auto_adjust pinned (adjusted closes, used for returns)."""
    import yfinance as yf

    check_host_resolves("https://query1.finance.yahoo.com")
    # yfinance's end date is exclusive; ours is inclusive
    end_exclusive = (pd.Timestamp(end) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    return yf.download(
        symbols,
        start=start,
        end=end_exclusive,
        auto_adjust=True,
        actions=False,
        progress=False,
        threads=False,
        timeout=network["timeout_s"],
        group_by="column",
        multi_level_index=True,
    )


# ---------------------------------------------------------------- the levels


@dataclass
class Outcome:
    series: pd.Series | None
    status: str
    attempts: int = 0
    last_error: str | None = None
    notes: list[str] = field(default_factory=list)


def read_level_file(path: Path, spec: dict) -> pd.Series | None:
    if not path.exists():
        return None
    return parse_series_csv(
        path.read_text(encoding="utf-8"), spec["id"], column=spec.get("column"), origin=str(path)
    )


def write_cache(series: pd.Series, path: Path) -> None:
    frame = pd.DataFrame({"date": series.index.strftime("%Y-%m-%d"), "value": series.to_numpy()})
    write_csv_atomic(frame, path, index=False)


def serve_from_files(
    spec: dict,
    cache_dir: Path,
    snapshot_dir: Path,
    start: str,
    end: str,
    attempts: int,
    last_error: str | None,
) -> Outcome:
    for status, folder in (("cached", cache_dir), ("snapshot", snapshot_dir)):
        series = read_level_file(folder / f"{spec['id']}.csv", spec)
        if series is not None:
            clipped = clip_to_range(series, start, end)
            if clipped.notna().any():
                return Outcome(clipped, status, attempts, last_error)
            logger.warning("%s: %s file has no values in %s..%s", spec["id"], status, start, end)
    return Outcome(None, "missing", attempts, last_error)


def ingest_source(
    source: str,
    specs: list[dict],
    start: str,
    end: str,
    offline: bool,
    network: dict,
    paths: dict,
    policy: RetryPolicy,
    api_key: str | None = None,
    yahoo_fetch: Callable[[list[str], str, str, dict], pd.DataFrame] = fetch_yahoo_batch,
    throttle: Throttle | None = None,
) -> dict[str, Outcome]:
    """Serve every series of one source from the first level that works."""
    cache_dir = Path(paths["cache"]) / source
    snapshot_dir = Path(paths["snapshot"])
    outcomes: dict[str, Outcome] = {}
    live: dict[str, tuple[pd.Series | None, int, str | None]] = {}
    notes: dict[str, list[str]] = {}
    if source == "csv":
        for spec in specs:
            path = Path(paths["local_csv"]) / f"{spec['id']}.csv"
            if not path.exists():
                raise InputDataError(
                    f"ingest: series {spec['id']} has source csv but {path} does not exist; "
                    f"put the file there or change paths.local_csv"
                )
            series = read_level_file(path, spec)
            if series is None or series.notna().sum() == 0:
                raise InputDataError(f"{path}: series {spec['id']} has no values (header only, or all empty)")
            live[spec["id"]] = (series, 1, None)
            notes[spec["id"]] = series.attrs.get("notes", [])
            for note in notes[spec["id"]]:
                logger.warning("%s: %s: %s", spec["id"], path, note)
    elif offline:
        logger.info("%s: offline mode, skipping the network", source)
    elif source == "fred":
        throttle = throttle or Throttle(0.5)
        for spec in specs:
            live[spec["id"]] = policy.call(
                lambda spec=spec: fetch_fred(spec, start, end, network, api_key, throttle),
                f"fred {spec['id']}",
            )
    elif source == "yahoo":
        symbols = [spec.get("symbol", spec["id"]) for spec in specs]

        def fetch_all() -> dict[str, pd.Series]:
            try:
                frame = yahoo_fetch(symbols, start, end, network)
            except FetchError:
                raise
            except Exception as err:  # yfinance raises its own and curl's types, YFRateLimitError among them
                raise FetchError(f"{type(err).__name__}: {err}", retryable=True) from None
            closes = normalise_yahoo_frame(frame, symbols)
            if not closes:
                raise FetchError("yfinance returned an empty frame (offline, rate-limited or bad tickers)")
            return closes

        closes, attempts, error = policy.call(fetch_all, f"yahoo {','.join(symbols)}")
        for spec, symbol in zip(specs, symbols):
            if closes is not None and symbol in closes:
                live[spec["id"]] = (closes[symbol], attempts, None)
            else:
                err = error if closes is None else "EmptySeries"
                if closes is not None:
                    logger.warning("yahoo %s: no data in the batch answer", symbol)
                live[spec["id"]] = (None, attempts, err)
    for spec in specs:
        series, attempts, error = live.get(spec["id"], (None, 0, None))
        if series is not None:
            series = clip_to_range(series.rename(spec["id"]), start, end)
        if series is not None and series.notna().any():
            if source != "csv":
                write_cache(series, cache_dir / f"{spec['id']}.csv")
            outcome = Outcome(series, "fresh", attempts, error, notes.get(spec["id"], []))
        else:
            if series is not None:
                logger.warning("%s: live answer has no values in %s..%s", spec["id"], start, end)
                error = error or "EmptySeries"
            outcome = serve_from_files(spec, cache_dir, snapshot_dir, start, end, attempts, error)
        level = {"fresh": "live source", "cached": "local cache", "snapshot": "bundled snapshot"}.get(
            outcome.status
        )
        if outcome.status == "missing":
            logger.warning(
                "%s: MISSING - no live data, no cache, not in the snapshot; pairs with it are skipped",
                spec["id"],
            )
        else:
            logger.info("%s: %s from the %s, %d rows", spec["id"], outcome.status, level, len(outcome.series))
        outcomes[spec["id"]] = outcome
    return outcomes


def tidy_frame(outcomes: dict[str, Outcome]) -> pd.DataFrame:
    parts = [
        pd.DataFrame(
            {"series": series_id, "date": o.series.index.strftime("%Y-%m-%d"), "value": o.series.to_numpy()}
        )
        for series_id, o in sorted(outcomes.items())
        if o.series is not None
    ]
    if not parts:
        return pd.DataFrame(
            {"series": pd.Series(dtype=str), "date": pd.Series(dtype=str), "value": pd.Series(dtype=float)}
        )
    return pd.concat(parts, ignore_index=True)


def status_record(source: str, outcomes: dict[str, Outcome], tidy: pd.DataFrame) -> dict:
    records = []
    for series_id, o in sorted(outcomes.items()):
        rows = tidy[tidy["series"] == series_id]
        digest = hashlib.sha256(rows.to_csv(index=False, lineterminator="\n").encode()).hexdigest()
        records.append(
            {
                "series": series_id,
                "status": o.status,
                "attempts": o.attempts,
                "last_error": o.last_error,
                "rows": int(len(rows)),
                "first": rows["date"].iloc[0] if len(rows) else None,
                "last": rows["date"].iloc[-1] if len(rows) else None,
                "sha256": digest,
                "notes": o.notes,
            }
        )
    statuses = {r["status"] for r in records}
    return {
        "source": source,
        "partial": statuses != {"fresh"},
        "written_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "series": records,
    }


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli_parser(__doc__)
    parser.add_argument("--source", required=True, choices=["fred", "yahoo", "csv"])
    parser.add_argument("--series", type=load_json_arg, required=True, help="JSON list of series specs")
    parser.add_argument("--start", required=True)
    parser.add_argument("--end", required=True)
    parser.add_argument("--offline", type=parse_bool, default=False)
    parser.add_argument("--network", type=load_json_arg, default={}, help="JSON: timeout_s, retries, ...")
    parser.add_argument("--paths", type=load_json_arg, default={}, help="JSON: cache, snapshot, local_csv")
    parser.add_argument("--csv", required=True, help="tidy raw output (series,date,value)")
    parser.add_argument("--ok", required=True, help="status JSON output")
    return parser.parse_args(argv)


NETWORK_DEFAULTS = {
    "timeout_s": 20,
    "retries": 3,
    "backoff_s": 1.0,
    "max_retry_time_s": 15,
    "fred_api_url": "https://api.stlouisfed.org/fred",
    "fred_csv_url": "https://fred.stlouisfed.org/graph/fredgraph.csv",
}
PATH_DEFAULTS = {"cache": "data/cache", "snapshot": "data/sample", "local_csv": "data/local"}


def main(argv=None) -> None:
    args = parse_args(argv)
    configure_logging(args.log)
    network = {**NETWORK_DEFAULTS, **args.network}
    paths = {**PATH_DEFAULTS, **args.paths}
    specs = [s for s in args.series if s["source"] == args.source]
    policy = RetryPolicy(
        retries=network["retries"], backoff_s=network["backoff_s"], max_wait_s=network["max_retry_time_s"]
    )
    api_key = os.environ.get("FRED_API_KEY") or None
    if args.source == "fred" and not args.offline:
        logger.info(
            "fred: %s",
            "API key found in FRED_API_KEY" if api_key else "no FRED_API_KEY; using the CSV download",
        )
    outcomes = ingest_source(
        args.source, specs, args.start, args.end, args.offline, network, paths, policy, api_key
    )
    tidy = tidy_frame(outcomes)
    write_csv_atomic(tidy, args.csv, index=False)
    write_json_atomic(status_record(args.source, outcomes, tidy), args.ok)
    counts = pd.Series([o.status for o in outcomes.values()]).value_counts().to_dict()
    logger.info("%s: wrote %s (%d rows); levels %s", args.source, args.csv, len(tidy), counts)


if __name__ == "__main__":
    run_script(main, globals())
