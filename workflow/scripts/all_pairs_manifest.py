"""Rule all_pairs: the manifest listing a run's all-pairs blocks."""

import sys
from pathlib import Path

# this workflow's package, from its own source tree when it is not installed
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from corrflow.store.manifest import run
from corrflow.io import rule_job

with rule_job(snakemake):
    run(
        blocks=list(snakemake.input.blocks),
        histories=list(snakemake.input.histories),
        manifest=snakemake.output.manifest,
    )
