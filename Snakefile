# The workflow is workflow/Snakefile (the layout Snakemake's catalog deploys as a module);
# this file runs it from the project folder, as `snakemake` with no -s expects.


include: "workflow/Snakefile"


# an include keeps the includer's default target (none here): take the workflow's `all`
workflow.default_target = "all"
