"""Shared fixtures: the package on the path, the command, and a real Snakemake run on a temp copy."""

import fcntl
import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow" / "scripts"
SRC = ROOT / "src"
# the package from this checkout, in this process (pyproject's pythonpath) and in every
# process a test starts (Snakemake's jobs, `python -m corrflow`), installed or not
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))


def corrflow_command(subcommand: str) -> list[str]:
    """The ``corrflow`` command's SUBCOMMAND, run with this interpreter."""
    return [sys.executable, "-m", "corrflow", subcommand]


sys.path.insert(0, str(ROOT / "benchmarks"))
from run import copy_workflow as clean_copy  # noqa: E402  (one copy of the workflow for tests and benchmarks)

# Compiled kernels shared by the workflow copies of the session's test processes (issue 28.4): numba
# caches each kernel beside its source (src/**/__pycache__/*.nbi, *.nbc), keyed by the
# source file's mtime and size, which a copy keeps; so a kernel compiled in one copy loads
# in every later copy instead of being compiled again (~2 s of CPU per parallel kernel and
# job). The session's first default run (`workflow_run`) starts cold; every copy's kernels
# are gathered here after each of its Snakemake runs.
KERNEL_POOL: Path | None = None


def kernel_files(src: Path):
    return sorted(src.rglob("__pycache__/*.nb[ic]"))


def harvest_kernels(workdir: Path) -> None:
    """Add the kernels compiled in ``workdir`` to the pool: each function's data files
    first, then its index, each replaced whole (a copy made meanwhile sees old or new)."""
    if KERNEL_POOL is None or not (workdir / "src").is_dir():
        return
    for path in sorted(kernel_files(workdir / "src"), key=lambda p: p.suffix == ".nbi"):
        target = KERNEL_POOL / path.relative_to(workdir / "src")
        if target.exists() and target.read_bytes() == path.read_bytes():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        shutil.copy2(path, partial)
        os.replace(partial, target)


def copy_workflow(dest: Path, cold: bool = False) -> Path:
    """A clean copy of the workflow (benchmarks/run.py), with the pool's compiled kernels
    unless ``cold``."""
    workdir = clean_copy(dest)
    if KERNEL_POOL is not None and not cold:
        for path in kernel_files(KERNEL_POOL):
            target = workdir / "src" / path.relative_to(KERNEL_POOL)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    return workdir


def session_shared(tmp_path_factory) -> Path:
    """A folder of this session that every pytest-xdist worker sees (each worker's base
    temp sits in the session's own folder), or the base temp without xdist."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def session_lock(path: Path):
    """An exclusive lock between the session's worker processes (released when the holder exits)."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session", autouse=True)
def kernel_pool(tmp_path_factory):
    """One pool for every worker: a kernel compiled in one worker's run loads in the others'."""
    global KERNEL_POOL
    KERNEL_POOL = session_shared(tmp_path_factory) / "kernels"
    KERNEL_POOL.mkdir(exist_ok=True)
    yield KERNEL_POOL
    KERNEL_POOL = None


def cluster_plugin_env() -> dict:
    """Environment under which Snakemake finds the SLURM executor plugin
    (requirements-cluster.txt): in the venv (pip install -r requirements-cluster.txt) or
    beside it in <venv>/cluster, where `make test` puts it so that the suite's other runs, as
    a workstation's, do not import it (Snakemake imports every installed executor plugin at
    start; this one imports pandas)."""
    import importlib.util

    beside = Path(sys.prefix) / "cluster"
    found = (beside / "snakemake_executor_plugin_slurm").is_dir() or importlib.util.find_spec(
        "snakemake_executor_plugin_slurm"
    )
    assert found, "no SLURM executor plugin: `make test` installs requirements-cluster.txt into .venv/cluster"
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(beside), os.environ.get("PYTHONPATH")]))}


def snakemake(workdir: Path, *args: str, env: dict | None = None, check: bool = True):
    """Run the venv's Snakemake in ``workdir``; returns the CompletedProcess."""
    command = [str(Path(sys.executable).parent / "snakemake"), *args]
    full_env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        **(env or {}),
    }
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, env=full_env, timeout=900)
    harvest_kernels(Path(workdir))
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
        )
    return result


@pytest.fixture(scope="session")
def workflow_run(tmp_path_factory):
    """One full offline run of the default workflow, shared by the end-to-end tests; cold
    (every kernel compiled in its jobs), as a fresh checkout runs. Run once per session:
    the first worker to need it runs it while the others wait; each worker then gets its
    own copy (outputs, logs and Snakemake's records), since some tests run Snakemake in it."""
    shared = session_shared(tmp_path_factory)
    finished = shared / "default-run"
    with session_lock(shared / "default-run.lock"):
        if not (finished / "result.json").exists():
            workdir = copy_workflow(finished / "workflow", cold=True)
            result = snakemake(workdir, "--cores", "2", "--config", "offline=true")
            record = {"args": result.args, "returncode": result.returncode}
            record.update(stdout=result.stdout, stderr=result.stderr)
            (finished / "result.json").write_text(json.dumps(record))
    record = json.loads((finished / "result.json").read_text())
    workdir = tmp_path_factory.mktemp("workflow") / "workflow"
    shutil.copytree(finished / "workflow", workdir, symlinks=True)
    return workdir, subprocess.CompletedProcess(**record)


@pytest.fixture
def workflow_copy(tmp_path):
    return copy_workflow(tmp_path)


@pytest.fixture
def finished_copy(workflow_run, tmp_path):
    """A copy of the session's finished default run (outputs and Snakemake's records):
    for a test that changes the config and needs only what the change re-runs."""
    workdir = tmp_path / "finished"
    shutil.copytree(workflow_run[0], workdir, symlinks=True)
    return workdir


@pytest.fixture(scope="session")
def snapshot_frames(tmp_path_factory):
    """The bundled snapshot through ingest (offline), clean and features, in-process:
    (clean levels, clean metadata, features) for the default universe and range."""
    import yaml

    import corrflow.analytics.features as features_script
    import corrflow.data.clean as clean_script
    from corrflow.data import ingest
    from corrflow.data.calendars import resolve_end
    from corrflow.io import schema_defaults

    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    end = resolve_end(config["end"])
    cache = tmp_path_factory.mktemp("cache")
    paths = {"cache": str(cache), "snapshot": str(ROOT / "data/sample"), "local_csv": str(cache)}
    frames, statuses = [], {}
    for source in sorted({s["source"] for s in config["series"]}):
        specs = [s for s in config["series"] if s["source"] == source]
        outcomes = ingest.ingest_source(
            source, specs, config["start"], end, True, {}, paths, ingest.RetryPolicy()
        )
        tidy = ingest.tidy_frame(outcomes)
        statuses.update({r["series"]: r for r in ingest.status_record(source, outcomes, tidy)["series"]})
        frames.append(tidy.assign(date=lambda f: __import__("pandas").to_datetime(f["date"])))
    import pandas as pd

    raw = pd.concat(frames, ignore_index=True)
    defaults = schema_defaults()
    levels, metadata = clean_script.clean_prices(
        raw,
        config["series"],
        statuses,
        config["start"],
        end,
        config.get("base_currency", defaults["base_currency"]),
        defaults["clean"]["max_gap_days"],
        pairs=config["correlation"]["pairs"],
    )
    feats = features_script.build_features(levels, metadata, [1, 5])
    return levels, metadata, feats
