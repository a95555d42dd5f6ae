"""Real Snakemake runs on a temp copy of the workflow, offline, from the bundled snapshot."""

import hashlib
import json
import re

import pandas as pd
import pytest

from conftest import corrflow_command, snakemake
from corrflow.steps import STEPS

pytestmark = pytest.mark.e2e


def test_every_output_exists_with_expected_shape(workflow_run):
    workdir, _ = workflow_run
    for path in [
        "data/raw/fred.csv",
        "data/raw/yahoo.csv",
        "data/raw/fred.ok",
        "data/raw/yahoo.ok",
        "data/processed/clean.parquet",
        "data/processed/features.parquet",
        "data/processed/rolling_corr.csv",
        "data/processed/regimes.parquet",
        "docs/report.md",
        "docs/dq_report.md",
        "docs/dq_report.json",
        "docs/fig_corr_SPY_vs_DGS10.png",
        "docs/fig_corr_SPY_vs_DCOILWTICO.png",
        "docs/fig_corr_SPY_vs_TLT.png",
        "docs/fig_regimes.png",
        "docs/fig_heatmap.png",
        "data/processed/stress_episodes.csv",
        "data/processed/horizons.csv",
        "models/corr_forecast.pkl",
        "models/comove_logit.pkl",
        "models/metrics.json",
    ]:
        assert (workdir / path).stat().st_size > 0, path
    raw = pd.read_csv(workdir / "data/raw/fred.csv")
    assert list(raw.columns) == ["series", "date", "value"]
    clean = pd.read_parquet(workdir / "data/processed/clean.parquet")
    assert {"SPY", "DGS10", "DCOILWTICO", "SP500", "VIXCLS"} <= set(clean.columns)
    assert clean["TLT"].first_valid_index() == pd.Timestamp("2002-07-30")  # TLT's first day, not invented
    assert clean.index.is_unique and clean.index.is_monotonic_increasing
    features = pd.read_parquet(workdir / "data/processed/features.parquet")
    assert {"ret:SPY", "ret:DGS10", "dy_bp:DGS10", "ret:SPY:lag1"} <= set(features.columns)
    corr = pd.read_csv(workdir / "data/processed/rolling_corr.csv", index_col="date")
    expected = [
        f"{pair}:{w}{stat}"
        for pair in ["SPY:TLT", "SPY:DGS10", "SPY:DCOILWTICO", "FF_MKT:DGS10"]
        for w in [60, 20, 120]
        for stat in ["", ":lo95", ":hi95"]
    ]
    assert sorted(corr.columns) == sorted(
        expected + ["SPY:TLT:ewm30", "SPY:DGS10:ewm30", "SPY:DCOILWTICO:ewm30", "FF_MKT:DGS10:ewm30"]
    )
    regimes = pd.read_parquet(workdir / "data/processed/regimes.parquet")
    assert {
        "pct:SPY:DGS10:60",
        "relative:SPY:DGS10:60",
        "sign:SPY:DGS10:60",
        "mkv:ret:SPY:p_realtime:turbulent",
        "mkv:ret:SPY:p_hindsight:turbulent",
        "mkv:SPY:DGS10:60:p_realtime:high",
        "dcc:SPY:DGS10",
        "stress",
        "stress_reason",
    } <= set(regimes.columns)
    assert {"excess:SPY", "excess:DGS10"} <= set(features.columns)
    metrics = json.loads((workdir / "models/metrics.json").read_text())
    assert {"model", "last_value", "historical_mean"} <= set(metrics)


def test_ok_files_say_which_level_served_each_series(workflow_run):
    workdir, _ = workflow_run
    yahoo = json.loads((workdir / "data/raw/yahoo.ok").read_text())
    status = {s["series"]: s["status"] for s in yahoo["series"]}
    assert status == {"SPY": "snapshot", "SP500": "snapshot", "TLT": "snapshot"}
    spy = next(s for s in yahoo["series"] if s["series"] == "SPY")
    assert spy["first"] == "1993-01-29" and spy["last"] == "2026-06-05" and spy["rows"] > 8000
    assert spy["origin"] == "offline snapshot" and spy["path"] == "data/sample/SPY.csv"


def test_report_states_offline_snapshot_and_the_seed_pair(workflow_run):
    workdir, _ = workflow_run
    report = (workdir / "docs/report.md").read_text()
    # one clock: the as-of date (the pairs with SPY run to 2026-06-05), and the series' last dates
    headline = (
        "**Data: offline snapshot, data as of 2026-06-05 (the series end 2026-04-30 .. 2026-08-18: "
        "see Sources).**"
    )
    assert headline in report
    assert "## At a glance: the latest values (2026-06-05)" in report
    assert "| SPY-TLT | 60 |" in report  # TLT is in the snapshot: the seed's pair is not skipped
    assert "skipped none" in (workdir / "logs/rolling_corr.log").read_text()
    for link in re.findall(r"\]\(([^)]+)\)", report):
        assert (workdir / "docs" / link).exists(), link


def test_logs_have_timestamps_and_levels(workflow_run):
    workdir, _ = workflow_run
    for log in [
        "logs/ingest/fred.log",
        "logs/clean.log",
        "logs/features.log",
        "logs/rolling_corr.log",
        "logs/regimes.log",
        "logs/dq.log",
        "logs/model.log",
        "logs/report.log",
    ]:
        lines = (workdir / log).read_text().splitlines()
        assert lines, log
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (INFO|WARNING|ERROR) ", lines[0]), (
            log,
            lines[0],
        )
    assert list((workdir / "logs/benchmarks").rglob("*.tsv"))


def test_no_job_prints_an_empty_shell_command(workflow_run):
    _, result = workflow_run
    assert "Shell command: None" not in result.stdout + result.stderr


def test_second_run_has_nothing_to_do_and_plain_snakemake_uses_the_profile(workflow_run):
    workdir, _ = workflow_run
    result = snakemake(workdir, "--config", "offline=true")  # no --cores: profiles/default/ gives them
    assert "Nothing to be done" in result.stdout + result.stderr


def output_digests(workdir):
    digests = {}
    for folder in ["data/raw", "data/processed", "docs", "models"]:
        for path in sorted((workdir / folder).rglob("*")):
            if path.is_file() and path.suffix != ".ok":  # .ok files carry the time they were written
                digests[str(path.relative_to(workdir))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


@pytest.mark.parametrize("subcommand", [*STEPS, None])
def test_every_step_has_a_command(subcommand):
    """`corrflow SUBCOMMAND --help` for every step, and `corrflow --help` listing them."""
    import subprocess

    command = [*corrflow_command(subcommand), "--help"] if subcommand else corrflow_command("--help")
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0 and "usage:" in result.stdout, result.stderr
    if subcommand is None:
        assert all(name in result.stdout for name in STEPS)


def test_the_snapshot_builder_has_a_cli():
    import subprocess
    import sys

    from conftest import ROOT

    result = subprocess.run(
        [sys.executable, str(ROOT / "tools/build_sample.py"), "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "usage:" in result.stdout, result.stderr


def test_single_target_builds_only_its_upstream(workflow_copy):
    result = snakemake(
        workflow_copy, "data/processed/rolling_corr.csv", "--cores", "2", "--config", "offline=true"
    )
    ran = set(re.findall(r"rule (\w+):", result.stdout + result.stderr))
    assert ran == {"ingest", "clean", "rolling_corr"}
    assert not (workflow_copy / "docs/report.md").exists()
    assert not (workflow_copy / "docs/dq_report.md").exists()


def test_dry_run_plans_every_task_and_dag_renders(workflow_copy):
    result = snakemake(workflow_copy, "-n")
    for rule in ["ingest", "clean", "features", "rolling_corr", "regimes", "report", "model", "dq"]:
        assert re.search(rf"^{rule}\s+\d+", result.stdout, re.M), rule
    dag = snakemake(workflow_copy, "--dag")
    assert dag.stdout.lstrip().startswith("digraph")
    mermaid = snakemake(workflow_copy, "--dag", "mermaid-js")
    assert "flowchart" in mermaid.stdout or "graph" in mermaid.stdout


def test_model_switched_off_is_not_planned(workflow_copy):
    result = snakemake(workflow_copy, "-n", "--config", "model={'enabled': False}")
    assert not re.search(r"^model\s+\d+", result.stdout, re.M)
    assert re.search(r"^report\s+\d+", result.stdout, re.M)


def test_lint_and_format_are_clean(workflow_copy):
    snakemake(workflow_copy, "--lint")
    import subprocess
    import sys
    from pathlib import Path

    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [str(bin_dir / "snakefmt"), "--check", "."],
        cwd=workflow_copy,
        capture_output=True,
        text=True,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "override, message",
    [
        (["offline=maybe"], "offline"),
        (["correlation={'pairs': [['SPY', 'NOPE']]}"], "NOPE"),
        (
            ["start=2016-01-04", "end=2016-06-30", "correlation={'windows': [300]}"],
            "config key `correlation.windows`: window 300 is longer than the 129 business days",
        ),
    ],
)
def test_bad_config_stops_before_any_job(workflow_copy, override, message):
    """Through Snakemake, one override per stage of resolution (the types, the cross-key
    checks, the calendars); every case as `--config` delivers it: tests/test_config.py."""
    result = snakemake(workflow_copy, "-n", "--config", *override, check=False)
    assert result.returncode != 0 and message in result.stdout + result.stderr


def test_snakemake_html_report_builds_offline(workflow_run):
    workdir, _ = workflow_run
    snakemake(workdir, "--report", "docs/report.html")
    html = (workdir / "docs/report.html").read_text(errors="replace")
    assert (
        "Cross-asset correlation workflow" in html and (workdir / "docs/report.html").stat().st_size > 100_000
    )
    (workdir / "docs/report.html").unlink()  # keep the digest comparison to the workflow's own outputs


def test_seed_command_between_two_runs_changes_no_output(finished_copy):
    """The README's seed command writes into the workflow's own rolling_corr.csv: it must
    replace only its pair's columns with the same numbers, so the next run's report is the same."""
    import subprocess

    workflow_copy = finished_copy  # the first run: the session's default run
    before = output_digests(workflow_copy)
    corr_path = workflow_copy / "data/processed/rolling_corr.csv"
    seed = [
        *corrflow_command("rolling-corr"),
        "--prices",
        "data/processed/clean.parquet",
        "--eq-col",
        "SPY",
        "--bond-col",
        "DGS10",
        "--window",
        "60",
        "--out",
        "data/processed/rolling_corr.csv",
    ]
    result = subprocess.run(seed, cwd=workflow_copy, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (
        output_digests(workflow_copy)["data/processed/rolling_corr.csv"]
        == before[str(corr_path.relative_to(workflow_copy))]
    )
    # the file is newer: the second run re-runs everything downstream of it
    second = snakemake(workflow_copy, "--cores", "2", "--config", "offline=true")
    assert "rule regimes" in second.stdout + second.stderr
    assert output_digests(workflow_copy) == before


@pytest.mark.parametrize(
    "args, message",
    [
        (["--window", "0"], "argument --window: 0 is too short"),
        (["--window", "60", "--out", "x.parquet"], "--out: x.parquet must end in .csv"),
        (["--window", "60", "--eq-col", "SPY"], "--eq-col and --bond-col go together"),
    ],
)
def test_seed_cli_argument_errors_name_the_argument_and_the_fix(tmp_path, args, message):
    import subprocess

    base = [*corrflow_command("rolling-corr"), "--prices", str(tmp_path / "clean.parquet")]
    if "--out" not in args:
        args = [*args, "--out", str(tmp_path / "out.csv")]
    if "--eq-col" not in args:
        args = [*args, "--eq-col", "SPY", "--bond-col", "TLT"]
    result = subprocess.run([*base, *args], capture_output=True, text=True)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_a_later_end_fetches_again_and_a_fixed_end_changes_nothing_else(workflow_run):
    """`end: latest` is resolved per run: a run on a later day (another resolved end)
    re-runs ingest and what follows; the same end leaves everything as it is."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    workdir, _ = workflow_run
    today = datetime.now(ZoneInfo("America/New_York")).date()  # after `latest`; a later end is refused
    later = snakemake(workdir, "-n", "--config", "offline=true", f"end={today}")
    assert re.search(r"^ingest\s+\d+$", later.stdout, re.M), later.stdout[-2000:]
    same = snakemake(workdir, "-n", "--config", "offline=true")
    assert "Nothing to be done" in same.stdout + same.stderr


def test_the_small_ci_config_runs_from_its_own_folder(tmp_path):
    """The catalog's `.test/` convention: `snakemake --directory .test` runs the small config
    there, the bundled snapshot found beside the workflow, to a report."""
    import shutil

    from conftest import ROOT, copy_workflow

    workdir = copy_workflow(tmp_path / "workflow")
    shutil.copytree(ROOT / ".test" / "config", workdir / ".test" / "config")
    snakemake(workdir, "--directory", ".test", "--cores", "2")
    report = (workdir / ".test" / "docs" / "report.md").read_text(encoding="utf-8")
    assert "SPY" in report and "TLT" in report
    assert not (workdir / ".test" / "data" / "sample").exists()
    assert not (workdir / "data" / "processed").exists()  # everything went to .test/


def output_mtimes(workdir):
    return {
        str(path.relative_to(workdir)): path.stat().st_mtime_ns
        for folder in ["data/raw", "data/processed", "docs", "models"]
        for path in sorted((workdir / folder).rglob("*"))
        if path.is_file()
    }


def test_settings_of_how_data_is_fetched_rerun_no_job(workflow_run):
    """Issue 28.5: `offline` and the network's deadlines, retries and chunk size change how
    ingest fetches, not what it yields: switching them plans no job and a real run touches
    no output; a setting that changes what a download yields (a revision limit) still
    re-runs ingest and what follows."""
    workdir, _ = workflow_run
    before = output_mtimes(workdir)
    # planned only: offline=false would try the network if a job ran
    online = snakemake(workdir, "-n", "--config", "offline=false")
    assert "Nothing to be done" in online.stdout + online.stderr, online.stdout[-2000:]
    fetch_only = '{"timeout_s": 5, "retries": 0, "backoff_s": 0, "chunk_size": 7}'
    ran = snakemake(workdir, "--cores", "2", "--config", "offline=true", f"network={fetch_only}")
    assert "Nothing to be done" in ran.stdout + ran.stderr, ran.stdout[-2000:]
    assert output_mtimes(workdir) == before
    revisions = snakemake(workdir, "-n", "--config", "offline=true", 'network={"max_revision_share": 0.02}')
    assert re.search(r"^ingest\s+\d+$", revisions.stdout, re.M), revisions.stdout[-2000:]
    assert re.search(r"^clean\s+1$", revisions.stdout, re.M) and "Params have changed" in revisions.stdout
