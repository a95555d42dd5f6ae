"""corrflow as a package and a standard Snakemake workflow: installed outside the checkout,
the seed's command through the installed command, the Snakefile parsed with nothing but
Snakemake, and the workflow deployed as a module the way the catalog deploys it."""

import os
import shutil
import subprocess
import sys
import sysconfig

import pandas as pd
import pytest
import yaml

from conftest import ROOT, snakemake

pytestmark = pytest.mark.e2e

LIBRARIES = sysconfig.get_paths()["purelib"]  # this venv's packages: the dependencies


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv with corrflow installed from a wheel of this checkout (its
    dependencies taken from the test venv's packages, offline)."""
    tmp = tmp_path_factory.mktemp("install")
    wheels = tmp / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    venv = tmp / "v"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    wheel = next(wheels.glob("corrflow-*.whl"))
    # without the source tree on PYTHONPATH (pip would take corrflow as installed already)
    clean_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run(
        [venv / "bin/pip", "install", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        env=clean_env,
    )
    # outside the checkout, with the dependencies but not the source tree on the path
    env = {**os.environ, "PYTHONPATH": LIBRARIES}
    return venv, env, tmp


def test_import_corrflow_outside_the_checkout(installed):
    venv, env, tmp = installed
    code = "import corrflow; print(corrflow.__file__); print(corrflow.pair_rolling_corr.__module__)"
    result = subprocess.run(
        [venv / "bin/python", "-c", code], cwd=tmp, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    where, module = result.stdout.split()
    assert where.startswith(str(venv)) and module == "corrflow.analytics.correlation.rolling"


def test_the_installed_command_gives_the_workflows_numbers(installed, workflow_run):
    """The seed's command through the installed `corrflow`: the workflow's SPY-TLT column."""
    venv, env, tmp = installed
    workdir, _ = workflow_run
    helped = subprocess.run(
        [venv / "bin/corrflow", "rolling-corr", "--help"], cwd=tmp, env=env, capture_output=True, text=True
    )
    assert helped.returncode == 0 and "--eq-col" in helped.stdout, helped.stderr
    out = tmp / "seed.csv"
    seeded = subprocess.run(
        [
            venv / "bin/corrflow", "rolling-corr",
            "--prices", str(workdir / "data/processed/clean.parquet"),
            "--eq-col", "SPY", "--bond-col", "TLT", "--window", "60", "--out", str(out),
        ],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert seeded.returncode == 0, seeded.stderr
    ours = pd.read_csv(out, index_col="date")["SPY:TLT:60"]
    workflow = pd.read_csv(workdir / "data/processed/rolling_corr.csv", index_col="date")["SPY:TLT:60"]
    pd.testing.assert_series_equal(ours, workflow)


BLOCKER = """
import importlib.abc, sys
HEAVY = {"pandas", "numpy", "pyarrow", "numba", "scipy", "statsmodels", "matplotlib", "plotly",
         "pandas_market_calendars", "exchange_calendars", "arch", "fredapi", "yfinance"}
def from_the_workflow():
    # an import the Snakefile, its rules or the package make (the executor plugins that
    # this test venv holds import pandas for themselves; an env of only Snakemake has none)
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.endswith((".smk", "Snakefile", "-c")) or "/src/corrflow/" in name or name == "<string>":
            return True
        frame = frame.f_back
    return False
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HEAVY and from_the_workflow():
            raise ImportError(f"{name} is not installed here (only Snakemake)")
sys.meta_path.insert(0, Blocker())
"""


def test_the_snakefile_parses_with_only_snakemake(workflow_copy, tmp_path):
    """`snakemake -n` with the scientific stack hidden, as in an environment that holds
    only Snakemake (`--sdm conda` before the envs exist, a module deployment)."""
    site = tmp_path / "only_snakemake"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {"PYTHONPATH": f"{site}{os.pathsep}{LIBRARIES}"}
    probe = subprocess.run(
        [sys.executable, "-c", "import pandas"], env={**os.environ, **env}, capture_output=True, text=True
    )
    assert "only Snakemake" in probe.stderr, "the blocker must hide pandas"
    result = snakemake(workflow_copy, "-n", "--config", "offline=true", env=env)
    assert "rolling_corr" in result.stdout and "report" in result.stdout


def test_the_workflow_deploys_as_a_module(tmp_path, workflow_run):
    """The catalog's way: a Snakefile elsewhere that names workflow/Snakefile as a module
    and uses every rule; the default workflow runs offline there to the same report."""
    workdir, _ = workflow_run
    (tmp_path / "config").mkdir()
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    config["paths"] = {**config.get("paths", {}), "snapshot": str(ROOT / "data/sample")}
    (tmp_path / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (tmp_path / "Snakefile").write_text(
        'configfile: "config/config.yaml"\n\n\n'
        "module corrflow:\n"
        f'    snakefile:\n        "{ROOT / "workflow" / "Snakefile"}"\n'
        "    config:\n        config\n\n\n"
        "use rule * from corrflow\n"
    )
    snakemake(tmp_path, "--cores", "2", "--config", "offline=true")
    assert (tmp_path / "docs/report.md").read_text() == (workdir / "docs/report.md").read_text()
    shutil.rmtree(tmp_path / ".snakemake", ignore_errors=True)
