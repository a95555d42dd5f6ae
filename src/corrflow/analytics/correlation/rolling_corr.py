"""Rolling correlations of the configured pairs (task D), on the days both markets traded.

Output ``rolling_corr.csv``: wide, one row per day of clean.parquet (``date``); per pair
A-B and window W the columns (names from ``_contracts``)

- ``A:B:W``        Pearson over the pair's last W joint returns (min_periods = W; a
                   window where either series is flat gives NaN, never inf);
- ``A:B:W:lo95``, ``A:B:W:hi95``  its Fisher-z 95 % confidence band;
- ``A:B:W:spearman``  rank correlation over the same window (when switched on);
- ``A:B:ewmH``     exponentially weighted correlation with half-life H joint days;
- ``A:B:W:sync``   for a pair whose markets close hours apart (Tokyo and New York, a
                   24/7 series and the NYSE): the synchronised correlation
                   (``synchronised_corr``), since a same-day return of the earlier market
                   misses the later market's news of that day.

Where a leg had no value on more than ``clean.max_gap_days`` days both markets were open,
the return across is missing and the pair has no value for ``W`` of its days; each such
stretch is logged and written to ``pair_gaps.csv`` (``_returns.GAP_COLUMNS``), which DQ
and the report name.

A pair's returns are taken on the days both series were observed and both markets open
(``_returns.pair_returns``): a return after a day one market was closed spans that day
for both legs; NaN on every other day. A pair naming a series that no level could
serve is skipped with a warning.

The seed's command (one pair, one window) writes the same columns the workflow writes
for that pair, with the workflow's defaults (from the config schema); given the
workflow's own file it replaces only that pair's columns, so running it between two
`snakemake` runs changes nothing:

    corrflow rolling-corr --prices data/processed/clean.parquet \
        --eq-col SPY --bond-col TLT --window 60 --out data/processed/rolling_corr.csv
"""

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from corrflow.analytics.correlation.rolling import fisher_band, rolling_pearson
from corrflow.analytics.panel import CleanPanel
from corrflow.analytics.returns import GAP_COLUMNS, gap_sentence, pair_gaps
from corrflow.data.calendars import ASYNC_CLOSE_HOURS, closes_apart_hours
from corrflow.data.contracts import (
    band_columns,
    corr_column,
    ewm_column,
    spearman_column,
    sync_column,
)
from corrflow.io import (
    ArgumentError,
    InputDataError,
    write_csv_atomic,
)

logger = logging.getLogger("rolling_corr")


def ewma_corr(x: pd.Series, y: pd.Series, halflife: float) -> pd.Series:
    """Exponentially weighted correlation (pandas' ewm, adjusted weights), half-life in
    business days; defined once 2 * halflife observations have been seen."""
    return x.ewm(halflife=halflife, min_periods=int(2 * halflife)).corr(y)


def rolling_spearman(x: pd.Series, y: pd.Series, window: int) -> pd.Series:
    """Spearman rank correlation over each trailing window (average ranks for ties)."""
    from scipy.stats import rankdata

    out = np.full(len(x), np.nan)
    if len(x) >= window:
        xw = np.lib.stride_tricks.sliding_window_view(x.to_numpy(dtype="float64"), window)
        yw = np.lib.stride_tricks.sliding_window_view(y.to_numpy(dtype="float64"), window)
        complete = ~(np.isnan(xw).any(axis=1) | np.isnan(yw).any(axis=1))
        rx = rankdata(xw[complete], axis=1)
        ry = rankdata(yw[complete], axis=1)
        rx -= rx.mean(axis=1, keepdims=True)
        ry -= ry.mean(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (rx * ry).sum(axis=1) / np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
        values = np.full(len(complete), np.nan)
        values[complete] = r
        out[window - 1 :] = values
    return pd.Series(out, index=x.index)


def synchronised_corr(x: pd.Series, y: pd.Series, window: int) -> pd.Series:
    """Correlation of two markets that close at different times, over each trailing
    window of their joint returns, as the Pearson correlation of synchronised returns
    (after Burns, Engle and Mezrich 1998): each leg's return plus the part of the other
    leg's return that it trades a day late, minus yesterday's late part,

        x~_t = x_t + b_x (y_t - y_t-1),   b_x = cov(x_t, y_t-1) / var(y),
        y~_t = y_t + b_y (x_t - x_t-1),   b_y = cov(y_t, x_t-1) / var(x),

    every moment over the same window. It is a correlation of two series, so it lies in
    [-1, 1] by construction (the clip below only removes rounding); where one market trades the other's news
    a day late it recovers the correlation the daily one misses, and for synchronous
    markets (b near 0) it is the daily one. NaN until a window and a lag are full, and
    where a leg does not move."""
    x_lag, y_lag = x.shift(1), y.shift(1)
    complete = x.notna() & y.notna() & x_lag.notna() & y_lag.notna()
    legs = [s.where(complete).to_numpy(dtype="float64") for s in (x, y, x_lag, y_lag)]
    frame = pd.DataFrame(dict(zip("xyXY", legs, strict=True)), index=x.index)
    rolling = frame.rolling(window, min_periods=window)
    # the window's 4 x 4 covariance matrix of (x, y, x_-1, y_-1), one per day
    cov = rolling.cov().to_numpy().reshape(len(frame), 4, 4)
    with np.errstate(invalid="ignore", divide="ignore"):
        var_x, var_y = cov[:, 2, 2], cov[:, 3, 3]
        b_x = np.where(var_y > 0, cov[:, 0, 3] / var_y, np.nan)
        b_y = np.where(var_x > 0, cov[:, 1, 2] / var_x, np.nan)
        zero = np.zeros(len(frame))
        one = np.ones(len(frame))
        w_x = np.stack([one, b_x, zero, -b_x], axis=1)
        w_y = np.stack([b_y, one, -b_y, zero], axis=1)
        covariance = np.einsum("ti,tij,tj->t", w_x, cov, w_y)
        var_sx = np.einsum("ti,tij,tj->t", w_x, cov, w_x)
        var_sy = np.einsum("ti,tij,tj->t", w_y, cov, w_y)
        scale = np.sqrt(var_sx * var_sy)
        value = np.where(scale > 0, covariance / scale, np.nan)
    # the ratio is a correlation: any excess over 1 is rounding (below 1e-12)
    return pd.Series(np.clip(value, -1.0, 1.0), index=x.index)


def is_asynchronous(panel: CleanPanel, a: str, b: str) -> bool:
    """True when the two series' markets close ``ASYNC_CLOSE_HOURS`` or more apart (their
    calendars' regular closes on the as-of date)."""
    calendars = [panel.calendar_of.get(s) for s in (a, b)]
    if None in calendars or calendars[0] == calendars[1]:
        return False
    day = panel.as_of or panel.meta.get("calendar", {}).get("last")
    return closes_apart_hours(calendars[0], calendars[1], day) >= ASYNC_CLOSE_HOURS


def pair_correlations(
    joint: pd.DataFrame,
    a: str,
    b: str,
    windows: list[int],
    ewma_halflife: float | None,
    spearman: bool,
    confidence: float,
    synchronised: bool = False,
) -> dict[str, pd.Series]:
    """Every column of one pair from its joint returns (index: the pair's days)."""
    columns = {}
    for window in windows:
        if len(joint.dropna()) < window:
            logger.warning(
                "pair %s-%s: fewer than %d joint returns; window %d is all NaN", a, b, window, window
            )
        name = corr_column(a, b, window)
        columns[name] = rolling_pearson(joint[a], joint[b], window)
        lo, hi = band_columns(name, confidence)
        columns[lo], columns[hi] = fisher_band(columns[name], window, confidence)
        if spearman:
            columns[spearman_column(name)] = rolling_spearman(joint[a], joint[b], window)
        if synchronised:
            columns[sync_column(name)] = synchronised_corr(joint[a], joint[b], window)
    if ewma_halflife:
        columns[ewm_column(a, b, ewma_halflife)] = ewma_corr(joint[a], joint[b], ewma_halflife)
    return columns


def rolling_corr(
    levels: pd.DataFrame,
    metadata: dict,
    pairs: list[list[str]],
    windows: list[int],
    ewma_halflife: float | None = None,
    spearman: bool = False,
    confidence: float = 0.95,
) -> tuple[pd.DataFrame, list[str], pd.DataFrame]:
    """All configured pairs x windows from clean levels and clean.parquet's metadata;
    returns (wide frame on the levels' dates, skipped pair descriptions, the pairs'
    gaps: ``GAP_COLUMNS``, one row per pair, window and stretch without a value)."""
    panel = CleanPanel(levels, metadata)
    calendar_of = panel.calendar_of
    columns, skipped, gaps = {}, [], []
    for a, b in pairs:
        absent = [s for s in (a, b) if s not in levels.columns]
        if absent:
            skipped.append(f"{a}-{b} (no data for {', '.join(absent)})")
            logger.warning("pair %s-%s skipped: no data for %s", a, b, ", ".join(absent))
            continue
        joint = panel.pair_returns(a, b)
        synchronised = is_asynchronous(panel, a, b)
        if synchronised:
            logger.info(
                "pair %s-%s: markets close %.1f h apart (%s, %s); adding the synchronised correlation",
                a,
                b,
                closes_apart_hours(calendar_of[a], calendar_of[b], panel.as_of),
                calendar_of[a],
                calendar_of[b],
            )
        for name, values in pair_correlations(
            joint, a, b, windows, ewma_halflife, spearman, confidence, synchronised
        ).items():
            columns[name] = values.reindex(levels.index)
        for window in windows:
            found = pair_gaps(levels, joint, a, b, panel.closed, window)
            for gap in found.to_dict("records"):
                logger.warning("%s", gap_sentence(gap, calendar_of, panel.max_gap_days))
            gaps.append(found)
    frame = pd.DataFrame(columns, index=levels.index)
    frame.index.name = "date"
    gaps = [g for g in gaps if len(g)]
    return frame, skipped, (pd.concat(gaps, ignore_index=True) if gaps else pd.DataFrame(columns=GAP_COLUMNS))


def merge_into_existing(corr: pd.DataFrame, path: str) -> pd.DataFrame:
    """The seed's one-pair result merged into an existing rolling_corr.csv of the same dates:
    its columns replaced in place, every other column kept (so the workflow's file stays whole)."""
    if not Path(path).exists():
        return corr
    try:
        existing = pd.read_csv(path, index_col="date", parse_dates=["date"])
    except (ValueError, pd.errors.EmptyDataError):
        return corr
    if not existing.index.equals(corr.index):
        logger.warning("%s holds other dates; replacing it with this pair only", path)
        return corr
    merged = existing.copy()
    for column in corr.columns:
        merged[column] = corr[column]
    return merged


def run(
    *,
    prices: str,
    out: str,
    gaps: str | None = None,
    pairs: list,
    windows: list[int],
    eq_col: str | None = None,
    bond_col: str | None = None,
    window: int | None = None,
    ewma_halflife: float,
    spearman: bool,
    confidence: float,
) -> None:
    """Rolling correlations of pairs on their joint days (rule ``rolling_corr``; the seed's
    ``--eq-col --bond-col --window`` give one pair at one window).

    prices: clean.parquet (levels); returns are computed here
    out: output CSV (.csv); an existing file keeps its other pairs' columns
    gaps: also write the pairs' stretches without a value (too long a gap in a leg) here
    eq_col: the equity column (with bond_col: the one pair, instead of pairs)
    bond_col: the bond (or other) column
    window: one window in trading days of the pair (instead of windows)
    """
    if eq_col or bond_col:
        if not (eq_col and bond_col):
            raise ArgumentError(
                "eq_col", "--eq-col and --bond-col go together: give both columns of the pair"
            )
        pairs = [[eq_col, bond_col]]
    for a, b in pairs:
        if a == b:
            raise ArgumentError(
                "bond_col" if eq_col else "pairs",
                f"pair [{a}, {b}] pairs a series with itself (its correlation is 1 by "
                "definition); name two different series",
            )
    if window is not None:
        windows = [window]
    if min(windows) < 2:
        raise ArgumentError(
            "window", f"{min(windows)} is too short; a correlation needs at least 2 days (e.g. 60)"
        )
    if not str(out).endswith(".csv"):
        raise ArgumentError("out", f"{out} must end in .csv (the file is CSV text)")
    panel = CleanPanel.read(prices)
    levels = panel.levels
    absent = [s for pair in pairs for s in pair if s not in levels.columns]
    # a series of the universe without data (ingest marked it missing) skips its configured
    # pairs with a warning; a name the universe does not know, or the seed's explicit pair,
    # is a mistake in the command
    unknown = [s for s in absent if s not in panel.specs]
    if unknown or (absent and eq_col):
        name = (unknown or absent)[0]
        status = panel.specs.get(name, {}).get("status")
        why = f"ingest marked it {status}" if status else "it is not in the universe"
        raise InputDataError(f"{prices}: no column {name!r} ({why}); available: {', '.join(levels.columns)}")
    longest = max(windows)
    if len(levels) < longest:
        raise InputDataError(
            f"rolling_corr: window {longest} is longer than the data ({len(levels)} days); "
            "shorten the window (`--window`, config key `correlation.windows`) or widen start/end"
        )
    corr, skipped, gap_table = rolling_corr(
        levels, panel.meta, pairs, windows, ewma_halflife or None, spearman, confidence
    )
    write_csv_atomic(merge_into_existing(corr, out), out, date_format="%Y-%m-%d")
    if gaps:
        write_csv_atomic(gap_table, gaps, index=False)
    logger.info(
        "wrote %s: %d rows, columns %s; skipped %s",
        out,
        len(corr),
        list(corr.columns),
        skipped or "none",
    )
