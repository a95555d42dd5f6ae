"""corrflow: cross-asset correlation analysis, the library under the Snakemake workflow.

The names a notebook user reaches for (each imported on first use, so ``import corrflow``
is quick and needs nothing beyond the standard library):

- ``read_clean(path)``: clean.parquet as (levels, metadata), every series on its own
  calendar, NaN where it has no value;
- ``CleanPanel.read(path)``: clean.parquet as one object: ``levels``, ``specs``, ``closed``
  days, ``max_gap_days``, ``as_of``, and ``series_returns(s)``, ``pair_returns(a, b)``,
  ``pair_days(a, b)`` with them (``corrflow.analytics.panel``);
- ``pair_returns(levels, specs, a, b, closed, max_gap)``: a pair's log returns on its
  joint days (``corrflow.analytics.returns``);
- ``pair_rolling_corr(levels, metadata, a, b, window)``: one pair's rolling correlation
  on its own joint days, as rolling_corr.csv holds it (``corrflow.analytics.correlation.rolling``);
- ``all_pairs_rolling_corr(levels, metadata, pairs, window)``: many pairs at once with
  the compiled kernel, a column ``A:B`` each;
- ``rolling_corr(levels, metadata, pairs, windows)``: the configured pairs' frame with
  bands, EWMA and gaps (``corrflow.analytics.correlation.rolling_corr``);
- ``sign_regimes``, ``stress_episodes``: regimes and stress (``corrflow.analytics.regimes.regimes``,
  ``corrflow.analytics.regimes.stress``);
- readers of every output: ``read_rolling_corr``, ``read_parquet`` (regimes.parquet,
  features.parquet with their metadata), ``read_all_pairs`` (the all-pairs store).
"""

from importlib import import_module

__version__ = "0.5.0"

_API = {
    "read_clean": ("corrflow.data.contracts", "read_parquet"),
    "read_parquet": ("corrflow.data.contracts", "read_parquet"),
    "CleanPanel": ("corrflow.analytics.panel", "CleanPanel"),
    "read_rolling_corr": ("corrflow.data.contracts", "read_rolling_corr"),
    "read_all_pairs": ("corrflow.store.all_pairs", "read_all_pairs"),
    "pair_returns": ("corrflow.analytics.returns", "pair_returns"),
    "pair_rolling_corr": ("corrflow.analytics.correlation.rolling", "pair_rolling_corr"),
    "all_pairs_rolling_corr": ("corrflow.analytics.correlation.rolling", "all_pairs_rolling_corr"),
    "rolling_corr": ("corrflow.analytics.correlation.rolling_corr", "rolling_corr"),
    "sign_regimes": ("corrflow.analytics.regimes.regimes", "sign_regimes"),
    "stress_episodes": ("corrflow.analytics.regimes.stress", "stress_episodes"),
    "sessions": ("corrflow.data.calendars", "sessions"),
    "InputDataError": ("corrflow.io", "InputDataError"),
}

__all__ = [*_API, "__version__"]


def __getattr__(name: str):
    if name in _API:
        module, attribute = _API[name]
        return getattr(import_module(module), attribute)
    raise AttributeError(f"module 'corrflow' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
