"""Layer 3, the all-pairs store: every pair's rolling correlation as a long parquet table
(``all_pairs``: writer and readers), split into blocks of first series (``blocks``, standard
library only: the Snakefile plans them at parse time), one job a block (``block``) and a
manifest of the run (``manifest``)."""

from corrflow._api import lazy_api

_API = {
    "write_all_pairs": "all_pairs",
    "read_all_pairs": "all_pairs",
    "read_month_ends": "all_pairs",
    "block_first_series": "blocks",
}
__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
