"""corrflow as a package and a standard Snakemake workflow: installed outside the checkout,
the seed's command through the installed command, the Snakefile parsed with nothing but
Snakemake, and the workflow deployed as a module the way the catalog deploys it."""

import os
import re
import shutil
import subprocess
import sys
import sysconfig

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from conftest import ROOT, snakemake
from test_workflow_e2e import output_digests

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


def readme_module_snakefile(snakefile_source: str) -> str:
    """The README's module snippet, exactly as printed, with its Snakefile path replaced."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    snippet = re.search(r"```python\n(configfile:.*?use rule \* from corrflow\n)```", readme, re.S).group(1)
    assert '"path/to/corrflow/workflow/Snakefile"' in snippet
    return snippet.replace('"path/to/corrflow/workflow/Snakefile"', snippet_source(snakefile_source))


def snippet_source(source: str) -> str:
    return source if source.startswith("gitfile(") else f'"{source}"'


def test_the_workflow_deploys_as_a_module(tmp_path, workflow_run):
    """The catalog's way, from a folder holding nothing but the README's Snakefile and the
    default config: the workflow's own bundled snapshot is found (paths.snapshot is
    relative to the workflow when the folder has none). This is also the suite's second
    run of the default config from nothing, in another folder: every output has the same
    bytes as the session's default run (no path, time or ordering leaks into them)."""
    workdir, _ = workflow_run
    (tmp_path / "config").mkdir()
    shutil.copy(ROOT / "config/config.yaml", tmp_path / "config/config.yaml")
    (tmp_path / "Snakefile").write_text(readme_module_snakefile(str(ROOT / "workflow" / "Snakefile")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Snakefile", "config"]
    snakemake(tmp_path, "--cores", "2", "--config", "offline=true")
    first, second = output_digests(workdir), output_digests(tmp_path)
    # 4 pair and 4 exceedance figures, 3 sources, pair gaps, exceedance.csv, the dashboard,
    # summary, the universe rule's 3 files, calendar_effect.csv
    assert len(first) == 33 and first.keys() == second.keys()
    # the clean and feature tables record the file each series was read from: the bundled
    # snapshot, by a path relative to the checkout there and absolute when deployed here
    provenance = ["data/processed/clean.parquet", "data/processed/features.parquet"]
    assert {k: v for k, v in first.items() if k not in provenance} == {
        k: v for k, v in second.items() if k not in provenance
    }
    for name in provenance:
        ours, deployed = pq.read_table(workdir / name), pq.read_table(tmp_path / name)
        assert deployed.equals(ours), name
        snapshot = f'"{ROOT / "data/sample"}/'.encode()
        moved = {k: v.replace(snapshot, b'"data/sample/') for k, v in deployed.schema.metadata.items()}
        assert snapshot in deployed.schema.metadata[b"corrflow"] and moved == ours.schema.metadata, name
    assert not (tmp_path / "data/sample").exists()
    shutil.rmtree(tmp_path / ".snakemake", ignore_errors=True)


def test_the_workflow_deploys_as_a_module_from_a_git_remote(tmp_path, installed, workflow_run):
    """As the catalog deploys it from git: a module named with a git source (a local remote
    here), run by a Python that has corrflow installed (a wheel) and no checkout on any
    path: the rule scripts take the installed package."""
    venv, env, _ = installed
    workdir, _ = workflow_run
    repo = tmp_path / "remote"
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    for name in files:
        if (ROOT / name).is_file() and not name.startswith(".venv"):
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    git = ["git", "-c", "user.email=ci@example.org", "-c", "user.name=ci"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "corrflow"], cwd=repo, check=True)
    user = tmp_path / "user"
    (user / "config").mkdir(parents=True)
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    config["paths"] = {"snapshot": str(ROOT / "data/sample")}  # a git source has no local folder
    (user / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (user / "Snakefile").write_text(
        readme_module_snakefile(f'gitfile("{repo}", path="workflow/Snakefile", ref="main")')
    )
    result = subprocess.run(
        [venv / "bin/python", "-m", "snakemake", "--cores", "2", "--config", "offline=true"],
        cwd=user,
        env=env,
        capture_output=True,
        text=True,
    )
    if "expected str instance, LocalSourceFile found" in result.stderr:
        # Snakemake 9.27.1 (the newest release) cannot run a script rule of a module named
        # with gitfile(): LocalGitFile.join (snakemake/sourcecache.py) takes no SourceFile,
        # as its siblings do. Any other failure fails; a fixed release runs the checks below.
        pytest.xfail("Snakemake's LocalGitFile.join takes no SourceFile (script rules of git modules)")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (user / "docs/report.md").read_text() == (workdir / "docs/report.md").read_text()
