"""Interactive dashboard (task F): docs/dashboard.html, one self-contained file.

It reads files and computes no correlation: everything about the universe (the clustered
order, the month-end matrices, the latest matrix, the clusters, the pairs' histories, the
absorption ratio) is the universe rule's (``corrflow.store.universe``).

- The universe's correlation heatmap (the primary window's rolling Pearson correlation
  of every pair of series, each pair on the days both markets traded, its last value in
  each month) with a date slider over the months: each month titled with its real date,
  "partial month" where the data end within it, and the pairs it holds; the page opens
  on the latest matrix, the last month at least half the pairs have a value.
- A click on a cell shows that pair's rolling correlation with its Fisher-z band, its
  sign regimes (configured pairs) and the stress episodes (each at least a few pixels
  wide, so a one-week shock on a 60-year axis stays visible); a cell of a pair without
  enough joint days (it can be clicked: gaps take clicks) says so and clears the chart.
- Below it, the pair's exceedance correlations (regimes' exceedance.csv: configured
  pairs, or every pair with ``regimes.exceedance.all_pairs``) against the bivariate
  normal's, per era, and the Hong-Tu-Zhou test in words.
- The absorption ratio through time: the first eigenvalue's share of the month-end
  correlation matrix of the assets (never a `level` such as VIX) of one fixed universe,
  a one-number gauge of how much the universe moves together; its n and members stated.
- Today's table and the data's provenance, as in the report.

plotly.js is inlined (``include_plotlyjs=True``: no CDN, works offline); the page and its
script are package data (``templates/dashboard.html``, ``templates/dashboard.js``); every
figure's div id is fixed and numbers are rounded, so the same inputs give the same bytes.
"""

import html
import json
import logging
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from corrflow.analytics.correlation.exceedance import read_exceedance
from corrflow.analytics.panel import CleanPanel
from corrflow.data.contracts import (
    SIGN_LABELS,
    band_of,
    read_parquet,
    read_rolling_corr,
    sign_column,
    sync_column,
)
from corrflow.io import write_text_atomic
from corrflow.present.figures._style import SIGN_COLOURS
from corrflow.present.summary import (
    DASHBOARD,
    data_age_sentence,
    data_provenance,
    normalised_episodes,
    pair_currency_text,
    primary_of,
    series_label,
    table_definitions,
    today_table,
)
from corrflow.store.universe import THIN_EVERY, read_universe

logger = logging.getLogger("dashboard")

DIGITS = 3
# every plot's options, here and in dashboard.js (DATA.plot_config): plotly.js 4 offers
# "Share chart..." (an upload to Plotly Cloud) unless told not to; an offline page sends nothing
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "showSendToCloud": False}
HEATMAP_LEFT = 170  # px: the heatmap's left margin (its row labels), the slider's indent too
HEATMAP_HEIGHT = 600  # px


def rounded(values, shown: int | None = 2) -> list:
    """Floats rounded to DIGITS decimals for the page, each exactly as Python's
    ``round(v, DIGITS)``; NaN (and inf) as null (JSON has no NaN). In array operations:
    x * 10**DIGITS lies within 1e-13 of its exact value here, so rint gives the exact
    rounding's integer k, and k / 10**DIGITS is the float nearest k / 10**DIGITS, which
    is what ``round`` returns; a value within 1e-6 of a half (a tie, or too close to
    tell) or too large for that margin goes to ``round`` itself.

    ``shown``: the decimals the page shows of these numbers (``toFixed(2)``, ``.2f``). A
    value rounded to ``x.xx5`` is a tie there, which the page would round the other way
    than the value itself about half the time (-0.2452 stored as -0.245, shown as
    -0.24): such a value keeps the fewest more decimals that make the page show the
    value's own rounding (-0.2452). None: every value as ``round(v, DIGITS)``."""
    array = np.asarray(values, dtype="float64").ravel()
    scale = 10.0**DIGITS
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = array * scale
        result = (np.rint(scaled) / scale).tolist()
        doubtful = (np.abs(np.abs(scaled - np.trunc(scaled)) - 0.5) < 1e-6) | (np.abs(scaled) >= 1e9)
    finite = np.isfinite(array)
    for k in np.flatnonzero(doubtful & finite):
        result[k] = round(float(array[k]), DIGITS)
    if shown is not None:
        with np.errstate(invalid="ignore", over="ignore"):
            at_shown = np.asarray(result, dtype="float64") * 10.0**shown
            ties = finite & (np.abs(np.abs(at_shown - np.trunc(at_shown)) - 0.5) < 1e-6)
        for k in np.flatnonzero(ties):
            result[k] = shown_right(float(array[k]), result[k], shown)
    for k in np.flatnonzero(~finite):
        result[k] = None
    return result


def page_shows(value: float, decimals: int) -> Decimal:
    """What the page shows of ``value`` (JavaScript's ``toFixed``, which d3's ``.2f``
    calls): its exact binary value to ``decimals``, a half away from zero."""
    return Decimal(value).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def shown_right(value: float, stored: float, decimals: int) -> float:
    """``stored`` when the page shows it as Python rounds ``value``, else the shortest
    rounding of ``value`` with more decimals that it shows so; ``stored`` when none does
    (``value`` an exact binary half, which the page rounds away from zero)."""
    wanted = Decimal(value).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN)
    if page_shows(stored, decimals) == wanted:
        return stored
    for digits in range(DIGITS + 1, 18):
        candidate = round(value, digits)
        if page_shows(candidate, decimals) == wanted:
            return candidate
    return stored


def iso_days(index: pd.DatetimeIndex) -> list[str]:
    """The days of ``index`` as YYYY-MM-DD strings."""
    return np.datetime_as_string(index.values.astype("datetime64[D]"), unit="D").tolist()


def axis_label(series_id: str, meta: dict) -> str:
    """A heatmap axis label: the series id, a yield's marked as its bond return."""
    return series_label(series_id, meta, name=False)


def pair_payload(a, b, corr, regimes, window, history, series_meta=None) -> dict | None:
    """The click-through data of one pair on its days (both markets open; null where it
    has no value, so the line and band break there): the configured pair's own columns
    when it has them (daily, on the days of the universe step's history), else the
    universe step's history (every ``THIN_EVERY``-th day) with its Fisher-z band."""
    column = primary_of(corr, a, b, window)
    days = history.get((a, b), history.get((b, a)))  # a frame: corr, lo, hi on the pair's days
    if column is not None and corr[column].notna().any():
        band = band_of(corr, column)
        values = corr[column]
        if days is not None:
            values = values.reindex(days.index)
        values = values.loc[values.first_valid_index() : values.last_valid_index()]
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
        values, lo, hi = days["corr"], days["lo"], days["hi"]
        sign = synced = None
        source = f"computed for the dashboard (every {THIN_EVERY}th joint day); sign regimes: configured pairs only"
    else:
        return None
    codes = {label: k - 1 for k, label in enumerate(SIGN_LABELS)}  # -1 negative, 0 mixed, 1 positive
    return {
        "dates": iso_days(values.index),
        "corr": rounded(values),
        "lo": rounded(lo) if lo is not None else None,
        "hi": rounded(hi) if hi is not None else None,
        "sign": [codes.get(v) if isinstance(v, str) else None for v in sign] if sign is not None else None,
        "sync": rounded(synced) if synced is not None else None,
        "source": source,
        # the returns' currency as the report's pair figures title it ("in USD")
        "currency": pair_currency_text(series_meta or {}, a, b),
    }


def exceedance_payload(exceedance: pd.DataFrame | None, regimes_meta: dict) -> dict:
    """{"A|B": the pair's exceedance curve per era as drawn (below the median: joint falls;
    above: joint rises), the normal benchmark of the full sample, the test in words}."""
    from corrflow.analytics.correlation.exceedance import asymmetry_sentence
    from corrflow.present.figures.exceedance import (
        FULL,
        curve_points,
        curve_reading,
        era_order,
        htz_sentences,
    )

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
                    "q": rounded(100 * points["quantile"], shown=None),  # shown as it is
                    "corr": rounded(points["corr"]),
                    "count": [int(c) for c in points["count"]],
                    "normal": rounded(points["normal_corr"]) if era == FULL else None,
                }
            )
        pair_tests = {era: t for era, t in sorted(tests.get(pair, {}).items(), key=lambda e: era_order(e[0]))}
        rejected = [s for era, t in pair_tests.items() if (s := asymmetry_sentence(f"{a}-{b}", era, t))]
        # what the curve shows, as the report says it, then the test
        reading = curve_reading(rows[rows["era"] == FULL], pair_tests.get(FULL, {}), f"{a}-{b}")
        words = [*([reading] if reading else []), *(rejected or htz_sentences(pair_tests, f"{a}-{b}"))]
        out[f"{a}|{b}"] = {"eras": eras, "test": " ".join(words)}
    return out


def template(name: str) -> str:
    """A page template or script shipped in the package (corrflow/present/templates/)."""
    from importlib.resources import files

    return files("corrflow.present").joinpath("templates", name).read_text(encoding="utf-8")


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


def frame_title(window: int, frame: dict, total_pairs: int, as_of: str = "") -> str:
    """A month-end matrix's title, two lines (kept clear of the plot's toolbar): its month,
    the pairs it holds and how many of them are dated after the page's as-of date, partial
    or not; then the span of its cells' own dates."""
    pairs, after = frame["pairs"], frame.get("after", 0)
    if after and after == pairs:
        head = f"{frame['month']}, after the as-of date {as_of}: {pairs} of {total_pairs} pairs"
    elif after:
        head = (
            f"{frame['month']}: {pairs} of {total_pairs} pairs, {after} of them after the as-of date {as_of}"
        )
    else:
        head = f"{frame['month']}: {pairs} of {total_pairs} pairs"
    first = frame.get("first") or frame["date"]
    span = frame["date"] if first == frame["date"] else f"{first} .. {frame['date']}"
    return (
        f"{window}-day correlation, {head}"
        + (" (partial month)" if frame["partial"] else "")
        + f"<br><sup>each pair's last value in the month, on its own day ({span}): click a cell for its date</sup>"
    )


def build_dashboard(
    clean_meta,
    corr,
    regimes,
    episodes,
    regimes_meta,
    pairs,
    window: int,
    universe: dict,
    today=None,
    exceedance=None,
) -> str:
    """The whole page as one HTML string, from the workflow's outputs: the heatmap's
    month-end matrices, order, latest frame, clusters, pair histories and absorption ratio
    are the universe step's (``universe``: ``corrflow.store.universe.read_universe`` of its
    three files); nothing here computes a correlation."""
    import plotly.graph_objects as go
    import plotly.io as pio

    clean = CleanPanel(pd.DataFrame(), clean_meta)  # its metadata: the page shows no levels
    series_meta = clean.specs
    as_of = clean.as_of_date(pairs)
    headline, source_rows = data_provenance(series_meta, as_of, clean.data_through, today)
    age = data_age_sentence(as_of, today)
    dashboard = universe["dashboard"]
    order = dashboard["order"]
    heatmap_part = universe["heatmap"]
    left_out = dict(heatmap_part["left_out"])
    clusters = heatmap_part["clusters"]
    if clusters:  # a page of months x N x N numbers: one series per cluster
        prefer = [s for pair in pairs for s in pair]
        left_out |= {
            member: f"shown by {representative}, {why_shown(representative, prefer)} its cluster of {len(members)}"
            for representative, members in clusters.items()
            for member in members
            if member != representative
        }
    cube = universe["cube"].copy()
    if len(cube):  # a series without any value that month: no 1.00 on its diagonal either
        off_diagonal = np.isfinite(cube).sum(axis=2) > 1  # months x series
        months_idx, series_idx = np.nonzero(~off_diagonal)
        cube[months_idx, series_idx, series_idx] = np.nan
    width = cube.shape[-1] if cube.ndim == 3 else 0
    flat = rounded(cube)  # every month's matrix, row after row
    frames = [
        [flat[(m * width + k) * width : (m * width + k + 1) * width] for k in range(width)]
        for m in range(len(cube))
    ]
    frame_info = dashboard["frames"]
    month_labels = [f["month"] for f in frame_info]
    latest = dashboard["latest"]
    total_pairs = dashboard["total_pairs"]
    absorption_part = universe["absorption"]
    shares = np.array([np.nan if v is None else v for v in absorption_part["shares"]], dtype="float64")
    counts = np.array(absorption_part["counts"], dtype=int)
    not_absorbed = absorption_part["left_out"]
    members = absorption_part["members"]
    absorption_note = f"{len(members)} assets ({', '.join(members)}), from {absorption_part['first'] or '-'}"
    episodes = normalised_episodes(episodes, regimes_meta)
    history = universe["history"]
    pair_data = {}
    for i, row_series in enumerate(order):
        for column_series in order[i + 1 :]:
            # a configured pair keeps its configured order (its columns in rolling_corr.csv);
            # new names, so the row's series is not rebound for the rest of the row
            reverse = primary_of(corr, column_series, row_series, window) is not None
            a, b = (column_series, row_series) if reverse else (row_series, column_series)
            payload = pair_payload(a, b, corr, regimes, window, history, series_meta)
            if payload is not None:
                pair_data[f"{a}|{b}"] = payload
    names = {k: series_label(k, m) for k, m in series_meta.items()}
    first_pair = next(
        (f"{a}|{b}" for a, b in pairs if f"{a}|{b}" in pair_data or f"{b}|{a}" in pair_data), None
    )
    first_pair = first_pair or next(iter(pair_data), None)
    titles = [frame_title(window, f, total_pairs, as_of) for f in frame_info]
    data = {
        "months": month_labels,
        "titles": titles,
        "frame_dates": [f["date"] for f in frame_info],
        "partial": [f["partial"] for f in frame_info],
        "after": [f.get("after", 0) for f in frame_info],
        # each cell's own date: the frame's date but for these ({"A:B": date}, the universe step's)
        "cells_before": [f.get("cells_before", {}) for f in frame_info],
        "as_of": as_of,
        "latest": latest,
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
        "plot_config": PLOT_CONFIG,
    }
    shown_frame = frames[latest] if latest is not None else [[None] * len(order)] * len(order)
    heatmap = go.Figure(
        go.Heatmap(
            z=shown_frame,
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
    ticks = {
        "tickmode": "array",
        "tickvals": order,
        "ticktext": [axis_label(s, series_meta[s]) for s in order],
    }
    heatmap.update_layout(
        # above the plot area, left-aligned and wrapped: clear of the toolbar at its top right
        title={
            "text": titles[latest] if latest is not None else f"{window}-day correlation: no month",
            "x": 0,
            "xref": "paper",
            "xanchor": "left",
            # its top 40 px down the figure: below the toolbar, its two lines above the plot area
            "y": 1 - 40 / HEATMAP_HEIGHT,
            "yref": "container",
            "yanchor": "top",
        },
        xaxis=ticks,
        yaxis={"autorange": "reversed"} | ticks,
        height=HEATMAP_HEIGHT,
        margin={"l": HEATMAP_LEFT, "r": 20, "t": 100, "b": 110},
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
    valued_months = [m for m, v in zip(month_labels, shares, strict=True) if np.isfinite(v)]
    absorption.update_layout(
        # the months with a ratio, not every month of the frames (1962 on, for one fixed universe from 2002)
        xaxis={"range": [valued_months[0], valued_months[-1]]} if valued_months else {},
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
    # plotly.js 4 offers "Share chart..." (an upload to Plotly Cloud) unless told not to:
    # an offline page sends nothing anywhere
    config = PLOT_CONFIG
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
    table = (
        markdown_table_html(
            today_table(corr, regimes, pairs, window, as_of, series_meta, regimes_meta.get("unusual_history"))
        )
        + f"<p class='definitions'>{html.escape(table_definitions(regimes_meta))}</p>"
    )
    left_out_text = (
        "<p class='note'>Not in the heatmap: "
        + "; ".join(html.escape(f"{s} ({why})") for s, why in left_out.items())
        + ".</p>"
        if left_out
        else ""
    )
    payload = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return template("dashboard.html").format(
        headline=markdown_inline_html(headline),
        heatmap=heatmap_html,
        pair=pair_html,
        exceedance=exceedance_html,
        absorption=absorption_html,
        matrix_notes=(
            "<p class='note'>Valid correlation matrices (each pair is measured on its own days, so a "
            "matrix of them need not be positive semidefinite): clustered order from the mean month-end "
            f"matrix, {html.escape(dashboard['order_repair'] or 'fewer than 3 series')}. "
            f"Absorption ratio, {html.escape(absorption_part['repair_note'] or 'no month')}</p>"
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
        latest=latest if latest is not None else 0,
        latest_label=month_labels[latest] if latest is not None else "-",
        heatmap_left=HEATMAP_LEFT,
        payload=payload.replace("</", "<\\/"),
        script=template("dashboard.js"),
        name=DASHBOARD,
    )


def run(
    *,
    clean: str,
    corr: str,
    regimes: str,
    episodes: str,
    universe: str,
    universe_frames: str,
    universe_pairs: str,
    pairs: list,
    window: int,
    today: str | None,
    exceedance: str | None = None,
    html: str,
) -> None:
    """docs/dashboard.html, one self-contained page (rule ``dashboard``): it reads files and
    computes no correlation.

    clean: clean.parquet (its metadata: the sources, the as-of date)
    corr: rolling_corr.csv
    regimes: regimes.parquet
    episodes: stress_episodes.csv
    universe: universe.json (rule universe): order, frames' labels, clusters, absorption ratio
    universe_frames: month_ends.parquet (rule universe): the heatmap's month-end matrices
    universe_pairs: pair_history.parquet (rule universe): a clicked pair's history
    window: the primary window (the universe rule's)
    exceedance: data/processed/exceedance.csv (regimes): the curve of a clicked pair
    html: docs/dashboard.html
    """
    clean = CleanPanel.read(clean, columns=[])  # its metadata only: no levels are needed
    corr = read_rolling_corr(corr)
    regimes, regimes_meta = read_parquet(regimes)
    episodes = pd.read_csv(episodes)
    page = build_dashboard(
        clean.meta,
        corr,
        regimes,
        episodes,
        regimes_meta,
        pairs,
        window,
        read_universe(universe, universe_frames, universe_pairs),
        today,
        read_exceedance(exceedance) if exceedance else None,
    )
    write_text_atomic(page, html)
    logger.info("wrote %s (%.1f MB)", html, len(page.encode()) / 1e6)
