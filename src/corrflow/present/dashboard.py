"""Interactive dashboard (task F): docs/dashboard.html, one self-contained file.

- The universe's correlation heatmap (the primary window's rolling Pearson correlation
  of every pair of series, each pair on the days both markets traded) with a date
  slider over month-ends, its rows in a clustered order (average-linkage hierarchical
  clustering of the full-sample correlations, ``scipy``).
- A click on a cell shows that pair's rolling correlation with its Fisher-z band, its
  sign regimes (configured pairs) and the stress episodes (each at least a few pixels
  wide, so a one-week shock on a 60-year axis stays visible); a cell of a pair without
  enough joint days (it can be clicked: gaps take clicks) says so and clears the chart.
- Below it, the pair's exceedance correlations (regimes' exceedance.csv: configured
  pairs, or every pair with ``regimes.exceedance.all_pairs``) against the bivariate
  normal's, per era, and the Hong-Tu-Zhou test in words.
- The absorption ratio through time: the first eigenvalue's share of the month-end
  correlation matrix of one fixed universe (``absorption_universe``: the series with data
  in the last month, near-duplicates left out, from the month all of them have data),
  a one-number gauge of how much the universe moves together; its n and members stated.
- Today's table and the data's provenance, as in the report.

plotly.js is inlined (``include_plotlyjs=True``: no CDN, works offline); every figure's
div id is fixed and numbers are rounded, so the same inputs give the same bytes.
"""

import html
import json
import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from corrflow.analytics.correlation.exceedance import read_exceedance
from corrflow.analytics.correlation.universe import READABLE_SERIES, cluster_representatives, heatmap_series
from corrflow.data.contracts import (
    SIGN_LABELS,
    band_of,
    pair_days,
    primary_window_of,
    read_parquet,
    read_rolling_corr,
    sign_column,
    sync_column,
)
from corrflow.io import write_text_atomic
from corrflow.present.figures._style import SIGN_COLOURS
from corrflow.present.summary import (
    DASHBOARD,
    as_of_date,
    data_age_sentence,
    data_provenance,
    normalised_episodes,
    primary_of,
    today_table,
)

logger = logging.getLogger("dashboard")

CONFIDENCE = 0.95  # band of the pairs computed here (configured pairs: rolling_corr.csv's band)
DIGITS = 3
THIN_EVERY = 5  # pairs that are not configured: every 5th joint day in the click-through chart


def rounded(values) -> list:
    """Floats rounded for the page, NaN as null (JSON has no NaN)."""
    array = np.asarray(values, dtype="float64")
    return [None if not np.isfinite(v) else round(float(v), DIGITS) for v in array]


def pair_rolling(levels: pd.DataFrame, clean_meta: dict, series_ids: list[str], window: int) -> dict:
    """Rolling ``window``-day Pearson correlation of every pair on its own joint days (the
    kernel behind the all-pairs store, equal to rolling_corr.csv for a configured pair),
    on the days both markets were open: NaN there where the pair has no value, so a line
    breaks at a gap; from the pair's first value on."""
    from corrflow.analytics.correlation.rolling import JointDayPanel, joint_day_rolling_corr

    pairs = [(a, b) for i, a in enumerate(series_ids) for b in series_ids[i + 1 :]]
    if not pairs:
        return {}
    corr = joint_day_rolling_corr(JointDayPanel(levels[series_ids], clean_meta), pairs, window)
    out = {}
    for a, b in pairs:
        values = corr[f"{a}:{b}"].reindex(pair_days(clean_meta, levels.index, a, b))
        first = values.first_valid_index()
        if first is not None:
            out[(a, b)] = values.loc[first:]
    return out


def month_end_matrices(rolling: dict, series_ids: list[str]) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """(month-ends, array months x N x N) of each pair's last correlation in the month."""
    monthly = {pair: values.resample("ME").last() for pair, values in rolling.items()}
    if not monthly:
        return pd.DatetimeIndex([]), np.empty((0, len(series_ids), len(series_ids)))
    months = pd.DatetimeIndex(sorted(set().union(*(m.dropna().index for m in monthly.values()))))
    position = {s: k for k, s in enumerate(series_ids)}
    cube = np.full((len(months), len(series_ids), len(series_ids)), np.nan)
    for k in range(len(series_ids)):
        cube[:, k, k] = 1.0
    for (a, b), values in monthly.items():
        aligned = values.reindex(months).to_numpy()
        cube[:, position[a], position[b]] = cube[:, position[b], position[a]] = aligned
    return months, cube


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


DUPLICATE_CORRELATION = 0.95  # mean month-end correlation at which two series count as one


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
    from corrflow.analytics.returns import series_returns
    from corrflow.data.contracts import closed_by_series

    closed = closed_by_series(clean_meta)
    max_gap = clean_meta.get("calendar", {}).get("max_gap_days")
    return pd.DataFrame(
        {
            s: series_returns(
                levels[s], clean_meta["series"].get(s, {"kind": "price"}), closed.get(s), max_gap
            )
            for s in series_ids
        },
        index=levels.index,
    )


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
    return text


def thinned(values: pd.Series, every: int) -> pd.Series:
    """Every ``every``-th value (the latest kept), NaN where any day it stands for had no
    value, so a gap still breaks the line."""
    gap_near = values.isna().astype("int8").rolling(every, min_periods=1).max().astype(bool)
    kept = values.where(~gap_near)
    return kept.iloc[::-1].iloc[::every].iloc[::-1]


def pair_payload(a, b, corr, regimes, window, rolling) -> dict | None:
    """The click-through data of one pair on its days (both markets open; null where it
    has no value, so the line and band break there): the configured pair's own columns
    when it has them (daily), else the correlation computed here (every ``THIN_EVERY``-th
    day)."""
    from corrflow.analytics.correlation.rolling import fisher_band

    column = primary_of(corr, a, b, window)
    days = rolling.get((a, b), rolling.get((b, a)))
    if column is not None and corr[column].notna().any():
        band = band_of(corr, column)
        values = corr[column]
        if days is not None:
            values = values.reindex(days.index)
        values = values.loc[values.first_valid_index() :]
        lo, hi = (
            (corr[band[0]].reindex(values.index), corr[band[1]].reindex(values.index))
            if band
            else (None, None)
        )
        sign = regimes[sign_column(column)].reindex(values.index) if sign_column(column) in regimes else None
        # markets that close hours apart: the synchronised correlation beside the daily one
        synced = corr[sync_column(column)].reindex(values.index) if sync_column(column) in corr else None
        source = "configured pair (rolling_corr.csv)" + ("" if sign is not None else "; sign regimes: off")
    elif days is not None:  # correlation is symmetric
        values = thinned(days, THIN_EVERY)
        lo, hi = fisher_band(values, window, CONFIDENCE)
        sign = synced = None
        source = f"computed for the dashboard (every {THIN_EVERY}th joint day); sign regimes: configured pairs only"
    else:
        return None
    codes = {label: k - 1 for k, label in enumerate(SIGN_LABELS)}  # -1 negative, 0 mixed, 1 positive
    return {
        "dates": [d.strftime("%Y-%m-%d") for d in values.index],
        "corr": rounded(values),
        "lo": rounded(lo) if lo is not None else None,
        "hi": rounded(hi) if hi is not None else None,
        "sign": [codes.get(v) if isinstance(v, str) else None for v in sign] if sign is not None else None,
        "sync": rounded(synced) if synced is not None else None,
        "source": source,
    }


def exceedance_payload(exceedance: pd.DataFrame | None, regimes_meta: dict) -> dict:
    """{"A|B": the pair's exceedance curve per era as drawn (below the median: joint falls;
    above: joint rises), the normal benchmark of the full sample, the test in words}."""
    from corrflow.analytics.correlation.exceedance import asymmetry_sentence
    from corrflow.present.figures.exceedance import FULL, curve_points, era_order, htz_sentences

    if exceedance is None or exceedance.empty:
        return {}
    tests = regimes_meta.get("exceedance", {})
    out = {}
    for pair, rows in exceedance.groupby("pair", sort=False):
        a, b = pair.split(":")
        eras = []
        for era, part in rows.groupby("era", sort=False):
            points = curve_points(part)
            eras.append(
                {
                    "era": f"{era} ({part['first'].iloc[0][:4]}..{part['last'].iloc[0][:4]}, {int(part['days'].iloc[0])} days)",
                    "full": era == FULL,
                    "q": rounded(100 * points["quantile"]),
                    "corr": rounded(points["corr"]),
                    "count": [int(c) for c in points["count"]],
                    "normal": rounded(points["normal_corr"]) if era == FULL else None,
                }
            )
        pair_tests = {era: t for era, t in sorted(tests.get(pair, {}).items(), key=lambda e: era_order(e[0]))}
        rejected = [s for era, t in pair_tests.items() if (s := asymmetry_sentence(f"{a}-{b}", era, t))]
        out[f"{a}|{b}"] = {"eras": eras, "test": " ".join(rejected or htz_sentences(pair_tests, f"{a}-{b}"))}
    return out


def markdown_table_html(rows: list[str]) -> str:
    cells = [[html.escape(c.strip()) for c in row.strip().strip("|").split("|")] for row in rows]
    head = "".join(f"<th>{c}</th>" for c in cells[0])
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells[2:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def markdown_inline_html(text: str) -> str:
    import re

    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(text))


def why_shown(representative: str, configured: list[str]) -> str:
    """How a cluster's shown series was chosen, in words."""
    return "a configured pair's series in" if representative in configured else "the most central series of"


def build_dashboard(
    clean_meta,
    levels,
    corr,
    regimes,
    episodes,
    regimes_meta,
    pairs,
    window,
    exclude,
    today=None,
    all_pairs=None,
    exceedance=None,
) -> str:
    """The whole page as one HTML string. With ``all_pairs`` (the all-pairs store's
    manifest) of the same window, the heatmap's month-end matrices are the store's."""
    import plotly.graph_objects as go
    import plotly.io as pio

    window = primary_window_of(corr, window)
    series_meta = clean_meta["series"]
    as_of = as_of_date(clean_meta, pairs)
    levels = levels.loc[: pd.Timestamp(as_of)]
    headline, source_rows = data_provenance(series_meta, as_of, clean_meta.get("data_through"), today)
    age = data_age_sentence(as_of, today)
    shown, left_out = heatmap_series(series_meta, levels, exclude)
    if len(shown) > READABLE_SERIES:  # a page of months x N x N numbers: one series per cluster
        prefer = [s for pair in pairs for s in pair]
        representatives, clusters = cluster_representatives(
            levels, clean_meta, shown, as_of, READABLE_SERIES, prefer
        )
        left_out |= {
            member: f"shown by {representative}, {why_shown(representative, prefer)} its cluster of {len(members)}"
            for representative, members in clusters.items()
            for member in members
            if member != representative
        }
        shown = [s for s in shown if s in clusters]
    rolling = pair_rolling(levels, clean_meta, shown, window)
    if all_pairs is not None and json.loads(Path(all_pairs).read_text(encoding="utf-8"))["window"] == window:
        from corrflow.store.all_pairs import read_month_ends

        # the store's month-end matrices (its kernel is the dashboard's), read, not computed again
        months, cube = read_month_ends(all_pairs, series=shown)
        logger.info("heatmap: the month-end matrices of %s (%d months)", all_pairs, len(months))
        kept = months.to_period("M") <= pd.Timestamp(as_of).to_period("M")
        months, cube = months[kept], cube[kept]
    else:
        months, cube = month_end_matrices(rolling, shown)
    full = pd.DataFrame(
        np.nanmean(cube, axis=0) if len(cube) else np.eye(len(shown)), index=shown, columns=shown
    )
    order_repairs = []
    order = clustered_order(full, order_repairs)
    index = [shown.index(s) for s in order]
    cube = cube[:, index][:, :, index] if len(cube) else cube
    frames = [[rounded(row) for row in matrix] for matrix in cube]
    month_labels = [m.strftime("%Y-%m") for m in months]
    members, first_month, not_absorbed = absorption_universe(cube, order)
    month_repairs = []
    absorbed = [order[k] for k in members]
    shares, counts = absorption_ratio(
        cube[:, members][:, :, members] if len(cube) else cube,
        absorbed,
        month_repairs,
        universe_returns(levels, clean_meta, absorbed),
        months,
        window,
    )
    # before the last member starts, or a month a pair has no value: not the same universe
    shares = np.where((np.arange(len(shares)) >= first_month) & (counts == len(members)), shares, np.nan)
    absorption_note = (
        f"{len(members)} series ({', '.join(order[k] for k in members)}), from "
        f"{month_labels[first_month] if month_labels else '-'}"
    )
    episodes = normalised_episodes(episodes, regimes_meta)
    pair_data = {}
    for i, row_series in enumerate(shown):
        for column_series in shown[i + 1 :]:
            # a configured pair keeps its configured order (its columns in rolling_corr.csv);
            # new names, so the row's series is not rebound for the rest of the row
            reverse = primary_of(corr, column_series, row_series, window) is not None
            a, b = (column_series, row_series) if reverse else (row_series, column_series)
            payload = pair_payload(a, b, corr, regimes, window, rolling)
            if payload is not None:
                pair_data[f"{a}|{b}"] = payload
    names = {k: m.get("name") or k for k, m in series_meta.items()}
    first_pair = next(
        (f"{a}|{b}" for a, b in pairs if f"{a}|{b}" in pair_data or f"{b}|{a}" in pair_data), None
    )
    first_pair = first_pair or next(iter(pair_data), None)
    data = {
        "months": month_labels,
        "frames": frames,
        "order": order,
        "pairs": pair_data,
        "names": names,
        "window": window,
        "first": first_pair,
        "episodes": [
            {"name": e["name"] or e["reason"], "start": str(e["start"])[:10], "end": str(e["end"])[:10]}
            for _, e in episodes.sort_values("start").iterrows()
        ],
        "sign_colours": [SIGN_COLOURS[label] for label in SIGN_LABELS],
        "exceedance": exceedance_payload(exceedance, regimes_meta),
    }
    latest = frames[-1] if frames else [[None] * len(order)] * len(order)
    heatmap = go.Figure(
        go.Heatmap(
            z=latest,
            x=order,
            y=order,
            zmin=-1,
            zmax=1,
            colorscale="RdBu",
            reversescale=True,
            texttemplate="%{z:.2f}" if len(order) <= 20 else None,
            # the hover text is the script's (cellText): "no data that month" on a gap, never 0.00;
            # gaps take hover and clicks, so a pair without joint data can say so when clicked
            hovertemplate="%{y} / %{x}: %{text}<extra></extra>",
            hoverongaps=True,
            colorbar={"title": {"text": "correlation"}},
        )
    )
    heatmap.update_layout(
        title={
            "text": f"{window}-day correlation at {month_labels[-1] if month_labels else '-'} (month-end)"
        },
        yaxis={"autorange": "reversed"},
        height=560,
        margin={"l": 110, "r": 20, "t": 50, "b": 60},
        template="plotly_white",
    )
    absorption = go.Figure(
        go.Scatter(
            x=month_labels,
            y=rounded(shares),
            customdata=counts.tolist(),
            mode="lines",
            line={"color": "#17365d", "width": 1.6},
            hovertemplate="%{x}: %{y:.2f} of the variance (%{customdata} series)<extra></extra>",
        )
    )
    absorption.update_layout(
        title={
            "text": "Absorption ratio: first eigenvalue's share of the month-end correlation matrix<br>"
            f"<sup>one fixed universe: {html.escape(absorption_note)}</sup>"
        },
        yaxis={"range": [0, 1], "title": {"text": "share"}},
        height=320,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        template="plotly_white",
    )
    pair_figure = go.Figure()
    pair_figure.update_layout(
        height=460, template="plotly_white", margin={"l": 60, "r": 20, "t": 50, "b": 40}
    )
    config = {"displaylogo": False, "responsive": True}
    heatmap_html = pio.to_html(
        heatmap, include_plotlyjs=True, full_html=False, div_id="heatmap", config=config
    )
    pair_html = pio.to_html(
        pair_figure, include_plotlyjs=False, full_html=False, div_id="pair", config=config
    )
    exceedance_html = pio.to_html(
        go.Figure().update_layout(height=360, template="plotly_white"),
        include_plotlyjs=False,
        full_html=False,
        div_id="exceedance",
        config=config,
    )
    absorption_html = pio.to_html(
        absorption, include_plotlyjs=False, full_html=False, div_id="absorption", config=config
    )
    table = markdown_table_html(
        today_table(corr, regimes, pairs, window, as_of, series_meta, regimes_meta.get("unusual_history"))
    )
    left_out_text = (
        "<p class='note'>Not in the heatmap: "
        + "; ".join(html.escape(f"{s} ({why})") for s, why in left_out.items())
        + ".</p>"
        if left_out
        else ""
    )
    payload = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return PAGE.format(
        headline=markdown_inline_html(headline),
        heatmap=heatmap_html,
        pair=pair_html,
        exceedance=exceedance_html,
        absorption=absorption_html,
        matrix_notes=(
            "<p class='note'>Valid correlation matrices (each pair is measured on its own days, so a "
            "matrix of them need not be positive semidefinite): clustered order from the mean month-end "
            f"matrix, {html.escape(order_repairs[0].sentence()) if order_repairs else 'fewer than 3 series'}. "
            f"Absorption ratio, {html.escape(repair_note(month_repairs, month_labels) or 'no month')}</p>"
        ),
        absorption_left_out=(
            "<p class='note'>Not in the absorption ratio: "
            + "; ".join(html.escape(f"{s} ({why})") for s, why in not_absorbed.items())
            + ".</p>"
            if not_absorbed
            else ""
        ),
        table=table,
        left_out=left_out_text,
        sources=markdown_table_html(source_rows),
        age=f"<p>{markdown_inline_html(age)}</p>" if age else "",
        last=max(len(month_labels) - 1, 0),
        last_label=month_labels[-1] if month_labels else "-",
        payload=payload.replace("</", "<\\/"),
        script=SCRIPT,
        name=DASHBOARD,
    )


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Cross-asset correlation dashboard</title>
<style>
body {{ font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 1.5em auto; max-width: 1150px; color: #222; }}
h1 {{ font-size: 1.5em; margin-bottom: 0.2em; }}
h2 {{ font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }}
.note {{ color: #7a1f1f; font-size: 0.9em; }}
.slider {{ display: flex; align-items: center; gap: 1em; margin: 0.4em 0 0 110px; }}
.slider input {{ flex: 1; }}
table {{ border-collapse: collapse; font-size: 0.85em; }}
th, td {{ border: 1px solid #ddd; padding: 0.25em 0.5em; text-align: left; }}
th {{ background: #f4f4f4; }}
</style>
</head>
<body>
<h1>Cross-asset correlation dashboard</h1>
<p>{headline}</p>
<h2>At a glance: the latest values</h2>
{age}
{table}
<h2>The universe: correlation heatmap</h2>
<p>Rolling correlation of daily returns at each month-end, every pair on the days both markets traded; rows in a
clustered order. Move the slider to go back in time; click a cell to see that pair below.</p>
{heatmap}
<div class="slider"><input type="range" id="date-slider" min="0" max="{last}" value="{last}" step="1"
aria-label="month"><span id="date-label">{last_label}</span></div>
{left_out}
<h2 id="pair-title">Pair</h2>
<p id="pair-note"></p>
{pair}
<h3 id="exceedance-title">Exceedance correlations</h3>
<p id="exceedance-note"></p>
{exceedance}
<h2>How much the universe moves together</h2>
{absorption}
{absorption_left_out}
{matrix_notes}
<h2>Sources</h2>
<p>Each series' currency as stored (and what it was converted from), its origin and its exchange calendar.</p>
{sources}
<script id="dashboard-data" type="application/json">{payload}</script>
<script>
{script}
</script>
</body>
</html>
"""

SCRIPT = r"""
(function () {
  const DATA = JSON.parse(document.getElementById("dashboard-data").textContent);
  const slider = document.getElementById("date-slider");
  const label = document.getElementById("date-label");
  const DAY_MS = 86400000;
  const MIN_EPISODE_SHARE = 0.004;  // of the chart's date range: a one-day episode on a 60-year axis stays visible
  const PAIR_LAYOUT = {height: 460, template: "plotly_white", margin: {l: 60, r: 20, t: 30, b: 40}};
  function cellText(frame) {
    return frame.map(row => row.map(v => (v === null ? "no data that month" : v.toFixed(2))));
  }
  function showMonth(i) {
    label.textContent = DATA.months[i];
    Plotly.restyle("heatmap", {z: [DATA.frames[i]], text: [cellText(DATA.frames[i])]}, [0]);
    Plotly.relayout("heatmap", {"title.text": DATA.window + "-day correlation at " + DATA.months[i] + " (month-end)"});
  }
  slider.addEventListener("input", function () { showMonth(Number(slider.value)); });
  function findPair(a, b) {
    if (DATA.pairs[a + "|" + b]) return [a, b, DATA.pairs[a + "|" + b]];
    if (DATA.pairs[b + "|" + a]) return [b, a, DATA.pairs[b + "|" + a]];
    return null;
  }
  function clearPair(title, note, heading, message) {
    // nothing of the previous pair may stay under a heading that names another
    title.textContent = heading;
    delete title.dataset.pair;
    note.textContent = message;
    drawExceedance(null, null);
    Plotly.react("pair", [], Object.assign({}, PAIR_LAYOUT, {
      xaxis: {visible: false}, yaxis: {visible: false},
      annotations: [{text: message, showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5}],
    }), {displaylogo: false, responsive: true});
  }
  function showPair(a, b) {
    const title = document.getElementById("pair-title");
    const note = document.getElementById("pair-note");
    drawPair(a, b, title, note);
    title.dataset.clicked = a + "|" + b;  // the cell last handled (row|column), for the browser test
  }
  function bandPolygons(dates, lo, hi) {
    // x, y of closed polygons (upper edge forward, lower edge back), null between them
    const x = [], y = [];
    let start = -1;
    for (let i = 0; i <= dates.length; i++) {
      const inside = i < dates.length && lo[i] !== null && hi[i] !== null;
      if (inside && start < 0) start = i;
      if (!inside && start >= 0) {
        for (let k = start; k < i; k++) { x.push(dates[k]); y.push(hi[k]); }
        for (let k = i - 1; k >= start; k--) { x.push(dates[k]); y.push(lo[k]); }
        x.push(null); y.push(null);
        start = -1;
      }
    }
    return {x: x, y: y};
  }
  function drawPair(a, b, title, note) {
    const found = findPair(a, b);
    if (a === b) {
      clearPair(title, note, a, "A series against itself: pick a cell off the diagonal.");
      return;
    }
    if (!found) {
      clearPair(title, note, a + " vs " + b, "No joint data for this pair (fewer than " + DATA.window +
      " days on which both traded).");
      return;
    }
    const [x, y, p] = found;
    title.textContent = x + " vs " + y + ": " + DATA.window + "-day rolling correlation";
    title.dataset.pair = x + "|" + y;
    note.textContent = (DATA.names[x] || x) + " vs " + (DATA.names[y] || y) + "; " + p.source +
      (p.sign ? "; strip: sign regime (blue negative, grey mixed, red positive)" : "");
    const traces = [];
    if (p.lo) {
      // the band's edges (no fill of their own), then the band as one closed polygon per
      // stretch of days with a value: a gap ends a polygon, so no fill is drawn across it
      traces.push({x: p.dates, y: p.lo, mode: "lines", line: {width: 0}, hoverinfo: "skip", showlegend: false,
        meta: "lo"});
      traces.push({x: p.dates, y: p.hi, mode: "lines", line: {width: 0}, hoverinfo: "skip", showlegend: false,
        meta: "hi"});
      const band = bandPolygons(p.dates, p.lo, p.hi);
      traces.push({x: band.x, y: band.y, mode: "lines", line: {width: 0}, fill: "toself",
        fillcolor: "rgba(23,54,93,0.18)", name: "95 % band", hoverinfo: "skip", meta: "band"});
    }
    // null values (no correlation that day) break the line: connectgaps stays off
    traces.push({x: p.dates, y: p.corr, mode: "lines", line: {color: "#17365d", width: 1.5}, meta: "corr",
      name: DATA.window + "-day correlation", hovertemplate: "%{x}: %{y:.2f}<extra></extra>"});
    if (p.sync) {
      // markets that close hours apart: the synchronised correlation, dashed as in the report
      traces.push({x: p.dates, y: p.sync, mode: "lines", line: {color: "#c0504d", width: 1.2, dash: "dash"},
        meta: "sync", name: "synchronised (closes apart)", hovertemplate: "%{x}: %{y:.2f} synchronised<extra></extra>"});
    }
    const layout = Object.assign({}, PAIR_LAYOUT, {
      yaxis: {range: [-1, 1], domain: p.sign ? [0.12, 1] : [0, 1], title: {text: "correlation"}, zeroline: true},
      legend: {orientation: "h", y: 1.08}, shapes: [], hovermode: "x",
    });
    if (p.sign) {
      traces.push({x: p.dates, y: ["sign"], z: [p.sign], type: "heatmap", yaxis: "y2", zmin: -1, zmax: 1,
        showscale: false, hoverinfo: "skip",
        colorscale: [[0, DATA.sign_colours[0]], [0.5, DATA.sign_colours[1]], [1, DATA.sign_colours[2]]]});
      layout.yaxis2 = {domain: [0, 0.07], showticklabels: true, fixedrange: true};
      layout.xaxis = {anchor: "y2"};  // dates under the strip, not across it
    }
    const first = p.dates[0], last = p.dates[p.dates.length - 1];
    const minWidth = MIN_EPISODE_SHARE * (Date.parse(last) - Date.parse(first));
    const marks = {x: [], y: [], text: []};
    for (const e of DATA.episodes) {
      if (e.end < first || e.start > last) continue;
      let x0 = Date.parse(e.start), x1 = Date.parse(e.end) + DAY_MS;  // the end day drawn whole
      if (x1 - x0 < minWidth) { const middle = (x0 + x1) / 2; x0 = middle - minWidth / 2; x1 = middle + minWidth / 2; }
      layout.shapes.push({type: "rect", xref: "x", yref: "paper", x0: x0, x1: x1, name: e.name,
        y0: p.sign ? 0.12 : 0, y1: 1, fillcolor: "rgba(127,127,127,0.15)", line: {width: 0}, layer: "below"});
      marks.x.push(e.start); marks.y.push(0.93); marks.text.push(e.name + " (" + e.start + " .. " + e.end + ")");
    }
    if (marks.x.length) {
      traces.push({x: marks.x, y: marks.y, text: marks.text, mode: "markers", name: "stress episode",
        marker: {color: "rgba(90,90,90,0.6)", symbol: "triangle-down", size: 7}, hovertemplate: "%{text}<extra></extra>"});
    }
    Plotly.react("pair", traces, layout, {displaylogo: false, responsive: true});
    drawExceedance(x, y);
  }
  const ERA_COLOURS = ["#8fa9c7", "#c9a66b", "#9cc59a", "#b9a3cf"];
  function drawExceedance(x, y) {
    // the clicked pair's exceedance curve per era and the normal benchmark, or why there is none
    const title = document.getElementById("exceedance-title");
    const note = document.getElementById("exceedance-note");
    const e = x === null ? null : (DATA.exceedance[x + "|" + y] || DATA.exceedance[y + "|" + x]);
    const layout = Object.assign({}, PAIR_LAYOUT, {height: 360});
    if (!e) {
      title.textContent = "Exceedance correlations";
      delete title.dataset.pair;
      note.textContent = x === null ? "" : "No exceedance correlations for " + x + " vs " + y +
        " (configured pairs only; regimes.exceedance.all_pairs adds every pair).";
      Plotly.react("exceedance", [], Object.assign(layout, {xaxis: {visible: false}, yaxis: {visible: false}}),
        {displaylogo: false, responsive: true});
      return;
    }
    title.textContent = x + " vs " + y + ": exceedance correlations";
    title.dataset.pair = x + "|" + y;
    note.textContent = "Correlation on the days both legs are below (left: joint falls) or above (right) their " +
      "own quantile, against a bivariate normal with the same correlation (dashed). " + e.test;
    const traces = [];
    let other = 0;
    for (const era of e.eras) {
      traces.push({x: era.q, y: era.corr, customdata: era.count, mode: era.full ? "lines+markers" : "lines",
        name: era.era, line: {color: era.full ? "#17365d" : ERA_COLOURS[other++ % 4], width: era.full ? 2.2 : 1.2},
        hovertemplate: "%{x}%: %{y:.2f} on %{customdata} days<extra>" + era.era + "</extra>"});
      if (era.normal) {
        traces.push({x: era.q, y: era.normal, mode: "lines", name: "bivariate normal",
          line: {color: "black", dash: "dash", width: 1.2}, hovertemplate: "%{x}%: %{y:.2f}<extra>normal</extra>"});
      }
    }
    Object.assign(layout, {xaxis: {range: [0, 100], title: {text: "quantile of each leg's standardised return (%)"}},
      yaxis: {title: {text: "exceedance correlation"}}, legend: {orientation: "h", y: 1.12},
      shapes: [{type: "line", x0: 50, x1: 50, yref: "paper", y0: 0, y1: 1, line: {color: "#999", width: 1}}]});
    Plotly.react("exceedance", traces, layout, {displaylogo: false, responsive: true});
  }
  document.getElementById("heatmap").on("plotly_click", function (event) {
    const point = event.points[0];
    showPair(point.y, point.x);
  });
  if (DATA.months.length) showMonth(DATA.months.length - 1);  // the hover texts of the latest month
  if (DATA.first) { const [a, b] = DATA.first.split("|"); showPair(a, b); }
})();
"""


def run(
    *,
    clean: str,
    corr: str,
    regimes: str,
    episodes: str,
    pairs: list,
    window: int | None = None,
    exclude: list[str],
    today: str | None,
    all_pairs: str | None = None,
    exceedance: str | None = None,
    html: str,
) -> None:
    """docs/dashboard.html, one self-contained page (rule ``dashboard``).

    clean: clean.parquet
    corr: rolling_corr.csv
    regimes: regimes.parquet
    episodes: stress_episodes.csv
    all_pairs: data/processed/all_pairs/manifest.json: its month-end matrices
    exceedance: data/processed/exceedance.csv (regimes): the curve of a clicked pair
    html: docs/dashboard.html
    """
    levels, clean_meta = read_parquet(clean)
    corr = read_rolling_corr(corr)
    regimes, regimes_meta = read_parquet(regimes)
    episodes = pd.read_csv(episodes)
    page = build_dashboard(
        clean_meta,
        levels,
        corr,
        regimes,
        episodes,
        regimes_meta,
        pairs,
        window,
        exclude,
        today,
        all_pairs,
        read_exceedance(exceedance) if exceedance else None,
    )
    write_text_atomic(page, html)
    logger.info("wrote %s (%.1f MB)", html, len(page.encode()) / 1e6)
