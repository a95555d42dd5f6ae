"""Exceedance correlations (Longin and Solnik 2001) and the Hong-Tu-Zhou (2007) asymmetry test.

Does a pair's correlation rise when both legs fall together? On the pair's joint days each
leg is standardised (its mean and standard deviation over the era); at a quantile q of the
grid the *exceedance correlation* is the correlation of the two returns on the days both
are below their own q-quantile (``below``, q <= 0.5) or both above it (``above``,
q >= 0.5), with the number of such days. Beside it, what a bivariate normal with the pair's
unconditional correlation gives at the same quantile (closed form from the moments of the
truncated bivariate normal, Rosenbaum 1961): correlation falls towards the tails of a
normal, so a tail that keeps its correlation is evidence against normality.

The Hong-Tu-Zhou test compares the correlation above +c with the one below -c (standardised
units) at c = 0, 0.5, 1, 1.5: J = T d' Omega^-1 d, chi-square with as many degrees of freedom
as thresholds kept (d: the differences, Omega: the Bartlett long-run variance of their
influence functions, bandwidth floor(4 (T/100)^(2/9))). The influence function of each
conditional correlation is the delta-method one, u1 u2 - r (u1^2 + u2^2) / 2 (u: the subset's
own standardised values), so the subset's own means and variances count in the variance.
A threshold with fewer than ``min_count`` days on either side is left out.
"""

import math
from statistics import NormalDist

import numpy as np
import pandas as pd

QUANTILES = tuple(round(0.05 * k, 2) for k in range(1, 20))  # 5 % .. 95 %
HTZ_THRESHOLDS = (0.0, 0.5, 1.0, 1.5)  # Hong, Tu and Zhou's c, in standard deviations
MIN_COUNT = 20  # days both beyond a threshold needed for a correlation
COLUMNS = [
    "pair",
    "era",
    "first",
    "last",
    "days",
    "unconditional_corr",
    "side",
    "quantile",
    "threshold_a",
    "threshold_b",
    "count",
    "corr",
    "normal_corr",
]


# ---------------------------------------------------------------- the normal benchmark


def _phi(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _upper_tail(x: float) -> float:
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def bivariate_normal_upper(h: float, k: float, rho: float) -> float:
    """P(X > h, Y > k) for a standard bivariate normal with correlation ``rho`` (|rho| < 1),
    exact to rounding: Owen's (1956) formula in his T function (``scipy.special.owens_t``,
    Patefield and Tandy's algorithm, accurate to ~1e-16), without importing scipy.stats
    (~0.8 s; its ``multivariate_normal.cdf`` gives the same numbers in two dimensions)."""
    from scipy.special import owens_t

    # P(X > h, Y > k) = P(X < -h, Y < -k): the lower orthant at (x, y) = (-h, -k)
    x, y = -h, -k
    s = math.sqrt(1.0 - rho * rho)
    if x == 0.0 and y == 0.0:
        return 0.25 + math.asin(rho) / (2.0 * math.pi)
    if x == 0.0 or y == 0.0:
        # one threshold at zero: P(X < 0, Y < y) = Phi(y) / 2 + T(y, rho / s) (by symmetry in x, y)
        other = y if x == 0.0 else x
        return 0.5 * _upper_tail(-other) + float(owens_t(other, rho / s))
    beta = 0.0 if x * y > 0.0 else 0.5
    return (
        0.5 * _upper_tail(-x)  # Phi(x), without the cancellation of 1 - Q(x)
        + 0.5 * _upper_tail(-y)
        - float(owens_t(x, (y - rho * x) / (x * s)))
        - float(owens_t(y, (x - rho * y) / (y * s)))
        - beta
    )


def normal_exceedance_corr(rho: float, h: float, k: float | None = None, side: str = "above") -> float:
    """Correlation of a standard bivariate normal with correlation ``rho`` on the region
    X > h and Y > k (``side="above"``) or X < h and Y < k (``"below"``; by symmetry the
    region above -h, -k). Closed form from the truncated moments (Rosenbaum 1961)."""
    k = h if k is None else k
    if side == "below":
        h, k = -h, -k
    elif side != "above":
        raise ValueError(f"side must be 'above' or 'below', not {side!r}")
    if abs(rho) >= 1.0:
        return float(np.sign(rho))
    s = math.sqrt(1.0 - rho * rho)
    mass = bivariate_normal_upper(h, k, rho)
    if mass <= 1e-300:
        return float("nan")
    hs, ks = (h - rho * k) / s, (k - rho * h) / s  # each threshold given the other leg at its own
    qh, qk = _upper_tail(hs), _upper_tail(ks)
    joint = _phi(h) * _phi(ks)  # = phi(k) phi(hs): the density on the corner's edges
    ex = _phi(h) * qk + rho * _phi(k) * qh
    ey = _phi(k) * qh + rho * _phi(h) * qk
    exx = mass + h * _phi(h) * qk + rho * rho * k * _phi(k) * qh + rho * s * joint
    eyy = mass + k * _phi(k) * qh + rho * rho * h * _phi(h) * qk + rho * s * joint
    exy = rho * mass + rho * h * _phi(h) * qk + rho * k * _phi(k) * qh + s * joint
    mx, my = ex / mass, ey / mass
    vx, vy = exx / mass - mx * mx, eyy / mass - my * my
    if vx <= 0 or vy <= 0:
        return float("nan")
    return float((exy / mass - mx * my) / math.sqrt(vx * vy))


# ---------------------------------------------------------------- sample exceedance correlations


def standardised(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / x.std()


def _subset_corr(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 3:
        return float("nan")
    sx, sy = x.std(), y.std()
    if sx <= 0 or sy <= 0:
        return float("nan")
    return float(np.mean((x - x.mean()) * (y - y.mean())) / (sx * sy))


def exceedance_curve(returns: pd.DataFrame, quantiles=QUANTILES, min_count: int = MIN_COUNT) -> pd.DataFrame:
    """The exceedance correlations of the two columns of ``returns`` (the pair's joint days,
    no missing values): one row per (side, quantile), below for q <= 0.5 and above for
    q >= 0.5, with each leg's threshold (standardised units), the count, the correlation
    (NaN under ``min_count`` days) and the normal benchmark at the unconditional correlation."""
    values = returns.to_numpy(dtype="float64")
    za, zb = standardised(values[:, 0]), standardised(values[:, 1])
    rho = _subset_corr(za, zb)
    rows = []
    for q in quantiles:
        for side in ("below", "above"):
            if (side == "below" and q > 0.5) or (side == "above" and q < 0.5):
                continue
            ta, tb = float(np.quantile(za, q)), float(np.quantile(zb, q))
            inside = (za < ta) & (zb < tb) if side == "below" else (za > ta) & (zb > tb)
            count = int(inside.sum())
            corr = _subset_corr(za[inside], zb[inside]) if count >= min_count else float("nan")
            h = NormalDist().inv_cdf(q)
            rows.append(
                {
                    "side": side,
                    "quantile": q,
                    "threshold_a": ta,
                    "threshold_b": tb,
                    "count": count,
                    "corr": corr,
                    "normal_corr": normal_exceedance_corr(rho, h, h, side),
                }
            )
    curve = pd.DataFrame(rows)
    curve.insert(0, "unconditional_corr", rho)
    return curve


# ---------------------------------------------------------------- Hong-Tu-Zhou


def _influence(za: np.ndarray, zb: np.ndarray, inside: np.ndarray) -> tuple[float, np.ndarray]:
    """(correlation on the subset, its influence function on every day: zero outside)."""
    x, y = za[inside], zb[inside]
    ux, uy = (x - x.mean()) / x.std(), (y - y.mean()) / y.std()
    r = float(np.mean(ux * uy))
    influence = np.zeros(len(za))
    influence[inside] = ux * uy - 0.5 * r * (ux * ux + uy * uy)
    return r, influence


def bartlett_long_run_variance(xi: np.ndarray, bandwidth: int) -> np.ndarray:
    """Newey-West (Bartlett kernel) long-run covariance of the rows of ``xi`` (T x m)."""
    xi = xi - xi.mean(axis=0)
    n = len(xi)
    omega = xi.T @ xi / n
    for lag in range(1, bandwidth + 1):
        gamma = xi[lag:].T @ xi[:-lag] / n
        omega += (1.0 - lag / (bandwidth + 1.0)) * (gamma + gamma.T)
    return omega


def hong_tu_zhou(returns: pd.DataFrame, thresholds=HTZ_THRESHOLDS, min_count: int = MIN_COUNT) -> dict:
    """The Hong-Tu-Zhou test of symmetric exceedance correlations (module doc): the
    statistic, its degrees of freedom, p-value, the thresholds kept and the correlations
    above +c and below -c. ``p_value`` is None when no threshold has enough days."""
    from scipy.special import chdtrc  # what scipy.stats' chi2.sf calls, without importing scipy.stats

    values = returns.to_numpy(dtype="float64")
    za, zb = standardised(values[:, 0]), standardised(values[:, 1])
    n = len(za)
    kept, above, below, columns = [], [], [], []
    for c in thresholds:
        up, down = (za > c) & (zb > c), (za < -c) & (zb < -c)
        if up.sum() < min_count or down.sum() < min_count:
            continue
        r_up, xi_up = _influence(za, zb, up)
        r_down, xi_down = _influence(za, zb, down)
        kept.append(float(c))
        above.append(r_up)
        below.append(r_down)
        columns.append(n / up.sum() * xi_up - n / down.sum() * xi_down)
    result = {
        "thresholds": kept,
        "corr_above": above,
        "corr_below": below,
        "days": n,
        "statistic": None,
        "df": len(kept),
        "p_value": None,
    }
    if not kept:
        return result
    bandwidth = int(math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0)))
    omega = bartlett_long_run_variance(np.column_stack(columns), bandwidth)
    d = np.array(above) - np.array(below)
    statistic = float(n * d @ np.linalg.lstsq(omega, d, rcond=None)[0])
    result.update(
        {"statistic": statistic, "p_value": float(chdtrc(len(kept), statistic)), "bandwidth": bandwidth}
    )
    return result


# ---------------------------------------------------------------- eras and a pair's table


def eras(index: pd.DatetimeIndex, split_year: int = 2000, recent_years: int = 10) -> list[tuple]:
    """(name, first, last) of the full sample, before and since ``split_year``, and the
    last ``recent_years`` years up to the pair's last day; an era the data does not reach
    is left out."""
    if len(index) == 0:
        return []
    first, last = index[0], index[-1]
    split = pd.Timestamp(f"{split_year}-01-01")
    out = [("full", first, last)]
    if first < split <= last:
        out += [
            (f"before {split_year}", first, split - pd.Timedelta(days=1)),
            (f"since {split_year}", split, last),
        ]
    recent = last - pd.DateOffset(years=recent_years) + pd.Timedelta(days=1)
    if recent > first:
        out.append((f"last {recent_years} years", recent, last))
    return out


def pair_exceedance(
    returns: pd.DataFrame,
    pair: str,
    quantiles=QUANTILES,
    min_count: int = MIN_COUNT,
    split_year: int = 2000,
    recent_years: int = 10,
    min_days: int = 250,
) -> tuple[pd.DataFrame, dict]:
    """Exceedance curves and Hong-Tu-Zhou tests of one pair per era: (tidy rows with
    ``COLUMNS``, {era: test}). An era with fewer than ``min_days`` joint days is skipped."""
    frames, tests = [], {}
    for name, first, last in eras(returns.index, split_year, recent_years):
        part = returns.loc[first:last]
        if len(part) < min_days:
            tests[name] = {"status": f"skipped: only {len(part)} days (needs {min_days})"}
            continue
        curve = exceedance_curve(part, quantiles, min_count)
        curve.insert(0, "days", len(part))
        curve.insert(0, "last", part.index[-1].strftime("%Y-%m-%d"))
        curve.insert(0, "first", part.index[0].strftime("%Y-%m-%d"))
        curve.insert(0, "era", name)
        curve.insert(0, "pair", pair)
        frames.append(curve[COLUMNS])
        tests[name] = {
            "status": "ok",
            "first": part.index[0].strftime("%Y-%m-%d"),
            "last": part.index[-1].strftime("%Y-%m-%d"),
            **hong_tu_zhou(part, min_count=min_count),
        }
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    return table, tests


def read_exceedance(path) -> pd.DataFrame:
    """exceedance.csv as written by the regimes rule (``COLUMNS``)."""
    from corrflow.io import InputDataError

    table = pd.read_csv(path)
    absent = [c for c in COLUMNS if c not in table.columns]
    if absent:
        raise InputDataError(f"{path}: lacks column(s) {absent}; re-run the regimes rule")
    return table


def asymmetry_sentence(pair_label: str, era: str, test: dict, level: float = 0.05) -> str | None:
    """One sentence when the test rejects symmetry at ``level``; None otherwise."""
    if test.get("status") != "ok" or test.get("p_value") is None or test["p_value"] >= level:
        return None
    below, above = np.mean(test["corr_below"]), np.mean(test["corr_above"])
    stronger = "joint falls" if below > above else "joint rises"
    p = test["p_value"]
    p_text = "< 0.001" if p < 0.001 else f"= {p:.3f}"
    return (
        f"{pair_label} ({era}, {test['first']} .. {test['last']}): the Hong-Tu-Zhou test rejects "
        f"symmetric exceedance correlations (J = {test['statistic']:.1f}, {test['df']} df, p {p_text}); "
        f"the correlation itself is higher in {stronger} (mean {max(below, above):+.2f} against "
        f"{min(below, above):+.2f} at the test's thresholds c = "
        f"{', '.join(f'{c:g}' for c in test['thresholds'])} sd)."
    )
