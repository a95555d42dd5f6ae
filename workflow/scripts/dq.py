"""Rule dq (task H): the data-quality report of the raw files."""

import sys
from pathlib import Path

# this workflow's package, from its own source tree when it is not installed
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from corrflow.data.dq import run
from corrflow.io import rule_job

with rule_job(snakemake):
    run(
        raw=list(snakemake.input.raw),
        ok=list(snakemake.input.ok),
        series=snakemake.params.series,
        start=snakemake.params.start,
        end=snakemake.params.end,
        stale_days=snakemake.params.stale_days,
        max_gap_days=snakemake.params.max_gap_days,
        pairs=snakemake.params.pairs,
        outlier_z=snakemake.params.outlier_z,
        stop_on_fail=snakemake.params.stop_on_fail,
        md=snakemake.output.md,
        json_path=snakemake.output.json,
    )
