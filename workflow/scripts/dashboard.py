"""Rule dashboard (task F): docs/dashboard.html, one self-contained page."""

import sys
from pathlib import Path

# this workflow's package, from its own source tree when it is not installed
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from corrflow.dashboard import run
from corrflow.io import rule_job

with rule_job(snakemake):
    run(
        clean=snakemake.input.clean,
        corr=snakemake.input.corr,
        regimes=snakemake.input.regimes,
        episodes=snakemake.input.episodes,
        pairs=snakemake.params.pairs,
        window=snakemake.params.window,
        exclude=snakemake.params.exclude,
        today=snakemake.params.today,
        all_pairs=snakemake.input.get("all_pairs"),
        exceedance=snakemake.input.get("exceedance"),
        html=snakemake.output.html,
    )
