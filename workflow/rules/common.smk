# Input functions and resource functions shared by the rules. The config itself is
# checked, validated and resolved by the package (src/corrflow/config/: the load guards,
# `--config` coercion, the schema with its defaults, the cross-key checks, the memory
# plan), which needs nothing beyond Snakemake installed.

import os
import sys

# the folder holding workflow/ (this file is workflow/rules/common.smk); for a workflow
# used from a git or http source it is no local folder
WORKFLOW_ROOT = os.path.normpath(os.path.join(str(workflow.current_basedir), "..", ".."))
# the package from the workflow's own source tree (a dry run, `--sdm conda`, a module
# deployment: only Snakemake may be installed); the rule scripts import the whole package
sys.path.insert(0, os.path.join(WORKFLOW_ROOT, "src"))
from corrflow.config import (  # noqa: E402
    FETCH_ONLY_NETWORK_KEYS,
    ConfigError,
    resolve,
    universe_days_at_most,
    untracked,
    untracked_keys,
)
from corrflow.data.sources import SOURCES, local_files  # noqa: E402  (the one list of sources: names only)
from corrflow.present.figures import rule_outputs  # noqa: E402  (the report's figures: one registry)

try:
    SETTINGS = resolve(
        config,
        workflow.configfiles,
        # its data/sample: the snapshot of a module deployment run from another folder
        workflow_root=WORKFLOW_ROOT if os.path.isdir(WORKFLOW_ROOT) else None,
    )
except ConfigError as error:
    # raised here, at the top level: Snakemake prints the one line and this raise's location,
    # no frames of corrflow's code
    raise ValueError(str(error)) from None
for note in SETTINGS.notes:
    print(note, file=sys.stderr)
# resolved in place: every default filled in, `correlation.primary_window` an integer,
# `stress.equity`/`bond` named, `all_pairs.n_blocks` planned (the rules read these)
config.update(SETTINGS.config)
# the trading calendars' day lists, computed by the first job of a run that needs them and
# read by the others (corrflow.data.calendars); inherited by every job this Snakemake
# process starts; a value already set wins
os.environ.setdefault(
    "CORRFLOW_CALENDAR_CACHE", os.path.abspath(os.path.join(config["paths"]["cache"], "calendars"))
)

# The FRED key is optional (no key: FRED's public CSV download). envvars: requires the
# variable to exist, so an absent key becomes an empty one; scripts treat "" as no key.
os.environ.setdefault("FRED_API_KEY", "")


envvars:
    "FRED_API_KEY",


# the source wildcard, like the config's check of each series' source, from the sources' registry
SOURCE_NAMES = sorted(SOURCES)
# `end: latest` resolved once per run: a run on a later day asks for the new days
END = SETTINGS.end
# the day the report says the data's age against (config `today`, else today in New York)
TODAY = SETTINGS.today


scattergather:
    all_pairs=SETTINGS.all_pairs.n_blocks,


def all_pairs_mem_mb(wildcards, attempt):
    """The all-pairs block rule's mem_mb: the planned block's memory
    (``corrflow.config.AllPairsPlan.block_mb``), doubled on each retry."""
    return SETTINGS.plan.block_mb(SETTINGS.all_pairs.n_blocks) * 2 ** (attempt - 1)


def memory_mb(base, per_series_day=150):
    """mem_mb for a rule: ``base`` MB plus ``per_series_day`` bytes per series and day
    (``universe_days_at_most``: the universe's panel, which most rules hold whole: ~100 B measured at
    1,000 series x 7,305 days, benchmarks/scale_universe.py), on the first attempt,
    doubled on each retry. The bases (2000-3000) are well above the peak RSS in the rules'
    `benchmark:` files (logs/benchmarks/): at most 410 MB (regimes) on the default
    universe, 2026-12-04, and 1.5 GB (dashboard) on a 1,000-series one
    (docs/performance.md)."""
    days = universe_days_at_most(config["series"], config["start"], END)
    planned = int(base + per_series_day * len(config["series"]) * days / 1e6)

    def mem_mb(wildcards, attempt):
        return planned * 2 ** (attempt - 1)

    return mem_mb


def scatter_block(wildcards):
    """Snakemake's scatter item "k-of-n" as the 0-based block index."""
    return int(wildcards.scatteritem.split("-of-")[0]) - 1


def is_activated(section):
    """Optional branches (task G) are switched by `<section>: enabled:` in config."""
    return SETTINGS.is_activated(section)


def sources():
    """The sources the universe uses, one ingest job each."""
    return sorted({s["source"] for s in config["series"]})


def source_series(wildcards):
    return [s for s in config["series"] if s["source"] == wildcards.source]


def source_local_files(wildcards):
    # those that exist: a missing one is ingest's own error (naming the file and the fix),
    # and a deleted one changes the input set, which re-runs ingest
    paths = local_files(wildcards.source, source_series(wildcards), config["paths"])
    return [path for path in paths if os.path.isfile(path)]


def raw_files():
    return expand(rules.ingest.output.csv, source=sources())


def ok_files():
    return expand(rules.ingest.output.ok, source=sources())


# report() read as a plain function (the name at the start of a line is a Snakemake keyword)
in_snakemake_report = report


def figure_outputs():
    """The report rule's figure outputs, one named output per figure in
    corrflow/figures (a list for a per-pair figure), marked for `snakemake --report`
    with their captions; a pair with a series that has no data is drawn as a notice and gets
    no placeholder in the HTML report."""
    return rule_outputs(config["correlation"]["pairs"], "docs", series_without_data(), in_snakemake_report)


def series_without_data():
    """Series a finished run found no data for (clean.parquet's metadata), so that
    `snakemake --report` declares no figure for their pairs; empty before the first run."""
    path = rules.clean.output.out
    if not os.path.exists(path):
        return set()
    import json

    import pyarrow.parquet as pq

    raw = (pq.read_schema(path).metadata or {}).get(b"corrflow")
    series = json.loads(raw).get("series", {}) if raw else {}
    return {
        k
        for k, m in series.items()
        if m.get("status") == "missing" or m.get("in_clean") is False or not m.get("last")
    }


def report_inputs(wildcards):
    inputs = {
        "clean": rules.clean.output.out,
        "corr": rules.rolling_corr.output.out,
        "regimes": rules.regimes.output.out,
        "episodes": rules.regimes.output.episodes,
        "horizons": rules.regimes.output.horizons,
        "dq": rules.dq.output.json_path,
        "gaps": rules.rolling_corr.output.gaps,
        "exceedance": rules.regimes.output.exceedance,
        "calendar_effect": rules.calendar_effect.output.out,
    }
    if is_activated("model"):
        inputs["metrics"] = rules.model.output.metrics
    inputs["universe"] = rules.universe.output.summary
    return inputs


def universe_inputs(wildcards):
    """The universe rule reads the all-pairs store's matrices when it runs, and computes them otherwise."""
    inputs = {"clean": rules.clean.output.out}
    if is_activated("all_pairs"):
        inputs["all_pairs"] = rules.all_pairs.output.manifest
    return inputs


def dashboard_inputs(wildcards):
    """Files only: the universe rule did the correlation work the dashboard shows."""
    return {
        "clean": rules.clean.output.out,
        "corr": rules.rolling_corr.output.out,
        "regimes": rules.regimes.output.out,
        "episodes": rules.regimes.output.episodes,
        "exceedance": rules.regimes.output.exceedance,
        "universe": rules.universe.output.summary,
        "universe_frames": rules.universe.output.frames,
        "universe_pairs": rules.universe.output.pair_history,
    }


def final_outputs():
    # the data products of tasks B-E are targets in themselves, whether or not a later step
    # reads them: one removed (or left out by a killed run whose report was already written)
    # is rebuilt, where Snakemake would skip a missing file that only feeds up-to-date outputs
    outputs = [*rules.report.output, rules.dq.output.md, *rules.dashboard.output, rules.features.output.out]
    outputs += [rules.clean.output.out, *rules.rolling_corr.output, *rules.regimes.output]
    if is_activated("model"):
        outputs += list(rules.model.output)
    if is_activated("all_pairs"):
        outputs.append(rules.all_pairs.output.manifest)
    return outputs
