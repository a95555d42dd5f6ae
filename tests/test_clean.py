"""Clean & align (task B): calendar, limited fill, FX, validation errors."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from _helpers import InputDataError
from clean import align_series, business_calendar, clean_prices, convert_currency, read_raw
from conftest import SCRIPTS

SPECS = [
    {"id": "SPY", "kind": "price", "currency": "USD"},
    {"id": "DGS10", "kind": "yield", "currency": "USD", "maturity": 10},
]


def tidy(series_values: dict) -> pd.DataFrame:
    rows = [(sid, pd.Timestamp(d), v) for sid, points in series_values.items() for d, v in points]
    return pd.DataFrame(rows, columns=["series", "date", "value"])


def test_calendar_removes_anchor_holidays_only_inside_its_life():
    anchor = pd.Series(1.0, index=pd.bdate_range("2020-01-06", "2020-01-31").drop(pd.Timestamp("2020-01-20")))
    calendar, holidays = business_calendar("2020-01-01", "2020-02-07", anchor)
    assert holidays == 1 and pd.Timestamp("2020-01-20") not in calendar
    assert (
        pd.Timestamp("2020-01-01") in calendar and pd.Timestamp("2020-02-07") in calendar
    )  # outside its life
    assert calendar.is_unique and calendar.is_monotonic_increasing


def test_fill_is_limited_and_never_before_first_or_after_last():
    calendar = pd.bdate_range("2020-01-01", periods=15, name="date")
    series = pd.Series([1.0, 2.0, 3.0, 4.0], index=calendar[[2, 3, 9, 11]])
    aligned, stats = align_series(series, calendar, ffill_limit=3)
    assert aligned.iloc[:2].isna().all()  # before the first observation
    assert (
        aligned.iloc[4:7].tolist() == [2.0, 2.0, 2.0]
        and np.isnan(aligned.iloc[7])
        and np.isnan(aligned.iloc[8])
    )
    assert aligned.iloc[10] == 3.0
    assert aligned.iloc[12:].isna().all()  # the series ended on day 11
    assert stats["filled_days"] == 4 and stats["gap_days_left_nan"] == 2


def test_off_calendar_observation_is_used_as_of_the_next_day_and_counted():
    calendar = pd.bdate_range("2020-01-06", periods=7, name="date")  # Mon..Tue
    series = pd.Series([1.0, 2.0, 5.0], index=pd.to_datetime(["2020-01-06", "2020-01-11", "2020-01-14"]))
    aligned, stats = align_series(series, calendar, ffill_limit=3)
    assert stats["off_calendar_observations"] == 1
    assert aligned.loc["2020-01-13"] == 2.0  # Saturday's value carried to Monday


def test_clean_prices_unique_sorted_and_metadata():
    raw = tidy(
        {
            "SPY": [("2020-01-03", 100.0), ("2020-01-02", 99.0), ("2020-01-06", 101.0)],
            "DGS10": [("2020-01-02", 1.9), ("2020-01-03", 1.8), ("2020-01-06", 1.81)],
        }
    )
    frame, meta = clean_prices(
        raw, SPECS, {"SPY": {"status": "snapshot"}, "DGS10": {"status": "fresh"}}, "2020-01-01", "2020-01-10"
    )
    assert frame.index.is_unique and frame.index.is_monotonic_increasing
    assert list(frame.index.strftime("%Y-%m-%d")) == ["2020-01-02", "2020-01-03", "2020-01-06"]
    assert meta["series"]["SPY"]["status"] == "snapshot" and meta["series"]["DGS10"]["status"] == "fresh"
    assert frame.loc["2020-01-02", "DGS10"] == 1.9  # yields stay levels in percent


def test_missing_series_is_recorded_not_invented():
    raw = tidy({"SPY": [("2020-01-02", 99.0), ("2020-01-03", 100.0)]})
    frame, meta = clean_prices(raw, SPECS, {"DGS10": {"status": "missing"}}, "2020-01-01", "2020-01-10")
    assert "DGS10" not in frame.columns
    assert meta["series"]["DGS10"]["status"] == "missing" and not meta["series"]["DGS10"]["in_clean"]


@pytest.mark.parametrize(
    "values, kind, message",
    [
        ([1.0, -2.0], "price", "non-positive"),
        ([0.0794, 0.0799], "yield", "looks like decimals"),
        ([7.9, 79.0], "yield", "outside"),
    ],
)
def test_implausible_values_are_rejected(values, kind, message):
    spec = [{"id": "X", "kind": kind, "maturity": 10}]
    raw = tidy({"X": list(zip(["2020-01-02", "2020-01-03"], values))})
    with pytest.raises(InputDataError, match=message):
        clean_prices(raw, spec, {}, "2020-01-01", "2020-01-10", origins={"X": "data/raw/fred.csv"})


def test_fx_conversion_both_quote_directions():
    index = pd.bdate_range("2020-01-01", periods=3)
    frame = pd.DataFrame(
        {
            "DAX": [100.0, 110.0, 120.0],
            "NKY": [1000.0, 1100.0, 1200.0],
            "DEXUSEU": [1.1, 1.2, 1.0],
            "DEXJPUS": [100.0, 110.0, 120.0],
        },
        index=index,
    )
    specs = [
        {"id": "DAX", "kind": "price", "currency": "EUR"},
        {"id": "NKY", "kind": "price", "currency": "JPY"},
        {"id": "DEXUSEU", "kind": "fx", "base": "EUR", "currency": "USD"},
        {"id": "DEXJPUS", "kind": "fx", "base": "USD", "currency": "JPY"},
    ]
    out, used = convert_currency(frame, specs, "USD")
    np.testing.assert_allclose(out["DAX"], [110.0, 132.0, 120.0])  # EUR * USD per EUR
    np.testing.assert_allclose(out["NKY"], [10.0, 10.0, 10.0])  # JPY / JPY per USD
    assert used == {"DAX": "DEXUSEU", "NKY": "DEXJPUS"}


def test_missing_fx_names_series_and_config_key():
    frame = pd.DataFrame({"DAX": [100.0]}, index=pd.bdate_range("2020-01-01", periods=1))
    with pytest.raises(InputDataError, match=r"'DAX' is in EUR .* config key `series`"):
        convert_currency(frame, [{"id": "DAX", "kind": "price", "currency": "EUR"}], "USD")


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "empty file"),
        ("date,value\n2020-01-02,1\n", "schema drift"),
        ("series,date,value\nSPY,2020-01-02,1\nSPY,2020-01-02,2\n", "duplicated dates"),
        ("series,date,value\nSPY,02/01/2020,1\n", "row 2: date '02/01/2020'"),
        ("series,date,value\nSPY,2020-01-02,abc\n", "row 2: value 'abc'"),
    ],
)
def test_read_raw_errors_name_file_and_row(tmp_path, content, message):
    path = tmp_path / "fred.csv"
    path.write_text(content)
    with pytest.raises(InputDataError, match=message) as err:
        read_raw(path)
    assert str(path) in str(err.value)


def test_cli_error_is_one_clear_line_without_traceback(tmp_path):
    raw = tmp_path / "fred.csv"
    raw.write_text("date,value\n2020-01-02,1\n")
    ok = tmp_path / "fred.ok"
    ok.write_text('{"source": "fred", "series": []}')
    out = tmp_path / "clean.parquet"
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPTS / "clean.py"),
            "--raw",
            str(raw),
            "--ok",
            str(ok),
            "--series",
            '[{"id": "SPY", "kind": "price"}]',
            "--start",
            "2020-01-01",
            "--end",
            "2020-02-01",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "schema drift" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()
