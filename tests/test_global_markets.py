"""Global markets, truthfully (issue: every exchange calendar, 24/7 crypto, foreign
holidays, currencies, asynchronous closes, all pairs on each pair's own days).

The universe a user would build: the snapshot's SPY and TLT (NYSE) and DGS10 (the US
bond market, SIFMA_US), a Nikkei-like index in yen on Tokyo's calendar (XTKS, with the
ten-day Golden Week of 2019), the yen rate that converts it (FRED DEXJPUS's direction:
yen per dollar, absent on US holidays) and a 24/7 coin. The foreign index, the rate and
the coin are generated here (no licence to bundle real ones); their calendars are the
real ones. Every configured pair and every pair of the all-pairs store must equal pandas
on the inner join of the two series' dates, on every day pandas has a value.
"""

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT, snakemake
from corrflow.analytics.returns import par_bond_duration_convexity
from corrflow.data.calendars import sessions

pytestmark = pytest.mark.e2e

START, END = "2016-01-04", "2020-12-31"
WINDOW = 60


def snapshot_series(series_id: str) -> pd.Series:
    frame = pd.read_csv(ROOT / "data/sample" / f"{series_id}.csv", parse_dates=["date"], index_col="date")
    return frame["value"].dropna().loc[START:END]


def foreign_files() -> dict[str, pd.Series]:
    """N225 (yen, Tokyo sessions; it trades New York's news of the previous day),
    DEXJPUS (yen per dollar, weekdays but US holidays) and BTC (every day, dollars)."""
    rng = np.random.default_rng(2019)
    spy = snapshot_series("SPY")
    spy_returns = np.log(spy).diff()
    tokyo = sessions("XTKS", START, END)
    # Tokyo's return on day t holds New York's return of the last session before t
    lagged = spy_returns.reindex(spy_returns.index.union(tokyo)).ffill().shift(1).reindex(tokyo).fillna(0)
    n225 = 20000 * np.exp(np.cumsum(0.8 * lagged.to_numpy() + rng.normal(0, 0.009, len(tokyo))))
    weekdays = pd.bdate_range(START, END)
    fx_days = weekdays.intersection(sessions("NYSE", START, END).union(pd.DatetimeIndex(["2016-11-11"])))
    dexjpus = 110 * np.exp(np.cumsum(rng.normal(0, 0.005, len(fx_days))))
    every_day = pd.date_range(START, END)
    btc = 500 * np.exp(np.cumsum(rng.normal(0.001, 0.04, len(every_day))))
    return {
        "N225": pd.Series(n225, index=tokyo),
        "DEXJPUS": pd.Series(dexjpus, index=fx_days),
        "BTC": pd.Series(btc, index=every_day),
    }


def write_csv(series: pd.Series, path) -> None:
    frame = pd.DataFrame({"date": series.index.strftime("%Y-%m-%d"), "value": series.to_numpy()})
    frame.to_csv(path, index=False, lineterminator="\n")


SERIES = [
    {"id": "SPY", "source": "csv", "kind": "price", "currency": "USD", "name": "SPDR S&P 500 ETF"},
    {"id": "TLT", "source": "csv", "kind": "price", "currency": "USD", "name": "iShares 20+ Year Treasury"},
    {"id": "DGS10", "source": "fred", "kind": "yield", "maturity": 10, "name": "10-year Treasury yield"},
    {"id": "N225", "source": "csv", "kind": "price", "currency": "JPY", "calendar": "XTKS", "name": "Nikkei"},
    {"id": "DEXJPUS", "source": "csv", "kind": "fx", "base": "USD", "currency": "JPY", "name": "yen per $"},
    {"id": "BTC", "source": "csv", "kind": "price", "currency": "USD", "calendar": "24/7", "name": "Coin"},
]
PAIRS = [["SPY", "TLT"], ["SPY", "N225"], ["SPY", "BTC"], ["N225", "DGS10"], ["BTC", "N225"]]


def make_universe(workdir, series, pairs, extra=None):
    from conftest import copy_workflow

    workdir = copy_workflow(workdir)
    local = workdir / "data/local"
    local.mkdir(parents=True)
    files = {"SPY": snapshot_series("SPY"), "TLT": snapshot_series("TLT"), **foreign_files()}
    for series_id, values in files.items():
        write_csv(values, local / f"{series_id}.csv")
    config = yaml.safe_load((workdir / "config/config.yaml").read_text())
    config.update(
        start=START,
        end=END,
        offline=True,
        series=series,
        correlation={"pairs": pairs, "windows": [WINDOW]},
        features={"cash_rate": None},
        stress={"equity": "SPY", "bond": "DGS10", "vix": None},
        model={"enabled": False},
        **(extra or {}),
    )
    (workdir / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return workdir, files


@pytest.fixture(scope="module")
def global_universe(tmp_path_factory):
    workdir, files = make_universe(
        tmp_path_factory.mktemp("global"),
        SERIES,
        PAIRS,
        {"all_pairs": {"enabled": True, "dtype": "float64", "window": WINDOW, "n_blocks": 2}},
    )
    snakemake(workdir, "--cores", "2")
    return workdir, files


def reference_levels(files: dict[str, pd.Series]) -> dict[str, pd.Series]:
    """Each series as a user holds it, in dollars: N225 divided by DEXJPUS on the days both
    have a value (an inner join), DGS10 from the snapshot file."""
    joined = pd.concat({"N225": files["N225"], "DEXJPUS": files["DEXJPUS"]}, axis=1, join="inner")
    return {
        "SPY": files["SPY"],
        "TLT": files["TLT"],
        "DGS10": snapshot_series("DGS10"),
        "N225": joined["N225"] / joined["DEXJPUS"],
        "DEXJPUS": files["DEXJPUS"],
        "BTC": files["BTC"],
    }


def reference_returns(levels: dict[str, pd.Series], a: str, b: str) -> pd.DataFrame:
    """Plain pandas: the inner join of the two series' dates, returns between consecutive
    joined days (log returns; a yield's par-bond return with carry for the weekdays
    elapsed)."""
    joined = pd.concat({a: levels[a], b: levels[b]}, axis=1, join="inner")
    returns = {}
    for name in (a, b):
        if name == "DGS10":
            y = joined[name].to_numpy() / 100
            prev = np.r_[np.nan, y[:-1]]
            duration, convexity = par_bond_duration_convexity(np.nan_to_num(prev), 10.0)
            days = joined.index.values.astype("datetime64[D]")
            elapsed = np.r_[np.nan, np.busday_count(days[:-1], days[1:])]
            dy = y - prev
            bond = prev * elapsed / 252 - duration * dy + 0.5 * convexity * dy**2
            returns[name] = pd.Series(np.log1p(bond), index=joined.index)
        else:
            returns[name] = np.log(joined[name]).diff()
    return pd.DataFrame(returns)


def reference_corr(levels: dict[str, pd.Series], a: str, b: str) -> pd.Series:
    """``reference_returns``, rolling(60).corr."""
    returns = reference_returns(levels, a, b)
    return returns[a].rolling(WINDOW, min_periods=WINDOW).corr(returns[b])


def assert_equals_reference(ours: pd.Series, expected: pd.Series, label: str) -> None:
    """Equal within 1e-9 on every day the reference has a value; no value on any other day."""
    reference_days = expected.dropna().index
    assert len(reference_days) > 500, label
    missing = reference_days[ours.reindex(reference_days).isna().to_numpy()]
    assert not len(missing), f"{label}: no value on {len(missing)} reference days, first {missing[:3]}"
    np.testing.assert_allclose(
        ours.reindex(reference_days), expected.loc[reference_days], rtol=0, atol=1e-9, err_msg=label
    )
    extra = ours.dropna().index.difference(reference_days)
    assert not len(extra), f"{label}: values on {len(extra)} days the reference has none, first {extra[:3]}"


def test_configured_pairs_equal_pandas_on_the_inner_join(global_universe):
    workdir, files = global_universe
    corr = pd.read_csv(workdir / "data/processed/rolling_corr.csv", index_col="date", parse_dates=["date"])
    levels = reference_levels(files)
    for a, b in PAIRS:
        assert_equals_reference(corr[f"{a}:{b}:{WINDOW}"], reference_corr(levels, a, b), f"{a}-{b}")
    # Golden Week 2019 (Tokyo closed 27 April - 6 May) is a holiday, not missing data: the
    # pair's return on 7 May spans it for both legs, and the pair keeps its values
    assert corr.loc["2019-05-07":"2019-08-01", f"SPY:N225:{WINDOW}"].notna().sum() > 50
    assert pd.read_csv(workdir / "data/processed/pair_gaps.csv").empty


def test_every_pair_of_the_store_equals_pandas_on_the_inner_join(global_universe):
    from corrflow.store.all_pairs import read_all_pairs

    workdir, files = global_universe
    manifest = workdir / "data/processed/all_pairs/manifest.json"
    levels = reference_levels(files)
    names = [s["id"] for s in SERIES]
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert_equals_reference(
                read_all_pairs(manifest, pair=(a, b)), reference_corr(levels, a, b), f"{a}-{b}"
            )


def test_the_dashboard_heatmap_reads_the_stores_month_end_matrices(global_universe):
    """With all pairs on (same window), the dashboard's month-end heatmap is the store's
    month-end matrices, which are each pair's last value of the month (pandas)."""
    from corrflow.store.all_pairs import read_month_ends

    workdir, files = global_universe
    page = (workdir / "docs/dashboard.html").read_text()
    data = json.loads(re.search(r'<script id="dashboard-data"[^>]*>(.*?)</script>', page, re.S).group(1))
    log = (workdir / "logs/universe.log").read_text()  # the universe rule reads them; the dashboard reads it
    assert "month-end matrices: the store's data/processed/all_pairs/manifest.json" in log
    order = data["order"]
    months, cube = read_month_ends(workdir / "data/processed/all_pairs/manifest.json", series=order)
    assert data["months"] == [m.strftime("%Y-%m") for m in months][: len(data["months"])]
    assert len(data["months"]) >= len(months) - 1
    frames = np.array(data["frames"], dtype="float64")
    stored = np.round(cube[: len(frames)], 3)
    # the diagonal: 1 where the series has a value that month, empty (not 1.00) where it has none
    valued = (np.isfinite(stored).sum(axis=2) > 1)[:, :, None] | ~np.eye(len(order), dtype=bool)
    np.testing.assert_allclose(frames, np.where(valued, stored, np.nan), atol=5.01e-4, equal_nan=True)
    levels = reference_levels(files)
    a, b = order[0], order[-1]
    daily = reference_corr(levels, a, b).dropna()
    month_last = daily.groupby(daily.index.to_period("M")).last()
    shown = pd.Series(cube[:, 0, -1], index=months.to_period("M")).dropna()
    np.testing.assert_allclose(shown.to_numpy(), month_last.loc[shown.index].to_numpy(), atol=1e-9)
    assert len(shown) == len(month_last)


def test_weekend_rows_of_a_24_7_series_are_kept_and_currencies_are_recorded(global_universe):
    from corrflow.data.contracts import read_parquet

    workdir, files = global_universe
    levels, metadata = read_parquet(workdir / "data/processed/clean.parquet")
    assert levels["BTC"].notna().sum() == len(files["BTC"])  # every weekend row kept
    assert metadata["series"]["BTC"]["off_calendar_observations"] == 0
    n225 = metadata["series"]["N225"]
    assert (n225["calendar"], n225["currency"], n225["converted_from"], n225["converted_with"]) == (
        "XTKS",
        "USD",
        "JPY",
        "DEXJPUS",
    )
    report = (workdir / "docs/report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| N225 |"))
    assert "USD (from JPY with DEXJPUS)" in row and "| XTKS |" in row
    btc = next(line for line in report.splitlines() if line.startswith("| BTC |"))
    assert "| 24/7 |" in btc
    dashboard = (workdir / "docs/dashboard.html").read_text()
    assert "USD (from JPY with DEXJPUS)" in dashboard
    dq = json.loads((workdir / "docs/dq_report.json").read_text())
    assert dq["series"]["BTC"]["checks"]["calendar"] == "pass"
    assert dq["series"]["N225"]["calendar_advice"] is None  # XTKS fits its rows


def test_pairs_whose_markets_close_apart_get_the_synchronised_estimate(global_universe):
    workdir, _ = global_universe
    corr = pd.read_csv(workdir / "data/processed/rolling_corr.csv", index_col="date", parse_dates=["date"])
    assert f"SPY:N225:{WINDOW}:sync" in corr and f"SPY:BTC:{WINDOW}:sync" in corr
    assert f"SPY:TLT:{WINDOW}:sync" not in corr  # both on the NYSE
    # N225 trades New York's news a day late: the same-day correlation misses most of it
    day = corr[f"SPY:N225:{WINDOW}"].dropna().index
    assert corr.loc[day, f"SPY:N225:{WINDOW}:sync"].mean() > corr.loc[day, f"SPY:N225:{WINDOW}"].mean() + 0.3
    report = (workdir / "docs/report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| SPY-N225 |"))
    assert "synchronised" in row


@pytest.fixture(scope="module")
def wrong_calendar_universe(tmp_path_factory):
    """The same index declared on the NYSE's calendar: Golden Week becomes six missing
    NYSE sessions, more than clean.max_gap_days (3)."""
    series = [s if s["id"] != "N225" else {k: v for k, v in s.items() if k != "calendar"} for s in SERIES]
    workdir, files = make_universe(tmp_path_factory.mktemp("wrong_calendar"), series, [["SPY", "N225"]])
    snakemake(workdir, "--cores", "2")
    return workdir


def test_a_gap_beyond_max_gap_days_is_named_in_log_dq_and_report(wrong_calendar_universe):
    workdir = wrong_calendar_universe
    gaps = pd.read_csv(workdir / "data/processed/pair_gaps.csv")
    golden = gaps[gaps["missing_from"] == "2019-04-29"]
    assert len(golden) == 1
    assert golden.iloc[0][["pair", "missing", "missing_to", "open_days_missing"]].tolist() == [
        "SPY-N225",
        "N225",
        "2019-05-06",
        6,
    ]
    corr = pd.read_csv(workdir / "data/processed/rolling_corr.csv", index_col="date", parse_dates=["date"])
    blank = corr.loc[golden.iloc[0]["blank_from"] : golden.iloc[0]["blank_to"], f"SPY:N225:{WINDOW}"]
    assert blank.isna().all() and golden.iloc[0]["blank_days"] == WINDOW
    log = (workdir / "logs/rolling_corr.log").read_text()
    assert re.search(r"pair SPY-N225 has no 60-day value on 60 of its days 2019-05-07\.\.", log)
    assert "2019-04-29..2019-05-06" in log and "set its `calendar:`" in log
    dq = (workdir / "docs/dq_report.md").read_text()
    assert "no value on 6 open NYSE days 2019-04-29..2019-05-06" in dq and "SPY-N225" in dq
    # the calendar that fits the rows is named, never "check the file's dates" for real sessions
    assert re.search(r"N225's rows match XTKS on 100.0% of days, NYSE on \d+\.\d%: set `calendar: XTKS`", dq)
    n225 = dq.split("### N225")[1].split("###")[0]
    assert "check the file's dates" not in n225
    report = (workdir / "docs/report.md").read_text()
    assert "Pairs without a value" in report and "pair SPY-N225 has no 60-day value" in report


def test_the_dashboard_and_figure_break_at_the_gap(wrong_calendar_universe):
    workdir = wrong_calendar_universe
    page = (workdir / "docs/dashboard.html").read_text()
    payload = re.search(r'<script id="dashboard-data" type="application/json">(.*?)</script>', page, re.S)
    data = json.loads(payload.group(1).replace("<\\/", "</"))
    pair = data["pairs"]["SPY|N225"]
    values = dict(zip(pair["dates"], pair["corr"], strict=True))
    # the pair's days inside the blank stretch are there, as nulls: the line breaks
    assert "2019-06-03" in values and values["2019-06-03"] is None
    assert all(values[d] is None for d in values if "2019-05-07" <= d <= "2019-07-31")
    assert values["2019-04-26"] is not None
    corr = pd.read_csv(workdir / "data/processed/rolling_corr.csv", index_col="date", parse_dates=["date"])
    for day, value in values.items():  # every drawn value is rolling_corr.csv's
        expected = corr.loc[day, f"SPY:N225:{WINDOW}"]
        assert (value is None and np.isnan(expected)) or abs(value - expected) < 5e-4, day


def test_a_wrong_way_fx_rate_stops_the_run_with_one_line(tmp_path):
    """DEXJPUS (yen per dollar) declared as dollars per yen would convert the index with
    the inverse rate: errors of the size of the correlation itself, silently."""
    series = [
        {**s, "base": "JPY", "currency": "USD"} if s["id"] == "DEXJPUS" else s
        for s in SERIES
        if s["id"] in ("SPY", "DGS10", "N225", "DEXJPUS")
    ]
    workdir, _ = make_universe(tmp_path, series, [["SPY", "N225"]])
    result = snakemake(workdir, "--cores", "2", "data/processed/clean.parquet", check=False)
    assert result.returncode != 0
    log = (workdir / "logs/clean.log").read_text()
    errors = [line for line in log.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "Traceback" not in log
    assert "fx series 'DEXJPUS' is declared as USD per one JPY" in errors[0]
    assert "swap them in config key `series` (DEXJPUS): base: USD, currency: JPY" in errors[0]
    assert not (workdir / "data/processed/clean.parquet").exists()


def test_an_unknown_calendar_is_refused_before_any_job(tmp_path):
    series = [{**s, "calendar": "XTKO"} if s["id"] == "N225" else s for s in SERIES]
    workdir, _ = make_universe(tmp_path, series, [["SPY", "N225"]])
    result = snakemake(workdir, "-n", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert (
        "config key `series` (N225): calendar: 'XTKO' is not a calendar of pandas_market_calendars" in output
    )
    assert "did you mean XTKS" in output and "Traceback" not in output


def test_the_dashboard_line_and_band_break_at_the_gap_in_a_real_browser(wrong_calendar_universe):
    """Clicked in Chromium: the pair's line has nulls on the blank days and no band
    polygon reaches across them."""
    from playwright.sync_api import sync_playwright

    from test_dashboard import chromium_or_skip, click_every_cell, open_in_chromium

    chromium_or_skip()
    with sync_playwright() as playwright:
        browser, page = open_in_chromium(playwright, wrong_calendar_universe / "docs/dashboard.html")
        try:
            shown = click_every_cell(page)
            assert page.problems == []
        finally:
            browser.close()
    view = shown.get(("SPY", "N225")) or shown[("N225", "SPY")]
    assert view["pair"] == "SPY|N225"
    line = dict(zip(view["traces"]["corr"]["x"], view["traces"]["corr"]["y"], strict=True))
    blank = [d for d in line if "2019-05-07" <= d <= "2019-07-31"]
    assert len(blank) > 50 and all(line[d] is None for d in blank)
    band = view["traces"]["band"]
    polygons, current = [], []
    for x in band["x"] + [None]:
        if x is None:
            polygons.append(current) if current else None
            current = []
        else:
            current.append(x[:10])
    assert len(polygons) >= 2
    for polygon in polygons:  # each lies wholly before or after the blank stretch
        assert max(polygon) < "2019-05-07" or min(polygon) > "2019-07-31", (min(polygon), max(polygon))


RATE_END = "2019-06-28"


@pytest.fixture(scope="module")
def edge_universe(tmp_path_factory):
    """The issue's edges: a London index in pounds whose fx rate (DEXUSUK's direction:
    dollars per pound) ends 18 months before the index's own file, on London's calendar
    4.5 hours ahead of New York and trading half of New York's news a day late, beside
    the 24/7 coin."""
    rng = np.random.default_rng(29)
    workdir = tmp_path_factory.mktemp("edges")
    series = [s for s in SERIES if s["id"] in ("SPY", "TLT", "DGS10", "BTC")] + [
        {
            "id": "FTSE",
            "source": "csv",
            "kind": "price",
            "currency": "GBP",
            "calendar": "XLON",
            "name": "FTSE",
        },
        {
            "id": "DEXUSUK",
            "source": "csv",
            "kind": "fx",
            "base": "GBP",
            "currency": "USD",
            "name": "$ per pound",
        },
    ]
    workdir, files = make_universe(workdir, series, [["SPY", "FTSE"], ["SPY", "BTC"], ["SPY", "TLT"]])
    spy = np.log(files["SPY"]).diff()
    london = sessions("XLON", START, END)
    late = spy.reindex(spy.index.union(london)).ffill().shift(1).reindex(london).fillna(0).to_numpy()
    same = spy.reindex(london).fillna(0).to_numpy()
    ftse = pd.Series(
        7000 * np.exp(np.cumsum(0.5 * same + 0.5 * late + rng.normal(0, 0.004, len(london)))), london
    )
    rate_days = pd.bdate_range(START, RATE_END)
    rate = pd.Series(1.3 * np.exp(np.cumsum(rng.normal(0, 0.004, len(rate_days)))), rate_days)
    write_csv(ftse, workdir / "data/local/FTSE.csv")
    write_csv(rate, workdir / "data/local/DEXUSUK.csv")
    snakemake(workdir, "--cores", "2")
    return workdir, ftse


def test_a_series_ending_with_its_fx_rate_is_named_with_the_rate_everywhere(edge_universe):
    workdir, ftse = edge_universe
    dropped = int((ftse.index > RATE_END).sum())
    log = (workdir / "logs/clean.log").read_text()
    assert f"FTSE: {dropped} closes after {RATE_END} dropped" in log and f"DEXUSUK ends on {RATE_END}" in log
    dq = json.loads((workdir / "docs/dq_report.json").read_text())["series"]["FTSE"]
    assert dq["ends_with_rate"] == {"rate": "DEXUSUK", "rate_last": RATE_END, "dropped": dropped}
    report = (workdir / "docs/report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| SPY-FTSE |"))
    assert f"FTSE ends {RATE_END}: its fx rate DEXUSUK ends on {RATE_END}" in row and "FTSE stale" not in row
    assert "with DEXUSUK, which ends on" in (workdir / "docs/dq_report.md").read_text()


def test_the_synchronised_estimate_of_the_edge_universe_is_a_bounded_correlation(edge_universe):
    from corrflow.analytics.correlation.rolling_corr import synchronised_corr

    workdir, _ = edge_universe
    corr = pd.read_csv(workdir / "data/processed/rolling_corr.csv", index_col="date", parse_dates=["date"])
    synced = corr[f"SPY:FTSE:{WINDOW}:sync"].dropna()
    daily = corr[f"SPY:FTSE:{WINDOW}"].dropna()
    assert len(synced) > 300 and synced.between(-1, 1).all() and (synced < 1).all()
    assert synced.mean() > daily.mean() + 0.1  # half of each day's news reaches London a day late
    assert corr[f"SPY:BTC:{WINDOW}:sync"].dropna().between(-1, 1).all()
    report = (workdir / "docs/report.md").read_text()
    assert ">99.9" not in report and "<0.1 " not in report
    # the stored value is the function's, on the pair's joint returns
    from corrflow.analytics.returns import pair_returns
    from corrflow.data.contracts import closed_by_series, read_parquet

    levels, meta = read_parquet(workdir / "data/processed/clean.parquet")
    max_gap = meta["calendar"]["max_gap_days"]
    joint = pair_returns(levels, meta["series"], "SPY", "FTSE", closed_by_series(meta), max_gap)
    expected = synchronised_corr(joint["SPY"], joint["FTSE"], WINDOW).dropna()
    np.testing.assert_allclose(synced.reindex(expected.index), expected, atol=1e-9)
