"""Tests for the M0/M1/M2 fits and the error measures (mpisweep.fitting, mpisweep.fitting.metrics)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import xarray as xr
from scipy.optimize import nnls

from mpisweep.fitting import fit_m0, fit_m1, fit_m2, rank_counts, select_bins
from mpisweep.fitting.metrics import epsilon_freq, epsilon_global, row_error, transfer_function
from mpisweep.physics.spectra import mixing_bins

ND, NK, NA, NC, NF, N = 3, 4, 3, 2, 40, 12
BINS = np.array([3, 5, 7, 11, 20, 33])
TRUE = (1, 2)


def cplx(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


@pytest.fixture(scope="module")
def synth():
    """Random complex dictionary; measured = known transfer function × one known entry."""
    rng = np.random.default_rng(1)
    dic = cplx(rng, (ND, NK, NA, NC, NF, N))
    a_true = cplx(rng, (NA, NC, NF))
    meas = a_true[..., None] * dic[TRUE]
    return dic, meas, a_true


# ------------------------------------------------------------------ hand-computed values
def test_transfer_function_hand():
    # Σ S·conj(Φ) = (1+1j)·1 + 2·(-1j) = 1 - 1j ; ‖Φ‖² = 2
    a = transfer_function(np.array([1 + 1j, 2]), np.array([1, 1j]))
    assert a == pytest.approx(0.5 - 0.5j, abs=1e-15)
    # zero dictionary row → 0 without warnings; broadcasting over leading axes
    with np.errstate(all="raise"):
        b = transfer_function(np.array([[1 + 1j, 2], [3, 4]]), np.array([[0, 0], [1, 1j]]))
    assert b.shape == (2,)
    assert b[0] == 0
    assert b[1] == pytest.approx((3 - 4j) / 2, abs=1e-15)
    c = transfer_function(np.ones((4, 1, 3, 2)), np.ones((5, 1, 2)))
    assert c.shape == (4, 5, 3)
    np.testing.assert_allclose(c, 1.0)


def test_row_error_hand():
    # model = (0.5-0.5j)·[1, 1j] = [0.5-0.5j, 0.5+0.5j]; S - model = [0.5+1.5j, 1.5-0.5j]
    # ‖S - model‖² = 5, N = 2, ‖S‖∞ = 2  →  ε = √5 / (√2·2) = 0.790569415042094...
    e = row_error(np.array([1 + 1j, 2]), np.array([0.5 - 0.5j, 0.5 + 0.5j]))
    assert float(e) == pytest.approx(0.7905694150420949, abs=1e-15)
    # S = [3, 4j, 0], model = [3, 0, 0]: ‖diff‖ = 4, N = 3, ‖S‖∞ = 4 → 1/√3
    e = row_error(np.array([3, 4j, 0]), np.array([3, 0, 0]))
    assert float(e) == pytest.approx(0.5773502691896258, abs=1e-15)
    # zero measured row: ε = 0 for a zero model, inf otherwise (no warnings)
    with np.errstate(all="raise"):
        z = row_error(np.zeros((2, 3)), np.array([[0, 0, 0], [1, 0, 0]]))
    assert z[0] == 0.0 and np.isinf(z[1])
    # model broadcast over a leading axis
    assert row_error(np.array([1.0, 1.0]), np.array([[1.0, 1.0], [0.0, 0.0]])).tolist() == [0.0, 1.0]


def test_epsilon_freq_global_hand():
    eps = np.zeros((2, 2, 2))  # (angle, channel, frequency)
    eps[0, 0, 0], eps[0, 1, 0] = 3.0, 4.0  # f0: √((9 + 16 + 0 + 0)/4) = 2.5
    eps[..., 1] = 2.0  # f1: 2
    ef = epsilon_freq(eps)
    np.testing.assert_allclose(ef, [2.5, 2.0], atol=1e-15)
    # √((2.5² + 2²)/2) = √5.125
    assert float(epsilon_global(ef)) == pytest.approx(2.2638462845343543, abs=1e-15)
    # leading axes are kept
    assert epsilon_freq(np.ones((5, 2, 2, 3))).shape == (5, 3)
    np.testing.assert_allclose(epsilon_global(np.array([[3.0, 4.0], [1.0, 1.0]])), [math.sqrt(12.5), 1.0])


# ------------------------------------------------------------------------------- M1
def test_m1_recovers_entry_and_transfer(synth):
    dic, meas, a_true = synth
    res = fit_m1(meas, dic, BINS)
    assert res.best_index == TRUE
    assert (res.best_diameter, res.best_anisotropy) == TRUE  # numpy input: index coords
    np.testing.assert_allclose(res.transfer, a_true[..., BINS], rtol=0, atol=1e-10)
    np.testing.assert_allclose(res.model, meas[..., BINS, :], rtol=0, atol=1e-10)
    assert res.eps_global_best < 1e-12
    assert res.eps.shape == (NA, NC, len(BINS)) and res.eps_freq.shape == (len(BINS),)
    others = np.delete(res.eps_global.ravel(), np.ravel_multi_index(TRUE, (ND, NK)))
    assert others.min() > 0.5  # random entries fit badly
    assert res.eps_global[TRUE] < 1e-6  # closed-form map: rounding floor only


def test_m1_map_matches_explicit_loop():
    rng = np.random.default_rng(2)
    dic = cplx(rng, (ND, NK, NA, NC, NF, N))
    meas = cplx(rng, (NA, NC, NF, N))
    meas[0, 1, 5] = 0.0  # a zero measured row (ε = 0 by definition)
    res = fit_m1(meas, dic, BINS)
    S = meas[..., BINS, :]
    ref = np.empty((ND, NK))
    for i in range(ND):
        for j in range(NK):
            phi = dic[i, j][..., BINS, :]
            e = row_error(S, transfer_function(S, phi)[..., None] * phi)
            ref[i, j] = epsilon_global(epsilon_freq(e))
    np.testing.assert_allclose(res.eps_global, ref, rtol=1e-12, atol=0)
    assert res.best_index == np.unravel_index(np.argmin(ref), ref.shape)
    assert res.eps_global_best == pytest.approx(ref.min(), rel=1e-12)
    # chunking of the dictionary does not change the result (1 byte → one entry per block)
    small = fit_m1(meas, dic, BINS, chunk_bytes=1)
    np.testing.assert_allclose(small.eps_global, res.eps_global, rtol=1e-14, atol=0)


def test_m1_dataarray_labels_and_transposed_dims(synth):
    dic, meas, a_true = synth
    diam = np.array([14.0, 16.0, 18.0])
    anis = np.array([100, 200, 300, 400])
    # dictionary stored only at the evaluation bins, labelled by bin, dims in another order
    da = xr.DataArray(
        dic[..., BINS, :], dims=("diameter", "anisotropy", "angle", "channel", "frequency", "offset"),
        coords={"diameter": diam, "anisotropy": anis, "frequency": BINS, "angle": [0.0, 15.0, 30.0]},
    ).transpose("offset", "frequency", "channel", "angle", "anisotropy", "diameter")
    res = fit_m1(meas, da, BINS)
    assert res.best_diameter == 16.0 and res.best_anisotropy == 300
    np.testing.assert_allclose(res.transfer, a_true[..., BINS], atol=1e-10)
    assert list(res.angles) == [0.0, 15.0, 30.0]
    # the table is tidy and JSON-serialisable
    table = res.to_table()
    assert len(table) == ND * NK and sum(r["best"] for r in table) == 1
    best = [r for r in table if r["best"]][0]
    assert (best["diameter"], best["anisotropy"]) == (16.0, 300)
    json.dumps(res.to_dict())
    json.dumps(res.row_table())
    assert len(res.row_table()) == NA * NC * len(BINS)


def test_m1_skips_nonfinite_entries(synth):
    dic, meas, _ = synth
    bad = dic.copy()
    bad[0, 0, 1, 0, BINS[2], 4] = np.nan
    res = fit_m1(meas, bad, BINS)
    assert np.isnan(res.eps_global[0, 0])
    assert res.best_index == TRUE
    # all entries broken: error
    with pytest.raises(ValueError, match="dictionary"):
        fit_m1(meas, np.full_like(dic, np.nan), BINS)


def test_mixing_bins_rows_accepted():
    rng = np.random.default_rng(3)
    rows = mixing_bins((102, 96), 2, 2)  # k = 16 mx + 17 my, max 66
    dic = cplx(rng, (2, 2, 2, 2, 70, 6))
    meas = 2.0 * dic[1, 0]
    res = fit_m1(meas, dic, rows)
    assert res.best_index == (1, 0)
    np.testing.assert_array_equal(res.bins, rows[:, 2])
    ft = res.freq_table()
    assert len(ft) == 6 and {"mx", "my", "bin", "eps_freq"} <= set(ft[0])
    assert [(r["mx"], r["my"], r["bin"]) for r in ft] == [tuple(r) for r in rows.tolist()]
    np.testing.assert_allclose(res.transfer, 2.0, atol=1e-12)


# ------------------------------------------------------------------------------- M0
def test_m0_recovers_diameter():
    rng = np.random.default_rng(4)
    d0 = cplx(rng, (4, NC, NF, N))
    a_true = cplx(rng, (NA, NC, NF))
    meas = a_true[..., None] * d0[2][None]
    res = fit_m0(meas, d0, BINS)
    assert res.best_index == 2 and res.best_diameter == 2
    np.testing.assert_allclose(res.transfer, a_true[..., BINS], atol=1e-10)
    assert res.eps_global_best < 1e-12
    assert res.eps_global[2] < 1e-12 and np.delete(res.eps_global, 2).min() > 0.5
    da = xr.DataArray(d0, dims=("diameter", "channel", "frequency", "offset"),
                      coords={"diameter": [14.0, 16.0, 18.0, 20.0]})
    assert fit_m0(meas, da, BINS).best_diameter == 18.0
    json.dumps(res.to_dict())
    assert len(res.to_table()) == 4


def test_m0_explicit_values():
    rng = np.random.default_rng(5)
    d0 = cplx(rng, (3, NC, NF, N))
    meas = cplx(rng, (NA, NC, NF, N))
    res = fit_m0(meas, d0, BINS)
    S = meas[..., BINS, :]
    for i in range(3):
        phi = d0[i][..., BINS, :]
        e = row_error(S, transfer_function(S, phi)[..., None] * phi)
        assert res.eps_global[i] == pytest.approx(float(epsilon_global(epsilon_freq(e))), rel=1e-13)


# ------------------------------------------------------------------------------- M2
def m2_exact_problem(rng, n_f=5, n=16):
    """Dictionary and data with S = Σ_j w_j Ψ_j exactly, Ψ_j = â_j(S) Φ_j.

    Per row: Φ_j ∝ S + E_j with E_j ⊥ S (complex) gives Ψ_j = γ_j (S + E_j),
    γ_j = 1/(1 + r_j) with r_j = ‖E_j‖²/‖S‖² fixed for all rows. With u_j = w_j γ_j, Σ u_j = 1
    and Σ u_j E_j = 0 the weighted sum is exactly S. The vectors u_j E_j form a closed polygon
    with fixed side lengths in a random real plane arrangement per row, so the Ψ columns are
    linearly independent (the only relation of the E_j is ∝ u, and Σ u ≠ 0). Inactive entries
    are random (weight 0).
    """
    nd, nk = 3, 4
    J = nd * nk
    active = np.array([1, 4, 6, 11])
    u = np.array([0.35, 0.3, 0.2, 0.15])  # Σ u = 1
    r = np.array([0.3, 0.5, 0.8, 1.0])
    w = np.zeros(J)
    w[active] = u * (1 + r)  # 0.455, 0.45, 0.36, 0.30
    S = cplx(rng, (NA, NC, n_f, n))
    phi = cplx(rng, (J, NA, NC, n_f, n))

    def rdot(a, b):  # real inner product of complex vectors
        return float(np.vdot(a, b).real)

    for idx in np.ndindex(NA, NC, n_f):
        s = S[idx]
        s2 = rdot(s, s)
        L = u * np.sqrt(r * s2)  # side lengths ‖u_j E_j‖

        def perp(*others):  # random vector ⊥ s (complex) and ⊥ others (real), unit length
            g = cplx(rng, n)
            g -= s * np.vdot(s, g) / s2
            for o in others:
                g -= o * rdot(o, g) / rdot(o, o)
            return g / np.sqrt(rdot(g, g))

        while True:
            v1, v2 = L[0] * perp(), L[1] * perp()
            gap = -(v1 + v2)
            glen = np.sqrt(rdot(gap, gap))
            if abs(L[2] - L[3]) < glen < L[2] + L[3]:
                break
        gh, eh = gap / glen, perp(gap)
        a = (glen**2 + L[2] ** 2 - L[3] ** 2) / (2 * glen)
        b = np.sqrt(L[2] ** 2 - a**2)
        v3 = a * gh + b * eh
        v4 = gap - v3
        for j, v, uj in zip(active, (v1, v2, v3, v4), u):
            phi[(j,) + idx] = (s + v / uj) * cplx(rng, 1)[0]  # arbitrary complex scale per row
    return phi.reshape(nd, nk, NA, NC, n_f, n), S, w.reshape(nd, nk)


@pytest.mark.parametrize("svd", ["complex", "real"])
def test_m2_recovers_known_weights(svd):
    rng = np.random.default_rng(6)
    dic, meas, w_true = m2_exact_problem(rng)
    # the construction is exact: Σ w Ψ = S
    psi = transfer_function(meas, dic)[..., None] * dic
    np.testing.assert_allclose(np.tensordot(w_true, psi, axes=([0, 1], [0, 1])), meas, atol=1e-12)
    res = fit_m2(meas, dic, np.arange(5), ranks=[1.0], svd=svd)
    assert res.ranks.tolist() == [12] and res.effective_ranks.tolist() == [12]
    np.testing.assert_allclose(res.weights[0], w_true, rtol=0, atol=1e-8)
    assert res.eps_global[0] < 1e-10
    np.testing.assert_allclose(res.model[0], meas, atol=1e-9)
    # M1 cannot represent the mixture
    assert fit_m1(meas, dic, np.arange(5)).eps_global_best > 0.05


def explicit_m(meas, dic, bins):
    """Dense weighted M (rows × J) and y of paper eq. 17, built directly."""
    S = meas[..., bins, :]
    phi = dic[..., bins, :]
    nd, nk = dic.shape[:2]
    psi = transfer_function(S, phi)[..., None] * phi
    wrow = 1.0 / np.abs(S).max(axis=-1)[..., None]
    M = (psi * wrow).reshape(nd * nk, -1).T
    y = (S * wrow).ravel()
    return M, y


@pytest.fixture(scope="module")
def noisy():
    rng = np.random.default_rng(7)
    dic = cplx(rng, (ND, NK, NA, NC, NF, N))
    # a mixture of two entries with transfer functions, plus noise
    meas = (0.7 * cplx(rng, (NA, NC, NF))[..., None] * dic[0, 1]
            + 0.5 * cplx(rng, (NA, NC, NF))[..., None] * dic[2, 3]
            + 0.05 * cplx(rng, (NA, NC, NF, N)))
    return dic, meas


def test_m2_matches_dense_reference(noisy):
    dic, meas = noisy
    M, y = explicit_m(meas, dic, BINS)
    Mr, yr = np.vstack([M.real, M.imag]), np.concatenate([y.real, y.imag])
    w_full, _ = nnls(Mr, yr)
    # complex TSVD of M (paper)
    U, s, _ = np.linalg.svd(M, full_matrices=False)
    B, b = U[:, :3].conj().T @ M, U[:, :3].conj().T @ y
    w_c3, _ = nnls(np.vstack([B.real, B.imag]), np.concatenate([b.real, b.imag]))
    # real TSVD of [Re M; Im M]
    Ur, sr, _ = np.linalg.svd(Mr, full_matrices=False)
    w_r3, _ = nnls(Ur[:, :3].T @ Mr, Ur[:, :3].T @ yr)
    rc = fit_m2(meas, dic, BINS, ranks=[1.0, 3], svd="complex")
    rr = fit_m2(meas, dic, BINS, ranks=[1.0, 3], svd="real")
    np.testing.assert_allclose(rc.weights[0].ravel(), w_full, atol=1e-8)
    np.testing.assert_allclose(rr.weights[0].ravel(), w_full, atol=1e-8)
    np.testing.assert_allclose(rc.weights[1].ravel(), w_c3, atol=1e-8)
    np.testing.assert_allclose(rr.weights[1].ravel(), w_r3, atol=1e-8)
    np.testing.assert_allclose(rc.singular_values, s, rtol=1e-8)
    np.testing.assert_allclose(rr.singular_values, sr, rtol=1e-8)
    # ε_global of the weighted model = ‖M w − y‖ / √(#rows·N)  (no refit after weighting)
    for res in (rc, rr):
        for r in range(2):
            resid = np.linalg.norm(M @ res.weights[r].ravel() - y)
            assert res.eps_global[r] == pytest.approx(resid / math.sqrt(M.shape[0]), rel=1e-10)
        model = np.tensordot(res.weights[0], transfer_function(meas[..., BINS, :], dic[..., BINS, :])[..., None]
                             * dic[..., BINS, :], axes=([0, 1], [0, 1]))
        np.testing.assert_allclose(res.model[0], model, atol=1e-12)


def test_m2_error_ordering(noisy):
    dic, meas = noisy
    m1 = fit_m1(meas, dic, BINS)
    m2 = fit_m2(meas, dic, BINS, ranks=[1.0, 1])
    full, one = m2.eps_global
    # M1's best entry is a feasible M2 weight vector (w = e_q): M2 (full rank) can only be better
    assert full < m1.eps_global_best - 1e-3
    # the full-rank solution is the global minimiser; rank 1 is different and worse
    assert one > full + 1e-3
    assert np.abs(m2.weights[0] - m2.weights[1]).max() > 1e-2
    assert m2.effective_ranks.tolist() == [12, 1]
    # the two mixed entries carry the weight
    top = np.argsort(m2.weights[0].ravel())[::-1][:2]
    assert set(top.tolist()) == {1, 11}
    # tables
    t = m2.to_table()
    assert [row["rank"] for row in t] == [12, 1] and t[0]["rank_percent"] == 100.0
    assert len(m2.weights_table()) == 2 * ND * NK
    assert len(m2.freq_table()) == 2 * len(BINS)
    json.dumps(m2.to_dict())


def test_m2_dataarray_input_matches_numpy(noisy):
    dic, meas = noisy
    ref = fit_m2(meas, dic, BINS, ranks=[1.0, 2])
    dims = ("diameter", "anisotropy", "angle", "channel", "frequency", "offset")
    da = xr.DataArray(dic[..., BINS, :], dims=dims, coords={"frequency": BINS, "diameter": [14.0, 16.0, 18.0]})
    mda = xr.DataArray(meas, dims=("angle", "channel", "frequency", "offset"), coords={"channel": ["x", "y"]})
    res = fit_m2(mda.transpose("offset", "frequency", "angle", "channel"), da.transpose(*dims[::-1]), BINS,
                 ranks=[1.0, 2], chunk_bytes=1)  # one bin per block
    np.testing.assert_allclose(res.weights, ref.weights, atol=1e-10)
    np.testing.assert_allclose(res.eps_global, ref.eps_global, rtol=1e-10)
    assert list(res.diameters) == [14.0, 16.0, 18.0] and list(res.channels) == ["x", "y"]
    assert {r["channel"] for r in res.row_table()} == {"x", "y"}
    json.dumps(res.row_table())


def test_m2_excludes_nonfinite_entries(noisy):
    dic, meas = noisy
    bad = dic.copy()
    bad[0, 1, 2, 1, BINS[0], 3] = np.inf  # the strongest component of the mixture
    res = fit_m2(meas, bad, BINS, ranks=[1.0])
    assert res.excluded[0, 1] and res.excluded.sum() == 1
    assert res.weights[0, 0, 1] == 0.0
    assert np.isfinite(res.eps_global).all() and np.isfinite(res.model).all()


def test_rank_specs_as_in_paper_table1():
    assert rank_counts([1.0, 0.05, 0.04, 0.03, 0.02, 0.01, 0.005], 720) == [720, 36, 28, 21, 14, 7, 3]
    assert rank_counts([1, 5, 0.001], 720) == [1, 5, 1]
    assert rank_counts(0.5, 10) == [5]


# ------------------------------------------------------------------------- validation
def test_shape_mismatches_raise(synth):
    dic, meas, _ = synth
    with pytest.raises(ValueError, match="dictionary"):
        fit_m1(meas, dic[:, :, :2], BINS)  # 2 angles vs 3
    with pytest.raises(ValueError, match="dictionary"):
        fit_m1(meas, dic[..., :5], BINS)  # offsets
    with pytest.raises(ValueError, match="measured"):
        fit_m1(meas[0], dic, BINS)
    with pytest.raises(ValueError, match="dictionary_m0"):
        fit_m0(meas, dic[:, 0, 0, :1], BINS)  # 1 channel vs 2
    with pytest.raises(ValueError, match="dictionary"):
        fit_m2(meas, dic[:, :, :, :1], BINS)
    with pytest.raises(ValueError, match="bins"):
        fit_m1(meas, dic, [3, 99])
    with pytest.raises(ValueError, match="bins"):
        fit_m1(meas, dic, [3, 3])
    with pytest.raises(ValueError, match="bins"):
        fit_m1(meas, dic, np.array([3.0, 4.0]))
    with pytest.raises(ValueError, match="bins"):
        select_bins([])
    da = xr.DataArray(dic[..., BINS, :], dims=("diameter", "anisotropy", "angle", "channel", "frequency", "offset"),
                      coords={"frequency": BINS})
    with pytest.raises(ValueError, match="bins"):
        fit_m1(meas, da, [3, 4])  # 4 is not a stored bin
    with pytest.raises(ValueError, match="dictionary"):
        fit_m1(meas, da.rename(anisotropy="k"), BINS)
    for bad in ([0], [13], [1.5], ["x"], []):
        with pytest.raises(ValueError, match="ranks"):
            fit_m2(meas, dic, BINS, ranks=bad)
    with pytest.raises(ValueError, match="svd"):
        fit_m2(meas, dic, BINS, svd="qr")
    with pytest.raises(ValueError, match="Phi"):
        transfer_function(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="S .* Phi"):
        transfer_function(np.ones((2, 3)), np.ones((4, 3)))
    with pytest.raises(ValueError, match="model"):
        row_error(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="eps"):
        epsilon_freq(np.ones(3))
    with pytest.raises(ValueError, match="measured"):
        bad = meas.copy()
        bad[0, 0, BINS[0], 0] = np.nan
        fit_m1(bad, dic, BINS)
