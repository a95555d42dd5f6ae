"""The universe's correlations for the heatmaps: every pair of the series shown, each on
its own joint days (the method of rolling_corr.csv), over all its days and over its last
year of joint days, and which series a heatmap shows and why any other is left out."""

import numpy as np
import pandas as pd

from corrflow.data.contracts import is_missing

RECENT_DAYS = 252  # joint days of the "last year" heatmap


READABLE_SERIES = 40  # series a heatmap shows by name; a larger universe shows one per cluster
CLUSTER_PAIRS_PER_CALL = 1_000_000  # pairs per kernel call when clustering thousands of series
# series up to which the clustering's matrix is made a valid correlation matrix (Higham's
# projections take an eigendecomposition per iteration: ~1.7 CPU s at 200 series, ~20 at
# 500, benchmarks/exceedance_and_matrices.md); above, its smallest eigenvalue is only logged
REPAIR_MAX_SERIES = 200


def universe_correlations(
    levels: pd.DataFrame, clean_meta: dict, series_ids: list[str], as_of: str, recent_days: int = RECENT_DAYS
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Pearson correlation of daily returns for every pair of ``series_ids``, each pair on
    the days both series traded (the returns of ``_returns.pair_returns``, its NaN returns
    left out): over all its joint days up to ``as_of`` and over its last ``recent_days``
    joint days. Also each pair's period (first and last return, first recent one).
    Every pair on its own days whatever the universe's size: a common grid of the days
    all markets were open would leave a Tokyo-New York pair a fraction of its days. The
    compiled kernel (``kernels.joint_day_summary_corr``) walks each pair once."""
    from corrflow.analytics.correlation.rolling import JointDayPanel, all_pairs
    from corrflow.analytics.panel import CleanPanel

    levels = levels.loc[: pd.Timestamp(as_of), list(series_ids)]
    n = len(series_ids)
    full = np.eye(n)
    recent = np.eye(n)
    periods = {}
    pairs = all_pairs(list(series_ids))
    if len(pairs) and len(levels):
        summary = JointDayPanel(CleanPanel(levels, clean_meta)).summary(pairs, recent_days)
        i, j = pairs[:, 0], pairs[:, 1]
        full[i, j] = full[j, i] = summary["full"]
        recent[i, j] = recent[j, i] = summary["recent"]
        days = levels.index
        for p in np.flatnonzero(summary["count"] >= 3):
            periods[(series_ids[i[p]], series_ids[j[p]])] = (
                days[summary["first"][p]].date(),
                days[summary["last"][p]].date(),
                days[summary["recent_first"][p]].date(),
            )
    full = pd.DataFrame(full, index=list(series_ids), columns=list(series_ids))
    recent = pd.DataFrame(recent, index=list(series_ids), columns=list(series_ids))
    return full, recent, periods


def recent_correlation_distances(
    levels: pd.DataFrame, clean_meta: dict, series_ids: list[str], as_of: str, recent_days: int = RECENT_DAYS
) -> np.ndarray:
    """1 - each pair's correlation over its last ``recent_days`` joint days, as the
    condensed distance vector of ``scipy.cluster.hierarchy.linkage`` (a pair without one
    counts as uncorrelated): the kernel stops each pair's walk after those days, in
    calls of CLUSTER_PAIRS_PER_CALL pairs, so thousands of series take seconds."""
    from corrflow.analytics.correlation.rolling import JointDayPanel
    from corrflow.analytics.panel import CleanPanel

    levels = levels.loc[: pd.Timestamp(as_of), list(series_ids)]
    panel = JointDayPanel(CleanPanel(levels, clean_meta))
    n = len(series_ids)
    i, j = np.triu_indices(n, k=1)  # scipy's condensed order
    distance = np.empty(len(i))
    for start in range(0, len(i), CLUSTER_PAIRS_PER_CALL):
        stop = min(start + CLUSTER_PAIRS_PER_CALL, len(i))
        pairs = np.column_stack([i[start:stop], j[start:stop]])
        recent = panel.summary(pairs, recent_days, recent_only=True)["recent"]
        distance[start:stop] = 1.0 - np.nan_to_num(recent, nan=0.0)
    return np.clip(distance, 0.0, 2.0)


def valid_distances(distance: np.ndarray, series_ids: list[str], repairs: list | None = None) -> np.ndarray:
    """1 - r of the condensed ``distance`` (1 - r) made a valid correlation matrix (up to
    REPAIR_MAX_SERIES series; the same vector when it already is one or is larger)."""
    import logging

    from scipy.spatial.distance import squareform

    from corrflow.analytics.correlation.valid_matrix import repaired, smallest_eigenvalue

    matrix = 1.0 - squareform(distance, checks=False)
    if len(series_ids) > REPAIR_MAX_SERIES:
        logging.getLogger("universe").info(
            "clustering %d series: smallest eigenvalue %.3g (not repaired above %d series)",
            len(series_ids),
            smallest_eigenvalue(matrix),
            REPAIR_MAX_SERIES,
        )
        return distance
    valid, repair = repaired(matrix, series_ids)
    if repairs is not None:
        repairs.append(repair)
    if repair.method == "unchanged":
        return distance
    return np.clip(squareform(1.0 - valid, checks=False), 0.0, 2.0)


def cluster_representatives(
    levels: pd.DataFrame,
    clean_meta: dict,
    series_ids: list[str],
    as_of: str,
    n_clusters: int = READABLE_SERIES,
    prefer: list[str] = (),
    repairs: list | None = None,
) -> tuple[list[str], dict[str, list[str]]]:
    """A universe too large to read, as ``n_clusters`` series: Ward clusters of the last
    year's correlations (on sqrt(2 (1 - r))), each shown by its most central member (least
    total distance 1 - r to the rest of its cluster) or by a ``prefer`` series in it (the
    configured pairs'), in the dendrogram's order. Returns (the representatives, each
    one's cluster members). Ward needs Euclidean distances, which a correlation matrix
    gives only when it is positive semidefinite: up to REPAIR_MAX_SERIES series the
    pairwise matrix is first made a valid one (``valid_matrix.repaired``, unchanged when
    it is); what was done is appended to ``repairs``."""
    from scipy.cluster.hierarchy import fcluster, leaves_list, linkage
    from scipy.spatial.distance import squareform

    series_ids = list(series_ids)
    distance = recent_correlation_distances(levels, clean_meta, series_ids, as_of)
    distance = valid_distances(distance, series_ids, repairs)
    # Ward on sqrt(2 (1 - r)), the Euclidean distance of standardised returns: clusters of
    # comparable size (average linkage leaves every outlier a cluster of its own, so a
    # universe of five markets came out as five clusters and 35 single series)
    tree = linkage(np.sqrt(2.0 * distance), method="ward")
    labels = fcluster(tree, n_clusters, criterion="maxclust")
    leaf_rank = np.empty(len(series_ids), dtype="int64")
    leaf_rank[leaves_list(tree)] = np.arange(len(series_ids))
    square = squareform(distance, checks=False)
    clusters: dict[str, list[str]] = {}
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        preferred = [series_ids[m] for m in members if series_ids[m] in prefer]
        if preferred:
            chosen = preferred[0]
        else:
            spread = square[np.ix_(members, members)].sum(axis=1)
            chosen = series_ids[members[int(np.argmin(spread))]]
        clusters[chosen] = [series_ids[m] for m in sorted(members, key=leaf_rank.__getitem__)]
    order = sorted(clusters, key=lambda s: leaf_rank[series_ids.index(s)])
    return order, {s: clusters[s] for s in order}


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
