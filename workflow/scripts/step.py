"""Every rule's script: hands the ``snakemake`` object to its step's ``run()``, which takes
the rule's named input, output and params as keywords (corrflow.workflow.run_rule)."""

import sys
from pathlib import Path

# the package: this workflow's own src/ when it has one (a checkout, a local module), else
# the installed corrflow (pip, or the rule's conda env: workflow/envs/*.yaml)
source_tree = Path(snakemake.scriptdir).resolve().parents[1] / "src"
if (source_tree / "corrflow").is_dir():
    sys.path.insert(0, str(source_tree))

from corrflow.workflow import run_rule

run_rule(snakemake)
