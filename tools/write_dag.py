"""Write docs/dag.md: the workflow's DAG as Snakemake draws it (`snakemake --dag mermaid-js`),
in a markdown page GitHub renders. `make dag`; tests/test_docs.py checks it is current."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def dag_markdown(workdir: Path = ROOT) -> str:
    """The page, from `snakemake --forceall --dag mermaid-js` in ``workdir`` (every job of
    the default workflow, whatever outputs exist)."""
    mermaid = subprocess.run(
        [
            str(Path(sys.executable).parent / "snakemake"),
            "--forceall",
            "--dag",
            "mermaid-js",
            "--config",
            "offline=true",
        ],
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return (
        "# The DAG\n\n"
        "The default workflow's jobs and their dependencies, as `snakemake --dag mermaid-js` draws them\n"
        "(one ingest job per source). Written by `make dag` (tools/write_dag.py); a test checks it is\n"
        "current.\n\n"
        f"```mermaid\n{mermaid.strip()}\n```\n"
    )


if __name__ == "__main__":
    Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs/dag.md").write_text(dag_markdown())
