"""Build the bundled offline snapshot (data/sample/) from the real-data sources.

Run by a developer, never by the workflow (from the repository root, with the shared
sources beside the checkout):

    python workflow/scripts/build_sample.py --sources ../shared/sample-sources \\
        --sources-2026 ../shared/sample-sources-2026 --out data/sample

Each output is one series in the ingest cache's shape (``date,value``; ISO dates; an
empty value where the source published none; trimmed to the first and last published
value), so the snapshot is simply the last level of the live -> cache -> snapshot chain.
Published values are kept as published; the one computed series (FF_MKT) is rounded to
6 decimals so that the rebuild is byte for byte. The derivations and the checks are
documented in data/sample/README.md and implemented here, one small function per
source file format.
"""

import gzip
import itertools
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from corrflow.data.sources.french import french_daily_factors, market_total_return_index
from corrflow.io import InputDataError, cli_parser, configure_logging, run_main, write_text_atomic

logger = logging.getLogger("build_sample")

# FRED H.15 constant-maturity Treasury yields, one untouched FRED download each
TREASURY_SERIES = "DGS1MO DGS3MO DGS6MO DGS1 DGS2 DGS3 DGS5 DGS7 DGS10 DGS20 DGS30".split()

# two sources of one index may differ by a bad print here and there (Yahoo's S&P 500
# close on 2021-08-11 is 5.29 points below S&P's), never by more than this on any day
SPLICE_MAX_RELATIVE_DIFFERENCE = 0.005
SPLICE_MIN_COMMON_DAYS = 20


def _series(dates: pd.Series, values: pd.Series, path: Path, date_format: str) -> pd.Series:
    """Dates and numbers of one source column, checked: parseable, unique, increasing."""
    parsed = pd.to_datetime(dates, format=date_format, errors="coerce")
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise InputDataError(
            f"build_sample: {path} line {row + 2} has the date {dates.iloc[row]!r}, expected {date_format}; "
            f"is this the right file?"
        )
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputDataError(
            f"build_sample: {path} line {row + 2} ({dates.iloc[row]}) has the value {values.iloc[row]!r}, "
            f"not a number; fix the source file or its reader"
        )
    index = pd.DatetimeIndex(parsed, name="date")
    not_after_previous = np.flatnonzero(np.diff(index.asi8) <= 0)
    if len(not_after_previous):
        row = int(not_after_previous[0]) + 1
        raise InputDataError(
            f"build_sample: {path} line {row + 2} ({dates.iloc[row]}) is not after the row before it "
            f"({dates.iloc[row - 1]}); the sources are expected sorted with one row a day"
        )
    numbers = numbers.astype("float64")
    if np.isinf(numbers).any():
        raise InputDataError(f"build_sample: {path} holds an infinite value; fix the source file")
    return pd.Series(numbers.to_numpy(), index=index)


def _require(path: Path) -> Path:
    if not path.is_file():
        raise InputDataError(
            f"build_sample: source file {path} does not exist; the source folders are listed in "
            f"data/sample/README.md"
        )
    return path


def _read_columns(path: Path, columns: list[str]) -> pd.DataFrame:
    raw = pd.read_csv(_require(path), dtype="str", keep_default_na=False)
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        raise InputDataError(
            f"build_sample: {path} has no column {', '.join(missing)} (it has {', '.join(raw.columns)}); "
            f"is this the right file?"
        )
    return raw[columns].replace("", np.nan)


def fred_download(path: Path, series_id: str) -> pd.Series:
    """An untouched FRED download: ``observation_date,<ID>``, blank value on holidays."""
    raw = _read_columns(path, ["observation_date", series_id])
    return _series(raw["observation_date"], raw[series_id], path, "%Y-%m-%d")


def yahoo_adjusted_close(path: Path) -> pd.Series:
    """``Date,Open,High,Low,Close,Volume`` whose Close is already adjusted (dividends reinvested)."""
    raw = _read_columns(path, ["Date", "Close"])
    return _series(raw["Date"], raw["Close"], path, "%Y-%m-%d")


def yahoo_index_close(path: Path, column: str) -> pd.Series:
    """Yahoo's index download, ``Date,^GSPC`` (an index has no dividends to adjust for)."""
    raw = _read_columns(path, ["Date", column])
    return _series(raw["Date"], raw[column], path, "%Y-%m-%d")


def skfolio_sp500_index(path: Path) -> pd.Series:
    """skfolio's ``Date,SP500``: the S&P 500 price index level, 1990-2022."""
    raw = _read_columns(path, ["Date", "SP500"])
    return _series(raw["Date"], raw["SP500"], path, "%Y-%m-%d")


def eia_wti_daily(path: Path) -> pd.Series:
    """datasets/oil-prices' ``Date,Price`` (EIA RWTC = FRED DCOILWTICO), no holiday rows.

    The -36.98 of 2020-04-20 is a real settlement price and is kept as it is."""
    raw = _read_columns(path, ["Date", "Price"])
    return _series(raw["Date"], raw["Price"], path, "%Y-%m-%d")


def french_market_total_return_index(path: Path) -> pd.Series:
    """US equity market total return index: 100 * cumprod(1 + (Mkt-RF + RF) / 100).

    100 is the close before the first day in the file (1926-06-30); rounded to 6 decimals."""
    # Ken French's files are written on Windows; latin-1 reads any byte the footer may hold
    data = _require(path).read_bytes()
    data = gzip.decompress(data) if path.suffix == ".gz" else data
    return market_total_return_index(french_daily_factors(data.decode("latin-1"), str(path)))


def overlap_statistics(earlier: pd.Series, later: pd.Series) -> dict:
    """Common published days of two sources of one index and their largest differences."""
    both = pd.concat([earlier, later], axis=1, join="inner").dropna()
    if both.empty:
        return {"common_days": 0}
    difference = (both.iloc[:, 1] - both.iloc[:, 0]).abs()
    relative = difference / both.iloc[:, 0].abs()
    return {
        "common_days": len(both),
        "first": both.index[0].date(),
        "last": both.index[-1].date(),
        "max_abs": float(difference.max()),
        "max_abs_on": difference.idxmax().date(),
        "max_rel": float(relative.max()),
        "max_rel_on": relative.idxmax().date(),
    }


def splice_levels(segments: list[tuple[str, pd.Series]]) -> tuple[pd.Series, list[dict]]:
    """One index from several sources: each source only after the previous one's last
    published day, and only where the two agree on every day they share.

    Returns the spliced levels and, per splice, the overlap statistics (for the README)."""
    spliced = segments[0][1].loc[: segments[0][1].last_valid_index()]
    splices = []
    for (previous_name, previous), (name, levels) in itertools.pairwise(segments):
        stats = overlap_statistics(previous, levels)
        if stats["common_days"] < SPLICE_MIN_COMMON_DAYS:
            raise InputDataError(
                f"build_sample: {name} shares {stats['common_days']} days with {previous_name}, fewer than "
                f"{SPLICE_MIN_COMMON_DAYS}; a splice needs an overlap to check that they are one index"
            )
        if stats["max_rel"] > SPLICE_MAX_RELATIVE_DIFFERENCE:
            raise InputDataError(
                f"build_sample: {name} and {previous_name} differ by {stats['max_rel']:.2%} on "
                f"{stats['max_rel_on']}; they are not the same index, so they are not spliced"
            )
        ends = spliced.last_valid_index()
        continuation = levels.loc[levels.index > ends]
        continuation = continuation.loc[: continuation.last_valid_index()]
        if continuation.empty:
            raise InputDataError(
                f"build_sample: {name} ends before {previous_name} ({ends.date()}); nothing to splice"
            )
        spliced = pd.concat([spliced, continuation])
        splices.append(
            {"from": previous_name, "to": name, "last_from": ends.date(),
             "first_to": continuation.index[0].date(), "last_to": continuation.index[-1].date(), **stats}
        )  # fmt: skip
    return spliced, splices


def build_snapshot(sources: Path, sources_2026: Path) -> dict[str, pd.Series]:
    """Every snapshot series by id (the ids config/config.yaml uses)."""
    snapshot = {
        series_id: fred_download(sources_2026 / f"{series_id}.csv.gz", series_id)
        for series_id in TREASURY_SERIES
    }
    snapshot["VIXCLS"] = fred_download(sources_2026 / "VIXCLS.csv.gz", "VIXCLS")
    snapshot["DCOILWTICO"] = eia_wti_daily(sources_2026 / "wti-daily.csv.gz")
    # zipline's SPY_benchmark.csv is not used: before ~2013 it leaves dividends out
    snapshot["SPY"] = yahoo_adjusted_close(sources_2026 / "spy.csv.gz")
    snapshot["TLT"] = yahoo_adjusted_close(sources_2026 / "tlt.csv.gz")
    snapshot["SP500"], splices = splice_levels(
        [
            ("skfolio sp500_index", skfolio_sp500_index(sources / "sp500_index.csv.gz")),
            ("Yahoo ^GSPC", yahoo_index_close(sources_2026 / "GSPC.csv.gz", "^GSPC")),
            ("FRED SP500", fred_download(sources_2026 / "SP500_fred.csv.gz", "SP500")),
        ]
    )
    for splice in splices:
        logger.info(
            "SP500: %s to %s, then %s %s..%s; on their %d common days %s..%s the largest difference "
            "is %.6g points (%s), %.3g relative (%s)",
            splice["from"], splice["last_from"], splice["to"], splice["first_to"], splice["last_to"],
            splice["common_days"], splice["first"], splice["last"], splice["max_abs"], splice["max_abs_on"],
            splice["max_rel"], splice["max_rel_on"],
        )  # fmt: skip
    snapshot["FF_MKT"] = french_market_total_return_index(
        sources_2026 / "F-F_Research_Data_Factors_daily.csv.gz"
    )
    return snapshot


def series_csv_text(series: pd.Series) -> str:
    """The cache's shape: ``date,value``, ISO dates, blank where nothing was published,
    from the first to the last published value (gaps inside the series' life stay blank)."""
    valid = series.index[series.notna()]
    series = series.loc[valid[0] : valid[-1]]
    frame = pd.DataFrame({"date": series.index.strftime("%Y-%m-%d"), "value": series.to_numpy()})
    return frame.to_csv(index=False, lineterminator="\n")


def main(argv=None) -> None:
    parser = cli_parser(__doc__)
    parser.add_argument(
        "--sources", type=Path, required=True, help="../shared/sample-sources (skfolio's S&P 500)"
    )
    parser.add_argument(
        "--sources-2026", type=Path, required=True, help="../shared/sample-sources-2026 (everything else)"
    )
    parser.add_argument("--out", type=Path, required=True, help="snapshot folder (data/sample)")
    args = parser.parse_args(argv)
    configure_logging(args.log)
    for folder in (args.sources, args.sources_2026):
        if not folder.is_dir():
            raise InputDataError(
                f"build_sample: source folder {folder} does not exist; see data/sample/README.md"
            )
    snapshot = build_snapshot(args.sources, args.sources_2026)
    args.out.mkdir(parents=True, exist_ok=True)
    for series_id, series in sorted(snapshot.items()):
        text = series_csv_text(series)
        write_text_atomic(text, args.out / f"{series_id}.csv")
        rows = text.count("\n") - 1
        logger.info(
            "%s: %d rows (%d values), %s .. %s, %d bytes",
            series_id, rows, series.notna().sum(), series.first_valid_index().date(),
            series.last_valid_index().date(), len(text),
        )  # fmt: skip


if __name__ == "__main__":
    run_main(main)
