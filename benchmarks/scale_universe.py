"""Scale test: the whole workflow on a generated universe of N local-CSV series.

What it measures: wall time and peak memory (RSS) of every job of one cold
``snakemake --cores 2`` run of the default target on a universe of ``--n-series``
series (default 1,000) over ``--years`` years of days ending ``--end`` (default
2025-12-31), read from each rule's ``benchmark:`` file (``logs/benchmarks/**/*.tsv``),
plus the whole run's wall time; any job above ``--rss-limit-mb`` (4,096 MB) is flagged.

The universe: source ``csv`` price series on mixed calendars (55 % NYSE, 15 % XTKS,
15 % XLON, 10 % XETR, 5 % 24/7 crypto), each series' rows exactly its calendar's trading
days (pandas_market_calendars ``valid_days``); prices a geometric random walk driven by a
few common factors (global, regional, crypto) plus noise, seeded; a few series start
late and a few miss a stretch of days. Tokyo, London and Frankfurt series are priced in
JPY, GBP and EUR and converted by three generated fx series (24/5, counted in N), unless
``--local-currency``. Five configured pairs; stress equity and bond are generated
series; ``offline: true``; the model (task G) on unless ``--no-model``. The work
directory is a fresh copy of the workflow (as the tests' ``workflow_copy``), its
``config/config.yaml`` replaced by the generated one.

    python benchmarks/scale_universe.py                         # 1,000 series, no all pairs
    python benchmarks/scale_universe.py --n-series 300 --all-pairs --n-blocks 2
    python benchmarks/scale_universe.py --all-pairs --all-pairs-dates month_ends --all-pairs-mem-mb 3000
    python benchmarks/scale_universe.py --generate-only         # files and config, no run
    python benchmarks/scale_universe.py --table-only            # the table of the last run in --workdir
    python benchmarks/scale_universe.py --job-timeout 900       # stop (and py-spy dump) a job after 15 min
    python benchmarks/scale_universe.py --out benchmarks/scale_1000.md

Run with the project's venv (its ``snakemake`` is the one next to the interpreter).
Snakemake runs with ``--keep-going``; jobs that failed or were stopped have no benchmark
row and are listed under the table. ``--job-timeout`` stops every running job of a rule
that has run longer than that (after a ``py-spy dump`` into logs/ when py-spy is found).
"""

import argparse
import datetime as dt
import os
import platform
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from run import copy_workflow, machine_cpu  # noqa: E402  (one copy of the workflow for tests and benchmarks)

# calendar (pandas_market_calendars name, as config `calendar:` takes it), share of the
# universe, currency of its prices, daily-calendar volatility scale
CALENDARS = (
    ("NYSE", 0.55, "USD", 1.0),
    ("XTKS", 0.15, "JPY", 1.1),
    ("XLON", 0.15, "GBP", 0.9),
    ("XETR", 0.10, "EUR", 1.0),
    ("24/7", 0.05, "USD", 3.0),
)
# fx series converting the non-USD prices: id, base, quote (units of quote per one base), level
FX = (("FXUSDJPY", "USD", "JPY", 110.0), ("FXGBPUSD", "GBP", "USD", 1.5), ("FXEURUSD", "EUR", "USD", 1.2))
MARKER = ".scale_universe"  # marks a work directory this script made (and may wipe)


def trading_days(calendar: str, start: str, end: str) -> pd.DatetimeIndex:
    """The calendar's trading days from start to end, as naive dates."""
    import warnings

    import pandas_market_calendars as mcal

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        days = mcal.get_calendar(calendar).valid_days(start, end)
    return pd.DatetimeIndex(days.tz_localize(None).normalize())


def assign_calendars(n_series: int) -> list[str]:
    """Calendar of each series, in the shares of CALENDARS (largest remainder), NYSE first."""
    shares = np.array([share for _, share, _, _ in CALENDARS]) * n_series
    counts = np.floor(shares).astype(int)
    counts[np.argsort(counts - shares)[: n_series - counts.sum()]] += 1
    return [name for (name, _, _, _), count in zip(CALENDARS, counts, strict=True) for _ in range(count)]


def generate_universe(
    data_dir: Path, n_series: int, start: str, end: str, seed: int, local_currency: bool
) -> tuple[list[dict], dict]:
    """Write ``<id>.csv`` (date,value) per series into ``data_dir``; returns the series
    specs for config and a summary (late starts, gaps, rows)."""
    rng = np.random.default_rng(seed)
    data_dir.mkdir(parents=True, exist_ok=True)
    n_fx = 0 if local_currency else len(FX)
    n_prices = n_series - n_fx
    calendars = assign_calendars(n_prices)
    everyday = pd.date_range(start, end, freq="D")  # the walk runs on every calendar day
    n_days = len(everyday)
    # factor model on calendar days: 0 global, 1 US, 2 Asia, 3 Europe, 4 crypto, 5 rates
    n_factors = 6
    factor_vol = np.array([0.006, 0.004, 0.004, 0.004, 0.02, 0.003])
    factors = rng.normal(size=(n_days, n_factors)) * factor_vol
    region = {"NYSE": 1, "XTKS": 2, "XLON": 3, "XETR": 3, "24/7": 4}
    scale = {name: vol for name, _, _, vol in CALENDARS}
    currency = {name: ccy for name, _, ccy, _ in CALENDARS}
    loadings = np.zeros((n_prices, n_factors))
    loadings[:, 0] = rng.uniform(0.5, 1.5, n_prices)
    for k, name in enumerate(calendars):
        loadings[k, region[name]] = rng.uniform(0.5, 1.5)
        loadings[k, 5] = rng.normal(0, 0.5)
    loadings[1] = [-0.3, -0.2, 0, 0, 0, 2.0]  # S0001, bond-like: rates, against the equity factors
    noise_vol = rng.uniform(0.004, 0.012, n_prices) * np.array([scale[c] for c in calendars])
    noise_vol[1] = 0.002
    drift = rng.normal(0.0002, 0.0002, n_prices)
    log_returns = factors @ loadings.T + rng.normal(size=(n_days, n_prices)) * noise_vol + drift
    log_levels = np.log(rng.uniform(10, 500, n_prices)) + np.cumsum(log_returns, axis=0)

    days = {name: everyday.get_indexer(trading_days(name, start, end)) for name in set(calendars)}
    ids = [f"S{k:04d}" for k in range(n_prices)]
    # a few late starts (~2 %, never the configured pairs' S0000-S0009) and a few gaps (~2 %)
    candidates = np.arange(10, n_prices)
    late = set(rng.choice(candidates, min(len(candidates), max(1, n_prices // 50)), replace=False).tolist())
    gapped = set(rng.choice(candidates, min(len(candidates), max(1, n_prices // 50)), replace=False).tolist())
    specs, rows = [], 0
    for k, (series_id, name) in enumerate(zip(ids, calendars, strict=True)):
        where = days[name]
        if k in late:
            where = where[int(len(where) * rng.uniform(0.15, 0.75)) :]
        if k in gapped:
            first = int(rng.integers(len(where) // 10, len(where) * 9 // 10))
            where = np.delete(where, np.arange(first, min(first + int(rng.integers(5, 40)), len(where))))
        rows += len(where)
        write_csv(data_dir / f"{series_id}.csv", everyday[where], np.exp(log_levels[where, k]))
        spec = {"id": series_id, "source": "csv", "kind": "price", "calendar": name}
        if currency[name] != "USD":
            spec["currency"] = currency[name]
            if local_currency:
                spec["local_currency"] = True
        specs.append(spec)
    fx_days = everyday.get_indexer(trading_days("24/5", start, end))
    for series_id, base, quote, level in FX[:n_fx]:
        shocks, deviation = rng.normal(0, 0.005, n_days), np.zeros(n_days)
        for t in range(1, n_days):  # mean-reverting (AR(1) in logs): stays a plausible rate
            deviation[t] = 0.999 * deviation[t - 1] + shocks[t]
        walk = level * np.exp(deviation)
        rows += len(fx_days)
        write_csv(data_dir / f"{series_id}.csv", everyday[fx_days], walk[fx_days])
        specs.append({"id": series_id, "source": "csv", "kind": "fx", "base": base, "currency": quote})
    counts = pd.Series(calendars).value_counts().to_dict()
    summary = {
        "calendars": counts,
        "fx": n_fx,
        "late_start": sorted(ids[k] for k in late),
        "gaps": sorted(ids[k] for k in gapped),
        "rows": rows,
    }
    return specs, summary


def write_csv(path: Path, dates: pd.DatetimeIndex, values: np.ndarray) -> None:
    lines = [f"{d},{v:.6f}" for d, v in zip(dates.strftime("%Y-%m-%d"), values, strict=True)]
    path.write_text("date,value\n" + "\n".join(lines) + "\n")


def pick_pairs(specs: list[dict], n_pairs: int) -> list[list[str]]:
    """Configured pairs: equity S0000 (NYSE) against the first series of each other
    calendar, then NYSE against NYSE; the rest the first few series in turn."""
    prices = [s for s in specs if s["kind"] == "price"]
    first_of = {}
    for spec in prices[1:]:
        first_of.setdefault(spec["calendar"], spec["id"])
    equity = prices[0]["id"]
    wanted = [first_of[c] for c in ("XTKS", "XLON", "XETR", "24/7", "NYSE") if c in first_of]
    pairs = [[equity, other] for other in wanted if other != equity]
    k = 2
    while len(pairs) < n_pairs and k < len(prices):
        pair = [prices[k - 1]["id"], prices[k]["id"]]
        if pair not in pairs:
            pairs.append(pair)
        k += 1
    return pairs[:n_pairs]


def scale_config(args, specs: list[dict], start: str) -> dict:
    prices = [s["id"] for s in specs if s["kind"] == "price"]
    config = {
        "start": start,
        "end": args.end,
        "offline": True,
        "base_currency": "USD",
        "series": specs,
        "features": {"cash_rate": None},
        "correlation": {"pairs": pick_pairs(specs, args.n_pairs), "windows": [60, 20, 120]},
        "stress": {"equity": prices[0], "bond": prices[1], "vix": None},
        "model": {"enabled": not args.no_model},
    }
    if args.all_pairs:
        all_pairs = {"enabled": True, "n_blocks": args.n_blocks}
        if args.all_pairs_dates:
            all_pairs["dates"] = args.all_pairs_dates
        if args.all_pairs_mem_mb:
            all_pairs["mem_mb"] = args.all_pairs_mem_mb
        config["all_pairs"] = all_pairs
    return config


def prepare(args) -> dict:
    """A fresh copy of the workflow in ``args.workdir`` with the universe and its config."""
    workdir = args.workdir
    if workdir.exists():
        if not (workdir / MARKER).exists() and any(workdir.iterdir()):
            sys.exit(f"error: {workdir} exists and was not made by this script; give another --workdir")
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    (workdir / MARKER).write_text("made by benchmarks/scale_universe.py; wiped on its next run\n")
    copy_workflow(workdir)
    end = dt.date.fromisoformat(args.end)
    start = (end.replace(year=end.year - args.years) + dt.timedelta(days=1)).isoformat()
    started = time.perf_counter()
    specs, summary = generate_universe(
        workdir / "data" / "local", args.n_series, start, args.end, args.seed, args.local_currency
    )
    summary["generate_s"] = time.perf_counter() - started
    config = scale_config(args, specs, start)
    header = (
        "# Generated by benchmarks/scale_universe.py (scale test universe); replaces the default config.\n"
    )
    (workdir / "config" / "config.yaml").write_text(header + yaml.safe_dump(config, sort_keys=False))
    summary.update(start=start, end=args.end, pairs=config["correlation"]["pairs"])
    return summary


class JobWatch:
    """Jobs of the run from Snakemake's output: which started when, which finished, which
    failed; a job running longer than ``limit`` seconds is dumped (py-spy, when given)
    and stopped (SIGTERM to its script's process), and the run goes on (--keep-going)."""

    def __init__(self, workdir: Path, limit: float | None, py_spy: str | None, dump_dir: Path):
        self.workdir, self.limit, self.py_spy, self.dump_dir = workdir, limit, py_spy, dump_dir
        self.rule, self.wildcards = None, ""
        self.running: dict[str, dict] = {}  # jobid -> rule, wildcards, started
        self.failed: list[str] = []
        self.stopped: list[str] = []

    def feed(self, line: str) -> None:
        text = line.strip()
        if match := re.match(r"^(?:local)?rule (\w+):$", text):
            self.rule, self.wildcards = match.group(1), ""
        elif match := re.match(r"^wildcards: (.+)$", text):
            self.wildcards = match.group(1)
        elif (match := re.match(r"^jobid: (\d+)$", text)) and self.rule:
            self.running[match.group(1)] = {
                "rule": self.rule,
                "wildcards": self.wildcards,
                "started": time.perf_counter(),
            }
            self.rule = None
        elif match := re.match(r"^Finished jobid: (\d+)", text):
            self.running.pop(match.group(1), None)
        elif match := re.match(r"^Error in rule (\w+):$", text):
            self.failed.append(match.group(1))
            self.running = {k: v for k, v in self.running.items() if v["rule"] != match.group(1)}

    def processes(self, rule: str) -> list[int]:
        """Process ids of the rule's script (``.snakemake/scripts/tmp*.<rule>.py``)."""
        marker = f"{self.workdir}/.snakemake/scripts/"
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(
                a.decode(errors="replace").startswith(marker) and a.endswith(f".{rule}.py".encode())
                for a in argv
            ):
                found.append(int(entry.name))
        return found

    def check(self) -> None:
        if not self.limit:
            return
        for jobid, job in list(self.running.items()):
            elapsed = time.perf_counter() - job["started"]
            if elapsed < self.limit:
                continue
            name = job["rule"] + (f" ({job['wildcards']})" if job["wildcards"] else "")
            for pid in self.processes(job["rule"]):
                if self.py_spy:
                    dump = self.dump_dir / f"py-spy_{job['rule']}_{pid}.txt"
                    with open(dump, "w") as handle:
                        subprocess.run(
                            [self.py_spy, "dump", "--locals", "--pid", str(pid)],
                            stdout=handle,
                            stderr=subprocess.STDOUT,
                            check=False,
                            timeout=60,
                        )
                    print(f"[scale_universe] {name}: py-spy dump in {dump}", file=sys.stderr)
                os.kill(pid, signal.SIGTERM)
            self.stopped.append(f"{name} after {elapsed:.0f} s")
            print(f"[scale_universe] stopped {name} after {elapsed:.0f} s (--job-timeout)", file=sys.stderr)
            del self.running[jobid]


def run_workflow(args) -> tuple[float, int, str, JobWatch]:
    """``snakemake --cores N --keep-going`` in the work directory; (wall seconds, exit
    code, log path, the jobs watched). Snakemake's output goes to
    logs/scale_snakemake.log and, unless --quiet, to stderr."""
    bindir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join(
            [str(args.workdir / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    log = args.workdir / "logs" / "scale_snakemake.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    # --keep-going: one failed job does not hide the cost of the independent others
    command = [str(bindir / "snakemake"), "--cores", str(args.cores), "--keep-going", *args.snakemake_args]
    print(f"$ cd {args.workdir} && {' '.join(command)}", file=sys.stderr)
    watch = JobWatch(args.workdir, args.job_timeout, args.py_spy, log.parent)
    lines: queue.Queue = queue.Queue()
    started = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen(
            command,
            cwd=args.workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: --timeout stops every job it started
        )

        def read_output():
            for line in process.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read_output, daemon=True).start()

        def interrupted(signum, frame):
            raise KeyboardInterrupt

        # a SIGTERM (or SIGINT, ignored in a background job) to this script stops the run too
        signal.signal(signal.SIGTERM, interrupted)
        signal.signal(signal.SIGINT, interrupted)
        try:
            while True:
                try:
                    line = lines.get(timeout=5)
                except queue.Empty:
                    line = ""
                if line is None:
                    break
                if line:
                    out.write(line)
                    out.flush()
                    watch.feed(line)
                    if not args.quiet:
                        sys.stderr.write(line)
                watch.check()
                if args.timeout and time.perf_counter() - started > args.timeout:
                    raise TimeoutError
            code = process.wait()
        except (TimeoutError, KeyboardInterrupt):
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            out.write(f"\n[scale_universe] stopped after {time.perf_counter() - started:.0f} s\n")
            code = -1
    return time.perf_counter() - started, code, str(log), watch


def benchmark_rows(workdir: Path) -> list[dict]:
    """One row per ``benchmark:`` file: the job (rule and wildcards, from the file's path),
    wall seconds, peak RSS, CPU seconds and mean load (the last repeat if several)."""
    base = workdir / "logs" / "benchmarks"
    rows = []
    for tsv in sorted(base.rglob("*.tsv")):
        frame = pd.read_csv(tsv, sep="\t")
        if frame.empty:
            continue
        last = frame.iloc[-1]

        def number(column, last=last):
            value = pd.to_numeric(last.get(column), errors="coerce")
            return None if pd.isna(value) else float(value)

        rows.append(
            {
                "job": str(tsv.relative_to(base).with_suffix("")),
                "seconds": number("s"),
                "max_rss_mb": number("max_rss"),
                "cpu_s": number("cpu_time"),
                "mean_load": number("mean_load"),
            }
        )
    return sorted(rows, key=lambda r: -(r["seconds"] or 0))


def markdown(args, rows: list[dict], summary: dict | None, wall, code, watch=None) -> str:
    def fmt(value, spec):
        return "-" if value is None else format(value, spec)

    cpu = machine_cpu()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    config = yaml.safe_load((args.workdir / "config" / "config.yaml").read_text())  # as run
    all_pairs = config.get("all_pairs", {})
    settings = ", ".join(f"{k}: {v}" for k, v in all_pairs.items() if k != "enabled")
    blocks_run = sum(row["job"].startswith("all_pairs/block_") for row in rows)
    if blocks_run:  # the workflow may plan more blocks than n_blocks (all_pairs.mem_mb)
        settings += f"; {blocks_run} blocks ran"
    lines = [
        f"## Scale run: {len(config['series']):,} series, "
        + (f"all pairs ({settings})" if all_pairs.get("enabled") else "no all pairs")
        + ("" if config.get("model", {}).get("enabled", True) else ", model disabled"),
        "",
        f"Machine: {cpu}, {os.cpu_count()} cores (load {load:.1f} at the end); Python "
        f"{platform.python_version()}; {dt.date.today()}; `snakemake --cores {args.cores}` "
        f"in {args.workdir}.",
    ]
    if summary:
        calendars = ", ".join(f"{name} {count}" for name, count in summary["calendars"].items())
        lines += [
            "",
            f"Universe: {summary['start']} to {summary['end']}; {calendars}; {summary['fx']} fx series; "
            f"{summary['rows']:,} CSV rows (generated in {summary['generate_s']:.1f} s); "
            f"late start: {len(summary['late_start'])} series; a gap: {len(summary['gaps'])} series; "
            f"pairs: {', '.join('-'.join(p) for p in summary['pairs'])}.",
        ]
    lines += [
        "",
        "| job (rule / wildcards) | wall s | peak RSS MB | CPU s | mean load | |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        flag = "**over the RSS limit**" if (row["max_rss_mb"] or 0) > args.rss_limit_mb else ""
        lines.append(
            f"| {row['job']} | {fmt(row['seconds'], '.1f')} | {fmt(row['max_rss_mb'], '.0f')} | "
            f"{fmt(row['cpu_s'], '.1f')} | {fmt(row['mean_load'], '.0f')} | {flag} |"
        )
    job_sum = sum(r["seconds"] or 0 for r in rows)
    lines += [""]
    if wall is not None:
        status = (
            "ok"
            if code == 0
            else ("stopped (--timeout or a signal)" if code == -1 else f"FAILED (exit {code})")
        )
        lines.append(
            f"Whole run: {wall:.1f} s wall ({status}); jobs' wall seconds add up to {job_sum:.1f} s "
            f"over {len(rows)} jobs."
        )
    if watch is not None and (watch.failed or watch.stopped):
        lines.append(
            f"Failed jobs (no benchmark row): {', '.join(watch.failed) or '-'}"
            + (f"; stopped by --job-timeout: {', '.join(watch.stopped)}" if watch.stopped else "")
            + " (Snakemake's output: logs/scale_snakemake.log)."
        )
    elif watch is not None and wall is not None and code != 0:
        lines.append("The run did not finish; see logs/scale_snakemake.log.")
    over = [r["job"] for r in rows if (r["max_rss_mb"] or 0) > args.rss_limit_mb]
    peak = max(rows, key=lambda r: r["max_rss_mb"] or 0) if rows else None
    if peak:
        lines.append(f"Peak RSS: {peak['max_rss_mb']:.0f} MB ({peak['job']}).")
    lines.append(
        f"Jobs over {args.rss_limit_mb:,} MB: {', '.join(over)}."
        if over
        else f"No job over {args.rss_limit_mb:,} MB."
    )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--n-series", type=int, default=1000, help="series in the universe (default 1000)")
    parser.add_argument("--years", type=int, default=20, help="years of days (default 20)")
    parser.add_argument("--end", default="2025-12-31", help="last date (default 2025-12-31)")
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--n-pairs", type=int, default=5, help="configured pairs (default 5)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/corrflow_scale"))
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--local-currency", action="store_true", help="no fx series: keep local currencies")
    parser.add_argument("--no-model", action="store_true", help="model: enabled: false")
    parser.add_argument("--all-pairs", action="store_true", help="all_pairs: enabled: true")
    parser.add_argument("--n-blocks", type=int, default=2, help="all_pairs.n_blocks (default 2)")
    parser.add_argument(
        "--all-pairs-dates",
        choices=["every_day", "month_ends", "latest", "auto"],
        default=None,
        help="all_pairs.dates (left to the schema's default when not given)",
    )
    parser.add_argument("--all-pairs-mem-mb", type=int, default=None, help="all_pairs.mem_mb")
    parser.add_argument("--rss-limit-mb", type=int, default=4096, help="flag jobs above this peak RSS")
    parser.add_argument("--timeout", type=float, default=None, help="stop the run after this many seconds")
    parser.add_argument(
        "--job-timeout",
        type=float,
        default=None,
        help="stop any job running longer than this many seconds (the run goes on); e.g. 900",
    )
    parser.add_argument(
        "--py-spy",
        default=shutil.which("py-spy"),
        help="py-spy executable: a job stopped by --job-timeout is dumped first (default: on PATH)",
    )
    parser.add_argument("--generate-only", action="store_true", help="write the universe and config, no run")
    parser.add_argument("--table-only", action="store_true", help="table of the last run in --workdir")
    parser.add_argument("--quiet", action="store_true", help="Snakemake's output to its log file only")
    parser.add_argument("--out", type=Path, default=None, help="also write the markdown to this file")
    parser.add_argument(
        "snakemake_args", nargs="*", help="after --: more arguments for snakemake (e.g. a target)"
    )
    args = parser.parse_args(argv)
    args.workdir = args.workdir.resolve()
    if args.n_series < 12:
        parser.error("--n-series: at least 12 (pairs and stress series come from the first ten)")

    summary = wall = code = watch = None
    if not args.table_only:
        summary = prepare(args)
        print(
            f"universe: {args.n_series} series, {summary['rows']:,} rows, written in "
            f"{summary['generate_s']:.1f} s to {args.workdir}",
            file=sys.stderr,
        )
        if args.generate_only:
            return 0
        wall, code, log, watch = run_workflow(args)
        if code != 0:
            print(f"snakemake exited with {code}; its output: {log}", file=sys.stderr)
    text = markdown(args, benchmark_rows(args.workdir), summary, wall, code, watch)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0 if code in (0, None) else 1


if __name__ == "__main__":
    sys.exit(main())
