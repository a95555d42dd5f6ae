"""Data-quality checks (task H): each check, and the real WTI crash in the bundled snapshot."""

import numpy as np
import pandas as pd

import ingest
from conftest import ROOT
from dq import longest_run, quality_report, render_markdown, series_checks


def test_longest_run():
    assert longest_run(np.array([0, 1, 1, 0, 1, 1, 1, 0], bool)) == (3, 4)
    assert longest_run(np.array([0, 0], bool)) == (0, -1)


def test_each_check_flags_what_it_should():
    index = pd.bdate_range("2020-01-01", periods=60)
    rng = np.random.default_rng(0)
    values = pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 60))), index=index)
    values.iloc[10:22] = values.iloc[10]  # a stale run of 12 equal values
    values.iloc[40] = values.iloc[39] * 0.5  # a crash
    values.iloc[41:] *= 0.5
    values.iloc[30] = np.nan  # a row without a value
    result = series_checks(values, "price", "snapshot", stale_days=10, outlier_z=8, duplicates=2)
    assert result["checks"] == {"coverage": "pass", "missing": "warn", "duplicates": "fail", "stale": "warn",
                                "non_positive": "pass", "outliers": "warn", "level": "warn"}
    assert result["longest_stale_run"] == 12 and result["stale_from"] == str(index[10].date())
    assert [o["date"] for o in result["outliers"]] == [str(index[40].date())]
    assert result["missing_values"] == 1


def test_non_positive_prices_fail():
    values = pd.Series([1.0, 2.0, -1.0, 2.0], index=pd.bdate_range("2020-01-01", periods=4))
    result = series_checks(values, "price", "fresh", 10, 8)
    assert result["checks"]["non_positive"] == "fail" and result["non_positive"][0]["value"] == -1.0


def test_snapshot_flags_wti_crash_and_holiday_rows(tmp_path):
    spec = [{"id": "DCOILWTICO", "source": "fred", "kind": "price"}]
    policy = ingest.RetryPolicy()
    outcomes = ingest.ingest_source("fred", spec, "1990-01-02", "2017-03-31", True, {}, {
        "cache": str(tmp_path), "snapshot": str(ROOT / "data/sample"), "local_csv": str(tmp_path)}, policy)
    raw = ingest.tidy_frame(outcomes)
    raw["date"] = pd.to_datetime(raw["date"])
    report = quality_report(raw, spec, {"DCOILWTICO": {"status": "snapshot"}}, stale_days=10, outlier_z=8)
    wti = report["series"]["DCOILWTICO"]
    crash = [o for o in wti["outliers"] if o["date"] == "1991-01-17"]
    assert crash and round(crash[0]["return"], 2) == -0.33
    assert wti["missing_values"] > 200 and wti["checks"]["missing"] == "warn"  # FRED's "." holiday rows
    markdown = render_markdown(report)
    assert "| 1991-01-17 | 32.25 | 21.48 | -33.4% |" in markdown
