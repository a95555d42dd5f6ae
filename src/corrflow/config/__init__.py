"""The workflow's configuration: load guards, `--config` coercion, validation against the
schema (the one home of every default), the checks a schema cannot express, resolution
of run-time choices and the all-pairs memory plan.

Standard library, PyYAML and jsonschema only (what Snakemake itself installs): the
Snakefile resolves its config with this package at parse time, also where nothing but
Snakemake is installed. Trading calendars sharpen two checks when
pandas_market_calendars is importable, and are skipped otherwise.

``resolve(config, config_files)`` does it all and returns ``Settings``: the resolved
nested dict (``.config``), ``.end``, ``.today``, one frozen dataclass per section
(``.correlation.primary_window``, ``.all_pairs.n_blocks``, ``.stress.equity``, ...), the
all-pairs ``.plan`` and the ``.notes`` to print.
"""

from corrflow.config.checks import (
    EARLIEST_DATE,
    check_config,
    check_dates,
    check_numbers_fit_the_data,
    check_pairs,
    check_references,
    check_series,
    check_series_kinds,
)
from corrflow.config.errors import ConfigError
from corrflow.config.guard import MAX_ALIAS_GROWTH, check_alias_growth, check_config_files, duplicate_keys
from corrflow.config.memory import AllPairsPlan, clean_rows_at_most, universe_days_at_most
from corrflow.config.schema import (
    SCHEMA_PATH,
    coerce_cli_value,
    config_error_message,
    load_schema,
    schema_defaults,
    validate,
)
from corrflow.config.settings import (
    SECTIONS,
    Settings,
    resolve,
    resolve_primary_window,
    resolve_stress,
)
from corrflow.config.untracked import FETCH_ONLY_NETWORK_KEYS, Untracked, untracked, untracked_keys

__all__ = [
    "EARLIEST_DATE",
    "FETCH_ONLY_NETWORK_KEYS",
    "MAX_ALIAS_GROWTH",
    "SCHEMA_PATH",
    "SECTIONS",
    "AllPairsPlan",
    "ConfigError",
    "Settings",
    "Untracked",
    "check_alias_growth",
    "check_config",
    "check_config_files",
    "check_dates",
    "check_numbers_fit_the_data",
    "check_pairs",
    "check_references",
    "check_series",
    "check_series_kinds",
    "clean_rows_at_most",
    "coerce_cli_value",
    "config_error_message",
    "duplicate_keys",
    "load_schema",
    "resolve",
    "resolve_primary_window",
    "resolve_stress",
    "schema_defaults",
    "universe_days_at_most",
    "untracked",
    "untracked_keys",
    "validate",
]
