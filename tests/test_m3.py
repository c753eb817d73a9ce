"""Model M3 (mpisweep.fitting.fit_m3): one transfer function per (channel, k) shared by all entries and
angles, weights w ≥ 0 over (D, K) with Σw = 1, fitted by alternating least squares."""

import numpy as np
import pytest
import xarray as xr

from mpisweep.fitting import fit_m2, fit_m3
from mpisweep.fitting.metrics import epsilon_freq, epsilon_global, row_error
from mpisweep.steps.dictionary.m0a_dictionary import m0a_rows
from mpisweep.sweep import Sweep

ND, NK, NA, NC, NF, N = 3, 4, 3, 2, 30, 16
BINS = np.arange(NF)


def cplx(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


@pytest.fixture(scope="module")
def random_dictionary():
    """Correlated random entries: a common pattern × a smooth per-entry spectral gain + a private part."""
    rng = np.random.default_rng(5)
    base = cplx(rng, (NA, NC, NF, N))
    gain = 1 + 0.3 * rng.standard_normal((ND, NK, 1, 1, NF, 1))
    return base * gain + 0.5 * cplx(rng, (ND, NK, NA, NC, NF, N))


@pytest.fixture(scope="module")
def physical_dictionary():
    """The anisotropic-equilibrium dictionary on a tiny grid: strongly correlated, physical rows."""
    sweep = Sweep.load({"grids": {"diameters": [18, 20, 22], "anisotropies": [500, 1100, 2000], "angles": [0, 90]},
                        "offsets": {"x": {"min": -10, "max": 10, "count": 2}, "y": {"min": -10, "max": 10, "count": 2}},
                        "frequencies": {"mx": 4, "my": 4}})
    g = sweep.grids
    rows = np.stack([np.stack([m0a_rows(sweep, d, k) for k in g.anisotropies_Jm3]) for d in g.diameters_nm])
    return rows.reshape(rows.shape[:-2] + (-1,)), sweep


def _mixture(dic, weights, transfer):
    return transfer[None, :, :, None] * np.tensordot(weights, dic, axes=2)


@pytest.mark.parametrize("which", ["random_dictionary", "physical_dictionary"])
def test_noise_free_mixture_recovers_weights_and_transfer_function(which, request):
    dic = request.getfixturevalue(which)
    bins = BINS
    if isinstance(dic, tuple):
        dic, sweep = dic
        bins = np.arange(dic.shape[-2])
    nd, nk, _, nc, nf, _ = dic.shape
    rng = np.random.default_rng(11)
    w_true = np.zeros((nd, nk))
    w_true[1, 1], w_true[2, 0] = 0.7, 0.3  # (D, K) on the grid, Σ = 1
    a_true = cplx(rng, (nc, nf))
    r = fit_m3(_mixture(dic, w_true, a_true), dic, bins)
    assert r.converged[0] and r.eps_global[0] < 1e-9
    assert np.abs(r.weights[0] - w_true).max() < 1e-6
    assert np.abs(r.transfer[0] - a_true).max() < 1e-6 * np.abs(a_true).max()
    # the log ends at the reported fit and the misfit never increases (exact ALS steps)
    misfit = [h["misfit"] for h in r.history[0]]
    assert np.all(np.diff(misfit) <= 1e-12 * misfit[0])
    assert r.history[0][-1]["weight_change"] <= r.tol


def test_gauge_total_weight_goes_to_the_transfer_function(random_dictionary):
    dic = random_dictionary
    rng = np.random.default_rng(3)
    w = np.zeros((ND, NK))
    w[0, 3], w[2, 1] = 2.0, 1.0  # Σ = 3: M3 reports w / 3 and 3 a
    a_true = cplx(rng, (NC, NF))
    r = fit_m3(_mixture(dic, w, a_true), dic, BINS)
    np.testing.assert_allclose(r.weights[0], w / 3, atol=1e-8)
    np.testing.assert_allclose(r.transfer[0], 3 * a_true, rtol=1e-8)
    assert r.to_table()[0]["weight_sum"] == pytest.approx(1.0)


def test_noisy_fit_model_and_tables_are_consistent(random_dictionary):
    dic = random_dictionary
    rng = np.random.default_rng(4)
    w = np.zeros((ND, NK))
    w[1, 2], w[0, 0] = 0.6, 0.4
    S = _mixture(dic, w, cplx(rng, (NC, NF)))
    S = S + 0.01 * np.abs(S).std() * cplx(rng, S.shape)
    r = fit_m3(S, dic, BINS, ranks=[1.0, 6], l2=0.0)
    # the model rows are a_ck Σ_q w_q Φ_q and ε_global is the paper's measure of them
    for i in range(2):
        model = r.transfer[i][None, :, :, None] * np.tensordot(r.weights[i], dic, axes=2)
        np.testing.assert_allclose(r.model[i], model, rtol=1e-12, atol=1e-14)
        eg = float(epsilon_global(epsilon_freq(row_error(S, model))))
        assert r.eps_global[i] == pytest.approx(eg, rel=1e-12)
        assert r.history[i][-1]["eps_global"] == pytest.approx(eg, rel=1e-6)
    assert np.abs(r.weights[0] - w).max() < 0.01
    assert r.effective_ranks.tolist() == [12, 6]
    table = r.to_table()
    assert [row["rank"] for row in table] == [12, 6] and all(row["model"] == "M3" for row in table)
    assert {"iterations", "converged", "l2", "eps_global", "n_nonzero"} <= set(table[0])
    assert len(r.weights_table()) == 2 * ND * NK and len(r.freq_table()) == 2 * NF
    rows = r.row_table()
    assert len(rows) == 2 * NA * NC * NF
    # the shared transfer function is the same for every angle
    t = {(row["rank"], row["channel"], row["bin"]): (row["transfer_re"], row["transfer_im"])
         for row in rows if row["angle"] == 0}
    assert all(t[(row["rank"], row["channel"], row["bin"])] == (row["transfer_re"], row["transfer_im"]) for row in rows)
    assert r.iteration_table()[0]["iteration"] == 0
    assert r.to_dict()["model"] == "M3"


def test_m3_beats_m2_when_the_transfer_function_is_shared(random_dictionary):
    dic = random_dictionary
    rng = np.random.default_rng(6)
    w = np.zeros((ND, NK))
    w[1, 1], w[2, 3] = 0.5, 0.5
    S = _mixture(dic, w, cplx(rng, (NC, NF)))
    S = S + 0.02 * np.abs(S).std() * cplx(rng, S.shape)
    r2, r3 = fit_m2(S, dic, BINS), fit_m3(S, dic, BINS)
    assert np.abs(r3.weights[0] - w).max() < 0.02
    w2 = r2.weights[0] / r2.weights[0].sum()
    assert np.abs(w2 - w).max() > np.abs(r3.weights[0] - w).max()


def test_l2_spreads_the_weights_and_zero_l2_is_the_plain_fit(random_dictionary):
    dic = random_dictionary
    rng = np.random.default_rng(7)
    w = np.zeros((ND, NK))
    w[0, 1], w[2, 2] = 0.8, 0.2
    S = _mixture(dic, w, cplx(rng, (NC, NF)))
    plain, tiny, strong = (fit_m3(S, dic, BINS, l2=lam) for lam in (0.0, 1e-12, 1.0))
    np.testing.assert_allclose(tiny.weights, plain.weights, atol=1e-6)
    assert np.count_nonzero(strong.weights[0] > 1e-3) > np.count_nonzero(plain.weights[0] > 1e-3)
    assert strong.eps_global[0] > plain.eps_global[0]
    objective = [h["objective"] for h in strong.history[0]]  # misfit + penalty never increases
    assert np.all(np.diff(objective) <= 1e-12 * objective[0])
    assert strong.to_table()[0]["l2"] == 1.0


def test_max_iter_nonfinite_entries_dataarray_input_and_bad_arguments(random_dictionary):
    dic = random_dictionary.copy()
    rng = np.random.default_rng(8)
    w = np.zeros((ND, NK))
    w[1, 0], w[1, 3] = 0.5, 0.5
    a = cplx(rng, (NC, NF))
    S = _mixture(dic, w, a)
    one = fit_m3(S, dic, BINS, max_iter=1)
    assert one.iterations[0] == 1 and not one.converged[0] and len(one.history[0]) == 2
    dic[2, 2, 0, 0, 0, 0] = np.nan
    r = fit_m3(S, dic, BINS)
    assert r.excluded[2, 2] and r.excluded.sum() == 1 and r.weights[0, 2, 2] == 0
    assert np.abs(r.weights[0] - w).max() < 1e-6
    dims = ("diameter", "anisotropy", "angle", "channel", "frequency", "offset")
    da = xr.DataArray(dic, dims=dims).transpose("angle", "offset", "diameter", "frequency", "channel", "anisotropy")
    meas = xr.DataArray(S, dims=("angle", "channel", "frequency", "offset")).transpose("offset", "frequency",
                                                                                      "channel", "angle")
    rd = fit_m3(meas, da, BINS)
    np.testing.assert_allclose(rd.weights, r.weights, atol=1e-12)
    with pytest.raises(ValueError, match="l2"):
        fit_m3(S, dic, BINS, l2=-1.0)
    with pytest.raises(ValueError, match="max_iter"):
        fit_m3(S, dic, BINS, max_iter=0)


@pytest.mark.parametrize("l2", [0.0, 0.1])
def test_the_als_on_the_finite_entries_equals_the_als_on_the_whole_grid(random_dictionary, l2):
    """A refined sweep's dictionary is mostly missing: M3 iterates on its finite entries only. With J the
    grid's in τ, the regularisation and the eigenvalue cut-off, that is the same problem as the whole grid's
    with zero rows and columns: the same weights (noisy data, a tight tolerance, converged)."""
    from mpisweep.fitting.m3 import _als, _initial_entry, _Problem, normal_equations
    from mpisweep.fitting.weighted import weighted_fit

    dic = random_dictionary.copy()
    dic[0, :2] = np.nan  # four missing entries of twelve
    dic[2, 3] = np.nan
    rng = np.random.default_rng(9)
    w = np.zeros((ND, NK))
    w[1, 1], w[2, 0] = 0.6, 0.4
    S = _mixture(np.nan_to_num(dic), w, cplx(rng, (NC, NF))) + 0.05 * cplx(rng, (NA, NC, NF, N))
    fit = weighted_fit(S, dic, BINS, (1.0,), None)
    R, b, s, valid = normal_equations(fit.S, fit.dic, fit.pos, fit.rho)
    kept = np.flatnonzero(valid)
    assert kept.size == ND * NK - 3
    whole = _Problem(R, b, s, valid, l2)
    w0 = np.zeros(ND * NK)
    w0[_initial_entry(R, b, s, valid)] = 1.0  # the start fit_m3 takes
    w_whole, a_whole, *_ = _als(whole, ND * NK, w0, 2000, 1e-13, 1.0)
    r = fit_m3(S, dic, BINS, l2=l2, max_iter=2000, tol=1e-13)
    assert r.converged[0]
    np.testing.assert_allclose(r.weights[0].ravel(), w_whole, rtol=0, atol=1e-9)
    np.testing.assert_allclose(r.transfer[0], a_whole, rtol=1e-9)
