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

from corrflow._api import lazy_api

# each name imported on first use: reading the schema (io.schema_defaults) loads no checks
_API = {
    "EARLIEST_DATE": "checks",
    "FETCH_ONLY_NETWORK_KEYS": "rerun",
    "Untracked": "rerun",
    "untracked": "rerun",
    "untracked_keys": "rerun",
    "MAX_ALIAS_GROWTH": "guard",
    "SCHEMA_PATH": "schema",
    "SECTIONS": "settings",
    "AllPairsPlan": "memory",
    "ConfigError": "errors",
    "Settings": "settings",
    "check_alias_growth": "guard",
    "check_config": "checks",
    "check_config_files": "guard",
    "check_dates": "checks",
    "check_numbers_fit_the_data": "checks",
    "check_pairs": "checks",
    "check_references": "checks",
    "check_series": "checks",
    "check_series_kinds": "checks",
    "clean_rows_at_most": "memory",
    "coerce_cli_value": "schema",
    "config_error_message": "schema",
    "duplicate_keys": "guard",
    "load_schema": "schema",
    "resolve": "settings",
    "resolve_primary_window": "settings",
    "resolve_stress": "settings",
    "schema_defaults": "schema",
    "universe_days_at_most": "memory",
    "validate": "schema",
}
__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
