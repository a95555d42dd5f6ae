"""Layer 2, what is computed from the clean panel (``panel.CleanPanel``: clean.parquet read
once): returns (``returns``), features and the
forecast model, rolling correlations (``correlation``) and regimes and stress (``regimes``)."""

from corrflow._api import lazy_api

_API = {
    "CleanPanel": "panel",
    "pair_returns": "returns",
    "series_returns": "returns",
    "bond_returns_from_yields": "returns",
    "build_features": "features",
}
__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
