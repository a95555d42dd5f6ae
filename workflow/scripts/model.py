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
hedging), scored by Brier score and hit rate against the last sign and the historical
share of positive days.

Outputs: models/corr_forecast.pkl and models/comove_logit.pkl (final fits on all known
targets, data removed) and models/metrics.json (RMSE, MAE, Brier scores and hit rates
of the models and their baselines, coefficients, HAC errors).
"""

import argparse
import logging
import pickle
from pathlib import Path

import numpy as np
import pandas as pd

from _helpers import (
    cli_parser,
    InputDataError,
    atomic_path,
    configure_logging,
    load_json_arg,
    run_script,
    write_json_atomic,
)
from _contracts import pearson_columns, read_parquet, read_rolling_corr, returns_from_features
from _rolling import rolling_pearson

logger = logging.getLogger("model")

SHORT_WINDOW = 21
REFIT_EVERY = 63


def model_frame(returns: pd.DataFrame, corr: pd.Series, a: str, b: str, horizon: int) -> pd.DataFrame:
    """Features known at t and the target corr_{t+horizon} (NaN where not yet known)."""
    frame = pd.DataFrame(
        {
            "corr": corr,
            "corr_short": rolling_pearson(returns[a], returns[b], SHORT_WINDOW),
            "vol_a": returns[a].rolling(SHORT_WINDOW, min_periods=SHORT_WINDOW).std() * np.sqrt(252) * 100,
            "vol_b": returns[b].rolling(SHORT_WINDOW, min_periods=SHORT_WINDOW).std() * np.sqrt(252) * 100,
        },
        index=corr.index,
    )
    frame["target"] = corr.shift(-horizon)
    return frame


FEATURES = ["corr", "corr_short", "vol_a", "vol_b"]


def fit_ols_hac(frame: pd.DataFrame, horizon: int):
    import statsmodels.api as sm

    design = sm.add_constant(frame[FEATURES], has_constant="add")
    return sm.OLS(frame["target"], design).fit(cov_type="HAC", cov_kwds={"maxlags": horizon})


def fit_logit(frame: pd.DataFrame):
    """Logit of "the correlation ``horizon`` days ahead is positive" on the same features."""
    import statsmodels.api as sm

    design = sm.add_constant(frame[FEATURES], has_constant="add")
    return sm.Logit((frame["target"] > 0).astype("float64"), design).fit(disp=0, maxiter=200)


def walk_forward(frame: pd.DataFrame, horizon: int, train_fraction: float) -> pd.DataFrame:
    """Out-of-sample forecasts for every test day, with the naive baselines.

    Columns: ``target`` and the OLS ``model`` forecast with the baselines ``last_value``
    and ``historical_mean``; ``positive`` (target > 0) with the Logit probability
    ``logit`` and the baselines ``last_sign`` (1 if today's correlation is positive)
    and ``historical_share`` (share of positive days up to today).
    """
    import statsmodels.api as sm

    usable = frame.dropna(subset=FEATURES)
    first_test = int(len(usable) * train_fraction)
    if first_test <= 10 * len(FEATURES) or first_test >= len(usable) - horizon:
        raise InputDataError(
            f"model: {len(usable)} usable days are too few for a walk-forward test with "
            f"train_fraction {train_fraction} and horizon {horizon}; widen start/end or change config key `model`"
        )
    known = frame["corr"].dropna()
    expanding_mean = known.expanding().mean().reindex(usable.index)
    expanding_share = (known > 0).astype("float64").expanding().mean().reindex(usable.index)
    rows, logit_failures = [], 0
    for fit_at in range(first_test, len(usable), REFIT_EVERY):
        # only rows whose target was known at the refit date: t + horizon <= fit date
        train = usable.iloc[: max(0, fit_at - horizon)].dropna(subset=["target"])
        test = usable.iloc[fit_at : fit_at + REFIT_EVERY]
        design = sm.add_constant(test[FEATURES], has_constant="add")
        try:
            logit = fit_logit(train).predict(design)
        except Exception as err:  # perfect separation or a singular design in a short sample
            logit_failures += 1
            logger.warning(
                "model: logit fit at %s failed (%s); no probability there", test.index[0].date(), err
            )
            logit = pd.Series(np.nan, index=test.index)
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
                },
                index=test.index,
            )
        )
    forecasts = pd.concat(rows)
    forecasts.attrs["logit_failures"] = logit_failures
    return forecasts


def forecast_metrics(forecasts: pd.DataFrame) -> dict:
    """RMSE/MAE of the correlation forecasts; Brier score and hit rate of the probabilities."""
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
    if "logit" in scored:
        probabilities = scored.dropna(subset=["logit"])
        metrics["positive_share"] = float(scored["positive"].mean())
        for name in ("logit", "last_sign", "historical_share"):
            brier = ((probabilities[name] - probabilities["positive"]) ** 2).mean()
            hits = ((probabilities[name] > 0.5) == (probabilities["positive"] > 0.5)).mean()
            metrics[name] = {"brier": float(brier), "hit_rate": float(hits), "days": int(len(probabilities))}
    return metrics


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


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli_parser(__doc__)
    parser.add_argument("--features", required=True)
    parser.add_argument("--corr", required=True, help="rolling_corr.csv")
    parser.add_argument("--pair", type=load_json_arg, default=None, help='JSON pair, e.g. ["SPY","DGS10"]')
    parser.add_argument("--window", type=int, default=60)
    parser.add_argument("--horizon", type=int, default=21)
    parser.add_argument("--train-fraction", type=float, default=0.6)
    parser.add_argument("--model", required=True, help="models/corr_forecast.pkl")
    parser.add_argument("--logit", required=True, help="models/comove_logit.pkl")
    parser.add_argument("--metrics", required=True, help="models/metrics.json")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    configure_logging(args.log)
    features, _ = read_parquet(args.features)
    corr = read_rolling_corr(args.corr)
    column = choose_pair(corr, args.pair, args.window)
    a, b, _ = column.split(":")
    frame = model_frame(returns_from_features(features), corr[column], a, b, args.horizon)
    forecasts = walk_forward(frame, args.horizon, args.train_fraction)
    metrics = forecast_metrics(forecasts)
    final = fit_ols_hac(frame.dropna(), args.horizon)
    final_logit = fit_logit(frame.dropna())
    metrics |= {
        "pair": column,
        "horizon": args.horizon,
        "model_kind": "OLS, HAC (Newey-West) errors",
        "refit_every": REFIT_EVERY,
        "train_fraction": args.train_fraction,
        "coefficients": {k: float(v) for k, v in final.params.items()},
        "hac_std_errors": {k: float(v) for k, v in final.bse.items()},
        "final_fit_days": int(final.nobs),
        "logit_kind": "Logit of P(correlation h days ahead > 0)",
        "logit_coefficients": {k: float(v) for k, v in final_logit.params.items()},
        "logit_failures": forecasts.attrs["logit_failures"],
    }
    for result, path in ((final, args.model), (final_logit, args.logit)):
        result.remove_data()
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            pickle.dump(result, handle, protocol=5)
    write_json_atomic(metrics, args.metrics)
    logger.info(
        "model %s: RMSE %.4f vs last value %.4f, historical mean %.4f over %d test days",
        column,
        metrics["model"]["rmse"],
        metrics["last_value"]["rmse"],
        metrics["historical_mean"]["rmse"],
        metrics["test_days"],
    )


if __name__ == "__main__":
    run_script(main, globals())
