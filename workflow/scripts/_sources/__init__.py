"""Ingest sources: one module per source behind ``base.Source``, and the one registry.

Adding a source: write ``_sources/<name>.py`` with a ``Source`` subclass, add one line
below; then add the name to the schema's ``series.items.source`` enum and the
``source`` wildcard constraint in workflow/rules/ingest.smk (a test checks all three agree).
"""

from _sources.fred import FredSource
from _sources.french import FrenchSource
from _sources.local_csv import LocalCsvSource
from _sources.yahoo import YahooSource

REGISTRY = {
    "fred": FredSource,
    "yahoo": YahooSource,
    "csv": LocalCsvSource,
    "french": FrenchSource,
}
