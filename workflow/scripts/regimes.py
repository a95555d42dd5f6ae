"""Regimes and stress tagging (task E).

Three views of each day, all in ``regimes.parquet`` (index: date):

1. z-score regimes, per Pearson column ``A:B:W`` of rolling_corr.csv: ``z:A:B:W`` is
   today's correlation scored against the mean and standard deviation of the previous
   ``zscore_window`` days (today excluded); ``regime:A:B:W`` is ``hedge`` (z <= -t:
   unusually negative), ``co-move`` (z >= t: unusually positive, diversification
   failing) or ``neutral``; missing before a full trailing window.
2. Markov switching (statsmodels ``MarkovRegression``, switching mean and variance), on
   the equity's daily log returns x 100 (``mkv:ret:EQ``) and on each Pearson correlation
   of the first window (``mkv:A:B:W``). States are ordered (equity: by variance, so 0 is
   ``calm``, 1 ``turbulent``; correlation: by mean, 0 ``low``, 1 ``high``) so labels
   never swap between runs; the start-value search has a fixed seed and size. Columns
   ``<prefix>:p_filtered:<k>`` (probability of state k from data up to that day, given
   the parameters) and ``<prefix>:p_smoothed:<k>`` (from the whole sample: it uses
   future data), and ``<prefix>:state`` (the most likely smoothed state's label). The
   parameters are fitted on the whole sample, so neither probability is a real-time
   signal. A fit that fails or does not converge is retried once with EM start-up
   iterations (100 instead of 5); if it still fails its columns are NaN and the log and report say so.
3. Stress tagging: ``stress`` (bool) and ``stress_reason`` (why, e.g. "drawdown: SPY
   -23% from peak; VIX: VIXCLS 35.1"), from rules on the data (the equity's drawdown from its
   running peak, VIX above a level where VIX is in the universe, stocks and bonds both
   falling over k days) and a configured table of named episodes. Runs of stress days
   (gaps up to 5 days merged) become the episodes table, ``stress_episodes.csv``:
   start, end, business days, mean correlation of each Pearson column, reasons,
   most frequent z-score regime, share of days in the turbulent Markov state.
"""

import argparse
import json
import logging
import time

import numpy as np
import pandas as pd

from _helpers import (
    cli_parser,
    configure_logging,
    load_json_arg,
    run_script,
    write_csv_atomic,
)
from _contracts import pearson_columns, read_parquet, read_rolling_corr, returns_from_features, write_parquet

logger = logging.getLogger("regimes")

MARKOV_DEFAULTS = {"enabled": True, "k_regimes": 2, "search_reps": 5, "seed": 0, "maxiter": 200}
STRESS_DEFAULTS = {
    "equity": None,
    "bond": None,
    "vix": None,
    "drawdown_pct": 20.0,
    "vix_level": 30.0,
    "joint_fall_days": 5,
    "joint_fall_pct": 2.0,
    "episodes": [],
}
EPISODE_MERGE_GAP = 5


# ---------------------------------------------------------------- z-score


def trailing_zscore(corr: pd.Series, window: int) -> pd.Series:
    history = corr.shift(1).rolling(window, min_periods=window)
    std = history.std()
    return (corr - history.mean()) / std.where(std > 0)


def zscore_labels(z: pd.Series, threshold: float) -> pd.Series:
    labels = np.where(z <= -threshold, "hedge", np.where(z >= threshold, "co-move", "neutral"))
    return pd.Series(labels, index=z.index, dtype="str").where(z.notna())


def zscore_regimes(corr: pd.DataFrame, window: int, threshold: float) -> pd.DataFrame:
    columns = {}
    for name in pearson_columns(corr):
        z = trailing_zscore(corr[name], window)
        columns[f"z:{name}"] = z
        columns[f"regime:{name}"] = zscore_labels(z, threshold)
    frame = pd.DataFrame(columns, index=corr.index)
    frame.index.name = "date"
    return frame


# ---------------------------------------------------------------- Markov switching


def fit_markov(
    values: np.ndarray, k_regimes: int, search_reps: int, seed: int, maxiter: int, em_iter: int = 5
):
    """statsmodels MarkovRegression (constant, switching variance); the start-value search
    draws from a generator seeded with ``seed`` (statsmodels' default is fresh entropy)."""
    import statsmodels.api as sm

    model = sm.tsa.MarkovRegression(values, k_regimes=k_regimes, trend="c", switching_variance=True)
    return model.fit(search_reps=search_reps, maxiter=maxiter, em_iter=em_iter, rng=seed, disp=False)


def markov_states(series: pd.Series, prefix: str, order_by: str, labels: list[str], settings: dict):
    """Filtered and smoothed state probabilities of one series; (frame, info for the report)."""
    import warnings

    values = series.dropna()
    k = settings["k_regimes"]
    names = labels if k == len(labels) else [f"state{i}" for i in range(k)]
    columns = [f"{prefix}:p_filtered:{i}" for i in range(k)] + [f"{prefix}:p_smoothed:{i}" for i in range(k)]
    empty = pd.DataFrame(np.nan, index=series.index, columns=columns).assign(**{f"{prefix}:state": pd.NA})
    info = {"series": prefix, "observations": int(len(values)), "ordered_by": order_by, "labels": names}
    if len(values) < 50 * k:
        info["status"] = f"skipped: only {len(values)} observations"
        logger.warning("markov %s: %s", prefix, info["status"])
        return empty, info
    started = time.perf_counter()
    result, problem = None, None
    for em_iter in (5, 100):  # statsmodels' default EM start-up, then a longer one
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = fit_markov(
                    values.to_numpy(),
                    k,
                    settings["search_reps"],
                    settings["seed"],
                    settings["maxiter"],
                    em_iter,
                )
            converged = bool(result.mle_retvals.get("converged", True))
            problem = None if converged else "did not converge"
            problem = problem or next(
                (str(w.message) for w in caught if "converge" in str(w.message).lower()), None
            )
        except Exception as err:  # statsmodels raises LinAlgError, ValueError, ... on degenerate data
            result, problem = None, f"{type(err).__name__}: {err}"
        if problem is None:
            break
        logger.warning(
            "markov %s: fit %s (em_iter=%d)%s", prefix, problem, em_iter, "; retrying" if em_iter == 5 else ""
        )
    seconds = time.perf_counter() - started  # logged, not stored: outputs carry no timings
    if problem is not None:
        info["status"] = f"failed: {problem}; no Markov states for this series"
        logger.warning("markov %s: %s (%.1f s)", prefix, info["status"], seconds)
        return empty, info
    params = dict(zip(result.model.param_names, np.asarray(result.params)))
    key = "sigma2" if order_by == "variance" else "const"
    order = np.argsort([params[f"{key}[{i}]"] for i in range(k)], kind="stable")
    filtered = np.asarray(result.filtered_marginal_probabilities)[:, order]
    smoothed = np.asarray(result.smoothed_marginal_probabilities)[:, order]
    frame = pd.DataFrame(np.hstack([filtered, smoothed]), index=values.index, columns=columns)
    frame = frame.reindex(series.index)
    state = pd.Series(np.asarray(names, dtype=object)[np.argmax(smoothed, axis=1)], index=values.index)
    frame[f"{prefix}:state"] = state.reindex(series.index).astype("str")
    info.update(
        {
            "status": "ok",
            "log_likelihood": float(result.llf),
            "states": {
                names[rank]: {
                    "mean": params[f"const[{i}]"],
                    "variance": params[f"sigma2[{i}]"],
                    "stay_probability": params.get(
                        f"p[{i}->{i}]", 1 - sum(params.get(f"p[{i}->{j}]", 0) for j in range(k) if j != i)
                    ),
                    "share_of_days": float((state == names[rank]).mean()),
                }
                for rank, i in enumerate(order)
            },
        }
    )
    logger.info(
        "markov %s: %d states in %.1f s, shares %s",
        prefix,
        k,
        seconds,
        {n: round(s["share_of_days"], 3) for n, s in info["states"].items()},
    )
    return frame, info


# ---------------------------------------------------------------- stress


def stress_tags(levels: pd.DataFrame, returns: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """``stress`` and ``stress_reason`` per day from the data rules and the named episodes."""
    index = levels.index
    reasons: list[pd.Series] = []
    equity, bond, vix = settings.get("equity"), settings.get("bond"), settings.get("vix")
    if equity in levels:
        drawdown = levels[equity] / levels[equity].cummax() - 1.0
        hit = drawdown <= -settings["drawdown_pct"] / 100.0
        reasons.append(
            pd.Series(
                np.where(hit, [f"drawdown: {equity} {d:.0%} from peak" for d in drawdown], ""), index=index
            )
        )
    if vix in levels:
        hit = levels[vix] >= settings["vix_level"]
        reasons.append(
            pd.Series(np.where(hit, [f"VIX: {vix} {v:.1f}" for v in levels[vix]], ""), index=index)
        )
    if equity in returns and bond in returns:
        days = settings["joint_fall_days"]
        eq_move = np.expm1(returns[equity].rolling(days, min_periods=days).sum())
        bond_move = np.expm1(returns[bond].rolling(days, min_periods=days).sum())
        limit = -settings["joint_fall_pct"] / 100.0
        hit = (eq_move <= limit) & (bond_move <= limit)
        text = [
            f"joint fall: {equity} {e:+.1%}, {bond} {b:+.1%} in {days} days"
            for e, b in zip(eq_move, bond_move)
        ]
        reasons.append(pd.Series(np.where(hit, text, ""), index=index))
    for episode in settings.get("episodes", []):
        inside = (index >= pd.Timestamp(episode["start"])) & (index <= pd.Timestamp(episode["end"]))
        reasons.append(pd.Series(np.where(inside, f"episode: {episode['name']}", ""), index=index))
    if reasons:
        joined = pd.concat(reasons, axis=1).apply(lambda row: "; ".join(r for r in row if r), axis=1)
    else:
        joined = pd.Series("", index=index)
    return pd.DataFrame(
        {"stress": joined != "", "stress_reason": joined.where(joined != "").astype("str")}, index=index
    )


def stress_episodes(
    regimes: pd.DataFrame, corr: pd.DataFrame, merge_gap: int = EPISODE_MERGE_GAP
) -> pd.DataFrame:
    """Runs of stress days (gaps up to ``merge_gap`` business days merged) with what marks them."""
    stressed = np.flatnonzero(regimes["stress"].to_numpy())
    columns = ["start", "end", "business_days", "stress_days", "reasons"]
    pearson = pearson_columns(corr)
    if not len(stressed):
        return pd.DataFrame(columns=columns + [f"mean_corr:{c}" for c in pearson])
    breaks = np.flatnonzero(np.diff(stressed) > merge_gap + 1)
    starts = np.r_[stressed[0], stressed[breaks + 1]]
    ends = np.r_[stressed[breaks], stressed[-1]]
    rows = []
    for start, end in zip(starts, ends):
        span = regimes.iloc[start : end + 1]
        kinds = sorted(
            {
                reason.split(": ", 1)[1] if reason.startswith("episode") else reason.split(":", 1)[0]
                for text in span["stress_reason"].dropna()
                for reason in text.split("; ")
            }
        )
        row = {
            "start": span.index[0].date().isoformat(),
            "end": span.index[-1].date().isoformat(),
            "business_days": len(span),
            "stress_days": int(span["stress"].sum()),
            "reasons": ", ".join(kinds),
        }
        for column in pearson:
            row[f"mean_corr:{column}"] = corr[column].iloc[start : end + 1].mean()
            labels = span[f"regime:{column}"].dropna()
            row[f"regime:{column}"] = labels.mode().iloc[0] if len(labels) else None
        turbulent = [c for c in span.columns if c.startswith("mkv:ret:") and c.endswith(":state")]
        for column in turbulent:
            row[f"turbulent_share:{column.split(':')[2]}"] = float((span[column] == "turbulent").mean())
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- glue


def build_regimes(corr, levels, returns, zscore_window, zscore_threshold, markov, stress):
    """Everything in regimes.parquet, its metadata, and the episodes table."""
    regimes = zscore_regimes(corr, zscore_window, zscore_threshold)
    fits = []
    if markov["enabled"]:
        equity = stress.get("equity")
        if equity in returns:
            frame, info = markov_states(
                100.0 * returns[equity].reindex(corr.index),
                f"mkv:ret:{equity}",
                "variance",
                ["calm", "turbulent"],
                markov,
            )
            regimes, fits = regimes.join(frame), fits + [info]
        pearson = pearson_columns(corr)
        first_window = pearson[0].rsplit(":", 1)[1] if pearson else None
        for column in [c for c in pearson if c.endswith(f":{first_window}")]:
            frame, info = markov_states(corr[column], f"mkv:{column}", "mean", ["low", "high"], markov)
            regimes, fits = regimes.join(frame), fits + [info]
    regimes = regimes.join(stress_tags(levels.reindex(corr.index), returns.reindex(corr.index), stress))
    regimes.index.name = "date"
    episodes = stress_episodes(regimes, corr)
    return regimes, {"markov": fits}, episodes


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli_parser(__doc__)
    parser.add_argument("--corr", required=True, help="rolling_corr.csv")
    parser.add_argument("--features", required=True, help="features.parquet (returns)")
    parser.add_argument("--clean", required=True, help="clean.parquet (levels: drawdown, VIX)")
    parser.add_argument("--zscore-window", type=int, default=252)
    parser.add_argument("--zscore-threshold", type=float, default=1.5)
    parser.add_argument("--markov", type=load_json_arg, default={}, help="JSON: enabled, k_regimes, ...")
    parser.add_argument("--stress", type=load_json_arg, default={}, help="JSON: equity, bond, vix, ...")
    parser.add_argument("--out", required=True, help="regimes.parquet")
    parser.add_argument("--episodes", required=True, help="stress_episodes.csv")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    configure_logging(args.log)
    corr = read_rolling_corr(args.corr)
    features, _ = read_parquet(args.features)
    levels, _ = read_parquet(args.clean)
    markov = {**MARKOV_DEFAULTS, **args.markov}
    stress = {**STRESS_DEFAULTS, **args.stress}
    regimes, info, episodes = build_regimes(
        corr,
        levels,
        returns_from_features(features),
        args.zscore_window,
        args.zscore_threshold,
        markov,
        stress,
    )
    info |= {"zscore_window": args.zscore_window, "zscore_threshold": args.zscore_threshold, "stress": stress}
    write_parquet(regimes, args.out, info)
    write_csv_atomic(episodes, args.episodes, index=False)
    latest = {
        c: regimes[c].dropna().iloc[-1]
        for c in regimes
        if c.startswith("regime:") and regimes[c].notna().any()
    }
    logger.info(
        "wrote %s (%d rows; latest z-score labels %s) and %s (%d stress episodes)",
        args.out,
        len(regimes),
        json.dumps(latest),
        args.episodes,
        len(episodes),
    )


if __name__ == "__main__":
    run_script(main, globals())
