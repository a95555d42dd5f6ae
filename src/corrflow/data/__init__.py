"""Layer 1, what comes in: each source's series (``sources``, ``ingest``), laid on its
market's calendar and converted (``calendars``, ``clean``), checked (``dq``), and the file
formats every later step reads (``contracts``)."""

from corrflow._api import lazy_api

_API = {
    "read_parquet": "contracts",
    "read_raw": "contracts",
    "read_rolling_corr": "contracts",
    "write_parquet": "contracts",
    "sessions": "calendars",
    "closed_days": "calendars",
    "clean_prices": "clean",
    "quality_report": "dq",
    "ingest_source": "ingest",
    "robust_centre_scale": "robust",
}
__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
