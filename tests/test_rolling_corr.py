"""Rolling correlations (task D): against pandas and an exact reference, edge cases,
EWMA, Fisher bands, Spearman, the all-pairs parquet, and the seed's CLI."""

import subprocess

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from scipy.stats import norm, spearmanr

from conftest import corrflow_command
from corrflow.analytics.correlation.rolling import (
    all_pairs,
    all_pairs_by_series,
    fisher_band,
    rolling_corr_pairs,
    rolling_pearson,
)
from corrflow.analytics.correlation.rolling_corr import ewma_corr, rolling_corr, rolling_spearman
from corrflow.data.contracts import returns_from_features, write_parquet
from corrflow.io import InputDataError
from corrflow.store.all_pairs import read_all_pairs
from run import rolling_corr_pairs_numpy


def random_returns(n=600, seed=1):
    rng = np.random.default_rng(seed)
    common = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "A": common + rng.normal(size=n),
            "B": -0.5 * common + rng.normal(size=n),
            "C": rng.normal(size=n) * 1e-3 + 50.0,
        },  # a large offset tests stability
        index=pd.bdate_range("2000-01-03", periods=n),
    )
    frame.iloc[100:103, 0] = np.nan
    frame.iloc[400, 1] = np.nan
    return frame


def centred_windows(x: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Each window of ``x`` minus its own mean, in extended precision, and its sum of
    squares: the per-series half of the two-pass reference (computed once per series)."""
    windows = np.lib.stride_tricks.sliding_window_view(x.astype(np.longdouble), window)
    centred = windows - windows.mean(axis=1, keepdims=True)
    return centred, (centred * centred).sum(axis=1)


def exact_rolling_corr(x, y, window: int) -> np.ndarray:
    """Two-pass Pearson per window in extended precision: the reference for accuracy.
    ``x`` and ``y`` are arrays or ``centred_windows`` of them."""
    xc, xx = x if isinstance(x, tuple) else centred_windows(x, window)
    yc, yy = y if isinstance(y, tuple) else centred_windows(y, window)
    out = np.full(len(xc) + window - 1, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xc * yc).sum(axis=1) / np.sqrt(xx * yy)
    out[window - 1 :] = r.astype("float64")
    return out


def assert_matches(ours: np.ndarray, reference: np.ndarray, atol: float):
    """Where the reference is finite ours is within atol; where it is not, ours is NaN."""
    finite = np.isfinite(reference)
    assert np.isnan(ours[~finite]).all()
    assert np.isfinite(ours[finite]).all()
    np.testing.assert_allclose(ours[finite], reference[finite], atol=atol, rtol=0)


@pytest.mark.parametrize("window", [20, 60, 252])
def test_matches_pandas_rolling_corr_on_random_data(window):
    returns = random_returns()
    for a, b in [("A", "B"), ("A", "C"), ("B", "C")]:
        ours = rolling_pearson(returns[a], returns[b], window).to_numpy()
        assert_matches(
            ours, returns[a].rolling(window, min_periods=window).corr(returns[b]).to_numpy(), 1e-12
        )


@pytest.mark.parametrize("window", [5, 10, 20, 60])
def test_matches_an_exact_reference(window):
    returns = random_returns()
    for a, b in [("A", "B"), ("A", "C"), ("B", "C")]:
        ours = rolling_pearson(returns[a], returns[b], window).to_numpy()
        assert_matches(ours, exact_rolling_corr(returns[a].to_numpy(), returns[b].to_numpy(), window), 1e-13)


@pytest.mark.parametrize("window", [20, 60, 252])
def test_real_data_with_gaps_and_flat_stretches(snapshot_frames, window):
    """Every pair of the snapshot's returns: within 1e-13 of the exact reference; within
    1e-12 of pandas for the configured pairs (pandas' online sums drift by ~1e-12 on the
    near-flat 3-month bill, where ours stays exact)."""
    _, _, features = snapshot_frames
    # 2008 on: the near-zero bill (flat stretches) and every series' gaps, at a cost the
    # exact (extended-precision) reference can afford
    returns = returns_from_features(features).loc["2008":]
    assert returns.isna().any().any()  # gaps are there
    pairs = all_pairs(list(returns.columns))
    ours = rolling_corr_pairs(returns.to_numpy(), pairs, window)
    np.testing.assert_array_equal(ours, rolling_corr_pairs_numpy(returns.to_numpy(), pairs, window))
    centred = [centred_windows(returns.iloc[:, i].to_numpy(), window) for i in range(returns.shape[1])]
    for k, (i, j) in enumerate(pairs):
        reference = exact_rolling_corr(centred[i], centred[j], window)
        flat = np.isnan(ours[k]) & np.isfinite(reference)  # exactly flat windows: NaN by design
        reference[flat] = np.nan
        assert_matches(ours[k], reference, 1e-13)
    for a, b in [("SPY", "DGS10"), ("SPY", "DCOILWTICO"), ("SP500", "DGS2")]:
        ours_pair = rolling_pearson(returns[a], returns[b], window).to_numpy()
        assert_matches(
            ours_pair, returns[a].rolling(window, min_periods=window).corr(returns[b]).to_numpy(), 1e-12
        )


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
    assert corr.iloc[30:].notna().all()
    assert np.isfinite(corr.dropna()).all() and (corr.dropna().abs() <= 1).all()


def test_fisher_band_by_hand():
    corr = pd.Series([0.5, -0.9, 0.0])
    lo, hi = fisher_band(corr, 60, 0.95)
    half = norm.ppf(0.975) / np.sqrt(57)
    np.testing.assert_allclose(lo, np.tanh(np.arctanh(corr) - half), rtol=1e-14)
    np.testing.assert_allclose(hi, np.tanh(np.arctanh(corr) + half), rtol=1e-14)
    assert (lo < corr).all() and (corr < hi).all()


def test_ewma_matches_explicit_weights():
    returns = random_returns().dropna()
    x, y, h = returns["A"], returns["B"], 30.0
    ewma = ewma_corr(x, y, h)
    alpha = 1 - np.exp(np.log(0.5) / h)
    for t in [60, 200, len(x) - 1]:
        w = (1 - alpha) ** np.arange(t, -1, -1)
        xs, ys = x.iloc[: t + 1].to_numpy(), y.iloc[: t + 1].to_numpy()
        mx, my = np.average(xs, weights=w), np.average(ys, weights=w)
        cov = np.average((xs - mx) * (ys - my), weights=w)
        expected = cov / np.sqrt(
            np.average((xs - mx) ** 2, weights=w) * np.average((ys - my) ** 2, weights=w)
        )
        assert abs(ewma.iloc[t] - expected) < 1e-12
    assert ewma.iloc[: int(2 * h) - 1].isna().all()


def test_spearman_matches_scipy():
    returns = random_returns()
    returns.iloc[50:55, 0] = 1.0  # ties
    rho = rolling_spearman(returns["A"], returns["B"], 30)
    for t in [60, 250, 599]:
        expected = spearmanr(returns["A"].iloc[t - 29 : t + 1], returns["B"].iloc[t - 29 : t + 1]).statistic
        assert abs(rho.iloc[t] - expected) < 1e-12
    assert rho.iloc[100:132].isna().all()


def test_pair_columns_and_skipped_pairs():
    levels = np.exp(random_returns().fillna(0).cumsum())
    meta = {"series": {c: {"kind": "price"} for c in levels.columns}}
    corr, skipped, _ = rolling_corr(
        levels, meta, [["A", "B"], ["A", "ZZZ"]], [20, 60], ewma_halflife=10, spearman=True
    )
    assert list(corr.columns) == [
        "A:B:20",
        "A:B:20:lo95",
        "A:B:20:hi95",
        "A:B:20:spearman",
        "A:B:60",
        "A:B:60:lo95",
        "A:B:60:hi95",
        "A:B:60:spearman",
        "A:B:ewm10",
    ]
    assert skipped == ["A-ZZZ (no data for ZZZ)"]


def make_clean(tmp_path, with_tlt=True):
    n = 300
    rng = np.random.default_rng(7)
    index = pd.bdate_range("2010-01-04", periods=n, name="date")
    clean = pd.DataFrame(
        {
            "SPY": 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n))),
            "DGS10": 3 + np.cumsum(rng.normal(0, 0.05, n)),
        },
        index=index,
    )
    meta = {
        "SPY": {"kind": "price", "status": "snapshot"},
        "DGS10": {"kind": "yield", "maturity": 10, "status": "snapshot"},
        "TLT": {"kind": "price", "status": "missing"},
    }
    if with_tlt:
        clean["TLT"] = 100 * np.exp(np.cumsum(rng.normal(0, 0.008, n)))
        meta["TLT"]["status"] = "fresh"
    path = tmp_path / "clean.parquet"
    write_parquet(clean, path, {"series": meta})
    return clean, path


def run_cli(*args):
    return subprocess.run([*corrflow_command("rolling-corr"), *args], capture_output=True, text=True)


def run_block_cli(*args):
    return subprocess.run([*corrflow_command("all-pairs-block"), *args], capture_output=True, text=True)


def seed_command(prices, out, bond="TLT", window=60):
    """The seed's command as written: SPY against a bond column from the clean prices."""
    return run_cli(
        "--prices",
        str(prices),
        "--eq-col",
        "SPY",
        "--bond-col",
        bond,
        "--window",
        str(window),
        "--out",
        str(out),
    )


def test_seed_command_from_prices(tmp_path):
    clean, path = make_clean(tmp_path)
    out = tmp_path / "rolling_corr.csv"
    result = seed_command(path, out)
    assert result.returncode == 0, result.stderr
    corr = pd.read_csv(out, index_col="date", parse_dates=True)
    returns = np.log(clean).diff()
    expected = returns["SPY"].rolling(60, min_periods=60).corr(returns["TLT"])
    np.testing.assert_allclose(corr["SPY:TLT:60"], expected, atol=1e-12)


def test_seed_command_converts_a_yield_column_like_features(tmp_path):
    from corrflow.analytics.features import build_features

    clean, path = make_clean(tmp_path)
    out = tmp_path / "corr.csv"
    result = seed_command(path, out, bond="DGS10")
    assert result.returncode == 0, result.stderr
    features = build_features(
        clean,
        {
            "series": {
                "SPY": {"kind": "price"},
                "DGS10": {"kind": "yield", "maturity": 10},
                "TLT": {"kind": "price"},
            }
        },
        [],
    )
    expected = features["ret:SPY"].rolling(60, min_periods=60).corr(features["ret:DGS10"])
    corr = pd.read_csv(out, index_col="date", parse_dates=True)
    np.testing.assert_allclose(corr["SPY:DGS10:60"], expected, atol=1e-12)


def test_seed_command_names_the_missing_column(tmp_path):
    _, path = make_clean(tmp_path, with_tlt=False)
    result = seed_command(path, tmp_path / "x.csv")
    assert result.returncode == 1
    assert "no column 'TLT' (ingest marked it missing)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.csv").exists()


def test_window_longer_than_data_is_a_clear_error(tmp_path):
    _, path = make_clean(tmp_path)
    result = seed_command(path, tmp_path / "x.csv", window=5000)
    assert result.returncode == 1
    assert "window 5000 is longer than the data (300 days)" in result.stderr
    assert "(`--window`, config key `correlation.windows`)" in result.stderr


@pytest.mark.parametrize("how", ["seed", "pairs"])
def test_a_pair_of_one_series_is_a_usage_error_not_a_traceback(tmp_path, how):
    _, path = make_clean(tmp_path)
    out = tmp_path / "x.csv"
    if how == "seed":
        result = seed_command(path, out, bond="SPY")
    else:
        result = run_cli("--prices", str(path), "--pairs", '[["SPY", "SPY"]]', "--out", str(out))
    assert result.returncode == 2, result.stderr
    assert "pair [SPY, SPY] pairs a series with itself" in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


def test_pairs_naming_a_series_outside_the_universe_stop_with_the_available_columns(tmp_path):
    """A name clean.parquet does not know is a mistake in the command (no empty file, exit
    0); a series of the universe that ingest marked missing skips its pairs with a warning."""
    _, path = make_clean(tmp_path, with_tlt=False)
    out = tmp_path / "x.csv"
    pairs = '[["SPY", "DGS10"], ["SPY", "NOPE"]]'
    result = run_cli("--prices", str(path), "--pairs", pairs, "--out", str(out))
    assert result.returncode == 1
    assert "no column 'NOPE' (it is not in the universe); available: SPY, DGS10" in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()
    pairs = '[["SPY", "DGS10"], ["SPY", "TLT"]]'
    result = run_cli("--prices", str(path), "--pairs", pairs, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "pair SPY-TLT skipped: no data for TLT" in result.stderr
    assert list(pd.read_csv(out, index_col="date").columns[:1]) == ["SPY:DGS10:60"]


def test_all_pairs_cli_parquet_matches_pandas_and_reads_slices(tmp_path):
    rng = np.random.default_rng(11)
    n, names = 800, [f"S{k}" for k in range(8)]  # 4 row groups: both stretch buffers are reused
    levels = pd.DataFrame(
        100 * np.exp(np.cumsum(rng.normal(0, 0.01, (n, 8)), axis=0)),
        columns=names,
        index=pd.bdate_range("2015-01-01", periods=n, name="date"),
    )
    levels.iloc[50:60, 2] = np.nan
    levels.iloc[200:230, 5] = levels.iloc[200, 5]  # a flat stretch
    path = tmp_path / "prices.parquet"
    # max_gap_days 0: a return never spans missing data, as pandas' diff on the levels
    metadata = {"series": {c: {"kind": "price"} for c in names}, "calendar": {"max_gap_days": 0}}
    write_parquet(levels, path, metadata)
    exact, compact = tmp_path / "all64.parquet", tmp_path / "all32.parquet"
    for out, dtype in ((exact, "float64"), (compact, "float32")):
        result = run_block_cli("--prices", str(path), "--window", "60", "--dtype", dtype, "--out", str(out))
        assert result.returncode == 0, result.stderr
    handle = pq.ParquetFile(exact)
    assert handle.schema_arrow.names == ["date", "a", "b", "corr"] and handle.metadata.num_row_groups == 4
    # readable without corrflow: plain pandas gives floats with dates and series names
    plain = pd.read_parquet(exact, filters=[("a", "==", "S1"), ("b", "==", "S5")])
    assert plain["corr"].dtype == "float64" and len(plain) == n
    pd.testing.assert_series_equal(
        plain.set_index("date")["corr"].rename("S1:S5"),
        read_all_pairs(exact, pair=("S1", "S5")),
        check_index_type=False,
        check_index=False,
    )
    log_returns = np.log(levels).diff()
    expected = log_returns.rolling(60, min_periods=60).corr()
    for a, block in zip(names, all_pairs_by_series(levels, metadata, 60), strict=False):
        stored = np.stack(
            [read_all_pairs(exact, pair=(a, b)).to_numpy() for b in names[names.index(a) + 1 :]], 1
        )
        np.testing.assert_array_equal(stored, block)  # every row group holds its own dates
    for a, b in [(names[i], names[j]) for i, j in all_pairs(names)]:
        stored = read_all_pairs(exact, pair=(b, a))  # either order
        assert stored.name == f"{a}:{b}" and stored.index.equals(levels.index)
        assert_matches(stored.to_numpy(), expected.xs(a, level=1)[b].to_numpy(), 1e-12)
        rounded = read_all_pairs(compact, pair=(a, b)).to_numpy()
        np.testing.assert_array_equal(np.isnan(rounded), np.isnan(stored.to_numpy()))
        assert np.nanmax(np.abs(rounded - stored.to_numpy())) < 6e-8
    matrix = read_all_pairs(exact, latest=True)
    assert matrix.attrs["date"] == str(levels.index[-1].date())
    assert (
        matrix.loc["S4", "S0"] == read_all_pairs(exact, pair=("S0", "S4")).iloc[-1] == matrix.loc["S0", "S4"]
    )
    assert (np.diag(matrix) == 1.0).all()


def test_kernel_layouts_agree():
    rng = np.random.default_rng(5)
    levels = pd.DataFrame(
        100 * np.exp(np.cumsum(rng.normal(0, 0.01, (400, 3)), axis=0)),
        columns=["A", "B", "C"],
        index=pd.bdate_range("2000-01-03", periods=400, name="date"),
    )
    returns = np.log(levels).diff().to_numpy()
    by_pair = rolling_corr_pairs(returns, all_pairs([0, 1, 2]), 20)
    by_series = all_pairs_by_series(levels, {"series": {}, "calendar": {}}, 20)
    assert_matches(by_series[0].T.ravel(), by_pair[:2].ravel(), 1e-12)
    assert_matches(by_series[1].T.ravel(), by_pair[2:].ravel(), 1e-12)


def test_help_runs():
    result = run_cli("--help")
    assert result.returncode == 0 and "--eq-col" in result.stdout and "--window" in result.stdout
    blocks = run_block_cli("--help")
    assert blocks.returncode == 0 and "--n-blocks" in blocks.stdout


def test_blocks_split_pairs_evenly_and_read_back_as_one(tmp_path):
    from corrflow.store.blocks import series_blocks

    blocks = series_blocks(200, 4)
    assert [b.start for b in blocks][0] == 0 and blocks[-1].stop == 199
    counts = [sum(199 - i for i in b) for b in blocks]
    assert sum(counts) == 19900 and max(counts) - min(counts) < 199
    assert series_blocks(3, 5)[-1].stop == 2  # more blocks than series: empty blocks, no error
    rng = np.random.default_rng(4)
    names = [f"S{k}" for k in range(9)]
    levels = pd.DataFrame(
        100 * np.exp(np.cumsum(rng.normal(0, 0.01, (300, 9)), axis=0)),
        columns=names,
        index=pd.bdate_range("2015-01-01", periods=300, name="date"),
    )
    path = tmp_path / "prices.parquet"
    write_parquet(levels, path, {"series": {c: {"kind": "price"} for c in names}})
    files = []
    for block in range(3):
        # block 2 of 3 in two part files (as the workflow writes a block), encoded side by side
        out = (
            [tmp_path / f"block{block}.part{q}.parquet" for q in (1, 2)]
            if block == 1
            else [tmp_path / f"block{block}.parquet"]
        )
        result = run_block_cli(
            "--prices",
            str(path),
            "--window",
            "30",
            "--dtype",
            "float64",
            "--block",
            str(block),
            "--n-blocks",
            "3",
            "--out",
            *map(str, out),
        )
        assert result.returncode == 0, result.stderr
        # progress of long work: log lines off a terminal, the last one the whole block
        assert f"all pairs, block {block + 1} of 3: 300 of 300 dates done in" in result.stderr
        files += out
    assert len(files) == 4 and all(pq.ParquetFile(f).metadata.num_rows for f in files)
    whole = tmp_path / "whole.parquet"
    assert (
        run_block_cli(
            "--prices", str(path), "--window", "30", "--dtype", "float64", "--out", str(whole)
        ).returncode
        == 0
    )
    for a, b in [("S0", "S8"), ("S4", "S5"), ("S7", "S8")]:
        pd.testing.assert_series_equal(read_all_pairs(files, pair=(a, b)), read_all_pairs(whole, pair=(a, b)))
    pd.testing.assert_frame_equal(read_all_pairs(files, latest=True), read_all_pairs(whole, latest=True))


def test_the_block_command_names_a_part_file_given_twice_or_not_parquet(tmp_path):
    prices = tmp_path / "prices.parquet"
    write_parquet(pd.DataFrame({"A": [1.0, 2.0]}, index=pd.bdate_range("2020-01-01", periods=2)), prices, {})
    for outs, message in (
        (["p.parquet", "p.parquet"], "p.parquet, p.parquet names a file twice; give each part its own file"),
        (["p.parquet", "q.csv"], "q.csv must end in .parquet"),
    ):
        result = run_block_cli("--prices", str(prices), "--window", "2", "--out", *outs)
        assert result.returncode == 2 and f"argument --out: {message}" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_reading_a_file_that_is_not_an_all_pairs_result_names_it(tmp_path):
    import pyarrow as pa

    prices = tmp_path / "prices.parquet"  # corrflow metadata, but float columns
    write_parquet(pd.DataFrame({"A": [1.0, 2.0]}, index=pd.bdate_range("2020-01-01", periods=2)), prices, {})
    old_layout = tmp_path / "old.parquet"  # an earlier version's list columns
    table = pa.table({"date": [1, 2], "A": pa.array([[0.5], [0.6]], pa.list_(pa.float32(), 1))})
    pq.write_table(table.replace_schema_metadata({b"corrflow": b'{"series": ["A", "B"]}'}), old_layout)
    for path in (prices, old_layout):
        with pytest.raises(InputDataError, match=f"{path.name}: not an all-pairs result"):
            read_all_pairs(path, pair=("A", "B"))


def test_the_synchronised_estimate_is_unbiased_where_the_daily_one_is_not():
    """Two markets with correlation 0.6, the second trading the first's news a day late
    (Tokyo after New York): the daily correlation sees none of it, the synchronised one
    all of it."""
    from corrflow.analytics.correlation.rolling_corr import synchronised_corr

    rng = np.random.default_rng(7)
    n, rho = 6000, 0.6
    news = rng.normal(size=n)
    own = rng.normal(size=n)
    index = pd.bdate_range("2000-01-03", periods=n)
    new_york = pd.Series(news, index=index)
    tokyo = pd.Series(rho * np.r_[0.0, news[:-1]] + np.sqrt(1 - rho**2) * own, index=index)
    daily = new_york.rolling(250).corr(tokyo).dropna()
    synced = synchronised_corr(new_york, tokyo, 250).dropna()
    assert abs(daily.mean()) < 0.03  # biased: the co-movement is a day apart
    assert abs(synced.mean() - rho) < 0.03  # unbiased
    # synchronous markets: the synchronised estimate agrees with the daily one
    same_day = pd.Series(rho * news + np.sqrt(1 - rho**2) * own, index=index)
    both = synchronised_corr(new_york, same_day, 250).dropna()
    assert abs(both.mean() - new_york.rolling(250).corr(same_day).dropna().mean()) < 0.03


def test_every_pair_of_the_snapshot_on_its_own_days_equals_the_configured_method(snapshot_frames):
    """The all-pairs kernel on the default universe (NYSE, SIFMA_US yields with their own
    holidays, series that start and end at other dates, missing days) gives each pair what
    rolling_corr gives it configured, NaN on exactly the same days."""
    from corrflow.analytics.correlation.rolling import (
        JointDayPanel,
        joint_day_rolling_corr,
        pair_rolling_corr,
    )
    from corrflow.analytics.panel import CleanPanel

    levels, metadata, _ = snapshot_frames
    names = list(levels.columns)
    pairs = [(names[i], names[j]) for i, j in all_pairs(names)]
    kernel = joint_day_rolling_corr(JointDayPanel(CleanPanel(levels, metadata)), pairs, 60)
    for a, b in pairs:
        configured = pair_rolling_corr(levels, metadata, a, b, 60).to_numpy()
        assert_matches(kernel[f"{a}:{b}"].to_numpy(), configured, 1e-12)


def test_the_kernel_streams_in_stretches_as_in_one_go(snapshot_frames):
    from corrflow.analytics.correlation.rolling import AllPairsBySeries, JointDayPanel
    from corrflow.analytics.panel import CleanPanel

    levels, metadata, _ = snapshot_frames
    panel = JointDayPanel(CleanPanel(levels, metadata))
    whole = AllPairsBySeries(panel, 60)
    expected = [b.copy() for b in whole.compute(whole.buffer())]
    streamed = AllPairsBySeries(panel, 60, rows=777)
    parts = [[] for _ in expected]
    for t0 in range(0, streamed.n_rows, 777):
        for k, block in enumerate(streamed.compute(streamed.buffer(), t0, min(t0 + 777, streamed.n_rows))):
            parts[k].append(block.copy())
    for k, block in enumerate(expected):
        np.testing.assert_array_equal(np.concatenate(parts[k]), block)


def lockstep_universe():
    """Four calendars and a series with none, series that start and end apart, a yield, a
    series with a hole of its own, a flat stretch, a price that goes to zero and a gap
    of six NYSE days beyond max_gap_days (3) in every NYSE series."""
    from run import universe_levels

    levels, metadata = universe_levels(13, 700, ("NYSE", "XTKS", "24/7", "SIFMA_US"), seed=3, holes=0)
    calendar = {name: spec["calendar"] for name, spec in metadata["series"].items()}
    nyse = [name for name in levels.columns if calendar[name] == "NYSE"]
    gap = levels.index[levels[nyse[0]].notna().to_numpy()][200:206]
    levels.loc[gap, nyse] = np.nan
    levels.iloc[:90, 1] = np.nan  # starts late
    levels.iloc[600:, 2] = np.nan  # ends early
    levels.iloc[np.flatnonzero(levels.iloc[:, 5].notna())[300], 5] = np.nan  # a hole of its own
    flat = np.flatnonzero(levels.iloc[:, 6].notna())[400:470]
    levels.iloc[flat, 6] = levels.iloc[flat[0], 6]
    zero = np.flatnonzero(levels.iloc[:, 7].notna())[500:]
    levels.iloc[zero, 7] = 0.0  # log of 0: NaN returns
    sifma = levels["S003"].notna().to_numpy()
    levels["S011"] = np.where(
        sifma, 4 + np.cumsum(np.random.default_rng(9).normal(0, 0.05, len(levels))), np.nan
    )
    metadata["series"]["S011"] = {"kind": "yield", "calendar": "SIFMA_US", "maturity": 10}
    metadata["series"]["S004"] = {"kind": "price"}  # no calendar: a group of its own
    return levels, metadata


def every_stretch(result) -> np.ndarray:
    """Every row of ``result`` (an ``AllPairsBySeries``), computed stretch by stretch in
    order into its one buffer, as the store computes them."""
    buffer = result.buffer()
    return np.concatenate(
        [
            result.compute(buffer, t0, min(t0 + result.rows, result.n_rows))[0].copy()
            for t0 in range(0, result.n_rows, result.rows)
        ]
    )


@pytest.mark.parametrize("window", [5, 60])
def test_lockstep_pairs_equal_the_general_walk(window):
    """Pairs whose series share their calendar's days run in lock-step
    (``JointDayPlan``); every pair equals the general joint-day walk within 1e-12 and
    is NaN on exactly its days, however the rows are split into stretches."""
    from corrflow.analytics.correlation.rolling import (
        AllPairsBySeries,
        JointDayPanel,
        JointDayPlan,
        joint_day_rolling_corr,
    )
    from corrflow.analytics.panel import CleanPanel

    levels, metadata = lockstep_universe()
    panel = JointDayPanel(CleanPanel(levels, metadata))
    names = list(levels.columns)
    plan = JointDayPlan(panel, all_pairs(names), window)
    in_general = {tuple(p) for p in plan.pairs[plan.general]}
    assert in_general == {p for p in map(tuple, all_pairs(names)) if 5 in p}  # only the holed series
    # every pair of the calendar groups NYSE, XTKS, 24/7, SIFMA_US and none (one series: no pair within)
    assert len(plan.group_days) == 14
    pairs = [(names[i], names[j]) for i, j in all_pairs(names)]
    general = joint_day_rolling_corr(panel, pairs, window).to_numpy()
    assert np.isfinite(general).sum() > 1000
    for rows in (None, 97, 240):
        rows_of_all = every_stretch(AllPairsBySeries(panel, window, rows=rows, date_major=True))
        assert_matches(rows_of_all, general, 1e-12)
        np.testing.assert_array_equal(np.isnan(rows_of_all), np.isnan(general))


@pytest.mark.parametrize("layout", ["pair-major", "two parts"])
def test_every_layout_gets_every_cell_of_the_lockstep_walk(layout):
    """A stretch's rows that are not every calendar group's days are set to NaN first, a
    whole row's cells at a time (segments of pairs side by side in a row), and the kernels
    then write the rest: in a pair-major buffer (a segment per pair) and in the store's
    rows of two part files (a segment per part), every cell equals the general walk's and
    is NaN on exactly its non-days, with pairs of the general walk among them."""
    from corrflow.analytics.correlation.rolling import AllPairsBySeries, JointDayPanel, joint_day_rolling_corr
    from corrflow.analytics.panel import CleanPanel

    levels, metadata = lockstep_universe()
    panel = JointDayPanel(CleanPanel(levels, metadata))
    names = list(levels.columns)
    general = joint_day_rolling_corr(
        panel, [(names[i], names[j]) for i, j in all_pairs(names)], 20
    ).to_numpy()
    if layout == "pair-major":
        result = AllPairsBySeries(panel, 20, rows=97)
    else:
        result = AllPairsBySeries(panel, 20, rows=97, date_major=True, parts=[range(0, 4), range(4, 12)])
    buffer = result.buffer()
    buffer.fill(7.0)  # a value no cell may keep
    stretches = [
        np.concatenate(
            [block.copy() for block in result.compute(buffer, t0, min(t0 + 97, result.n_rows))], axis=1
        )
        for t0 in range(0, result.n_rows, 97)
    ]
    rows_of_all = np.concatenate(stretches)
    assert (~np.isnan(general)).all(axis=1).sum() < len(general) / 2  # most rows: some pair's non-day
    assert_matches(rows_of_all, general, 1e-12)
    np.testing.assert_array_equal(np.isnan(rows_of_all), np.isnan(general))


def test_lockstep_results_do_not_depend_on_how_pairs_are_cut_into_runs_and_tasks(monkeypatch):
    """The lock-step kernel's parallel tasks (consecutive runs of one calendar group,
    walked day by day) only order the work: runs of 2 pairs in tasks of 3 give the same
    bits as the defaults, on every calendar group, NaN days and stretch split included."""
    from corrflow.analytics.correlation import rolling
    from corrflow.analytics.correlation.rolling import AllPairsBySeries, JointDayPanel, lockstep_tasks
    from corrflow.analytics.panel import CleanPanel

    levels, metadata = lockstep_universe()
    panel = JointDayPanel(CleanPanel(levels, metadata))

    def every_row(plan_run: int, plan_task: int):
        monkeypatch.setattr(rolling, "LOCKSTEP_RUN", plan_run)
        monkeypatch.setattr(rolling, "LOCKSTEP_TASK", plan_task)
        result = AllPairsBySeries(panel, 20, rows=97, date_major=True)
        return result.plan, every_stretch(result)

    default_plan, default = every_row(128, 1024)
    small_plan, small = every_row(2, 3)
    # the small cut is another plan: more runs, several tasks in a group, none across groups
    assert len(small_plan.run_start) > len(default_plan.run_start)
    tasks = small_plan.task_run
    assert len(tasks) - 1 > len(small_plan.group_days)
    for first, stop in zip(tasks[:-1], tasks[1:], strict=True):
        assert len(set(small_plan.run_group[first:stop])) == 1
        assert small_plan.run_length[first:stop].sum() <= 3 or stop - first == 1
    np.testing.assert_array_equal(small, default)
    # every run in exactly one task, in order; a group's end or a full task starts the next
    monkeypatch.setattr(rolling, "LOCKSTEP_TASK", 3)
    bounds = lockstep_tasks(np.array([0, 0, 0, 1, 1]), np.array([2, 1, 2, 4, 1]))
    assert bounds.tolist() == [0, 2, 3, 4, 5]


def test_the_serial_and_threaded_builds_of_every_kernel_give_the_same_numbers(monkeypatch):
    """Each compiled kernel runs serially below ``PARALLEL_WORK`` and on numba's threads
    above it (the threads split the pairs): every output of the joint-day walk, the
    lock-step walk, the summary and the grid kernel is bit-for-bit the same either way."""
    from corrflow.analytics.correlation import kernels
    from corrflow.analytics.correlation.rolling import AllPairsBySeries, JointDayPanel, joint_day_rolling_corr
    from corrflow.analytics.panel import CleanPanel

    levels, metadata = lockstep_universe()
    panel = JointDayPanel(CleanPanel(levels, metadata))
    names = list(levels.columns)
    pairs = [(names[i], names[j]) for i, j in all_pairs(names)]
    with np.errstate(divide="ignore", invalid="ignore"):  # the universe has a zero price
        returns = np.log(levels.ffill()).diff().to_numpy()
    returns[~np.isfinite(returns)] = np.nan
    builds = {}
    for name, threshold in (("serial", np.iinfo("int64").max), ("parallel", 0)):
        monkeypatch.setattr(kernels, "PARALLEL_WORK", threshold)
        rows_of_all = every_stretch(AllPairsBySeries(panel, 20, rows=97, date_major=True))
        summary = panel.summary(all_pairs(names), 50)
        builds[name] = [
            joint_day_rolling_corr(panel, pairs, 20).to_numpy(),
            rows_of_all,
            *(summary[k] for k in sorted(summary)),
            rolling_corr_pairs(returns, all_pairs(names), 20),
        ]
    for serial, threaded in zip(builds["serial"], builds["parallel"], strict=True):
        np.testing.assert_array_equal(serial, threaded)
    # both builds were used: each kernel holds a compiled signature in each build
    for kernel in (
        kernels.joint_day_corr,
        kernels.joint_day_summary_corr,
        kernels.lockstep_corr,
        kernels.fill_nan_rows,
    ):
        assert kernel.serial.signatures and kernel.parallel.signatures
    assert kernels.segment_cross_corr.serial.signatures and kernels.segment_cross_corr.parallel.signatures


def _dimson(x: pd.Series, y: pd.Series, window: int) -> pd.Series:
    """The former estimator: same-day plus both one-day cross-covariances over the two
    standard deviations (not a correlation of anything: unbounded)."""
    x_lag, y_lag = x.shift(1), y.shift(1)
    r = lambda s: s.rolling(window, min_periods=window)  # noqa: E731
    numerator = r(x).cov(y) + r(x).cov(y_lag) + r(x_lag).cov(y)
    return numerator / (r(x).std() * r(y).std())


def test_the_synchronised_estimate_stays_in_bounds_where_the_lead_lag_sum_exceeds_one():
    """London and New York hours apart: half of each day's news reaches the earlier market
    a day late, the true correlation near 1. The lead-lag sum exceeds 1 on many windows
    (the issue's 1.50 on S&P-FTSE); the synchronised correlation never does, and it is the
    Pearson correlation of the synchronised returns, computed here by hand for one window."""
    from corrflow.analytics.correlation.rolling_corr import synchronised_corr

    rng = np.random.default_rng(11)
    n, window = 1500, 20
    early, late = rng.normal(size=n), rng.normal(size=n)
    index = pd.bdate_range("2010-01-04", periods=n)
    new_york = pd.Series(early + late + 0.2 * rng.normal(size=n), index=index)
    london = pd.Series(early + np.r_[0.0, late[:-1]] + 0.2 * rng.normal(size=n), index=index)
    old = _dimson(new_york, london, window).dropna()
    assert (old > 1).mean() > 0.05  # the old estimate leaves [-1, 1]
    synced = synchronised_corr(new_york, london, window)
    assert synced.notna().sum() == len(old)
    assert synced.between(-1, 1).sum() == len(old)
    assert synced.mean() > new_york.rolling(window).corr(london).mean() + 0.2
    # one window by hand: the Pearson correlation of the synchronised returns
    day = 700
    frame = pd.DataFrame({"x": new_york, "y": london, "X": new_york.shift(1), "Y": london.shift(1)})
    w = frame.iloc[day - window + 1 : day + 1]
    b_x = np.cov(w.x, w.Y)[0, 1] / w.Y.var()
    b_y = np.cov(w.y, w.X)[0, 1] / w.X.var()
    sx = w.x + b_x * (w.y - w.Y)
    sy = w.y + b_y * (w.x - w.X)
    assert synced.iloc[day] == pytest.approx(np.corrcoef(sx, sy)[0, 1], abs=1e-12)
