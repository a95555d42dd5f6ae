"""Ingest in chunks: a live source's series are fetched ``network.chunk_size`` at a time,
each chunk one call of the source's ``fetch`` with its own retry budget, and each chunk's
result is recorded in ``<cache>/<source>/chunks.json`` (written atomically after every
chunk) so that a rerun fetches only the chunks that did not finish fresh.

A chunk is served from the cache instead of being fetched again only when an earlier
run's record of it says every one of its series was fresh, and that record is for the
same start and end, the same series specs (ids, symbols, kinds), the same UTC day (a
fixed ``end`` stays the same for days: the record must not stand in for a newer
download), and that earlier run left some chunk unfinished: a record whose every chunk
finished fresh resumes nothing, so the next run downloads everything again. The chain
then checks each cache file is intact and is the very download the chunk wrote (its
sidecar's ``downloaded_at``).
"""

import hashlib
import json
import logging
from pathlib import Path

from corrflow.data.sources.cache import utc_now
from corrflow.io import write_json_atomic

logger = logging.getLogger("ingest")

CHUNKS_FILE = "chunks.json"


def split_into_chunks(specs: list[dict], chunk_size: int) -> list[list[dict]]:
    return [specs[i : i + chunk_size] for i in range(0, len(specs), chunk_size)]


def specs_digest(specs: list[dict]) -> str:
    """The chunk's series as configured: a changed symbol or kind is another chunk."""
    return hashlib.sha256(json.dumps(specs, sort_keys=True, default=str).encode()).hexdigest()


def chunks_path(cache_root: str | Path, source: str) -> Path:
    return Path(cache_root) / source / CHUNKS_FILE


class ChunkLedger:
    """This run's record of its chunks, and what an unfinished earlier run left."""

    def __init__(self, path: Path, source: str, start: str, end: str, chunk_size: int, planned: int):
        self.path, self.source, self.start, self.end = path, source, start, end
        self.chunk_size, self.planned = chunk_size, planned
        self.chunks: dict[int, dict] = {}
        self.earlier = self.unfinished_earlier_chunks()

    def unfinished_earlier_chunks(self) -> list[dict]:
        """The fresh chunks of an earlier run that did not finish (none if it finished)."""
        if not self.path.exists():
            return []
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
            if record.get("complete", False):
                return []
            return [c for c in record["chunks"] if isinstance(c, dict) and c.get("status") == "fresh"]
        except (
            OSError,
            UnicodeDecodeError,
            json.JSONDecodeError,
            AttributeError,
            KeyError,
            TypeError,
        ) as err:
            logger.warning(
                "%s: chunk record %s skipped (%s); every chunk is fetched", self.source, self.path, err
            )
            return []

    def earlier_fresh(self, specs: list[dict]) -> dict | None:
        """An earlier run's record of this very chunk with every series fresh, today."""
        ids, digest, today = [s["id"] for s in specs], specs_digest(specs), utc_now()[:10]
        for chunk in self.earlier:
            if (
                chunk.get("series") == ids
                and chunk.get("specs_sha256") == digest
                and (chunk.get("start"), chunk.get("end")) == (self.start, self.end)
                and str(chunk.get("finished_at", ""))[:10] == today
                and isinstance(chunk.get("downloaded_at"), dict)
            ):
                return chunk
        return None

    def record(self, number: int, specs: list[dict], chunk: dict) -> None:
        """A finished chunk: ``chunk`` holds status, finished_at, downloaded_at per fresh series."""
        self.chunks[number] = {
            "chunk": number,
            "series": [s["id"] for s in specs],
            "specs_sha256": specs_digest(specs),
            "start": self.start,
            "end": self.end,
            **chunk,
        }
        self.save()

    @property
    def complete(self) -> bool:
        return len(self.chunks) == self.planned and all(c["status"] == "fresh" for c in self.chunks.values())

    def save(self) -> None:
        write_json_atomic(
            {
                "source": self.source,
                "chunk_size": self.chunk_size,
                "planned": self.planned,
                "complete": self.complete,
                "written_at": utc_now(),
                "chunks": [self.chunks[n] for n in sorted(self.chunks)],
            },
            self.path,
        )
