"""The one way ingest talks to the network: a GET with a wall-clock deadline, typed
failures, and the retry policy that every source's live attempts go through.

Failures carry a precise ``code`` (``HTTP429``, ``Timeout``, ``DeadlineExceeded``,
``ConnectionRefused``, ``WrongSeries``, ``Truncated``, ``HistoryShrunk``, ``RevisionLimit``,
...) that ends up in the ``.ok`` file, so a 400 and a 429 never look the same; the
seconds each attempt took are recorded beside them.
"""

import http.client
import logging
import random
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("ingest")

CHUNK_BYTES = 64 * 1024


class FetchError(Exception):
    """A live attempt failed. ``code`` names the failure class; ``retryable`` says whether
    another attempt may help; ``unreachable`` that no (timely) answer came at all."""

    def __init__(
        self, message: str, code: str = "FetchError", retryable: bool = True, unreachable: bool = False
    ):
        super().__init__(message)
        self.code = code
        self.retryable = retryable
        self.unreachable = unreachable


class NetworkDown(FetchError):
    """The host name did not resolve: no network here, so no more attempts this run."""

    def __init__(self, message: str):
        super().__init__(message, code="NetworkDown", retryable=False)


def redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def check_host_resolves(url: str) -> None:
    """Raise NetworkDown when the URL's host does not resolve (no network: stop trying).

    Behind a proxy (http(s)_proxy set) the proxy resolves names, so nothing is checked.
    """
    parsed = urllib.parse.urlparse(url)
    host = parsed.hostname or ""
    if parsed.scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(host):
        return
    try:
        socket.getaddrinfo(host, None)
    except socket.gaierror as err:
        raise NetworkDown(f"cannot resolve {host} ({err.strerror})") from None


def error_detail(body: str) -> str:
    """The useful part of an error body: FRED's XML ``message`` attribute, else its start."""
    try:
        return ET.fromstring(body).get("message") or body[:200]
    except ET.ParseError:
        return body[:200]


def socket_failure(err: BaseException, secret: str | None) -> FetchError:
    """A socket-level failure (no answer): refused, reset, timed out, unreachable."""
    reason = getattr(err, "reason", err)
    if isinstance(reason, socket.gaierror):
        return NetworkDown(redact(f"cannot resolve host ({reason.strerror})", secret))
    if isinstance(reason, (TimeoutError, socket.timeout)):
        code = "Timeout"
    elif isinstance(reason, BaseException):
        code = type(reason).__name__.removesuffix("Error") or "OSError"
    else:  # URLError with a text reason
        code = "URLError"
    return FetchError(redact(f"{code}: {reason}", secret), code=code, unreachable=True)


def http_get(url: str, deadline_s: float, secret: str | None = None, clock=time.monotonic) -> bytes:
    """GET ``url``; the whole call (connect, headers, body) ends by ``deadline_s`` seconds.

    The body is streamed and the clock checked after every chunk, and each socket
    operation waits at most the time left, so a server dripping one line at a time
    cannot hold the call open. Failures become FetchError without the URL (it may hold
    a key); a body shorter than its Content-Length is ``Truncated``.
    """
    check_host_resolves(url)
    deadline = clock() + deadline_s

    def time_left() -> float:
        left = deadline - clock()
        if left <= 0:
            raise FetchError(
                f"DeadlineExceeded: no complete answer within {deadline_s:.2f} s",
                code="DeadlineExceeded",
                unreachable=True,
            )
        return left

    try:
        with urllib.request.urlopen(url, timeout=time_left()) as response:
            chunks = []
            while True:
                sock = getattr(getattr(response, "fp", None), "raw", None)
                sock = getattr(sock, "_sock", None)
                if sock is not None:
                    sock.settimeout(time_left())
                chunk = (
                    response.read1(CHUNK_BYTES) if hasattr(response, "read1") else response.read(CHUNK_BYTES)
                )
                time_left()
                if not chunk:
                    break
                chunks.append(chunk)
            expected = response.headers.get("Content-Length")
            body = b"".join(chunks)
            if expected is not None and expected.isdigit() and len(body) < int(expected):
                raise http.client.IncompleteRead(body, int(expected) - len(body))
            return body
    except urllib.error.HTTPError as err:
        detail = error_detail(err.read().decode("utf-8", "replace"))
        retryable = err.code in (408, 429) or err.code >= 500
        raise FetchError(
            redact(f"HTTP {err.code} {err.reason}: {detail}", secret),
            code=f"HTTP{err.code}",
            retryable=retryable,
        ) from None
    except http.client.IncompleteRead as err:
        raise FetchError(
            f"Truncated: the body stopped after {len(err.partial)} bytes, {err.expected} short",
            code="Truncated",
        ) from None
    except http.client.HTTPException as err:  # an answer, but garbled
        raise FetchError(redact(f"{type(err).__name__}: {err}", secret), code="Malformed") from None
    except OSError as err:  # URLError, refused, timed out, reset: no answer
        failure = socket_failure(err, secret)
        if failure.code == "Timeout" and deadline - clock() < 0.05:
            # the socket waited only for the time left: the call's deadline ended it
            failure = FetchError(
                f"DeadlineExceeded: no complete answer within {deadline_s:.2f} s",
                code="DeadlineExceeded",
                unreachable=True,
            )
        raise failure from None


def call_with_deadline(fetch: Callable[[], Any], deadline_s: float | None, label: str) -> Any:
    """Run ``fetch`` in a daemon worker thread and wait at most ``deadline_s`` for it.

    At the deadline the worker is abandoned (it cannot be killed; being a daemon, it
    never holds the process open), so a library whose own timeouts bound each socket
    read but not the call (yfinance, curl) cannot stall the run.
    """
    if deadline_s is None:
        return fetch()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["value"] = fetch()
        except BaseException as err:  # noqa: BLE001 (handed to the caller's thread)
            outcome["error"] = err

    worker = threading.Thread(target=work, name=f"fetch {label}", daemon=True)
    worker.start()
    worker.join(deadline_s)
    if worker.is_alive():
        raise FetchError(
            f"DeadlineExceeded: no complete answer within {deadline_s:.2f} s (call abandoned)",
            code="DeadlineExceeded",
            unreachable=True,
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


class AttemptClock:
    """The seconds one attempt spent on the network, apart from the rest (parsing, checks).

    ``RetryPolicy.call`` sets one per attempt; ``http_get_within`` (every source's transfer)
    adds its time to it, so a source's budget counts the network only."""

    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.network_s = 0.0
        self.transfers = 0

    @contextmanager
    def on_network(self) -> Iterator[None]:
        started = self.clock()
        try:
            yield
        finally:
            self.network_s += self.clock() - started
            self.transfers += 1


CURRENT_ATTEMPT: ContextVar[AttemptClock | None] = ContextVar("current_attempt", default=None)


def http_get_within(url: str, deadline_s: float, label: str, secret: str | None = None) -> bytes:
    """``http_get`` in a worker thread abandoned at ``deadline_s``: the transfer alone,
    name resolution included (``getaddrinfo`` has no timeout of its own), ends by the
    deadline; what the caller does with the bytes afterwards is not timed here. Its time
    counts as the current attempt's network time (``AttemptClock``)."""
    attempt = CURRENT_ATTEMPT.get()
    if attempt is None:
        return call_with_deadline(lambda: http_get(url, deadline_s, secret=secret), deadline_s, label)
    with attempt.on_network():
        return call_with_deadline(lambda: http_get(url, deadline_s, secret=secret), deadline_s, label)


def unreadable_answer(err: Exception, label: str, secret: str | None = None) -> "FetchError":
    """Any error while reading an answer that came (a parser's TypeError on a maintenance
    page, a KeyError on JSON of another shape, a UnicodeDecodeError on binary): a refusal
    with its reason, so the chain falls back to the cache and the snapshot."""
    detail = redact(f"{type(err).__name__}: {err}", secret)[:300]
    return FetchError(f"Malformed: {label}: the answer could not be read ({detail})", code="Malformed")


@dataclass
class Attempts:
    """What the live attempts for one series (or one batch) came to."""

    result: Any = None
    attempts: int = 0
    last_error: str | None = None
    refused: list[str] = field(default_factory=list)  # answers that came but were not accepted
    durations: list[float] = field(default_factory=list)  # wall time of each attempt, in seconds
    network_s: list[float] = field(default_factory=list)  # of each attempt: seconds on the network
    parse_s: list[float] = field(default_factory=list)  # of each attempt: the rest (parsing, checks)


# answers that came back but were not the data asked for (empty ones included): recorded as refusals
REFUSAL_CODES = {
    "WrongSeries", "Truncated", "HistoryShrunk", "NotFinite", "OutOfBounds", "Malformed", "EmptySeries",
    "EmptyAnswer", "RevisionLimit", "Implausible",
}  # fmt: skip


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter, a deadline per attempt and a budget per source,
    both counting time on the network only (``AttemptClock``: parsing an answer on a busy
    machine spends neither). Sleep, clock and random source are injectable so tests stay
    fast; the jitter's random source is unseeded in real runs (spreads clients apart)."""

    retries: int = 3
    backoff_s: float = 1.0
    max_wait_s: float = 15.0
    timeout_s: float | None = None  # wall-clock deadline of one attempt (None: none)
    budget_s: float | None = None  # wall-clock cap on all live attempts of one source
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    waited_s: float = 0.0  # total across this source, to cap the time offline machines lose
    stopped_by: str | None = None  # NetworkDown, SourceUnreachable or BudgetExhausted: no more attempts
    network_used_s: float = 0.0  # this source's attempts' time on the network, against budget_s

    @property
    def network_down(self) -> bool:
        return self.stopped_by is not None

    def backoff(self, attempt: int) -> float:
        """Wait before retry number ``attempt`` (1-based): base * 2**(attempt-1), +-25 % jitter."""
        return self.backoff_s * 2 ** (attempt - 1) * (0.75 + 0.5 * self.rng.random())

    def time_left(self) -> float | None:
        if self.budget_s is None:
            return None
        return self.budget_s - self.network_used_s

    def attempt_deadline(self) -> float | None:
        left = self.time_left()
        if left is None:
            return self.timeout_s
        return left if self.timeout_s is None else min(self.timeout_s, left)

    def call(
        self, fetch: Callable[..., Any], label: str, bounds_itself: bool = False, secret: str | None = None
    ) -> Attempts:
        """Run ``fetch`` with retries; each attempt ends by its deadline whatever the server does.

        By default the whole attempt runs against the deadline in a worker thread, and
        all of it counts as network time (a library such as yfinance fetches and parses
        in one call). With ``bounds_itself`` the attempt is called as ``fetch(deadline_s)``
        in this thread and bounds its own transfers by it (``http_get_within``): only
        those count as network time, against the deadline and the source's budget;
        parsing is recorded apart (``Attempts.parse_s``). Whatever an attempt raises
        while reading an answer becomes a refusal (``unreadable_answer``), never a crash.
        """
        done = Attempts()
        if self.stopped_by:
            done.last_error = self.stopped_by
            return done
        unreachable = True
        for attempt in range(1, self.retries + 2):
            deadline = self.attempt_deadline()
            if deadline is not None and deadline <= 0:
                logger.warning(
                    "%s: the source's time budget of %g s is used up; no more live attempts",
                    label,
                    self.budget_s,
                )
                self.stopped_by = "BudgetExhausted"
                done.last_error = done.last_error or self.stopped_by
                break
            done.attempts = attempt
            timing = AttemptClock(self.clock)
            started = self.clock()
            token = CURRENT_ATTEMPT.set(timing)
            try:
                try:
                    if bounds_itself:
                        done.result = fetch(deadline)
                    else:
                        with timing.on_network():
                            done.result = call_with_deadline(fetch, deadline, label)
                except FetchError:
                    raise
                except Exception as err:  # noqa: BLE001 (an answer no parser expected: refused)
                    raise unreadable_answer(err, label, secret) from None
                finally:
                    CURRENT_ATTEMPT.reset(token)
                    self.record(done, timing, started)
                done.last_error = None
                logger.info(
                    "%s: attempt %d answered in %.2f s (network %.2f s)",
                    label,
                    attempt,
                    done.durations[-1],
                    done.network_s[-1],
                )
                return done
            except FetchError as err:
                done.last_error = err.code
                if err.code in REFUSAL_CODES:
                    done.refused.append(str(err))
                unreachable = unreachable and err.unreachable
                logger.warning(
                    "%s: attempt %d failed: %s (after %.2f s)", label, attempt, err, done.durations[-1]
                )
                if isinstance(err, NetworkDown):
                    self.stopped_by = "NetworkDown"
                    logger.warning("%s: network is down; no further live attempts this run", label)
                    break
                if not err.retryable or attempt > self.retries:
                    if unreachable and attempt > self.retries:
                        # every attempt went unanswered: the next series would fare no better
                        self.stopped_by = "SourceUnreachable"
                        logger.warning("%s: source unreachable; no further live attempts this run", label)
                    break
                wait = self.backoff(attempt)
                if self.waited_s + wait > self.max_wait_s:
                    logger.warning("%s: retry budget of %.0f s used up; giving up", label, self.max_wait_s)
                    break
                logger.info("%s: retry %d in %.2f s", label, attempt, wait)
                self.sleep(wait)
                self.waited_s += wait
        return done

    def record(self, done: Attempts, timing: AttemptClock, started: float) -> None:
        """One attempt's seconds: in all, on the network (counted against the budget), the rest."""
        total = self.clock() - started
        network = min(timing.network_s, total)
        done.durations.append(total)
        done.network_s.append(network)
        done.parse_s.append(total - network)
        self.network_used_s += network


class Throttle:
    """At most one request per ``interval_s`` (FRED answers 429 above about 2 requests/s)."""

    def __init__(self, interval_s: float, clock=time.monotonic, sleep=time.sleep):
        self.interval_s, self.clock, self.sleep, self.last = interval_s, clock, sleep, None

    def wait(self) -> None:
        now = self.clock()
        if self.last is not None and now - self.last < self.interval_s:
            self.sleep(self.interval_s - (now - self.last))
            now = self.clock()
        self.last = now
