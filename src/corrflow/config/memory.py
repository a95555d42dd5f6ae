"""Memory plans from the config alone (at parse time, with only Snakemake installed): the
universe's days, one all-pairs block's memory, and the block count a budget needs."""

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from corrflow.config.errors import ConfigError
from corrflow.data.dates import business_days
from corrflow.store.blocks import series_blocks, stored_dates, stretch_rows


def universe_days_at_most(series: list[dict], start: str, end: str) -> int:
    """clean.parquet's rows at most, from the config alone and the standard library: every
    day from start to end with a 7-day calendar such as 24/7, else every weekday (cheap
    enough for every parse; the rules' memory plans)."""
    seven_days = any(s.get("calendar") in ("24/7",) for s in series)
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return (last - first).days + 1 if seven_days else business_days(start, end)


def clean_rows_at_most(series: list[dict], start: str, end: str) -> int:
    """clean.parquet's rows at most: the union of the universe's calendars from start to
    end, counted from the calendars when pandas_market_calendars is there (the all-pairs
    plan), else ``universe_days_at_most``."""
    try:
        from corrflow.data.calendars import default_calendar, sessions
    except ImportError:  # only Snakemake here (a dry run on a login node)
        return universe_days_at_most(series, start, end)
    days = None
    for name in sorted({default_calendar(s) for s in series}):
        own = sessions(name, start, end)
        days = own if days is None else days.union(own)
    return len(days)


@dataclass
class AllPairsPlan:
    """One all-pairs block's memory and the blocks to plan for the universe ``series``
    from ``start`` to ``end`` with the `all_pairs` settings ``window``, ``dtype`` and
    ``dates``; ``rows``: clean.parquet's rows if known, else counted on first use
    (``clean_rows_at_most``: the calendars, when installed, are read only if a plan is
    asked for)."""

    series: list[dict]
    start: str
    end: str
    window: int
    dtype: str
    dates: str
    rows: int | None = None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, config: dict, end: str, rows: int | None = None) -> "AllPairsPlan":
        settings = config["all_pairs"]
        window, dtype, dates = settings["window"], settings["dtype"], settings["dates"]
        return cls(config["series"], config["start"], end, window, dtype, dates, rows)

    @property
    def n_series(self) -> int:
        return len(self.series)

    @cached_property
    def days(self) -> int:
        if self.rows is not None:
            return self.rows
        return clean_rows_at_most(self.series, self.start, self.end)

    def block_mb(self, n_blocks: int) -> int:
        """Memory of one all-pairs block in MB, with the pairs split into ``n_blocks``: the sum of
        what its process holds (measured against the peak RSS of real blocks: tests/test_slurm.py):

        - 500 MB: Python with numpy, pandas, pyarrow and numba, compiling the kernels in a
          fresh copy of the workflow (up to 380 MB measured for a small block in a fresh
          clone; about 280 MB with the kernels cached);
        - 4 float64 per series and day: clean.parquet's levels as read, the panel's levels and
          log levels (``corrflow.analytics.correlation.rolling.JointDayPanel``) and a temporary
          while taking the logs; the days are clean.parquet's rows, the union of the universe's
          calendars (every calendar day with a 24/7 series, else about the business days);
        - per pair of the block (of an average block): its window (a ring of 2 x window
          float64) and 12 float64 of state (``corrflow.analytics.correlation.kernels.joint_day_corr``),
          the two buffers of a stretch of ~256 dates the kernel and the writers alternate, and per
          stored date of a stretch (every date, or its month-ends: at most a quarter of its
          dates whatever the calendar) the long layout's date and two int32 series codes
          (``corrflow.store.all_pairs.LongColumns``: one date buffer per part file, each part's
          table built on its own thread), the value and its encoded page; plus 8 int64 of pair
          indices;
        - 6 int64 per pair of the universe: every pair's indices, listed before the block's
          are picked (``corrflow.analytics.correlation.rolling.AllPairsBySeries``).
        """
        n = self.n_series
        pairs = n * (n - 1) / 2 / n_blocks  # blocks differ by ~2% (corrflow.store.blocks.series_blocks)
        rows = stretch_rows(self.window)  # as corrflow.store.all_pairs.write_all_pairs
        every_day = stored_dates(self.dates, n) == "every_day"
        stored_rows = rows if every_day else rows // 4 + 2
        per_value = 4 if self.dtype == "float32" else 8
        per_pair = (
            2 * self.window * 8
            + 12 * 8
            + rows * 2 * per_value
            + stored_rows * (8 + 2 * 4 + 2 * per_value)
            + 8 * 8
        )
        total = 500e6 + 4 * 8 * self.days * n + pairs * per_pair + 6 * 8 * n * (n - 1) / 2
        return int(total / 1e6)

    def blocks_within_budget(self, wanted: int, budget: int) -> int:
        """The fewest blocks (at least ``wanted``) whose planned memory fits ``budget`` MB
        (`all_pairs.mem_mb`); a budget below a block of one first series is a ConfigError."""
        fewest = max(1, self.n_series - 1)
        if self.block_mb(fewest) > budget:
            raise ConfigError(
                f"config key `all_pairs.mem_mb`: {budget} MB is below the {self.block_mb(fewest)} MB a "
                f"block of one first series needs for {self.n_series} series from {self.start} to "
                f"{self.end}; raise it, or shorten the range"
            )
        low, high = max(1, wanted), max(wanted, fewest)
        while low < high:  # planned memory falls as blocks are added
            middle = (low + high) // 2
            if self.block_mb(middle) <= budget:
                high = middle
            else:
                low = middle + 1
        if low > wanted:
            self.notes.append(
                f"note: config key `all_pairs.mem_mb`: {budget} MB per block; {low} blocks of "
                f"{self.block_mb(low)} MB planned"
            )
        return low

    def blocks(self, wanted: int, budget: int | None, enabled: bool) -> int:
        """The blocks to plan: enough for ``budget`` (when given and the branch is on), and no
        more than hold pairs: the blocks split the pairs by their first series, so at most
        N - 1 of them, and no more than a split leaves non-empty (a few tries downwards; a
        universe of thousands of series may keep an empty block or two)."""
        if budget is not None and enabled:
            wanted = self.blocks_within_budget(wanted, budget)
        n_series = self.n_series
        blocks = max(1, min(wanted, n_series - 1))
        blocks = max(1, sum(1 for block in series_blocks(n_series, blocks) if len(block)))
        for _ in range(16):
            if all(len(block) for block in series_blocks(n_series, blocks)) or blocks == 1:
                break
            blocks -= 1
        if blocks < wanted and enabled:
            n_pairs = n_series * (n_series - 1) // 2
            self.notes.append(
                f"note: config key `all_pairs.n_blocks`: {wanted} blocks for {n_pairs} "
                f"pairs of {n_series} series; {blocks} planned (the blocks split the pairs by their first "
                "series)"
            )
        return blocks
