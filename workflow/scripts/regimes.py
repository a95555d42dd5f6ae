"""Rule regimes (task E): sign regimes, Markov states, DCC, horizons, stress episodes."""

import sys
from pathlib import Path

# this workflow's package, from its own source tree when it is not installed
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from corrflow.io import rule_job
from corrflow.regimes import run

with rule_job(snakemake):
    run(
        corr=snakemake.input.corr,
        clean=snakemake.input.clean,
        pairs=snakemake.params.pairs,
        primary_window=snakemake.params.primary_window,
        unusual_history=snakemake.params.unusual_history,
        unusual_level=snakemake.params.unusual_level,
        sign=snakemake.params.sign,
        markov=snakemake.params.markov,
        dcc=snakemake.params.dcc,
        horizon_windows=snakemake.params.horizon_windows,
        stress=snakemake.params.stress,
        exceedance_settings=snakemake.params.exceedance_settings,
        out=snakemake.output.out,
        episodes=snakemake.output.episodes,
        horizons=snakemake.output.horizons,
        exceedance=snakemake.output.exceedance,
    )
