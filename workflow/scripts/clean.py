"""Rule clean (task B): raw series on their markets' calendars, in one currency."""

import sys
from pathlib import Path

# this workflow's package, from its own source tree when it is not installed
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from corrflow.data.clean import run
from corrflow.io import rule_job

with rule_job(snakemake):
    run(
        raw=list(snakemake.input.raw),
        ok=list(snakemake.input.ok),
        series=snakemake.params.series,
        start=snakemake.params.start,
        end=snakemake.params.end,
        base_currency=snakemake.params.base_currency,
        max_gap_days=snakemake.params.max_gap_days,
        pairs=snakemake.params.pairs,
        out=snakemake.output.out,
    )
