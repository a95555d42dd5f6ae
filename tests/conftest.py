"""Shared fixtures: the scripts on sys.path, and a real Snakemake run on a temp copy."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow" / "scripts"
sys.path.insert(0, str(SCRIPTS))

WORKFLOW_PARTS = ["Snakefile", "config", "workflow", "envs", "profiles", "data/sample", "pyproject.toml"]


def copy_workflow(dest: Path) -> Path:
    """A clean copy of the workflow (no outputs, no caches) to run Snakemake in."""
    for part in WORKFLOW_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (dest / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / part)
    return dest


def snakemake(workdir: Path, *args: str, env: dict | None = None, check: bool = True):
    """Run the venv's Snakemake in ``workdir``; returns the CompletedProcess."""
    command = [str(Path(sys.executable).parent / "snakemake"), *args]
    full_env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **(env or {})}
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, env=full_env, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


@pytest.fixture(scope="session")
def workflow_run(tmp_path_factory):
    """One full offline run of the default workflow, shared by the end-to-end tests."""
    workdir = copy_workflow(tmp_path_factory.mktemp("workflow"))
    result = snakemake(workdir, "--cores", "2", "--config", "offline=true")
    return workdir, result


@pytest.fixture
def workflow_copy(tmp_path):
    return copy_workflow(tmp_path)
