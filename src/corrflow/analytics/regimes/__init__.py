"""Is today a stress regime: sign regimes and the correlation's rank in its own history
(``regimes``, the step), Markov switching states (``markov``), DCC-GARCH (``dcc``), stress
episodes with Forbes-Rigobon adjustments (``stress``) and weekly/monthly correlations
(``horizons``)."""

from corrflow._api import lazy_api

_API = {
    "sign_regimes": "regimes",
    "own_history_percentile": "regimes",
    "build_regimes": "regimes",
    "realtime_probabilities": "markov",
    "dcc_correlation": "dcc",
    "fit_dcc": "dcc",
    "stress_episodes": "stress",
    "forbes_rigobon": "stress",
    "horizon_correlations": "horizons",
}
__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
