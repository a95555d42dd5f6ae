"""Rule model (task G): the forecast model of the primary pair's correlation."""

import sys
from pathlib import Path

# this workflow's package, from its own source tree when it is not installed
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from corrflow.io import rule_job
from corrflow.analytics.model import run

with rule_job(snakemake):
    run(
        features=snakemake.input.features,
        corr=snakemake.input.corr,
        pair=snakemake.params.pair,
        window=snakemake.params.window,
        horizon=snakemake.params.horizon,
        train_fraction=snakemake.params.train_fraction,
        model=snakemake.output.model,
        logit=snakemake.output.logit,
        metrics=snakemake.output.metrics,
    )
