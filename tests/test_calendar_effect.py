"""What DQ's calendar suggestion changes in a pair's correlation (issue 29: "without
`calendar:` keys ... a London-Frankfurt pair changes by up to 0.117, with only 'calendar:
warn' in the report").

A London index and a Frankfurt index, generated on their exchanges' real sessions (XLON,
XETR), configured WITHOUT `calendar:` keys (so on the NYSE's default calendar), beside
the snapshot's SPY. DQ suggests XLON and XETR; the calendar_effect step computes each
pair's 60-day correlation with and without the suggestion, which must equal plain pandas
(each version cleaned by hand: the series on its calendar's sessions, the inner join of
the pair's dates, log returns, rolling(60).corr()), and the report says it in numbers.
"""

import csv

import numpy as np
import pandas as pd
import pytest

from conftest import snakemake
from corrflow.analytics.correlation.calendar_effect import (
    COLUMNS,
    effect_rows,
    read_calendar_effect,
    suggestions,
)
from corrflow.data.calendars import sessions
from corrflow.data.dq import quality_report
from test_global_markets import END, START, WINDOW, make_universe, snapshot_series, write_csv

SERIES = [
    {"id": "SPY", "source": "csv", "kind": "price", "currency": "USD", "name": "SPDR S&P 500 ETF"},
    {"id": "FTSE", "source": "csv", "kind": "price", "currency": "USD", "name": "London index"},
    {"id": "DAX", "source": "csv", "kind": "price", "currency": "USD", "name": "Frankfurt index"},
]
PAIRS = [["SPY", "FTSE"], ["FTSE", "DAX"]]
# the workflow's run also needs the stress step's bond (the snapshot's 10-year yield)
DGS10 = {"id": "DGS10", "source": "fred", "kind": "yield", "maturity": 10, "name": "10-year Treasury yield"}
MAX_GAP_DAYS = 3  # the schema's default clean.max_gap_days


def european_indices() -> dict[str, pd.Series]:
    """FTSE on London's sessions and DAX on Frankfurt's, each trading half of New York's
    news the same day and half a day late, and sharing a European factor."""
    rng = np.random.default_rng(2911)
    spy = np.log(snapshot_series("SPY")).diff()
    europe = pd.date_range(START, END)
    factor = pd.Series(rng.normal(0, 0.006, len(europe)), europe)
    out = {}
    for series_id, calendar, level in (("FTSE", "XLON", 7000), ("DAX", "XETR", 12000)):
        days = sessions(calendar, START, END)
        late = spy.reindex(spy.index.union(days)).ffill().shift(1).reindex(days).fillna(0).to_numpy()
        same = spy.reindex(days).fillna(0).to_numpy()
        moves = 0.5 * same + 0.5 * late + factor.reindex(days).to_numpy() + rng.normal(0, 0.004, len(days))
        out[series_id] = pd.Series(level * np.exp(np.cumsum(moves)), days)
    return out


def raw_rows(files: dict[str, pd.Series]) -> pd.DataFrame:
    """The files as ingest's tidy rows (series, date, value)."""
    return pd.concat(
        [pd.DataFrame({"series": k, "date": v.index, "value": v.to_numpy()}) for k, v in files.items()],
        ignore_index=True,
    )


def reference_corr(files: dict[str, pd.Series], calendars: dict[str, str], a: str, b: str) -> pd.Series:
    """Plain pandas: each leg on its calendar's sessions, the inner join of the pair's
    dates, log returns, rolling(WINDOW).corr()."""
    legs = {}
    for name in (a, b):
        values = files[name].loc[START:END]
        legs[name] = values[values.index.isin(sessions(calendars[name], values.index[0], values.index[-1]))]
    joined = pd.concat(legs, axis=1, join="inner")
    returns = np.log(joined).diff()
    return returns[a].rolling(WINDOW, min_periods=WINDOW).corr(returns[b])


def reference_effect(files, moved: dict[str, str], a: str, b: str) -> dict:
    """Max |change|, its date and the last common day's change, by ``reference_corr``,
    with the series of ``moved`` on their suggested calendars."""
    now = {"SPY": "NYSE", "FTSE": "NYSE", "DAX": "NYSE"}
    change = (reference_corr(files, now | moved, a, b) - reference_corr(files, now, a, b)).dropna()
    return {
        "days": len(change),
        "max": float(change.abs().max()),
        "date": str(change.abs().idxmax().date()) if change.abs().max() > 0 else None,
        "last": float(change.iloc[-1]),
        "last_day": str(change.index[-1].date()),
    }


@pytest.fixture(scope="module")
def files() -> dict[str, pd.Series]:
    return {"SPY": snapshot_series("SPY"), **european_indices()}


def test_dq_records_the_suggested_calendar_as_a_field(files):
    report = quality_report(raw_rows(files), SERIES, {}, 10, 8.0, START, END, MAX_GAP_DAYS, PAIRS, "USD")
    assert suggestions(report) == {"FTSE": "XLON", "DAX": "XETR"}
    ftse = report["series"]["FTSE"]
    assert "set `calendar: XLON`" in ftse["calendar_advice"]  # the text stays beside the field
    assert report["series"]["SPY"]["calendar_suggestion"] is None


def test_each_suggestions_effect_equals_plain_pandas(files):
    report = quality_report(raw_rows(files), SERIES, {}, 10, 8.0, START, END, MAX_GAP_DAYS, PAIRS, "USD")
    rows = effect_rows(
        raw_rows(files), SERIES, {}, suggestions(report), START, END, "USD", MAX_GAP_DAYS, PAIRS, WINDOW
    )
    assert [(r["series"], r["pair"]) for r in rows] == [
        ("FTSE", "SPY-FTSE"),
        ("FTSE", "FTSE-DAX"),
        ("DAX", "FTSE-DAX"),
    ]
    suggested = {"FTSE": "XLON", "DAX": "XETR"}
    for row in rows:
        a, b = row["pair"].split("-")
        moved = {leg: suggested[leg] for leg in (a, b) if leg in suggested}  # the advice followed
        expected = reference_effect(files, moved, a, b)
        assert row["current_calendar"] == "NYSE" and row["window"] == WINDOW
        assert row["days_compared"] == expected["days"] > 500, row
        assert row["max_abs_change"] == pytest.approx(expected["max"], abs=1e-9)
        assert row["max_change_date"] == expected["date"]
        assert row["last_common_day"] == expected["last_day"]
        assert row["last_change"] == pytest.approx(expected["last"], abs=1e-9)
    by_key = {(r["series"], r["pair"]): r for r in rows}
    # London-Frankfurt: both legs leave the NYSE's days; the US holidays (both European
    # markets open) join the pair's returns, and the correlation moves
    ftse_dax = by_key[("FTSE", "FTSE-DAX")]
    assert ftse_dax["max_abs_change"] > 0.02 and ftse_dax["max_change_date"]
    assert (ftse_dax["other_leg_calendar"], ftse_dax["other_leg_suggested"]) == ("XETR", True)
    assert {
        k: v for k, v in by_key[("DAX", "FTSE-DAX")].items() if k not in ("series", "suggested_calendar")
    } == {k: v for k, v in ftse_dax.items() if k not in ("series", "suggested_calendar")} | {
        "other_leg_calendar": "XLON"
    }
    assert ftse_dax["synchronised"] == "none" and ftse_dax["closes_apart_hours"] < 2
    # SPY-FTSE keeps its days (SPY has none on the US holidays London trades), but London
    # closes 4.5 or 5 h before New York: the synchronised estimate appears
    spy_ftse = by_key[("FTSE", "SPY-FTSE")]
    assert spy_ftse["max_abs_change"] == 0 and spy_ftse["max_change_date"] is None
    assert spy_ftse["synchronised"] == "appears" and spy_ftse["closes_apart_hours"] >= 4
    assert (spy_ftse["other_leg_calendar"], spy_ftse["other_leg_suggested"]) == ("NYSE", False)


def test_no_suggestion_writes_a_header_only_file_without_reading_the_raw_files(tmp_path):
    from corrflow.analytics.correlation.calendar_effect import run

    dq = tmp_path / "dq_report.json"
    dq.write_text('{"series": {"SPY": {"calendar_advice": null, "calendar_suggestion": null}}}')
    out = tmp_path / "calendar_effect.csv"
    missing = str(tmp_path / "absent.csv")  # never opened
    run(
        raw=[missing],
        ok=[missing],
        dq=str(dq),
        series=SERIES,
        start=START,
        end=END,
        base_currency="USD",
        max_gap_days=MAX_GAP_DAYS,
        pairs=PAIRS,
        window=WINDOW,
        out=str(out),
    )
    assert out.read_text() == ",".join(COLUMNS) + "\n"
    assert read_calendar_effect(out) == []


def test_a_calendar_effect_file_without_its_columns_is_refused_in_one_line(tmp_path):
    from corrflow.io import InputDataError

    path = tmp_path / "calendar_effect.csv"
    path.write_text("series,pair\nFTSE,SPY-FTSE\n")
    with pytest.raises(InputDataError, match="lacks column.*snakemake --forcerun calendar_effect"):
        read_calendar_effect(path)


@pytest.mark.e2e
def test_the_report_gives_the_pairs_change_in_numbers(tmp_path, files):
    """One real run: calendar_effect.csv holds the rows, the current version is
    rolling_corr.csv's own column, and the report's calendar line has the numbers."""
    workdir, _ = make_universe(tmp_path, [*SERIES, DGS10], PAIRS)
    for series_id in ("FTSE", "DAX"):
        write_csv(files[series_id], workdir / "data/local" / f"{series_id}.csv")
    snakemake(workdir, "--cores", "2")
    rows = read_calendar_effect(workdir / "data/processed/calendar_effect.csv")
    assert [(r["series"], r["pair"]) for r in rows] == [
        ("FTSE", "SPY-FTSE"),
        ("FTSE", "FTSE-DAX"),
        ("DAX", "FTSE-DAX"),
    ]
    ftse_dax = rows[1]
    expected = reference_effect(files, {"FTSE": "XLON", "DAX": "XETR"}, "FTSE", "DAX")
    assert ftse_dax["max_abs_change"] == pytest.approx(expected["max"], abs=1e-9)
    assert ftse_dax["max_abs_change"] > 0.02
    report = (workdir / "docs/report.md").read_text()
    line = next(x for x in report.splitlines() if x.startswith("- **FTSE: "))
    assert "set `calendar: XLON`" in line
    assert (
        "FTSE-DAX is computed on XLON's days instead of NYSE's (with DAX on XETR, DQ's suggestion for "
        f"it too): its {WINDOW}-day correlation changes by up to {ftse_dax['max_abs_change']:.3f} "
        f"({ftse_dax['max_change_date']}), {ftse_dax['mean_abs_change']:.3f} on average over the "
        f"{ftse_dax['days_compared']} days both versions have a value" in line
    )
    assert (
        f"SPY-FTSE is computed on XLON's days instead of NYSE's: its {WINDOW}-day correlation does not "
        f"change on the {rows[0]['days_compared']} days both versions have a value, and it gets the "
        f"synchronised estimate (closes {rows[0]['closes_apart_hours']:.1f} h apart)" in line
    )
    dax = next(x for x in report.splitlines() if x.startswith("- **DAX: "))
    assert "FTSE-DAX is computed on XETR's days instead of NYSE's (with FTSE on XLON" in dax
    assert f"changes by up to {ftse_dax['max_abs_change']:.3f}" in dax
    # the configured version is the workflow's own: rolling_corr.csv's FTSE-DAX column
    from corrflow.analytics.correlation.calendar_effect import pair_version

    corr = pd.read_csv(workdir / "data/processed/rolling_corr.csv", index_col="date", parse_dates=["date"])
    raw = pd.concat(
        [pd.read_csv(p, parse_dates=["date"]) for p in sorted((workdir / "data/raw").glob("*.csv"))],
        ignore_index=True,
    )
    ours, _ = pair_version(
        raw, [SERIES[1], SERIES[2]], {}, START, END, "USD", MAX_GAP_DAYS, ["FTSE", "DAX"], WINDOW
    )
    stored = corr[f"FTSE:DAX:{WINDOW}"].dropna()
    np.testing.assert_allclose(ours.reindex(stored.index), stored, atol=1e-12)
    assert ours.dropna().index.equals(stored.index)


@pytest.mark.e2e
def test_the_default_run_has_no_suggestion_and_no_calendar_line(workflow_run):
    workdir, _ = workflow_run
    with open(workdir / "data/processed/calendar_effect.csv", newline="") as handle:
        assert list(csv.reader(handle)) == [COLUMNS]
    report = (workdir / "docs/report.md").read_text()
    assert "`calendar: " not in report and "instead of NYSE's" not in report
    log = (workdir / "logs/calendar_effect.log").read_text()
    assert "no calendar suggestion" in log
