"""Plumbing shared by every step: errors a user can fix, logging, progress of long work,
atomic writes and the config schema's defaults."""

import errno
import json
import logging
import os
import secrets
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

logger = logging.getLogger(__name__)


class InputDataError(Exception):
    """Bad input a user can fix: the message names the file, the column or row, and what to do."""


class ArgumentError(InputDataError):
    """A ``run()`` argument that cannot be used, named by its keyword: the workflow shows
    it as one line, the command as a usage error on its flag (exit 2)."""

    def __init__(self, name: str, detail: str):
        self.name, self.detail = name, detail
        super().__init__(f"{name}: {detail}")


class DiskFullError(Exception):
    """An output did not fit on its disk: the message names the file and the space it needs."""


def configure_logging(log_path: str | os.PathLike | None = None, level: int = logging.INFO) -> None:
    """Send log records (and uncaught tracebacks) to the rule's log file and to stderr."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="a", encoding="utf-8"))
    logging.basicConfig(level=level, format=LOG_FORMAT, handlers=handlers, force=True)
    # chatty third-party loggers would bury our own lines
    for noisy in ("matplotlib", "PIL", "urllib3", "yfinance", "peewee", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    def log_uncaught(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        logging.getLogger("uncaught").error("uncaught exception", exc_info=(exc_type, exc, tb))

    sys.excepthook = log_uncaught


@contextmanager
def one_line_errors() -> Iterator[None]:
    """A user-fixable error (bad input, a full disk) ends the process with one clear line
    (in the log when one is configured, else on stderr) and exit code 1; anything else
    is a bug and keeps its traceback."""
    try:
        yield
    except (InputDataError, DiskFullError) as err:
        logging.getLogger("main").error("%s", err)
        if not logging.getLogger().handlers:
            print(f"error: {err}", file=sys.stderr)
        sys.exit(1)


def run_main(main: Callable[[list[str] | None], Any], argv: list[str] | None = None) -> None:
    """Run a command's main(argv) with ``one_line_errors``."""
    with one_line_errors():
        main(argv)


def cli_parser(doc: str | None):
    """The script's argument parser, its help text taken from the module docstring.

    Under Snakemake's ``script:`` the docstring is not the module's first statement, so
    ``__doc__`` is None there; the parser then simply has no description.
    """
    import argparse

    doc = doc or ""
    parser = argparse.ArgumentParser(
        description=(doc.splitlines() or [""])[0],
        epilog=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="threads for compiled kernels (default: all)"
    )
    parser.add_argument("--log", default=None, help="log file (default: stderr only)")
    return parser


class Progress:
    """Progress of long work, counted in ``unit``: a bar redrawn in place on a terminal
    (``stream`` a TTY), otherwise a log line at most every ``every_s`` seconds and one at
    the end (a rule's log, a cluster job's output). ``clock`` is injectable for tests."""

    def __init__(
        self,
        label: str,
        total: int,
        unit: str = "",
        every_s: float = 10.0,
        stream=None,
        clock: Callable[[], float] = time.monotonic,
        log: logging.Logger | None = None,
    ):
        self.label, self.total, self.unit, self.every_s = label, total, unit, every_s
        self.stream = stream if stream is not None else sys.stderr
        self.clock, self.log = clock, log or logger
        self.done, self.started = 0, clock()
        self.last_line = self.started
        self.on_terminal = hasattr(self.stream, "isatty") and self.stream.isatty()

    def advance(self, count: int = 1, detail: str = "") -> None:
        self.done += count
        now = self.clock()
        if self.on_terminal:
            width = 30
            filled = int(width * self.done / self.total) if self.total else width
            self.stream.write(
                f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                f"{self.done}/{self.total} {self.unit} {detail}".rstrip()[:120].ljust(80)
            )
            self.stream.flush()
        elif now - self.last_line >= self.every_s:
            self.last_line = now
            self.log.info(
                "%s: %d of %d %s done (%.0f s)%s",
                self.label,
                self.done,
                self.total,
                self.unit,
                now - self.started,
                f"; {detail}" if detail else "",
            )

    def close(self) -> None:
        if self.on_terminal:
            self.stream.write("\n")
            self.stream.flush()
        self.log.info(
            "%s: %d of %d %s done in %.1f s",
            self.label,
            self.done,
            self.total,
            self.unit,
            self.clock() - self.started,
        )


JOB_THREADS: int | None = None  # the job's thread count (Snakemake's ``threads:``, --threads)


def job_threads() -> int:
    """The threads this job may use: its ``threads:`` (or --threads), else this machine's cores."""
    return max(1, min(JOB_THREADS or os.cpu_count() or 1, os.cpu_count() or 1))


def limit_threads(threads: int | None) -> None:
    """Hold numba's kernels (and ``job_threads()``) to the job's thread count (Snakemake's ``threads:``)."""
    global JOB_THREADS
    if not threads:
        return
    JOB_THREADS = threads
    if "numba" not in sys.modules:
        # numba reads NUMBA_NUM_THREADS when it is first imported: a step without compiled
        # kernels (ingest, clean, features, dq) never imports numba (~0.15 s a process)
        os.environ["NUMBA_NUM_THREADS"] = str(max(1, min(threads, os.cpu_count() or 1)))
        return
    import numba

    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))


# temp files of writes under way: removed if SIGTERM or SIGINT ends the process mid-write
LIVE_TEMP_FILES: set[Path] = set()
CLEANUP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_previous_handlers: dict[int, Any] = {}


def remove_live_temp_files_then_resume(signum: int, frame) -> None:
    """A SIGTERM or SIGINT handler: remove every temp file being written, then do what the
    signal did before (the default: end the process by that very signal, so a scheduler
    sees it killed; a handler of Snakemake's or pytest's: call it)."""
    for tmp in list(LIVE_TEMP_FILES):
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
    previous = _previous_handlers.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def install_temp_file_cleanup() -> None:
    """Install ``remove_live_temp_files_then_resume`` once per process (main thread only:
    Python delivers signals there), keeping the handlers found to resume them."""
    if _previous_handlers or threading.current_thread() is not threading.main_thread():
        return
    for signum in CLEANUP_SIGNALS:
        previous = signal.getsignal(signum)
        if previous is None or previous == signal.SIG_IGN:
            continue  # installed outside Python, or ignored: left as it is
        _previous_handlers[signum] = previous
        signal.signal(signum, remove_live_temp_files_then_resume)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path in the target's folder; rename it onto the target only on success.

    The temp file is not created here: the writer creates it. Opening an existing file
    for writing truncates it, and on ext4 (auto_da_alloc) closing a truncated file
    starts its write-back at once: ~0.15 s for the 400 MB all-pairs file. A SIGTERM or
    SIGINT while it is written removes it (``install_temp_file_cleanup``); only SIGKILL
    can leave one behind (hidden, ``.<name>.<random>.tmp``)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{secrets.token_hex(8)}.tmp"
    install_temp_file_cleanup()
    LIVE_TEMP_FILES.add(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as err:
        # pyarrow's writers raise OSError without an errno, the C library's text in the message
        if err.errno not in (errno.ENOSPC, errno.EDQUOT) and "No space left on device" not in str(err):
            raise
        written = tmp.stat().st_size if tmp.exists() else 0
        tmp.unlink(missing_ok=True)  # its space counts as free in the message
        raise DiskFullError(disk_full_message(target, written)) from None
    finally:
        tmp.unlink(missing_ok=True)
        LIVE_TEMP_FILES.discard(tmp)


def byte_words(size: float) -> str:
    """A size in bytes as people read it: 512 B, 3.4 MB, 1.2 GB."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def disk_full_message(target: Path, written: int) -> str:
    """One line on an output that did not fit: where, how much is free, how much it needs
    (at least what was written before the disk filled, or the size of its earlier version)."""
    import shutil

    earlier = target.stat().st_size if target.is_file() else 0
    needed = max(written, earlier)
    free = shutil.disk_usage(target.parent).free
    kept = f"the earlier {target} is kept" if earlier else f"no {target} was written"
    space = (
        f"it needs at least {byte_words(needed)} and {target.parent} has {byte_words(free)} free"
        if needed
        else f"it needs more than the {byte_words(free)} free in {target.parent}"
    )
    return (
        f"disk full writing {target}: {space} ({kept}); free space there (or move the workflow) and run again"
    )


def write_text_atomic(text: str, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(obj: Any, path: str | os.PathLike) -> None:
    write_text_atomic(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", path)


def write_csv_atomic(frame: pd.DataFrame, path: str | os.PathLike, **kwargs) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, lineterminator="\n", **kwargs)


def schema_defaults(schema_path: str | os.PathLike | None = None) -> dict:
    """Every default of the config schema, nested like config.yaml: the one home of
    defaults, read by scripts run on their own (their CLI defaults come from here)."""
    from corrflow.config.schema import load_schema
    from corrflow.config.schema import schema_defaults as defaults_of

    return defaults_of(load_schema(schema_path))
