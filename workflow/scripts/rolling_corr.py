"""Rule rolling_corr (task D): the configured pairs' rolling correlations and their gaps."""

import sys
from pathlib import Path

# this workflow's package, from its own source tree when it is not installed
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from corrflow.analytics.correlation.rolling_corr import run
from corrflow.io import rule_job

with rule_job(snakemake):
    run(
        prices=snakemake.input.prices,
        pairs=snakemake.params.pairs,
        windows=snakemake.params.windows,
        ewma_halflife=snakemake.params.ewma_halflife,
        spearman=snakemake.params.spearman,
        confidence=snakemake.params.confidence,
        eq_col=None,
        out=snakemake.output.out,
        gaps=snakemake.output.gaps,
    )
