"""Settings that say how data is fetched, not what it is: passed to a rule's job without
Snakemake's `params` rerun trigger seeing them (issue 28.5).

Switching `offline`, or a network deadline, retry count or chunk size, changes no output
of ingest when the sources answer the same (an offline run serves what the last live run
cached), so it must not re-run ingest and, through it, every job after it. Snakemake
records a job's params as the ``repr`` of each built-in value and skips the rest (its
``persistence._params``); ``untracked(value)`` is such a value, with one ``repr`` whatever
it holds, and pickles as the plain value it wraps, so the rule's script (and the step's
``run()``) receives ``True`` or ``20``, never the wrapper. To fetch again after changing
only these: ``snakemake --forcerun ingest``. Standard library only (parsed with the
Snakefile).
"""

import copy
from typing import Any

# network settings that bound how long and how often ingest asks, not what it accepts:
# the revision limits and the URLs stay tracked (they change what a download yields)
FETCH_ONLY_NETWORK_KEYS = (
    "timeout_s",
    "retries",
    "backoff_s",
    "max_retry_time_s",
    "source_budget_s",
    "chunk_size",
)


class Untracked:
    """A param value Snakemake's params trigger does not record (see the module)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __repr__(self) -> str:
        # one repr for any value: inside a recorded dict it never differs between runs
        return "<untracked>"

    def __reduce__(self):
        # unpickled in the job's script as the plain value (the script need not import corrflow)
        return copy.copy, (self.value,)


def untracked(value: Any) -> Untracked:
    """``value`` for a rule's params, left out of Snakemake's params rerun trigger."""
    return Untracked(value)


def untracked_keys(settings: dict, keys: tuple[str, ...]) -> dict:
    """``settings`` with the values of ``keys`` untracked; the other keys stay tracked. In
    key order: Snakemake records the dict's repr, and a `--config` mapping keeps the order
    it was given in, so the same settings in another order would count as a change."""
    return {key: Untracked(settings[key]) if key in keys else settings[key] for key in sorted(settings)}
