"""Data-quality checks on the raw files (task H), beside clean and features.

Per series: coverage (first/last date, weekdays expected vs present), history (fail
under 2 values, warn under a year of them), missing values
(rows without a value, e.g. FRED's "." holidays) and the longest gap, duplicated dates,
stale runs (the same value on ``stale_days`` or more observations in a row),
non-positive values of prices, outliers (|daily log return| with a robust z-score,
median/MAD, above ``outlier_z``, listed with dates and values) and the ingest level that
served it. Writes docs/dq_report.md (summary table, then details) and docs/dq_report.json;
with ``--stop-on-fail true`` (config ``dq.stop_on_fail``) any failed check then ends the
run with exit code 1 and the failures listed in the log.
"""

import argparse
import json
import logging

import numpy as np
import pandas as pd

from _helpers import (
    cli_parser,
    InputDataError,
    configure_logging,
    load_json_arg,
    parse_bool,
    run_script,
    write_json_atomic,
    write_text_atomic,
)
from clean import read_raw, read_statuses

logger = logging.getLogger("dq")

CHECKS = (
    "coverage",
    "history",
    "missing",
    "duplicates",
    "stale",
    "non_positive",
    "outliers",
    "format",
    "level",
)
ONE_YEAR = 252
MAD_TO_SD = 1.4826  # MAD of a normal distribution times this is its standard deviation


def longest_run(mask: np.ndarray) -> tuple[int, int]:
    """(length, start position) of the longest run of True."""
    best, best_start, run, start = 0, -1, 0, 0
    for i, flag in enumerate(mask):
        if flag:
            if run == 0:
                start = i
            run += 1
            if run > best:
                best, best_start = run, start
        else:
            run = 0
    return best, best_start


def series_checks(
    values: pd.Series, kind: str, status: str, stale_days: int, outlier_z: float, duplicates: int = 0
) -> dict:
    """All checks of one series; ``values`` on its raw dates (NaN = a row without a value)."""
    valid = values.dropna()
    result: dict = {"kind": kind, "level": status, "rows": int(len(values))}
    if valid.empty:
        result.update(first=None, last=None, checks={c: "n/a" for c in CHECKS} | {"level": "fail"})
        return result
    weekdays = pd.bdate_range(valid.index[0], valid.index[-1])
    present = int(valid.index.isin(weekdays).sum())
    missing_mask = ~weekdays.isin(valid.index)
    gap, gap_start = longest_run(missing_mask)
    unchanged = (valid.diff() == 0).to_numpy()
    stale_len, stale_start = longest_run(unchanged)
    stale_len = stale_len + 1 if stale_len else 0  # n equal differences = n + 1 equal values
    non_positive = valid[valid <= 0] if kind in ("price", "fx") else valid.iloc[0:0]
    outliers = []
    if kind in ("price", "fx", "level") and (valid > 0).all() and len(valid) > 10:
        ret = np.log(valid / valid.shift(1)).dropna()
        mad = (ret - ret.median()).abs().median()
        if mad > 0:
            z = (ret - ret.median()) / (MAD_TO_SD * mad)
            for date in z.index[z.abs() > outlier_z]:
                position = valid.index.get_loc(date)
                outliers.append(
                    {
                        "date": str(date.date()),
                        "value": float(valid.iloc[position]),
                        "previous": float(valid.iloc[position - 1]),
                        "return": float(np.expm1(ret[date])),
                        "z": float(z[date]),
                    }
                )
    result.update(
        {
            "first": str(valid.index[0].date()),
            "last": str(valid.index[-1].date()),
            "weekdays_expected": int(len(weekdays)),
            "weekdays_present": present,
            "values": int(len(valid)),
            "coverage": present / len(weekdays),
            "missing_values": int(values.isna().sum()),
            "longest_gap_days": gap,
            "longest_gap_from": str(weekdays[gap_start].date()) if gap else None,
            "duplicated_dates": duplicates,
            "longest_stale_run": stale_len,
            # difference i compares value i with value i-1, so the run starts one value earlier
            "stale_from": str(valid.index[stale_start - 1].date()) if stale_len >= stale_days else None,
            "non_positive": [{"date": str(d.date()), "value": float(v)} for d, v in non_positive.items()],
            "outliers": outliers,
        }
    )
    result["checks"] = {
        "coverage": (
            "pass" if result["coverage"] >= 0.95 else ("warn" if result["coverage"] >= 0.8 else "fail")
        ),
        "history": "fail" if len(valid) < 2 else ("warn" if len(valid) < ONE_YEAR else "pass"),
        "missing": "pass" if result["missing_values"] == 0 and gap <= 5 else "warn",
        "duplicates": "pass" if duplicates == 0 else "fail",
        "stale": "pass" if stale_len < stale_days else "warn",
        "non_positive": "pass" if non_positive.empty else "fail",
        "outliers": "pass" if not outliers else "warn",
        "format": "pass",  # set from ingest's notes on the source file (quality_report)
        "level": {"fresh": "pass", "local": "pass", "cached": "warn", "snapshot": "warn"}.get(status, "fail"),
    }
    return result


def quality_report(
    raw: pd.DataFrame, specs: list[dict], statuses: dict, stale_days: int, outlier_z: float
) -> dict:
    series = {}
    for spec in specs:
        rows = raw[raw["series"] == spec["id"]]
        duplicates = int(rows.duplicated("date").sum())
        values = pd.Series(rows["value"].to_numpy(), index=pd.DatetimeIndex(rows["date"])).sort_index()
        values = values[~values.index.duplicated(keep="last")]
        ingest_status = statuses.get(spec["id"], {})
        status = ingest_status.get("status", "missing")
        series[spec["id"]] = series_checks(values, spec["kind"], status, stale_days, outlier_z, duplicates)
        series[spec["id"]]["live_attempts"] = ingest_status.get("attempts", 0)
        series[spec["id"]]["live_error"] = ingest_status.get("last_error")
        series[spec["id"]]["source_notes"] = ingest_status.get("notes", [])
        if series[spec["id"]]["checks"]["format"] != "n/a":
            series[spec["id"]]["checks"]["format"] = "warn" if series[spec["id"]]["source_notes"] else "pass"
    return {"thresholds": {"stale_days": stale_days, "outlier_z": outlier_z}, "series": series}


def render_markdown(report: dict) -> str:
    marks = {"pass": "pass", "warn": "**warn**", "fail": "**FAIL**", "n/a": "n/a"}
    lines = [
        "# Data-quality report",
        "",
        f"Checks on the raw files (before cleaning). Thresholds: stale run >= "
        f"{report['thresholds']['stale_days']} equal values; outlier |robust z| > {report['thresholds']['outlier_z']}.",
        "The level check says which ingest level served the series: pass for a live download, "
        "warn for the local cache or the bundled snapshot, fail when nothing could.",
        "",
        "| series | " + " | ".join(CHECKS) + " |",
        "|---|" + "---|" * len(CHECKS),
    ]
    for series_id, r in report["series"].items():
        cells = [marks[r["checks"][c]] + (f" ({r['level']})" if c == "level" else "") for c in CHECKS]
        lines.append(f"| {series_id} | " + " | ".join(cells) + " |")
    lines += ["", "## Details", ""]
    for series_id, r in report["series"].items():
        lines.append(f"### {series_id} ({r['kind']}, served from: {r['level']})")
        lines.append("")
        for note in r.get("source_notes", []):
            lines.append(f"- source file: {note}")
        if r.get("live_error"):
            lines.append(f"- live download failed after {r['live_attempts']} attempt(s): {r['live_error']}")
        if r.get("first") is None:
            lines += ["No data at any level.", ""]
            continue
        lines.append(
            f"- coverage: {r['first']} .. {r['last']}, {r['weekdays_present']} of "
            f"{r['weekdays_expected']} weekdays ({r['coverage']:.1%})"
        )
        gap = (
            f", longest gap {r['longest_gap_days']} weekdays from {r['longest_gap_from']}"
            if r["longest_gap_days"]
            else ""
        )
        lines.append(f"- missing values: {r['missing_values']} rows without a value{gap}")
        lines.append(f"- duplicated dates: {r['duplicated_dates']}")
        stale = f" from {r['stale_from']}" if r["stale_from"] else ""
        lines.append(f"- longest run of equal values: {r['longest_stale_run']}{stale}")
        if r["non_positive"]:
            lines.append(f"- non-positive values: {len(r['non_positive'])}, first {r['non_positive'][0]}")
        if r["outliers"]:
            lines.append(f"- outliers ({len(r['outliers'])}):")
            lines.append("")
            lines.append("  | date | previous | value | return | robust z |")
            lines.append("  |---|---|---|---|---|")
            for o in r["outliers"]:
                lines.append(
                    f"  | {o['date']} | {o['previous']:g} | {o['value']:g} | {o['return']:+.1%} | {o['z']:+.1f} |"
                )
        lines.append("")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli_parser(__doc__)
    parser.add_argument("--raw", nargs="+", required=True)
    parser.add_argument("--ok", nargs="+", required=True)
    parser.add_argument("--series", type=load_json_arg, required=True, help="JSON list of series specs")
    parser.add_argument("--stale-days", type=int, default=10)
    parser.add_argument("--outlier-z", type=float, default=8.0)
    parser.add_argument("--stop-on-fail", type=parse_bool, default=False, help="exit 1 when a check fails")
    parser.add_argument("--md", required=True, help="docs/dq_report.md")
    parser.add_argument("--json", required=True, help="docs/dq_report.json")
    return parser.parse_args(argv)


def read_raw_allowing_duplicates(path: str) -> pd.DataFrame:
    """DQ must see duplicated dates (to count them), which read_raw rejects."""
    try:
        return read_raw(path)
    except InputDataError as err:
        if "duplicated dates" not in str(err):
            raise
        frame = pd.read_csv(path, dtype={"series": str, "date": str})
        frame["date"] = pd.to_datetime(frame["date"], format="%Y-%m-%d")
        return frame


def main(argv=None) -> None:
    args = parse_args(argv)
    configure_logging(args.log)
    raw = pd.concat([read_raw_allowing_duplicates(p) for p in args.raw], ignore_index=True)
    report = quality_report(raw, args.series, read_statuses(args.ok), args.stale_days, args.outlier_z)
    write_json_atomic(report, args.json)
    write_text_atomic(render_markdown(report) + "\n", args.md)
    flagged = {s: [c for c, v in r["checks"].items() if v != "pass"] for s, r in report["series"].items()}
    logger.info("wrote %s and %s; flags %s", args.md, args.json, json.dumps(flagged))
    failed = {s: [c for c, v in r["checks"].items() if v == "fail"] for s, r in report["series"].items()}
    failed = {s: checks for s, checks in failed.items() if checks}
    if failed and args.stop_on_fail:
        for series_id, checks in failed.items():
            logger.error("%s failed: %s", series_id, ", ".join(checks))
        raise InputDataError(
            f"dq: data-quality checks failed ({json.dumps(failed)}) and config key `dq.stop_on_fail` is true; "
            f"details above in this log; fix the data, or set dq.stop_on_fail: false to carry on with warnings"
        )


if __name__ == "__main__":
    run_script(main, globals())
