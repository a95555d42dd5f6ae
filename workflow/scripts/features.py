"""Rule features (task C): returns, excess returns and lags."""

import sys
from pathlib import Path

# this workflow's package, from its own source tree when it is not installed
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from corrflow.analytics.features import run
from corrflow.io import rule_job

with rule_job(snakemake):
    run(
        clean=snakemake.input.clean,
        lags=snakemake.params.lags,
        cash_rate=snakemake.params.cash_rate,
        out=snakemake.output.out,
    )
