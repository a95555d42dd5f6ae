"""Reading one series from CSV: the file's bytes (encodings, non-files), its layout
(``date,value``, FRED's download, yfinance's one- and three-row headers) and its values
(finite numbers only; empty and FRED's "." are missing, and in a Yahoo-layout file also
null, NaN, N/A and -). Shared by every source and by the cache and snapshot levels."""

import io
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from corrflow.io import InputDataError

logger = logging.getLogger("ingest")

DATE_COLUMNS = ("date", "observation_date", "DATE", "Date", "Datetime", "time period")
# Adj Close before Close: a file with both is read from its adjusted closes
VALUE_COLUMNS = ("value", "Adj Close", "adj close", "Close", "close", "price")
UNADJUSTED_COLUMNS = ("Close", "close")
YAHOO_ONLY_COLUMNS = {"Open", "High", "Low", "Volume"}
NOT_A_CLOSE = {"Volume", "volume", "Open", "open", "High", "high", "Low", "low"}  # never taken as the value
MISSING_MARKERS = ["", "."]  # empty, or FRED's "."; any other text (nan, NA, -) is an error
# ...except in a Yahoo-layout file (its columns, or yfinance's 3-row header): Yahoo's
# downloads write a day without a value as 'null', others NaN, N/A or '-'
YAHOO_MISSING_MARKERS = ("null", "NaN", "N/A", "-")
YAHOO_MARKERS_NOTE = "Yahoo's missing-value markers read as missing"  # how the note starts (DQ: info)
# the one note on a file that asks the user to act (the others say what was handled)
UNADJUSTED_NOTE = "unadjusted close"


class NonFiniteValueError(InputDataError):
    """A value such as inf, Infinity or 1e309: text that parses, but not a finite number."""


ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
US_DATE = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")
EXCEL_SERIAL = re.compile(r"^\d{5}(\.\d+)?$")


def decode_csv_bytes(data: bytes, where: str) -> tuple[str, list[str]]:
    """CSV bytes as text: UTF-8 (a byte-order mark is dropped) or UTF-16 with its BOM;
    anything else (another encoding, a binary file, a workbook) is a one-line error."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), ["UTF-16 file decoded; save it as CSV UTF-8 to silence this note"]
        except UnicodeDecodeError:
            raise InputDataError(f"{where}: broken UTF-16 text; save the file as CSV UTF-8") from None
    if data.startswith(b"PK\x03\x04"):
        raise InputDataError(
            f"{where}: this is an Excel workbook (.xlsx), not a CSV file; open it and save it as 'CSV UTF-8'"
        )
    if b"\x00" in data[:4096]:
        raise InputDataError(
            f"{where}: binary file, not CSV text (NUL bytes near the start); export the data as CSV UTF-8 "
            f"(a UTF-16 file needs its byte-order mark)"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputDataError(
            f"{where}: not UTF-8 text (byte 0x{data[err.start]:02x} on line {line}, perhaps Latin-1 or "
            f"Windows-1252); save it as CSV UTF-8, e.g. `iconv -f latin1 -t utf-8 in.csv > out.csv`"
        ) from None
    return text, []


def read_csv_text(path: str | Path) -> tuple[str, list[str]]:
    """A CSV file's text and notes on its encoding; one-line errors for non-files."""
    path = Path(path)
    if path.is_dir():
        raise InputDataError(f"{path}: is a directory, not a CSV file; put the series' CSV file at this path")
    if not path.is_file():
        raise InputDataError(f"{path}: not a regular file; put the series' CSV file at this path")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputDataError(f"{path}: cannot be read ({err.strerror}); check its permissions") from None
    return decode_csv_bytes(data, str(path))


def data_row(mask: pd.Series, skip: int = 0) -> int:
    """1-based file line of the first True in ``mask`` (after the header rows)."""
    return int(np.flatnonzero(mask.to_numpy())[0]) + 2 + skip


def parse_dates(raw: pd.Series, where: str, column: str, skip: int = 0) -> pd.DatetimeIndex:
    """Dates as written: ISO (a time and UTC offset may follow; the local date is kept, so
    yfinance's ``2020-01-02 00:00:00-05:00`` is 2 January) or, throughout, US ``M/D/YYYY``
    as in FRED's older downloads. Anything else, or a mix, is an error naming the row."""
    text = raw.fillna("").astype(str).str.strip()
    iso = text.str.match(ISO_DATE)
    us = text.str.match(US_DATE)
    other = ~(iso | us)
    if other.any():
        first = text[other].iloc[0]
        if text[other].str.match(EXCEL_SERIAL).all():
            raise InputDataError(
                f"{where}: column {column!r} holds Excel serial dates (row {data_row(other, skip)}: "
                f"{first!r}); "
                f"format the column as dates (YYYY-MM-DD) before saving the CSV"
            )
        raise InputDataError(
            f"{where}: {int(other.sum())} unreadable date(s) in column {column!r}, first at row "
            f"{data_row(other, skip)}: {first!r}; use ISO dates (YYYY-MM-DD) and remove notes or footers "
            f"below the data"
        )
    if iso.any() and us.any():
        raise InputDataError(
            f"{where}: mixed date formats in column {column!r}: ISO (row {data_row(iso, skip)}) and M/D/YYYY "
            f"(row {data_row(us, skip)}: {text[us].iloc[0]!r}); use one format, preferably YYYY-MM-DD"
        )
    if iso.all():
        dates = pd.to_datetime(text.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    else:
        dates = pd.to_datetime(text, format="%m/%d/%Y", errors="coerce")
    if dates.isna().any():
        bad = text[dates.isna()].iloc[0]
        day_first = not iso.all() and text.str.extract(r"^(\d+)/", expand=False).astype(float).gt(12).any()
        raise InputDataError(
            f"{where}: impossible date in column {column!r} at row {data_row(dates.isna(), skip)}: "
            f"{bad!r}"
            + (
                "; slash dates are read as US M/D/YYYY, and this one reads only day first "
                "(DD/MM/YYYY): save the dates as YYYY-MM-DD"
                if day_first
                else ""
            )
        )
    future = dates > pd.Timestamp.today().normalize()
    if future.any():
        raise InputDataError(
            f"{where}: {int(future.sum())} date(s) in the future, first at row {data_row(future, skip)}: "
            f"{text[future].iloc[0]!r}; check the date column and its format"
        )
    return pd.DatetimeIndex(dates.to_numpy(), name="date")


def finite_values(raw: pd.Series, where: str, column: str, skip: int) -> np.ndarray:
    """The column's numbers; text that is not a number, and inf/Infinity/1e309, are errors."""
    text = raw.str.strip()
    values = pd.to_numeric(text, errors="coerce")
    not_numbers = values.isna() & raw.notna()
    if not_numbers.any():
        raise InputDataError(
            f"{where}: {int(not_numbers.sum())} non-numeric value(s) in column {column!r}, first at row "
            f"{data_row(not_numbers, skip)}: {raw[not_numbers].iloc[0]!r}; fix the file or leave missing "
            f"values empty"
        )
    array = values.to_numpy(dtype="float64", na_value=np.nan)
    infinite = pd.Series(np.isinf(array), index=raw.index)
    if infinite.any():
        raise NonFiniteValueError(
            f"{where}: {int(infinite.sum())} infinite value(s) in column {column!r}, first at row "
            f"{data_row(infinite, skip)}: {raw[infinite].iloc[0]!r}; only finite numbers are data - fix "
            f"the value or leave it empty"
        )
    return array


def first_short_row(lines: list[str], first_data_line: int, fields: int) -> tuple[int, str] | None:
    """(line number, line) of the first data line with fewer fields than the header, which
    pandas would read as missing values without a word (a date without its comma and
    value); blank lines (counted by DQ) and quoted lines (commas inside quotes) aside."""
    for number, line in enumerate(lines[first_data_line:], first_data_line + 1):
        if line.strip() and '"' not in line and line.count(",") < fields - 1:
            return number, line
    return None


def parse_series_csv(
    text: str, series_id: str, column: str | None = None, origin: str = "", kind: str | None = None
) -> pd.Series:
    """Parse one series from CSV text: ``date,value``, FRED's download, or yfinance's CSVs.

    yfinance writes either a single header (Date,Open,...,Close,...) or a 3-row header
    (Price / Ticker / Date). FRED writes ``observation_date,<ID>`` (older: ``DATE,<ID>``)
    with "." on days without a value. ``Adj Close`` is taken over ``Close``; ``column``
    overrides. Rows may come in any order (they are sorted); a date given twice is an
    error. Returns a float Series on a sorted DatetimeIndex (empty when the file has a
    header but no rows), with ``attrs["column"]`` (the column read) and ``attrs["notes"]``.
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
            na_values=MISSING_MARKERS,
            keep_default_na=False,
            dtype=str,
        )
    except pd.errors.ParserError as err:
        detail = " ".join(str(err).split())  # pandas ends its message with a newline
        raise InputDataError(f"{where}: not a well-formed CSV ({detail}); fix or remove that line") from None
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
        if len(others) == 1 and not column and others[0] in NOT_A_CLOSE:
            # a lone Volume column would be read as prices: share counts, not closes
            raise InputDataError(
                f"{where}: the only value column is {others[0]!r}, which is not a closing price; "
                f"export the closes ('Adj Close' or 'Close') with the file, or set `column: {others[0]}` "
                f"for series {series_id} in config/config.yaml if that column is what you mean"
            )
        if len(others) == 1 and not column:
            value_col = others[0]
        else:
            hint = f"set `column:` for series {series_id} in config/config.yaml"
            raise InputDataError(
                f"{where}: no value column {column or list(VALUE_COLUMNS)}; found {header}; {hint}"
            )
    yahoo_style = skip > 0 or bool(YAHOO_ONLY_COLUMNS & set(frame.columns))
    index = parse_dates(frame[date_col], where, date_col, skip)
    raw_values = frame[value_col]
    if yahoo_style:
        marked = raw_values.str.strip().isin(YAHOO_MISSING_MARKERS)
        if marked.any():
            counts = raw_values[marked].str.strip().value_counts()
            notes.append(
                f"{YAHOO_MARKERS_NOTE}: {int(marked.sum())} row(s) in column {value_col!r} ("
                + ", ".join(f"{marker!r} x{count}" for marker, count in counts.items())
                + f"), first on {index[marked.to_numpy()][0].date()}"
            )
            raw_values = raw_values.mask(marked)
    values = finite_values(raw_values, where, value_col, skip)
    short = first_short_row(lines, 1 + skip, len(header))
    if short is not None:
        number, line = short
        raise InputDataError(
            f"{where}: row {number}: {line!r} has fewer fields than the header's {len(header)} "
            f"({', '.join(header)}); give its value, leave it empty after the comma "
            f"('{line.strip()},') to mark it missing, or remove the row"
        )
    if index.has_duplicates:
        repeated = sorted(set(index[index.duplicated()].strftime("%Y-%m-%d")))
        raise InputDataError(
            f"{where}: {len(repeated)} date(s) appear more than once ({', '.join(repeated[:3])}"
            f"{', ...' if len(repeated) > 3 else ''}); keep one row per date"
        )
    if not index.is_monotonic_increasing:
        notes.append("rows were not in date order; sorted")
    if frame[date_col].astype(str).str.contains("/", regex=False).any():
        # a day-first file whose days are all 12 or less reads without an error: say so
        notes.append("slash dates read as US M/D/YYYY (month first); a day-first file needs YYYY-MM-DD")
    if frame[date_col].astype(str).str.contains(r"\d[ T]\d\d:\d\d", regex=True).any():
        notes.append("times of day and UTC offsets dropped; each row's own local date kept")
    if kind == "price" and not column and value_col in UNADJUSTED_COLUMNS and yahoo_style:
        notes.append(
            f"{UNADJUSTED_NOTE}: column {value_col!r} read (the file has no 'Adj Close'), so dividends and "
            f"splits show as price moves; supply adjusted closes, or set `column: {value_col}` for "
            f"{series_id} if these closes are already adjusted (yfinance auto_adjust=True)"
        )
    series = pd.Series(values, index=index, name=series_id).sort_index()
    series.attrs["notes"] = notes  # reach the .ok file and the DQ report's format check
    series.attrs["column"] = value_col
    return series


def clip_to_range(series: pd.Series, start: str, end: str) -> pd.Series:
    clipped = series.loc[pd.Timestamp(start) : pd.Timestamp(end)]
    if len(clipped) < len(series):
        logger.info(
            "%s: %d row(s) outside %s..%s left out", series.name, len(series) - len(clipped), start, end
        )
    return clipped


def series_csv_text(series: pd.Series) -> str:
    """The ``date,value`` text the cache stores (and hashes)."""
    frame = pd.DataFrame({"date": series.index.strftime("%Y-%m-%d"), "value": series.to_numpy()})
    return frame.to_csv(index=False, lineterminator="\n")
