"""The interface every source implements, and what a source's fetch hands back."""

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from _http import Attempts, RetryPolicy, Throttle


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

    @classmethod
    def from_attempts(cls, done: Attempts, **extra) -> "Live":
        return cls(attempts=done.attempts, last_error=done.last_error, refused=list(done.refused), **extra)


class Source:
    """A source of series. ``fetch`` returns a Live per series id it was given.

    A network source (``local = False``) must accept an answer only through
    ``_sources.acceptance.accept_download`` inside an attempt run by ``ctx.policy``, so
    refusals are retried and recorded; the chain caches what it returns and falls back
    to the cache and snapshot for the rest. A local source (``local = True``) reads
    the user's files; its errors stop the run (the user can fix them).
    """

    name: str = ""
    label: str = ""  # for the `.ok` origin: "live FRED"
    local: bool = False

    def fetch(self, specs: list[dict], ctx: FetchContext) -> dict[str, Live]:
        raise NotImplementedError
