"""Ingest sources: one module per source behind ``base.Source``, and the one registry.

Adding a source: write ``_sources/<name>.py`` with a ``Source`` subclass and add one line
below. The registry gives ingest.py its ``--source`` choices, the Snakemake wildcard
constraint and the start-up check of each series' ``source`` (workflow/rules/common.smk).
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
