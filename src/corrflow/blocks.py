"""How the all-pairs pairs are split into blocks of first series (standard library only:
the Snakefile plans the blocks at parse time)."""

from bisect import bisect_left
from itertools import accumulate


def series_blocks(n_series: int, n_blocks: int) -> list[range]:
    """Split the first-series indices 0..N-2 into contiguous blocks of about equal pair
    counts (series i leads N-1-i pairs), for scatter-gather over a cluster."""
    if n_blocks < 1:
        raise ValueError("n_blocks must be at least 1")
    leads = [n_series - 1 - i for i in range(max(n_series - 1, 0))]
    cumulative = list(accumulate(leads))
    total = cumulative[-1] if cumulative else 0
    cuts = [0]
    for k in range(1, n_blocks):
        cuts.append(max(cuts[-1], bisect_left(cumulative, total * k / n_blocks) + 1))
    cuts.append(len(leads))
    return [range(min(a, len(leads)), min(b, len(leads))) for a, b in zip(cuts[:-1], cuts[1:], strict=False)]


ALL_PAIRS_ROW_GROUP = 256  # dates per parquet row group of the store: the latest matrix is a small read


def block_first_series(meta: dict, names: list[str]) -> list[str]:
    """The first series of an all-pairs block file's pairs, from its metadata (block, n_blocks)."""
    return [names[i] for i in series_blocks(len(names), meta["n_blocks"])[meta["block"]]]
