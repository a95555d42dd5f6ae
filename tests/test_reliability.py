"""Reliability and security (issue 8): resumable after SIGKILL, no half-written outputs,
safe names, safe YAML, safe pickles, and a 200-series universe within the core limit
(bad config stopped at start-up: test_workflow_e2e.py)."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT, SCRIPTS, snakemake
from test_workflow_e2e import output_digests


@pytest.mark.e2e
def test_killed_run_resumes_with_rerun_incomplete_to_the_same_bytes(workflow_run, finished_copy):
    workdir, _ = workflow_run
    # the regimes step re-run on a finished run (as after an edit) and killed midway: its
    # outputs are gone, the report and dashboard from before are still there
    workflow_copy = finished_copy
    (workflow_copy / "logs/regimes.log").unlink()  # its reappearance: the job has started
    snakemake_command = str(Path(sys.executable).parent / "snakemake")
    command = [snakemake_command, "--cores", "1", "--config", "offline=true", "--forcerun", "regimes"]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    process = subprocess.Popen(
        command,
        cwd=workflow_copy,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    regimes_log = workflow_copy / "logs/regimes.log"
    while time.monotonic() < deadline and not regimes_log.exists():
        time.sleep(0.05)
    time.sleep(0.5)  # regimes is mid-way through its Markov fits
    os.killpg(process.pid, signal.SIGKILL)  # Snakemake and its running job, no clean-up
    process.wait()
    assert regimes_log.exists()
    blocked = snakemake(workflow_copy, "--cores", "2", "--config", "offline=true", check=False)
    assert blocked.returncode != 0 and "cannot be locked" in blocked.stdout + blocked.stderr
    snakemake(workflow_copy, "--unlock")  # the killed run could not release its lock
    resumed = snakemake(workflow_copy, "--cores", "2", "--config", "offline=true", "--rerun-incomplete")
    assert "rule regimes" in resumed.stdout + resumed.stderr  # rebuilt, though the report was there
    assert output_digests(workflow_copy) == output_digests(workdir), resumed.stdout + resumed.stderr


WRITER = """
import sys, numpy as np, pandas as pd
sys.path.insert(0, {scripts!r})
from corrflow.data.contracts import write_parquet
frame = pd.DataFrame(np.random.default_rng(0).normal(size=(2_000_000, 12)))
print("ready", flush=True)
write_parquet(frame, {target!r}, {{"big": True}})
"""


def test_a_write_killed_midway_leaves_the_old_file_whole(tmp_path):
    target = tmp_path / "out.parquet"
    from corrflow.data.contracts import read_parquet, write_parquet

    write_parquet(pd.DataFrame({"a": [1.0, 2.0]}), target, {"version": "old"})
    before = target.read_bytes()
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER.format(scripts=str(SCRIPTS), target=str(target))],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(tmp_path.glob(".out.parquet.*.tmp")):
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert list(tmp_path.glob(".out.parquet.*.tmp")), "the kill did not land during the write"
    assert target.read_bytes() == before  # never half-written under its own name
    frame, metadata = read_parquet(target)
    assert metadata == {"version": "old"} and len(frame) == 2


def test_atomic_path_leaves_creating_the_temp_file_to_the_writer(tmp_path):
    """The writer creates the temp file: an existing one would be truncated on open, and
    ext4 then starts writing it back on close (0.15 s for a 400 MB result)."""
    from corrflow.io import atomic_path

    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and not tmp.exists()
            tmp.write_text("half")
            raise RuntimeError("writer failed")
    assert target.read_text() == "old" and sorted(tmp_path.iterdir()) == [target]
    with atomic_path(target) as tmp:
        assert not tmp.exists()
        tmp.write_text("new")
    assert target.read_text() == "new" and sorted(tmp_path.iterdir()) == [target]


STOPPED_WRITER = """
import signal, sys, threading
# Python's own SIGINT handling, as a process started from a terminal has it: a suite run in
# the background of a script (`make test &`) passes SIGINT on ignored, which Python keeps
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path.insert(0, {scripts!r})
from corrflow.io import atomic_path
with atomic_path({target!r}) as tmp:
    with open(tmp, "w") as handle:
        handle.write("half of a block")
        handle.flush()
        print("writing", tmp, flush=True)
        threading.Event().wait()  # a long write, stopped by the signal
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_write_stopped_by_sigterm_or_sigint_leaves_no_temp_file(tmp_path, signum):
    """Issue 30.4: an all-pairs block stopped with SIGTERM left its hidden .tmp file. Every
    writer goes through atomic_path, whose signal handler removes the temp file and then
    lets the signal end the process as before (killed by it; SIGINT's KeyboardInterrupt)."""
    target = tmp_path / "block.parquet"
    target.write_text("old")
    process = subprocess.Popen(
        [sys.executable, "-c", STOPPED_WRITER.format(scripts=str(SCRIPTS), target=str(target))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    said, tmp = process.stdout.readline().split()
    assert said == "writing" and Path(tmp).exists()  # the signal lands mid-write
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == -signum, stderr
    assert sorted(tmp_path.iterdir()) == [target] and target.read_text() == "old"


BAD_IDS = ["../etc", "a/b", "a b", "x;rm", "$(id)", "..", "-x"]


def bad_id_config(bad_id: str) -> str:
    return (
        f"series:\n  - {{id: {bad_id!r}, source: csv, kind: price}}\n  - "
        f"{{id: B, source: csv, kind: price}}\n"
        f"correlation: {{pairs: [[B, B]]}}\n"
    )


@pytest.mark.e2e
def test_a_series_id_that_could_escape_a_path_is_refused_by_snakemake(workflow_copy):
    """One through a real run; every id of BAD_IDS as Snakemake merges the files, below."""
    (workflow_copy / "config" / "bad.yaml").write_text(bad_id_config(BAD_IDS[0]))
    result = snakemake(
        workflow_copy, "-n", "--configfile", "config/config.yaml", "config/bad.yaml", check=False
    )
    assert result.returncode != 0 and "does not match" in result.stdout + result.stderr


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_series_ids_that_could_escape_a_path_or_a_shell_are_refused(tmp_path, bad_id):
    """`--configfile config/config.yaml bad.yaml` as Snakemake reads and merges the files,
    then the Snakefile's resolve()."""
    import yaml
    from snakemake.utils import update_config

    from conftest import ROOT
    from corrflow.config import ConfigError, resolve

    bad = tmp_path / "bad.yaml"
    bad.write_text(bad_id_config(bad_id))
    files = [ROOT / "config/config.yaml", bad]
    config: dict = {}
    for path in files:
        update_config(config, yaml.safe_load(path.read_text()))
    with pytest.raises(ConfigError, match="does not match"):
        resolve(config, [str(path) for path in files])


@pytest.mark.e2e
def test_yaml_with_python_tags_is_not_executed(workflow_copy, tmp_path):
    marker = tmp_path / "pwned"
    (workflow_copy / "config" / "evil.yaml").write_text(
        f'start: !!python/object/apply:os.system ["touch {marker}"]\n'
    )
    result = snakemake(
        workflow_copy, "-n", "--configfile", "config/config.yaml", "config/evil.yaml", check=False
    )
    assert result.returncode != 0 and not marker.exists()


@pytest.mark.e2e
def test_wildcards_cannot_name_other_sources(workflow_copy):
    result = snakemake(workflow_copy, "-n", "data/raw/..%2Fx.csv", check=False)
    assert result.returncode != 0
    result = snakemake(workflow_copy, "-n", "data/raw/other.csv", check=False)
    assert result.returncode != 0 and "MissingRuleException" in result.stdout + result.stderr


def test_pickles_load_only_from_models(tmp_path):
    import pickle

    from corrflow.analytics.model import load_model

    models = tmp_path / "models"
    models.mkdir()
    (models / "ok.pkl").write_bytes(pickle.dumps({"fitted": 1}))
    assert load_model(models / "ok.pkl", models) == {"fitted": 1}
    outside = tmp_path / "evil.pkl"
    outside.write_bytes(pickle.dumps({"evil": 1}))
    (models / "link.pkl").symlink_to(outside)
    from corrflow.io import InputDataError

    for path in (outside, models / "link.pkl", models / ".." / "evil.pkl"):
        with pytest.raises(InputDataError, match="refusing to unpickle"):
            load_model(path, models)


def max_concurrent_threads(log_text: str) -> int:
    """From a Snakemake log: the most threads its running jobs held at any moment."""
    running, worst, current = {}, 0, None
    for line in log_text.splitlines():
        if match := re.match(r"^\s*jobid: (\d+)", line):
            current = int(match.group(1))
            running[current] = 1
        elif (match := re.match(r"^\s*threads: (\d+)", line)) and current is not None:
            running[current] = int(match.group(1))
        elif match := re.match(r"^Finished jobid: (\d+)", line):
            running.pop(int(match.group(1)), None)
        worst = max(worst, sum(running.values()))
    return worst


@pytest.mark.e2e
def test_a_200_series_universe_runs_within_the_core_limit(workflow_copy):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from run import generated_universe

    generated_universe(workflow_copy, 200, 1200)
    result = snakemake(
        workflow_copy, "--cores", "2", "--configfile", "config/config.yaml", "config/universe.yaml"
    )
    log = next((workflow_copy / ".snakemake/log").glob("*.snakemake.log")).read_text()
    assert "Provided cores: 2" in log and 1 <= max_concurrent_threads(log) <= 2
    benchmarks = list((workflow_copy / "logs/benchmarks").rglob("*.tsv"))
    rules = {p.stem if p.parent.name == "benchmarks" else p.parent.name for p in benchmarks}
    assert {"clean", "features", "rolling_corr", "regimes", "dq", "report", "all_pairs"} <= rules, rules
    rss = {str(p.relative_to(workflow_copy)): pd.read_csv(p, sep="\t")["max_rss"].iloc[0] for p in benchmarks}
    assert max(rss.values()) < 2000, rss  # MB per job
    assert len(pd.read_parquet(workflow_copy / "data/processed/clean.parquet").columns) == 200
    assert "Nothing to be done" not in result.stdout
