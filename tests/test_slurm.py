"""The SLURM profile (profiles/slurm) with the real executor plugin: every submitted job asks
for its rule's threads as --cpus-per-task and its rule's mem_mb as --mem, checked on the
sbatch calls of a real Snakemake run against stand-in SLURM commands; and the all-pairs
memory formula (common.smk: all_pairs_mem_mb) against the peak RSS of real blocks."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from conftest import cluster_plugin_env, copy_workflow, snakemake
from run import generated_universe

pytestmark = pytest.mark.e2e

RUN_TIMEOUT = 900  # seconds; a hung run is killed with its whole process group

# Stand-ins for the SLURM commands the plugin calls, each recording its arguments (one JSON
# line per call in calls.jsonl). sbatch runs the wrapped job (the plugin's jobstep command)
# at once and answers a job id; sacct/squeue then report each job COMPLETED (or FAILED);
# srun runs its command; sinfo names a default partition; scontrol shows a config.
STAND_INS = {
    "common": """
        import fcntl, json, os, sys
        STATE = os.environ["STAND_IN_SLURM_DIR"]

        def record(command):
            with open(os.path.join(STATE, "calls.jsonl"), "a") as calls:
                fcntl.flock(calls, fcntl.LOCK_EX)
                calls.write(json.dumps({"command": command, "args": sys.argv[1:]}) + "\\n")

        def option(args, flag):
            for k, arg in enumerate(args):
                if arg == flag and k + 1 < len(args):
                    return args[k + 1]
                if arg.startswith(flag + "="):
                    return arg[len(flag) + 1 :]
            return None

        def states():
            folder = os.path.join(STATE, "jobs")
            return {name: open(os.path.join(folder, name)).read() for name in sorted(os.listdir(folder))}
        """,
    "sbatch": """
        import subprocess
        record("sbatch")
        args = sys.argv[1:]
        with open(os.path.join(STATE, "next_id"), "a+") as counter:
            fcntl.flock(counter, fcntl.LOCK_EX)
            counter.seek(0)
            job_id = int(counter.read() or 1000) + 1
            counter.seek(0)
            counter.truncate()
            counter.write(str(job_id))
        log = option(args, "--output").replace("%j", str(job_id))
        os.makedirs(os.path.dirname(log), exist_ok=True)
        with open(log, "w") as out:
            done = subprocess.run(
                ["/bin/sh", "-c", option(args, "--wrap")],
                cwd=option(args, "-D"),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "SLURM_JOB_ID": str(job_id)},
            )
        state = "COMPLETED" if done.returncode == 0 else "FAILED"
        with open(os.path.join(STATE, "jobs", str(job_id)), "w") as job:
            job.write(state)
        print(job_id)
        """,
    "sacct": """
        record("sacct")
        if "--name" in sys.argv:  # the status query: JobIdRaw|State per job
            for job_id, state in states().items():
                print(f"{job_id}|{state}")
        """,
    "squeue": """
        record("squeue")
        for job_id, state in states().items():
            print(f"{job_id}|{state}")
        """,
    "sinfo": """
        record("sinfo")
        print("PARTITION")
        print("debug*")
        """,
    "scontrol": """
        record("scontrol")
        print("MaxArraySize = 1001")
        print("MinJobAge = 300 sec")
        """,
    "scancel": """
        record("scancel")
        """,
    "srun": """
        record("srun")
        command = sys.argv[1:]
        while command and command[0].startswith("-"):  # srun's own options: all of the -x=y form
            command.pop(0)
        os.execvp(command[0], command)
        """,
}


def write_stand_ins(folder: Path) -> Path:
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True)
    (folder / "jobs").mkdir()
    common = textwrap.dedent(STAND_INS["common"])
    for name, body in STAND_INS.items():
        if name == "common":
            continue
        path = bin_dir / name
        path.write_text(f"#!{sys.executable}\n{common}\n{textwrap.dedent(body)}")
        path.chmod(0o755)
    return bin_dir


def run_bounded(workdir: Path, args: list[str], env: dict) -> subprocess.CompletedProcess:
    """Snakemake in its own process group, killed with everything it started on timeout."""
    command = [str(Path(sys.executable).parent / "snakemake"), *args]
    process = subprocess.Popen(
        command,
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        _, stderr = process.communicate()
        message = f"snakemake {' '.join(args)} ran over {RUN_TIMEOUT} s:\n{stderr[-6000:]}"
        raise AssertionError(message) from None
    finally:
        try:  # whatever of the group is left (nothing, after a normal end)
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def planned_jobs(dry_run_stdout: str) -> dict[str, dict]:
    """A dry run's jobs keyed like the plugin's sbatch --comment (rule_<name>[_wildcards_<values>]):
    threads (1 when not shown) and mem_mb."""
    jobs = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", dry_run_stdout):
        head = re.match(r"(?:local)?rule (\w+):", block)
        mem = re.search(r"resources: .*?\bmem_mb=(\d+)", block)
        if not head or not mem:
            continue
        wildcards = re.search(r"^\s+wildcards: (.*)$", block, re.M)
        threads = re.search(r"^\s+threads: (\d+)$", block, re.M)
        key = f"rule_{head.group(1)}"
        if wildcards:
            key += "_wildcards_" + "_".join(w.split("=", 1)[1] for w in wildcards.group(1).split(", "))
        jobs[key] = {
            "threads": int(threads.group(1)) if threads else 1,
            "mem_mb": int(mem.group(1)),
            "cpus_per_task": "cpus_per_task" in block,
        }
    return jobs


def block_peaks(workdir: Path) -> dict[str, float]:
    """Peak RSS (MB) of each all-pairs block from its `benchmark:` file."""
    return {
        f"rule_all_pairs_block_wildcards_{tsv.stem.removeprefix('block_')}": float(
            pd.read_csv(tsv, sep="\t")["max_rss"].max()
        )
        for tsv in sorted((workdir / "logs/benchmarks/all_pairs").glob("block_*.tsv"))
    }


def assert_formula_fits(planned: dict[str, dict], peaks: dict[str, float]) -> None:
    assert peaks, "no all-pairs block benchmark found"
    for job, peak in peaks.items():
        mem_mb = planned[job]["mem_mb"]
        # above the measured peak, and not absurdly above it
        assert peak < mem_mb <= 3 * peak + 300, (job, mem_mb, peak)


def test_slurm_profile_submits_threads_as_cpus_per_task_and_mem_per_rule(tmp_path, finished_copy):
    workdir = finished_copy  # the session's default run: clean.parquet is there
    config = ["--config", "offline=true", "all_pairs={'enabled': True, 'n_blocks': 2}"]
    # the inputs first, on this machine (up to date here): the slurm run then only submits the all-pairs jobs
    snakemake(workdir, "--cores", "2", *config, "--", "data/processed/clean.parquet")
    target = ["--", "data/processed/all_pairs/manifest.json"]
    plan = snakemake(workdir, "-n", "--profile", "profiles/slurm", *config, *target, env=cluster_plugin_env())
    planned = planned_jobs(plan.stdout)
    blocks = {job for job in planned if job.startswith("rule_all_pairs_block_")}
    assert blocks == {f"rule_all_pairs_block_wildcards_{k}-of-2" for k in (1, 2)}, planned
    assert {planned[job]["threads"] for job in blocks} == {4}  # set-threads, not capped by this machine
    assert not any(job["cpus_per_task"] for job in planned.values())  # no resource overrides threads

    state = tmp_path / "slurm"
    bin_dir = write_stand_ins(state)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLURM_", "SBATCH_"))}
    env.update(
        PATH=os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]]),
        STAND_IN_SLURM_DIR=str(state),
        **cluster_plugin_env(),
    )
    env.pop("SNAKEMAKE_PROFILE", None)
    result = run_bounded(
        workdir,
        [
            "--profile",
            "profiles/slurm",
            # the stand-ins finish at once: poll them every second, not every 10 s
            "--slurm-init-seconds-before-status-checks",
            "1",
            "--seconds-between-status-checks",
            "1",
            *config,
            *target,
        ],
        env,
    )
    calls = [json.loads(line) for line in (state / "calls.jsonl").read_text().splitlines()]
    submissions = [call["args"] for call in calls if call["command"] == "sbatch"]
    flags = [[arg for arg in args if not arg.startswith("--wrap")] for args in submissions]
    assert result.returncode == 0, f"{result.stderr[-6000:]}\nsubmissions: {flags}"

    def option(args, flag):
        for k, arg in enumerate(args):
            if arg == flag:
                return args[k + 1]
            if arg.startswith(flag + "="):
                return arg[len(flag) + 1 :]
        return None

    submitted = {option(args, "--comment"): args for args in submissions}
    assert len(submitted) == len(submissions) == 3, flags  # the two blocks and the manifest, once each
    assert set(submitted) == blocks | {"rule_all_pairs"}
    for job, args in submitted.items():
        cpus = int(option(args, "--cpus-per-task"))
        assert cpus == planned[job]["threads"], (job, args)
        assert not (cpus == 1 and planned[job]["threads"] > 1), (job, args)
        assert int(option(args, "--mem")) == planned[job]["mem_mb"], (job, args)
    for job in blocks:
        assert option(submitted[job], "--cpus-per-task") == "4"
    assert option(submitted["rule_all_pairs"], "--mem") == "500"  # memory_mb(500)
    # inside each job the plugin's jobstep starts the rule with the same CPUs
    steps = sorted(option(call["args"], "--cpus-per-task") for call in calls if call["command"] == "srun")
    assert steps == ["1", "4", "4"], calls

    assert (workdir / "data/processed/all_pairs/manifest.json").exists()
    assert_formula_fits(planned, block_peaks(workdir))


@pytest.fixture(scope="module")
def universe_200_cleaned(tmp_path_factory):
    """A 200-series universe of 5,000 days, ingested and cleaned (what every block reads)."""
    workdir = copy_workflow(tmp_path_factory.mktemp("universe200") / "workflow")
    generated_universe(workdir, 200, 5000)
    config = ["--configfile", "config/config.yaml", "config/universe.yaml"]
    snakemake(workdir, "--cores", "2", *config, "--", "data/processed/clean.parquet")
    return workdir


@pytest.mark.parametrize("n_blocks", [1, 4])
def test_all_pairs_memory_formula_covers_measured_blocks(tmp_path, universe_200_cleaned, n_blocks):
    """A 200-series universe of 5,000 days: each block's planned mem_mb is above the peak RSS
    its `benchmark:` file records, within 3x plus 300 MB."""
    workdir = tmp_path / "workflow"
    shutil.copytree(universe_200_cleaned, workdir, symlinks=True)
    args = [
        "--configfile",
        "config/config.yaml",
        "config/universe.yaml",
        "--config",
        f"all_pairs={{'enabled': True, 'n_blocks': {n_blocks}}}",
        "--",
        "data/processed/all_pairs/manifest.json",
    ]
    plan = snakemake(workdir, "-n", *args).stdout
    planned = planned_jobs(plan)
    assert not any(job.startswith(("rule_ingest", "rule_clean")) for job in planned), plan  # only the blocks
    snakemake(workdir, "--cores", "2", *args)
    peaks = block_peaks(workdir)
    assert len(peaks) == n_blocks
    assert_formula_fits(planned, peaks)
