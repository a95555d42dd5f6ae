"""Valid correlation matrices (issue 31): Higham's nearest correlation matrix on the
published non-PSD cases and against statsmodels, Ledoit-Wolf shrinkage toward constant
correlation against a plain transcription of its formulas and by what it is for, and the
repair the absorption ratio and the clustering use."""

import numpy as np
import pandas as pd
import pytest

from corrflow.analytics.correlation.valid_matrix import (
    complete_block,
    constant_correlation_shrinkage,
    nearest_correlation,
    repaired,
    smallest_eigenvalue,
)


def pairwise_matrix(days: int, series: int, missing: float, seed: int) -> np.ndarray:
    """Each pair's correlation on its own joint days: not positive semidefinite in general."""
    rng = np.random.default_rng(seed)
    returns = rng.standard_normal((days, series))
    returns[rng.uniform(size=returns.shape) < missing] = np.nan
    return pd.DataFrame(returns).corr(min_periods=5).to_numpy()


def test_higham_2002_published_examples():
    # Higham (2002), section 4 / NAG g02aa: the 4 x 4 tridiagonal and the 3 x 3 cases
    a = np.array([[2, -1, 0, 0], [-1, 2, -1, 0], [0, -1, 2, -1], [0, 0, -1, 2]], dtype=float)
    expected = np.array(
        [
            [1.0, -0.8084, 0.1916, 0.1068],
            [-0.8084, 1.0, -0.6562, 0.1916],
            [0.1916, -0.6562, 1.0, -0.8084],
            [0.1068, 0.1916, -0.8084, 1.0],
        ]
    )
    nearest, _ = nearest_correlation(a)
    np.testing.assert_allclose(nearest, expected, atol=1e-4)
    b = np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]], dtype=float)
    assert smallest_eigenvalue(b) < -0.4
    nearest, _ = nearest_correlation(b)
    np.testing.assert_allclose(nearest[0, 1], 0.7607, atol=1e-4)
    np.testing.assert_allclose(nearest[0, 2], 0.1573, atol=1e-4)


def test_nearest_correlation_agrees_with_statsmodels_on_a_pairwise_matrix():
    from statsmodels.stats.correlation_tools import corr_nearest

    matrix = pairwise_matrix(40, 30, 0.3, seed=0)
    assert smallest_eigenvalue(matrix) < -0.1  # the pairwise matrix is not valid
    ours, iterations = nearest_correlation(matrix)
    assert iterations > 0
    assert (
        smallest_eigenvalue(ours) > -1e-12 and np.allclose(np.diag(ours), 1.0) and np.allclose(ours, ours.T)
    )
    with pytest.warns(Warning):  # statsmodels runs to its iteration limit at this threshold
        theirs = corr_nearest(matrix, threshold=1e-15, n_fact=10)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_a_valid_matrix_is_left_exactly_as_it_is():
    rng = np.random.default_rng(2)
    matrix = np.corrcoef(rng.standard_normal((200, 8)).T)
    out, repair = repaired(matrix, list("ABCDEFGH"))
    assert repair.method == "unchanged" and repair.largest_change == 0.0
    assert np.array_equal(out, (matrix + matrix.T) / 2.0)
    assert "used as measured" in repair.sentence()


def test_repair_states_the_largest_change_and_its_pair():
    matrix = np.array([[1.0, 0.9, 0.9], [0.9, 1.0, -0.9], [0.9, -0.9, 1.0]])
    out, repair = repaired(matrix, ["SPY", "TLT", "GLD"])
    assert repair.method == "nearest" and repair.smallest_eigenvalue_before < 0
    assert repair.smallest_eigenvalue_after > -1e-12
    change = np.abs(out - matrix)
    assert repair.largest_change == pytest.approx(change.max())
    i, j = np.unravel_index(np.argmax(change), change.shape)
    assert set(repair.largest_change_pair) == {["SPY", "TLT", "GLD"][i], ["SPY", "TLT", "GLD"][j]}
    assert "nearest correlation matrix (Higham 2002)" in repair.sentence()


def plain_ledoit_wolf(x: np.ndarray) -> float:
    """Ledoit and Wolf (2004), section 2 and appendix B, term by term in loops."""
    t, n = x.shape
    x = x - x.mean(axis=0)
    s = x.T @ x / t
    r = np.array([[s[i, j] / np.sqrt(s[i, i] * s[j, j]) for j in range(n)] for i in range(n)])
    r_bar = sum(r[i, j] for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    f = np.array(
        [[s[i, i] if i == j else r_bar * np.sqrt(s[i, i] * s[j, j]) for j in range(n)] for i in range(n)]
    )
    pi = sum(np.mean((x[:, i] * x[:, j] - s[i, j]) ** 2) for i in range(n) for j in range(n))
    rho = sum(np.mean((x[:, i] * x[:, i] - s[i, i]) ** 2) for i in range(n))
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            theta_ii = np.mean((x[:, i] ** 2 - s[i, i]) * (x[:, i] * x[:, j] - s[i, j]))
            theta_jj = np.mean((x[:, j] ** 2 - s[j, j]) * (x[:, i] * x[:, j] - s[i, j]))
            rho += r_bar / 2 * (np.sqrt(s[j, j] / s[i, i]) * theta_ii + np.sqrt(s[i, i] / s[j, j]) * theta_jj)
    gamma = ((f - s) ** 2).sum()
    return max(0.0, min(1.0, (pi - rho) / gamma / t))


def constant_correlation_returns(days: int, series: int, rho: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    common = rng.standard_normal((days, 1))
    scales = np.linspace(0.5, 2.0, series)
    return (np.sqrt(rho) * common + np.sqrt(1 - rho) * rng.standard_normal((days, series))) * scales


def test_shrinkage_intensity_equals_the_formulas_term_by_term():
    for seed, days in ((1, 60), (2, 250)):
        # two blocks of six: far enough from constant correlation for an intensity inside (0, 1)
        x = np.hstack(
            [
                constant_correlation_returns(days, 6, 0.7, seed),
                constant_correlation_returns(days, 6, 0.1, seed + 10),
            ]
        )
        intensity, r_bar = constant_correlation_shrinkage(x)
        assert intensity == pytest.approx(plain_ledoit_wolf(x), abs=1e-12)
        assert 0 < intensity < 1
        corr = np.corrcoef(x.T)
        assert r_bar == pytest.approx(corr[np.triu_indices(12, 1)].mean(), abs=1e-12)


def test_shrinkage_brings_a_short_window_closer_to_the_truth():
    """Fewer days than series (a 60-day window of 100 series): the sample matrix is
    singular; shrunk toward constant correlation it is positive definite and, when the
    truth is close to constant, closer to it than the sample's (Frobenius)."""
    truth = np.full((100, 100), 0.3)
    np.fill_diagonal(truth, 1.0)
    closer = []
    for seed in range(5):
        x = constant_correlation_returns(60, 100, 0.3, seed)
        sample = np.corrcoef(x.T)
        intensity, r_bar = constant_correlation_shrinkage(x)
        target = np.full_like(sample, r_bar)
        np.fill_diagonal(target, 1.0)
        shrunk = intensity * target + (1 - intensity) * sample
        assert smallest_eigenvalue(sample) < 1e-10 < smallest_eigenvalue(shrunk)
        closer.append(np.linalg.norm(shrunk - truth) < np.linalg.norm(sample - truth))
    assert all(closer)


def test_repair_uses_shrinkage_where_the_series_share_enough_days():
    rng = np.random.default_rng(5)
    x = constant_correlation_returns(120, 20, 0.4, seed=5)
    pairwise = (
        pd.DataFrame(np.where(rng.uniform(size=x.shape) < 0.5, np.nan, x)).corr(min_periods=5).to_numpy()
    )
    assert smallest_eigenvalue(pairwise) < 0
    complete = x[:60]  # the days all share
    out, repair = repaired(pairwise, returns=complete, min_joint_days=40)
    assert repair.method in ("shrinkage", "shrinkage and nearest") and 0 < repair.shrinkage_intensity <= 1
    assert repair.smallest_eigenvalue_after > -1e-12 and np.allclose(np.diag(out), 1.0)
    _, too_few = repaired(pairwise, returns=complete[:30], min_joint_days=40)
    assert too_few.method == "nearest"


def test_complete_block_drops_the_series_with_most_gaps():
    matrix = np.eye(4)
    matrix[0, 3] = matrix[3, 0] = np.nan
    matrix[1, 3] = matrix[3, 1] = np.nan
    assert list(complete_block(matrix)) == [0, 1, 2]


# ---------------------------------------------------------------- where the matrices are used

NOT_PSD = np.array([[1.0, 0.9, 0.9], [0.9, 1.0, -0.9], [0.9, -0.9, 1.0]])


def test_absorption_ratio_uses_the_repaired_month_and_says_so():
    from corrflow.store.universe import absorption_ratio, repair_note

    valid = np.corrcoef(np.random.default_rng(1).standard_normal((100, 3)).T)
    cube = np.stack([valid, NOT_PSD])
    repairs = []
    shares, counts = absorption_ratio(cube, ["A", "B", "C"], repairs)
    assert shares[0] == np.linalg.eigvalsh(valid)[-1] / 3  # a valid month exactly as before
    nearest, _ = nearest_correlation(NOT_PSD)
    assert shares[1] == pytest.approx(np.linalg.eigvalsh(nearest)[-1] / 3, abs=1e-9)
    assert shares[1] < np.linalg.eigvalsh(NOT_PSD)[-1] / 3  # the negative eigenvalue no longer inflates it
    assert [r.method for r in repairs] == ["unchanged", "nearest"] and list(counts) == [3, 3]
    note = repair_note(repairs, ["2020-01", "2020-02"])
    assert note.startswith("2020-02: not positive semidefinite") and "1 of 2 months' matrices" in note
    assert "repaired (nearest; largest change" in note
    assert "Checked" not in note  # every frame had a matrix to check
    # frames without two series that share a month are not counted as checked, and the note says so
    note = repair_note([None, *repairs], ["2019-12", "2020-01", "2020-02"])
    assert "1 of 2 months' matrices" in note
    assert "Checked: the 2 of 3 month-end frames in which at least two" in note


def test_absorption_ratio_shrinks_a_month_whose_series_share_enough_days():
    from corrflow.store.universe import absorption_ratio

    days = pd.bdate_range("2020-01-01", periods=120)
    returns = pd.DataFrame(constant_correlation_returns(120, 3, 0.4, seed=7), index=days, columns=list("ABC"))
    months = pd.DatetimeIndex([days[59], days[119]])
    returns.iloc[:60, 2] = np.nan  # C has no return in the first window: too few shared days there
    repairs = []
    absorption_ratio(np.stack([NOT_PSD, NOT_PSD]), list("ABC"), repairs, returns, months, 60)
    assert [r.method for r in repairs][0] == "nearest"
    assert repairs[1].method.startswith("shrinkage") and 0 < repairs[1].shrinkage_intensity <= 1
    assert repairs[1].smallest_eigenvalue_after > -1e-12


def test_clustering_orders_the_repaired_matrix():
    from corrflow.store.universe import clustered_order

    full = pd.DataFrame(NOT_PSD, index=list("ABC"), columns=list("ABC"))
    repairs = []
    clustered_order(full, repairs)
    assert repairs[0].method == "nearest" and repairs[0].smallest_eigenvalue_after > -1e-12


def test_ward_clusters_get_euclidean_distances():
    from scipy.spatial.distance import squareform

    from corrflow.analytics.correlation.universe import valid_distances

    names = ["A", "B", "C"]
    distance = squareform(1.0 - NOT_PSD, checks=False)
    repairs = []
    fixed = valid_distances(distance, names, repairs)
    assert smallest_eigenvalue(1.0 - squareform(fixed, checks=False)) > -1e-9
    assert repairs[0].method == "nearest"
    valid = squareform(1.0 - np.corrcoef(np.random.default_rng(3).standard_normal((50, 3)).T), checks=False)
    assert valid_distances(valid, names) is valid  # a valid matrix: the same distances


def test_report_states_whether_the_latest_all_pairs_matrix_is_valid():
    from corrflow.store.universe import latest_matrix_validity

    matrix = pd.DataFrame(NOT_PSD, index=list("ABC"), columns=list("ABC"))
    line = latest_matrix_validity(matrix.to_numpy(), list("ABC"))
    assert (
        "not positive semidefinite" in line
        and "smallest eigenvalue -0.8" in line
        and "largest change" in line
    )
    gappy = matrix.copy()
    gappy.loc["A", "C"] = gappy.loc["C", "A"] = np.nan
    line = latest_matrix_validity(gappy.to_numpy(), list("ABC"))
    assert "1 series without every pair left out" in line and "used as measured" in line
