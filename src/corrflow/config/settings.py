"""Resolution: a config as Snakemake read it -> a validated config with every default and
every run-time choice made once (``end: latest``, the day the report counts from, the
primary window, the stress series, the all-pairs blocks), and one typed object per
section for code that reads settings."""

import dataclasses
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from corrflow.config.checks import check_config, check_numbers_fit_the_data
from corrflow.config.guard import check_alias_growth, check_config_files
from corrflow.config.memory import AllPairsPlan
from corrflow.config.schema import coerce_cli_value, load_schema, validate
from corrflow.data.dates import resolve_end, today_in_new_york


class Section:
    """A config section as a frozen dataclass; ``from_dict`` takes the resolved mapping."""

    @classmethod
    def from_dict(cls, values: dict):
        return cls(**{f.name: values[f.name] for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class Paths(Section):
    cache: str
    snapshot: str
    local_csv: str


@dataclass(frozen=True)
class Clean(Section):
    max_gap_days: int


@dataclass(frozen=True)
class Features(Section):
    lags: list[int]
    cash_rate: str | None


@dataclass(frozen=True)
class Correlation(Section):
    pairs: list[list[str]]
    windows: list[int]
    primary_window: int  # resolved: `correlation.primary_window`, else the first window
    ewma_halflife: float | None
    spearman: bool
    confidence: float


@dataclass(frozen=True)
class AllPairs(Section):
    enabled: bool
    window: int
    n_blocks: int  # resolved: as many as `mem_mb` needs, no more than hold pairs
    dtype: str
    dates: str
    history_of: list[str]
    mem_mb: int | None


@dataclass(frozen=True)
class Stress(Section):
    equity: str | None  # resolved: the first series of the first pair when not given
    bond: str | None  # resolved: the first yield series named in a pair when not given
    vix: str | None
    history_equity: str | None
    drawdown_pct: float
    fall_pct: float
    fall_days: int
    recovery_share: float
    vix_level: float
    realised_vol_days: int
    realised_vol_level: float
    joint_fall_days: int
    joint_fall_pct: float
    merge_gap_days: int
    before_days: int
    min_days_for_corr: int
    min_days_for_inference: int
    episodes: list[dict]


@dataclass(frozen=True)
class Dq(Section):
    stale_days: int
    outlier_z: float
    stop_on_fail: bool


@dataclass(frozen=True)
class Report(Section):
    heatmap_exclude: list[str]


@dataclass(frozen=True)
class Model(Section):
    enabled: bool
    pair: list[str] | None
    horizon: int
    train_fraction: float


SECTIONS = {
    "paths": Paths,
    "clean": Clean,
    "features": Features,
    "correlation": Correlation,
    "all_pairs": AllPairs,
    "stress": Stress,
    "dq": Dq,
    "report": Report,
    "model": Model,
}


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
    clean: Clean
    features: Features
    correlation: Correlation
    all_pairs: AllPairs
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
