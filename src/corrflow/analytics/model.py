"""Forecast next-month rolling correlation from lagged features (task G, optional).

Target: the W-day correlation of the pair ``horizon`` business days ahead. Features,
all known at day t: the W-day correlation, a 21-day correlation, and the 21-day
realised volatility (annualised, percent) of each leg. Model: OLS with HAC
(Newey-West, maxlags = horizon) standard errors, statsmodels.

Evaluation is walk-forward: the first fit uses the first ``train_fraction`` of the
usable days; the model is refitted every 63 business days on every row whose target
was already known at the refit date (t + horizon <= refit date), so nothing from the
future leaks in. Baselines on the same test days: last value (today's correlation) and
the historical mean (expanding mean of the correlation up to today).

A second model, a Logit on the same features, gives the probability that the
correlation ``horizon`` days ahead is positive (for stocks and bonds: that bonds stop
hedging), scored by Brier score and hit rate against the fitted persistence probability
(P(positive ahead | today's sign) from the training rows), the last sign as a hard 0/1
and the historical share of positive days. When the correlation has the same sign on every day with a
known target there is nothing to predict (and the Logit cannot be fitted: perfect
separation): the Logit is skipped and the reason recorded, not a crash.

Today's forecast: the final OLS fit applied to the last day with every feature, with
its prediction interval (parameter covariance from the HAC fit plus the residual
variance), clipped to [-1, 1].

Comparisons with their evidence: the Brier skill score (1 - Brier / Brier of the
reference) of the Logit against both baselines beside the hit rates, and a
Diebold-Mariano test of each model against its naive rule (squared errors for the OLS,
Brier losses for the Logit). The h-day targets of neighbouring days overlap, so the loss
differences are autocorrelated (MA(h-1) under the null): the test's variance is the
Newey-West long-run variance with h-1 Bartlett lags, not the plain variance; and, as a
check, with W + h - 1 lags (the W-day targets overlap beyond h - 1 days): the report
calls a difference significant only when both agree.

Outputs: models/corr_forecast.pkl and models/comove_logit.pkl (final fits on all known
targets, data removed; the Logit file holds ``{"skipped": reason}`` when it was skipped)
and models/metrics.json (RMSE, MAE, Brier scores and hit rates of the models and their
baselines, coefficients, HAC errors, today's forecast).
"""

import logging
import pickle
from pathlib import Path

import numpy as np
import pandas as pd

from corrflow.analytics.correlation.rolling import rolling_pearson
from corrflow.data.contracts import pearson_columns, read_parquet, read_rolling_corr, returns_from_features
from corrflow.io import (
    InputDataError,
    atomic_path,
    write_json_atomic,
)

logger = logging.getLogger("model")

SHORT_WINDOW = 21
REFIT_EVERY = 63
INTERVAL_LEVEL = 0.90
# the Logit's probability baselines: today's sign as a hard 0/1, the historical share of
# positive days, and the fitted persistence probability (the fair reference)
BRIER_BASELINES = ("persistence", "last_sign", "historical_share")
BRIER_BASELINES_AND_LOGIT = ("logit", *BRIER_BASELINES)


def model_frame(returns: pd.DataFrame, corr: pd.Series, a: str, b: str, horizon: int) -> pd.DataFrame:
    """Features known at t and the target corr_{t+horizon} (NaN where not yet known), on
    the pair's days (both legs have a return): a 24/7 or foreign series elsewhere in the
    universe adds rows on which a weekday leg has none, and its 21-day volatility would
    then never have 21 values in a row; the horizon counts the pair's days. Each leg's
    volatility is over its own last 21 returns; the 21-day correlation is on the pair's
    days (legs on one calendar: the same returns as rolling_corr's)."""
    joint = returns[[a, b]].dropna()
    days = joint.index
    corr = corr.reindex(days)

    def volatility(series: pd.Series) -> pd.Series:
        own = series.dropna()
        return own.rolling(SHORT_WINDOW, min_periods=SHORT_WINDOW).std().reindex(days) * np.sqrt(252) * 100

    frame = pd.DataFrame(
        {
            "corr": corr,
            "corr_short": rolling_pearson(joint[a], joint[b], SHORT_WINDOW),
            "vol_a": volatility(returns[a]),
            "vol_b": volatility(returns[b]),
        },
        index=days,
    )
    frame["target"] = corr.shift(-horizon)
    return frame


FEATURES = ["corr", "corr_short", "vol_a", "vol_b"]


def fit_ols_hac(frame: pd.DataFrame, horizon: int):
    # statsmodels' modules, not statsmodels.api (which imports all of statsmodels: ~0.3 s)
    from statsmodels.regression.linear_model import OLS
    from statsmodels.tools.tools import add_constant

    design = add_constant(frame[FEATURES], has_constant="add")
    return OLS(frame["target"], design).fit(cov_type="HAC", cov_kwds={"maxlags": horizon})


def fit_logit(frame: pd.DataFrame):
    """Logit of "the correlation ``horizon`` days ahead is positive" on the same features."""
    from statsmodels.discrete.discrete_model import Logit
    from statsmodels.tools.tools import add_constant

    design = add_constant(frame[FEATURES], has_constant="add")
    return Logit((frame["target"] > 0).astype("float64"), design).fit(disp=0, maxiter=200)


def logit_skip_reason(frame: pd.DataFrame, pair: str = "the pair") -> str | None:
    """Why the sign Logit cannot be fitted on ``frame`` (None if it can): the target's
    sign never changes, so every day is one class (perfect separation)."""
    known = frame.dropna(subset=[*FEATURES, "target"])
    if known.empty:
        return f"{pair} has no day with both the features and a known target"
    positive = int((known["target"] > 0).sum())
    if positive in (0, len(known)):
        sign = "positive" if positive else "zero or negative"
        return (
            f"the {pair} correlation {known.index[0].date()} .. {known.index[-1].date()} is {sign} on all "
            f"{len(known)} days with a known target, so there is no sign change to predict"
        )
    return None


def walk_forward(
    frame: pd.DataFrame, horizon: int, train_fraction: float, pair: str = "the pair"
) -> pd.DataFrame:
    """Out-of-sample forecasts for every test day, with the naive baselines.

    Columns: ``target`` and the OLS ``model`` forecast with the baselines ``last_value``
    and ``historical_mean``; ``positive`` (target > 0) with the Logit probability
    ``logit`` and the baselines ``last_sign`` (1 if today's correlation is positive)
    and ``historical_share`` (share of positive days up to today).
    """
    from statsmodels.tools.tools import add_constant

    usable = frame.dropna(subset=FEATURES)
    first_test = int(len(usable) * train_fraction)
    if first_test <= 10 * len(FEATURES) or first_test >= len(usable) - horizon:
        span = f" ({usable.index[0].date()} .. {usable.index[-1].date()})" if len(usable) else ""
        raise InputDataError(
            f"model: pair {pair} has {len(usable)} usable days{span} (days with its rolling correlation and "
            f"{SHORT_WINDOW}-day volatilities of both legs), too few for a walk-forward test with "
            "train_fraction "
            f"{train_fraction} and horizon {horizon} (needs more than "
            f"{int(10 * len(FEATURES) / train_fraction) + horizon}); "
            f"widen `start`/`end`, pick another `model.pair`, or set `model.enabled: false`"
        )
    skip_logit = logit_skip_reason(usable, pair) is not None
    known = frame["corr"].dropna()
    expanding_mean = known.expanding().mean().reindex(usable.index)
    expanding_share = (known > 0).astype("float64").expanding().mean().reindex(usable.index)
    rows, logit_failures = [], 0
    for fit_at in range(first_test, len(usable), REFIT_EVERY):
        # only rows whose target was known at the refit date: t + horizon <= fit date
        train = usable.iloc[: max(0, fit_at - horizon)].dropna(subset=["target"])
        test = usable.iloc[fit_at : fit_at + REFIT_EVERY]
        persistence = persistence_probability(train, test["corr"])
        design = add_constant(test[FEATURES], has_constant="add")
        logit = pd.Series(np.nan, index=test.index)
        if not skip_logit:  # skipped as a whole: stated once by the caller
            try:
                reason = logit_skip_reason(train, pair)
                if reason:
                    raise ValueError(reason)
                logit = fit_logit(train).predict(design)
            except Exception as err:  # perfect separation or a singular design in a short sample
                logit_failures += 1
                logger.warning(
                    "model: logit fit at %s failed (%s); no probability there", test.index[0].date(), err
                )
        rows.append(
            pd.DataFrame(
                {
                    "target": test["target"],
                    "model": fit_ols_hac(train, horizon).predict(design),
                    "last_value": test["corr"],
                    "historical_mean": expanding_mean.loc[test.index],
                    "positive": (test["target"] > 0).astype("float64").where(test["target"].notna()),
                    "logit": logit,
                    "last_sign": (test["corr"] > 0).astype("float64"),
                    "historical_share": expanding_share.loc[test.index],
                    "persistence": persistence,
                },
                index=test.index,
            )
        )
    forecasts = pd.concat(rows)
    forecasts.attrs["logit_failures"] = logit_failures
    if skip_logit:
        forecasts = forecasts.drop(columns=["logit"])
    return forecasts


def persistence_probability(train: pd.DataFrame, corr_today: pd.Series) -> pd.Series:
    """The fitted persistence forecast: P(positive ``horizon`` days ahead | today's sign),
    the share of positive targets among the training rows with today's sign (a hard 0/1
    "the sign stays" forecast is punished for every flip it cannot foresee, which flatters
    any probability scored against it). A sign never seen in training: the overall share."""
    known = train.dropna(subset=["target", "corr"])
    positive_target = (known["target"] > 0).astype("float64")
    overall = float(positive_target.mean()) if len(known) else 0.5
    today_positive = known["corr"] > 0
    share_if = {
        True: float(positive_target[today_positive].mean()) if today_positive.any() else overall,
        False: float(positive_target[~today_positive].mean()) if (~today_positive).any() else overall,
    }
    return pd.Series([share_if[bool(v > 0)] for v in corr_today], index=corr_today.index, dtype="float64")


def newey_west_variance(values: np.ndarray, lags: int) -> float:
    """Long-run variance of ``values`` (Bartlett weights 1 - k/(lags+1), divisor n: the
    Newey-West estimator), the variance a mean of autocorrelated values needs."""
    centred = np.asarray(values, dtype="float64") - np.mean(values)
    n = len(centred)
    variance = centred @ centred / n
    for k in range(1, min(lags, n - 1) + 1):
        variance += 2.0 * (1.0 - k / (lags + 1.0)) * (centred[k:] @ centred[:-k]) / n
    return float(variance)


def diebold_mariano(loss_model, loss_baseline, horizon: int, window: int | None = None) -> dict:
    """Diebold-Mariano test of equal expected loss: d = loss_model - loss_baseline, statistic
    mean(d) / sqrt(LRV / n) with the Newey-West long-run variance at ``horizon - 1`` lags
    (h-day targets of neighbouring days overlap); two-sided p from the normal. A negative
    statistic: the model's loss is lower.

    ``window``: the target's rolling window. h - 1 lags suit an efficient forecast, whose
    errors hold only the h days ahead; these forecasts are not, and a W-day window's
    targets share days up to W - 1 apart, so the loss differences stay autocorrelated
    past h - 1 (lags 40 and 60 on the snapshot's pair). The same test at W + h - 1 lags
    (``lags_long``, ``statistic_long``, ``p_value_long``) says whether the verdict
    survives that."""
    from statistics import NormalDist

    d = np.asarray(loss_model, dtype="float64") - np.asarray(loss_baseline, dtype="float64")
    d = d[np.isfinite(d)]
    lags = max(horizon - 1, 0)
    result = {
        "days": int(len(d)),
        "lags": lags,
        "mean_loss_difference": float(np.mean(d)) if len(d) else None,
    }

    def test(lags: int) -> tuple[float | None, float | None]:
        variance = newey_west_variance(d, lags) if len(d) > 1 else 0.0
        if variance <= 0.0:  # identical forecasts (or one day): nothing to test
            return None, None
        statistic = float(np.mean(d) / np.sqrt(variance / len(d)))
        return statistic, float(2.0 * NormalDist().cdf(-abs(statistic)))

    result["statistic"], result["p_value"] = test(lags)
    if window is not None:
        result["lags_long"] = window + horizon - 1
        result["statistic_long"], result["p_value_long"] = test(result["lags_long"])
    return result


def forecast_metrics(forecasts: pd.DataFrame, horizon: int, window: int | None = None) -> dict:
    """RMSE/MAE of the correlation forecasts and a Diebold-Mariano test of the model against
    each baseline; Brier score, Brier skill score and hit rate of the probabilities, with
    Diebold-Mariano tests of the Logit's Brier losses against each baseline."""
    scored = forecasts.dropna(subset=["target"])
    metrics = {
        "test_days": int(len(scored)),
        "test_first": str(scored.index[0].date()),
        "test_last": str(scored.index[-1].date()),
    }
    for name in ("model", "last_value", "historical_mean"):
        error = scored[name] - scored["target"]
        metrics[name] = {"rmse": float(np.sqrt((error**2).mean())), "mae": float(error.abs().mean())}
    metrics["skill_vs_last_value"] = 1.0 - metrics["model"]["rmse"] / metrics["last_value"]["rmse"]
    squared = {
        name: (scored[name] - scored["target"]) ** 2 for name in ("model", "last_value", "historical_mean")
    }
    for baseline in ("last_value", "historical_mean"):
        metrics[f"dm_model_vs_{baseline}"] = diebold_mariano(
            squared["model"], squared[baseline], horizon, window
        )
    if "logit" in scored and scored["logit"].notna().any():
        probabilities = scored.dropna(subset=["logit"])
        metrics["positive_share"] = float(scored["positive"].mean())
        losses = {}
        for name in BRIER_BASELINES_AND_LOGIT:
            losses[name] = (probabilities[name] - probabilities["positive"]) ** 2
            hits = ((probabilities[name] > 0.5) == (probabilities["positive"] > 0.5)).mean()
            metrics[name] = {
                "brier": float(losses[name].mean()),
                "hit_rate": float(hits),
                "days": int(len(probabilities)),
            }
        for baseline in BRIER_BASELINES:
            reference = metrics[baseline]["brier"]
            metrics["logit"][f"brier_skill_vs_{baseline}"] = (
                1.0 - metrics["logit"]["brier"] / reference if reference > 0 else None
            )
            metrics[f"dm_logit_vs_{baseline}"] = diebold_mariano(
                losses["logit"], losses[baseline], horizon, window
            )
    return metrics


def sessions_ahead(day: pd.Timestamp, horizon: int, calendars: list[str | None]) -> pd.Timestamp:
    """The ``horizon``-th day after ``day`` on which every calendar of ``calendars`` is
    open (the pair's days, which the horizon counts); business days when none is known."""
    from corrflow.data.calendars import sessions

    names = [name for name in calendars if name]
    if not names:
        return day + pd.offsets.BDay(horizon)
    end = day + pd.Timedelta(days=3 * horizon + 31)  # room for any holiday season
    joint = sessions(names[0], day, end)
    for name in names[1:]:
        joint = joint.intersection(sessions(name, day, end))
    after = joint[joint > day]
    return after[horizon - 1] if len(after) >= horizon else day + pd.offsets.BDay(horizon)


def leg_calendars(meta: dict, a: str, b: str) -> list[str | None]:
    """The two legs' exchange calendars from clean.parquet's metadata (None: not recorded)."""
    series = meta.get("series", {})
    return [series.get(leg, {}).get("calendar") for leg in (a, b)]


def today_forecast(
    final, frame: pd.DataFrame, horizon: int, level: float = INTERVAL_LEVEL, calendars: list | None = None
) -> dict | None:
    """The final OLS fit's forecast from the last day with every feature, with its
    prediction interval at ``level`` (clipped to the correlation's range [-1, 1]); its
    target date ``horizon`` of the pair's sessions later (``calendars``: the legs')."""
    from statsmodels.tools.tools import add_constant

    latest = frame.dropna(subset=FEATURES)
    if latest.empty:
        return None
    row = latest.iloc[[-1]]
    design = add_constant(row[FEATURES], has_constant="add")
    summary = final.get_prediction(design).summary_frame(alpha=1 - level).iloc[0]
    day = row.index[0]
    return {
        "date": str(day.date()),
        "target_date": str(sessions_ahead(day, horizon, calendars or []).date()),
        "current": float(row["corr"].iloc[0]),
        "value": float(np.clip(summary["mean"], -1, 1)),
        "lower": float(np.clip(summary["obs_ci_lower"], -1, 1)),
        "upper": float(np.clip(summary["obs_ci_upper"], -1, 1)),
        "level": level,
    }


def load_model(path: str | Path, models_dir: str | Path = "models"):
    """Unpickle a fitted model, but only from this project's ``models/`` folder: a
    pickle runs code when loaded, so one from anywhere else is refused."""
    resolved, allowed = Path(path).resolve(), Path(models_dir).resolve()
    if allowed not in resolved.parents:
        raise InputDataError(
            f"{path}: refusing to unpickle a file outside {models_dir}/ (pickles can run code)"
        )
    with open(resolved, "rb") as handle:
        return pickle.load(handle)


def choose_pair(corr: pd.DataFrame, pair: list[str] | None, window: int) -> str:
    if pair:
        name = f"{pair[0]}:{pair[1]}:{window}"
        if name not in corr.columns:
            raise InputDataError(
                f"model: config key `model.pair` {pair} has no correlation column {name!r} "
                f"(available: {list(corr.columns)}); pick a configured pair with data"
            )
        return name
    candidates = [c for c in pearson_columns(corr) if c.endswith(f":{window}") and corr[c].notna().any()]
    if not candidates:
        raise InputDataError(f"model: no correlation column with window {window} has data")
    return candidates[0]


def run(
    *,
    features: str,
    corr: str,
    pair: list | None,
    window: int,
    horizon: int,
    train_fraction: float,
    model: str,
    logit: str,
    metrics: str,
) -> None:
    """Forecast a pair's rolling correlation ``horizon`` days ahead (rule ``model``).

    features: features.parquet
    corr: rolling_corr.csv
    pair: JSON pair, e.g. ["SPY", "DGS10"]
    window: the pair's window in rolling_corr.csv (business days)
    model: models/corr_forecast.pkl
    logit: models/comove_logit.pkl
    metrics: models/metrics.json
    """
    features, meta = read_parquet(features)
    corr = read_rolling_corr(corr)
    column = choose_pair(corr, pair, window)
    a, b, _ = column.split(":")
    pair = f"{a}-{b} ({window}-day)"
    frame = model_frame(returns_from_features(features), corr[column], a, b, horizon)
    forecasts = walk_forward(frame, horizon, train_fraction, pair)
    scores = forecast_metrics(forecasts, horizon, window)
    final = fit_ols_hac(frame.dropna(), horizon)
    scores |= {
        "pair": column,
        "horizon": horizon,
        "model_kind": "OLS, HAC (Newey-West) errors",
        "refit_every": REFIT_EVERY,
        "train_fraction": train_fraction,
        "coefficients": {k: float(v) for k, v in final.params.items()},
        "hac_std_errors": {k: float(v) for k, v in final.bse.items()},
        "final_fit_days": int(final.nobs),
        "forecast": today_forecast(final, frame, horizon, calendars=leg_calendars(meta, a, b)),
        "logit_kind": "Logit of P(correlation h days ahead > 0)",
        "logit_failures": forecasts.attrs["logit_failures"],
    }
    skipped = logit_skip_reason(frame, pair)
    final_logit = None
    if skipped is None:
        try:
            final_logit = fit_logit(frame.dropna())
        except Exception as err:  # perfect separation or a singular design: say so, do not crash
            skipped = f"the final Logit fit on {pair} failed ({type(err).__name__}: {err})"
    if final_logit is not None:
        scores["logit_coefficients"] = {k: float(v) for k, v in final_logit.params.items()}
    else:
        scores["logit_skipped"] = skipped
        logger.warning("model: Logit skipped: %s", skipped)
    final.remove_data()
    with atomic_path(model) as tmp, open(tmp, "wb") as handle:
        pickle.dump(final, handle, protocol=5)
    if final_logit is not None:
        final_logit.remove_data()
    with atomic_path(logit) as tmp, open(tmp, "wb") as handle:
        pickle.dump(final_logit if final_logit is not None else {"skipped": skipped}, handle, protocol=5)
    write_json_atomic(scores, metrics)
    logger.info(
        "model %s: RMSE %.4f vs last value %.4f, historical mean %.4f over %d test days",
        column,
        scores["model"]["rmse"],
        scores["last_value"]["rmse"],
        scores["historical_mean"]["rmse"],
        scores["test_days"],
    )
