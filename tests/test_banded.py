import numpy as np
import pytest
import scipy.sparse as sp

from mpisweep.physics.banded import (
    band_envelope,
    band_lu,
    band_lu_nopivot,
    band_solve,
    band_solve_nopivot,
    band_width,
    to_band,
)


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
    env = band_envelope(n, kl, ku)
    assert band_lu_nopivot(ab, kl, ku, np.zeros(kl + 1), env) == 0
    b = rng.standard_normal(n)
    x = b.copy()
    band_solve_nopivot(ab, kl, ku, x, env)
    np.testing.assert_allclose(x, np.linalg.solve(dense, b), rtol=1e-12, atol=1e-14)


def test_band_lu_without_pivoting_declines_zero_pivots_and_narrow_bands():
    rng = np.random.default_rng(3)
    dense = random_band(12, 3, 3, rng, diagonal=10.0)
    dense[5, 5] = 0.0
    dense[5, :5] = 0.0  # column 5 reaches elimination step 5 with a zero pivot
    dense[:5, 5] = 0.0
    assert band_lu_nopivot(to_band(dense, 3, 3), 3, 3, np.zeros(4), band_envelope(12, 3, 3)) == 6
    # kl < 3: pivoted path
    assert band_lu_nopivot(to_band(np.eye(5), 1, 1), 1, 1, np.zeros(2), band_envelope(5, 1, 1)) == 1
    huge = np.array([[1e-12, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1]])
    assert band_lu_nopivot(to_band(huge, 3, 3), 3, 3, np.zeros(4), band_envelope(4, 3, 3)) == 1  # multiplier 1e12


def shrinking_blocks(sizes, rng):
    """Block-tridiagonal matrix with blocks that shrink (as the |m| blocks of the operator do)."""
    starts = np.cumsum([0, *sizes])
    n = starts[-1]
    dense = np.zeros((n, n))
    for b, size in enumerate(sizes):
        lo, hi = starts[b], starts[b + 1]
        dense[lo:hi, lo:hi] = rng.standard_normal((size, size))
        if b + 1 < len(sizes):
            nxt = sizes[b + 1]
            dense[hi:hi + nxt, lo:lo + nxt] = rng.standard_normal((nxt, nxt))  # below
            dense[lo:lo + nxt, hi:hi + nxt] = rng.standard_normal((nxt, nxt))  # above
    dense[np.arange(n), np.arange(n)] += 4.0 * max(sizes)
    return dense


def test_envelope_lu_is_bit_identical_to_the_full_band():
    """The envelope kernels skip exact zeros only: same bits as the full band, and right."""
    rng = np.random.default_rng(7)
    dense = shrinking_blocks([23, 21, 17, 13, 9, 6, 3, 1], rng)
    n = dense.shape[0]
    pattern = sp.csr_matrix(dense)
    coo = pattern.tocoo()
    kl = int(np.max(coo.row - coo.col))
    ku = int(np.max(coo.col - coo.row))
    env = band_envelope(n, kl, ku, pattern.indptr, pattern.indices)
    full = band_envelope(n, kl, ku)
    assert np.all(env[0] <= full[0]) and np.all(env[2] >= full[2])
    assert (env[0] - np.arange(n)).sum() < 0.8 * (full[0] - np.arange(n)).sum()  # a real saving
    b = rng.standard_normal(n)
    results = []
    for e in (env, full):
        ab = to_band(dense, kl, ku)
        assert band_lu_nopivot(ab, kl, ku, np.zeros(kl + 1), e) == 0
        x = b.copy()
        band_solve_nopivot(ab, kl, ku, x, e)
        results.append((ab, x))
    assert np.array_equal(results[0][0], results[1][0])
    assert np.array_equal(results[0][1], results[1][1])
    np.testing.assert_allclose(results[0][1], np.linalg.solve(dense, b), rtol=1e-11, atol=1e-13)


def test_envelope_rejects_a_pattern_outside_the_band():
    pattern = sp.csr_matrix(np.eye(6) + np.eye(6, k=3))
    with pytest.raises(ValueError, match="outside the band"):
        band_envelope(6, 2, 2, pattern.indptr, pattern.indices)
