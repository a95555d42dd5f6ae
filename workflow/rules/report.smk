# Task F: the markdown report and its figures.


rule report:
    input:
        unpack(report_inputs),
    output:
        report="docs/report.md",
        figures=pair_figures(in_report=True),
        timeline=report(
            "docs/fig_regimes.png",
            caption="../report/fig_regimes.rst",
            category="Regimes",
        ),
        heatmap=report(
            "docs/fig_heatmap.png",
            caption="../report/fig_heatmap.rst",
            category="Universe",
        ),
    log:
        "logs/report.log",
    benchmark:
        "logs/benchmarks/report.tsv"
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=memory_mb(2000),
    params:
        pairs=config["correlation"]["pairs"],
    script:
        "../scripts/report.py"
