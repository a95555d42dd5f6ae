"""Clean & align (task B): calendar, limited fill, FX, validation errors."""

import subprocess
from functools import partial

import numpy as np
import pandas as pd
import pytest

from conftest import corrflow_command
from corrflow.data.clean import clean_prices as clean_prices_with
from corrflow.data.clean import convert_currency
from corrflow.data.contracts import read_raw
from corrflow.io import InputDataError, schema_defaults

SPECS = [
    {"id": "SPY", "kind": "price", "currency": "USD"},
    {"id": "DGS10", "kind": "yield", "currency": "USD", "maturity": 10},
]


# what the rule passes from a config that leaves them at the schema's defaults
clean_prices = partial(
    clean_prices_with,
    base_currency=schema_defaults()["base_currency"],
    max_gap_days=schema_defaults()["clean"]["max_gap_days"],
)


def tidy(series_values: dict) -> pd.DataFrame:
    rows = [(sid, pd.Timestamp(d), v) for sid, points in series_values.items() for d, v in points]
    return pd.DataFrame(rows, columns=["series", "date", "value"])


def test_each_series_keeps_its_own_market_days_and_nothing_is_filled():
    # Columbus Day 2015-10-12: NYSE open, bond market (SIFMA US) closed
    days = pd.bdate_range("2015-10-07", "2015-10-16")
    raw = tidy(
        {
            "SPY": [(d, 100.0 + i) for i, d in enumerate(days) if d != pd.Timestamp("2015-10-14")],
            "DGS10": [(d, 2.0 + i / 100) for i, d in enumerate(days) if d != pd.Timestamp("2015-10-12")],
        }
    )
    frame, meta = clean_prices(raw, SPECS, {}, "2015-10-01", "2015-10-31")
    assert meta["series"]["SPY"]["calendar"] == "NYSE" and meta["series"]["DGS10"]["calendar"] == "SIFMA_US"
    assert "2015-10-12" in meta["calendars"]["SIFMA_US"] and "2015-10-12" not in meta["calendars"]["NYSE"]
    assert pd.Timestamp("2015-10-12") in frame.index  # the union of the two calendars
    assert np.isnan(frame.loc["2015-10-12", "DGS10"])  # closed: no value made up
    assert np.isnan(frame.loc["2015-10-14", "SPY"])  # a missing day stays missing (no forward fill)
    assert meta["series"]["SPY"]["missing_open_days"] == 1


def test_series_ending_early_changes_no_other_series():
    days = pd.bdate_range("2016-11-01", "2016-12-30")
    nyse_holidays = {pd.Timestamp("2016-11-24"), pd.Timestamp("2016-12-26")}
    trading = [d for d in days if d not in nyse_holidays]
    long = [(d, 100.0 + i) for i, d in enumerate(trading)]
    specs = [{"id": "SPY", "kind": "price"}, {"id": "SP500", "kind": "price"}]
    alone, _ = clean_prices(tidy({"SPY": long}), specs[:1], {}, "2016-11-01", "2016-12-30")
    short = [(d, v) for d, v in long if d < pd.Timestamp("2016-11-15")]
    together, meta = clean_prices(tidy({"SPY": long, "SP500": short}), specs, {}, "2016-11-01", "2016-12-30")
    pd.testing.assert_series_equal(together["SPY"], alone["SPY"])
    assert pd.Timestamp("2016-11-24") not in together.index  # Thanksgiving, after SP500 ended
    assert meta["series"]["SP500"]["stale"] and meta["series"]["SP500"]["days_behind"] > 20
    assert meta["data_through"] == "2016-11-14"


def test_observation_on_a_closed_day_is_left_out_and_counted():
    raw = tidy({"SPY": [("2020-01-06", 1.0), ("2020-01-11", 2.0), ("2020-01-14", 5.0)]})  # 11th: Saturday
    frame, meta = clean_prices(raw, SPECS[:1], {}, "2020-01-01", "2020-01-31")
    assert pd.Timestamp("2020-01-11") not in frame.index
    assert meta["series"]["SPY"]["off_calendar_observations"] == 1
    assert meta["series"]["SPY"]["off_calendar_dates"] == ["2020-01-11"]


def test_non_positive_price_is_left_out_and_recorded_not_a_crash():
    raw = tidy(
        {"WTI": [("2020-04-16", 19.87), ("2020-04-17", 18.27), ("2020-04-20", -36.98), ("2020-04-21", 8.91)]}
    )
    frame, meta = clean_prices(raw, [{"id": "WTI", "kind": "price"}], {}, "2020-04-01", "2020-04-30")
    assert np.isnan(frame.loc["2020-04-20", "WTI"])
    assert meta["series"]["WTI"]["non_positive"] == [{"date": "2020-04-20", "value": -36.98}]


def test_a_single_observation_is_a_clear_error_naming_the_file():
    raw = tidy({"SPY": [("2020-01-02", 100.0)]})
    with pytest.raises(InputDataError, match=r"data/local/SPY.csv: series 'SPY' has a single value"):
        clean_prices(raw, SPECS[:1], {}, "2020-01-01", "2020-01-31", origins={"SPY": "data/local/SPY.csv"})


def test_yield_file_of_daily_changes_is_refused():
    rng = np.random.default_rng(1)
    days = pd.bdate_range("2019-01-02", periods=300)
    raw = tidy({"DGS10": list(zip(days, np.round(rng.normal(0, 0.05, len(days)), 2), strict=False))})
    with pytest.raises(
        InputDataError, match=r"looks like daily changes, not a level: \d+% of values are negative"
    ):
        clean_prices(
            raw, SPECS[1:], {}, "2019-01-01", "2020-12-31", origins={"DGS10": "data/local/DGS10.csv"}
        )


def test_origin_labels_say_where_each_series_came_from():
    raw = tidy(
        {
            "SPY": [("2020-01-02", 99.0), ("2020-01-03", 100.0)],
            "DGS10": [("2020-01-02", 1.9), ("2020-01-03", 1.8)],
        }
    )
    statuses = {
        "SPY": {"status": "local", "path": "data/local/SPY.csv", "column": "Adj Close"},
        "DGS10": {"status": "cached", "downloaded_at": "2026-11-20T21:00:00+00:00"},
    }
    _, meta = clean_prices(
        raw,
        [dict(s, source=src) for s, src in zip(SPECS, ("csv", "fred"), strict=False)],
        statuses,
        "2020-01-01",
        "2020-01-10",
    )
    assert meta["series"]["SPY"]["origin"] == "local file data/local/SPY.csv"
    assert meta["series"]["SPY"]["column"] == "Adj Close"
    assert meta["series"]["DGS10"]["origin"] == "cache (downloaded 2026-11-20)"


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
        ([0.0794, 0.0799], "yield", "looks like decimals"),
        ([7.9, 79.0], "yield", "outside"),
    ],
)
def test_implausible_values_are_rejected(values, kind, message):
    spec = [{"id": "X", "kind": kind, "maturity": 10}]
    raw = tidy({"X": list(zip(["2020-01-02", "2020-01-03"], values, strict=False))})
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
    assert {k: {"from": v["from"], "with": v["with"]} for k, v in used.items()} == {
        "DAX": {"from": "EUR", "with": "DEXUSEU"},
        "NKY": {"from": "JPY", "with": "DEXJPUS"},
    }
    assert used["DAX"]["dropped_after_rate_end"] == used["DAX"]["dropped_without_rate"] == 0
    # a local-currency series keeps its own values
    local = [{**s, "local_currency": True} if s["id"] == "NKY" else s for s in specs]
    out, used = convert_currency(frame, local, "USD")
    np.testing.assert_allclose(out["NKY"], frame["NKY"]) and "NKY" not in used


@pytest.mark.parametrize(
    "base, currency, values",
    [
        ("JPY", "USD", [109.5, 110.2, 108.7]),  # DEXJPUS (yen per dollar) declared as dollars per yen
        ("USD", "EUR", [1.3, 1.45, 1.55]),  # DEXUSEU (dollars per euro, 2008) declared as euros per dollar
        ("USD", "GBP", [1.6, 1.55, 1.7]),  # DEXUSUK the wrong way
    ],
)
def test_a_wrong_way_fx_rate_stops_the_run_with_one_line(base, currency, values):
    frame = pd.DataFrame({"RATE": values}, index=pd.bdate_range("2020-01-01", periods=3))
    specs = [{"id": "RATE", "kind": "fx", "base": base, "currency": currency}]
    with pytest.raises(InputDataError) as error:
        convert_currency(frame, specs, "USD")
    message = str(error.value)
    assert "\n" not in message and "'RATE'" in message
    assert f"base: {currency}, currency: {base}" in message  # the fix: swap them


def test_a_right_way_fx_rate_passes():
    frame = pd.DataFrame({"RATE": [109.5, 110.2]}, index=pd.bdate_range("2020-01-01", periods=2))
    convert_currency(frame, [{"id": "RATE", "kind": "fx", "base": "USD", "currency": "JPY"}], "USD")


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
            *corrflow_command("clean"),
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


def test_a_price_whose_fx_rate_ends_early_ends_with_it_and_the_cause_is_named(caplog):
    """FTSE in GBP converted with DEXUSUK, which ends months before FTSE's own file: the
    closes after the rate's end are dropped with a log line naming the rate, the metadata
    says why the series ends, the report's words name the rate (not 'FTSE stale') and DQ
    warns on FTSE's coverage with the same cause."""
    import logging

    from corrflow.data.dq import quality_report
    from corrflow.present.summary import stale_series

    days = pd.bdate_range("2021-01-04", "2021-12-31")
    rate_days = days[days <= "2021-07-02"]
    raw = tidy(
        {
            "SPY": [(d, 100.0 + i) for i, d in enumerate(days)],
            "FTSE": [(d, 7000.0 + i) for i, d in enumerate(days)],
            "DEXUSUK": [(d, 1.30 + i / 1000) for i, d in enumerate(rate_days)],
        }
    )
    specs = [
        {"id": "SPY", "kind": "price", "currency": "USD"},
        {"id": "FTSE", "kind": "price", "currency": "GBP", "calendar": "XLON"},
        {"id": "DEXUSUK", "kind": "fx", "base": "GBP", "currency": "USD"},
    ]
    with caplog.at_level(logging.WARNING, logger="clean"):
        frame, meta = clean_prices(raw, specs, {}, "2021-01-01", "2021-12-31", pairs=[["SPY", "FTSE"]])
    ftse = meta["series"]["FTSE"]
    own_after = frame.index[(frame.index > "2021-07-02")]
    from corrflow.data.calendars import sessions

    london = sessions("XLON", "2021-07-03", "2021-12-31")
    dropped = int(raw[(raw["series"] == "FTSE") & raw["date"].isin(london)].shape[0])
    assert frame.loc[own_after, "FTSE"].isna().all() and ftse["last"] == "2021-07-02"
    assert ftse["dropped_after_rate_end"] == dropped > 100
    assert ftse["ends_because"] == "its fx rate DEXUSUK ends on 2021-07-02 (its own data runs to 2021-12-31)"
    assert any(
        f"FTSE: {dropped} closes after 2021-07-02 dropped" in line and "DEXUSUK ends" in line
        for line in (r.getMessage() for r in caplog.records)
    )
    words = stale_series(meta["series"], "2021-12-31")["FTSE"]
    assert words.startswith("ends 2021-07-02: its fx rate DEXUSUK ends") and "stale" not in words
    # DQ reads the raw files, where FTSE runs to December: it names the rate as the cause
    dq = quality_report(raw, specs, {}, 10, 10.0, "2021-01-01", "2021-12-31", pairs=[], base_currency="USD")
    ftse_dq = dq["series"]["FTSE"]
    assert ftse_dq["last"] == "2021-12-31" and ftse_dq["checks"]["coverage"] == "warn"
    assert ftse_dq["ends_with_rate"] == {"rate": "DEXUSUK", "rate_last": "2021-07-02", "dropped": dropped}
    assert any("with DEXUSUK, which ends on 2021-07-02" in n for n in ftse_dq["coverage_notes"])
    # the default universe converts nothing: no such keys in its metadata
    _, plain = clean_prices(raw[raw["series"] == "SPY"], specs[:1], {}, "2021-01-01", "2021-12-31")
    assert "ends_because" not in plain["series"]["SPY"] and "own_last" not in plain["series"]["SPY"]
