"""Ken French's Data Library: the US equity market's daily total return (Mkt-RF + RF), as
an index, from the daily Fama/French factors file (a zip holding one CSV).

The index is 100 * cumprod(1 + (Mkt-RF + RF) / 100) from the file's first day, rounded
to 6 decimals: the same derivation as the bundled snapshot's FF_MKT (build_sample.py
uses this parser). The library publishes a new vintage monthly (CRSP revisions can move
old values slightly), so the history check compares dates, not values.
"""

import io
import re
import zipfile
from datetime import datetime

import pandas as pd

from corrflow.data.http_client import FetchError, http_get_within
from corrflow.data.sources.base import FetchContext, Live, Source
from corrflow.io import InputDataError

FRENCH_DATE = re.compile(r"^\s*(\d{8})\s*$")
NUMBER = re.compile(r"-?\d+(\.\d*)?")
FRENCH_MISSING_CODES = (-99.99, -999.0)


def french_daily_factors(text: str, where: str) -> pd.DataFrame:
    """Ken French's daily factors file: a text preamble, a header ``,Mkt-RF,SMB,HML,RF``,
    rows ``YYYYMMDD, v, ...`` in percent, then a blank line and a copyright footer."""
    lines = text.splitlines()
    header_at = next(
        (i for i, line in enumerate(lines) if {"Mkt-RF", "RF"} <= {f.strip() for f in line.split(",")}),
        None,
    )
    if header_at is None:
        raise InputDataError(
            f"{where} has no header line with Mkt-RF and RF; expected Ken French's "
            f"F-F_Research_Data_Factors_daily.csv"
        )
    names = [f.strip() for f in lines[header_at].split(",")]
    names[0] = "date"
    rows = []
    end = len(lines)
    for number, line in enumerate(lines[header_at + 1 :], start=header_at + 2):
        fields = line.split(",")
        if not FRENCH_DATE.match(fields[0]):
            end = number - 1
            break
        if len(fields) != len(names):
            raise InputDataError(
                f"{where} line {number} has {len(fields)} fields, the header has {len(names)}"
            )
        try:
            datetime.strptime(fields[0].strip(), "%Y%m%d")
        except ValueError:
            raise InputDataError(
                f"{where} line {number} has the date {fields[0].strip()!r}, not YYYYMMDD"
            ) from None
        values = [f.strip() for f in fields[1:]]
        if not all(NUMBER.fullmatch(v) for v in values):
            raise InputDataError(f"{where} line {number} has a value that is not a number: {line!r}")
        rows.append([fields[0].strip(), *values])
    # the daily file holds one table; a second one (as the monthly file's annual table) is not this file
    after = [line for line in lines[end:] if line.split(",")[0].strip().isdigit()]
    if after:
        raise InputDataError(
            f"{where} has a second table after line {end} ({after[0][:40]!r}); "
            f"expected the daily file, which has one"
        )
    if not rows:
        raise InputDataError(f"{where} has no data rows under its header (line {header_at + 1})")
    frame = pd.DataFrame(rows, columns=names)
    index = pd.DatetimeIndex(pd.to_datetime(frame["date"], format="%Y%m%d"), name="date")
    factors = pd.DataFrame(
        {name: frame[name].astype("float64").to_numpy() for name in names[1:]}, index=index
    )
    if not (index.is_unique and index.is_monotonic_increasing):
        raise InputDataError(f"{where}: dates are not unique and increasing")
    missing_coded = factors.isin(FRENCH_MISSING_CODES)
    if missing_coded.to_numpy().any():
        day = factors.index[missing_coded.any(axis=1).to_numpy()][0].date()
        raise InputDataError(f"{where} has French's missing-value code (-99.99 or -999) on {day}")
    return factors


def market_total_return_index(factors: pd.DataFrame) -> pd.Series:
    """100 * cumprod(1 + (Mkt-RF + RF) / 100): the market's total return, dividends included."""
    market_return = (factors["Mkt-RF"] + factors["RF"]) / 100.0
    return (100.0 * (1.0 + market_return).cumprod()).round(6)


def fetch_french_market(url: str, deadline_s: float) -> pd.Series:
    """The zip from the library, its one CSV parsed into the total return index."""
    body = http_get_within(url, deadline_s, "french")
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if len(names) != 1:
                raise FetchError(f"Malformed: the zip holds {names}, not one CSV", code="Malformed")
            text = archive.read(names[0]).decode("latin-1")  # written on Windows
    except zipfile.BadZipFile as err:
        raise FetchError(f"Malformed: not a zip file ({err})", code="Malformed") from None
    try:
        return market_total_return_index(french_daily_factors(text, "Ken French daily factors"))
    except InputDataError as err:
        raise FetchError(f"Malformed: {err}", code="Malformed", retryable=False) from None


class FrenchSource(Source):
    name = "french"
    label = "Ken French Data Library"

    def fetch(self, specs: list[dict], ctx: FetchContext) -> dict[str, Live]:
        out: dict[str, Live] = {}
        for spec in specs:
            series_id, label = spec["id"], f"french {spec['id']}"

            def attempt(deadline_s, spec=spec, label=label):
                timeout_s = ctx.network["timeout_s"]
                deadline_s = timeout_s if deadline_s is None else min(deadline_s, timeout_s)
                series = fetch_french_market(ctx.network["french_url"], deadline_s)
                series = series.rename(spec["id"]).loc[pd.Timestamp(ctx.start) : pd.Timestamp(ctx.end)]
                # the index is rebuilt from each vintage's factors: dates are compared, not values
                return series, ctx.accept(series, spec, label, compare_values=False).notes

            # the deadline and budget count the transfer; unzipping and parsing run after it
            done = ctx.policy.call(attempt, label, bounds_itself=True)
            live = Live.from_attempts(done, column="Mkt-RF + RF")
            if done.result is not None:
                live.series, live.notes = done.result
            out[series_id] = live
        return out
