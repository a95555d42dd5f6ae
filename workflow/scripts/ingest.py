"""Rule ingest (task A): one source's series into data/raw/<source>.csv and its .ok record."""

import sys
from pathlib import Path

# this workflow's package, from its own source tree when it is not installed
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from corrflow.data.ingest import run
from corrflow.io import rule_job

with rule_job(snakemake):
    run(
        source=snakemake.params.source,
        series=snakemake.params.series,
        start=snakemake.params.start,
        end=snakemake.params.end,
        offline=snakemake.params.offline,
        network=snakemake.params.network,
        paths=snakemake.params.paths,
        csv=snakemake.output.csv,
        ok=snakemake.output.ok,
    )
