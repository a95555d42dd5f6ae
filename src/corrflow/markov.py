"""Markov switching (Hamilton) with a switching mean and variance, fitted by EM, in two views.

Model: y_t | s_t = k ~ N(mu_k, sigma2_k), s_t a K-state Markov chain with transition
matrix P[i, j] = Pr(s_t = j | s_{t-1} = i). EM (Hamilton 1990): the E-step is the
Hamilton filter and Kim's smoother, the M-step has closed forms (probability-weighted
means and variances, expected transition counts). Compiled with numba, so an
expanding-window refit costs milliseconds, not the seconds of a numerical optimiser.

- ``p_realtime``: refitted at the last observation of every calendar period (``refit``,
  e.g. "ME"), each fit warm-started from the previous one's parameters; the day's
  filtered probability uses the parameters of the latest fit at or before that day and
  the data up to that day only. A real-time signal: no later data enters.
- ``p_hindsight``: one fit on the whole sample, Kim-smoothed probabilities: each day
  uses every later day too (for reading history, not a signal).

States are ordered after every fit (by mean, or by variance) so a label such as "high"
always names the same kind of state. Everything is deterministic (no random starts).
"""

import numba
import numpy as np
import pandas as pd

VARIANCE_FLOOR = 1e-8  # of the series' variance: keeps a state from collapsing onto one point


@numba.njit(cache=True, nogil=True)
def hamilton_filter(y, mu, sigma2, transition, initial):
    """Filtered Pr(s_t | y_1..t), predicted Pr(s_t | y_1..t-1), and the log likelihood."""
    n, k = y.shape[0], mu.shape[0]
    filtered = np.empty((n, k))
    predicted = np.empty((n, k))
    prior = np.empty(k)
    for j in range(k):
        prior[j] = initial[j]
    loglik = 0.0
    for t in range(n):
        total = 0.0
        for j in range(k):
            predicted[t, j] = prior[j]
            density = np.exp(-0.5 * (y[t] - mu[j]) ** 2 / sigma2[j]) / np.sqrt(2.0 * np.pi * sigma2[j])
            filtered[t, j] = prior[j] * density
            total += filtered[t, j]
        if total <= 0.0 or not np.isfinite(total):
            total = 1e-300
            for j in range(k):
                filtered[t, j] = 1.0 / k
        else:
            for j in range(k):
                filtered[t, j] /= total
        loglik += np.log(total)
        for j in range(k):
            prior[j] = 0.0
            for i in range(k):
                prior[j] += filtered[t, i] * transition[i, j]
    return filtered, predicted, loglik


@numba.njit(cache=True, nogil=True)
def kim_smoother(filtered, predicted, transition):
    """Smoothed Pr(s_t | y_1..T) and expected transition counts sum_t Pr(s_t=i, s_t+1=j | y)."""
    n, k = filtered.shape
    smoothed = np.empty((n, k))
    counts = np.zeros((k, k))
    for j in range(k):
        smoothed[n - 1, j] = filtered[n - 1, j]
    ratio = np.empty(k)
    for t in range(n - 2, -1, -1):
        for j in range(k):
            ratio[j] = smoothed[t + 1, j] / max(predicted[t + 1, j], 1e-300)
        for i in range(k):
            acc = 0.0
            for j in range(k):
                joint = filtered[t, i] * transition[i, j] * ratio[j]
                counts[i, j] += joint
                acc += joint
            smoothed[t, i] = acc
    return smoothed, counts


@numba.njit(cache=True, nogil=True)
def em_fit(y, mu, sigma2, transition, initial, max_iter, tol, floor):
    """EM from the given start; returns (mu, sigma2, transition, initial, loglik, iterations).
    Plain loops (no array expressions): numba compiles them in a fraction of the time."""
    n, k = y.shape[0], mu.shape[0]
    mu, sigma2, transition, initial = mu.copy(), sigma2.copy(), transition.copy(), initial.copy()
    previous = -np.inf
    loglik = -np.inf
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 (the count is returned)
        filtered, predicted, loglik = hamilton_filter(y, mu, sigma2, transition, initial)
        smoothed, counts = kim_smoother(filtered, predicted, transition)
        for j in range(k):
            weight = 0.0
            total = 0.0
            for t in range(n):
                weight += smoothed[t, j]
                total += smoothed[t, j] * y[t]
            if weight < 1e-10:
                continue
            mu[j] = total / weight
            spread = 0.0
            for t in range(n):
                spread += smoothed[t, j] * (y[t] - mu[j]) ** 2
            sigma2[j] = max(spread / weight, floor)
        for i in range(k):
            row = 0.0
            for j in range(k):
                row += counts[i, j]
            if row > 1e-10:
                norm = 0.0
                for j in range(k):
                    transition[i, j] = max(counts[i, j] / row, 1e-10)
                    norm += transition[i, j]
                for j in range(k):
                    transition[i, j] /= norm
        for j in range(k):
            initial[j] = smoothed[0, j]
        if abs(loglik - previous) <= tol * (1.0 + abs(loglik)):
            break
        previous = loglik
    return mu, sigma2, transition, initial, loglik, iterations


class MarkovFit:
    """Ordered parameters of one fit."""

    def __init__(self, mu, sigma2, transition, initial, loglik, iterations):
        self.mu, self.sigma2, self.transition, self.initial = mu, sigma2, transition, initial
        self.loglik, self.iterations = float(loglik), int(iterations)

    def ordered(self, order_by: str) -> "MarkovFit":
        key = self.sigma2 if order_by == "variance" else self.mu
        order = np.argsort(key, kind="stable")
        return MarkovFit(
            self.mu[order],
            self.sigma2[order],
            self.transition[np.ix_(order, order)],
            self.initial[order],
            self.loglik,
            self.iterations,
        )


def start_parameters(y: np.ndarray, k: int, order_by: str) -> tuple:
    """A deterministic start: states spread over the quantiles (mean) or over scales of
    the variance (variance); sticky transitions (0.95 stay)."""
    var = float(np.var(y))
    if order_by == "variance":
        mu = np.full(k, float(np.mean(y)))
        sigma2 = var * np.geomspace(0.4, 2.5, k)
    else:
        mu = np.quantile(y, (np.arange(k) + 0.5) / k)
        sigma2 = np.full(k, var / k)
    transition = np.full((k, k), 0.05 / max(k - 1, 1))
    np.fill_diagonal(transition, 0.95)
    return mu, sigma2, transition, np.full(k, 1.0 / k)


def fit(
    y: np.ndarray, k: int, order_by: str, start: MarkovFit | None = None, max_iter=1000, tol=1e-9
) -> MarkovFit:
    """EM fit of y (no missing values), from ``start`` (warm) or a deterministic start."""
    y = np.ascontiguousarray(y, dtype="float64")
    params = (
        (start.mu, start.sigma2, start.transition, start.initial)
        if start
        else start_parameters(y, k, order_by)
    )
    floor = VARIANCE_FLOOR * max(float(np.var(y)), 1e-300)
    result = em_fit(y, *[np.ascontiguousarray(p, dtype="float64") for p in params], max_iter, tol, floor)
    return MarkovFit(*result).ordered(order_by)


def smoothed_probabilities(y: np.ndarray, params: MarkovFit) -> np.ndarray:
    filtered, predicted, _ = hamilton_filter(y, params.mu, params.sigma2, params.transition, params.initial)
    return kim_smoother(filtered, predicted, params.transition)[0]


def filtered_probabilities(y: np.ndarray, params: MarkovFit) -> np.ndarray:
    return hamilton_filter(y, params.mu, params.sigma2, params.transition, params.initial)[0]


def refit_positions(dates: pd.DatetimeIndex, freq: str, min_obs: int) -> np.ndarray:
    """Positions of the last observation of each complete calendar period of ``freq``
    (a pandas offset alias: W-FRI, ME, QE, YE), from ``min_obs`` observations on."""
    positions = pd.Series(np.arange(len(dates)), index=dates)
    last = positions.resample(freq).last().dropna()
    complete = last[last.index <= dates[-1]] if len(dates) else last
    chosen = complete.to_numpy(dtype="int64")
    return chosen[chosen >= min_obs - 1]


def realtime_probabilities(
    y: np.ndarray,
    dates: pd.DatetimeIndex,
    k: int,
    order_by: str,
    freq: str,
    min_obs: int,
    warm_iter: int = 50,
    tol: float = 1e-9,
) -> tuple[np.ndarray, list[MarkovFit]]:
    """Expanding-window filtered probabilities (n x k; NaN before the first fit) and the fits."""
    y = np.ascontiguousarray(y, dtype="float64")
    refits = refit_positions(dates, freq, min_obs)
    fits: list[MarkovFit] = []
    previous = None
    for position in refits:
        window = y[: position + 1]
        current = fit(window, k, order_by, previous, max_iter=warm_iter if previous else 1000, tol=tol)
        fits.append(current)
        previous = current
    if not fits:
        return np.full((len(y), k), np.nan), fits
    # rows refits[f] .. refits[f+1]-1 get fit f's filtered probabilities: the filter runs over the
    # data up to the segment's end with fit f's parameters (the data up to a row, not beyond)
    probabilities = np.full((len(y), k), np.nan)
    stops = np.r_[refits[1:], len(y)]
    for start, stop, params in zip(refits, stops, fits, strict=False):
        probabilities[start:stop] = filtered_probabilities(y[:stop], params)[start:stop]
    return probabilities, fits


def separation(params: MarkovFit) -> dict:
    """How far apart the two extreme states are: difference of means over the pooled
    within-state standard deviation, and the ratio of standard deviations."""
    sd = np.sqrt(params.sigma2)
    lo, hi = (np.argmin(params.mu), np.argmax(params.mu))
    pooled = float(np.sqrt((params.sigma2[lo] + params.sigma2[hi]) / 2.0))
    return {
        "mean_gap_over_sd": (
            float(abs(params.mu[hi] - params.mu[lo]) / pooled) if pooled > 0 else float("nan")
        ),
        "sd_ratio": float(sd.max() / sd.min()) if sd.min() > 0 else float("inf"),
    }
