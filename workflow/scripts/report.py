"""Rule report (task F): docs/report.md, its figures and the HTML report's summary."""

import sys
from pathlib import Path

# this workflow's package, from its own source tree when it is not installed
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from corrflow.figures import REGISTRY
from corrflow.io import rule_job
from corrflow.report import run

with rule_job(snakemake):
    run(
        clean=snakemake.input.clean,
        corr=snakemake.input.corr,
        regimes=snakemake.input.regimes,
        episodes=snakemake.input.episodes,
        horizons=snakemake.input.horizons,
        dq=snakemake.input.dq,
        gaps=snakemake.input.gaps,
        exceedance=snakemake.input.get("exceedance"),
        metrics=snakemake.input.get("metrics"),
        all_pairs=snakemake.input.get("all_pairs"),
        pairs=snakemake.params.pairs,
        window=snakemake.params.window,
        windows=snakemake.params.windows,
        heatmap_exclude=snakemake.params.heatmap_exclude,
        today=snakemake.params.today,
        figures={
            figure.output: (
                [str(snakemake.output[figure.output])]
                if isinstance(snakemake.output[figure.output], str)
                else list(snakemake.output[figure.output])
            )
            for figure in REGISTRY
        },
        report=snakemake.output.report,
        summary=snakemake.output.summary,
    )
