"""Rolling correlations (task D): against pandas, edge cases, and the seed's CLI."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from _helpers import write_parquet
from conftest import SCRIPTS
from rolling_corr import rolling_corr, rolling_pearson


def random_returns(n=600, seed=1):
    rng = np.random.default_rng(seed)
    common = rng.normal(size=n)
    frame = pd.DataFrame({"A": common + rng.normal(size=n), "B": -0.5 * common + rng.normal(size=n),
                          "C": rng.normal(size=n) * 1e-3 + 50.0},  # a large offset tests stability
                         index=pd.bdate_range("2000-01-03", periods=n))
    frame.iloc[100:103, 0] = np.nan
    frame.iloc[400, 1] = np.nan
    return frame


@pytest.mark.parametrize("window", [2, 20, 60, 252])
def test_matches_pandas_rolling_corr(window):
    returns = random_returns()
    for a, b in [("A", "B"), ("A", "C"), ("B", "C")]:
        ours = rolling_pearson(returns[a], returns[b], window)
        theirs = returns[a].rolling(window, min_periods=window).corr(returns[b])
        # pandas' online algorithm can leave residue where ours is exactly flat; compare where both defined
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
        np.testing.assert_allclose(ours, theirs, atol=1e-12, rtol=0)


def test_nan_in_window_gives_nan_and_window_after_recovers():
    returns = random_returns()
    corr = rolling_pearson(returns["A"], returns["B"], 20)
    assert corr.iloc[:19].isna().all()
    assert corr.iloc[100:122].isna().all()  # NaN at 100..102 poisons every window that holds them
    assert corr.iloc[122:].iloc[:5].notna().all()


def test_flat_window_is_nan_never_inf():
    x = pd.Series([1.0] * 30 + list(np.arange(30.0)))
    y = pd.Series(np.arange(60.0) ** 1.5)
    corr = rolling_pearson(x, y, 10)
    assert corr.iloc[9:30].isna().all()
    assert np.isfinite(corr.dropna()).all() and (corr.dropna().abs() <= 1).all()


def test_pairs_with_absent_series_are_skipped():
    returns = random_returns()
    corr, skipped = rolling_corr(returns, [["A", "B"], ["A", "ZZZ"]], [20, 60])
    assert list(corr.columns) == ["A:B:20", "A:B:60"]
    assert skipped == ["A-ZZZ (no data for ZZZ)"]


def make_clean(tmp_path, with_tlt=True):
    n = 300
    rng = np.random.default_rng(7)
    index = pd.bdate_range("2010-01-04", periods=n, name="date")
    clean = pd.DataFrame({"SPY": 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n))),
                          "DGS10": 3 + np.cumsum(rng.normal(0, 0.05, n))}, index=index)
    meta = {"SPY": {"kind": "price", "status": "snapshot"}, "DGS10": {"kind": "yield", "maturity": 10,
                                                                      "status": "snapshot"},
            "TLT": {"kind": "price", "status": "missing"}}
    if with_tlt:
        clean["TLT"] = 100 * np.exp(np.cumsum(rng.normal(0, 0.008, n)))
        meta["TLT"]["status"] = "fresh"
    path = tmp_path / "clean.parquet"
    write_parquet(clean, path, {"series": meta})
    return clean, path


def run_cli(*args):
    return subprocess.run([sys.executable, str(SCRIPTS / "rolling_corr.py"), *args], capture_output=True, text=True)


def test_seed_command_from_prices(tmp_path):
    clean, path = make_clean(tmp_path)
    out = tmp_path / "rolling_corr.csv"
    result = run_cli("--prices", str(path), "--eq-col", "SPY", "--bond-col", "TLT", "--window", "60", "--out", str(out))
    assert result.returncode == 0, result.stderr
    corr = pd.read_csv(out, index_col="date", parse_dates=True)
    returns = np.log(clean).diff()
    expected = returns["SPY"].rolling(60, min_periods=60).corr(returns["TLT"])
    np.testing.assert_allclose(corr["SPY:TLT:60"], expected, atol=1e-12)


def test_seed_command_converts_a_yield_column_like_features(tmp_path):
    from features import build_features

    clean, path = make_clean(tmp_path)
    out = tmp_path / "corr.csv"
    result = run_cli("--prices", str(path), "--eq-col", "SPY", "--bond-col", "DGS10", "--window", "60", "--out", str(out))
    assert result.returncode == 0, result.stderr
    features = build_features(clean, {"SPY": {"kind": "price"}, "DGS10": {"kind": "yield", "maturity": 10},
                                      "TLT": {"kind": "price"}}, [])
    expected = features["ret:SPY"].rolling(60, min_periods=60).corr(features["ret:DGS10"])
    corr = pd.read_csv(out, index_col="date", parse_dates=True)
    np.testing.assert_allclose(corr["SPY:DGS10:60"], expected, atol=1e-12)
    assert corr["SPY:DGS10:60"].dropna().mean() < 0.5  # bond returns, not yields, are correlated


def test_seed_command_names_the_missing_column(tmp_path):
    _, path = make_clean(tmp_path, with_tlt=False)
    result = run_cli("--prices", str(path), "--eq-col", "SPY", "--bond-col", "TLT", "--window", "60",
                     "--out", str(tmp_path / "x.csv"))
    assert result.returncode == 1
    assert "no column 'TLT' (ingest marked it missing)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.csv").exists()


def test_window_longer_than_data_is_a_clear_error(tmp_path):
    _, path = make_clean(tmp_path)
    result = run_cli("--prices", str(path), "--eq-col", "SPY", "--bond-col", "TLT", "--window", "5000",
                     "--out", str(tmp_path / "x.csv"))
    assert result.returncode == 1
    assert "window 5000 is longer than the data (300 business days)" in result.stderr


def test_help_runs():
    result = run_cli("--help")
    assert result.returncode == 0 and "--eq-col" in result.stdout
