"""What every report figure is drawn from: the workflow's outputs as the report reads them.

Nothing here imports matplotlib; each figure imports it inside its drawing code."""

from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from corrflow.analytics.correlation.universe import heatmap_series
from corrflow.analytics.panel import CleanPanel
from corrflow.data.contracts import is_missing


def _import_pyplot() -> int:
    """A worker's first task: matplotlib imported (its process id returned)."""
    import os

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401

    return os.getpid()


class Drawings:
    """The report's figure files, drawn here or, with ``workers``, dealt in turn to this
    process and its worker processes (this one also writes the report's text): each
    figure is a separate file from its own inputs, so the files are the same bytes either
    way. Workers are forked from this process (they start with its modules imported; each
    call's inputs are pickled to them)."""

    def __init__(self, workers: int = 0):
        self.pool = None
        self.pending: list[Future] = []
        self.dealt = 0  # figures dealt so far: every (workers + 1)-th is drawn here
        self.workers = workers
        if workers > 0:
            import multiprocessing

            self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
            # the workers are forked at the first call: make it now (before pyarrow starts
            # its threads) and let them import matplotlib while this process reads the inputs
            self.warm_up = [self.pool.submit(_import_pyplot) for _ in range(workers)]

    def __enter__(self) -> "Drawings":
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def draw(self, function, *args, **kwargs) -> None:
        """``function(*args, **kwargs)``, which writes one figure file."""
        here = self.pool is None or self.dealt % (self.workers + 1) == 0
        self.dealt += 1
        if here:
            function(*args, **kwargs)
        else:
            self.pending.append(self.pool.submit(function, *args, **kwargs))

    def finish(self) -> None:
        """Wait for every figure; a worker's error is raised here, as if drawn in this process."""
        pending, self.pending = self.pending, []
        for future in pending:
            future.result()


@dataclass
class ReportContext:
    """The workflow's outputs as the report reads them, and what several figures share."""

    clean: CleanPanel  # clean.parquet: levels and what its metadata says of them
    corr: pd.DataFrame
    regimes: pd.DataFrame
    regimes_meta: dict
    episodes: pd.DataFrame  # normalised (``_summary.normalised_episodes``)
    pairs: list
    window: int | None
    heatmap_exclude: list[str]
    as_of: str
    figures_dir: Path
    names: dict[str, str] = field(default_factory=dict)  # series id -> name shown in titles
    origins: dict[str, str] = field(default_factory=dict)  # series id -> where its data came from
    exceedance: pd.DataFrame | None = None  # exceedance.csv (regimes), None when it is off
    universe: dict | None = None  # universe.json (rule universe): the heatmaps' matrices and clusters
    drawings: Drawings = field(default_factory=Drawings)  # where the figure files are drawn

    def draw(self, function, *args, **kwargs) -> None:
        """Draw one figure file (``function`` writes it): now or on a worker (``drawings``)."""
        self.drawings.draw(function, *args, **kwargs)

    @property
    def series_meta(self) -> dict:
        return self.clean.specs

    @property
    def levels(self) -> pd.DataFrame:
        return self.clean.levels

    @cached_property
    def skipped(self) -> dict[tuple[str, str], list[str]]:
        """Configured pairs with a series that has no data, with those series."""
        out = {}
        for a, b in self.pairs:
            absent = [s for s in (a, b) if is_missing(self.series_meta.get(s, {}))]
            if absent:
                out[(a, b)] = absent
        return out

    @cached_property
    def heatmap_series(self) -> tuple[list[str], dict[str, str]]:
        """(series shown in the universe figures, {series left out: why})."""
        return heatmap_series(self.series_meta, self.levels, self.heatmap_exclude)

    @property
    def source(self) -> str:
        """'source: ...' for figure titles: the origins of the series the universe shows."""
        shown, _ = self.heatmap_series
        from corrflow.present.summary import origin_group

        return "source: " + ", ".join(sorted({origin_group(self.origins[s]) for s in shown}))
