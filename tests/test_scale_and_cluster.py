"""Scale-out and cluster planning: the all-pairs scatter-gather, a 2,000-series dry run,
the SLURM profile, and what a config change re-runs."""

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import cluster_plugin_env, snakemake

pytestmark = pytest.mark.e2e


def big_universe_config(path, n_series: int, n_blocks: int) -> None:
    series = [{"id": f"X{k:04d}", "source": "csv", "kind": "price"} for k in range(n_series)]
    path.write_text(
        yaml.safe_dump(
            {
                "start": "1990-01-02",
                "end": "2016-12-30",  # 27 years
                "series": series,
                "correlation": {"pairs": [["X0000", "X0001"]]},
                "features": {"cash_rate": None},
                "stress": {"equity": "X0000", "bond": None, "vix": None},
                "all_pairs": {"enabled": True, "n_blocks": n_blocks},
            }
        )
    )


def test_all_pairs_blocks_run_and_agree_with_the_pair_columns(finished_copy):
    """On a copy of the finished default run: the blocks and the report are what the
    switch re-runs."""
    from corrflow.store.all_pairs import read_all_pairs

    snakemake(
        finished_copy,
        "data/processed/all_pairs/manifest.json",
        "--cores",
        "2",
        "--config",
        "offline=true",
        "all_pairs={'enabled': True, 'n_blocks': 3}",
    )
    manifest = json.loads((finished_copy / "data/processed/all_pairs/manifest.json").read_text())
    # each block in two part files, encoded side by side (the rule's two outputs)
    assert len(manifest["files"]) == 6 and manifest["pairs"] == 36 and manifest["window"] == 60
    assert [(f["block"], f["part"]) for f in manifest["files"]] == [(k, q) for k in range(3) for q in (0, 1)]
    files = [finished_copy / "data/processed/all_pairs" / f["file"] for f in manifest["files"]]
    snakemake(
        finished_copy,
        "docs/report.md",
        "--cores",
        "2",
        "--config",
        "offline=true",
        "all_pairs={'enabled': True, 'n_blocks': 3}",
        "model={'enabled': False}",
    )
    report = (finished_copy / "docs/report.md").read_text()
    assert "## All pairs" in report and "9 series, 36 pairs, 60-day window" in report
    corr = pd.read_csv(finished_copy / "data/processed/rolling_corr.csv", index_col="date", parse_dates=True)
    stored = read_all_pairs(files, pair=("SPY", "DGS10"))
    manifest_path = finished_copy / "data/processed/all_pairs/manifest.json"
    pd.testing.assert_series_equal(read_all_pairs(manifest_path, pair=("DGS10", "SPY")), stored)
    # every pair on its own joint days: the stored pair is the configured pair of rolling_corr.csv
    from corrflow.data.contracts import read_parquet

    levels, _ = read_parquet(finished_copy / "data/processed/clean.parquet")
    assert stored.index.equals(levels.index) and corr.index.equals(levels.index)
    configured = corr["SPY:DGS10:60"].to_numpy()
    np.testing.assert_array_equal(np.isnan(stored.to_numpy()), np.isnan(configured))
    assert np.nanmax(np.abs(stored.to_numpy() - configured)) < 6e-8  # float32 storage


def test_a_2000_series_universe_plans_into_blocks(workflow_copy):
    big_universe_config(workflow_copy / "config" / "big.yaml", 2000, 64)
    result = snakemake(workflow_copy, "-n", "--configfile", "config/config.yaml", "config/big.yaml")
    assert re.search(r"^all_pairs_block\s+64$", result.stdout, re.M), result.stdout[-2000:]
    assert re.search(r"^all_pairs\s+1$", result.stdout, re.M)
    # memory per block (common.smk: all_pairs_mem_mb) is planned under 2 GB: the writer
    # holds two row groups, not the block's 0.9 GB of correlations
    jobs = [job for job in result.stdout.split("\nrule ") if job.startswith("all_pairs_block:")]
    planned = {int(re.search(r"mem_mb=(\d+)", job).group(1)) for job in jobs}
    assert len(jobs) == 64 and len(planned) == 1 and 1000 < planned.pop() < 2000


def test_slurm_profile_plans_with_per_rule_resources(workflow_copy):
    profile = ["--profile", "profiles/slurm"]
    result = snakemake(workflow_copy, "-n", *profile, "--config", "offline=true", env=cluster_plugin_env())
    assert re.search(r"^regimes\s+1$", result.stdout, re.M)
    # regimes: memory_mb(3000), first attempt: 3000 MB and 150 B per series and day (~9 x 16,400)
    regimes = next(job for job in result.stdout.split("\nrule ") if job.startswith("regimes:"))
    assert 3010 < int(re.search(r"mem_mb=(\d+)", regimes).group(1)) < 3040
    text = (workflow_copy / "workflow/rules/ingest.smk").read_text()
    assert "localrule: True" in text


def test_changing_a_window_reruns_only_what_depends_on_it(workflow_run):
    workdir, _ = workflow_run
    result = snakemake(workdir, "-n", "--config", "offline=true", "correlation={'windows': [60, 20]}")
    planned = set(re.findall(r"^(\w+)\s+\d+$", result.stdout, re.M)) - {"total", "job", "count"}
    assert planned == {"rolling_corr", "regimes", "model", "report", "dashboard", "all"}, planned
    result = snakemake(workdir, "-n", "--config", "offline=true", "start=1991-01-02")
    planned = set(re.findall(r"^(\w+)\s+\d+$", result.stdout, re.M)) - {"total", "job", "count"}
    assert {"ingest", "clean", "dq"} <= planned


def test_summary_lists_every_output(workflow_run):
    workdir, _ = workflow_run
    result = snakemake(workdir, "--summary", "--config", "offline=true")
    assert "data/processed/rolling_corr.csv" in result.stdout and "ok" in result.stdout


def test_benchmark_quick_runs_and_checks_accuracy():
    import subprocess
    import sys

    from conftest import ROOT

    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/run.py"), "--quick", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| numba, 1 thread | 12 | 60 |" in result.stdout and "all-pairs CLI, N = 12" in result.stdout
