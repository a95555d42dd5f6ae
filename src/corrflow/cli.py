"""The ``corrflow`` command: one subcommand per step of the workflow, for use without
Snakemake (a notebook user's files, a one-off pair).

    corrflow rolling-corr --prices data/processed/clean.parquet --eq-col SPY --bond-col TLT \\
        --window 60 --out data/processed/rolling_corr.csv
    corrflow --help

Each subcommand parses its arguments (defaults from the config schema, the one home of
defaults) and calls the same ``run`` function that the workflow's rule script calls
with the ``snakemake`` object's input, output and params.
"""

import sys
from importlib import import_module

from corrflow.io import one_line_errors

SUBCOMMANDS = {  # subcommand -> (module, what it does)
    "ingest": ("corrflow.data.ingest", "download (or take from cache/snapshot) one source's series"),
    "clean": ("corrflow.data.clean", "lay raw series on their calendars, convert currencies"),
    "features": ("corrflow.analytics.features", "returns, excess returns and lags"),
    "rolling-corr": (
        "corrflow.analytics.correlation.rolling_corr",
        "rolling correlations of pairs (the seed's command)",
    ),
    "all-pairs-block": ("corrflow.store.block", "every pair's rolling correlation, one block"),
    "all-pairs-manifest": ("corrflow.store.manifest", "list the all-pairs blocks of a run"),
    "regimes": ("corrflow.analytics.regimes.regimes", "sign regimes, Markov states, DCC, stress episodes"),
    "dq": ("corrflow.data.dq", "data-quality report of the raw files"),
    "model": ("corrflow.analytics.model", "forecast model of a pair's correlation"),
    "report": ("corrflow.present.report", "docs/report.md and its figures"),
    "dashboard": ("corrflow.present.dashboard", "docs/dashboard.html"),
}


def usage() -> str:
    width = max(map(len, SUBCOMMANDS))
    lines = [f"  {name:<{width}}  {what}" for name, (_, what) in SUBCOMMANDS.items()]
    return "usage: corrflow SUBCOMMAND [options]  (corrflow SUBCOMMAND --help)\n\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return
    if argv[0] not in SUBCOMMANDS:
        print(f"corrflow: unknown subcommand {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        sys.exit(2)
    module = import_module(SUBCOMMANDS[argv[0]][0])
    with one_line_errors():
        module.main(argv[1:])


if __name__ == "__main__":
    main()
