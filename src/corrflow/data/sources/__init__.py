"""Ingest sources: one module per source behind ``base.Source``, and the one registry.

Adding a source: write ``corrflow/data/sources/<name>.py`` with a ``Source`` subclass and add
one line below. The registry gives ``corrflow ingest`` its ``--source`` choices, the
Snakemake wildcard constraint and the start-up check of each series' ``source``
(workflow/rules/common.smk, which reads it at parse time: naming a source imports nothing,
its module is imported when it is used).
"""

from collections.abc import Iterator, Mapping
from importlib import import_module

SOURCES = {
    "fred": "corrflow.data.sources.fred:FredSource",
    "yahoo": "corrflow.data.sources.yahoo:YahooSource",
    "csv": "corrflow.data.sources.local_csv:LocalCsvSource",
    "french": "corrflow.data.sources.french:FrenchSource",
}


# The files a source reads that the user writes (a pattern over `paths` and the series id):
# the ingest rule takes those that exist as its input, so an edited, added or deleted file
# re-runs ingest (and what follows) instead of leaving the old data in place
LOCAL_FILES = {"csv": "{local_csv}/{id}.csv"}


def local_files(source: str, series: list[dict], paths: dict) -> list[str]:
    """The files ``source`` reads for ``series`` (none for a network source)."""
    pattern = LOCAL_FILES.get(source)
    return [pattern.format(**paths, id=spec["id"]) for spec in series] if pattern else []


class SourceRegistry(Mapping):
    """Source name -> its ``Source`` class, imported on first use."""

    def __init__(self, paths: dict[str, str]):
        self._paths = paths

    def __getitem__(self, name: str):
        module, attribute = self._paths[name].split(":")
        return getattr(import_module(module), attribute)

    def __contains__(self, name: object) -> bool:
        # by name, importing nothing (Mapping's own `in` would import the source's module)
        return name in self._paths

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


REGISTRY = SourceRegistry(SOURCES)
