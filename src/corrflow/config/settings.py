"""Resolution: a config as Snakemake read it -> a validated config with every default and
every run-time choice made once (``end: latest``, the day the report counts from, the
primary window, the stress series, the all-pairs blocks), and one typed object per
section for code that reads settings."""

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from corrflow.config.checks import check_config, check_numbers_fit_the_data
from corrflow.config.guard import check_alias_growth, check_config_files
from corrflow.config.memory import AllPairsPlan
from corrflow.config.schema import coerce_cli_value, load_schema, validate
from corrflow.config.sections import (  # noqa: F401  (the sections' home; settings re-exports them)
    SECTIONS,
    AllPairs,
    Clean,
    Correlation,
    Dcc,
    Dq,
    Exceedance,
    Features,
    HorizonWindows,
    Markov,
    Model,
    Network,
    Paths,
    Regimes,
    Report,
    Section,
    Sign,
    Stress,
)
from corrflow.data.dates import resolve_end, today_in_new_york


@dataclass(frozen=True)
class Settings:
    """A resolved config: ``config`` is the validated nested dict (every default filled in,
    the resolved choices written back, what the rules' params read), ``end`` and ``today``
    the run's dates, ``notes`` what resolution changed (one line each, for stderr)."""

    config: dict
    end: str  # `end` resolved (`latest`: the last weekday before today in New York)
    today: str  # the day the report counts the data's age from
    plan: AllPairsPlan
    notes: tuple[str, ...]
    paths: Paths
    network: Network
    clean: Clean
    features: Features
    correlation: Correlation
    all_pairs: AllPairs
    regimes: Regimes
    stress: Stress
    dq: Dq
    report: Report
    model: Model

    @property
    def series(self) -> dict[str, dict]:
        """The universe by id, in config order."""
        return {s["id"]: s for s in self.config["series"]}

    @property
    def primary_window(self) -> int:
        """The window sign regimes, Markov fits, the model and the report headline use."""
        return self.correlation.primary_window

    def is_activated(self, section: str) -> bool:
        """Optional branches (task G) are switched by `<section>: enabled:` in config."""
        return bool(self.config[section]["enabled"])


def resolve_primary_window(config: dict) -> int:
    """`correlation.primary_window`, else the first of `correlation.windows`."""
    correlation = config["correlation"]
    return correlation["primary_window"] or correlation["windows"][0]


def resolve_stress(config: dict) -> dict:
    """The stress settings with the series filled in: equity = first series of the first
    pair, bond = first yield series named in a pair (None if there is none)."""
    settings = dict(config["stress"])
    pairs = config["correlation"]["pairs"]
    kinds = {s["id"]: s["kind"] for s in config["series"]}
    if settings["equity"] is None:
        settings["equity"] = pairs[0][0]
    if settings["bond"] is None:
        yields = [s for pair in pairs for s in pair if kinds[s] == "yield"]
        settings["bond"] = yields[0] if yields else None
    return settings


def resolve_snapshot(snapshot: str, workflow_root: str | None) -> str:
    """`paths.snapshot`: as given where it exists from the working directory (or is
    absolute); a relative one that does not exist there but does beside the workflow is the
    workflow's own bundled snapshot, as a module deployment from another folder needs it."""
    if os.path.isabs(snapshot) or os.path.isdir(snapshot) or not workflow_root:
        return snapshot
    beside_workflow = os.path.join(workflow_root, snapshot)
    return os.path.normpath(beside_workflow) if os.path.isdir(beside_workflow) else snapshot


def resolve(
    config: dict,
    config_files: Iterable[str] = (),
    *,
    schema: dict | None = None,
    now: datetime | None = None,
    clean_rows: int | None = None,
    workflow_root: str | None = None,
) -> Settings:
    """Check, validate and resolve ``config`` (as Snakemake read it from ``config_files``
    and `--config`); any problem is a ConfigError of one line. ``config`` itself is left
    as it was; ``now`` (default: the clock) fixes `latest` and today; ``clean_rows``
    replaces the count of clean.parquet's rows the all-pairs plan makes from the calendars;
    ``workflow_root`` (the folder holding workflow/) is where the bundled snapshot is found
    when the working directory has none (a module deployment, see resolve_snapshot)."""
    check_config_files(config_files)
    check_alias_growth(config)
    schema = schema if schema is not None else load_schema()
    resolved = validate(coerce_cli_value(dict(config), schema), schema)
    end = resolve_end(resolved["end"], now)
    today = resolved["today"] or today_in_new_york(now).isoformat()
    check_config(resolved, end, today_in_new_york(now))
    primary = resolve_primary_window(resolved)
    check_numbers_fit_the_data(resolved, end, primary)
    resolved["correlation"]["primary_window"] = primary
    resolved["stress"] = resolve_stress(resolved)
    resolved["paths"]["snapshot"] = resolve_snapshot(resolved["paths"]["snapshot"], workflow_root)
    plan = AllPairsPlan.from_config(resolved, end, clean_rows)
    all_pairs = resolved["all_pairs"]
    all_pairs["n_blocks"] = plan.blocks(all_pairs["n_blocks"], all_pairs["mem_mb"], all_pairs["enabled"])
    sections = {name: kind.from_dict(resolved[name]) for name, kind in SECTIONS.items()}
    return Settings(resolved, end, today, plan, tuple(plan.notes), **sections)
