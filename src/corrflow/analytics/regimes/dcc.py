"""DCC-GARCH(1,1) conditional correlation of a pair (Engle 2002), estimated in two steps.

1. Each leg: a GARCH(1,1) with a constant mean and normal errors on returns x 100, fitted
   as the ``arch`` package fits it (``fit_garch``: its starting values, bounds, constraints,
   variance bounds and SLSQP, so the estimates are arch's); z = standardised residuals.
   arch itself is not imported (its import costs ~2 s of scipy.stats, statsmodels and
   matplotlib); the tests compare with it.
2. DCC(1,1) on z by quasi-maximum likelihood, with correlation targeting:
   Q_t = (1 - a - b) Qbar + a z_{t-1} z_{t-1}' + b Q_{t-1},  Qbar = z'z / T,  Q_1 = Qbar,
   rho_t = Q_t[0,1] / sqrt(Q_t[0,0] Q_t[1,1]); the correlation part of the Gaussian
   log likelihood, -1/2 sum_t [log(1 - rho_t^2) + (z1^2 + z2^2 - 2 rho_t z1 z2) / (1 - rho_t^2)
   - z1^2 - z2^2], is maximised over a >= 0, b >= 0, a + b < 1 (a coarse grid picks the
   start, then L-BFGS-B on a logistic reparametrisation). The recursion is compiled (numba).
3. Standard errors of a and b: the robust sandwich of the two-step estimator
   (``two_step_covariance``), which counts the GARCH legs' and the targets' estimation error.
"""

import numba
import numpy as np
import pandas as pd

SCALE = 100.0  # returns in percent (the scale arch's optimiser is tuned for)


@numba.njit(cache=True, nogil=True)
def dcc_filter(z, a, b, bar11, bar22, bar12):
    """The DCC(1,1) recursion with targets Qbar given: (rho_t, each day's correlation part
    of the log likelihood, their sum in day order). The one compiled DCC kernel: the fit
    and the standard errors both call it (a kernel less to compile on a fresh checkout)."""
    n = z.shape[0]
    c = 1.0 - a - b
    s11, s22, s12 = bar11, bar22, bar12
    rho = np.empty(n)
    terms = np.empty(n)
    loglik = 0.0
    for t in range(n):
        if t > 0:
            s11 = c * bar11 + a * z[t - 1, 0] * z[t - 1, 0] + b * s11
            s22 = c * bar22 + a * z[t - 1, 1] * z[t - 1, 1] + b * s22
            s12 = c * bar12 + a * z[t - 1, 0] * z[t - 1, 1] + b * s12
        r = s12 / np.sqrt(s11 * s22)
        r = min(max(r, -0.999999), 0.999999)
        rho[t] = r
        one = 1.0 - r * r
        x, y = z[t, 0], z[t, 1]
        term = -0.5 * (np.log(one) + (x * x + y * y - 2.0 * r * x * y) / one - x * x - y * y)
        terms[t] = term
        loglik += term
    return rho, terms, loglik


def dcc_targets(z: np.ndarray) -> tuple[float, float, float]:
    """Qbar = z'z / T, each sum taken in day order (``np.cumsum`` adds in order, unlike
    ``np.sum``'s pairwise sums), as the recursion's own loop took them."""
    n = z.shape[0]
    return tuple(float(np.cumsum(z[:, i] * z[:, j])[-1]) / n for i, j in ((0, 0), (1, 1), (0, 1)))


def dcc_recursion(z: np.ndarray, a: float, b: float) -> tuple[np.ndarray, float]:
    """(rho_t for every t, the correlation part of the log likelihood), targets from z."""
    rho, _, loglik = dcc_filter(z, a, b, *dcc_targets(z))
    return rho, loglik


def dcc_terms(z: np.ndarray, a: float, b: float, bar11: float, bar22: float, bar12: float) -> np.ndarray:
    """The correlation part of each day's log likelihood with the targets Qbar given."""
    return dcc_filter(z, a, b, bar11, bar22, bar12)[1]


def _ab(theta: np.ndarray) -> tuple[float, float]:
    """Unconstrained (u, v) -> a = s w, b = s (1 - w) with s, w in (0, 1): a, b >= 0, a + b < 1."""
    s, w = 1.0 / (1.0 + np.exp(-theta))
    return float(s * w), float(s * (1.0 - w))


def fit_dcc(z: np.ndarray) -> dict:
    """QML estimate of (a, b) on standardised residuals z (T x 2, no missing values)."""
    from scipy.optimize import minimize

    z = np.ascontiguousarray(z, dtype="float64")
    targets = dcc_targets(z)
    grid = [(a, b) for a in (0.01, 0.03, 0.06, 0.1) for b in (0.5, 0.8, 0.9, 0.95, 0.98) if a + b < 0.999]
    start_a, start_b = max(grid, key=lambda ab: dcc_filter(z, *ab, *targets)[2])
    s, w = start_a + start_b, start_a / (start_a + start_b)
    theta0 = np.log([s / (1 - s), w / (1 - w)])
    result = minimize(lambda th: -dcc_filter(z, *_ab(th), *targets)[2], theta0, method="L-BFGS-B")
    a, b = _ab(result.x)
    rho, _, loglik = dcc_filter(z, a, b, *targets)
    return {"a": a, "b": b, "loglik": float(loglik), "converged": bool(result.success), "rho": rho}


# ---------------------------------------------------------------- the GARCH(1,1) legs, as arch fits them
#
# Each function below is the arch 8 code path of ``arch_model(y, mean="Constant",
# vol="GARCH", p=1, q=1, dist="normal", rescale=False).fit()`` for this one model, with the
# same numpy operations in the same order (``arch.univariate``: ``ARCHModel.fit``,
# ``GARCH.starting_values``, ``bounds``, ``constraints``, ``VolatilityProcess.
# variance_bounds``, ``GARCH.backcast``, the ``garch_recursion`` and ``Normal.loglikelihood``):
# the optimiser then sees the same numbers and takes arch's path to arch's estimates.

EWMA_DECAY = 0.94  # arch's backcast and variance bounds: RiskMetrics' decay
BACKCAST_DAYS = 75


@numba.njit(cache=True, nogil=True)
def garch_variance(resids, omega, alpha, beta, backcast, var_bounds):
    """arch's GARCH(1,1) variance recursion (``recursions.garch_recursion``, p = q = 1),
    each day's variance kept inside its ``var_bounds`` row (lower, upper) as arch does."""
    n = resids.shape[0]
    sigma2 = np.empty(n)
    for t in range(n):
        s = omega
        if t == 0:
            s += alpha * backcast
            s += beta * backcast
        else:
            s += alpha * (resids[t - 1] * resids[t - 1])
            s += beta * sigma2[t - 1]
        if s < var_bounds[t, 0]:
            s = var_bounds[t, 0]
        elif s > var_bounds[t, 1]:
            if s > 1.7976931348623157e308:
                s = var_bounds[t, 1] + 1000.0
            else:
                s = var_bounds[t, 1] + np.log(s / var_bounds[t, 1])
        sigma2[t] = s
    return sigma2


def _unbounded(n: int) -> np.ndarray:
    """Variance bounds that never bind (arch's, for its EWMA recursion)."""
    return np.ones((n, 2)) * np.array([-1.0, 1.7e308])


def _ewma_weights(n: int) -> np.ndarray:
    weights = EWMA_DECAY ** np.arange(min(BACKCAST_DAYS, n))
    return weights / sum(weights)  # arch sums them with Python's sum


def garch_backcast(resids: np.ndarray) -> float:
    """``GARCH.backcast``: the starting variance."""
    weights = _ewma_weights(resids.shape[0])
    return float(np.sum((np.absolute(resids[: weights.shape[0]]) ** 2.0) * weights))


def garch_variance_bounds(resids: np.ndarray) -> np.ndarray:
    """``VolatilityProcess.variance_bounds``: (lower, upper) per day around an EWMA variance."""
    nobs = resids.shape[0]
    weights = _ewma_weights(nobs)
    initial = weights.dot(resids[: weights.shape[0]] ** 2.0)
    var_bound = garch_variance(resids, 0.0, 1.0 - EWMA_DECAY, EWMA_DECAY, initial, _unbounded(nobs))
    var_bounds = np.vstack((var_bound / 1e6, var_bound * 1e6)).T
    var = float(np.var(resids))
    min_upper_bound = 1 + float(np.max(resids**2.0))
    lower_bound, upper_bound = var / 1e8, 1e7 * (1 + float(np.max(resids**2.0)))
    var_bounds[var_bounds[:, 0] < lower_bound, 0] = lower_bound
    var_bounds[var_bounds[:, 1] < min_upper_bound, 1] = min_upper_bound
    var_bounds[var_bounds[:, 1] > upper_bound, 1] = upper_bound
    return np.ascontiguousarray(var_bounds)


def _normal_loglik(resids: np.ndarray, sigma2: np.ndarray) -> float:
    """``Normal.loglikelihood``: the Gaussian log likelihood, summed."""
    return float(np.sum(-0.5 * (np.log(2 * np.pi) + np.log(sigma2) + resids**2.0 / sigma2)))


def _negative_loglik(params: np.ndarray, y: np.ndarray, backcast: float, var_bounds: np.ndarray) -> float:
    resids = y - params[0]
    sigma2 = garch_variance(resids, params[1], params[2], params[3], backcast, var_bounds)
    return -_normal_loglik(resids, sigma2)


def garch_starting_values(resids: np.ndarray, backcast: float, var_bounds: np.ndarray) -> np.ndarray:
    """``GARCH.starting_values``: (omega, alpha, beta) of the best Gaussian likelihood on a
    grid of alpha and persistence, omega from the variance target (arch's grid also runs
    over gamma, which GARCH(1,1) does not have: each point four times, the first kept)."""
    target = np.mean(np.absolute(resids) ** 2.0)
    scale = np.mean(resids**2) / (target ** (2.0 / 2.0))
    target *= scale ** (2.0 / 2.0)
    best, best_loglik = None, -np.inf
    for alpha in (0.01, 0.05, 0.1, 0.2):
        for persistence in (0.5, 0.7, 0.9, 0.98):
            sv = (1.0 - persistence) * target * np.ones(3, dtype=float)
            sv[1] = alpha / 1
            sv[2] = (persistence - alpha) / 1
            sigma2 = garch_variance(resids, sv[0], sv[1], sv[2], backcast, var_bounds)
            loglik = _normal_loglik(resids, sigma2)
            if best is None or loglik > best_loglik:  # np.argmax: the first of equal ones
                best, best_loglik = sv, loglik
    return best


def _linear_constraint(coefficients: np.ndarray, value: float):
    def constraint(params, *args):
        return np.dot(coefficients, params) - value

    return constraint


def fit_garch(y: np.ndarray) -> dict:
    """GARCH(1,1) with a constant mean and normal errors, as ``arch`` fits it (above):
    {"mu", "omega", "alpha[1]", "beta[1]" (arch's names), "converged", "loglik",
    "std_resid" (the standardised residuals)}."""
    from scipy.optimize import minimize

    y = np.ascontiguousarray(y, dtype="float64")
    mu = np.linalg.pinv(np.ones((y.shape[0], 1), dtype=np.double)).dot(y)  # arch's OLS start
    resids = y - mu[0]
    backcast = garch_backcast(resids)
    var_bounds = garch_variance_bounds(resids)
    start = np.hstack([mu, garch_starting_values(resids, backcast, var_bounds)])
    v = float(np.mean(np.absolute(resids) ** 2.0))
    bounds = [(-np.inf, np.inf), (1e-8 * v, 10.0 * float(v)), (0.0, 1.0), (0.0, 1.0)]
    # omega, alpha, beta >= 0 and alpha + beta <= 1, as a . params - b >= 0 one row each
    a = np.array([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.0, 0.0, -1.0, -1.0]])
    b = np.array([0.0, 0.0, 0.0, -1.0])
    constraints = [{"type": "ineq", "fun": _linear_constraint(a[i], b[i])} for i in range(4)]
    result = minimize(
        _negative_loglik,
        start,
        args=(y, backcast, var_bounds),
        method="SLSQP",
        bounds=bounds,
        constraints=constraints,
        options={"disp": False},
    )
    params = result.x
    resids = y - params[0]
    sigma2 = garch_variance(resids, params[1], params[2], params[3], backcast, var_bounds)
    return {
        **{
            name: float(value)
            for name, value in zip(("mu", "omega", "alpha[1]", "beta[1]"), params, strict=True)
        },
        "converged": bool(result.status == 0),
        "loglik": -float(result.fun),
        "std_resid": resids / np.sqrt(sigma2),
        "backcast": backcast,
        "var_bounds": var_bounds,
    }


GARCH_NAMES = ("mu", "omega", "alpha[1]", "beta[1]")  # arch's names of the estimates


def garch_standardised(returns: pd.Series) -> tuple[pd.Series, dict]:
    """GARCH(1,1), constant mean, normal errors on returns x 100 (``fit_garch``): the
    standardised residuals and the estimates (arch's names, and ``converged``)."""
    fitted = fit_garch((SCALE * returns).to_numpy(dtype="float64"))
    params = {name: fitted[name] for name in (*GARCH_NAMES, "converged")}
    return pd.Series(fitted["std_resid"], index=returns.index), params


def dcc_correlation(pair: pd.DataFrame) -> tuple[pd.Series, dict]:
    """DCC-GARCH(1,1) correlation of the two return columns of ``pair`` (the pair's days,
    no missing values), and the estimates for the metadata."""
    x = SCALE * pair.to_numpy(dtype="float64")
    legs = []
    for i, column in enumerate(pair.columns):
        if not np.ptp(x[:, i]) > 0:  # a GARCH of a constant has no likelihood (0 / 0)
            raise ValueError(f"{column}'s returns do not vary on the pair's {len(x)} days: no GARCH fit")
        legs.append(fit_garch(x[:, i]))
        if not np.isfinite(legs[-1]["std_resid"]).all():
            raise ValueError(f"the GARCH fit of {column} gives non-finite standardised residuals")
    info = {
        f"garch:{c}": {n: leg[n] for n in (*GARCH_NAMES, "converged")}
        for c, leg in zip(pair.columns, legs, strict=True)
    }
    fitted = fit_dcc(np.column_stack([leg["std_resid"] for leg in legs]))
    info.update(
        {"a": fitted["a"], "b": fitted["b"], "loglik": fitted["loglik"], "converged": fitted["converged"]}
    )
    info["observations"] = len(pair)
    info.update(
        two_step_covariance(
            x,
            [tuple(leg[n] for n in GARCH_NAMES) for leg in legs],
            fitted["a"],
            fitted["b"],
            backcasts=[leg["backcast"] for leg in legs],
            var_bounds=[leg["var_bounds"] for leg in legs],
        )
    )
    return pd.Series(fitted["rho"], index=pair.index), info


# ---------------------------------------------------------------- standard errors


def garch_terms(x, mu, omega, alpha, beta, backcast, var_bounds=None):
    """arch's GARCH(1,1) with a constant mean and normal errors, day by day: (the log
    likelihood of each day, the standardised residuals), from arch's recursion
    (``garch_variance``) started at ``backcast``, within ``var_bounds`` (None: unbounded)."""
    resids = x - mu
    if var_bounds is None:
        var_bounds = _unbounded(resids.shape[0])
    sigma2 = garch_variance(resids, omega, alpha, beta, backcast, var_bounds)
    terms = -0.5 * (np.log(2 * np.pi) + np.log(sigma2) + resids**2.0 / sigma2)
    return terms, resids / np.sqrt(sigma2)


def arch_backcast(x: np.ndarray) -> float:
    """arch's starting variance: an exponentially weighted mean of the first 75 squared
    residuals from the sample mean (``VolatilityProcess.backcast``)."""
    resids = x - x.mean()
    tau = min(75, len(resids))
    weights = 0.94 ** np.arange(tau)
    return float(np.sum(resids[:tau] ** 2 * weights / weights.sum()))


def two_step_covariance(
    x: np.ndarray,
    garch: list[tuple],
    a: float,
    b: float,
    backcasts: list[float] | None = None,
    var_bounds: list[np.ndarray] | None = None,
) -> dict:
    """Robust (sandwich) covariance of the two-step DCC estimates (Engle and Sheppard 2001;
    Newey and McFadden 1994, sec. 6), as one GMM system whose moments are each day's
    scores of both GARCH legs, the targets' moments z z' - Qbar and the DCC scores in
    (a, b): V = A^-1 B A^-T / T, A the Jacobian of the mean moments, B their outer product
    (the scores are martingale differences; the targets' moments are not, and a Newey-West
    B moves the errors by under 10 % on real pairs: docs/methods.md). So the first step's
    and the targets' estimation error count in the standard errors of a and b. Derivatives
    by central differences.

    ``x``: T x 2 returns in percent; ``garch``: each leg's (mu, omega, alpha, beta);
    ``backcasts``, ``var_bounds``: each leg's, as its fit used them (``fit_garch``; None:
    arch's backcast around the sample mean, no bounds), so the scores are those of the
    likelihood that was maximised.
    Returns the standard errors of a and b, their covariance and the second-step-only ones."""
    x = np.ascontiguousarray(x, dtype="float64")
    columns = [np.ascontiguousarray(x[:, 0]), np.ascontiguousarray(x[:, 1])]
    if backcasts is None:
        backcasts = [arch_backcast(columns[0]), arch_backcast(columns[1])]
    if var_bounds is None:
        var_bounds = [_unbounded(len(x))] * 2
    n = len(x)

    def leg_z(theta, leg):
        params = theta[4 * leg : 4 * leg + 4]
        return garch_terms(columns[leg], *params, backcasts[leg], var_bounds[leg])[1]

    def leg_scores(theta, leg):
        """The leg's four GARCH scores each day (central differences of its likelihood)."""
        scores = np.empty((n, 4))
        for first in range(4):
            j = 4 * leg + first
            values = []
            for sign in (1.0, -1.0):
                params = theta[4 * leg : 4 * leg + 4].copy()
                params[first] += sign * step[j]
                values.append(garch_terms(columns[leg], *params, backcasts[leg], var_bounds[leg])[0])
            scores[:, first] = (values[0] - values[1]) / (2.0 * step[j])
        return scores

    base_z = np.column_stack((leg_z(np.r_[garch[0], garch[1]], 0), leg_z(np.r_[garch[0], garch[1]], 1)))
    theta = np.r_[
        garch[0],
        garch[1],
        np.mean(base_z[:, 0] ** 2),
        np.mean(base_z[:, 1] ** 2),
        np.mean(base_z[:, 0] * base_z[:, 1]),
        a,
        b,
    ]
    k = len(theta)
    step = 1e-5 * np.maximum(np.abs(theta), 1e-2)

    def moments(theta, z, garch_scores):
        """Each day's moments (T x 13) given the legs' z and GARCH scores at ``theta``."""
        scores = np.empty((n, k))
        scores[:, :8] = garch_scores
        for j in (11, 12):
            values = []
            for sign in (1.0, -1.0):
                shifted = theta.copy()
                shifted[j] += sign * step[j]
                values.append(dcc_terms(z, shifted[11], shifted[12], shifted[8], shifted[9], shifted[10]))
            scores[:, j] = (values[0] - values[1]) / (2.0 * step[j])
        scores[:, 8] = z[:, 0] ** 2 - theta[8]
        scores[:, 9] = z[:, 1] ** 2 - theta[9]
        scores[:, 10] = z[:, 0] * z[:, 1] - theta[10]
        return scores

    base_scores = np.hstack((leg_scores(theta, 0), leg_scores(theta, 1)))
    m = moments(theta, base_z, base_scores)
    jacobian = np.empty((k, k))
    outer = 10.0 * step
    for j in range(k):
        means = []
        for sign in (1.0, -1.0):
            shifted = theta.copy()
            shifted[j] += sign * outer[j]
            z, garch_scores = base_z, base_scores  # Qbar, a and b move neither leg
            if j < 8:  # a GARCH parameter moves its own leg only: the other's z and scores stay
                leg = j // 4
                z, garch_scores = base_z.copy(), base_scores.copy()
                z[:, leg] = leg_z(shifted, leg)
                garch_scores[:, 4 * leg : 4 * leg + 4] = leg_scores(shifted, leg)
            means.append(moments(shifted, z, garch_scores).mean(axis=0))
        jacobian[:, j] = (means[0] - means[1]) / (2.0 * outer[j])
    spread = m.T @ m / n
    inverse = np.linalg.inv(jacobian)
    covariance = inverse @ spread @ inverse.T / n
    second = np.linalg.inv(jacobian[11:, 11:])
    second_step = second @ spread[11:, 11:] @ second.T / n
    return {
        "se_a": float(np.sqrt(covariance[11, 11])),
        "se_b": float(np.sqrt(covariance[12, 12])),
        "cov_ab": float(covariance[11, 12]),
        "se_a_second_step_only": float(np.sqrt(second_step[0, 0])),
        "se_b_second_step_only": float(np.sqrt(second_step[1, 1])),
    }
