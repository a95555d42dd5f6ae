"""Outputs sized to what people read (issue 23): month-end and latest all-pairs matrices
equal the every-day store on those dates, kept histories equal it on every day, the size
is logged before writing, and a memory budget chooses the block count (a 5,000-series
universe planned through the SLURM profile)."""

import json
import logging
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import cluster_plugin_env, snakemake
from test_config_safety import one_clear_line


def mixed_calendar_levels() -> pd.DataFrame:
    """Seven series on every calendar day of 2019-2021: New York weekdays (with holes), a
    Tokyo-like series closed on some month-ends, a 7-day coin, one that ends mid-month and
    one that starts late."""
    rng = np.random.default_rng(23)
    index = pd.date_range("2019-01-01", "2021-06-11", freq="D", name="date")
    names = ["NY1", "NY2", "TOKYO", "COIN", "ENDS", "LATE", "NY3"]
    common = rng.normal(size=(len(index), 1)) * 0.01
    returns = (
        common * np.array([1.0, 0.8, 0.5, 0.3, -0.6, 0.7, -0.2]) + rng.normal(size=(len(index), 7)) * 0.008
    )
    levels = pd.DataFrame(100 * np.exp(returns.cumsum(axis=0)), index=index, columns=names)
    weekend = index.day_of_week >= 5
    levels.loc[weekend, [n for n in names if n != "COIN"]] = np.nan
    levels.iloc[::17, 0] = np.nan  # New York holidays of one series
    tokyo_closed = index.is_month_end & (index.month % 3 == 0)  # quarter-ends: Tokyo closed
    levels.loc[tokyo_closed | (index.day_of_week == 2) & (index.day < 8), "TOKYO"] = np.nan
    levels.loc["2021-05-14":, "ENDS"] = np.nan
    levels.loc[:"2020-03-01", "LATE"] = np.nan
    return levels


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    from corrflow.store.all_pairs import write_all_pairs
    from corrflow.store.manifest import manifest_of

    folder = tmp_path_factory.mktemp("stores")
    levels = mixed_calendar_levels()
    manifests = {}
    for dates in ("every_day", "month_ends", "latest"):
        # each block in two part files, as the workflow writes them (block 2 of 3 has one
        # first series: its second part is empty)
        blocks = [[folder / f"{dates}_block_{k + 1}-of-3.part{q}.parquet" for q in (1, 2)] for k in range(3)]
        histories = [folder / f"{dates}_history_{k + 1}-of-3.parquet" for k in range(3)]
        for k in range(3):
            write_all_pairs(
                levels,
                {"series": {}},
                20,
                blocks[k],
                "float64",
                k,
                3,
                dates,
                ["TOKYO", "NY1:NY3"],
                histories[k],
            )
        files = [str(p) for parts in blocks for p in parts]
        manifest = manifest_of(files[::-1], [str(p) for p in histories])  # any order: sorted by block, part
        manifests[dates] = folder / f"{dates}.json"
        manifests[dates].write_text(json.dumps(manifest))
    return levels, manifests


def test_month_end_and_latest_matrices_equal_the_every_day_store_on_those_dates(stores):
    from corrflow.store.all_pairs import read_all_pairs, read_month_ends

    levels, manifests = stores
    names = list(levels.columns)
    months, cube = read_month_ends(manifests["month_ends"])
    # the month's last date of the universe (a Sunday where the coin trades), one per month with a value
    expected_dates = levels.groupby(levels.index.to_period("M")).apply(lambda m: m.index[-1])
    assert set(months) <= set(expected_dates) and len(months) >= len(expected_dates) - 1
    checked = 0
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            b = names[j]
            daily = read_all_pairs(manifests["every_day"], pair=(a, b))
            assert daily.index.equals(levels.index)
            # each pair's last value of each month, from every day's rows
            values = daily.dropna()
            last = values.groupby(values.index.to_period("M")).last()
            stored = pd.Series(cube[:, i, j], index=months.to_period("M")).dropna()
            pd.testing.assert_series_equal(stored, last, check_names=False, check_freq=False)
            assert np.array_equal(cube[:, j, i], cube[:, i, j], equal_nan=True)
            checked += len(last)
    assert checked > 400
    # a quarter-end Tokyo holiday: the month-end row holds Tokyo pairs' value of the day before
    march = months.get_loc(pd.Timestamp("2020-03-31"))
    tokyo = read_all_pairs(manifests["every_day"], pair=("NY2", "TOKYO"))
    assert (
        np.isnan(tokyo.loc["2020-03-31"]) and cube[march, 1, 2] == tokyo.loc[:"2020-03-31"].dropna().iloc[-1]
    )
    # the series that ended in May 2021 has no value in June's (the latest) matrix
    latest = read_all_pairs(manifests["latest"], latest=True)
    assert latest.attrs["date"] == "2021-06-11" == str(months[-1].date())
    np.testing.assert_array_equal(latest.to_numpy(), cube[-1])
    pd.testing.assert_frame_equal(read_all_pairs(manifests["every_day"], latest=True), latest)
    pd.testing.assert_frame_equal(read_all_pairs(manifests["month_ends"], latest=True), latest)
    assert (
        latest.loc["ENDS"].drop("ENDS").isna().all()
        and latest.drop(index="ENDS", columns="ENDS").notna().all().all()
    )
    # a subset of series, in the order asked
    sub_months, sub = read_month_ends(manifests["month_ends"], series=["NY3", "COIN"])
    assert sub_months.equals(months) and np.array_equal(sub[:, 0, 1], cube[:, 3, 6], equal_nan=True)


def test_month_end_matrices_read_from_every_days_rows_equal_the_stored_month_ends(stores):
    """The reader's array path (codes, not strings) on an every-day store: the same
    matrices, dates and subsets as the month-end store the writer kept."""
    from corrflow.store.all_pairs import read_month_ends

    _, manifests = stores
    months, cube = read_month_ends(manifests["month_ends"])
    daily_months, daily_cube = read_month_ends(manifests["every_day"])
    assert daily_months.equals(months)
    np.testing.assert_array_equal(daily_cube, cube)
    for series in (["NY3", "COIN"], ["TOKYO", "NY1", "ENDS"]):
        sub_months, sub = read_month_ends(manifests["every_day"], series=series)
        kept_months, kept = read_month_ends(manifests["month_ends"], series=series)
        assert sub_months.equals(kept_months)
        np.testing.assert_array_equal(sub, kept)


def test_a_store_that_is_not_one_row_per_date_and_pair_is_named_in_one_line(stores, tmp_path):
    import pyarrow.parquet as pq

    from corrflow.io import InputDataError
    from corrflow.store.all_pairs import read_month_ends

    _, manifests = stores
    source = manifests["every_day"].parent / "every_day_block_1-of-3.part1.parquet"
    table = pq.read_table(source)
    damaged = tmp_path / "damaged.parquet"
    pq.write_table(table.slice(1), damaged)  # one row short: the first date lacks a pair
    with pytest.raises(InputDataError, match=r"damaged.parquet: row group 0 is not one row per date and"):
        read_month_ends(damaged)


def test_history_of_keeps_every_day_of_its_pairs_beside_month_ends(stores):
    from corrflow.store.all_pairs import read_all_pairs

    levels, manifests = stores
    for a, b in [("NY1", "TOKYO"), ("TOKYO", "COIN"), ("NY1", "NY3")]:
        kept = read_all_pairs(manifests["month_ends"], pair=(a, b))
        pd.testing.assert_series_equal(kept, read_all_pairs(manifests["every_day"], pair=(a, b)))
        assert len(kept) == len(levels)
    # a pair not kept: its month-end values only
    month_end_only = read_all_pairs(manifests["month_ends"], pair=("NY2", "COIN"))
    assert 25 <= len(month_end_only) <= 30
    from corrflow.io import InputDataError
    from corrflow.store.all_pairs import history_pairs

    for entry, message in (
        ("NOPE", "history_of: 'NOPE' names no series of the universe (NOPE)"),
        ("NY1:NY1", "history_of: 'NY1:NY1' is not a series id or a pair A:B of two series"),
        ("NY1:NY2:NY3", "history_of: 'NY1:NY2:NY3' is not a series id or a pair A:B of two series"),
    ):
        with pytest.raises(InputDataError, match=re.escape(message)):
            history_pairs([entry], list(levels.columns))
    # a kept pair read from a block file alone: where its every day is, in one line
    block = manifests["month_ends"].parent / "month_ends_block_1-of-3.part1.parquet"
    with pytest.raises(InputDataError, match="NY1:TOKYO's every day is in the history file of block 1"):
        read_all_pairs(block, pair=("NY1", "TOKYO"))


def test_store_size_is_logged_before_writing_and_auto_keeps_month_ends_above_300_series(tmp_path, caplog):
    from corrflow.store.all_pairs import stored_dates, write_all_pairs

    assert stored_dates("auto", 300) == "every_day" and stored_dates("auto", 301) == "month_ends"
    levels = mixed_calendar_levels()
    with caplog.at_level(logging.INFO, logger="all_pairs"):
        write_all_pairs(
            levels, {"series": {}}, 20, tmp_path / "s.parquet", "float32", 0, 1, "month_ends", [], None
        )
    line = next(r.getMessage() for r in caplog.records if "about" in r.getMessage())
    assert re.search(
        r"month ends \(up to 30 dates; a month of no full window is skipped\) x 21 pairs = 630 rows at most, "
        r"about 0 MB",
        line,
    ), line
    import pyarrow.parquet as pq

    assert pq.ParquetFile(tmp_path / "s.parquet").metadata.num_rows <= 630


def universe_config(path, n_series: int, all_pairs: dict) -> None:
    series = [{"id": f"X{k:04d}", "source": "csv", "kind": "price"} for k in range(n_series)]
    path.write_text(
        yaml.safe_dump(
            {
                "start": "1962-01-02",
                "end": "2025-12-31",
                "series": series,
                "correlation": {"pairs": [["X0000", "X0001"]]},
                "features": {"cash_rate": None},
                "stress": {"equity": "X0000", "bond": None, "vix": None},
                "all_pairs": {"enabled": True, **all_pairs},
            }
        )
    )


@pytest.mark.e2e
def test_a_memory_budget_plans_5000_series_into_blocks_that_fit_8_gb_nodes(workflow_copy):
    universe_config(workflow_copy / "config" / "big.yaml", 5000, {"mem_mb": 7000})
    result = snakemake(
        workflow_copy,
        "-n",
        "--profile",
        "profiles/slurm",
        "--configfile",
        "config/config.yaml",
        "config/big.yaml",
        env=cluster_plugin_env(),
    )
    blocks = int(re.search(r"^all_pairs_block\s+(\d+)$", result.stdout, re.M).group(1))
    note = re.search(r"all_pairs.mem_mb`: 7000 MB per block; (\d+) blocks of (\d+) MB planned", result.stderr)
    assert note and int(note.group(1)) == blocks and int(note.group(2)) <= 7000, result.stderr[-2000:]
    jobs = [job for job in result.stdout.split("\nrule ") if job.startswith("all_pairs_block:")]
    planned = {int(re.search(r"mem_mb=(\d+)", job).group(1)) for job in jobs}
    threads = {int(re.search(r"threads: (\d+)", job).group(1)) for job in jobs}
    assert len(jobs) == blocks and max(planned) <= 7000 and threads == {4}  # set-threads of the profile
    # fewer blocks would not fit: the budget chose the least
    assert 10 < blocks < 100
    # a budget no block can meet stops the run with one line naming the key
    universe_config(workflow_copy / "config" / "big.yaml", 5000, {"mem_mb": 1000})
    result = snakemake(
        workflow_copy, "-n", "--configfile", "config/config.yaml", "config/big.yaml", check=False
    )
    one_clear_line(result, "config key `all_pairs.mem_mb`: 1000 MB is below the")  # no frames (issue 30.4)


def test_the_latest_matrix_is_not_a_month_where_one_series_ran_on_alone(tmp_path):
    """A series published two months past the others (the snapshot's yields run past its
    ETFs) leaves those months with a pair or two: the latest matrix is the last month with
    at least half the pairs of the fullest recent one, not a nearly blank one."""
    from corrflow.store.all_pairs import read_all_pairs, write_all_pairs

    levels = mixed_calendar_levels().drop(columns=["ENDS"])
    levels.loc["2021-04-20":, [c for c in levels.columns if c not in ("NY1", "NY2")]] = np.nan
    path = tmp_path / "store.parquet"
    write_all_pairs(levels, {"series": {}}, 20, path, "float64", 0, 1, "month_ends", [], None)
    latest = read_all_pairs(path, latest=True)
    assert latest.attrs["date"] == "2021-04-30"  # April: every pair; May, June: NY1-NY2 alone
    assert latest.notna().all().all()


def test_a_value_a_pair_does_not_have_is_stored_as_null(stores):
    """Every day a pair has no value (not its joint day, before a full window) is a null,
    not a NaN: pandas reads NaN, and a null filter (DuckDB's, polars', arrow's) drops
    exactly those rows; the corrflow readers give the same answers."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from corrflow.store.all_pairs import read_all_pairs, store_files

    levels, manifests = stores
    blocks, histories = store_files(manifests["month_ends"])  # month-ends keep every day of some pairs
    for path in [*store_files(manifests["every_day"])[0], *blocks, *histories]:
        table = pq.read_table(path)
        if not len(table):  # a block without a kept pair has an empty history file
            continue
        values = table.column("corr")
        assert pc.sum(pc.is_nan(values.filter(pc.is_valid(values)))).as_py() in (0, None)  # no NaN left
        assert values.null_count > 0
        frame = table.to_pandas()
        assert frame["corr"].isna().sum() == values.null_count  # pandas: NaN
        assert len(table.filter(pc.is_valid(values))) == len(table) - values.null_count
    tokyo = read_all_pairs(manifests["every_day"], pair=("NY1", "TOKYO"))
    assert tokyo.index.equals(levels.index) and tokyo.isna().any() and tokyo.notna().any()


def test_a_block_in_part_files_holds_what_one_file_holds_and_the_manifest_lists_each_part(stores, tmp_path):
    """A block's pairs split by first series into part files (encoded side by side): each
    part holds its first series' pairs, the parts together the one file's values, the
    keys are never null (no definition levels), and the manifest lists every part in
    block and part order, each first series once."""
    import pyarrow.parquet as pq

    from corrflow.store.all_pairs import read_all_pairs, read_month_ends, write_all_pairs
    from corrflow.store.blocks import block_first_series

    levels, manifests = stores
    names = list(levels.columns)
    manifest = json.loads(manifests["every_day"].read_text())
    assert [(f["block"], f["part"]) for f in manifest["files"]] == [(k, q) for k in range(3) for q in (0, 1)]
    assert [f["file"] for f in manifest["files"]][:2] == [
        "every_day_block_1-of-3.part1.parquet",
        "every_day_block_1-of-3.part2.parquet",
    ]
    firsts = [s for f in manifest["files"] for s in f["first_series"]]
    assert firsts == names[:-1] and manifest["files"][3]["first_series"] == []  # block 2's second part

    one, parts = tmp_path / "one.parquet", [tmp_path / "part1.parquet", tmp_path / "part2.parquet"]
    for dates in ("every_day", "month_ends"):
        write_all_pairs(levels, {"series": {}}, 20, one, "float64", 0, 1, dates)
        write_all_pairs(levels, {"series": {}}, 20, parts, "float64", 0, 1, dates)
        whole = pq.read_table(one).to_pandas().dropna()
        split = []
        for q, path in enumerate(parts):
            handle = pq.ParquetFile(path)
            fields = {f.name: f.nullable for f in handle.schema_arrow}
            assert fields == {"date": False, "a": False, "b": False, "corr": True}
            meta = json.loads(handle.schema_arrow.metadata[b"corrflow"])
            assert (meta["part"], meta["n_parts"], meta["dates"]) == (q, 2, dates)
            frame = handle.read().to_pandas()
            assert set(frame["a"].astype(str)) == set(block_first_series(meta, names)) != set()
            split.append(frame.dropna())
        key = ["date", "a", "b"]
        pd.testing.assert_frame_equal(
            pd.concat(split).astype({"a": str, "b": str}).sort_values(key, ignore_index=True),
            whole.astype({"a": str, "b": str}).sort_values(key, ignore_index=True),
        )
        months, cube = read_month_ends(one)
        split_months, split_cube = read_month_ends(parts)
        assert split_months.equals(months) and np.array_equal(split_cube, cube, equal_nan=True)
        pd.testing.assert_series_equal(
            read_all_pairs(parts, pair=("NY3", "TOKYO")), read_all_pairs(one, pair=("NY3", "TOKYO"))
        )
