"""Layer 4, what is shown: the report (``report``) with its figures (``figures``, one
module each and their registry), the offline dashboard (``dashboard``) and the words and
tables both use (``summary``). It reads the analysis outputs; it computes no correlation."""

from corrflow._api import lazy_api

_API = {
    "build_report": "report",
    "build_dashboard": "dashboard",
}
__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
