# Cross-asset correlation workflow: how do equities, bonds and other assets move
# together, when did that change, and is today a stress regime?
# Tasks A-H are rules in workflow/rules/; settings in config/config.yaml.


from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/all_pairs.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
