"""The interface every source implements, and what a source's fetch hands back."""

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from corrflow.data.http_client import Attempts, RetryPolicy, Throttle
from corrflow.data.sources.acceptance import Accepted, RevisionLimits, accept_download


@dataclass
class FetchContext:
    """Everything a source may need for one run; tests inject the network edges here."""

    start: str
    end: str
    network: dict
    paths: dict
    policy: RetryPolicy
    previous: dict[str, pd.Series | None] = field(default_factory=dict)  # verified cache copies
    api_key: str | None = None
    throttle: Throttle | None = None
    yahoo_fetch: Callable | None = None
    snapshot: dict[str, pd.Series | None] = field(default_factory=dict)  # bundled snapshot copies
    source: str = ""
    limits: RevisionLimits | None = None

    def accept(self, series: pd.Series, spec: dict, label: str, compare_values: bool = True) -> Accepted:
        """``accept_download`` against this run's references (cache, snapshot) and limits."""
        return accept_download(
            series,
            spec,
            self.source,
            self.start,
            self.end,
            label,
            self.limits or RevisionLimits.from_network(self.network),
            cached=self.previous.get(spec["id"]),
            snapshot=self.snapshot.get(spec["id"]),
            compare_values=compare_values,
        )


@dataclass
class Live:
    """One series as a source's fetch left it: accepted data, or why not."""

    series: pd.Series | None = None
    attempts: int = 0
    last_error: str | None = None
    refused: list[str] = field(default_factory=list)
    column: str | None = None
    notes: list[str] = field(default_factory=list)
    path: str | None = None  # the file read, for sources that read files
    revisions: list[dict] = field(default_factory=list)  # accepted: {"date", "old", "new"}
    attempt_s: list[float] = field(default_factory=list)  # wall time of each attempt
    network_s: list[float] = field(default_factory=list)  # of each attempt: seconds on the network
    parse_s: list[float] = field(default_factory=list)  # of each attempt: parsing and checks

    @classmethod
    def from_attempts(cls, done: Attempts, **extra) -> "Live":
        return cls(
            attempts=done.attempts,
            last_error=done.last_error,
            refused=list(done.refused),
            attempt_s=list(done.durations),
            network_s=list(done.network_s),
            parse_s=list(done.parse_s),
            **extra,
        )


class Source:
    """A source of series. ``fetch`` returns a Live per series id it was given.

    A network source (``local = False``) must accept an answer only through
    ``ctx.accept`` (``_sources.acceptance.accept_download``) inside an attempt run by ``ctx.policy``, so
    refusals are retried and recorded; the chain caches what it returns and falls back
    to the cache and snapshot for the rest. A local source (``local = True``) reads
    the user's files; its errors stop the run (the user can fix them).
    """

    name: str = ""
    label: str = ""  # for the `.ok` origin: "live FRED"
    local: bool = False

    def fetch(self, specs: list[dict], ctx: FetchContext) -> dict[str, Live]:
        raise NotImplementedError
