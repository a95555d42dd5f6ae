"""Build the bundled offline snapshot (data/sample/) from the real-data sources.

Run once by a developer, never by the workflow:

    python workflow/scripts/build_sample.py --sources ../shared/sample-sources --out data/sample

Each output is one series in the ingest cache's shape (``date,value``; ISO dates; an
empty value where the source published none), so the snapshot is simply the last
level of the live -> cache -> snapshot chain. The derivations are documented in
data/sample/README.md and implemented here, one small function per source file.
"""

import argparse
from pathlib import Path

import pandas as pd

# treasury_curves.csv column -> FRED H.15 constant-maturity series id
TREASURY_COLUMNS = {
    "1month": "DGS1MO",
    "3month": "DGS3MO",
    "6month": "DGS6MO",
    "1year": "DGS1",
    "2year": "DGS2",
    "3year": "DGS3",
    "5year": "DGS5",
    "7year": "DGS7",
    "10year": "DGS10",
    "20year": "DGS20",
    "30year": "DGS30",
}


def _naive_dates(values: pd.Series) -> pd.DatetimeIndex:
    # zipline's files stamp every date at midnight UTC; the date is what matters
    return pd.DatetimeIndex(pd.to_datetime(values, utc=True).dt.tz_localize(None)).normalize()


def spy_total_return_index(path: Path) -> pd.Series:
    """SPY total-return index, 100 * cumulative product of (1 + daily total return)."""
    raw = pd.read_csv(path)
    returns = pd.Series(raw["return"].to_numpy(), index=_naive_dates(raw["date"]))
    return (100.0 * (1.0 + returns).cumprod()).round(6)


def treasury_yields_percent(path: Path) -> dict[str, pd.Series]:
    """H.15 constant-maturity yields, decimals -> percent with FRED's two decimals."""
    raw = pd.read_csv(path)
    dates = _naive_dates(raw["Time Period"])
    return {
        series_id: pd.Series((100.0 * raw[column]).round(2).to_numpy(), index=dates)
        for column, series_id in TREASURY_COLUMNS.items()
    }


def fred_style_levels(path: Path, column: str) -> pd.Series:
    """A FRED-style file with US dates (1/2/1986) and '.' on days with no value."""
    raw = pd.read_csv(path, na_values=["."], dtype={column: "float64"})
    dates = pd.to_datetime(raw["Date"], format="%m/%d/%Y")
    return pd.Series(raw[column].to_numpy(), index=pd.DatetimeIndex(dates))


def sp500_levels(path: Path) -> pd.Series:
    raw = pd.read_csv(path)
    return pd.Series(raw["SP500"].to_numpy(), index=pd.DatetimeIndex(pd.to_datetime(raw["Date"])))


def build_snapshot(sources: Path) -> dict[str, pd.Series]:
    snapshot = {"SPY": spy_total_return_index(sources / "SPY_benchmark.csv")}
    snapshot.update(treasury_yields_percent(sources / "treasury_curves.csv"))
    snapshot["SP500"] = sp500_levels(sources / "sp500_index.csv.gz")
    snapshot["DCOILWTICO"] = fred_style_levels(sources / "DCOILWTICO_wti.csv.gz", "DCOILWTICO")
    snapshot["VIXCLS"] = fred_style_levels(sources / "VIXCLS_vix.csv.gz", "vix")
    return snapshot


def write_series_csv(series: pd.Series, path: Path) -> None:
    # before its first and after its last publication a series does not exist;
    # gaps inside its life (holidays, discontinued maturities) stay as blanks
    valid = series.index[series.notna()]
    series = series.loc[valid[0] : valid[-1]]
    frame = pd.DataFrame({"date": series.index.strftime("%Y-%m-%d"), "value": series.to_numpy()})
    frame.to_csv(path, index=False, lineterminator="\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, required=True, help="folder of the source files")
    parser.add_argument("--out", type=Path, required=True, help="snapshot folder (data/sample)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for series_id, series in sorted(build_snapshot(args.sources).items()):
        write_series_csv(series, args.out / f"{series_id}.csv")
        print(
            f"{series_id}: {series.notna().sum()} values, {series.index[0].date()} .. {series.index[-1].date()}"
        )


if __name__ == "__main__":
    main()
