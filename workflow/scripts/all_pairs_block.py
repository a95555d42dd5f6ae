"""Rule all_pairs_block: every pair's rolling correlation, one block of first series."""

import sys
from pathlib import Path

# this workflow's package, from its own source tree when it is not installed
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from corrflow.store.block import run
from corrflow.io import rule_job

with rule_job(snakemake):
    run(
        prices=snakemake.input.prices,
        window=snakemake.params.window,
        dtype=snakemake.params.dtype,
        block=snakemake.params.block,
        n_blocks=snakemake.params.n_blocks,
        dates=snakemake.params.dates,
        history_of=snakemake.params.history_of,
        history_out=snakemake.output.history,
        out=snakemake.output.out,
    )
