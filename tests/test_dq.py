"""Data-quality checks (task H): each check, and the real WTI crash in the bundled snapshot."""

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, corrflow_command
from corrflow.data import ingest
from corrflow.data.dq import longest_run, quality_report, render_markdown, series_checks


def test_longest_run():
    assert longest_run(np.array([0, 1, 1, 0, 1, 1, 1, 0], bool)) == (3, 4)
    assert longest_run(np.array([0, 0], bool)) == (0, -1)


def test_each_check_flags_what_it_should():
    # NYSE sessions only: MLK day and Presidents' Day are not trading days
    index = pd.bdate_range("2020-01-02", periods=60).drop(pd.to_datetime(["2020-01-20", "2020-02-17"]))
    rng = np.random.default_rng(0)
    values = pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(index)))), index=index)
    values.iloc[10:22] = values.iloc[10]  # a stale run of 12 equal values
    values.iloc[40] = values.iloc[39] * 0.5  # a crash
    values.iloc[41:] *= 0.5
    values.iloc[30] = np.nan  # a row without a value
    result = series_checks(values, "price", "snapshot", stale_days=10, outlier_z=8, duplicates=2)
    assert result["checks"] == {
        "coverage": "pass",
        "calendar": "pass",
        "history": "warn",
        "missing": "warn",
        "duplicates": "fail",
        "stale": "info",  # inside the history: the source's own record, nothing to fix
        "non_positive": "pass",
        "outliers": "info",  # a crash the market did not take back: a real move
        "format": "pass",
        "level": "info",  # served by the bundled snapshot: worth knowing, nothing to do
    }
    assert result["longest_stale_run"] == 12 and result["stale_from"] == str(index[10].date())
    assert [o["date"] for o in result["outliers"]] == [str(index[40].date())]
    assert result["outliers"][0]["likely_error"] is False
    assert result["missing_values"] == 1


def test_dq_warns_only_where_the_user_can_act():
    """A value typed x100 (out and straight back) and a feed that stopped updating (equal
    values up to the last) are warnings; a snapshot that ends before `end` is information
    that says how to get newer days; the markdown says which reading each outlier has."""
    index = pd.bdate_range("2021-03-01", periods=80)
    rng = np.random.default_rng(4)
    values = pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(index)))), index=index)
    values.iloc[30] *= 100  # a fat finger
    values.iloc[-12:] = values.iloc[-13]  # the feed stopped: 13 equal values to the end
    result = series_checks(values, "price", "fresh", stale_days=10, outlier_z=8, calendar="XNYS")
    assert result["checks"]["outliers"] == "warn" and result["outliers"][0]["likely_error"] is True
    assert result["checks"]["stale"] == "warn" and result["stale_at_end"] is True
    snapshot = series_checks(values.iloc[:25], "price", "snapshot", 10, 8, calendar="XNYS", end="2021-12-31")
    assert snapshot["checks"]["coverage"] == "info"
    assert "a live run with `offline: false` gets the newer days" in snapshot["coverage_notes"][0]
    markdown = render_markdown({"thresholds": {"stale_days": 10, "outlier_z": 8}, "series": {"X": result}})
    assert "likely data error" in markdown and "the source may have stopped updating" in markdown
    # the move straight back is the error's, not a market move (the data engineer's finding)
    back = result["outliers"][1]
    assert back["date"] == str(index[31].date()) and back["back_from"] == str(index[30].date())
    rows = [line for line in markdown.splitlines() if line.startswith(f"  | {index[31].date()} |")]
    assert len(rows) == 1 and rows[0].endswith("| back from error |"), rows
    assert "| market move |" not in markdown


def test_non_positive_prices_are_flagged_not_fatal():
    values = pd.Series([1.0, 2.0, -1.0, 2.0], index=pd.bdate_range("2020-01-06", periods=4))
    result = series_checks(values, "price", "fresh", 10, 8)
    assert result["checks"]["non_positive"] == "warn" and result["non_positive"][0]["value"] == -1.0


def test_saturday_row_and_coverage_against_start_end_are_named():
    index = pd.bdate_range("2020-01-06", "2020-01-13").append(pd.DatetimeIndex(["2020-01-11"])).sort_values()
    values = pd.Series(np.linspace(1.0, 1.3, len(index)), index=index)  # the 11th: a Saturday
    result = series_checks(values, "price", "local", 10, 8, start="2019-06-03", end="2020-06-30")
    assert result["checks"]["calendar"] == "warn" and result["weekend_rows"] == 1
    assert result["off_calendar_dates"] == ["2020-01-11"]
    assert result["checks"]["coverage"] == "warn"  # ends early: a warning; starting late alone is not
    assert any(n.startswith("ends early: last value 2020-01-13") for n in result["coverage_notes"])
    assert any(n.startswith("starts late: first value 2020-01-06") for n in result["coverage_notes"])
    markdown = render_markdown({"thresholds": {"stale_days": 10, "outlier_z": 8}, "series": {"X": result}})
    assert "on a weekend" in markdown and "**ends early" in markdown


def test_snapshot_flags_wti_crash_and_holiday_rows(tmp_path):
    spec = [
        {"id": "DCOILWTICO", "source": "fred", "kind": "price"},
        {"id": "DGS10", "source": "fred", "kind": "yield", "maturity": 10},
    ]
    policy = ingest.RetryPolicy()
    outcomes = ingest.ingest_source(
        "fred",
        spec,
        "1990-01-02",
        "2017-03-31",
        True,
        {},
        {"cache": str(tmp_path), "snapshot": str(ROOT / "data/sample"), "local_csv": str(tmp_path)},
        policy,
    )
    raw = ingest.tidy_frame(outcomes)
    raw["date"] = pd.to_datetime(raw["date"])
    statuses = {"DCOILWTICO": {"status": "snapshot"}, "DGS10": {"status": "snapshot"}}
    report = quality_report(raw, spec, statuses, stale_days=10, outlier_z=8)
    wti = report["series"]["DCOILWTICO"]
    crash = [o for o in wti["outliers"] if o["date"] == "1991-01-17"]
    assert crash and round(crash[0]["return"], 2) == -0.33
    dgs10 = report["series"]["DGS10"]
    # FRED's blank rows fall on bond-market holidays: blank rows, not missing trading days
    assert dgs10["blank_rows"] > 200 and dgs10["missing_values"] < dgs10["blank_rows"] / 4
    assert dgs10["calendar"] == "SIFMA_US"
    markdown = render_markdown(report)
    assert "| 1991-01-17 | 32.25 | 21.48 | -33.4% |" in markdown


def test_stop_on_fail_ends_the_run_with_the_failures_named(tmp_path):
    import json
    import subprocess

    raw = tmp_path / "fred.csv"
    raw.write_text("series,date,value\nA,2020-01-02,1.0\nA,2020-01-03,1.1\n")
    ok = tmp_path / "fred.ok"
    ok.write_text(
        json.dumps(
            {
                "source": "fred",
                "series": [{"series": "A", "status": "fresh"}, {"series": "B", "status": "missing"}],
            }
        )
    )
    series = json.dumps([{"id": "A", "kind": "price"}, {"id": "B", "kind": "price"}])
    base = [
        *corrflow_command("dq"),
        "--raw",
        str(raw),
        "--ok",
        str(ok),
        "--series",
        series,
        "--md",
        str(tmp_path / "dq.md"),
        "--json-path",
        str(tmp_path / "dq.json"),
    ]
    assert subprocess.run(base, capture_output=True, text=True).returncode == 0  # default: warn and carry on
    result = subprocess.run([*base, "--stop-on-fail", "true"], capture_output=True, text=True)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert '"B": ["level"]' in result.stderr and "dq.stop_on_fail" in result.stderr
    assert "history" in result.stderr  # A has two values: too short a history


def test_what_the_user_cannot_act_on_is_information_not_a_warning():
    """A history that starts after `start`, a snapshot served offline and real prints on
    days the calendar lists as holidays are worth knowing, nothing to act on."""
    index = pd.bdate_range("2020-01-02", "2020-06-30").drop(pd.to_datetime(["2020-01-20"]))
    index = index[~index.isin(pd.to_datetime(["2020-02-17", "2020-04-10", "2020-05-25"]))]
    index = index.append(pd.DatetimeIndex(["2020-02-17"])).sort_values()  # a print on Presidents' Day
    values = pd.Series(np.linspace(1.0, 2.0, len(index)), index=index)
    result = series_checks(values, "price", "snapshot", 10, 8, start="1990-01-02", end="2020-06-30")
    assert result["coverage_notes"][0].startswith("starts late")
    assert (result["checks"]["coverage"], result["checks"]["level"], result["checks"]["calendar"]) == (
        "info",
        "info",
        "info",
    )
    markdown = render_markdown({"thresholds": {"stale_days": 10, "outlier_z": 8}, "series": {"X": result}})
    assert (
        "prints on days NYSE lists as closed: its own market traded then" in markdown
        and "check the file's dates" not in markdown
    )


def test_in_the_users_own_file_a_filled_stretch_and_an_early_end_say_what_to_do():
    """The data engineer's finding: 16 equal closes inside a local file were "the source's
    own record, nothing to fix" (a spreadsheet's fill-down is the usual cause), and a local
    series ending early warned without a word on what to do."""
    index = pd.bdate_range("2020-01-02", "2020-09-30")
    values = pd.Series(100 * np.exp(np.cumsum(np.full(len(index), 0.001))), index=index)
    values.iloc[100:116] = values.iloc[99]
    own = series_checks(values, "price", "local", 10, 8, start="2020-01-02", end="2020-12-31")
    source = series_checks(values, "price", "fresh", 10, 8, start="2020-01-02", end="2020-12-31")
    assert own["checks"]["stale"] == "warn" and source["checks"]["stale"] == "info"
    markdown = render_markdown({"thresholds": {"stale_days": 10, "outlier_z": 8}, "series": {"X": own}})
    assert "check that those days were not filled forward from the last value" in markdown
    assert own["coverage_notes"][-1].endswith("(the file ends there: add the newer rows to it, or set `end`)")
    assert not source["coverage_notes"][-1].endswith("or set `end`)")


def yahoo_layout_file(path, days, null_days):
    """A file as Yahoo's download writes it: Date,Open,High,Low,Close,Adj Close,Volume, a
    day without a value as 'date,null,null,...'."""
    lines = ["Date,Open,High,Low,Close,Adj Close,Volume"]
    for k, day in enumerate(days):
        if day in null_days:
            marker = null_days[day]
            lines.append(f"{day.date()}," + ",".join([marker] * 6))
        else:
            price = f"{100 + k * 0.1:.2f}"
            lines.append(f"{day.date()},{price},{price},{price},{price},{price},1000")
    path.write_text("\n".join(lines) + "\n")


def test_yahoo_null_rows_read_as_missing_and_counted_in_dq(tmp_path):
    """Issue 29.6: a Yahoo-layout file's null rows stopped ingest, even outside start..end."""
    days = pd.bdate_range("2019-12-02", "2020-12-31")
    null_days = {
        pd.Timestamp("2019-12-10"): "null",  # before start: once a stop, now left out with the range
        pd.Timestamp("2020-03-02"): "null",
        pd.Timestamp("2020-03-03"): "NaN",
        pd.Timestamp("2020-06-01"): "N/A",
        pd.Timestamp("2020-09-01"): "-",
        pd.Timestamp("2020-10-01"): "",
    }
    folder = tmp_path / "local"
    folder.mkdir()
    yahoo_layout_file(folder / "IDX.csv", days, null_days)
    spec = [{"id": "IDX", "source": "csv", "kind": "price"}]
    paths = {"cache": str(tmp_path / "cache"), "snapshot": str(tmp_path), "local_csv": str(folder)}
    outcomes = ingest.ingest_source(
        "csv", spec, "2020-01-01", "2020-12-31", False, {}, paths, ingest.RetryPolicy()
    )
    series = outcomes["IDX"].series
    assert series.isna().sum() == 5 and series.notna().sum() == len(series) - 5
    assert outcomes["IDX"].notes == [
        "Yahoo's missing-value markers read as missing: 5 row(s) in column 'Adj Close' "
        "('null' x2, 'NaN' x1, 'N/A' x1, '-' x1), first on 2019-12-10"
    ]
    tidy = ingest.tidy_frame(outcomes)
    status = ingest.status_record("csv", outcomes, tidy)["series"][0]
    raw = tidy.assign(date=pd.to_datetime(tidy["date"]))
    report = quality_report(raw, spec, {"IDX": status}, stale_days=10, outlier_z=8)
    idx = report["series"]["IDX"]
    assert idx["blank_rows"] == 5 and idx["checks"]["format"] == "info"
    markdown = render_markdown(report)
    assert "5 blank row(s) in the file" in markdown
    assert "source file: Yahoo's missing-value markers read as missing: 5 row(s)" in markdown


@pytest.mark.parametrize("layout", ["handled", "unadjusted"])
def test_a_file_note_warns_only_where_the_user_has_something_to_do(tmp_path, layout):
    """The data engineer's finding: a byte-order mark (what Excel's "CSV UTF-8" writes),
    rows out of order and times of day, all handled, made the format check warn; only
    unadjusted closes ask for an action."""
    days = pd.bdate_range("2020-01-02", "2020-06-30")
    folder = tmp_path / "local"
    folder.mkdir()
    if layout == "handled":
        rows = [f"{d.date()} 00:00:00,{100 + k * 0.1:.2f}" for k, d in enumerate(days)]
        rows[3], rows[4] = rows[4], rows[3]
        (folder / "IDX.csv").write_text("\ufeffdate,value\r\n" + "\r\n".join(rows) + "\r\n")
    else:
        yahoo_layout_file(folder / "IDX.csv", days, {})
        text = (folder / "IDX.csv").read_text()  # closes without 'Adj Close'
        (folder / "IDX.csv").write_text(text.replace("Adj Close", "Unused"))
    spec = [{"id": "IDX", "source": "csv", "kind": "price"}]
    paths = {"cache": str(tmp_path / "cache"), "snapshot": str(tmp_path), "local_csv": str(folder)}
    outcomes = ingest.ingest_source(
        "csv", spec, "2020-01-01", "2020-06-30", False, {}, paths, ingest.RetryPolicy()
    )
    tidy = ingest.tidy_frame(outcomes)
    status = ingest.status_record("csv", outcomes, tidy)["series"][0]
    raw = tidy.assign(date=pd.to_datetime(tidy["date"]))
    report = quality_report(raw, spec, {"IDX": status}, stale_days=10, outlier_z=8)
    notes, check = outcomes["IDX"].notes, report["series"]["IDX"]["checks"]["format"]
    if layout == "handled":
        assert len(notes) == 3 and "byte-order mark removed" in notes and check == "info", notes
    else:
        assert notes[0].startswith("unadjusted close: column 'Close' read") and check == "warn", notes


def test_day_first_dates_are_named_and_slash_dates_are_said_to_be_read_month_first():
    """The data engineer's finding: a DD/MM/YYYY file stopped on '13/01/2005' without a hint,
    and one whose days are all 12 or less was read as M/D without a word."""
    with pytest.raises(ingest.InputDataError) as stopped:
        ingest.parse_series_csv("date,value\n01/02/2005,1\n13/01/2005,2\n", "X")
    assert "at row 3: '13/01/2005'; slash dates are read as US M/D/YYYY, and this one reads only day " in str(
        stopped.value
    ) and str(stopped.value).endswith("(DD/MM/YYYY): save the dates as YYYY-MM-DD")
    read = ingest.parse_series_csv("date,value\n01/02/2015,1\n01/03/2015,2\n", "X")
    assert list(read.index) == [pd.Timestamp("2015-01-02"), pd.Timestamp("2015-01-03")]
    assert read.attrs["notes"] == [
        "slash dates read as US M/D/YYYY (month first); a day-first file needs YYYY-MM-DD"
    ]
    assert ingest.parse_series_csv("date,value\n2015-02-01,1\n", "X").attrs["notes"] == []


def test_a_date_value_file_keeps_nan_text_an_error(tmp_path):
    """Only a Yahoo-layout file reads null/NaN/N/A/- as missing; in date,value a typo stays an error."""
    import pytest

    with pytest.raises(ingest.InputDataError, match="first at row 3: 'null'"):
        ingest.parse_series_csv("date,value\n2020-01-02,1\n2020-01-03,null\n", "X")


def test_h10_fx_rates_are_not_missing_on_us_federal_holidays():
    """Issue 29.6: DEXUSUK and the other H.10 rates warned 'missing' on every US holiday
    (223 days each), on which the Fed never publishes them: info, with the count."""
    from corrflow.data.dq import fed_holidays

    days = pd.bdate_range("2000-01-03", "2021-12-31")
    holidays = fed_holidays(days)
    values = pd.Series(1.5 + 0.001 * np.arange(len(days)), index=days)
    values[values.index.isin(holidays)] = np.nan  # H.10 as FRED serves it: '.' on federal holidays
    raw = pd.DataFrame({"series": "DEXUSUK", "date": days, "value": values.to_numpy()})
    spec = [{"id": "DEXUSUK", "source": "fred", "kind": "fx"}]
    report = quality_report(raw, spec, {"DEXUSUK": {"status": "fresh"}}, stale_days=10, outlier_z=8)
    dex = report["series"]["DEXUSUK"]
    assert dex["unpublished_days"] >= 200 and dex["missing_values"] == 0
    assert dex["checks"]["missing"] == "info" and dex["checks"]["coverage"] == "pass"
    assert "US federal holiday(s) without a value: the Fed's H.10 rates" in render_markdown(report)
    # the same values under another id still warn: the rule is H.10's, not every fx series'
    other = quality_report(
        raw.assign(series="EURUSD"), [{"id": "EURUSD", "source": "csv", "kind": "fx"}],
        {"EURUSD": {"status": "local"}}, stale_days=10, outlier_z=8,
    )["series"]["EURUSD"]  # fmt: skip
    assert other["checks"]["missing"] == "warn" and other["missing_values"] == dex["unpublished_days"]


def test_a_huge_value_prints_at_a_sane_width_in_the_dq_table():
    """Issue 30.4: a 1e308 value printed a 300-digit percentage in the outliers table."""
    index = pd.bdate_range("2020-01-02", periods=40)
    values = pd.Series(100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, 40))), index=index)
    values.iloc[30] = 1e308
    raw = pd.DataFrame({"series": "X", "date": index, "value": values.to_numpy()})
    spec = [{"id": "X", "source": "csv", "kind": "price"}]
    markdown = render_markdown(
        quality_report(raw, spec, {"X": {"status": "local"}}, stale_days=10, outlier_z=8)
    )
    rows = [line for line in markdown.splitlines() if line.startswith("  | 2020-")]
    assert rows and max(len(line) for line in rows) < 90, rows
    assert any("| 98.0364 | 1e+308 | +1.02e+308% | +91072.4 |" in line for line in rows), rows


def test_the_report_gives_the_calendar_suggestion_and_its_effect_on_the_pair():
    """A London index left on the NYSE's calendar: the report names the calendar to set and
    what the calendar_effect step measured for SPY-FTSE (its change, the synchronised
    estimate that appears), not only "calendar: warn"; it parses no advice text."""
    from corrflow.analytics.correlation.calendar_effect import COLUMNS
    from corrflow.present.report import calendar_advice_lines

    dq = {
        "series": {
            "FTSE": {
                "calendar": "NYSE",
                "calendar_advice": "FTSE's rows match XLON on 99.0% of days, NYSE on 93.0%: set "
                "`calendar: XLON` in config key `series` (FTSE)",
                "calendar_suggestion": "XLON",
            },
            "SPY": {"calendar": "NYSE", "calendar_advice": None, "calendar_suggestion": None},
        }
    }
    effect = dict.fromkeys(COLUMNS) | {
        "series": "FTSE",
        "suggested_calendar": "XLON",
        "current_calendar": "NYSE",
        "pair": "SPY-FTSE",
        "other_leg_calendar": "NYSE",
        "other_leg_suggested": False,
        "window": 60,
        "days_compared": 1200,
        "max_abs_change": 0.1171,
        "max_change_date": "2020-03-18",
        "mean_change": 0.01,
        "mean_abs_change": 0.0204,
        "last_common_day": "2021-06-30",
        "last_change": -0.004,
        "synchronised": "appears",
        "closes_apart_hours": 4.5,
        "closes_apart_hours_current": 0.0,
    }
    lines = calendar_advice_lines(dq, [effect])
    assert lines[0].startswith("- **FTSE: FTSE's rows match XLON")
    assert (
        "With it, SPY-FTSE is computed on XLON's days instead of NYSE's: its 60-day correlation changes "
        "by up to 0.117 (2020-03-18), 0.020 on average over the 1200 days both versions have a value "
        "(-0.004 on 2021-06-30), and it gets the synchronised estimate (closes 4.5 h apart)." in lines[0]
    )
    assert calendar_advice_lines({"series": {"SPY": dq["series"]["SPY"]}}, [effect]) == []
    # without calendar_effect.csv (a report made by hand): DQ's advice alone
    assert "With it" not in calendar_advice_lines(dq, None)[0]


def dq_markdown(series_id, result):
    return render_markdown({"thresholds": {"stale_days": 10, "outlier_z": 8}, "series": {series_id: result}})


def test_the_nymex_example_is_printed_for_wti_only():
    """A print on an NYSE holiday: WTI's line names NYMEX as the reason; a Treasury yield's
    or VIX's line does not (NYMEX has nothing to do with them)."""
    index = pd.bdate_range("2020-01-02", "2020-06-30").drop(
        pd.to_datetime(["2020-01-20", "2020-02-17", "2020-04-10"])
    )
    values = pd.Series(np.linspace(10.0, 20.0, len(index)), index=index)
    values = pd.concat([values, pd.Series([15.0], index=pd.to_datetime(["2020-02-17"]))]).sort_index()
    for series_id, kind in (("DCOILWTICO", "price"), ("VIXCLS", "level"), ("DGS10", "yield")):
        markdown = dq_markdown(series_id, series_checks(values, kind, "snapshot", 10, 8, series_id=series_id))
        assert "its own market traded then" in markdown
        assert ("WTI on NYMEX" in markdown) == (series_id == "DCOILWTICO"), series_id


def test_the_zero_bound_explains_only_a_run_of_equal_yields_near_zero():
    """11 equal values at 3.9 % (DGS10 in 1963) are not 'rates held at the zero bound';
    11 at 0.05 % are."""
    index = pd.bdate_range("2020-01-02", periods=60)
    for level, zero_bound in ((3.9, False), (0.05, True)):
        values = pd.Series(level + 0.01 * np.sin(np.arange(60)), index=index)
        values.iloc[20:31] = level
        markdown = dq_markdown("Y", series_checks(values, "yield", "snapshot", 10, 8))
        assert "longest run of equal values: 11 from" in markdown
        assert ("zero bound" in markdown) == zero_bound, level
        assert "nothing to fix" in markdown


def test_a_one_day_gap_is_one_weekday():
    index = pd.bdate_range("2020-01-02", periods=60)
    values = pd.Series(np.linspace(10.0, 20.0, 60), index=index).drop(index[30])
    markdown = dq_markdown("X", series_checks(values, "price", "snapshot", 10, 8, calendar="XNYS"))
    assert "longest gap 1 weekday from" in markdown and "1 weekdays" not in markdown


def test_an_outlier_after_a_dropped_non_positive_value_says_which_previous_it_uses():
    """WTI 2020-04-17 18.27, 04-20 -36.98 (no log return: left out), 04-21 8.91: the
    outlier's previous is the 04-17 value, and the table says so and why."""
    index = pd.bdate_range("2020-01-02", "2020-04-30")
    values = pd.Series(20.0 + 0.1 * np.sin(np.arange(len(index))), index=index)
    values["2020-04-17"], values["2020-04-20"], values["2020-04-21"] = 18.27, -36.98, 8.91
    result = series_checks(values, "price", "snapshot", 10, 8)
    crash = next(o for o in result["outliers"] if o["date"] == "2020-04-21")
    assert crash["previous_date"] == "2020-04-17"
    assert crash["skipped_non_positive"] == [{"date": "2020-04-20", "value": -36.98}]
    row = next(line for line in dq_markdown("X", result).splitlines() if "| 2020-04-21 |" in line)
    assert "18.27 (of 2020-04-17: the -36.98 on 2020-04-20 is not positive, left out)" in row
