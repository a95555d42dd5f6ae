"""DCC-GARCH(1,1) conditional correlation of a pair (Engle 2002), estimated in two steps.

1. Each leg: a GARCH(1,1) with a constant mean and normal errors (``arch``), on returns
   x 100 (arch's optimiser is tuned for that scale); z = standardised residuals.
2. DCC(1,1) on z by quasi-maximum likelihood, with correlation targeting:
   Q_t = (1 - a - b) Qbar + a z_{t-1} z_{t-1}' + b Q_{t-1},  Qbar = z'z / T,  Q_1 = Qbar,
   rho_t = Q_t[0,1] / sqrt(Q_t[0,0] Q_t[1,1]); the correlation part of the Gaussian
   log likelihood, -1/2 sum_t [log(1 - rho_t^2) + (z1^2 + z2^2 - 2 rho_t z1 z2) / (1 - rho_t^2)
   - z1^2 - z2^2], is maximised over a >= 0, b >= 0, a + b < 1 (a coarse grid picks the
   start, then L-BFGS-B on a logistic reparametrisation). The recursion is compiled (numba).
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
    return pd.Series(fitted["rho"], index=pair.index), info
