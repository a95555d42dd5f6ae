"""Issue 27.5: `snakemake -n` parses where nothing but Snakemake is installed (a login
node, `--sdm conda` before the environments exist, a module deployment). The bare
environment is a venv without system site-packages holding links to exactly Snakemake's
dependency closure, computed from this venv's installed metadata (offline: nothing is
downloaded); pandas, numpy and the rest of the analysis stack are absent, so any import of
them during the parse stops it."""

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import copy_workflow


def snakemake_closure() -> list[importlib.metadata.Distribution]:
    """Snakemake and everything it requires (no extras), as installed here."""
    todo, seen = ["snakemake"], {}
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen[name] = importlib.metadata.distribution(name)
        for text in seen[name].requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return list(seen.values())


def bare_venv(folder: Path) -> Path:
    """A venv of Snakemake's closure only; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    for dist in snakemake_closure():
        # every top-level module, package and .dist-info folder the distribution installed
        tops = {Path(str(file)).parts[0] for file in dist.files or []}
        for top in tops - {"..", "__pycache__"}:
            if top.endswith(".pth") or (site / top).exists():
                continue
            (site / top).symlink_to(Path(dist.locate_file(top)).resolve())
    return python


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory):
    return bare_venv(tmp_path_factory.mktemp("bare") / "venv")


def bare_env() -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return {**env, "PYTHONNOUSERSITE": "1"}


def test_the_bare_venv_has_snakemake_and_no_analysis_stack(bare_python):
    check = (
        "import importlib.util, snakemake, yaml, jsonschema\n"
        "print(sorted(m for m in ('pandas', 'numpy', 'numba', 'pyarrow', 'pandas_market_calendars')"
        " if importlib.util.find_spec(m)))\n"
    )
    result = subprocess.run([bare_python, "-c", check], capture_output=True, text=True, env=bare_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.e2e
@pytest.mark.parametrize(
    "config",
    [["offline=true"], ["offline=true", "all_pairs={'enabled': True, 'n_blocks': 3}"]],
    ids=["default", "all-pairs"],
)
def test_a_dry_run_parses_with_only_snakemake_installed(bare_python, tmp_path, config):
    workdir = copy_workflow(tmp_path / "workflow")
    result = subprocess.run(
        [bare_python, "-m", "snakemake", "-n", "--cores", "1", "--config", *config],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=bare_env(),
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "This was a dry-run" in output and "report" in result.stdout, output[-3000:]
    if "all_pairs" in config[-1]:
        assert "all_pairs_block" in result.stdout


@pytest.mark.e2e
def test_a_config_error_is_one_line_with_only_snakemake_installed(bare_python, tmp_path):
    from test_config_safety import one_clear_line

    workdir = copy_workflow(tmp_path / "workflow")
    result = subprocess.run(
        [
            bare_python,
            "-m",
            "snakemake",
            "-n",
            "--cores",
            "1",
            "--config",
            "start=2016-01-04",
            "end=2016-06-30",
        ]
        + ["model={'horizon': 100}"],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=bare_env(),
        timeout=600,
    )
    one_clear_line(result, "config key `model.horizon`: 100 business days ahead do not fit")
