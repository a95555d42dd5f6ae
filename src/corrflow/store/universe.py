"""The universe step (rule ``universe``): everything the report and the dashboard show about
the universe, computed once. Read from the all-pairs store when it exists (its month-end
matrices, its latest matrix), computed with the joint-day kernel otherwise; the report and
the dashboard only read these files.

- ``summary`` (JSON): the series shown and why any other is left out; the clusters and
  their representatives (a universe over ``READABLE_SERIES``); the heatmap's full-period
  and recent matrices with their periods; the dashboard's clustered order, the month-end
  frames' labels (each frame's real last date, partial months marked, the pairs each
  holds, how many of its cells are dated after the as-of date, the first of its cells' own
  dates, and each cell dated before the frame's date with its own date: ``cells_before``,
  {"A:B": date}; any other cell with a value is on the frame's date), the latest frame
  chosen to describe the universe (the last month at least half the pairs have a value,
  however far back); the absorption ratio over assets only; and,
  with a store, the latest all-pairs matrix summarised (date, pairs valued, median,
  extremes picked by array selection).
- ``frames`` (parquet, wide): the month-end matrices of the dashboard's series: one row
  per month, one column ``A:B`` per pair (each pair's last value in that month).
- ``pair_history`` (parquet, long ``a, b, date, corr``): the click-through history of
  every pair shown, on the pair's days from its first value: configured pairs daily (the
  dashboard takes rolling_corr.csv's columns on these days), the others every
  ``THIN_EVERY``-th day with its own value, the first day without a value between two
  such days (NaN: the line breaks there), and each month's last value and the pair's last
  value always (so a month-end frame's cell lies on its curve); from the pair's first
  value to its last.
"""

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from corrflow.analytics.correlation.universe import (
    READABLE_SERIES,
    cluster_representatives,
    heatmap_series,
    universe_correlations,
)
from corrflow.analytics.panel import CleanPanel
from corrflow.data.calendars import default_calendar
from corrflow.io import InputDataError, atomic_path, write_json_atomic

logger = logging.getLogger("universe")

THIN_EVERY = 5  # pairs that are not configured: every 5th joint day in the click-through chart
ASSET_KINDS = ("price", "yield", "fx")  # the absorption ratio's universe: assets, never a `level`
DUPLICATE_CORRELATION = 0.95  # mean month-end correlation at which two series count as one
LATEST_SHARE = 0.5  # the latest matrix: the last month at least this share of the pairs has a value
ALL_PAIRS_LISTED = 5  # most positive and most negative pairs of the latest all-pairs matrix


# ---------------------------------------------------------------- month-end matrices


def pair_rolling(levels: pd.DataFrame, clean_meta: dict, series_ids: list[str], window: int) -> dict:
    """Rolling ``window``-day Pearson correlation of every pair on its own joint days (the
    kernel behind the all-pairs store, equal to rolling_corr.csv for a configured pair),
    on the days both markets were open: NaN there where the pair has no value, so a line
    breaks at a gap; from the pair's first value to its last (no trailing days without one)."""
    from corrflow.analytics.correlation.rolling import JointDayPanel, joint_day_rolling_corr

    pairs = [(a, b) for i, a in enumerate(series_ids) for b in series_ids[i + 1 :]]
    if not pairs:
        return {}
    panel = CleanPanel(levels[series_ids], clean_meta)
    corr = joint_day_rolling_corr(JointDayPanel(panel), pairs, window)
    out = {}
    for a, b in pairs:
        values = corr[f"{a}:{b}"].reindex(panel.pair_days(a, b))
        first, last = values.first_valid_index(), values.last_valid_index()
        if first is not None:
            out[(a, b)] = values.loc[first:last]
    return out


class FlatPairs:
    """Every pair's series of ``pair_rolling`` laid end to end, so a step over all pairs is
    one array operation (no Python loop over pairs): ``pairs`` in order, ``offsets`` (pair
    k's rows are ``offsets[k]:offsets[k + 1]``), ``dates`` (each pair's own days, sorted),
    ``values`` (NaN where the pair has no value on a day), ``group`` (each row's pair)."""

    def __init__(self, rolling: dict):
        self.pairs = list(rolling)
        series = list(rolling.values())
        lengths = np.array([len(v) for v in series], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(lengths)])
        self.group = np.repeat(np.arange(len(series)), lengths)
        if series:
            self.dates = np.concatenate([v.index.to_numpy() for v in series])
            self.values = np.concatenate([v.to_numpy(dtype="float64") for v in series])
        else:
            self.dates, self.values = np.empty(0, "datetime64[ns]"), np.empty(0)
        self.valued = ~np.isnan(self.values)
        self.month = self.dates.astype("datetime64[M]").astype(np.int64)  # months since 1970-01

    def month_last_rows(self) -> np.ndarray:
        """Rows of each pair's last day with a value in each calendar month, in row order."""
        rows = np.flatnonzero(self.valued)
        key = self.group[rows] * (1 << 32) + self.month[rows]
        return rows[np.r_[key[1:] != key[:-1], True]] if len(rows) else rows


def month_end_timestamps(month: np.ndarray, unit: str) -> pd.DatetimeIndex:
    """Each month (months since 1970-01) as its last calendar day, at ``unit`` (as pandas'
    ``resample("ME")`` labels it)."""
    ends = (month + 1).astype("datetime64[M]").astype("datetime64[D]") - np.timedelta64(1, "D")
    return pd.DatetimeIndex(ends.astype(f"datetime64[{unit}]"))


def month_end_matrices(rolling: dict, series_ids: list[str]) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """(month-ends, array months x N x N) of each pair's last correlation in the month."""
    n = len(series_ids)
    if not rolling:
        return pd.DatetimeIndex([]), np.empty((0, n, n))
    flat = FlatPairs(rolling)
    rows = flat.month_last_rows()
    month_ids, at = np.unique(flat.month[rows], return_inverse=True)
    position = {s: k for k, s in enumerate(series_ids)}
    a = np.array([position[a] for a, _ in flat.pairs])
    b = np.array([position[b] for _, b in flat.pairs])
    cube = np.full((len(month_ids), n, n), np.nan)
    cube[:, np.arange(n), np.arange(n)] = 1.0
    pair = flat.group[rows]
    cube[at, a[pair], b[pair]] = cube[at, b[pair], a[pair]] = flat.values[rows]
    return month_end_timestamps(month_ids, np.datetime_data(flat.dates.dtype)[0]), cube


def last_value_days(rolling: dict) -> pd.Series:
    """Per calendar month (period "M"), the last day any pair has a value in it: the real
    date of that month's matrix (each pair's last joint day in the month, the latest of them)."""
    flat = FlatPairs(rolling)
    if not flat.valued.any():
        return pd.Series(dtype="datetime64[ns]")
    last = pd.Series(flat.dates[flat.valued]).groupby(flat.month[flat.valued]).max()
    return last.set_axis(pd.PeriodIndex.from_ordinals(last.index.to_numpy(), freq="M"))


def cell_days(rolling: dict, months: pd.DatetimeIndex, order: list[str], cube: np.ndarray) -> np.ndarray:
    """Months x pairs (``np.triu_indices`` of ``order``: the frames' columns) of each cell's
    own date as its day of the month (the pair's last day with a value in that month), 0
    where the cell has no value."""
    n = len(order)
    i, j = np.triu_indices(n, 1)
    days = np.zeros((len(months), len(i)), dtype=int)
    flat = FlatPairs(rolling)
    position = {s: k for k, s in enumerate(order)}
    ends = [(position.get(a, -1), position.get(b, -1)) for a, b in flat.pairs]
    first, second = np.array(ends, dtype=np.int64).reshape(-1, 2).T
    low, high = np.minimum(first, second), np.maximum(first, second)
    shown = (low >= 0) & (low != high)
    # the column of (low, high) among np.triu_indices(n, 1): rows before `low` hold
    # n - 1 - r columns each
    column = np.where(shown, low * (2 * n - low - 1) // 2 + high - low - 1, -1)
    rows = flat.month_last_rows()
    rows = rows[shown[flat.group[rows]]]
    frame_months = months.to_numpy().astype("datetime64[M]").astype(np.int64)
    at = np.searchsorted(frame_months, flat.month[rows])
    inside = at < len(frame_months)
    inside[inside] = frame_months[at[inside]] == flat.month[rows[inside]]
    dates = flat.dates[rows]
    day = (dates.astype("datetime64[D]") - dates.astype("datetime64[M]")).astype(int) + 1
    days[at[inside], column[flat.group[rows[inside]]]] = day[inside]
    if len(months):
        days[~np.isfinite(cube[:, i, j])] = 0  # the cell shows no value (the store's matrix): no date
    return days


def frame_labels(
    months: pd.DatetimeIndex,
    real_days: pd.Series,
    cube: np.ndarray,
    calendars: list[str] | None = None,
    days: np.ndarray | None = None,
    as_of: str | None = None,
    columns: list[str] | None = None,
) -> list[dict]:
    """Per month-end matrix: its month, its real date (the last day a pair has a value in
    it), whether the month is partial and how many of its pairs have a value. Only the last
    matrix can be partial: when a day after its real date, within the month, is a session
    of two of the shown series' ``calendars`` (one per series), so a pair could have had a
    value there; a holiday of those markets at the month's end (or, without calendars, a
    weekend) does not make the month partial. With ``days`` (``cell_days``), ``as_of`` and
    ``columns`` (the frames' pair names, ``days``' columns): the first of the cells' own
    dates (``first``), how many cells are dated after ``as_of`` (``after``), and each cell
    dated before the frame's ``date`` with its date (``cells_before``: {"A:B": date}; any
    other cell with a value is on ``date``)."""
    n = cube.shape[1] if cube.ndim == 3 else 0
    upper = np.triu_indices(n, 1)
    labels = []
    for t, month in enumerate(months):
        period = month.to_period("M")
        real = pd.Timestamp(real_days.get(period, month))
        last = t == len(months) - 1
        label = {
            "month": period.strftime("%Y-%m"),
            "date": str(real.date()),
            "partial": bool(last and pair_could_trade_after(real, period.end_time, calendars)),
            "pairs": int(np.isfinite(cube[t][upper]).sum()),
        }
        if days is not None:
            dates = {
                column: f"{label['month']}-{day:02d}"
                for column, day in zip(columns, days[t], strict=True)
                if day > 0
            }
            label |= {
                "first": min(dates.values()) if dates else None,
                "after": sum(d > as_of for d in dates.values()) if as_of else 0,
                "cells_before": {column: d for column, d in dates.items() if d != label["date"]},
            }
        labels.append(label)
    return labels


def pair_could_trade_after(day: pd.Timestamp, period_end: pd.Timestamp, calendars: list[str] | None) -> bool:
    """Whether a day after ``day``, up to ``period_end``, is a session of at least two of
    the series' ``calendars`` (one entry per series; None: every weekday counts)."""
    first = pd.Timestamp(day).normalize() + pd.Timedelta(days=1)
    end = pd.Timestamp(period_end).normalize()
    if first > end:
        return False
    if calendars is None:
        return bool(len(pd.bdate_range(first, end)))
    from corrflow.data.calendars import sessions

    open_series = pd.Series(0, index=pd.date_range(first, end))
    for name, count in pd.Series(calendars).value_counts().items():
        open_series.loc[open_series.index.isin(sessions(name, first, end))] += count
    return bool((open_series >= 2).any())


def latest_frame(pair_counts: list[int], total_pairs: int) -> int | None:
    """The matrix that describes the universe today: the last month at least half of all
    pairs have a value, however far back (the fullest month when none has half); None
    without a month."""
    if not pair_counts:
        return None
    counts = np.asarray(pair_counts)
    enough = np.flatnonzero(counts >= LATEST_SHARE * total_pairs) if total_pairs else np.array([])
    if len(enough):
        return int(enough[-1])
    return int(len(counts) - 1 - np.argmax(counts[::-1]))  # the last of the fullest months


# ---------------------------------------------------------------- order and absorption ratio


def clustered_order(full: pd.DataFrame, repairs: list | None = None) -> list[str]:
    """Series in the leaf order of an average-linkage clustering on 1 - correlation
    (a pair without joint data counts as uncorrelated), of the matrix made a valid
    correlation matrix first (``valid_matrix.repaired``: unchanged when it is one); what
    was done is appended to ``repairs``."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    from corrflow.analytics.correlation.valid_matrix import repaired

    if len(full) < 3:
        return list(full.index)
    valid, repair = repaired(full.fillna(0.0).to_numpy(dtype="float64"), list(full.index))
    if repairs is not None:
        repairs.append(repair)
    distance = 1.0 - valid
    np.fill_diagonal(distance, 0.0)
    distance = np.clip((distance + distance.T) / 2.0, 0.0, 2.0)
    tree = linkage(squareform(distance, checks=False), method="average", optimal_ordering=True)
    return [full.index[k] for k in leaves_list(tree)]


def absorption_universe(cube: np.ndarray, series_ids: list[str]) -> tuple[list[int], int, dict[str, str]]:
    """A fixed universe for the absorption ratio, so that its changes are the market's and
    not the universe's: (positions of the series, the first month all have data, why each
    other series is left out). Kept: the series with data in the last month; of two whose
    mean month-end correlation is DUPLICATE_CORRELATION or more (SPY, the S&P 500 index,
    the CRSP market), the one with the longer history; from the month the last of them
    starts."""
    if not len(cube):
        return [], 0, {}
    off_diagonal = cube.copy()
    for k in range(len(series_ids)):
        off_diagonal[:, k, k] = np.nan
    has_data = np.isfinite(off_diagonal).any(axis=2)  # months x series
    months_with_data = has_data.sum(axis=0)
    left_out = {series_ids[k]: "no data in the last month" for k in np.flatnonzero(~has_data[-1])}
    kept = [k for k in range(len(series_ids)) if has_data[-1, k]]
    with warnings.catch_warnings():  # a pair without any value: NaN, said so below
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(off_diagonal, axis=0)
    pairs = sorted(
        ((abs(mean[i, j]), i, j) for i in kept for j in kept if i < j and np.isfinite(mean[i, j])),
        reverse=True,
    )
    for value, i, j in pairs:
        if value < DUPLICATE_CORRELATION or i not in kept or j not in kept:
            continue
        shorter, longer = (i, j) if months_with_data[i] < months_with_data[j] else (j, i)
        kept.remove(shorter)
        left_out[series_ids[shorter]] = (
            f"near-duplicate of {series_ids[longer]} (mean correlation {mean[i, j]:+.2f})"
        )
    first = int(max((np.argmax(has_data[:, k]) for k in kept), default=0))
    return kept, first, left_out


def absorption_ratio(
    cube: np.ndarray,
    names: list[str] | None = None,
    repairs: list | None = None,
    returns: pd.DataFrame | None = None,
    months: pd.DatetimeIndex | None = None,
    window: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per matrix: the largest eigenvalue over the number of series, on the series with
    a complete row that month (dropping the series with most gaps first), of that block
    made a valid correlation matrix (``valid_matrix.repaired``: each pair is measured on its
    own days, so the block need not be positive semidefinite; a valid one is used as it is);
    and that count. ``repairs`` receives each month's ``Repair`` (None without a block).
    With ``returns`` (series' returns by name), ``months`` and ``window``: a block that is
    not valid is shrunk toward constant correlation where its series share at least half a
    window of days among the window's last days up to the month-end, else replaced by the
    nearest correlation matrix."""
    from corrflow.analytics.correlation.valid_matrix import complete_block, repaired, smallest_eigenvalue

    shares, counts = np.full(len(cube), np.nan), np.zeros(len(cube), dtype=int)
    for t, matrix in enumerate(cube):
        keep = complete_block(matrix)
        repair = None
        if len(keep) >= 2:
            labels = [names[k] for k in keep] if names is not None else None
            block, shared = matrix[np.ix_(keep, keep)], None
            if returns is not None and labels is not None and smallest_eigenvalue(block) < 0:
                # the window's days every series of the block has a return on (the rare month that needs it)
                shared = returns[labels].loc[: months[t]].tail(window).dropna().to_numpy()
            valid, repair = repaired(block, labels, shared, window // 2 if window else None)
            shares[t] = np.linalg.eigvalsh(valid)[-1] / len(keep)
            counts[t] = len(keep)
        if repairs is not None:
            repairs.append(repair)
    return shares, counts


def universe_returns(levels: pd.DataFrame, clean_meta: dict, series_ids: list[str]) -> pd.DataFrame:
    """Each series' returns on its own days (``returns.series_returns``), on the levels' dates."""
    panel = CleanPanel(levels, clean_meta)
    return pd.DataFrame({s: panel.series_returns(s) for s in series_ids}, index=levels.index)


def repair_note(repairs: list, months: list[str]) -> str:
    """The absorption ratio's matrices in words: the latest month's, and how many were repaired."""
    known = [(m, r) for m, r in zip(months, repairs, strict=True) if r is not None]
    if not known:
        return ""
    month, latest = known[-1]
    changed = [m for m, r in known if r.method != "unchanged"]
    text = f"{month}: {latest.sentence()}."
    if changed:
        fixed = [r for _, r in known if r.method != "unchanged"]
        worst = max(fixed, key=lambda r: r.largest_change)
        methods = ", ".join(sorted({r.method for r in fixed}))
        text += (
            f" {len(changed)} of {len(known)} months' matrices were not positive semidefinite and were "
            f"repaired ({methods}; largest change {worst.largest_change:.3f}, "
            f"{' / '.join(worst.largest_change_pair)})."
        )
    else:
        text += f" Every one of the {len(known)} months' matrices is a valid correlation matrix."
    if len(known) < len(months):  # the frames before two assets share a month have no matrix to check
        text += (
            f" Checked: the {len(known)} of {len(months)} month-end frames in which at least two of the "
            "absorption universe's series have a value with each other."
        )
    return text


def absorption_section(
    cube: np.ndarray,
    order: list[str],
    month_labels: list[str],
    months: pd.DatetimeIndex,
    latest: int | None,
    series_meta: dict,
    levels: pd.DataFrame,
    clean_meta: dict,
    window: int,
) -> dict:
    """The absorption ratio over the assets (kinds ASSET_KINDS; an indicator such as VIX
    is a `level`, never an asset) of one fixed universe chosen on the months up to the
    latest frame (a month after it holds too few pairs to choose from)."""
    assets = [k for k, s in enumerate(order) if series_meta.get(s, {}).get("kind", "price") in ASSET_KINDS]
    not_assets = {
        s: f"not an asset (kind {series_meta.get(s, {}).get('kind')})"
        for k, s in enumerate(order)
        if k not in assets
    }
    sub = cube[:, assets][:, :, assets] if len(cube) else cube
    names = [order[k] for k in assets]
    upto = (latest + 1) if latest is not None else 0
    members, first_month, not_absorbed = absorption_universe(sub[:upto], names)
    repairs: list = []
    absorbed = [names[k] for k in members]
    block = sub[:, members][:, :, members] if len(sub) else sub
    shares, counts = absorption_ratio(
        block, absorbed, repairs, universe_returns(levels, clean_meta, absorbed), months, window
    )
    # before the last member starts, or a month a pair has no value: not the same universe
    shares = np.where((np.arange(len(shares)) >= first_month) & (counts == len(members)), shares, np.nan)
    return {
        "members": absorbed,
        "first": month_labels[first_month] if month_labels else None,
        "shares": [None if not np.isfinite(v) else float(v) for v in shares],
        "counts": [int(c) for c in counts],
        "left_out": not_assets | {s: why for s, why in not_absorbed.items()},
        "repair_note": repair_note(repairs, month_labels),
    }


# ---------------------------------------------------------------- the latest all-pairs matrix


def all_pairs_summary(manifest_path: str) -> dict:
    """The store's latest matrix in numbers (``read_all_pairs(..., latest=True)``): its
    date, how many of its pairs have a value, their median and shares beyond +-0.5, the
    most positive and most negative pairs (picked by array selection, no loop over the
    pairs) and whether it is a valid correlation matrix."""
    from corrflow.store.all_pairs import read_all_pairs

    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    matrix = read_all_pairs(manifest_path, latest=True)
    names = [str(s) for s in matrix.index]
    out = {
        "manifest": str(manifest_path),
        "series": len(names),
        "pairs": manifest["pairs"],
        "window": manifest["window"],
        "dtype": manifest["dtype"],
        "files": len(manifest["files"]),
        "dates": manifest.get("dates", "every_day"),
        "history_of": manifest.get("history_of", []),
        "date": matrix.attrs["date"],
        "valued": 0,
    }
    if matrix.attrs["date"] is None:
        return out
    return out | matrix_summary(matrix.to_numpy(dtype="float64"), names)


def matrix_summary(values: np.ndarray, names: list[str]) -> dict:
    """How many pairs of an N x N matrix have a value, their median, how many lie beyond
    +-0.5, the ALL_PAIRS_LISTED most positive and most negative (labels built for those
    only: a stable argsort of the valued pairs, no Python loop over the pairs) and whether
    it is a valid correlation matrix."""
    i, j = np.triu_indices(len(names), 1)
    upper = values[i, j]
    valued = np.flatnonzero(np.isfinite(upper))
    if not len(valued):
        return {"valued": 0}
    finite = upper[valued]
    ranked = valued[np.argsort(finite, kind="stable")]
    count = min(ALL_PAIRS_LISTED, len(ranked) // 2) or 1  # one pair is listed once, never twice
    lowest, highest = ranked[:count], ranked[::-1][:count]

    def listed(picks):
        return [[f"{names[i[p]]} / {names[j[p]]}", float(upper[p])] for p in picks]

    return {
        "valued": int(len(valued)),
        "median": float(np.median(finite)),
        "above": int((finite > 0.5).sum()),
        "below": int((finite < -0.5).sum()),
        "most_positive": listed(highest),
        "most_negative": listed(lowest) if len(ranked) > 1 else [],
        "validity": latest_matrix_validity(values, names),
    }


def latest_matrix_validity(values: np.ndarray, names: list[str]) -> str:
    """Whether the latest all-pairs matrix (pairs on their own days) is a valid correlation
    matrix: its smallest eigenvalue on the series with a complete row and, up to
    ``universe.REPAIR_MAX_SERIES`` series, what the nearest correlation matrix changes."""
    from corrflow.analytics.correlation.universe import REPAIR_MAX_SERIES
    from corrflow.analytics.correlation.valid_matrix import complete_block, repaired, smallest_eigenvalue

    keep = complete_block(values)
    if len(keep) < 2:
        return "Fewer than two series with every pair valued: no matrix to check."
    block, kept = values[np.ix_(keep, keep)], [names[k] for k in keep]
    left = f" ({len(names) - len(keep)} series without every pair left out)" if len(keep) < len(names) else ""
    if len(keep) > REPAIR_MAX_SERIES:
        return (
            f"As a matrix{left}: smallest eigenvalue {smallest_eigenvalue(block):+.3g} "
            f"(not repaired above {REPAIR_MAX_SERIES} series)."
        )
    _, repair = repaired(block, kept)
    return f"As a matrix{left}: {repair.sentence()}."


# ---------------------------------------------------------------- the step


def build_universe(
    levels: pd.DataFrame,
    clean_meta: dict,
    pairs: list,
    window: int,
    exclude: list[str],
    all_pairs: str | None = None,
    confidence: float = 0.95,
) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """(summary, month-end frames, pair histories): see the module's docstring."""
    panel = CleanPanel(levels, clean_meta)
    series_meta = panel.specs
    as_of = panel.as_of_date(pairs)
    shown, left_out = heatmap_series(series_meta, levels, exclude)
    clusters, cluster_repairs = None, []
    prefer = [s for pair in pairs for s in pair]
    if len(shown) > READABLE_SERIES:  # one row per cluster, chosen on every pair's last year
        representatives, clusters = cluster_representatives(
            levels, clean_meta, shown, as_of, READABLE_SERIES, prefer, cluster_repairs
        )
        shown = representatives  # in the dendrogram's order, as the heatmap draws them
    full, recent, periods = universe_correlations(levels, clean_meta, shown, as_of)
    coverage = {s: [str(series_meta[s]["first"]), str(series_meta[s]["last"])] for s in shown}

    # the dashboard's month-end matrices: each pair's last value in each month, every month
    # of the data (a pair's own last June value, not its value on the as-of day)
    dashboard_shown = [s for s in heatmap_series(series_meta, levels, exclude)[0] if s in shown]
    rolling = pair_rolling(levels, clean_meta, dashboard_shown, window)
    store = (
        all_pairs is not None and json.loads(Path(all_pairs).read_text(encoding="utf-8"))["window"] == window
    )
    if store:
        from corrflow.store.all_pairs import read_month_ends

        months, cube = read_month_ends(all_pairs, series=dashboard_shown)
        logger.info("month-end matrices: the store's %s (%d months)", all_pairs, len(months))
    else:
        months, cube = month_end_matrices(rolling, dashboard_shown)
    mean = pd.DataFrame(
        np.nanmean(cube, axis=0) if len(cube) else np.eye(len(dashboard_shown)),
        index=dashboard_shown,
        columns=dashboard_shown,
    )
    order_repairs: list = []
    order = clustered_order(mean, order_repairs)
    index = [dashboard_shown.index(s) for s in order]
    cube = cube[:, index][:, :, index] if len(cube) else cube
    calendars = [default_calendar({"kind": "price", **series_meta.get(s, {})}) for s in order]
    days = cell_days(rolling, months, order, cube)
    i, j = np.triu_indices(len(order), 1)
    columns = [f"{order[a]}:{order[b]}" for a, b in zip(i, j, strict=True)]  # the frames' columns
    labels = frame_labels(months, last_value_days(rolling), cube, calendars, days, as_of, columns)
    n = len(order)
    latest = latest_frame([f["pairs"] for f in labels], n * (n - 1) // 2)
    month_labels = [f["month"] for f in labels]
    absorption = absorption_section(
        cube, order, month_labels, months, latest, series_meta, levels, clean_meta, window
    )
    summary = {
        "as_of": as_of,
        "window": window,
        "source": "all-pairs store" if store else "kernel",
        "heatmap": {
            "shown": list(shown),
            "left_out": left_out,
            "clusters": clusters,
            "cluster_repair": cluster_repairs[0].sentence() if cluster_repairs else None,
            "full": full.to_numpy().tolist(),
            "recent": recent.to_numpy().tolist(),
            "periods": [[a, b, str(p[0]), str(p[1]), str(p[2])] for (a, b), p in periods.items()],
            "coverage": coverage,
        },
        "dashboard": {
            "order": order,
            "order_repair": order_repairs[0].sentence() if order_repairs else None,
            "frames": labels,
            "latest": latest,
            "total_pairs": n * (n - 1) // 2,
        },
        "absorption": absorption,
        "all_pairs": all_pairs_summary(all_pairs) if all_pairs is not None else None,
    }
    frames = pd.DataFrame(
        cube[:, i, j] if len(cube) else np.empty((0, len(i))),
        index=pd.DatetimeIndex(months, name="month"),
        columns=columns,
    )
    history = pair_histories(rolling, pairs, window, confidence)
    return summary, frames, history


def thinned_rows(flat: FlatPairs, every: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows kept, their values) of every pair of ``flat`` thinned as ``thinned`` does one
    series, all pairs at once; the rows in order, so each pair's stay together."""
    n = len(flat.values)
    rows = np.arange(n)
    end = flat.offsets[1:][flat.group]  # each row's pair's end
    regular = (end - 1 - rows) % every == 0  # every `every`-th day back from the pair's last
    month_last = np.zeros(n, dtype=bool)
    month_last[flat.month_last_rows()] = True
    chosen = regular | month_last
    # each kept day with its own value (a day without one nearby does not blank it); a day
    # without a value between two kept days with one: the first such day kept (NaN), so
    # the line breaks where the value is missing, not across it
    out = flat.values
    missing = np.isnan(out) | ~flat.valued
    # (one in a later pair lies past the pair's kept days: never between two of them)
    next_missing = np.minimum.accumulate(np.where(flat.valued, n, rows)[::-1])[::-1]
    positions = np.flatnonzero(chosen)
    previous, current = positions[:-1], positions[1:]
    same_pair = flat.group[previous] == flat.group[current]
    previous, current = previous[same_pair], current[same_pair]
    gap = next_missing[previous + 1]
    across = (gap < current) & ~missing[previous] & ~missing[current]
    chosen[gap[across]] = True
    kept_rows = np.flatnonzero(chosen)
    return kept_rows, out[kept_rows]


def thinned(values: pd.Series, every: int) -> pd.Series:
    """Every ``every``-th value (the latest kept), each month's last value and the last
    value (the days a month-end frame's cells are on), each with its own value; the first
    day without a value kept (as NaN) where one lies between two kept days, so a gap
    still breaks the line."""
    rows, kept = thinned_rows(FlatPairs({("", ""): values}), every)
    return pd.Series(kept, index=values.index[rows], name=values.name)


def pair_histories(rolling: dict, configured_pairs: list, window: int, confidence: float) -> pd.DataFrame:
    """The click-through histories, long (a, b, date, corr, lo, hi): a configured pair
    every day of its own (its band is rolling_corr.csv's), any other every THIN_EVERY-th
    day with its Fisher-z band at ``confidence``."""
    from corrflow.analytics.correlation.rolling import fisher_band

    if not rolling:
        empty = {
            "a": "str",
            "b": "str",
            "date": "datetime64[ns]",
            "corr": "float64",
            "lo": "float64",
            "hi": "float64",
        }
        return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in empty.items()})
    flat = FlatPairs(rolling)
    configured = {frozenset(p) for p in configured_pairs}
    is_configured = np.array([frozenset(pair) in configured for pair in flat.pairs])
    rows, kept = thinned_rows(flat, THIN_EVERY)
    # a configured pair: every day, its own values, no band here (rolling_corr.csv has it)
    whole = is_configured[flat.group]
    thin = ~is_configured[flat.group[rows]]
    rows = np.concatenate([rows[thin], np.flatnonzero(whole)])
    corr = np.concatenate([kept[thin], flat.values[whole]])
    order = np.argsort(rows)  # each pair's rows back together, in the pairs' order
    rows, corr = rows[order], corr[order]
    lo, hi = fisher_band(corr, window, confidence)
    configured_row = is_configured[flat.group[rows]]
    lo[configured_row] = hi[configured_row] = np.nan
    names = np.array(flat.pairs, dtype=object).reshape(-1, 2)
    return pd.DataFrame(
        {
            "a": pd.array(names[flat.group[rows], 0], dtype="str"),
            "b": pd.array(names[flat.group[rows], 1], dtype="str"),
            "date": flat.dates[rows],
            "corr": corr,
            "lo": lo,
            "hi": hi,
        }
    )


def read_universe(summary: str, frames: str | None = None, pair_history: str | None = None) -> dict:
    """The universe step's files as the report and the dashboard read them: the summary
    (``summary``: universe.json), with the month-end matrices and the pair histories
    added when their files are given (``loaded_universe``)."""
    data = json.loads(Path(summary).read_text(encoding="utf-8"))
    return loaded_universe(
        data,
        pd.read_parquet(frames) if frames else None,
        pd.read_parquet(pair_history) if pair_history else None,
    )


def loaded_universe(data: dict, wide: pd.DataFrame | None, long: pd.DataFrame | None) -> dict:
    """The summary with ``months`` and ``cube`` (the month-end matrices, months x N x N in
    the dashboard's order) from ``wide`` and ``history`` ({(a, b): frame of corr, lo, hi
    on the pair's days}) from ``long``, where given."""
    data = dict(data)
    if wide is not None:
        order = data["dashboard"]["order"]
        n = len(order)
        cube = np.full((len(wide), n, n), np.nan)
        cube[:, np.arange(n), np.arange(n)] = 1.0
        i, j = np.triu_indices(n, 1)
        if len(i):
            columns = [f"{order[a]}:{order[b]}" for a, b in zip(i, j, strict=True)]
            values = wide[columns].to_numpy(dtype="float64")
            cube[:, i, j] = values
            cube[:, j, i] = values
        data["months"] = pd.DatetimeIndex(wide.index)
        data["cube"] = cube
    if long is not None:
        data["history"] = {
            (a, b): part[["corr", "lo", "hi"]].set_axis(pd.DatetimeIndex(part["date"]))
            for (a, b), part in long.groupby(["a", "b"], sort=False)
        }
    return data


def run(
    *,
    clean: str,
    all_pairs: str | None = None,
    pairs: list,
    window: int,
    confidence: float,
    exclude: list[str],
    summary: str,
    frames: str,
    pair_history: str,
) -> None:
    """What the report and the dashboard show about the universe (rule ``universe``).

    clean: clean.parquet
    all_pairs: data/processed/all_pairs/manifest.json (when all pairs ran): its matrices are read
    window: the primary window
    confidence: the band of the pairs that are not configured
    summary: data/processed/universe/universe.json
    frames: data/processed/universe/month_ends.parquet
    pair_history: data/processed/universe/pair_history.parquet
    """
    if not isinstance(window, int) or window < 3:
        raise InputDataError(f"universe: window {window!r} is not a number of days of at least 3")
    panel = CleanPanel.read(clean)
    data, wide, history = build_universe(
        panel.levels, panel.meta, pairs, window, list(exclude), all_pairs, confidence
    )
    write_json_atomic(data, summary)
    for table, path in ((wide, frames), (history, pair_history)):
        with atomic_path(path) as tmp:
            table.to_parquet(tmp)
    latest = data["dashboard"]["latest"]
    logger.info(
        "wrote %s: %d series shown, %d month-end matrices, latest %s (%s pairs of %d)",
        summary,
        len(data["dashboard"]["order"]),
        len(wide),
        data["dashboard"]["frames"][latest]["date"] if latest is not None else "-",
        data["dashboard"]["frames"][latest]["pairs"] if latest is not None else 0,
        data["dashboard"]["total_pairs"],
    )
