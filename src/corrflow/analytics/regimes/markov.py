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


@numba.njit(cache=True, nogil=True)
def markov2(y, ends, floors, mu, sigma2, transition, initial, max_iter, warm_iter, tol, by_variance, mode):
    """Two states, everything in one compiled function (one to compile, no Python and no
    GIL between refits): ``em_fit``, ``hamilton_filter`` and ``kim_smoother`` with the same
    operations in the same order, so the same numbers bit for bit, on scalars instead of
    small arrays (about 1.5x faster).

    mode 0: EM fits of y[:ends[f] + 1], f = 0, 1, ...: the first from the given start
    (``max_iter`` iterations at most, variance floor ``floors[0]``), each later one from the
    previous fit's parameters (``warm_iter``, ``floors[f]``); after each fit the states are
    ordered as ``MarkovFit.ordered`` orders them (a stable sort of two: swapped when the
    second key is below the first, or the first is NaN and the second is not). ``paths``:
    the real-time filtered probabilities of ``realtime_probabilities`` (rows ends[f] ..
    ends[f+1]-1 with fit f's parameters, the last fit's up to the end of y; NaN before),
    rows of fit f taken from the first EM pass of fit f + 1, which is that filter.
    mode 3: as mode 0 without ``paths`` (all NaN): the fits only.
    mode 1: the filter with the given parameters over y; ``paths`` = filtered probabilities.
    mode 2: filter and smoother; ``paths`` = smoothed probabilities.
    Returns (paths n x 2, and per fit: mu, sigma2, transition (its four values, row-major),
    initial, loglik, iterations (whole numbers as floats))."""
    n = y.shape[0]
    m = ends.shape[0] if mode == 0 or mode == 3 else 0
    # allocations of two shapes only, np.empty: each other form (np.full, a third dimension,
    # an integer dtype) is one more numba overload compiled on a fresh checkout (~0.03-0.25 s)
    paths = np.empty((n, 2))
    for t in range(n):
        paths[t, 0] = np.nan
        paths[t, 1] = np.nan
    mus = np.empty((m, 2))
    sigma2s = np.empty((m, 2))
    transitions = np.empty((m, 4))  # row f: fit f's transition matrix, row-major
    initials = np.empty((m, 2))
    logliks = np.empty(m)
    counts = np.empty(m)  # iterations, whole numbers
    mu0, mu1 = mu[0], mu[1]
    v0, v1 = sigma2[0], sigma2[1]
    t00, t01, t10, t11 = transition[0, 0], transition[0, 1], transition[1, 0], transition[1, 1]
    i0, i1 = initial[0], initial[1]
    f0 = np.empty(n)
    f1 = np.empty(n)
    p0 = np.empty(n)
    p1 = np.empty(n)
    s0 = np.empty(n)
    s1 = np.empty(n)
    # task f < m: fit f; task m (mode 0 with fits, modes 1 and 2): one pass over all of y
    tasks = m if mode == 3 else (m + 1 if mode != 0 or m > 0 else 0)
    for f in range(tasks):
        fitting = f < m
        length = ends[f] + 1 if fitting else n
        passes = (max_iter if f == 0 else warm_iter) if fitting else 1
        floor = floors[f] if fitting else 0.0
        copy_from = ends[f - 1] if f > 0 else (0 if m == 0 else length)
        copy_to = ends[f] if fitting else n
        previous = -np.inf
        loglik = -np.inf
        iterations = 0
        for iterations in range(1, passes + 1):  # noqa: B007 (the count is kept)
            # Hamilton filter (hamilton_filter)
            scale0 = np.sqrt(2.0 * np.pi * v0)
            scale1 = np.sqrt(2.0 * np.pi * v1)
            a0, a1 = i0, i1
            loglik = 0.0
            for t in range(length):
                p0[t] = a0
                p1[t] = a1
                x = y[t]
                g0 = a0 * (np.exp(-0.5 * (x - mu0) ** 2 / v0) / scale0)
                g1 = a1 * (np.exp(-0.5 * (x - mu1) ** 2 / v1) / scale1)
                total = 0.0
                total += g0
                total += g1
                if total <= 0.0 or not np.isfinite(total):
                    total = 1e-300
                    g0 = 1.0 / 2
                    g1 = 1.0 / 2
                else:
                    g0 /= total
                    g1 /= total
                f0[t] = g0
                f1[t] = g1
                loglik += np.log(total)
                a0 = 0.0
                a0 += g0 * t00
                a0 += g1 * t10
                a1 = 0.0
                a1 += g0 * t01
                a1 += g1 * t11
            if iterations == 1 and (mode == 0 or mode == 1):
                for t in range(copy_from, copy_to):
                    paths[t, 0] = f0[t]
                    paths[t, 1] = f1[t]
            if not fitting and mode != 2:
                break
            # Kim smoother (kim_smoother) and the expected transition counts
            c00 = c01 = c10 = c11 = 0.0
            q0 = f0[length - 1]
            q1 = f1[length - 1]
            s0[length - 1] = q0
            s1[length - 1] = q1
            for t in range(length - 2, -1, -1):
                r0 = q0 / max(p0[t + 1], 1e-300)
                r1 = q1 / max(p1[t + 1], 1e-300)
                g0 = f0[t]
                g1 = f1[t]
                j00 = g0 * t00 * r0
                j01 = g0 * t01 * r1
                j10 = g1 * t10 * r0
                j11 = g1 * t11 * r1
                c00 += j00
                c01 += j01
                c10 += j10
                c11 += j11
                q0 = 0.0
                q0 += j00
                q0 += j01
                q1 = 0.0
                q1 += j10
                q1 += j11
                s0[t] = q0
                s1[t] = q1
            if not fitting:
                for t in range(n):
                    paths[t, 0] = s0[t]
                    paths[t, 1] = s1[t]
                break
            # M step (em_fit): each state's sums over the days in order, as there
            w0 = m0 = w1 = m1 = 0.0
            for t in range(length):
                w0 += s0[t]
                m0 += s0[t] * y[t]
                w1 += s1[t]
                m1 += s1[t] * y[t]
            if not w0 < 1e-10:
                mu0 = m0 / w0
            if not w1 < 1e-10:
                mu1 = m1 / w1
            e0 = e1 = 0.0
            for t in range(length):
                e0 += s0[t] * (y[t] - mu0) ** 2
                e1 += s1[t] * (y[t] - mu1) ** 2
            if not w0 < 1e-10:
                v0 = max(e0 / w0, floor)
            if not w1 < 1e-10:
                v1 = max(e1 / w1, floor)
            row = 0.0
            row += c00
            row += c01
            if row > 1e-10:
                t00 = max(c00 / row, 1e-10)
                t01 = max(c01 / row, 1e-10)
                norm = 0.0
                norm += t00
                norm += t01
                t00 /= norm
                t01 /= norm
            row = 0.0
            row += c10
            row += c11
            if row > 1e-10:
                t10 = max(c10 / row, 1e-10)
                t11 = max(c11 / row, 1e-10)
                norm = 0.0
                norm += t10
                norm += t11
                t10 /= norm
                t11 /= norm
            i0 = s0[0]
            i1 = s1[0]
            if abs(loglik - previous) <= tol * (1.0 + abs(loglik)):
                break
            previous = loglik
        if fitting:
            a, b = (v0, v1) if by_variance else (mu0, mu1)
            if b < a or (np.isnan(a) and not np.isnan(b)):
                mu0, mu1 = mu1, mu0
                v0, v1 = v1, v0
                t00, t01, t10, t11 = t11, t10, t01, t00
                i0, i1 = i1, i0
            mus[f, 0], mus[f, 1] = mu0, mu1
            sigma2s[f, 0], sigma2s[f, 1] = v0, v1
            transitions[f, 0], transitions[f, 1] = t00, t01
            transitions[f, 2], transitions[f, 3] = t10, t11
            initials[f, 0], initials[f, 1] = i0, i1
            logliks[f] = loglik
            counts[f] = iterations
    return paths, mus, sigma2s, transitions, initials, logliks, counts


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


def _variance_floor(y: np.ndarray) -> float:
    return VARIANCE_FLOOR * max(float(np.var(y)), 1e-300)


def _markov2(y, ends, floors, params, max_iter, warm_iter, tol, order_by, mode):
    """``markov2`` from Python: (paths, the fits as ``MarkovFit``)."""

    def writable(values, dtype="float64"):
        # numba compiles a read-only array (pandas' to_numpy) as another type: one signature
        return np.require(values, dtype=dtype, requirements=["C", "W"])

    paths, *per_fit = markov2(
        writable(y),
        writable(ends, "int64"),
        writable(floors),
        *[writable(p) for p in params],
        int(max_iter),
        int(warm_iter),
        float(tol),
        order_by == "variance",
        mode,
    )
    mus, sigma2s, transitions, initials, logliks, counts = per_fit
    transitions = transitions.reshape(-1, 2, 2)
    per_fit = zip(mus, sigma2s, transitions, initials, logliks, counts, strict=True)
    return paths, [MarkovFit(*values) for values in per_fit]


def _params(fit_: MarkovFit) -> tuple:
    return fit_.mu, fit_.sigma2, fit_.transition, fit_.initial


def fit(
    y: np.ndarray, k: int, order_by: str, start: MarkovFit | None = None, max_iter=1000, tol=1e-9
) -> MarkovFit:
    """EM fit of y (no missing values), from ``start`` (warm) or a deterministic start."""
    y = np.ascontiguousarray(y, dtype="float64")
    params = _params(start) if start else start_parameters(y, k, order_by)
    floor = _variance_floor(y)
    if k == 2 and len(y):
        return _markov2(y, [len(y) - 1], [floor], params, max_iter, 0, tol, order_by, 3)[1][0]
    result = em_fit(y, *[np.ascontiguousarray(p, dtype="float64") for p in params], max_iter, tol, floor)
    return MarkovFit(*result).ordered(order_by)


def smoothed_probabilities(y: np.ndarray, params: MarkovFit) -> np.ndarray:
    if len(params.mu) == 2 and len(y):
        return _markov2(y, [], [], _params(params), 0, 0, 0.0, "mean", 2)[0]
    filtered, predicted, _ = hamilton_filter(y, params.mu, params.sigma2, params.transition, params.initial)
    return kim_smoother(filtered, predicted, params.transition)[0]


def filtered_probabilities(y: np.ndarray, params: MarkovFit) -> np.ndarray:
    if len(params.mu) == 2 and len(y):
        return _markov2(y, [], [], _params(params), 0, 0, 0.0, "mean", 1)[0]
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
    max_iter: int = 1000,
) -> tuple[np.ndarray, list[MarkovFit]]:
    """Expanding-window filtered probabilities (n x k; NaN before the first fit) and the fits;
    the first fit runs at most ``max_iter`` EM iterations (`regimes.markov.max_iter`), each
    later one ``warm_iter`` from the previous fit."""
    y = np.ascontiguousarray(y, dtype="float64")
    refits = refit_positions(dates, freq, min_obs)
    if k == 2 and len(refits) and warm_iter >= 1:
        # every refit in one compiled call (markov2), the same numbers as the loop below
        floors = [_variance_floor(y[: position + 1]) for position in refits]
        start = start_parameters(y[: refits[0] + 1], k, order_by)
        return _markov2(y, refits, floors, start, max_iter, warm_iter, tol, order_by, 0)
    fits: list[MarkovFit] = []
    previous = None
    for position in refits:
        window = y[: position + 1]
        current = fit(window, k, order_by, previous, max_iter=warm_iter if previous else max_iter, tol=tol)
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
