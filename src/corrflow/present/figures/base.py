"""What every report figure is drawn from: the workflow's outputs as the report reads them.

Nothing here imports matplotlib; each figure imports it inside its drawing code."""

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from corrflow.analytics.correlation.universe import heatmap_series
from corrflow.analytics.panel import CleanPanel
from corrflow.data.contracts import is_missing


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
