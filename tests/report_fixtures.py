"""Synthetic processed outputs with the contract's names, for the report and dashboard tests.

A universe of three series with data (A a price, B a yield, C a price that starts late
and ends early, so it is stale on the as-of date) and one missing series (D), on a
union calendar with holes; rolling correlations computed the workflow's way (each pair
on its joint days); regimes with every column family of the contract.
"""

import json

import numpy as np
import pandas as pd

from corrflow.data.contracts import (
    band_columns,
    corr_adjusted_column,
    corr_before_column,
    corr_column,
    corr_during_column,
    ewm_column,
    markov_column,
    percentile_column,
    relative_column,
    sign_column,
)

PAIRS = [["A", "B"], ["A", "C"], ["A", "D"]]
WINDOWS = [60, 20]
AS_OF = "2018-12-28"


def synthetic_outputs(seed: int = 11, origins: dict | None = None) -> dict:
    from corrflow.analytics.correlation.rolling import fisher_band, rolling_pearson
    from corrflow.analytics.regimes.regimes import own_history_percentile, relative_labels
    from corrflow.analytics.returns import pair_returns

    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2015-01-02", AS_OF, name="date")
    n = len(dates)
    common = rng.normal(size=n)
    flip = np.where(np.arange(n) < n // 2, 1.0, -1.0)  # the A-B correlation changes sign half-way
    a = 100 * np.exp(np.cumsum(0.01 * (common + 0.5 * rng.normal(size=n))))
    b = 2.0 + np.cumsum(0.02 * (flip * common + rng.normal(size=n)))
    c = 50 * np.exp(np.cumsum(0.01 * (0.5 * common + rng.normal(size=n))))
    levels = pd.DataFrame({"A": a, "B": b, "C": c}, index=dates)
    levels.loc[dates[::37], "B"] = np.nan  # the bond market closed on days the stock market traded
    levels.loc[: dates[300], "C"] = np.nan  # C starts late ...
    levels.loc[dates[-40] :, "C"] = np.nan  # ... and ends early: stale on the as-of date
    origins = origins or {"A": "offline snapshot", "B": "offline snapshot", "C": "offline snapshot"}
    meta_series = {}
    for series_id, kind, name in (
        ("A", "price", "Stock fund"),
        ("B", "yield", "10-year yield"),
        ("C", "price", "Oil"),
    ):
        observed = levels[series_id].dropna()
        meta_series[series_id] = {
            "kind": kind,
            "name": name,
            "maturity": 10 if kind == "yield" else None,
            "status": "snapshot",
            "origin": origins[series_id],
            "column": "Adj Close" if kind == "price" else "value",
            "calendar": "XNYS" if kind == "price" else "SIFMA_US",
            "first": str(observed.index[0].date()),
            "last": str(observed.index[-1].date()),
            "stale": series_id == "C",
            "days_behind": 39 if series_id == "C" else 0,
            "source": "yahoo",
        }
    meta_series["D"] = {
        "kind": "price",
        "name": "Missing fund",
        "status": "missing",
        "origin": None,
        "first": None,
        "last": None,
        "source": "yahoo",
    }
    clean_meta = {
        "series": meta_series,
        "as_of": AS_OF,
        "calendars": {},
        "calendar": {"max_gap_days": 5},
    }
    corr_columns = {}
    for x, y in PAIRS[:2]:
        joint = pair_returns(levels, meta_series, x, y, {}, 5).dropna()
        for window in WINDOWS:
            column = corr_column(x, y, window)
            values = rolling_pearson(joint[x], joint[y], window)
            lo, hi = fisher_band(values, window, 0.95)
            lo_name, hi_name = band_columns(column, 0.95)
            corr_columns |= {column: values, lo_name: lo, hi_name: hi}
        corr_columns[ewm_column(x, y, 30)] = joint[x].ewm(halflife=30, min_periods=60).corr(joint[y])
    corr = pd.DataFrame(corr_columns).reindex(dates)
    corr.index.name = "date"
    regimes = pd.DataFrame(index=dates)
    for x, y in PAIRS[:2]:
        column = corr_column(x, y, 60)
        values = corr[column]
        # four years of data: ranked against 10 past windows (the workflow's default is 40)
        percentile = own_history_percentile(values, 60, 10)
        regimes[percentile_column(column)] = percentile
        regimes[relative_column(column)] = relative_labels(percentile, 2.5)
        regimes[sign_column(column)] = pd.Series(
            np.select([values < -0.2, values > 0.2], ["negative", "positive"], "mixed"), index=dates
        ).where(values.notna())
    turbulent = pd.Series(np.clip(np.abs(np.sin(np.arange(n) / 90.0)), 0, 1), index=dates)
    for prefix, states, p in (
        ("mkv:ret:A", ("calm", "turbulent"), turbulent),
        ("mkv:A:B:60", ("low", "high"), 1 - turbulent),
    ):
        for view, shift in (("p_realtime", 0), ("p_hindsight", 5)):
            top = p.shift(shift)
            regimes[markov_column(prefix, view, states[1])] = top
            regimes[markov_column(prefix, view, states[0])] = 1 - top
    regimes["dcc:A:B"] = corr[corr_column("A", "B", 60)]
    regimes["stress"] = False
    regimes.loc["2016-01-04":"2016-02-12", "stress"] = True
    regimes["stress_reason"] = pd.Series(None, index=dates, dtype="object")
    regimes.loc["2016-01-04":"2016-02-12", "stress_reason"] = "drawdown 20 %"
    regimes_meta = {
        "markov": [
            {
                "prefix": "mkv:ret:A",
                "labels": ["calm", "turbulent"],
                "well_separated": True,
                "states": {
                    "calm": {"mean": 0.1, "variance": 0.5, "share_of_days": 0.7},
                    "turbulent": {"mean": -0.1, "variance": 3.0, "share_of_days": 0.3},
                },
            },
            {"prefix": "mkv:A:B:60", "labels": ["low", "high"], "well_separated": False, "states": {}},
        ]
    }
    episodes = pd.DataFrame(
        {
            "name": ["Oil slump 2016", "Volmageddon 2018", "drawdown"],
            "start": ["2016-01-04", "2018-02-01", "2018-10-08"],
            "end": ["2016-02-12", "2018-02-15", "2018-12-24"],
            "business_days": [30, 11, 56],
            "rule": ["named", "named", "drawdown"],
            "reason": ["named episode", "named episode", "drawdown 20 %"],
        }
    )
    for x, y in PAIRS[:2]:
        column = corr_column(x, y, 60)
        episodes[corr_before_column(column)] = [0.3, -0.2, -0.3]
        episodes[corr_during_column(column)] = [0.5, -0.4, -0.1]
        episodes[corr_adjusted_column(column)] = [0.41, -0.33, -0.08]
    dq = {
        "series": {
            s: {"checks": {"coverage": "pass", "stale": "warn" if s == "C" else "pass"}} for s in "ABC"
        }
    }
    return {
        "levels": levels,
        "clean_meta": clean_meta,
        "corr": corr,
        "regimes": regimes,
        "regimes_meta": regimes_meta,
        "episodes": episodes,
        "dq": dq,
        "pairs": PAIRS,
    }


METRICS = {
    "pair": "A:B:60",
    "horizon": 21,
    "model_kind": "OLS, HAC (Newey-West) errors",
    "test_days": 300,
    "test_first": "2017-09-01",
    "test_last": "2018-11-28",
    "refit_every": 63,
    "model": {"rmse": 0.16, "mae": 0.12},
    "last_value": {"rmse": 0.15, "mae": 0.11},
    "historical_mean": {"rmse": 0.40, "mae": 0.35},
    "forecast": {
        "date": "2018-12-28",
        "target_date": "2019-01-28",
        "value": -0.31,
        "lower": -0.55,
        "upper": -0.05,
        "level": 0.9,
        "current": -0.35,
    },
    "logit_kind": "Logit of P(correlation h days ahead > 0)",
    "logit": {"brier": 0.05, "hit_rate": 0.90, "days": 300},
    "last_sign": {"brier": 0.06, "hit_rate": 0.93, "days": 300},
    "historical_share": {"brier": 0.2, "hit_rate": 0.6, "days": 300},
}


def synthetic_universe(o: dict, exclude=(), window: int = 60, all_pairs=None) -> dict:
    """The universe step's result on synthetic outputs, as the report and dashboard read it."""
    from corrflow.store.universe import build_universe, loaded_universe

    summary, frames, history = build_universe(
        o["levels"], o["clean_meta"], o["pairs"], window, list(exclude), all_pairs
    )
    return loaded_universe(json.loads(json.dumps(summary, default=str)), frames, history)


def build_synthetic_report(
    figures_dir, outputs=None, metrics=None, exclude=(), today=None, exceedance=None, drawings=None
):
    """report.build_report on synthetic outputs (primary window 60): (markdown, files drawn);
    the figures drawn by ``drawings`` (``figures.base.Drawings``) when given."""
    import matplotlib

    matplotlib.use("Agg")
    from corrflow.present.report import build_report

    o = outputs or synthetic_outputs()
    return build_report(
        o["clean_meta"],
        o["levels"],
        o["corr"],
        o["regimes"],
        o["regimes_meta"],
        o["episodes"],
        o["dq"],
        metrics,
        o["pairs"],
        figures_dir,
        synthetic_universe(o, exclude),
        60,
        list(exclude),
        today=today,
        exceedance=exceedance,
        drawings=drawings,
    )


def failing_figure(*args, **kwargs):
    """A figure function that fails (module level: a worker process receives it by name)."""
    raise ValueError("no room for the legend")
