"""The bundled offline snapshot (data/sample/): rebuilt byte for byte from its sources,
well-formed, and true against figures that do not come from the snapshot itself."""

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from build_sample import french_daily_factors, series_csv_text, splice_levels

from conftest import ROOT
from corrflow.io import InputDataError

SAMPLE = ROOT / "data/sample"
SHARED = ROOT.parent / "shared"
SOURCES = SHARED / "sample-sources"
SOURCES_2026 = SHARED / "sample-sources-2026"
SNAPSHOT_FILES = sorted(SAMPLE.glob("*.csv"))
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(
            f"{path.relative_to(ROOT.parent)} is not beside this checkout (see data/sample/README.md)"
        )
    return path


def snapshot(series_id: str) -> pd.Series:
    frame = pd.read_csv(SAMPLE / f"{series_id}.csv", index_col="date", parse_dates=True)
    return frame["value"]


def test_snapshot_rebuilds_byte_for_byte_from_its_sources(tmp_path):
    need(SOURCES)
    need(SOURCES_2026)
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools/build_sample.py"),
            "--sources",
            str(SOURCES),
            "--sources-2026",
            str(SOURCES_2026),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    committed = [p.name for p in SNAPSHOT_FILES]
    assert committed == sorted(p.name for p in tmp_path.glob("*.csv"))
    for name in committed:
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), name


def test_snapshot_holds_the_series_the_readme_lists():
    ids = {p.stem for p in SNAPSHOT_FILES}
    treasuries = {
        "DGS1MO",
        "DGS3MO",
        "DGS6MO",
        "DGS1",
        "DGS2",
        "DGS3",
        "DGS5",
        "DGS7",
        "DGS10",
        "DGS20",
        "DGS30",
    }
    assert ids == treasuries | {"SPY", "TLT", "SP500", "VIXCLS", "DCOILWTICO", "FF_MKT"}
    readme = (SAMPLE / "README.md").read_text()
    for series_id in ids:
        assert f"`{series_id}.csv`" in readme, series_id
    # licences the redistributed files need travel with them
    for name in ["LICENSE.luchungi-chronos-eval.txt", "LICENSE.datasets-oil-prices.txt",
                 "datapackage.datasets-oil-prices.json"]:  # fmt: skip
        assert (SAMPLE / name).stat().st_size > 1000, name
    assert sum(p.stat().st_size for p in SNAPSHOT_FILES) < 5_000_000  # plain CSV, small enough to commit


@pytest.mark.parametrize("path", SNAPSHOT_FILES, ids=lambda p: p.stem)
def test_snapshot_file_is_sorted_unique_iso_finite_and_trimmed(path):
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0] == "date,value" and lines[-1] == "", "header date,value and a final newline"
    rows = [line.split(",") for line in lines[1:-1]]
    assert all(len(row) == 2 for row in rows)
    dates = [row[0] for row in rows]
    assert all(ISO_DATE.fullmatch(d) for d in dates)
    parsed = pd.to_datetime(pd.Series(dates), format="%Y-%m-%d")  # raises on 2020-02-30
    assert parsed.is_monotonic_increasing and parsed.is_unique
    values = [float(row[1]) for row in rows if row[1] != ""]
    assert all(math.isfinite(v) for v in values)
    assert rows[0][1] != "" and rows[-1][1] != "", "trimmed to the first and last published value"


def test_tlt_2022_total_return_is_minus_31_percent():
    # TLT's 2022 total return (dividends reinvested) was -31.2 % (iShares' published figure)
    tlt = snapshot("TLT")
    total_return = tlt.loc["2022-12-30"] / tlt.loc["2021-12-31"] - 1
    assert abs(total_return - (-0.312)) < 0.005, total_return


def test_spy_log_returns_track_the_french_market_total_return_2014_2018():
    spy = np.log(snapshot("SPY")).diff()
    market = snapshot("FF_MKT").pct_change()
    both = pd.concat([spy, market], axis=1, join="inner").loc["2014":"2018"].dropna()
    assert len(both) > 1200
    assert both.corr().iloc[0, 1] > 0.99


def growth(series: pd.Series, first: str = "1993-01-29", last: str = "2018-04-27") -> float:
    return series.loc[last] / series.loc[first]


def test_spy_grows_like_the_french_market_total_return():
    """1993-2018: SPY with dividends reinvested grows like the whole market's total return."""
    assert 0.9 < growth(snapshot("SPY")) / growth(snapshot("FF_MKT")) < 1.1


def test_zipline_spy_benchmark_falls_short_of_a_total_return():
    """Why the snapshot does not use it: before ~2013 it leaves the dividends out."""
    benchmark = pd.read_csv(need(SOURCES / "SPY_benchmark.csv"))
    benchmark_growth = (1.0 + benchmark["return"]).prod()  # 1993-02-01 .. 2018-04-27
    assert benchmark_growth / growth(snapshot("FF_MKT")) < 0.75
    assert benchmark_growth / growth(snapshot("SPY")) < 0.75


def test_dgs10_equals_zipline_treasury_curves_times_100():
    curves = pd.read_csv(need(SOURCES / "treasury_curves.csv"))
    curves.index = pd.to_datetime(curves["Time Period"], utc=True).dt.tz_localize(None)
    dgs10 = snapshot("DGS10")
    assert dgs10.loc["2017-03-29"] == round(100 * curves.loc["2017-03-29", "10year"], 2)
    both = pd.concat([dgs10, (100 * curves["10year"]).round(2)], axis=1, join="inner").dropna()
    assert len(both) > 6800 and (both.iloc[:, 0] == both.iloc[:, 1]).mean() > 0.999


def test_treasury_yields_are_full_fred_history_in_percent():
    dgs10 = snapshot("DGS10")
    assert dgs10.index[0] == pd.Timestamp("1962-01-02") and dgs10.iloc[0] == 4.06
    assert dgs10.loc["1990-01-02"] == 7.94  # 0.0794 in zipline's decimals
    assert dgs10.isna().sum() > 500  # FRED's blank holiday rows are kept blank
    assert dgs10.dropna().between(0, 20).all()


def test_wti_has_exactly_one_non_positive_value_the_real_2020_print():
    wti = snapshot("DCOILWTICO")
    non_positive = wti[wti <= 0]
    assert list(non_positive.index.strftime("%Y-%m-%d")) == ["2020-04-20"] and non_positive.iloc[0] == -36.98
    assert wti.loc["1991-01-16"] == 32.25 and wti.loc["1991-01-17"] == 21.48  # the Gulf War drop
    assert wti.notna().all()  # datasets/oil-prices has no holiday rows


def test_sp500_splices_without_a_break_and_moves_with_the_market():
    sp500 = snapshot("SP500")
    returns = np.log(sp500).diff()
    assert (
        returns.abs().max() < 0.13
    )  # 2020-03-16: -0.128 (-12.0 %); a splice at another scale would show here
    both = pd.concat([returns, snapshot("FF_MKT").pct_change()], axis=1, join="inner").dropna()
    assert both.corr().iloc[0, 1] > 0.98
    assert sp500.loc["2022-12-28"] == 3783.22 and sp500.index[-1] == pd.Timestamp("2026-04-30")


def test_french_market_index_starts_in_1926_and_is_labelled_as_such():
    market = snapshot("FF_MKT")
    assert market.index[0] == pd.Timestamp("1926-07-01") and market.index[-1] == pd.Timestamp("2026-04-30")
    assert market.iloc[0] == 100.1  # 100 * (1 + (0.09 + 0.01) / 100)
    readme = (SAMPLE / "README.md").read_text()
    assert "| `FF_MKT.csv` |" in readme and "**`FF_MKT` is not SPY.**" in readme


FRENCH_TEXT = (
    "This file was created by using the 202604 CRSP database.\r\n"
    "The Tbill return is the simple daily rate ...\r\n"
    "\r\n"
    ",Mkt-RF,SMB,HML,RF\r\n"
    "19260701,    0.09,   -0.25,   -0.27,    0.01\r\n"
    "19260702,    0.45,   -0.33,   -0.06,    0.01\r\n"
    "\r\n"
    "Copyright 2026 Eugene F. Fama and Kenneth R. French\r\n"
)


def test_french_parser_reads_preamble_dates_and_footer():
    factors = french_daily_factors(FRENCH_TEXT, Path("ff.csv"))
    assert list(factors.columns) == ["Mkt-RF", "SMB", "HML", "RF"]
    assert list(factors.index) == [pd.Timestamp("1926-07-01"), pd.Timestamp("1926-07-02")]
    assert factors.loc["1926-07-02", "Mkt-RF"] == 0.45


@pytest.mark.parametrize(
    "text, message",
    [
        (FRENCH_TEXT.replace(",Mkt-RF,SMB,HML,RF", ",Mkt,SMB,HML"), "no header line with Mkt-RF and RF"),
        (FRENCH_TEXT.replace("19260702", "19260231"), "line 6 has the date '19260231', not YYYYMMDD"),
        (FRENCH_TEXT.replace("   -0.06,", ""), "line 6 has 4 fields, the header has 5"),
        (FRENCH_TEXT.replace("    0.45", "  -99.99"), "missing-value code (-99.99 or -999) on 1926-07-02"),
        (FRENCH_TEXT.replace("    0.45", "    n/a"), "line 6 has a value that is not a number"),
        (
            FRENCH_TEXT + " Annual Factors: January-December\r\n1927,  29.47, -2.04, -3.85, 3.12\r\n",
            "second table",
        ),
    ],
    ids=["header", "date", "fields", "missing-code", "not-a-number", "second-table"],
)
def test_french_parser_names_what_is_wrong(text, message):
    with pytest.raises(InputDataError, match=re.escape(message)):
        french_daily_factors(text, Path("ff.csv"))


def levels(start: str, values: list[float]) -> pd.Series:
    return pd.Series(values, index=pd.bdate_range(start, periods=len(values)), dtype="float64")


def test_splice_continues_only_after_the_previous_source_ends():
    early = levels("2020-01-01", [float(v) for v in range(100, 130)])
    late = levels("2020-01-06", [float(v) for v in range(103, 143)])
    spliced, splices = splice_levels([("early", early), ("late", late)])
    assert spliced.index.is_unique and spliced.loc[: early.index[-1]].equals(early)
    assert spliced.loc[early.index[-1] :].iloc[1:].equals(late.loc[late.index > early.index[-1]])
    assert splices[0]["common_days"] == 27 and splices[0]["max_abs"] == 0.0


def test_splice_refuses_sources_that_disagree_or_do_not_overlap():
    early = levels("2020-01-01", [100.0] * 30)
    with pytest.raises(InputDataError, match="differ by 1.00%"):
        splice_levels([("early", early), ("late", levels("2020-01-06", [101.0] * 40))])
    with pytest.raises(InputDataError, match="shares 0 days with early"):
        splice_levels([("early", early), ("late", levels("2021-01-01", [100.0] * 40))])


def test_series_csv_text_trims_ends_and_keeps_inner_gaps_blank():
    series = levels("2020-01-01", [np.nan, 1.5, np.nan, 2.25, np.nan])
    assert series_csv_text(series) == "date,value\n2020-01-02,1.5\n2020-01-03,\n2020-01-06,2.25\n"
