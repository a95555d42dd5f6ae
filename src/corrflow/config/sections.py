"""One frozen dataclass per config section (its fields exactly the schema's keys), and the
one adapter that makes them from the plain mappings a rule's params and the command give.

Standard library only, below every layer: a step's ``run()`` annotates a settings keyword
with its section (``markov: Markov``) and reads ``markov.max_iter``; the rule passes the
resolved config's dict (Snakemake params stay plain, picklable values), and
``corrflow.workflow.run_rule`` and the generated command both call ``typed_arguments``,
which builds the section from it. A key the section does not have, or one missing (where
the command has not completed it from the schema's defaults), is one ``ConfigError`` line
naming the key.
"""

import dataclasses
import inspect
from dataclasses import dataclass
from typing import Any

from corrflow.config.errors import ConfigError


class Section:
    """A config section as a frozen dataclass; ``from_dict`` takes the resolved mapping."""

    @classmethod
    def from_dict(cls, values: dict, name: str | None = None):
        """The section from a complete mapping of its keys (nested sections too); ``name``,
        the setting's name in errors (default: the class's)."""
        return as_section(cls, values, name or cls.__name__)

    def as_dict(self) -> dict:
        """The section as the plain mapping it came from (for metadata written to files)."""
        return dataclasses.asdict(self)


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


@dataclass(frozen=True)
class Network(Section):
    timeout_s: float
    retries: int
    backoff_s: float
    max_retry_time_s: float
    source_budget_s: float
    chunk_size: int
    max_revision_share: float
    max_revision_age_days: int
    fred_api_url: str
    fred_csv_url: str
    french_url: str
    yahoo_chart_url: str | None


@dataclass(frozen=True)
class Sign(Section):
    enter: float
    exit: float
    min_days: int
    hard_exit: float


@dataclass(frozen=True)
class Markov(Section):
    enabled: bool
    k_regimes: int
    realtime: bool
    refit: str | None
    min_obs: int
    warm_iter: int
    max_iter: int
    min_mean_gap_sd: float
    min_sd_ratio: float


@dataclass(frozen=True)
class Dcc(Section):
    enabled: bool
    min_obs: int


@dataclass(frozen=True)
class Exceedance(Section):
    enabled: bool
    min_count: int
    min_days: int
    split_year: int
    recent_years: int
    all_pairs: bool


@dataclass(frozen=True)
class HorizonWindows(Section):
    enabled: bool
    weekly: int
    monthly: int


@dataclass(frozen=True)
class Regimes(Section):
    unusual_history: int
    unusual_level: float
    sign: Sign
    markov: Markov
    dcc: Dcc
    exceedance: Exceedance
    horizons: HorizonWindows


SECTIONS = {
    "paths": Paths,
    "network": Network,
    "clean": Clean,
    "features": Features,
    "correlation": Correlation,
    "all_pairs": AllPairs,
    "regimes": Regimes,
    "stress": Stress,
    "dq": Dq,
    "report": Report,
    "model": Model,
}
# every config object by its key, nested ones too (a test holds each to the schema's keys)
SECTION_OF_KEY = {
    **SECTIONS,
    "regimes.sign": Sign,
    "regimes.markov": Markov,
    "regimes.dcc": Dcc,
    "regimes.exceedance": Exceedance,
    "regimes.horizons": HorizonWindows,
}
SECTION_OF_NAME = {kind.__name__: kind for kind in SECTION_OF_KEY.values()}


def section_class(annotation: Any) -> type[Section] | None:
    """The Section a ``run()`` annotation names (the class, or its name as written in the
    source, which the command reads without importing the step); None for any other."""
    if isinstance(annotation, type) and issubclass(annotation, Section):
        return annotation
    if isinstance(annotation, str):
        return SECTION_OF_NAME.get(annotation.strip())
    return None


def as_section(kind: type[Section], value: Any, name: str) -> Section:
    """``value`` (a mapping of every key of the section) as ``kind``. One ConfigError line
    names a key that is not the section's, a key missing, or a value that is not a mapping
    (the command completes a partial setting from the schema's defaults before this)."""
    if isinstance(value, kind):
        return value
    fields = {f.name: f for f in dataclasses.fields(kind)}
    if not isinstance(value, dict):
        raise ConfigError(
            f"setting `{name}`: expected a mapping of {', '.join(fields)}, "
            f"got {type(value).__name__} {value!r}"
        )
    unknown = [key for key in value if key not in fields]
    if unknown:
        raise ConfigError(
            f"setting `{name}`: unknown key {unknown[0]!r}; {kind.__name__} has {', '.join(fields)}"
        )
    missing = [key for key in fields if key not in value]
    if missing:
        raise ConfigError(
            f"setting `{name}`: key {missing[0]!r} is missing; give it (the config fills it from the schema)"
        )
    out = {}
    for key, field in fields.items():
        nested = section_class(field.type)
        out[key] = as_section(nested, value[key], f"{name}.{key}") if nested else value[key]
    return kind(**out)


def typed_arguments(run, arguments: dict[str, Any]) -> dict[str, Any]:
    """``arguments`` for ``run()`` with each keyword annotated by a Section made that
    section (``as_section``); every other argument as it is. The one adapter of rule
    params and command flags."""
    parameters = inspect.signature(run).parameters
    typed = dict(arguments)
    for name, value in arguments.items():
        parameter = parameters.get(name)
        kind = section_class(parameter.annotation) if parameter is not None else None
        if kind is not None and value is not None:
            typed[name] = as_section(kind, value, name)
    return typed
