"""Shared fixtures: the package on the path, the command, and a real Snakemake run on a temp copy."""

import os
import subprocess
import sys
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
from run import copy_workflow  # noqa: E402  (one copy of the workflow for tests and benchmarks)


def snakemake(workdir: Path, *args: str, env: dict | None = None, check: bool = True):
    """Run the venv's Snakemake in ``workdir``; returns the CompletedProcess."""
    command = [str(Path(sys.executable).parent / "snakemake"), *args]
    full_env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        **(env or {}),
    }
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, env=full_env, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
        )
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
