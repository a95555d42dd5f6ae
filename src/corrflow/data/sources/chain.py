"""The fallback chain, per series: live source -> verified cache -> bundled snapshot ->
missing (a local CSV source is read as it is), and the ``.ok`` record of what served it.

A live answer is accepted only against every reference there is (the cache, the
snapshot, else its own plausibility: ``_sources.acceptance``); a refused answer is never
written to the cache. A live source is fetched in chunks of ``network.chunk_size``
series, each with its own retry budget; a rerun fetches only the chunks that did not
finish fresh (``sources/chunks.py``)."""

import dataclasses
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from corrflow.data.http_client import RetryPolicy, Throttle
from corrflow.data.sources import REGISTRY
from corrflow.data.sources.acceptance import RevisionLimits
from corrflow.data.sources.base import FetchContext, Live
from corrflow.data.sources.cache import cache_path, read_cache, utc_now, write_cache
from corrflow.data.sources.chunks import ChunkLedger, chunks_path, split_into_chunks
from corrflow.data.sources.csv_format import clip_to_range, parse_series_csv, read_csv_text
from corrflow.io import InputDataError, schema_defaults

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
    network_s: list[float] = field(default_factory=list)  # of each attempt: on the network
    parse_s: list[float] = field(default_factory=list)  # of each attempt: parsing and checks
    chunk: dict | None = None  # the live chunk it was in: number, of, status, finished_at


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
        "network_s": live.network_s,
        "parse_s": live.parse_s,
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


def serve_series(
    spec: dict,
    live: Live,
    entry,
    snapshot_dir: Path,
    cache_dir: Path,
    source: str,
    label: str,
    start: str,
    end: str,
) -> Outcome:
    """One series from its live answer (cached once accepted), else from the files."""
    series_id = spec["id"]
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
            origin=f"live {label}",
            downloaded_at=now,
            column=live.column,
            refused=live.refused,
            revisions=live.revisions,
            attempt_s=live.attempt_s,
            network_s=live.network_s,
            parse_s=live.parse_s,
        )
        for revision in live.revisions:
            logger.info(
                "%s: revised on %s: %s -> %s", series_id, revision["date"], revision["old"], revision["new"]
            )
    else:
        outcome = serve_from_files(spec, entry, snapshot_dir, start, end, live)
    if outcome.status == "missing":
        logger.warning(
            "%s: MISSING - no live data, no usable cache, not in the snapshot; pairs with it are skipped",
            series_id,
        )
    else:
        logger.info("%s: %s from %s, %d rows", series_id, outcome.status, outcome.origin, len(outcome.series))
    return outcome


def served_from_earlier_chunk(
    chunk_specs: list[dict], earlier: dict, entries: dict, start: str, end: str
) -> tuple[dict[str, Outcome] | None, str | None]:
    """The chunk's series from the cache files an earlier run's fresh chunk wrote, or
    (None, why not): each must be intact (``read_cache``), be that very download and hold
    values in the range."""
    outcomes = {}
    for spec in chunk_specs:
        series_id, entry = spec["id"], entries[spec["id"]]
        if entry is None:
            return None, f"{series_id} has no intact cache file"
        if entry.meta["downloaded_at"] != earlier["downloaded_at"].get(series_id):
            return None, f"{series_id}'s cache file is not that chunk's download"
        series = clip_to_range(entry.series, start, end)
        if not series.notna().any():
            return None, f"{series_id}'s cache file has no values in {start}..{end}"
        downloaded = entry.meta["downloaded_at"]
        outcomes[series_id] = Outcome(
            series,
            "cached",
            origin=f"cache (fresh in an earlier run, downloaded {str(downloaded)[:10]})",
            downloaded_at=downloaded,
            path=str(entry.path),
            column=entry.meta["column"],
        )
    return outcomes, None


# stops that say the next chunk would fare no better; a used-up budget is the chunk's own
CARRIED_STOPS = ("NetworkDown", "SourceUnreachable")


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
    """Serve every series of one source from the first level that works; a live source
    in chunks of ``network.chunk_size`` series (``sources/chunks.py``)."""
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

    def serve(spec: dict, live: Live) -> Outcome:
        return serve_series(
            spec, live, entries[spec["id"]], snapshot_dir, cache_dir, source, adapter.label, start, end
        )

    if offline:
        logger.info("%s: offline mode, skipping the network", source)
        return {spec["id"]: serve(spec, Live()) for spec in specs}
    ctx.snapshot = {spec["id"]: snapshot_reference(snapshot_dir, spec) for spec in specs}
    return fetch_in_chunks(adapter, specs, ctx, entries, serve)


def fetch_in_chunks(
    adapter, specs: list[dict], ctx: FetchContext, entries: dict, serve: Callable[[dict, Live], Outcome]
) -> dict[str, Outcome]:
    """A live source, ``network.chunk_size`` series per ``fetch`` call, each chunk with its
    own deadline and budget; a chunk fresh in an unfinished earlier run is served from
    the cache it wrote (``sources/chunks.py``). Progress is logged per chunk."""
    source, start, end, policy = ctx.source, ctx.start, ctx.end, ctx.policy
    chunk_size = int(ctx.network["chunk_size"])
    chunks = split_into_chunks(specs, chunk_size)
    ledger = ChunkLedger(chunks_path(ctx.paths["cache"], source), source, start, end, chunk_size, len(chunks))
    logger.info(
        "%s: %d series in %d chunk(s) of up to %d (network.chunk_size)",
        source,
        len(specs),
        len(chunks),
        chunk_size,
    )
    carried_stop = policy.stopped_by if policy.stopped_by in CARRIED_STOPS else None
    outcomes: dict[str, Outcome] = {}
    run_chunks: list[dict] = []  # this run's chunks as the `.ok` file records them
    started = time.monotonic()
    for number, chunk_specs in enumerate(chunks, start=1):
        where = f"{source} chunk {number} of {len(chunks)}"
        earlier = ledger.earlier_fresh(chunk_specs)
        if earlier is not None:
            resumed, why_not = served_from_earlier_chunk(chunk_specs, earlier, entries, start, end)
            if resumed is not None:
                logger.info(
                    "%s: fresh in an earlier run at %s, not fetched again (%d series from the cache)",
                    where,
                    earlier["finished_at"],
                    len(resumed),
                )
                chunk = {"number": number, "of": len(chunks), "status": "cached"}
                chunk["finished_at"] = earlier["finished_at"]
                for series_id, outcome in resumed.items():
                    outcome.chunk = chunk
                    logger.info("%s: cached from %s, %d rows", series_id, outcome.origin, len(outcome.series))
                run_chunks.append(chunk)
                outcomes.update(resumed)
                # the record stays the earlier run's: fresh then, from that download
                keep = ("status", "finished_at", "downloaded_at", "failed", "seconds")
                ledger.record(number, chunk_specs, {key: earlier.get(key) for key in keep})
                continue
            logger.info(
                "%s: fresh in an earlier run at %s, but %s; fetched again",
                where,
                earlier["finished_at"],
                why_not,
            )
        # each chunk its own deadline and budget; a network found down stays down
        ctx.policy = dataclasses.replace(policy, waited_s=0.0, network_used_s=0.0, stopped_by=carried_stop)
        chunk_started = time.monotonic()
        lives = adapter.fetch(chunk_specs, ctx)
        served = {spec["id"]: serve(spec, lives.get(spec["id"]) or Live()) for spec in chunk_specs}
        seconds = time.monotonic() - chunk_started
        if ctx.policy.stopped_by in CARRIED_STOPS:
            carried_stop = policy.stopped_by = ctx.policy.stopped_by
        fresh = [series_id for series_id, o in served.items() if o.status == "fresh"]
        failed = [series_id for series_id in served if series_id not in fresh]
        chunk = {
            "number": number,
            "of": len(chunks),
            "status": "failed" if failed else "fresh",
            "finished_at": utc_now(),
        }
        for outcome in served.values():
            outcome.chunk = chunk
        run_chunks.append(chunk)
        outcomes.update(served)
        ledger.record(
            number,
            chunk_specs,
            {
                "status": chunk["status"],
                "finished_at": chunk["finished_at"],
                "downloaded_at": {series_id: served[series_id].downloaded_at for series_id in fresh},
                "failed": failed,
                "seconds": round(seconds, 3),
            },
        )
        logger.info(
            "%s: %d series, fresh %d, rows %d, %.1f s%s",
            where,
            len(chunk_specs),
            len(fresh),
            sum(len(served[series_id].series) for series_id in fresh),
            seconds,
            f"; not fresh: {', '.join(failed)}" if failed else "",
        )
    counts = Counter(chunk["status"] for chunk in run_chunks)
    again = [str(chunk["number"]) for chunk in run_chunks if chunk["status"] == "failed"]
    logger.info(
        "%s: %d chunk(s) in %.1f s: %s%s",
        source,
        len(chunks),
        time.monotonic() - started,
        ", ".join(f"{counts[status]} {status}" for status in ("fresh", "cached", "failed") if counts[status]),
        f"; a rerun today fetches chunk(s) {', '.join(again)} again" if again else "",
    )
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
    """The `.ok` file: per series the level that served it and why, rows and a digest;
    for a live run also ``chunks``: each chunk's number, status (fresh, failed, or cached:
    fresh in an earlier run), finished_at and series."""
    records = []
    empty = tidy.iloc[:0]
    # one grouping, not a scan of every row per series (1,000 series: 1 s instead of 55 s)
    by_series = dict(iter(tidy.groupby("series", sort=False))) if len(tidy) else {}
    for series_id, o in sorted(outcomes.items()):
        rows = by_series.get(series_id, empty)
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
                "network_s": [round(seconds, 3) for seconds in o.network_s],
                "parse_s": [round(seconds, 3) for seconds in o.parse_s],
                "rows": len(rows),
                "first": rows["date"].iloc[0] if len(rows) else None,
                "last": rows["date"].iloc[-1] if len(rows) else None,
                "sha256": digest,
                "notes": o.notes,
            }
        )
    record = {
        "source": source,
        "partial": any(r["status"] not in ("fresh", "local") for r in records),
        "written_at": utc_now(),
        "series": records,
    }
    chunks = {}
    for series_id, o in sorted(outcomes.items()):
        if o.chunk is not None:
            chunks.setdefault(o.chunk["number"], {**o.chunk, "series": []})["series"].append(series_id)
    if chunks:  # a live run: which chunk served each series, and how that chunk went
        record["chunks"] = [chunks[number] for number in sorted(chunks)]
    return record
