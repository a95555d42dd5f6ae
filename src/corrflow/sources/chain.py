"""The fallback chain, per series: live source -> verified cache -> bundled snapshot ->
missing (a local CSV source is read as it is), and the ``.ok`` record of what served it.

A live answer is accepted only against every reference there is (the cache, the
snapshot, else its own plausibility: ``_sources.acceptance``); a refused answer is never
written to the cache."""

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from corrflow.http_client import RetryPolicy, Throttle
from corrflow.io import InputDataError, schema_defaults
from corrflow.sources import REGISTRY
from corrflow.sources.acceptance import RevisionLimits
from corrflow.sources.base import FetchContext, Live
from corrflow.sources.cache import cache_path, read_cache, utc_now, write_cache
from corrflow.sources.csv_format import clip_to_range, parse_series_csv, read_csv_text

logger = logging.getLogger("ingest")

SERVED_STATUSES = ("fresh", "local", "cached", "snapshot")


@dataclass
class Outcome:
    """What served one series, as the `.ok` file records it."""

    series: pd.Series | None
    status: str  # fresh | cached | snapshot | local | missing
    attempts: int = 0
    last_error: str | None = None
    notes: list[str] = field(default_factory=list)
    origin: str = "missing"
    downloaded_at: str | None = None
    path: str | None = None
    column: str | None = None
    refused: list[str] = field(default_factory=list)
    revisions: list[dict] = field(default_factory=list)  # accepted revisions: {"date", "old", "new"}
    attempt_s: list[float] = field(default_factory=list)  # wall time of each live attempt


def snapshot_reference(snapshot_dir: Path, spec: dict) -> pd.Series | None:
    """The bundled snapshot copy a live answer is held against (None: none, or unreadable)."""
    path = snapshot_dir / f"{spec['id']}.csv"
    if not path.exists():
        return None
    try:
        text, _ = read_csv_text(path)
        return parse_series_csv(text, spec["id"], origin=str(path))
    except InputDataError as err:
        logger.warning("%s: the snapshot cannot be compared with a download: %s", spec["id"], err)
        return None


def serve_from_files(
    spec: dict, cache_entry, snapshot_dir: Path, start: str, end: str, live: Live
) -> Outcome:
    """The cache copy (already verified), else the snapshot, else missing."""
    common = {
        "attempts": live.attempts,
        "last_error": live.last_error,
        "refused": live.refused,
        "attempt_s": live.attempt_s,
    }
    if cache_entry is not None:
        clipped = clip_to_range(cache_entry.series, start, end)
        if clipped.notna().any():
            downloaded = cache_entry.meta["downloaded_at"]
            return Outcome(
                clipped,
                "cached",
                origin=f"cache (downloaded {str(downloaded)[:10]})",
                downloaded_at=downloaded,
                path=str(cache_entry.path),
                column=cache_entry.meta["column"],
                **common,
            )
        logger.warning("%s: cache file has no values in %s..%s", spec["id"], start, end)
    path = snapshot_dir / f"{spec['id']}.csv"
    if path.exists():
        text, _ = read_csv_text(path)
        series = parse_series_csv(text, spec["id"], origin=str(path))
        clipped = clip_to_range(series, start, end)
        if clipped.notna().any():
            return Outcome(
                clipped,
                "snapshot",
                origin="offline snapshot",
                path=str(path),
                column=series.attrs["column"],
                **common,
            )
        logger.warning("%s: snapshot file has no values in %s..%s", spec["id"], start, end)
    return Outcome(None, "missing", **common)


def ingest_source(
    source: str,
    specs: list[dict],
    start: str,
    end: str,
    offline: bool,
    network: dict,
    paths: dict,
    policy: RetryPolicy,
    api_key: str | None = None,
    yahoo_fetch: Callable | None = None,
    throttle: Throttle | None = None,
) -> dict[str, Outcome]:
    """Serve every series of one source from the first level that works."""
    adapter = REGISTRY[source]()
    cache_dir = Path(paths["cache"])
    snapshot_dir = Path(paths["snapshot"])
    network = {**schema_defaults()["network"], **network}
    ctx = FetchContext(
        start,
        end,
        network,
        paths,
        policy,
        api_key=api_key,
        throttle=throttle,
        yahoo_fetch=yahoo_fetch,
        source=source,
        limits=RevisionLimits.from_network(network),
    )
    outcomes: dict[str, Outcome] = {}
    if adapter.local:
        for series_id, live in adapter.fetch(specs, ctx).items():
            series = clip_to_range(live.series.rename(series_id), start, end)
            for note in live.notes:
                logger.warning("%s: %s: %s", series_id, live.path, note)
            outcomes[series_id] = Outcome(
                series,
                "local",
                attempts=live.attempts,
                notes=live.notes,
                origin=f"local file {live.path}",
                path=live.path,
                column=live.column,
            )
            logger.info(
                "%s: local file %s, %d rows, column %r", series_id, live.path, len(series), live.column
            )
        return outcomes
    entries = {spec["id"]: read_cache(cache_path(cache_dir, source, spec["id"]), spec) for spec in specs}
    ctx.previous = {k: (e.series if e is not None else None) for k, e in entries.items()}
    if offline:
        logger.info("%s: offline mode, skipping the network", source)
        lives = {}
    else:
        ctx.snapshot = {spec["id"]: snapshot_reference(snapshot_dir, spec) for spec in specs}
        lives = adapter.fetch(specs, ctx)
    for spec in specs:
        series_id = spec["id"]
        live = lives.get(series_id) or Live()
        for reason in live.refused:
            logger.warning("%s: download refused: %s", series_id, reason)
        if live.series is not None and live.series.notna().any():
            series = clip_to_range(live.series.rename(series_id), start, end)
            now = utc_now()
            write_cache(
                series,
                cache_path(cache_dir, source, series_id),
                source=source,
                symbol=spec.get("symbol", series_id),
                column=live.column,
                downloaded_at=now,
            )
            outcome = Outcome(
                series,
                "fresh",
                attempts=live.attempts,
                last_error=live.last_error,
                notes=live.notes,
                origin=f"live {adapter.label}",
                downloaded_at=now,
                column=live.column,
                refused=live.refused,
                revisions=live.revisions,
                attempt_s=live.attempt_s,
            )
            for revision in live.revisions:
                logger.info(
                    "%s: revised on %s: %s -> %s",
                    series_id,
                    revision["date"],
                    revision["old"],
                    revision["new"],
                )
        else:
            outcome = serve_from_files(spec, entries[series_id], snapshot_dir, start, end, live)
        if outcome.status == "missing":
            logger.warning(
                "%s: MISSING - no live data, no usable cache, not in the snapshot; pairs with it are skipped",
                series_id,
            )
        else:
            logger.info(
                "%s: %s from %s, %d rows", series_id, outcome.status, outcome.origin, len(outcome.series)
            )
        outcomes[series_id] = outcome
    return outcomes


def tidy_frame(outcomes: dict[str, Outcome]) -> pd.DataFrame:
    parts = [
        pd.DataFrame(
            {"series": series_id, "date": o.series.index.strftime("%Y-%m-%d"), "value": o.series.to_numpy()}
        )
        for series_id, o in sorted(outcomes.items())
        if o.series is not None
    ]
    if not parts:
        return pd.DataFrame(
            {"series": pd.Series(dtype=str), "date": pd.Series(dtype=str), "value": pd.Series(dtype=float)}
        )
    return pd.concat(parts, ignore_index=True)


def status_record(source: str, outcomes: dict[str, Outcome], tidy: pd.DataFrame) -> dict:
    """The `.ok` file: per series the level that served it and why, rows and a digest."""
    records = []
    for series_id, o in sorted(outcomes.items()):
        rows = tidy[tidy["series"] == series_id]
        digest = hashlib.sha256(rows.to_csv(index=False, lineterminator="\n").encode()).hexdigest()
        records.append(
            {
                "series": series_id,
                "status": o.status,
                "origin": o.origin,
                "downloaded_at": o.downloaded_at,
                "path": o.path,
                "column": o.column,
                "attempts": o.attempts,
                "last_error": o.last_error,
                "refused": o.refused,
                "revisions": o.revisions,
                "attempt_s": [round(seconds, 3) for seconds in o.attempt_s],
                "rows": len(rows),
                "first": rows["date"].iloc[0] if len(rows) else None,
                "last": rows["date"].iloc[-1] if len(rows) else None,
                "sha256": digest,
                "notes": o.notes,
            }
        )
    return {
        "source": source,
        "partial": any(r["status"] not in ("fresh", "local") for r in records),
        "written_at": utc_now(),
        "series": records,
    }
