# Task F: the universe's matrices (once), the markdown report, its figures and the
# interactive dashboard. The report and the dashboard read files; the universe rule does
# the correlation work they show (from the all-pairs store when it ran).


rule universe:
    input:
        unpack(universe_inputs),
    output:
        summary="data/processed/universe/universe.json",
        frames="data/processed/universe/month_ends.parquet",
        pair_history="data/processed/universe/pair_history.parquet",
    log:
        "logs/universe.log",
    benchmark:
        "logs/benchmarks/universe.tsv"
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=memory_mb(2000),
    params:
        pairs=config["correlation"]["pairs"],
        window=config["correlation"]["primary_window"],
        confidence=config["correlation"]["confidence"],
        exclude=config["report"]["heatmap_exclude"],
    script:
        "../scripts/step.py"


rule report:
    input:
        unpack(report_inputs),
    output:
        **figure_outputs(),
        report=report(
            "docs/report.md",
            caption="../report/report_md.rst",
            category="Report",
        ),
        summary="docs/report_summary.rst",
    log:
        "logs/report.log",
    benchmark:
        "logs/benchmarks/report.tsv"
    conda:
        "../../envs/report.yaml"
    # the figures are drawn in two processes: this job's and a worker's
    threads: 2
    resources:
        mem_mb=memory_mb(2000),
    params:
        pairs=config["correlation"]["pairs"],
        window=config["correlation"]["primary_window"],
        windows=config["correlation"]["windows"],
        heatmap_exclude=config["report"]["heatmap_exclude"],
        today=TODAY,
    script:
        "../scripts/step.py"


rule dashboard:
    input:
        unpack(dashboard_inputs),
    output:
        html=report(
            "docs/dashboard.html",
            caption="../report/dashboard.rst",
            category="Dashboard",
        ),
    log:
        "logs/dashboard.log",
    benchmark:
        "logs/benchmarks/dashboard.tsv"
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=memory_mb(2000),
    params:
        pairs=config["correlation"]["pairs"],
        window=config["correlation"]["primary_window"],
        today=TODAY,
    script:
        "../scripts/step.py"
