"""A corpus of malformed user files (tests/malformed/), each brought in as a local CSV
series: every one ends in a clear error naming the file and the problem, or in a DQ
flag; never a bare traceback, never a silently dropped row."""

import io
import shutil
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from corrflow.data import ingest
from corrflow.data.clean import clean_prices as clean_prices_with
from corrflow.data.dq import quality_report
from corrflow.data.sources.csv_format import read_csv_text
from corrflow.io import InputDataError, schema_defaults

# what the rule passes from a config that leaves them at the schema's defaults
clean_prices = partial(
    clean_prices_with,
    base_currency=schema_defaults()["base_currency"],
    max_gap_days=schema_defaults()["clean"]["max_gap_days"],
)

CORPUS = Path(__file__).parent / "malformed"
YIELD = {"kind": "yield", "maturity": 10}
PAIRS = [["X", "SPY"]]  # X is in a configured pair (its partner is not needed here)

# file -> (where it is caught, what is said); "ingest"/"clean": an InputDataError with that
# text; "dq": the DQ check that must not pass
EXPECTED = {
    "empty.csv": ("ingest", "empty file"),
    "header_only.csv": ("ingest", "has no values"),
    "all_nan.csv": ("ingest", "has no values"),
    "wrong_columns.csv": ("ingest", "no date column; found columns ['when', 'price']"),
    "no_header.csv": ("ingest", "no date column; found columns ['2020-01-02', '10']"),
    "text_in_numbers.csv": ("ingest", "non-numeric value(s) in column 'value', first at row 3: 'ten'"),
    "dash_for_missing.csv": ("ingest", "first at row 3: '-'"),
    "thousands_separator.csv": ("ingest", "first at row 2: '1,234.5'"),
    "duplicated_dates.csv": ("ingest", "date(s) appear more than once (2020-01-03)"),
    "future_dates.csv": ("ingest", "date(s) in the future, first at row 3: '2099-01-05'"),
    "excel_serial.csv": ("ingest", "Excel serial dates (row 2: '43832')"),
    "semicolon.csv": ("ingest", "semicolon-separated"),
    "tab_separated.csv": ("ingest", "tab-separated"),
    "mixed_date_formats.csv": (
        "ingest",
        "mixed date formats in column 'date': ISO (row 2) and M/D/YYYY (row 3",
    ),
    "trailing_garbage.csv": ("ingest", "first at row 4: 'Source: my broker export'"),
    "ragged_rows.csv": ("ingest", "not a well-formed CSV"),
    # a date without its comma was read as a missing value without a word
    "date_without_value.csv": (
        "ingest",
        "row 3: '2020-01-03' has fewer fields than the header's 2 (date, value); give its value, leave "
        "it empty after the comma ('2020-01-03,') to mark it missing, or remove the row",
    ),
    "impossible_date.csv": ("ingest", "impossible date in column 'date' at row 3: '2020-02-30'"),
    "negative_prices.csv": ("dq", "non_positive"),
    "zero_price.csv": ("dq", "non_positive"),
    "one_row.csv": ("dq", "history"),
    "stale_run.csv": ("dq", "stale"),
    "fat_finger_outlier.csv": ("dq", "outliers"),
    "long_gap.csv": ("dq", "missing"),
    "missing_values.csv": ("dq", "missing"),
    "unsorted_dates.csv": ("dq", "format"),
    "bom_crlf.csv": ("dq", "format"),
    "timezone_aware.csv": ("dq", "format"),
    "yield_decimals.csv": ("clean", "looks like decimals"),
    "yield_mixed_units.csv": ("clean", "jumps from 1.8 to 0.0181 on 2020-01-06: decimals mixed with percent"),
    "yield_out_of_bounds.csv": ("clean", "outside -5.0..30.0 %, first 188.0 on 2020-01-03"),
    # only finite numbers enter (issue 16.6)
    "inf_value.csv": ("ingest", "1 infinite value(s) in column 'value', first at row 3: 'inf'"),
    "infinity_value.csv": ("ingest", "1 infinite value(s) in column 'value', first at row 3: 'Infinity'"),
    "overflow_1e309.csv": ("ingest", "1 infinite value(s) in column 'value', first at row 4: '1e309'"),
    "minus_inf.csv": ("ingest", "1 infinite value(s) in column 'value', first at row 2: '-inf'"),
    "nan_text.csv": (
        "ingest",
        "non-numeric value(s) in column 'value', first at row 3: 'nan'; fix the file or leave",
    ),
    # encodings and non-files: one line each (issue 16.7)
    "latin1_header.csv": ("ingest", "not UTF-8 text (byte 0xf4 on line 1, perhaps Latin-1"),
    "utf16.csv": ("dq", "format"),  # decoded, with a note
    "binary.csv": ("ingest", "binary file, not CSV text"),
    "excel_workbook.csv": (
        "ingest",
        "an Excel workbook (.xlsx), not a CSV file; open it and save it as 'CSV UTF-8'",
    ),
    "directory.csv": ("ingest", "is a directory, not a CSV file"),
    # a Yahoo-style file without Adj Close (issue 12.2)
    "yahoo_unadjusted_close.csv": ("dq", "format"),
    # issue 22.2: caught where they are read, naming the file
    "two_rows.csv": ("clean", "series 'X' has only 2 values (2020-01-02..2020-01-03), too few for any"),
    "returns_as_prices.csv": ("clean", "price series 'X' looks like daily returns, not levels"),
    "volume_only.csv": ("ingest", "the only value column is 'Volume', which is not a closing price"),
}
NOTES = {
    "utf16.csv": "UTF-16 file decoded; save it as CSV UTF-8 to silence this note",
    "yahoo_unadjusted_close.csv": "unadjusted close: column 'Close' read (the file has no 'Adj Close')",
}
CLEAN_ERRORS_TOO = {"one_row.csv": "series 'X' has a single value"}
# flagged by DQ and left out by clean (a log return is undefined there), recorded in its metadata
CLEAN_LEAVES_OUT = {"negative_prices.csv": ("2020-01-03", -1.5), "zero_price.csv": ("2020-01-03", 0.0)}


def test_corpus_is_complete():
    assert sorted(p.name for p in CORPUS.glob("*.csv")) == sorted(EXPECTED)
    assert len(EXPECTED) >= 20


def bring_in(tmp_path: Path, name: str):
    """The file as series X of a csv source: ingest, then (if it passes) DQ and clean."""
    folder = tmp_path / "local"
    folder.mkdir()
    if (CORPUS / name).is_dir():
        shutil.copytree(CORPUS / name, folder / "X.csv")
    else:
        shutil.copy(CORPUS / name, folder / "X.csv")
    spec = {"id": "X", "source": "csv", **(YIELD if name.startswith("yield") else {"kind": "price"})}
    paths = {"cache": str(tmp_path / "cache"), "snapshot": str(tmp_path / "none"), "local_csv": str(folder)}
    outcomes = ingest.ingest_source(
        "csv", [spec], "2000-01-01", "2099-12-31", False, {}, paths, ingest.RetryPolicy()
    )
    tidy = ingest.tidy_frame(outcomes)
    status = ingest.status_record("csv", outcomes, tidy)["series"][0]
    raw = tidy.assign(date=pd.to_datetime(tidy["date"]))
    return spec, folder / "X.csv", raw, status


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_malformed_file_gets_a_clear_error_or_a_flag(tmp_path, name):
    stage, said = EXPECTED[name]
    if stage == "ingest":
        with pytest.raises(InputDataError) as err:
            bring_in(tmp_path, name)
        message = str(err.value)
        assert said in message and "X.csv" in message and "\n" not in message, message
        return
    spec, path, raw, status = bring_in(tmp_path, name)
    source_rows = pd.read_csv(io.StringIO(read_csv_text(path)[0].lstrip("\ufeff")))
    assert len(raw) == len(source_rows)  # nothing silently dropped
    report = quality_report(raw, [spec], {"X": status}, stale_days=10, outlier_z=8)
    checks = report["series"]["X"]["checks"]
    assert status["status"] == "local" and checks["level"] == "pass"  # a user file is not a failed download
    if stage == "dq":
        assert checks[said] != "pass", checks
    if name in NOTES:
        assert any(note.startswith(NOTES[name]) for note in status["notes"]), status["notes"]
    clean_error = said if stage == "clean" else CLEAN_ERRORS_TOO.get(name)
    if clean_error:
        with pytest.raises(InputDataError) as err:
            clean_prices(
                raw,
                [spec],
                {"X": status},
                "2000-01-01",
                "2099-12-31",
                origins={"X": "data/raw/csv.csv"},
                pairs=PAIRS,
            )
        message = str(err.value)
        assert clean_error in message and "data/raw/csv.csv" in message and "\n" not in message, message
        assert f"(from {path})" in message, message  # the user's own file, not only ingest's copy
    else:
        frame, meta = clean_prices(raw, [spec], {"X": status}, "2000-01-01", "2099-12-31")
        assert frame.index.is_unique and frame.index.is_monotonic_increasing
        if name in CLEAN_LEAVES_OUT:
            day, value = CLEAN_LEAVES_OUT[name]
            assert {"date": day, "value": value} in meta["series"]["X"]["non_positive"]
            assert np.isnan(frame.loc[day, "X"])


def test_timezone_aware_stamps_keep_their_local_date(tmp_path):
    _, _, raw, status = bring_in(tmp_path, "timezone_aware.csv")
    assert list(raw["date"].dt.strftime("%Y-%m-%d")) == ["2020-01-02", "2020-01-03"]
    assert "times of day and UTC offsets dropped" in status["notes"][0]


def test_east_of_utc_stamp_is_not_moved_to_the_previous_day():
    series = ingest.parse_series_csv("date,value\n2020-01-02T00:00:00+09:00,1\n", "X")
    assert series.index[0] == pd.Timestamp("2020-01-02")
