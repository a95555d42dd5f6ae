"""Valid correlation matrices from pairwise estimates.

Each pair of an all-pairs matrix is measured on its own joint days: right for each number,
but the N x N matrix need not be positive semidefinite (and with more series than days in
a window any sample matrix is singular). An eigenvalue below zero is a "portfolio" with
negative variance; the absorption ratio and Ward clustering assume there is none. Here:

- ``smallest_eigenvalue``: the check, on the series with a complete row.
- ``nearest_correlation``: Higham's (2002) nearest correlation matrix in the Frobenius
  norm, by alternating projections onto the positive semidefinite matrices and the unit
  diagonal with Dykstra's correction; a matrix that is already valid is returned as is.
- ``constant_correlation_shrinkage``: Ledoit and Wolf's (2004, "Honey, I shrunk the sample
  covariance matrix") shrinkage toward the constant-correlation target, its intensity
  estimated from returns all series share (T x N, complete rows); applied to a pairwise
  matrix as delta * F + (1 - delta) * R with F the mean correlation off the diagonal.
- ``repaired``: what the absorption ratio and the clustering use: the matrix unchanged when
  it is valid; else shrinkage where the series share ``min_joint_days`` complete days, then
  the nearest correlation matrix if still needed; with what changed (``Repair``).
"""

from dataclasses import dataclass, field

import numpy as np

TOLERANCE = 1e-10  # an eigenvalue above -TOLERANCE counts as non-negative (rounding)


def complete_block(matrix: np.ndarray) -> np.ndarray:
    """Positions of the series with a complete row: the series with most missing pairs
    dropped first, until no pair is missing."""
    keep = np.arange(len(matrix))
    while len(keep) >= 2:
        gaps = np.isnan(matrix[np.ix_(keep, keep)]).sum(axis=1)
        if not gaps.any():
            break
        keep = np.delete(keep, int(np.argmax(gaps)))
    return keep


def smallest_eigenvalue(matrix: np.ndarray) -> float:
    """The smallest eigenvalue of the symmetric ``matrix`` (no missing values); NaN for
    fewer than two series."""
    matrix = np.asarray(matrix, dtype="float64")
    if len(matrix) < 2:
        return float("nan")
    return float(np.linalg.eigvalsh((matrix + matrix.T) / 2.0)[0])


def _psd_projection(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.maximum(values, 0.0)) @ vectors.T


def nearest_correlation(
    matrix: np.ndarray, tolerance: float = 1e-9, max_iterations: int = 1000
) -> tuple[np.ndarray, int]:
    """Higham's (2002) nearest correlation matrix to the symmetric ``matrix`` (Frobenius
    norm, unit weights): (the matrix, iterations). Alternating projections with Dykstra's
    correction until successive iterates differ by less than ``tolerance`` (relative); the
    result is then made exactly symmetric with unit diagonal and eigenvalues >= 0."""
    a = np.asarray(matrix, dtype="float64")
    a = (a + a.T) / 2.0
    if smallest_eigenvalue(a) >= -TOLERANCE and np.allclose(np.diag(a), 1.0):
        return a.copy(), 0
    y, correction = a.copy(), np.zeros_like(a)
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        r = y - correction
        x = _psd_projection(r)
        correction = x - r
        previous = y
        y = x.copy()
        np.fill_diagonal(y, 1.0)
        if np.linalg.norm(y - previous, "fro") <= tolerance * np.linalg.norm(y, "fro"):
            break
    # the last iterate has a unit diagonal; its eigenvalues may be below zero by rounding
    values, vectors = np.linalg.eigh(y)
    if values[0] < 0:
        y = (vectors * np.maximum(values, 0.0)) @ vectors.T
        scale = 1.0 / np.sqrt(np.diag(y))
        y = y * np.outer(scale, scale)
    y = (y + y.T) / 2.0
    np.fill_diagonal(y, 1.0)
    return y, iterations


def constant_correlation_shrinkage(returns: np.ndarray) -> tuple[float, float]:
    """Ledoit and Wolf's (2004) optimal intensity of shrinking the sample covariance of
    ``returns`` (T x N, no missing values) toward the constant-correlation target:
    (intensity delta in [0, 1], the target's correlation r-bar)."""
    x = np.asarray(returns, dtype="float64")
    t, n = x.shape
    x = x - x.mean(axis=0)
    sample = x.T @ x / t
    sd = np.sqrt(np.diag(sample))
    corr = sample / np.outer(sd, sd)
    r_bar = (corr.sum() - n) / (n * (n - 1))
    target = r_bar * np.outer(sd, sd)
    np.fill_diagonal(target, np.diag(sample))
    # pi: sum of the asymptotic variances of sqrt(T) times the sample covariances
    y = x**2
    pi_matrix = y.T @ y / t - sample**2
    pi_hat = pi_matrix.sum()
    # rho: the asymptotic covariances of the target's entries with the sample's
    theta_ii = (x**3).T @ x / t - np.diag(sample)[:, None] * sample  # theta[i, j] = theta_ii,ij
    ratio = np.outer(1.0 / sd, sd)  # ratio[i, j] = sd_j / sd_i
    off = theta_ii * ratio + (theta_ii * ratio).T  # sqrt(s_jj/s_ii) th_ii,ij + sqrt(s_ii/s_jj) th_jj,ij
    np.fill_diagonal(off, 0.0)
    rho_hat = np.trace(pi_matrix) + r_bar / 2.0 * off.sum()
    gamma_hat = ((target - sample) ** 2).sum()
    if gamma_hat <= 0:
        return 1.0, float(r_bar)
    kappa = (pi_hat - rho_hat) / gamma_hat
    return float(min(1.0, max(0.0, kappa / t))), float(r_bar)


@dataclass
class Repair:
    """What ``repaired`` did to a matrix."""

    series: int
    smallest_eigenvalue_before: float
    smallest_eigenvalue_after: float
    method: str  # "unchanged", "nearest", "shrinkage" or "shrinkage and nearest"
    shrinkage_intensity: float | None = None
    largest_change: float = 0.0
    largest_change_pair: tuple[str, str] | None = None
    iterations: int = 0
    notes: list[str] = field(default_factory=list)

    def sentence(self) -> str:
        """What changed, in one sentence."""
        if self.method == "unchanged":
            return (
                f"a valid correlation matrix ({self.series} series, smallest eigenvalue "
                f"{self.smallest_eigenvalue_before:+.3g}): used as measured"
            )
        shrunk = (
            f"shrunk toward constant correlation (Ledoit-Wolf intensity {self.shrinkage_intensity or 0:.2f})"
        )
        how = {
            "nearest": "replaced by the nearest correlation matrix (Higham 2002)",
            "shrinkage": shrunk,
            "shrinkage and nearest": f"{shrunk}, then the nearest correlation matrix",
        }[self.method]
        pair = " / ".join(self.largest_change_pair) if self.largest_change_pair else "-"
        return (
            f"not positive semidefinite ({self.series} series, smallest eigenvalue "
            f"{self.smallest_eigenvalue_before:+.3g}): {how}; largest change {self.largest_change:.3f} "
            f"({pair}); smallest eigenvalue now {self.smallest_eigenvalue_after:+.2g}"
        )


def repaired(
    matrix: np.ndarray,
    names: list[str] | None = None,
    returns: np.ndarray | None = None,
    min_joint_days: int | None = None,
) -> tuple[np.ndarray, Repair]:
    """A valid correlation matrix from the pairwise ``matrix`` (no missing values) and what
    changed: unchanged when its smallest eigenvalue is not below -TOLERANCE; else shrunk
    toward constant correlation with the intensity from ``returns`` (the days all series
    share) when there are at least ``min_joint_days`` of them, and the nearest correlation
    matrix of the result (or of ``matrix``) where that is still not valid."""
    a = np.asarray(matrix, dtype="float64")
    a = (a + a.T) / 2.0
    names = list(names) if names is not None else [str(k) for k in range(len(a))]
    before = smallest_eigenvalue(a)
    if not len(a) >= 2 or before >= -TOLERANCE:
        return a, Repair(len(a), before, before, "unchanged")
    out, method, intensity, iterations = a, "nearest", None, 0
    if returns is not None and min_joint_days is not None and len(returns) >= min_joint_days:
        intensity, r_bar = constant_correlation_shrinkage(returns)
        target = np.full_like(a, r_bar)
        np.fill_diagonal(target, 1.0)
        out = intensity * target + (1.0 - intensity) * a
        method = "shrinkage"
    if smallest_eigenvalue(out) < -TOLERANCE:
        out, iterations = nearest_correlation(out)
        method = "nearest" if method == "nearest" else "shrinkage and nearest"
    change = np.abs(out - a)
    i, j = np.unravel_index(int(np.argmax(change)), change.shape)
    return out, Repair(
        len(a),
        before,
        smallest_eigenvalue(out),
        method,
        intensity,
        float(change[i, j]),
        (names[min(i, j)], names[max(i, j)]),
        iterations,
    )
