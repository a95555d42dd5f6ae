"""The universe's correlations for the heatmaps: every pair of the series shown, each on
its own joint days (the method of rolling_corr.csv), over all its days and over its last
year of joint days, and which series a heatmap shows and why any other is left out."""

import numpy as np
import pandas as pd

from corrflow.contracts import closed_by_series
from corrflow.summary import is_missing

RECENT_DAYS = 252  # joint days of the "last year" heatmap


def universe_correlations(
    levels: pd.DataFrame, clean_meta: dict, series_ids: list[str], as_of: str, recent_days: int = RECENT_DAYS
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Pearson correlation of daily returns for every pair of ``series_ids``, each pair on
    the days both series traded (``_returns.pair_returns``): over all its joint days up to
    ``as_of`` and over its last ``recent_days`` joint days. Also each pair's period.
    Every pair on its own days whatever the universe's size: a common grid of the days
    all markets were open would leave a Tokyo-New York pair a fraction of its days."""
    from corrflow.returns import pair_returns

    specs = clean_meta.get("series", {})
    closed = closed_by_series(clean_meta)
    max_gap = clean_meta.get("calendar", {}).get("max_gap_days")
    levels = levels.loc[: pd.Timestamp(as_of)]
    full = pd.DataFrame(np.eye(len(series_ids)), index=series_ids, columns=series_ids)
    recent = full.copy()
    periods = {}
    for i, a in enumerate(series_ids):
        for b in series_ids[i + 1 :]:
            joint = pair_returns(levels, specs, a, b, closed, max_gap).dropna()
            if len(joint) < 3:
                full.loc[a, b] = full.loc[b, a] = recent.loc[a, b] = recent.loc[b, a] = np.nan
                continue
            full.loc[a, b] = full.loc[b, a] = np.corrcoef(joint[a], joint[b])[0, 1]
            tail = joint.iloc[-recent_days:]
            recent.loc[a, b] = recent.loc[b, a] = np.corrcoef(tail[a], tail[b])[0, 1]
            periods[(a, b)] = (joint.index[0].date(), joint.index[-1].date(), tail.index[0].date())
    return full, recent, periods


def heatmap_series(series_meta: dict, levels: pd.DataFrame, exclude: list[str]) -> tuple[list[str], dict]:
    """The series drawn in the heatmap, and why any other is left out."""
    shown, left_out = [], {}
    for series_id, meta in series_meta.items():
        if series_id in exclude:
            left_out[series_id] = "excluded by config report.heatmap_exclude"
        elif is_missing(meta) or series_id not in levels:
            left_out[series_id] = "no data at any ingest level"
        elif levels[series_id].notna().sum() < 3:
            left_out[series_id] = "fewer than 3 observations"
        else:
            shown.append(series_id)
    return shown, left_out


def period_sentence(periods: dict) -> str:
    """Which period the heatmap's cells cover, in one line: the longest span, and for the
    series that shorten their pairs, the span of those pairs."""
    from collections import Counter

    if not periods:
        return "no pair has joint data"
    spans = {pair: (p[0], p[1]) for pair, p in periods.items()}
    # the longest span is the base; the series that shorten the other pairs are named
    common = max(
        sorted(set(spans.values())), key=lambda span: (span[1] - span[0], list(spans.values()).count(span))
    )
    off = [pair for pair, span in spans.items() if span != common]
    text = f"{'all pairs' if not off else 'the longest pairs'} {common[0]} .. {common[1]}"
    while off:  # name the series behind the off-period pairs, the most frequent first
        series = Counter(s for pair in off for s in pair).most_common(1)[0][0]
        own = [spans[pair] for pair in off if series in pair]
        text += f"; pairs with {series} {min(o[0] for o in own)} .. {max(o[1] for o in own)}"
        off = [pair for pair in off if series not in pair]
    return text
