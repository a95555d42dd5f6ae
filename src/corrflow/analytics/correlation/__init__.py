"""Rolling correlations, each pair on its own joint days: one pair or many
(``pair_rolling_corr``, ``all_pairs_rolling_corr``: the compiled joint-day kernels of
``kernels``, driven by ``rolling``), the configured pairs with bands, EWMA, Spearman and
the synchronised estimate (``rolling_corr``), and the universe's matrices and clusters
(``universe``)."""

from corrflow._api import lazy_api

_API = {
    "pair_rolling_corr": "rolling",
    "all_pairs_rolling_corr": "rolling",
    "JointDayPanel": "rolling",
    "fisher_band": "rolling",
    "synchronised_corr": "rolling_corr",
    "universe_correlations": "universe",
    "cluster_representatives": "universe",
}
__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
