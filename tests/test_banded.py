import numpy as np
import pytest

from mpisweep.physics.banded import band_lu, band_lu_nopivot, band_solve, band_solve_nopivot, band_width, to_band


@pytest.mark.parametrize("n,kl,ku", [(1, 0, 0), (7, 2, 3), (40, 5, 5), (120, 11, 7)])
def test_band_lu_matches_dense_solve_with_pivoting(n, kl, ku):
    rng = np.random.default_rng(n + kl)
    dense = np.zeros((n, n))
    for i in range(n):
        for j in range(max(0, i - kl), min(n, i + ku + 1)):
            dense[i, j] = rng.standard_normal()
    dense[np.arange(n), np.arange(n)] *= 0.01  # small diagonal forces row swaps
    ab = to_band(dense, kl, ku)
    assert ab.shape == (n, band_width(kl, ku))
    piv = np.zeros(n, dtype=np.int64)
    assert band_lu(ab, kl, ku, piv, np.zeros(kl + 1)) == 0
    assert np.any(piv != np.arange(n)) or n == 1
    b = rng.standard_normal(n)
    x = b.copy()
    band_solve(ab, kl, ku, piv, x)
    np.testing.assert_allclose(dense @ x, b, atol=1e-9 * np.abs(b).max() * np.linalg.cond(dense))
    np.testing.assert_allclose(x, np.linalg.solve(dense, b), rtol=1e-8, atol=1e-10)


def test_band_lu_reports_singular_column():
    dense = np.diag([1.0, 0.0, 2.0])
    ab = to_band(dense, 1, 1)
    assert band_lu(ab, 1, 1, np.zeros(3, dtype=np.int64), np.zeros(2)) == 2


def random_band(n, kl, ku, rng, diagonal):
    dense = np.zeros((n, n))
    for i in range(n):
        for j in range(max(0, i - kl), min(n, i + ku + 1)):
            dense[i, j] = rng.standard_normal()
    dense[np.arange(n), np.arange(n)] += diagonal
    return dense


# n not a multiple of the solve's 4-column blocks, kl ≠ ku, and a band wider than n.
@pytest.mark.parametrize("n,kl,ku", [(4, 3, 3), (9, 3, 5), (61, 7, 4), (256, 31, 31), (258, 31, 31), (30, 40, 40)])
def test_band_lu_without_pivoting_matches_dense_solve(n, kl, ku):
    rng = np.random.default_rng(n + kl + ku)
    dense = random_band(n, kl, ku, rng, diagonal=3.0 * (kl + ku))
    ab = to_band(dense, kl, ku)
    assert band_lu_nopivot(ab, kl, ku, np.zeros(kl + 1)) == 0
    b = rng.standard_normal(n)
    x = b.copy()
    band_solve_nopivot(ab, kl, ku, x)
    np.testing.assert_allclose(x, np.linalg.solve(dense, b), rtol=1e-12, atol=1e-14)


def test_band_lu_without_pivoting_declines_zero_pivots_and_narrow_bands():
    rng = np.random.default_rng(3)
    dense = random_band(12, 3, 3, rng, diagonal=10.0)
    dense[5, 5] = 0.0
    dense[5, :5] = 0.0  # column 5 reaches elimination step 5 with a zero pivot
    dense[:5, 5] = 0.0
    assert band_lu_nopivot(to_band(dense, 3, 3), 3, 3, np.zeros(4)) == 6
    assert band_lu_nopivot(to_band(np.eye(5), 1, 1), 1, 1, np.zeros(2)) == 1  # kl < 3: pivoted path
    huge = np.array([[1e-12, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1]])
    assert band_lu_nopivot(to_band(huge, 3, 3), 3, 3, np.zeros(4)) == 1  # multiplier 1e12
