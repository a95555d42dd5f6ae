"""Issue 22.2: no traceback from any input or config. A yield series that shares no day
with another, a series paired with itself, dates before 1900 or after today, a full disk,
a 2-row file and a file of returns given as prices each end in one clear line (or, for a
pair without joint data, in a report and dashboard that say so); the bad-file corpus
(tests/malformed/, test_malformed_inputs.py) holds the files."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT, corrflow_command, snakemake
from corrflow.analytics.returns import bond_returns_from_yields, pair_returns
from test_config_safety import dry_run_with, one_clear_line

START, END = "2016-01-04", "2020-12-31"


def snapshot_series(series_id: str, start: str = START, end: str = END) -> pd.Series:
    frame = pd.read_csv(ROOT / "data/sample" / f"{series_id}.csv", parse_dates=["date"], index_col="date")
    return frame["value"].dropna().loc[start:end]


def write_csv(series: pd.Series, path: Path) -> None:
    frame = pd.DataFrame({"date": series.index.strftime("%Y-%m-%d"), "value": series.to_numpy()})
    frame.to_csv(path, index=False, lineterminator="\n")


def local_universe(workdir: Path, files: dict, series: list[dict], pairs: list[list[str]]) -> Path:
    """The workflow with local CSV files (a Series, or a file's text) and a small config."""
    from conftest import copy_workflow

    workdir = copy_workflow(workdir)
    local = workdir / "data/local"
    local.mkdir(parents=True)
    for series_id, values in files.items():
        if isinstance(values, str):
            (local / f"{series_id}.csv").write_text(values)
        else:
            write_csv(values, local / f"{series_id}.csv")
    config = yaml.safe_load((workdir / "config/config.yaml").read_text())
    config.update(
        start=START,
        end=END,
        offline=True,
        series=series,
        correlation={"pairs": pairs, "windows": [60]},
        features={"cash_rate": None},
        stress={"equity": series[0]["id"], "bond": None, "vix": None},
        model={"enabled": False},
    )
    (workdir / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return workdir


def error_lines(log: Path) -> list[str]:
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    return [line for line in text.splitlines() if " ERROR " in line]


# ---------------------------------------------------------------- a pair without joint data


def test_a_yield_series_without_observations_has_no_returns():
    empty = pd.Series([], index=pd.DatetimeIndex([]), dtype="float64", name="DGS10")
    assert bond_returns_from_yields(empty, 10.0).empty
    days = pd.bdate_range("2020-01-01", periods=20)
    levels = pd.DataFrame(
        {
            "SPY": np.r_[np.linspace(100, 110, 10), [np.nan] * 10],
            "DGS10": np.r_[[np.nan] * 10, np.linspace(1, 2, 10)],
        },
        index=days,
    )
    specs = {"SPY": {"kind": "price"}, "DGS10": {"kind": "yield", "maturity": 10}}
    joint = pair_returns(levels, specs, "SPY", "DGS10")
    assert joint.empty and list(joint.columns) == ["SPY", "DGS10"]


@pytest.mark.e2e
def test_a_pair_whose_legs_share_no_day_is_reported_not_a_crash(tmp_path):
    """A yield file that ends before the equity's starts: the run completes; the report and
    the dashboard say the pair has no joint data; the heatmap leaves the cell empty."""
    files = {
        "SPY": snapshot_series("SPY", "2017-06-01"),
        "TLT": snapshot_series("TLT"),
        "YLD": snapshot_series("DGS10", START, "2016-12-30"),
    }
    series = [
        {"id": "SPY", "source": "csv", "kind": "price"},
        {"id": "TLT", "source": "csv", "kind": "price"},
        {"id": "YLD", "source": "csv", "kind": "yield", "maturity": 10},
    ]
    workdir = local_universe(tmp_path, files, series, [["SPY", "TLT"], ["SPY", "YLD"]])
    snakemake(workdir, "--cores", "2")
    for log in (workdir / "logs").glob("*.log"):
        assert "Traceback" not in log.read_text(), log
    report = (workdir / "docs/report.md").read_text()
    section = report.split("### SPY vs YLD")[1].split("##")[0]
    assert "Skipped: the two series have no common days." in section
    assert "| SPY-YLD | - | - | no correlation |" in report
    assert "| SPY-TLT | 60 |" in report  # the other pair is whole
    page = (workdir / "docs/dashboard.html").read_text()
    assert "No joint data for this pair" in page
    corr = pd.read_csv(workdir / "data/processed/rolling_corr.csv", index_col="date")
    assert corr["SPY:YLD:60"].isna().all() and corr["SPY:TLT:60"].notna().any()


# ---------------------------------------------------------------- config: one line before any job


@pytest.mark.e2e
@pytest.mark.parametrize(
    "text, message",
    [
        (
            "correlation:\n  pairs: [[SPY, TLT], [SPY, SPY]]\n",
            "config key `correlation.pairs`: pair [SPY, SPY] pairs a series with itself (its correlation "
            "is 1 by definition); name two different series",
        ),
        (
            'start: "1600-01-03"\n',
            "config key `start`: 1600-01-03 is outside 1900-01-01..",
        ),
        (
            'start: "2016-01-04"\nend: "2099-12-31"\n',
            "config key `end`: 2099-12-31 is outside 1900-01-01..",
        ),
    ],
    ids=["self-pair", "start-1600", "end-2099"],
)
def test_a_config_no_run_can_hold_is_stopped_before_any_job(workflow_copy, text, message):
    result = dry_run_with(workflow_copy, text)
    one_clear_line(result, message)
    if "outside" in message:
        today = str(pd.Timestamp.now(tz="America/New_York").date())
        assert f"..{today} (today); give a date in that range" in result.stdout + result.stderr


@pytest.mark.e2e
def test_the_earliest_allowed_start_plans_the_run(workflow_copy):
    result = dry_run_with(workflow_copy, 'start: "1900-01-02"\n')
    assert result.returncode == 0, (result.stdout + result.stderr)[-2000:]


# ---------------------------------------------------------------- a full disk

DISK_FULL = """
import errno, pathlib
real_write_text = pathlib.Path.write_text


def write_text(self, data, *args, **kwargs):
    # the disk fills half-way through the report's temp file
    if self.name.startswith(".dq_report.md.") and self.name.endswith(".tmp"):
        real_write_text(self, data[: len(data) // 2], *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")
    return real_write_text(self, data, *args, **kwargs)


pathlib.Path.write_text = write_text
"""


def dq_arguments(tmp_path: Path) -> list[str]:
    """A DQ run of one local series, its raw file and status written by ingest's functions."""
    from corrflow.data import ingest

    folder = tmp_path / "local"
    folder.mkdir()
    write_csv(snapshot_series("SPY", "2020-01-02", "2020-06-30"), folder / "SPY.csv")
    spec = {"id": "SPY", "source": "csv", "kind": "price"}
    paths = {"cache": str(tmp_path / "cache"), "snapshot": str(tmp_path / "none"), "local_csv": str(folder)}
    outcomes = ingest.ingest_source(
        "csv", [spec], "2020-01-01", "2020-06-30", False, {}, paths, ingest.RetryPolicy()
    )
    tidy = ingest.tidy_frame(outcomes)
    tidy.to_csv(tmp_path / "csv.csv", index=False, lineterminator="\n")
    (tmp_path / "csv.ok").write_text(json.dumps(ingest.status_record("csv", outcomes, tidy)))
    return [
        "--raw", str(tmp_path / "csv.csv"),
        "--ok", str(tmp_path / "csv.ok"),
        "--series", json.dumps([spec]),
        "--md", str(tmp_path / "docs/dq_report.md"),
        "--json-path", str(tmp_path / "docs/dq_report.json"),
    ]  # fmt: skip


def test_a_full_disk_ends_in_one_line_naming_the_file_and_keeps_the_old_one(tmp_path):
    arguments = dq_arguments(tmp_path)
    command = [*corrflow_command("dq"), *arguments]
    subprocess.run(command, check=True, capture_output=True, text=True)
    report = tmp_path / "docs/dq_report.md"
    before = report.read_bytes()
    fault = tmp_path / "fault"
    fault.mkdir()
    (fault / "sitecustomize.py").write_text(DISK_FULL)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": os.pathsep.join([str(fault), str(ROOT / "src")])}
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"disk full writing {report}: it needs at least " in lines[0], lines[0]
    assert f"and {report.parent} has " in lines[0] and " free (the earlier " in lines[0], lines[0]
    assert "free space there (or move the workflow) and run again" in lines[0]
    assert report.read_bytes() == before  # the earlier report, whole
    assert not list(report.parent.glob(".*.tmp"))


def test_a_full_disk_on_a_first_write_says_nothing_was_written(tmp_path):
    import errno

    from corrflow.io import DiskFullError, write_text_atomic

    target = tmp_path / "out" / "new.txt"
    real_write_text = Path.write_text

    def full_disk(self, data, *args, **kwargs):
        real_write_text(self, data[:1000], *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Path, "write_text", full_disk)
        with pytest.raises(DiskFullError) as err:
            write_text_atomic("x" * 5000, target)
    message = str(err.value)
    assert f"disk full writing {target}: it needs at least 1.0 kB" in message, message
    assert f"(no {target} was written)" in message and "\n" not in message
    assert not target.exists() and not list(target.parent.iterdir())


# ---------------------------------------------------------------- files caught where they are read


@pytest.mark.e2e
@pytest.mark.parametrize(
    "text, message",
    [
        (
            "date,value\n2020-06-01,101.5\n2020-06-02,102.25\n",
            "series 'X' has only 2 values (2020-06-01..2020-06-02), too few for any correlation of pair "
            "SPY-X",
        ),
        (
            "date,value\n"
            + "".join(
                f"{day:%Y-%m-%d},{value:.5f}\n"
                for day, value in zip(
                    pd.bdate_range("2020-01-02", periods=60),
                    np.random.default_rng(22).normal(0, 0.012, 60),
                    strict=True,
                )
            ),
            "price series 'X' looks like daily returns, not levels",
        ),
    ],
    ids=["two-rows", "returns-as-prices"],
)
def test_a_short_file_or_a_returns_file_stops_clean_with_one_line_naming_it(tmp_path, text, message):
    series = [{"id": "SPY", "source": "csv", "kind": "price"}, {"id": "X", "source": "csv", "kind": "price"}]
    workdir = local_universe(tmp_path, {"SPY": snapshot_series("SPY"), "X": text}, series, [["SPY", "X"]])
    result = snakemake(workdir, "--cores", "2", "data/processed/clean.parquet", check=False)
    assert result.returncode != 0
    errors = error_lines(workdir / "logs/clean.log")
    assert len(errors) == 1 and message in errors[0], errors
    assert "data/raw/csv.csv (from data/local/X.csv)" in errors[0], errors
    assert not (workdir / "data/processed/clean.parquet").exists()


def test_a_full_disk_under_pyarrow_is_told_the_same_way(tmp_path):
    """pyarrow's writers raise OSError without an errno; the C library's words are in the text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from corrflow.data.contracts import read_parquet, write_parquet
    from corrflow.io import DiskFullError

    target = tmp_path / "clean.parquet"
    write_parquet(pd.DataFrame({"a": [1.0, 2.0]}), target, {"version": "old"})

    def full_disk(table, where, **kwargs):
        Path(where).write_bytes(b"PAR1")
        raise pa.ArrowIOError("[Errno 28] Error writing bytes to file. Detail: No space left on device")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pq, "write_table", full_disk)
        with pytest.raises(DiskFullError, match=f"disk full writing {target}: it needs at least "):
            write_parquet(pd.DataFrame({"a": [3.0]}), target, {"version": "new"})
    assert read_parquet(target)[1] == {"version": "old"} and sorted(tmp_path.iterdir()) == [target]
