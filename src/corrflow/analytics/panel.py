"""clean.parquet as one object: the levels and what its metadata says about them.

Every reader of clean.parquet asks the same questions of its metadata: each series'
spec (kind, maturity, calendar), the days its market was closed, ``clean.max_gap_days``,
the as-of date. ``CleanPanel`` answers them in one place and takes the returns the
workflow computes (``returns.series_returns``, ``returns.pair_returns``) with the
panel's own closed days and maximum gap, so no caller restates where they live.

    panel = CleanPanel.read("data/processed/clean.parquet")
    joint = panel.pair_returns("SPY", "TLT")    # both legs on the days both traded

The panel lives in the analytics layer because its returns do; the data layer's
``contracts.read_parquet`` stays the plain (frame, metadata) reader below it.
"""

import os
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import pandas as pd

import corrflow.analytics.returns as _returns
from corrflow.data.calendars import open_mask
from corrflow.data.contracts import as_of_date, closed_days, read_parquet

PRICE_SPEC = {"kind": "price"}  # a series the metadata does not describe is read as a price


@dataclass(frozen=True, eq=False)
class CleanPanel:
    """clean.parquet's levels (one column per series id, NaN where a series has no
    observation) and its metadata (``meta``: the raw dict, for what is rarely read)."""

    levels: pd.DataFrame
    meta: dict

    @classmethod
    def read(cls, path: str | os.PathLike, columns: list[str] | None = None) -> "CleanPanel":
        """clean.parquet (``columns``: only those series; ``[]``: the metadata only)."""
        levels, meta = read_parquet(path, columns=columns)
        return cls(levels, meta)

    def with_levels(self, levels: pd.DataFrame) -> "CleanPanel":
        """The same metadata over other levels (a date range, some series, errors left out)."""
        return replace(self, levels=levels)

    @cached_property
    def specs(self) -> dict[str, dict]:
        """Series id -> its metadata: kind, maturity, calendar, origin, coverage."""
        return self.meta.get("series", {})

    def spec(self, series_id: str) -> dict:
        return self.specs.get(series_id, PRICE_SPEC)

    @cached_property
    def closed(self) -> dict[str, list[str]]:
        """Series id -> the days of the panel on which its market was closed."""
        return {series_id: closed_days(self.meta, series_id) for series_id in self.specs}

    @cached_property
    def calendar_of(self) -> dict[str, str | None]:
        return {series_id: spec.get("calendar") for series_id, spec in self.specs.items()}

    @property
    def calendars(self) -> dict[str, list[str]]:
        """Calendar name -> its closed days within the panel."""
        return self.meta.get("calendars", {})

    @property
    def max_gap_days(self) -> int | None:
        """``clean.max_gap_days``: the most open days a return may span over missing data."""
        return self.meta.get("calendar", {}).get("max_gap_days")

    @property
    def as_of(self) -> str | None:
        return self.meta.get("as_of")

    @property
    def data_through(self) -> str | None:
        return self.meta.get("data_through")

    def as_of_date(self, pairs: list[list[str]]) -> str:
        """The data's last common date (``contracts.as_of_date``)."""
        return as_of_date(self.meta, pairs)

    def open_mask(self, series_id: str) -> np.ndarray:
        """True on the panel's days the series' market was open."""
        return open_mask(self.levels.index, self.closed.get(series_id, []))

    def pair_days(self, a: str, b: str, index: pd.DatetimeIndex | None = None) -> pd.DatetimeIndex:
        """The days of ``index`` (default: the panel's) on which both markets were open."""
        index = self.levels.index if index is None else index
        closed = pd.DatetimeIndex(self.closed.get(a, []) + self.closed.get(b, []))
        return index[~index.isin(closed)]

    def series_returns(self, series_id: str) -> pd.Series:
        """One series' log returns on its own days, on the panel's dates (``returns.series_returns``)."""
        return _returns.series_returns(
            self.levels[series_id], self.spec(series_id), self.closed.get(series_id), self.max_gap_days
        )

    def pair_returns(self, a: str, b: str) -> pd.DataFrame:
        """Both legs' log returns on the days both were observed and both markets open
        (``returns.pair_returns``; NaN across a gap longer than ``max_gap_days``)."""
        return _returns.pair_returns(self.levels, self.specs, a, b, self.closed, self.max_gap_days)
