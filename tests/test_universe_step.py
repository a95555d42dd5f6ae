"""The universe step (issues 27.3, 29.3, 29.4, 29.11): the universe's matrices computed once,
and described truthfully where most series end months before the last one.

The generated universe has the shapes users met: an fx rate that ends early (DEXUSUK, and
with it the pound index it converts), most series ending months before the last one, a
24/7 coin running to the end, London and New York (closes 4.5-5 hours apart) and a `level`
indicator. 7 series, 21 pairs: the last month holds one pair (the coin and the 10-year yield).
"""

import ast
import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT, SRC, snakemake
from corrflow.data.calendars import sessions

START, END = "2016-01-04", "2020-12-08"
EARLY_END = "2020-06-05"  # SPY, TLT, UKX's market and the indicator stop here
FX_END = "2020-05-15"  # the pound's rate stops first
WINDOW = 60


def snapshot(series_id: str) -> pd.Series:
    frame = pd.read_csv(ROOT / "data/sample" / f"{series_id}.csv", parse_dates=["date"], index_col="date")
    return frame["value"].dropna().loc[START:END]


def generated_files() -> dict[str, pd.Series]:
    rng = np.random.default_rng(29)
    spy = snapshot("SPY")
    returns = np.log(spy).diff()
    london = sessions("XLON", START, EARLY_END)
    # London closes hours before New York: part of its day's news is New York's previous day
    lagged = returns.reindex(returns.index.union(london)).ffill().shift(1).reindex(london).fillna(0)
    ukx = 7000 * np.exp(np.cumsum(0.5 * lagged.to_numpy() + rng.normal(0, 0.008, len(london))))
    weekdays = pd.bdate_range(START, FX_END)
    fx_days = weekdays.intersection(sessions("NYSE", START, FX_END))
    dexusuk = 1.3 * np.exp(np.cumsum(rng.normal(0, 0.005, len(fx_days))))
    every_day = pd.date_range(START, END)
    btc = 500 * np.exp(np.cumsum(rng.normal(0.001, 0.04, len(every_day))))
    nyse = sessions("NYSE", START, EARLY_END)
    fear = 15 + np.abs(np.cumsum(rng.normal(0, 0.5, len(nyse))))
    return {
        "SPY": spy.loc[:EARLY_END],
        "TLT": snapshot("TLT").loc[:EARLY_END],
        "UKX": pd.Series(ukx, index=london),
        "DEXUSUK": pd.Series(dexusuk, index=fx_days),
        "BTC": pd.Series(btc, index=every_day),
        "FEAR": pd.Series(fear, index=nyse),
    }


SERIES = [
    {"id": "SPY", "source": "csv", "kind": "price", "currency": "USD", "name": "SPDR S&P 500 ETF"},
    {"id": "TLT", "source": "csv", "kind": "price", "currency": "USD", "name": "iShares 20+ Year Treasury"},
    {"id": "DGS10", "source": "fred", "kind": "yield", "maturity": 10, "name": "10-year Treasury yield"},
    {
        "id": "UKX",
        "source": "csv",
        "kind": "price",
        "currency": "GBP",
        "calendar": "XLON",
        "name": "London index",
    },
    {"id": "DEXUSUK", "source": "csv", "kind": "fx", "base": "GBP", "currency": "USD", "name": "$ per pound"},
    {"id": "BTC", "source": "csv", "kind": "price", "currency": "USD", "calendar": "24/7", "name": "Coin"},
    {"id": "FEAR", "source": "csv", "kind": "level", "currency": "USD", "name": "a fear index"},
]
PAIRS = [["SPY", "TLT"], ["SPY", "UKX"], ["SPY", "BTC"]]


@pytest.fixture(scope="module")
def early_enders(tmp_path_factory):
    """The workflow on the generated universe, with the all-pairs store on (every day)."""
    from run import copy_workflow

    workdir = copy_workflow(tmp_path_factory.mktemp("early_enders"))
    local = workdir / "data/local"
    local.mkdir(parents=True)
    files = generated_files()
    for series_id, values in files.items():
        frame = pd.DataFrame({"date": values.index.strftime("%Y-%m-%d"), "value": values.to_numpy()})
        frame.to_csv(local / f"{series_id}.csv", index=False, lineterminator="\n")
    config = yaml.safe_load((workdir / "config/config.yaml").read_text())
    config.update(
        start=START,
        end=END,
        offline=True,
        series=SERIES,
        correlation={"pairs": PAIRS, "windows": [WINDOW]},
        features={"cash_rate": None},
        stress={"equity": "SPY", "bond": "DGS10", "vix": None},
        model={"enabled": False},
        all_pairs={"enabled": True, "dtype": "float64", "window": WINDOW, "n_blocks": 2},
        # what these tests read comes from the universe rule; the real-time Markov refits
        # and DCC are beside the point (and the most of the run's CPU)
        regimes={"markov": {"realtime": False}, "dcc": {"enabled": False}},
    )
    (workdir / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    snakemake(workdir, "--cores", "2")
    return workdir


def page_data(workdir) -> dict:
    page = (workdir / "docs/dashboard.html").read_text()
    return json.loads(re.search(r'<script id="dashboard-data"[^>]*>(.*?)</script>', page, re.S).group(1))


@pytest.mark.e2e
def test_the_latest_matrix_is_the_last_month_with_half_the_pairs_however_far_back(early_enders):
    """Issue 29.3: December holds 1 of 21 pairs, June 10; May (7 months back) all 21."""
    workdir = early_enders
    universe = json.loads((workdir / "data/processed/universe/universe.json").read_text())
    frames = universe["dashboard"]["frames"]
    assert frames[-1]["month"] == "2020-12" and frames[-1]["pairs"] == 1
    latest = frames[universe["dashboard"]["latest"]]
    assert (latest["month"], latest["pairs"], universe["dashboard"]["total_pairs"]) == ("2020-05", 21, 21)
    # the dashboard opens on it, titled with its date and its count of pairs
    data = page_data(workdir)
    opened = data["latest"]
    assert data["months"][opened] == "2020-05" and "2020-05: 21 of 21 pairs<br>" in data["titles"][opened]
    # December: its one pair (the coin and the yield) runs past the as-of date, and is labelled so
    as_of = universe["as_of"]
    assert f"2020-12, after the as-of date {as_of}: 1 of 21 pairs (partial month)<br>" in data["titles"][-1]
    assert data["after"][-1] == 1 and data["after"][opened] == 0
    frame = np.array(data["frames"][opened], dtype="float64")
    assert np.isfinite(frame).all()  # no blank matrix with 1.00 on the diagonal of series without data
    last = np.array(data["frames"][-1], dtype="float64")  # December: BTC-DGS10 only
    valued = sorted(data["order"][k] for k in np.flatnonzero(np.isfinite(np.diag(last))))
    assert valued == ["BTC", "DGS10"] and np.isfinite(last).sum() == 4
    page = (workdir / "docs/dashboard.html").read_text()
    assert f'value="{opened}"' in page  # the slider starts there too
    # the report: its date, how many pairs it holds, and the extremes are different pairs
    report = (workdir / "docs/report.md").read_text()
    section = report.split("## All pairs")[1]
    assert re.search(r"The latest matrix: 2020-05-\d\d, 21 of 21 pairs with a value", section), section[:400]
    assert "Over the 21 of 21 pairs with a value on 2020-05-" in section
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| ") and "/" in line]
    assert len(rows) == 5 and not {r[0][2:] for r in rows} & {r[2] for r in rows}


@pytest.mark.e2e
def test_month_end_values_are_each_pairs_last_value_in_the_month_and_partial_months_are_marked(early_enders):
    """Issue 29.4: June's SPY-TLT cell is the pair's own last June value (June 5), the frame
    is dated by its real last day, and December (data to the 8th) is marked partial."""
    from corrflow.analytics.correlation.rolling import pair_rolling_corr
    from corrflow.data.contracts import read_parquet

    workdir = early_enders
    levels, meta = read_parquet(workdir / "data/processed/clean.parquet")
    data = page_data(workdir)
    order = data["order"]
    for month in ("2020-06", "2020-12"):
        t = data["months"].index(month)
        for a, b in (("SPY", "TLT"), ("BTC", "DGS10"), ("SPY", "BTC")):
            own = pair_rolling_corr(levels, meta, a, b, WINDOW).dropna()
            in_month = own[own.index.to_period("M") == pd.Period(month)]
            cell = data["frames"][t][order.index(a)][order.index(b)]
            if len(in_month):
                assert cell == round(in_month.iloc[-1], 3), (month, a, b)
            else:
                assert cell is None, (month, a, b)
    june, december = data["months"].index("2020-06"), data["months"].index("2020-12")
    assert data["frame_dates"][june] == "2020-06-30" and not data["partial"][june]  # BTC-DGS10 runs on
    assert data["frame_dates"][december] == "2020-12-08" and data["partial"][december]
    assert "(partial month)" in data["titles"][december] and "(partial month)" not in data["titles"][june]
    # horizons.csv: SPY's last (5-day) June is dated June 5, not June 30, and the report says partial
    horizons = pd.read_csv(workdir / "data/processed/horizons.csv")
    spy_tlt = horizons[(horizons["pair"] == "SPY:TLT") & (horizons["frequency"] == "monthly")]
    assert spy_tlt["date"].iloc[-1] == "2020-06-05" and "2020-06-30" not in set(spy_tlt["date"])
    assert spy_tlt["date"].iloc[-2] == "2020-05-31"
    report = (workdir / "docs/report.md").read_text()
    assert "| SPY-TLT | monthly | 36 | 2020-06-05 (partial) |" in report


@pytest.mark.e2e
def test_the_absorption_ratio_is_over_assets_only(early_enders):
    """Issue 29.11: the indicator (kind level) is never in it; chosen on the latest full
    month, it holds the six assets' universe less what ends before that month."""
    workdir = early_enders
    universe = json.loads((workdir / "data/processed/universe/universe.json").read_text())
    absorption = universe["absorption"]
    assert "FEAR" not in absorption["members"] and absorption["left_out"]["FEAR"].startswith("not an asset")
    assert len(absorption["members"]) >= 5, absorption
    page = (workdir / "docs/dashboard.html").read_text()
    assert f"one fixed universe: {len(absorption['members'])} assets (" in page


@pytest.mark.e2e
def test_the_store_and_the_kernel_give_the_same_universe(early_enders):
    """The universe rule read the store's matrices; computed with the kernel from the same
    clean.parquet they are the same (to float rounding), and so is everything derived."""
    from corrflow.data.contracts import read_parquet
    from corrflow.store.universe import build_universe

    workdir = early_enders
    log = (workdir / "logs/universe.log").read_text()
    assert "month-end matrices: the store's data/processed/all_pairs/manifest.json" in log
    stored = json.loads((workdir / "data/processed/universe/universe.json").read_text())
    stored_frames = pd.read_parquet(workdir / "data/processed/universe/month_ends.parquet")
    levels, meta = read_parquet(workdir / "data/processed/clean.parquet")
    computed, frames, _ = build_universe(levels, meta, PAIRS, WINDOW, [], None)
    assert computed["source"] == "kernel" and stored["source"] == "all-pairs store"
    assert computed["dashboard"]["order"] == stored["dashboard"]["order"]
    assert computed["dashboard"]["frames"] == stored["dashboard"]["frames"]
    assert computed["dashboard"]["latest"] == stored["dashboard"]["latest"]
    np.testing.assert_allclose(frames.to_numpy(), stored_frames.to_numpy(), atol=1e-12, equal_nan=True)
    assert computed["absorption"]["members"] == stored["absorption"]["members"]


@pytest.mark.e2e
def test_the_dashboard_does_no_correlation_work_when_the_store_exists(early_enders):
    """The dashboard rule's inputs are files of other rules (never the store), and its
    module imports no kernel, no store reader and no universe computation."""
    workdir = early_enders
    result = snakemake(workdir, "--cores", "1", "-n", "--forcerun", "dashboard", "-p")
    assert "rule dashboard" in result.stdout and "rule universe" not in result.stdout
    inputs = re.search(r"rule dashboard:\s*\n\s*input: ([^\n]*)", result.stdout).group(1)
    assert "universe/universe.json" in inputs and "all_pairs" not in inputs
    assert_imports_no_correlation_work(SRC / "corrflow/present/dashboard.py")


# the kernels, their drivers, the universe's computations and the store's readers (the
# universe module's constants and wording, READABLE_SERIES or period_sentence, are no work)
FORBIDDEN = {
    "corrflow.analytics.correlation.kernels",
    "corrflow.analytics.correlation.rolling",
    "corrflow.analytics.correlation.universe.universe_correlations",
    "corrflow.analytics.correlation.universe.cluster_representatives",
    "corrflow.analytics.correlation.universe.recent_correlation_distances",
    "corrflow.store.all_pairs",
}


def assert_imports_no_correlation_work(path):
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
            imported |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
    assert not imported & FORBIDDEN, imported & FORBIDDEN
    universe_step = {m for m in imported if m.startswith("corrflow.store.universe.")}
    assert universe_step <= {"corrflow.store.universe.read_universe", "corrflow.store.universe.THIN_EVERY"}


def test_the_report_and_dashboard_modules_import_no_correlation_work():
    """They read files: no kernel, no store reader, no universe computation (any depth of the file)."""
    assert_imports_no_correlation_work(SRC / "corrflow/present/dashboard.py")
    assert_imports_no_correlation_work(SRC / "corrflow/present/report.py")
    assert_imports_no_correlation_work(SRC / "corrflow/present/figures/heatmap.py")


def test_the_latest_frame_is_the_last_with_half_the_pairs_however_far_back():
    from corrflow.store.universe import latest_frame

    assert latest_frame([21, 21, 20, 10, 1, 1, 1, 1, 1, 1], 21) == 2  # 7 months back
    assert latest_frame([3, 5, 4, 1], 21) == 1  # none has half: the fullest
    assert latest_frame([], 21) is None


def test_month_labels_carry_the_real_date_and_mark_only_the_last_month_partial():
    from corrflow.store.universe import frame_labels, last_value_days

    days = pd.date_range("2024-02-01", "2024-04-05")
    ab = pd.Series(0.5, index=days)
    ab.loc["2024-03-29":"2024-03-31"] = np.nan  # Good Friday and a weekend: March's last value on the 28th
    months = pd.DatetimeIndex(["2024-02-29", "2024-03-31", "2024-04-30"])
    cube = np.tile(np.eye(2), (3, 1, 1))
    cube[:, 0, 1] = cube[:, 1, 0] = 0.5
    labels = frame_labels(months, last_value_days({("A", "B"): ab}), cube)
    assert [(f["month"], f["date"], f["partial"], f["pairs"]) for f in labels] == [
        ("2024-02", "2024-02-29", False, 1),
        ("2024-03", "2024-03-28", False, 1),  # a holiday before a month's end is not a partial month
        ("2024-04", "2024-04-05", True, 1),
    ]


def test_the_last_month_ending_on_its_markets_holiday_is_whole_and_a_later_joint_session_makes_it_partial():
    """March 2024's data end on Thursday the 28th: Good Friday closes NYSE, so a NYSE
    universe's March is whole; a 24/7 leg alone cannot make a pair, two 24/7 legs can."""
    from corrflow.store.universe import frame_labels, last_value_days

    ab = pd.Series(0.5, index=pd.date_range("2024-02-01", "2024-03-28"))
    months = pd.DatetimeIndex(["2024-02-29", "2024-03-31"])
    cube = np.tile(np.eye(2), (2, 1, 1))
    cube[:, 0, 1] = cube[:, 1, 0] = 0.5

    def march_partial(calendars):
        return frame_labels(months, last_value_days({("A", "B"): ab}), cube, calendars)[-1]["partial"]

    assert not march_partial(["NYSE", "NYSE"])
    assert not march_partial(["NYSE", "24/7"])
    assert march_partial(["24/7", "24/7"])
    assert march_partial(["NYSE", "NYSE", "XLON", "XLON"]) is False  # London also keeps Good Friday
    assert march_partial(["XTKS", "XTKS"])  # Tokyo trades on Good Friday


def test_the_latest_all_pairs_matrix_is_found_however_far_back_and_one_pair_is_listed_once(tmp_path):
    """A store whose last 7 months hold 1 of 21 pairs: the latest matrix is the month before
    them (the old look-back read 4 months and summarised one pair as the universe)."""
    from corrflow.present.report import all_pairs_section
    from corrflow.store.all_pairs import read_all_pairs, write_all_pairs
    from corrflow.store.manifest import manifest_of
    from corrflow.store.universe import all_pairs_summary

    rng = np.random.default_rng(4)
    names = [f"S{k}" for k in range(7)]
    days = pd.bdate_range("2019-01-01", "2020-12-31", name="date")
    returns = pd.DataFrame(rng.normal(size=(len(days), 7)), index=days, columns=names)
    returns.loc["2020-06-01":, names[2:]] = np.nan  # five of seven series end in May
    for dates in ("every_day", "month_ends"):
        folder = tmp_path / dates
        folder.mkdir()
        blocks = [folder / f"block_{k + 1}-of-2.parquet" for k in range(2)]
        for k, path in enumerate(blocks):
            write_all_pairs(100 * np.exp(returns.cumsum()), {"series": {}}, 60, path, "float64", k, 2, dates)
        manifest = folder / "manifest.json"
        manifest.write_text(json.dumps(manifest_of([str(p) for p in blocks])))
        matrix = read_all_pairs(manifest, latest=True)
        assert matrix.attrs["date"][:7] == "2020-05" and (matrix.attrs["valued"], matrix.attrs["pairs"]) == (
            21,
            21,
        )
        summary = all_pairs_summary(str(manifest))
        assert summary["date"][:7] == "2020-05" and summary["valued"] == 21
    # one pair valued: listed once, never as the most positive and the most negative
    one = {"valued": 1, "median": 0.07, "above": 0, "below": 0, "most_negative": [], "validity": "x"}
    text = "\n".join(all_pairs_section({**summary, **one, "most_positive": [["S0 / S1", 0.07]]}))
    assert "The one pair with a value: S0 / S1 +0.070." in text and "| most positive" not in text


def test_the_universe_step_gives_the_previous_numbers_where_nothing_changed_by_design():
    """Against what the report and the dashboard computed themselves before: the heatmap's
    matrices are universe_correlations' on the same series, and every month-end matrix
    before the as-of day's month is the one of the pairs' histories cut at the as-of day
    (the old dashboard's); the as-of month's cells are each pair's own last value."""
    from corrflow.analytics.correlation.universe import heatmap_series, universe_correlations
    from corrflow.data.contracts import as_of_date
    from corrflow.store.universe import build_universe, month_end_matrices, pair_rolling
    from report_fixtures import synthetic_outputs

    o = synthetic_outputs()
    summary, frames, _ = build_universe(o["levels"], o["clean_meta"], o["pairs"], 60, [], None)
    as_of = as_of_date(o["clean_meta"], o["pairs"])
    shown, _ = heatmap_series(o["clean_meta"]["series"], o["levels"], [])
    full, recent, _ = universe_correlations(o["levels"], o["clean_meta"], shown, as_of)
    np.testing.assert_array_equal(np.array(summary["heatmap"]["full"]), full.to_numpy())
    np.testing.assert_array_equal(np.array(summary["heatmap"]["recent"]), recent.to_numpy())
    order = summary["dashboard"]["order"]
    cut = o["levels"].loc[:as_of]
    months, cube = month_end_matrices(pair_rolling(cut, o["clean_meta"], order, 60), order)
    i, j = np.triu_indices(len(order), 1)
    before = months.to_period("M") < pd.Period(as_of[:7])
    np.testing.assert_array_equal(frames.to_numpy()[: before.sum()], cube[before][:, i, j])


@pytest.mark.e2e
def test_the_default_run_opens_on_a_described_month_of_each_pairs_own_last_values(workflow_run):
    """The default run (data through 2026-07-01, the as-of day 2026-06-05): the dashboard
    opens on June 2026, the last month at least half of the 36 pairs have a value, dated
    June 30 and not partial; each June cell is the pair's own last June value (not its
    value on the as-of day: DCOILWTICO-VIXCLS); July is marked partial; horizons.csv
    dates SPY-TLT's 5-day June by its real day."""
    from corrflow.analytics.correlation.rolling import pair_rolling_corr
    from corrflow.data.contracts import read_parquet

    workdir, _ = workflow_run
    data = page_data(workdir)
    opened = data["latest"]
    assert data["months"][opened] == "2026-06" and data["frame_dates"][opened] == "2026-06-30"
    assert not data["partial"][opened]
    # 10 of its cells are dated after the as-of date (the title says so; it used to say "to 2026-06-30")
    assert "2026-06: 21 of 36 pairs, 10 of them after the as-of date 2026-06-05<br>" in data["titles"][opened]
    assert "(2026-06-05 .. 2026-06-30)" in data["titles"][opened]
    assert data["partial"][-1] and "(partial month)" in data["titles"][-1]
    levels, meta = read_parquet(workdir / "data/processed/clean.parquet")
    order = data["order"]
    for a, b in (("DCOILWTICO", "VIXCLS"), ("SPY", "TLT"), ("DGS10", "DGS2")):
        own = pair_rolling_corr(levels, meta, a, b, 60).dropna()
        june = own[own.index.to_period("M") == pd.Period("2026-06")]
        assert data["frames"][opened][order.index(a)][order.index(b)] == round(june.iloc[-1], 3), (a, b)
    horizons = pd.read_csv(workdir / "data/processed/horizons.csv")
    monthly = horizons[(horizons["pair"] == "SPY:TLT") & (horizons["frequency"] == "monthly")]
    assert monthly["date"].iloc[-1] == "2026-06-05"
    assert "| SPY-TLT | monthly | 36 | 2026-06-05 (partial) |" in (workdir / "docs/report.md").read_text()


def month_last_days(levels: pd.DataFrame, meta: dict, a: str, b: str, window: int) -> pd.Series:
    """Per month (a Period), the pair's last joint day with a rolling correlation, computed
    independently of the universe step: pandas' rolling correlation on the pair's returns
    (both observed, both markets open)."""
    from corrflow.analytics.panel import CleanPanel

    joint = CleanPanel(levels, meta).pair_returns(a, b).dropna()
    corr = joint[a].rolling(window).corr(joint[b]).dropna()
    return corr.index.to_series().groupby(corr.index.to_period("M")).max()


def cell_date(label: dict, column: str) -> str:
    """A frame's cell's own date as universe.json gives it: the frame's date unless listed
    in ``cells_before``."""
    return label["cells_before"].get(column, label["date"])


def test_every_month_end_cell_carries_its_own_date_and_lies_on_its_pairs_history():
    """Issue 29 (1, 3): every cell of every frame is dated by the pair's last joint day in
    the month (an independent pandas computation), and the click-through history holds
    that value on that day: the thinned histories used to keep every 5th day only, so a
    cell's value was not on its curve, and the frames carried one date for all cells."""
    from corrflow.store.universe import build_universe
    from report_fixtures import synthetic_outputs

    o = synthetic_outputs()
    summary, frames, history = build_universe(o["levels"], o["clean_meta"], o["pairs"], 60, [], None)
    labels = summary["dashboard"]["frames"]
    histories = {(a, b): part.set_index("date")["corr"] for (a, b), part in history.groupby(["a", "b"])}
    checked = 0
    for column in frames.columns:
        a, b = column.split(":")
        expected = month_last_days(o["levels"], o["clean_meta"], a, b, 60)
        curve = histories.get((a, b), histories.get((b, a)))
        for t, label in enumerate(labels):
            value = frames[column].iloc[t]
            period = pd.Period(label["month"], "M")
            if np.isnan(value):
                assert column not in label["cells_before"] and period not in expected.index, (column, t)
                continue
            day = pd.Timestamp(cell_date(label, column))
            assert day == expected[period], (column, label["month"])
            assert curve[day] == value, (column, label["month"])
            checked += 1
    assert checked > 100 and any(f["cells_before"] for f in labels)
    assert all(f["after"] == 0 for f in labels)  # no pair runs past the as-of date here


def test_thinned_history_keeps_month_ends_and_the_last_day_and_still_breaks_at_gaps():
    from corrflow.store.universe import thinned

    days = pd.bdate_range("2020-01-01", "2020-04-15")
    values = pd.Series(np.linspace(-0.5, 0.5, len(days)), index=days)
    values.loc["2020-02-24":"2020-02-26"] = np.nan  # a gap just before February's last days
    values.loc["2020-03-31"] = np.nan  # March's last day without a value: its last value is the 30th
    kept = thinned(values, 5)
    valued = values.dropna()
    month_last = valued.index.to_series().groupby(valued.index.to_period("M")).max()
    for day in [*month_last, valued.index[-1]]:
        assert kept[day] == values[day], day
    # every 5th day from the last is still there
    assert set(days[::-1][::5]) <= set(kept.index)
    # each kept day shows its own value, and a null only on a day without one (the
    # analyst's finding: a day without a value blanked the regular point after it, up to
    # 4 days away, e.g. -0.131 on 2020-04-21 after oil's negative price on the 20th)
    np.testing.assert_array_equal(kept.to_numpy(), values.reindex(kept.index).to_numpy())
    assert kept.isna().sum() == 2  # one null per stretch without a value, at its first day
    # no two kept days with a value have a day without one between them: the line breaks
    drawn = kept.dropna()
    for before, after in zip(drawn.index[:-1], drawn.index[1:], strict=True):
        between = values.loc[before:after].iloc[1:-1]
        assert between.notna().all() or kept.loc[before:after].isna().any(), (before, after)


def test_every_pair_thinned_at_once_equals_each_pair_thinned_alone():
    """The histories of all pairs come from one pass over their series laid end to end: a
    pair's gaps, months and every-5th count never leak into the next pair's. Here B ends
    in May with a gap just before its last day and C starts that May on a regular day, D
    (shorter than THIN_EVERY) has a gap after its first day, E is configured."""
    from corrflow.analytics.correlation.rolling import fisher_band
    from corrflow.store.universe import THIN_EVERY, cell_days, month_end_matrices, pair_histories, thinned

    rng = np.random.default_rng(7)
    rolling = {}
    spans = [("B", "2020-01-01", 91), ("C", "2020-05-07", 41), ("D", "2020-01-29", 4)]
    spans.append(("E", "2019-12-02", 71))
    for name, start, n in spans:
        days = pd.bdate_range(start, periods=n)
        values = pd.Series(rng.uniform(-0.9, 0.9, n), index=days)
        values.iloc[rng.choice(n, size=n // 6, replace=False)] = np.nan
        values.iloc[[0, -1]] = rng.uniform(-0.9, 0.9, 2)  # a pair's history starts and ends valued
        values.iloc[1 : 3 if n > 10 else 2] = np.nan
        if n > 10:
            values.iloc[-3:-1] = np.nan
        rolling[("A", name)] = values
    assert rolling[("A", "B")].index[-1].month == rolling[("A", "C")].index[0].month == 5
    history = pair_histories(rolling, [["E", "A"]], 60, 0.9)
    for (a, b), values in rolling.items():
        own = history[(history["a"] == a) & (history["b"] == b)]
        alone = values if b == "E" else thinned(values, THIN_EVERY)
        assert list(own["date"]) == list(alone.index), b
        np.testing.assert_array_equal(own["corr"].to_numpy(), alone.to_numpy())
        lo, hi = fisher_band(alone.to_numpy(), 60, 0.9)
        expected = (np.full(len(alone), np.nan),) * 2 if b == "E" else (lo, hi)
        np.testing.assert_array_equal(own["lo"].to_numpy(), expected[0])
        np.testing.assert_array_equal(own["hi"].to_numpy(), expected[1])
    # the month-end matrices and each cell's day: each pair's own last valued day per month
    order = ["E", "A", "B", "C", "D"]
    months, cube = month_end_matrices(rolling, order)
    days = cell_days(rolling, months, order, cube)
    i, j = np.triu_indices(len(order), 1)
    for column, (r, c) in enumerate(zip(i, j, strict=True)):
        pair = ("A", order[c]) if order[r] == "A" else ("A", order[r])
        none = pd.Series(index=pd.DatetimeIndex([]))  # a pair without A: no series
        valued = rolling[pair].dropna() if "A" in (order[r], order[c]) else none
        last = valued.index.to_series().groupby(valued.index.to_period("M")).max()
        for row, month in enumerate(months):
            day = last.get(month.to_period("M"))
            assert days[row, column] == (0 if day is None else day.day), (order[r], order[c], month)
            value = cube[row, r, c]
            assert (np.isnan(value) and day is None) or value == valued[day], (order[r], order[c], month)


def test_a_pairs_history_ends_at_its_last_value():
    """Issue 29.4: C ends 40 days before the as-of date; its pairs' histories used to run
    on, NaN, to the end of the data (a chart's x-axis ran past the data)."""
    from corrflow.store.universe import build_universe
    from report_fixtures import synthetic_outputs

    o = synthetic_outputs()
    _, _, history = build_universe(o["levels"], o["clean_meta"], o["pairs"], 60, [], None)
    for (a, b), part in history.groupby(["a", "b"]):
        assert part["corr"].notna().iloc[-1], (a, b, part["date"].iloc[-1])
    last_c = o["levels"]["C"].last_valid_index()
    assert history.loc[history["b"].eq("C") | history["a"].eq("C"), "date"].max() == last_c


def test_frame_labels_count_the_cells_after_the_as_of_date():
    from corrflow.store.universe import frame_labels, last_value_days

    months = pd.DatetimeIndex(["2024-03-31"])
    ab = pd.Series(0.5, index=pd.date_range("2024-03-01", "2024-03-05"))
    ac = pd.Series(0.5, index=pd.date_range("2024-03-01", "2024-03-20"))
    cube = np.full((1, 3, 3), np.nan)
    cube[0][np.diag_indices(3)] = 1.0
    cube[0, 0, 1] = cube[0, 1, 0] = cube[0, 0, 2] = cube[0, 2, 0] = 0.5
    days = np.array([[5, 20, 0]])  # A:B on the 5th, A:C on the 20th, B:C without a value
    rolling = {("A", "B"): ab, ("A", "C"): ac}
    (label,) = frame_labels(
        months, last_value_days(rolling), cube, None, days, "2024-03-07", ["A:B", "A:C", "B:C"]
    )
    assert (label["date"], label["first"], label["after"], label["pairs"]) == (
        "2024-03-20",
        "2024-03-05",
        1,
        2,
    )
    assert label["cells_before"] == {"A:B": "2024-03-05"}
