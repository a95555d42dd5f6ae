"""Regimes, stress episodes, DCC and horizon correlations (task E).

regimes.parquet (index: date, the dates of rolling_corr.csv) holds per day:

1. ``sign:A:B:W`` (primary window only): ``negative`` (the pair hedges), ``positive``
   (it co-moves) or ``mixed``. A positive regime starts when the correlation rises above
   +``enter`` and lasts until it falls below ``exit`` (hysteresis; mirrored for
   negative); a regime, once entered, is held at least ``min_days`` observations unless
   the correlation crosses ``hard_exit`` the other way, so no label contradicts the sign
   (no ``negative`` day above +hard_exit, no ``positive`` day below -hard_exit). The rule
   only looks back: the label of a day uses the correlations up to that day; after a
   break of more than 10 weekdays without a correlation it starts afresh.
2. ``pct:A:B:W`` (every Pearson column): today's percentile among the pair's last
   ``unusual_history`` non-overlapping past values (W, 2W, ... observations back: windows
   that share no day with today's), and ``relative:A:B:W``: ``unusually low`` below the
   ``unusual_level`` percentile, ``unusually high`` above 100 - ``unusual_level``, else
   ``normal``; NaN with fewer than half of ``unusual_history`` past values. Rare by
   construction (about 2 x level % of days for a steady pair; at most ~10 % on the
   snapshot, whose pairs changed regime), whatever the sign.
3. Markov switching (``_markov``; switching mean and variance) on the equity's returns
   x 100 (states ``calm``/``turbulent``, ordered by variance) and on each primary-window
   correlation (``low``/``high``, ordered by mean): ``<prefix>:p_realtime:<state>``
   from expanding-window refits (data and parameters up to the day) and
   ``<prefix>:p_hindsight:<state>`` (full-sample smoothed). The metadata says whether
   the states are well separated.
4. ``dcc:A:B``: DCC-GARCH(1,1) conditional correlation of each configured pair on the
   pair's days (``_dcc``).
5. ``stress`` / ``stress_reason``: inside a stress episode, and what fired that day.

stress_episodes.csv: one row per episode of the universe (``_stress``, over every day of
clean.parquet, the equity extended back by the longest equity history) with each
primary-window pair's return correlation before (a calm baseline), during and
Forbes-Rigobon adjusted, their days and Fisher-z intervals.
horizons.csv: weekly and monthly return correlations (``_horizons``).
exceedance.csv: each configured pair's exceedance correlations per era beside the
bivariate-normal benchmark (``corrflow.analytics.correlation.exceedance``); the Hong-Tu-Zhou tests go into
regimes.parquet's metadata (``exceedance``), the DCC's standard errors into its ``dcc``.
"""

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from corrflow.analytics.panel import CleanPanel
from corrflow.config.sections import Dcc, Exceedance, HorizonWindows, Markov, Section, Sign, Stress
from corrflow.data.contracts import (
    RELATIVE_LABELS,
    SIGN_LABELS,
    corr_adjusted_column,
    corr_before_column,
    corr_during_column,
    dcc_column,
    markov_column,
    parse_corr_column,
    pearson_columns,
    percentile_column,
    primary_window_of,
    read_rolling_corr,
    relative_column,
    sign_column,
    write_parquet,
)
from corrflow.io import (
    InputDataError,
    Progress,
    write_csv_atomic,
)

logger = logging.getLogger("regimes")

NEGATIVE, MIXED, POSITIVE = SIGN_LABELS
RESTART_GAP = 10  # weekdays without a correlation after which a sign regime starts afresh
LOW, NORMAL, HIGH = RELATIVE_LABELS
MARKOV_THREADS = 2  # worker threads for the Markov fits (beside the rule's own thread)


# ---------------------------------------------------------------- relative labels


def own_history_percentile(corr: pd.Series, window: int, history: int) -> pd.Series:
    """Percentile (0..100) of each observed value among the pair's last ``history``
    non-overlapping past values: ``window``, 2 ``window``, ... observations before it,
    whose windows share no day with today's (overlapping windows would make the past
    look like today). 100 x (share below + half the share equal); NaN with fewer than
    ``history // 2`` past values. NaN days (a market closed) are skipped."""
    from numpy.lib.stride_tricks import sliding_window_view

    observed = corr.dropna()
    values = observed.to_numpy(dtype="float64")
    out = np.full(len(values), np.nan)
    for offset in range(min(window, len(values))):
        # one residue class of positions: each value against the `history` before it in the
        # class, compared all at once (NaN padding compares false: no value there)
        own = values[offset::window]
        padded = np.concatenate((np.full(history, np.nan), own[:-1]))
        past = sliding_window_view(padded, history)
        below = (past < own[:, None]).sum(axis=1)
        equal = (past == own[:, None]).sum(axis=1)
        count = np.minimum(np.arange(len(own)), history)
        ranked = np.where(
            count >= max(history // 2, 1), 100.0 * (below + 0.5 * equal) / np.maximum(count, 1), np.nan
        )
        out[offset::window] = ranked
    return pd.Series(out, index=observed.index).reindex(corr.index)


def relative_labels(percentile: pd.Series, level: float) -> pd.Series:
    """``unusually low`` below the ``level`` percentile, ``unusually high`` above 100 - level."""
    labels = np.where(percentile < level, LOW, np.where(percentile > 100.0 - level, HIGH, NORMAL))
    return pd.Series(labels, index=percentile.index, dtype="str").where(percentile.notna())


def relative_regimes(corr: pd.DataFrame, history: int, level: float) -> pd.DataFrame:
    columns = {}
    for name in pearson_columns(corr):
        percentile = own_history_percentile(corr[name], int(parse_corr_column(name).window), history)
        columns[percentile_column(name)] = percentile
        columns[relative_column(name)] = relative_labels(percentile, level)
    frame = pd.DataFrame(columns, index=corr.index)
    frame.index.name = "date"
    return frame


# ---------------------------------------------------------------- sign regimes


def check_sign_settings(sign: Sign) -> None:
    if not sign.exit < sign.enter:
        raise InputDataError(
            f"config key `regimes.sign`: exit ({sign.exit}) must be below enter "
            f"({sign.enter}), "
            f"or a regime would end the day it starts"
        )


def sign_regimes(corr: pd.Series, enter: float, exit: float, min_days: int, hard_exit: float) -> pd.Series:
    """Sign regime of each observed day (module doc, item 1); NaN where ``corr`` is NaN."""
    observed = corr.dropna()
    values = observed.to_numpy()

    def fresh(c: float) -> str:
        return POSITIVE if c > enter else NEGATIVE if c < -enter else MIXED

    # after a break in the data (no correlation for more than RESTART_GAP weekdays) a regime starts afresh
    dates = observed.index.values.astype("datetime64[D]")
    restart = np.r_[True, np.busday_count(dates[:-1], dates[1:]) > RESTART_GAP] if len(dates) else []
    labels = np.empty(len(values), dtype=object)
    state, held = None, 0
    for t, c in enumerate(values):
        if state is None or restart[t]:
            state, held = fresh(c), 0
        elif state == POSITIVE and (c < -hard_exit or (held >= min_days and c < exit)):
            state, held = fresh(c), 0
        elif state == NEGATIVE and (c > hard_exit or (held >= min_days and c > -exit)):
            state, held = fresh(c), 0
        elif state == MIXED and held >= min_days and fresh(c) != MIXED:
            state, held = fresh(c), 0
        held += 1
        labels[t] = state
    return pd.Series(labels, index=observed.index, dtype="str").reindex(corr.index)


def run_lengths(labels: pd.Series) -> pd.Series:
    """Length (observed days) of each run of one label; the index is the run's label."""
    observed = labels.dropna()
    if observed.empty:
        return pd.Series(dtype="int64")
    change = observed.ne(observed.shift()).cumsum()
    grouped = observed.groupby(change.to_numpy())
    return pd.Series(grouped.size().to_numpy(), index=grouped.first().to_numpy())


# ---------------------------------------------------------------- Markov switching


def markov_views(
    series: pd.Series, prefix: str, order_by: str, labels: list[str], markov: Markov, log: bool = True
):
    """Real-time and hindsight state probabilities of one series; (frame, info for the report).
    ``log=False``: no log line (``log_markov`` writes it; the rule logs in the order of its series)."""
    frame, info = _markov_views(series, prefix, order_by, labels, markov)
    if log:
        log_markov(info)
    return frame, info


def log_markov(info: dict) -> None:
    if info["status"] != "ok":
        logger.warning("markov %s: %s", info["series"], info["status"])
        return
    logger.info(
        "markov %s: shares %s, separation %s (%s)",
        info["series"],
        {n: round(s["share_of_days"], 3) for n, s in info["states"].items()},
        {key: round(v, 2) for key, v in info["separation"].items()},
        "well separated" if info["well_separated"] else "NOT well separated",
    )


def _markov_views(series: pd.Series, prefix: str, order_by: str, labels: list[str], markov: Markov):
    from corrflow.analytics.regimes import markov as _markov

    values = series.dropna()
    k = markov.k_regimes
    names = labels if k == len(labels) else [f"state{i}" for i in range(k)]
    views = ["p_realtime", "p_hindsight"] if markov.realtime else ["p_hindsight"]
    columns = [markov_column(prefix, view, name) for view in views for name in names]
    frame = pd.DataFrame(np.nan, index=series.index, columns=columns)
    info = {"series": prefix, "observations": len(values), "ordered_by": order_by, "labels": names}
    y = values.to_numpy(dtype="float64")
    if len(values) < max(100, 50 * k):
        info["status"] = f"skipped: only {len(values)} observations"
    elif not np.isfinite(y).all() or np.std(y) <= 1e-12 * max(1.0, float(np.abs(y).max())):
        info["status"] = "failed: the series does not vary; no Markov states for it"
    if "status" in info:
        return frame, info
    full = _markov.fit(y, k, order_by, max_iter=markov.max_iter)
    smoothed = _markov.smoothed_probabilities(y, full)
    frame.loc[values.index, [markov_column(prefix, "p_hindsight", n) for n in names]] = smoothed
    state = np.argmax(smoothed, axis=1)
    separation = _markov.separation(full)
    well = (
        separation["sd_ratio"] >= markov.min_sd_ratio
        if order_by == "variance"
        else separation["mean_gap_over_sd"] >= markov.min_mean_gap_sd
    )
    info.update(
        {
            "status": "ok",
            "log_likelihood": full.loglik,
            "em_iterations": full.iterations,
            "separation": separation,
            "well_separated": bool(well),
            "states": {
                name: {
                    "mean": float(full.mu[i]),
                    "variance": float(full.sigma2[i]),
                    "stay_probability": float(full.transition[i, i]),
                    "share_of_days": float((state == i).mean()),
                }
                for i, name in enumerate(names)
            },
        }
    )
    if markov.realtime:
        probabilities, fits = _markov.realtime_probabilities(
            y,
            values.index,
            k,
            order_by,
            markov.refit,
            markov.min_obs,
            markov.warm_iter,
            max_iter=markov.max_iter,
        )
        frame.loc[values.index, [markov_column(prefix, "p_realtime", n) for n in names]] = probabilities
        first = np.flatnonzero(~np.isnan(probabilities[:, 0]))
        info["realtime"] = {
            "refit": markov.refit,
            "fits": len(fits),
            "first_day": values.index[first[0]].date().isoformat() if len(first) else None,
            "em_iterations": int(sum(f.iterations for f in fits)),
        }
    return frame, info


# ---------------------------------------------------------------- glue


def pair_returns_of(levels: pd.DataFrame, metadata: dict, a: str, b: str) -> pd.DataFrame:
    """The pair's joint returns (``CleanPanel.pair_returns``), the days without one left out."""
    return CleanPanel(levels, metadata).pair_returns(a, b).dropna()


def dcc_regimes(levels: pd.DataFrame, metadata: dict, pairs: list[list[str]], min_obs: int):
    """``dcc:A:B`` per configured pair with data, and the estimates."""
    from corrflow.analytics.regimes import dcc as _dcc

    columns, info = {}, {}
    for a, b in pairs:
        if a not in levels or b not in levels:
            continue
        returns = pair_returns_of(levels, metadata, a, b)
        key = f"{a}:{b}"
        if len(returns) < min_obs:
            info[key] = {"status": f"skipped: only {len(returns)} days of the pair (needs {min_obs})"}
            logger.warning("dcc %s: %s", key, info[key]["status"])
            continue
        try:
            rho, estimates = _dcc.dcc_correlation(returns)
        except (ValueError, np.linalg.LinAlgError, FloatingPointError) as err:  # degenerate data
            info[key] = {"status": f"failed: {type(err).__name__}: {err}"}
            logger.warning("dcc %s: %s; no dcc column for this pair", key, info[key]["status"])
            continue
        columns[dcc_column(a, b)] = rho.reindex(levels.index)
        info[key] = {"status": "ok", **estimates}
        logger.info(
            "dcc %s: a=%.4f (se %.4f) b=%.4f (se %.4f) on %d days",
            key,
            estimates["a"],
            estimates["se_a"],
            estimates["b"],
            estimates["se_b"],
            len(returns),
        )
    return pd.DataFrame(columns, index=levels.index), info


def exceedance_pairs(levels: pd.DataFrame, pairs: list[list[str]], all_pairs: bool) -> list[tuple[str, str]]:
    """The configured pairs with data, then (``all_pairs``) every other pair of the
    universe's series in its order."""
    chosen = [(a, b) for a, b in pairs if a in levels and b in levels]
    if all_pairs:
        from itertools import combinations

        known = set(chosen) | {(b, a) for a, b in chosen}
        chosen += [pair for pair in combinations(levels.columns, 2) if pair not in known]
    return chosen


def exceedance_regimes(levels: pd.DataFrame, metadata: dict, pairs: list[list[str]], settings: Exceedance):
    """Exceedance curves (tidy table) and Hong-Tu-Zhou tests ({"A:B": {era: test}}) of
    the pairs on their joint days over the whole of their data."""
    from corrflow.analytics.correlation import exceedance as _exceedance

    frames, tests = [], {}
    for a, b in exceedance_pairs(levels, pairs, settings.all_pairs):
        key = f"{a}:{b}"
        table, tests[key] = _exceedance.pair_exceedance(
            pair_returns_of(levels, metadata, a, b),
            key,
            min_count=settings.min_count,
            split_year=settings.split_year,
            recent_years=settings.recent_years,
            min_days=settings.min_days,
        )
        frames.append(table)
        for era, test in tests[key].items():
            if test["status"] != "ok" or test["p_value"] is None:
                logger.info(
                    "exceedance %s %s: %s", key, era, test["status"] if test["status"] != "ok" else "no test"
                )
                continue
            logger.info(
                "exceedance %s %s: Hong-Tu-Zhou J=%.2f (%d df) p=%.4f on %d days",
                key,
                era,
                test["statistic"],
                test["df"],
                test["p_value"],
                test["days"],
            )
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=_exceedance.COLUMNS)
    return table, tests


def episode_correlation_columns(
    episodes: pd.DataFrame, levels: pd.DataFrame, metadata: dict, columns: list[str], stress: Stress
) -> pd.DataFrame:
    """Per primary-window Pearson column: corr_before / corr_during / corr_adjusted, and
    beside them (``_stress.episode_stat_column``) the days, the calm baseline's span, the
    Fisher-z intervals and whether the episode is too short for inference."""
    from corrflow.analytics.regimes.stress import EPISODE_STATS, episode_correlations, episode_stat_column

    out = episodes.copy()
    named = {"before": corr_before_column, "during": corr_during_column, "adjusted": corr_adjusted_column}
    for column in columns:
        a, b, _, _ = parse_corr_column(column)
        if a not in levels or b not in levels or episodes.empty:
            values = pd.DataFrame(np.nan, index=episodes.index, columns=EPISODE_STATS)
        else:
            pair = pair_returns_of(levels, metadata, a, b)
            values = episode_correlations(
                episodes,
                pair,
                stress.before_days,
                stress.min_days_for_corr,
                stress.min_days_for_inference,
            )
        for stat in EPISODE_STATS:
            name = named[stat](column) if stat in named else episode_stat_column(stat, column)
            kind = {"n_before": "Int64", "n_during": "Int64", "too_short": "boolean"}.get(stat)
            if stat.startswith("baseline_"):
                kind = "object"
            out[name] = values[stat].astype(kind or "float64")
    return out


@dataclass(frozen=True)
class RegimeSettings(Section):
    """What the regimes step reads of the config: the sections of ``regimes`` and
    ``stress``, the primary window resolved, the configured pairs and DQ's outlier threshold."""

    primary_window: int
    pairs: list[list[str]]
    unusual_history: int
    unusual_level: float
    sign: Sign
    markov: Markov
    dcc: Dcc
    horizons: HorizonWindows
    stress: Stress
    outlier_z: float
    exceedance: Exceedance


def build_regimes(corr, levels, metadata, settings: RegimeSettings):
    """Everything the rule writes: (regimes frame, its metadata, episodes table, horizons table)."""
    from concurrent.futures import ThreadPoolExecutor

    # stress episodes come from every day of the data (an equity history may start long
    # before the first pair); the daily flags then live on rolling_corr.csv's dates
    all_levels = levels
    levels = levels.reindex(corr.index)
    primary = settings.primary_window
    primary_columns = pearson_columns(corr, primary)
    sign = settings.sign
    check_sign_settings(sign)
    markov, stress = settings.markov, settings.stress
    # the Markov fits (compiled, without the GIL) run on worker threads while this thread
    # does the rest; their frames, info and log lines are taken in the series' order
    jobs = []
    if markov.enabled:
        equity = stress.equity
        if equity in levels:
            returns = CleanPanel(levels, metadata).series_returns(equity)
            jobs.append((100.0 * returns, f"mkv:ret:{equity}", "variance", ["calm", "turbulent"]))
        for column in primary_columns:
            jobs.append((corr[column], f"mkv:{column}", "mean", ["low", "high"]))
    with ThreadPoolExecutor(max_workers=MARKOV_THREADS) as pool:
        # the longest series first: its refits are the longest chain
        by_length = sorted(range(len(jobs)), key=lambda i: -jobs[i][0].notna().sum())
        futures = {i: pool.submit(_markov_views, *jobs[i], markov) for i in by_length}
        try:
            regimes = relative_regimes(corr, settings.unusual_history, settings.unusual_level)
            for column in primary_columns:
                regimes[sign_column(column)] = sign_regimes(
                    corr[column], sign.enter, sign.exit, sign.min_days, sign.hard_exit
                )
            info = {
                "primary_window": primary,
                "unusual_history": settings.unusual_history,
                "unusual_level": settings.unusual_level,
                "sign": sign.as_dict(),
                "markov": [],
                "stress": stress.as_dict(),
            }
            frames = [regimes]
            # this thread's own part (DCC, stress, horizons) while the workers fit
            rest = _regimes_rest(corr, levels, all_levels, metadata, settings, primary_columns, info)
            progress = Progress("regimes: Markov fits", len(jobs), "series")
            for i in range(len(jobs)):
                frame, fit = futures[i].result()
                log_markov(fit)
                frames.append(frame)
                info["markov"].append(fit)
                progress.advance(detail=jobs[i][1])
            progress.close()
        except BaseException:
            for future in futures.values():
                future.cancel()
            raise
    dcc_frame, tags, episodes, horizons, exceedance = rest
    if dcc_frame is not None:
        frames.append(dcc_frame)
    frames.append(tags)
    regimes = pd.concat(frames, axis=1)
    regimes.index.name = "date"
    info["horizons"] = settings.horizons.as_dict()
    return regimes, info, episodes, horizons, exceedance


def _regimes_rest(corr, levels, all_levels, metadata, settings, primary_columns, info):
    """The parts of ``build_regimes`` besides the Markov fits: DCC, stress episodes,
    horizons, exceedance; (dcc frame or None, stress tags, episodes table, horizons table,
    exceedance table)."""
    from corrflow.analytics.regimes.horizons import horizon_correlations
    from corrflow.analytics.regimes.stress import stress_episodes

    stress = settings.stress
    dcc_frame = None
    if settings.dcc.enabled:
        # DCC runs last (below) but keeps its place among the metadata's keys. On a fresh
        # checkout its kernels wait for numba's compile lock while a Markov thread compiles
        # markov2 (~1.3 s): the parts before it use that time instead of waiting
        info["dcc"] = None
    # info receives `data_errors`: values left out of (or unconfirmed in) the stress rules
    # DQ's outlier threshold decides which values are data errors (not in the stress metadata)
    episodes, tags = stress_episodes(all_levels, metadata, stress, settings.outlier_z, info)
    # a day of corr's index not in the levels' (none in a workflow run) is calm up to the last
    # day the rules have their inputs; after it, as stress_episodes leaves it: NA, not False
    known_until = tags["stress"].last_valid_index()
    tags = tags.reindex(corr.index)
    flags = tags["stress"].astype("boolean")
    if known_until is not None:
        flags[flags.isna() & (flags.index <= known_until)] = False
    tags = tags.assign(stress=flags)
    episodes = episode_correlation_columns(episodes, all_levels, metadata, primary_columns, stress)
    horizon_windows = settings.horizons
    windows = (
        {"weekly": horizon_windows.weekly, "monthly": horizon_windows.monthly}
        if horizon_windows.enabled
        else {}
    )
    panel = CleanPanel(levels, metadata)
    horizons = horizon_correlations(levels, panel.specs, settings.pairs, panel.closed, windows)
    exceedance_settings = settings.exceedance
    if exceedance_settings.enabled:
        exceedance, info["exceedance"] = exceedance_regimes(
            all_levels, metadata, settings.pairs, exceedance_settings
        )
    else:
        from corrflow.analytics.correlation.exceedance import COLUMNS

        exceedance = pd.DataFrame(columns=COLUMNS)
    if settings.dcc.enabled:
        dcc_frame, info["dcc"] = dcc_regimes(levels, metadata, settings.pairs, settings.dcc.min_obs)
    return dcc_frame, tags, episodes, horizons, exceedance


def run(
    *,
    corr: str,
    clean: str,
    pairs: list,
    primary_window: int | None = None,
    unusual_history: int,
    unusual_level: float,
    sign: Sign,
    markov: Markov,
    dcc: Dcc,
    horizon_windows: HorizonWindows,
    stress: Stress,
    outlier_z: float,
    out: str,
    episodes: str,
    horizons: str,
    exceedance_settings: Exceedance,
    exceedance: str,
) -> None:
    """Sign regimes, Markov states, DCC, horizons, exceedance and stress episodes (rule ``regimes``).

    corr: rolling_corr.csv
    clean: clean.parquet (levels, calendars)
    primary_window: the window regimes are read on (default: the first window in the file)
    out: regimes.parquet
    episodes: stress_episodes.csv
    horizons: horizons.csv
    exceedance: exceedance.csv: each pair's exceedance correlations per era
    """
    corr_path = corr
    corr = read_rolling_corr(corr_path)
    panel = CleanPanel.read(clean)
    pearson = pearson_columns(corr)
    primary = primary_window_of(corr, primary_window)
    if pearson and not pearson_columns(corr, primary):
        raise InputDataError(
            f"{corr_path}: no column of the primary window {primary} (config key "
            "correlation.primary_window); "
            f"re-run rolling_corr or choose one of its windows"
        )
    settings = RegimeSettings(
        primary_window=primary,
        pairs=pairs,
        unusual_history=unusual_history,
        unusual_level=unusual_level,
        sign=sign,
        markov=markov,
        dcc=dcc,
        horizons=horizon_windows,
        stress=stress,
        outlier_z=outlier_z,
        exceedance=exceedance_settings,
    )
    regimes, info, episode_table, horizon_table, exceedance_table = build_regimes(
        corr, panel.levels, panel.meta, settings
    )
    write_parquet(regimes, out, info)
    write_csv_atomic(episode_table, episodes, index=False)
    write_csv_atomic(
        horizon_table.assign(date=horizon_table["date"].dt.strftime("%Y-%m-%d")), horizons, index=False
    )
    write_csv_atomic(exceedance_table, exceedance, index=False)
    latest = {
        c: regimes[c].dropna().iloc[-1] for c in regimes if c.startswith("sign:") and regimes[c].notna().any()
    }
    logger.info(
        "wrote %s (%d rows; latest sign regimes %s), %s (%d stress episodes), %s (%d rows), %s (%d rows)",
        out,
        len(regimes),
        latest,
        episodes,
        len(episode_table),
        horizons,
        len(horizon_table),
        exceedance,
        len(exceedance_table),
    )
