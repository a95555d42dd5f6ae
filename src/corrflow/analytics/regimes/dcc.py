"""DCC-GARCH(1,1) conditional correlation of a pair (Engle 2002), estimated in two steps.

1. Each leg: a GARCH(1,1) with a constant mean and normal errors (``arch``), on returns
   x 100 (arch's optimiser is tuned for that scale); z = standardised residuals.
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

SCALE = 100.0  # returns in percent for arch


@numba.njit(cache=True, nogil=True)
def dcc_recursion(z, a, b):
    """(rho_t for every t, the correlation part of the log likelihood)."""
    n = z.shape[0]
    q11 = q22 = q12 = 0.0
    for t in range(n):
        q11 += z[t, 0] * z[t, 0]
        q22 += z[t, 1] * z[t, 1]
        q12 += z[t, 0] * z[t, 1]
    bar11, bar22, bar12 = q11 / n, q22 / n, q12 / n
    c = 1.0 - a - b
    s11, s22, s12 = bar11, bar22, bar12
    rho = np.empty(n)
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
        loglik -= 0.5 * (np.log(one) + (x * x + y * y - 2.0 * r * x * y) / one - x * x - y * y)
    return rho, loglik


def _ab(theta: np.ndarray) -> tuple[float, float]:
    """Unconstrained (u, v) -> a = s w, b = s (1 - w) with s, w in (0, 1): a, b >= 0, a + b < 1."""
    s, w = 1.0 / (1.0 + np.exp(-theta))
    return float(s * w), float(s * (1.0 - w))


def fit_dcc(z: np.ndarray) -> dict:
    """QML estimate of (a, b) on standardised residuals z (T x 2, no missing values)."""
    from scipy.optimize import minimize

    z = np.ascontiguousarray(z, dtype="float64")
    grid = [(a, b) for a in (0.01, 0.03, 0.06, 0.1) for b in (0.5, 0.8, 0.9, 0.95, 0.98) if a + b < 0.999]
    start_a, start_b = max(grid, key=lambda ab: dcc_recursion(z, *ab)[1])
    s, w = start_a + start_b, start_a / (start_a + start_b)
    theta0 = np.log([s / (1 - s), w / (1 - w)])
    result = minimize(lambda th: -dcc_recursion(z, *_ab(th))[1], theta0, method="L-BFGS-B")
    a, b = _ab(result.x)
    rho, loglik = dcc_recursion(z, a, b)
    return {"a": a, "b": b, "loglik": float(loglik), "converged": bool(result.success), "rho": rho}


def garch_standardised(returns: pd.Series) -> tuple[pd.Series, dict]:
    """GARCH(1,1), constant mean, normal errors (arch) on returns x 100: standardised residuals."""
    from arch import arch_model

    result = arch_model(
        SCALE * returns, mean="Constant", vol="GARCH", p=1, q=1, dist="normal", rescale=False
    ).fit(disp="off", show_warning=False)
    params = {name: float(value) for name, value in result.params.items()}
    params["converged"] = bool(result.convergence_flag == 0)
    return pd.Series(np.asarray(result.std_resid), index=returns.index), params


def dcc_correlation(pair: pd.DataFrame) -> tuple[pd.Series, dict]:
    """DCC-GARCH(1,1) correlation of the two return columns of ``pair`` (the pair's days,
    no missing values), and the estimates for the metadata."""
    legs, info = [], {}
    for column in pair.columns:
        z, params = garch_standardised(pair[column])
        legs.append(z.to_numpy())
        info[f"garch:{column}"] = params
    fitted = fit_dcc(np.column_stack(legs))
    info.update(
        {"a": fitted["a"], "b": fitted["b"], "loglik": fitted["loglik"], "converged": fitted["converged"]}
    )
    info["observations"] = len(pair)
    garch = [
        tuple(info[f"garch:{c}"][name] for name in ("mu", "omega", "alpha[1]", "beta[1]"))
        for c in pair.columns
    ]
    info.update(two_step_covariance(SCALE * pair.to_numpy(dtype="float64"), garch, fitted["a"], fitted["b"]))
    return pd.Series(fitted["rho"], index=pair.index), info


# ---------------------------------------------------------------- standard errors


@numba.njit(cache=True, nogil=True)
def garch_terms(x, mu, omega, alpha, beta, backcast):
    """arch's GARCH(1,1) with a constant mean and normal errors, day by day: (the log
    likelihood of each day, the standardised residuals); sigma2_0 from arch's backcast."""
    n = x.shape[0]
    terms, z = np.empty(n), np.empty(n)
    sigma2 = omega + (alpha + beta) * backcast
    for t in range(n):
        if t > 0:
            eps = x[t - 1] - mu
            sigma2 = omega + alpha * eps * eps + beta * sigma2
        e = x[t] - mu
        terms[t] = -0.5 * (np.log(2.0 * np.pi) + np.log(sigma2) + e * e / sigma2)
        z[t] = e / np.sqrt(sigma2)
    return terms, z


@numba.njit(cache=True, nogil=True)
def dcc_terms(z, a, b, bar11, bar22, bar12):
    """The correlation part of each day's log likelihood (as ``dcc_recursion``) with the
    targets Qbar given as parameters."""
    n = z.shape[0]
    c = 1.0 - a - b
    s11, s22, s12 = bar11, bar22, bar12
    terms = np.empty(n)
    for t in range(n):
        if t > 0:
            s11 = c * bar11 + a * z[t - 1, 0] * z[t - 1, 0] + b * s11
            s22 = c * bar22 + a * z[t - 1, 1] * z[t - 1, 1] + b * s22
            s12 = c * bar12 + a * z[t - 1, 0] * z[t - 1, 1] + b * s12
        r = s12 / np.sqrt(s11 * s22)
        r = min(max(r, -0.999999), 0.999999)
        one = 1.0 - r * r
        x, y = z[t, 0], z[t, 1]
        terms[t] = -0.5 * (np.log(one) + (x * x + y * y - 2.0 * r * x * y) / one - x * x - y * y)
    return terms


def arch_backcast(x: np.ndarray) -> float:
    """arch's starting variance: an exponentially weighted mean of the first 75 squared
    residuals from the sample mean (``VolatilityProcess.backcast``)."""
    resids = x - x.mean()
    tau = min(75, len(resids))
    weights = 0.94 ** np.arange(tau)
    return float(np.sum(resids[:tau] ** 2 * weights / weights.sum()))


def two_step_covariance(x: np.ndarray, garch: list[tuple], a: float, b: float) -> dict:
    """Robust (sandwich) covariance of the two-step DCC estimates (Engle and Sheppard 2001;
    Newey and McFadden 1994, sec. 6), as one GMM system whose moments are each day's
    scores of both GARCH legs, the targets' moments z z' - Qbar and the DCC scores in
    (a, b): V = A^-1 B A^-T / T, A the Jacobian of the mean moments, B their outer product
    (scores are martingale differences). So the first step's and the targets' estimation
    error count in the standard errors of a and b. Derivatives by central differences.

    ``x``: T x 2 returns in percent; ``garch``: each leg's (mu, omega, alpha, beta).
    Returns the standard errors of a and b, their covariance and the second-step-only ones."""
    x = np.ascontiguousarray(x, dtype="float64")
    columns = [np.ascontiguousarray(x[:, 0]), np.ascontiguousarray(x[:, 1])]
    backcasts = [arch_backcast(columns[0]), arch_backcast(columns[1])]
    n = len(x)

    def legs(theta):
        l1, z1 = garch_terms(columns[0], theta[0], theta[1], theta[2], theta[3], backcasts[0])
        l2, z2 = garch_terms(columns[1], theta[4], theta[5], theta[6], theta[7], backcasts[1])
        return (l1, l2), np.column_stack((z1, z2))

    _, z = legs(np.r_[garch[0], garch[1]])
    theta = np.r_[
        garch[0], garch[1], np.mean(z[:, 0] ** 2), np.mean(z[:, 1] ** 2), np.mean(z[:, 0] * z[:, 1]), a, b
    ]
    k = len(theta)
    step = 1e-5 * np.maximum(np.abs(theta), 1e-2)

    def moments(theta, garch_scores=None):
        """Each day's moments (T x 13); a leg's scores need only that leg's recursion, the
        DCC's only the DCC's on the day's z; ``garch_scores`` (T x 8) when the GARCH
        parameters are those they were computed at."""
        _, z = legs(theta)
        scores = np.empty((n, k))
        if garch_scores is not None:
            scores[:, :8] = garch_scores
        for j in range(8 if garch_scores is None else 0):
            leg, first = divmod(j, 4)
            values = []
            for sign in (1.0, -1.0):
                params = theta[4 * leg : 4 * leg + 4].copy()
                params[first] += sign * step[j]
                values.append(garch_terms(columns[leg], *params, backcasts[leg])[0])
            scores[:, j] = (values[0] - values[1]) / (2.0 * step[j])
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

    m = moments(theta)
    jacobian = np.empty((k, k))
    outer = 10.0 * step
    for j in range(k):
        up, down = theta.copy(), theta.copy()
        up[j] += outer[j]
        down[j] -= outer[j]
        same = None if j < 8 else m[:, :8]  # the GARCH scores do not move with Qbar, a or b
        jacobian[:, j] = (moments(up, same).mean(axis=0) - moments(down, same).mean(axis=0)) / (
            2.0 * outer[j]
        )
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
