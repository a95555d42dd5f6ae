"""Truth checks of the data layer on real data, with real Snakemake runs (issue: a data
layer that cannot silently lie).

The universe a user would build: SPY and TLT adjusted closes to 2025-09-30 and an S&P
500 file that ends 2024-05-03 (17 months early) as local CSV files, FRED's DGS10, DGS2
and VIXCLS from the bundled snapshot. The SPY-TLT correlation must equal pandas on the
inner join of the two files' dates, and nothing may be made up on days a market was
closed.
"""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT, snakemake

pytestmark = pytest.mark.e2e

END = "2025-09-30"
SP500_END = "2024-05-03"


def snapshot_series(series_id: str) -> pd.Series:
    frame = pd.read_csv(ROOT / "data/sample" / f"{series_id}.csv", parse_dates=["date"], index_col="date")
    return frame["value"].dropna()


def write_yahoo_csv(series: pd.Series, path, column="Adj Close") -> None:
    frame = pd.DataFrame({"Date": series.index.strftime("%Y-%m-%d"), column: series.to_numpy()})
    frame.to_csv(path, index=False, lineterminator="\n")


@pytest.fixture(scope="module")
def user_universe(tmp_path_factory):
    from conftest import copy_workflow

    for series_id in ("SPY", "TLT", "SP500"):
        if not (ROOT / "data/sample" / f"{series_id}.csv").exists():
            pytest.fail(f"data/sample/{series_id}.csv is missing from the snapshot")
    workdir = copy_workflow(tmp_path_factory.mktemp("truth"))
    local = workdir / "data/local"
    local.mkdir(parents=True)
    files = {
        "SPY": snapshot_series("SPY").loc["2013-01-02":END],
        "TLT": snapshot_series("TLT").loc["2013-01-02":END],
        "SP500": snapshot_series("SP500").loc["2013-01-02":SP500_END],
    }
    for series_id, series in files.items():
        write_yahoo_csv(series, local / f"{series_id}.csv")
    config = yaml.safe_load((workdir / "config/config.yaml").read_text())
    config.update(
        start="2013-01-02",
        end=END,
        offline=True,
        series=[
            {"id": "SPY", "source": "csv", "kind": "price", "name": "SPDR S&P 500 ETF"},
            {"id": "TLT", "source": "csv", "kind": "price", "name": "iShares 20+ Year Treasury"},
            {"id": "SP500", "source": "csv", "kind": "price", "name": "S&P 500 index"},
            {"id": "DGS10", "source": "fred", "kind": "yield", "maturity": 10},
            {"id": "DGS2", "source": "fred", "kind": "yield", "maturity": 2},
            {"id": "VIXCLS", "source": "fred", "kind": "level"},
        ],
        correlation={"pairs": [["SPY", "TLT"], ["SPY", "DGS10"]], "windows": [60]},
        features={"cash_rate": None},
        stress={"equity": "SPY", "bond": "DGS10", "vix": "VIXCLS"},
        model={"enabled": False},
    )
    (workdir / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    snakemake(
        workdir,
        "--cores",
        "2",
        "data/processed/rolling_corr.csv",
        "data/processed/features.parquet",
        "docs/dq_report.json",
    )
    return workdir, files


def test_spy_tlt_equals_pandas_on_the_inner_join_of_the_two_files(user_universe):
    workdir, files = user_universe
    corr = pd.read_csv(workdir / "data/processed/rolling_corr.csv", index_col="date", parse_dates=["date"])
    joined = pd.concat({"SPY": files["SPY"], "TLT": files["TLT"]}, axis=1, join="inner")
    returns = np.log(joined).diff()
    expected = returns["SPY"].rolling(60, min_periods=60).corr(returns["TLT"])
    ours = corr["SPY:TLT:60"]
    common = expected.dropna().index
    assert len(common) > 3000
    np.testing.assert_allclose(ours.reindex(common), expected.loc[common], rtol=0, atol=1e-9)
    # no value on a day either file has no price (nothing carried over a holiday)
    outside = ours.index.difference(joined.index)
    assert len(outside) > 0 and ours.loc[outside].isna().all()
    # after the S&P 500 file ends, NYSE holidays are still not trading days
    for holiday in ["2024-05-27", "2024-07-04", "2024-12-25", "2025-01-09", "2025-04-18"]:
        assert pd.Timestamp(holiday) not in ours.dropna().index, holiday


def test_no_bond_return_is_made_up_on_a_bond_market_holiday(user_universe):
    workdir, _ = user_universe
    features = pd.read_parquet(workdir / "data/processed/features.parquet")
    corr = pd.read_csv(workdir / "data/processed/rolling_corr.csv", index_col="date", parse_dates=["date"])
    for holiday in ["2015-10-12", "2016-11-11"]:  # Columbus Day, Veterans Day: NYSE open, bonds closed
        day = pd.Timestamp(holiday)
        assert day in features.index and not np.isnan(features.loc[day, "ret:SPY"])
        assert np.isnan(features.loc[day, "ret:DGS10"])
        assert np.isnan(corr.loc[day, "SPY:DGS10:60"])  # not a day of the stock-bond pair
    # the next day's bond return spans the holiday: two weekdays of carry, the whole yield move
    levels = pd.read_parquet(workdir / "data/processed/clean.parquet")
    move = levels.loc["2015-10-13", "DGS10"] - levels.loc["2015-10-09", "DGS10"]
    assert features.loc["2015-10-13", "dy_bp:DGS10"] == pytest.approx(100 * move)


def test_early_ending_series_is_a_named_warning_and_sources_are_labelled(user_universe):
    workdir, _ = user_universe
    dq = json.loads((workdir / "docs/dq_report.json").read_text())
    sp500 = dq["series"]["SP500"]
    assert sp500["checks"]["coverage"] == "warn"
    assert any(note.startswith(f"ends early: last value {SP500_END}") for note in sp500["coverage_notes"])
    meta = pd.read_parquet(workdir / "data/processed/clean.parquet", columns=[])
    import pyarrow.parquet as pq

    metadata = json.loads(pq.read_schema(workdir / "data/processed/clean.parquet").metadata[b"corrflow"])
    series = metadata["series"]
    assert series["SPY"]["origin"].startswith("local file") and series["SPY"]["origin"].endswith("SPY.csv")
    assert series["DGS10"]["origin"] == "offline snapshot"
    assert series["SP500"]["stale"] is True and series["SPY"]["stale"] is False
    assert metadata["data_through"] == SP500_END and metadata["as_of"] == END
    assert meta.empty
