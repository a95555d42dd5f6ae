"""How the all-pairs pairs are split into blocks of first series (standard library only:
the Snakefile plans the blocks at parse time)."""

from bisect import bisect_left
from itertools import accumulate


def series_blocks(n_series: int, n_blocks: int) -> list[range]:
    """Split the first-series indices 0..N-2 into contiguous blocks of about equal pair
    counts (series i leads N-1-i pairs), for scatter-gather over a cluster."""
    return split_first_series(range(max(n_series - 1, 0)), n_series, n_blocks)


def split_first_series(series: range, n_series: int, n_parts: int) -> list[range]:
    """Split first series ``series`` (of a universe of ``n_series``) into ``n_parts``
    contiguous ranges of about equal pair counts (series i leads N-1-i pairs); a range
    may be empty when there are fewer series than parts."""
    if n_parts < 1:
        raise ValueError("n_blocks must be at least 1")
    leads = [n_series - 1 - i for i in series]
    cumulative = list(accumulate(leads))
    total = cumulative[-1] if cumulative else 0
    cuts = [0]
    for k in range(1, n_parts):
        cuts.append(max(cuts[-1], bisect_left(cumulative, total * k / n_parts) + 1))
    cuts.append(len(leads))
    return [
        range(series.start + min(a, len(leads)), series.start + min(b, len(leads)))
        for a, b in zip(cuts[:-1], cuts[1:], strict=False)
    ]


ALL_PAIRS_ROW_GROUP = 256  # dates per parquet row group of the store: the latest matrix is a small read


def block_parts(n_series: int, n_blocks: int, block: int, n_parts: int) -> list[range]:
    """The first series of each part file of block ``block`` (of ``n_blocks``): the
    block's first series split into ``n_parts`` of about equal pair counts."""
    return split_first_series(series_blocks(n_series, n_blocks)[block], n_series, n_parts)


def block_first_series(meta: dict, names: list[str]) -> list[str]:
    """The first series of an all-pairs block file's pairs, from its metadata (block,
    n_blocks, and part, n_parts for a part file of a block)."""
    parts = block_parts(len(names), meta["n_blocks"], meta["block"], meta.get("n_parts", 1))
    return [names[i] for i in parts[meta.get("part", 0)]]


STORED_DATES = ("every_day", "month_ends", "latest")
AUTO_EVERY_DAY_SERIES = 300  # `dates: auto`: every day up to this many series, month-ends above


def stored_dates(dates: str, n_series: int) -> str:
    """The dates an all-pairs store keeps (``all_pairs.dates``): ``auto`` is every day for
    up to AUTO_EVERY_DAY_SERIES series (44,850 pairs: ~1.1 GB over 20 years of trading
    days as float32), month-ends above (every day of 1,000 series over 20 years would be
    ~13.5 GB on weekdays, month-ends ~0.6 GB)."""
    if dates == "auto":
        return "every_day" if n_series <= AUTO_EVERY_DAY_SERIES else "month_ends"
    if dates not in STORED_DATES:
        raise ValueError(f"all_pairs.dates: {dates!r} is not one of auto, {', '.join(STORED_DATES)}")
    return dates


def stretch_rows(window: int) -> int:
    """Dates per stretch of the all-pairs writer and per row group of an every-day store:
    a whole number of windows, about ALL_PAIRS_ROW_GROUP."""
    return window * max(1, round(ALL_PAIRS_ROW_GROUP / window))


def stored_bytes_per_row(n_series: int, dtype: str) -> float:
    """Bytes per stored row of the long layout, as written: the value, the second series'
    dictionary code bit-packed (the first's and the date run-length and delta encoded to
    almost nothing), a little of page overhead (measured: 5.07 B for 200 series, float32)."""
    return (4 if dtype == "float32" else 8) + max(1, n_series - 1).bit_length() / 8 + 0.1
