"""The anisotropic-equilibrium dictionary M0a (mpisweep.steps.dictionary.m0a_dictionary) and its fit (fit_m0a)."""

import json

import numpy as np
import pytest
import xarray as xr

from mpisweep.fitting import fit_m0a, fit_m1
from mpisweep.io.stores import open_zarr
from mpisweep.physics.equilibrium import BoltzmannQuadrature
from mpisweep.physics.operator import easy_axis_vector
from mpisweep.physics.params import KB, Particle
from mpisweep.physics.spectra import spectrum
from mpisweep.steps.dictionary.m0a_dictionary import build_m0a, m0a_rows, quadrature_size
from mpisweep.steps.fit.dictionaries import open_m0a
from mpisweep.sweep import Sweep
from mpisweep.sweep.coords import ROW_DIMS

TINY = {
    "grids": {"diameters": [18, 22], "anisotropies": [500, 2000], "angles": [0, 60]},
    "offsets": {"x": {"min": -10, "max": 10, "count": 2}, "y": {"min": 5, "max": 5, "count": 1}},
    "frequencies": {"mx": 2, "my": 2},
}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    return Sweep.load({**TINY, "output": str(tmp_path_factory.mktemp("m0a") / "results")})


def _trajectory(sweep, offset_index=0):
    ex = sweep.excitation.with_offset(sweep.offsets.reshape(-1, 3)[offset_index])
    t = sweep.excitation.times
    return ex, ex.field(t), ex.field_rate(t)


def test_blocked_moments_equal_the_direct_covariance(sweep, monkeypatch):
    """d<m>/dt = β Cov(m) dB/dt, computed block-wise with the (Q, 9) product, equals a direct einsum."""
    _, B, dB = _trajectory(sweep, 1)
    quad = BoltzmannQuadrature(sweep.particle(22, 2000), easy_axis_vector(60), nodes=28, azimuths=56)
    monkeypatch.setattr(BoltzmannQuadrature, "BLOCK", 100)  # several blocks and a ragged last one
    m, dm = quad.moments(B, dB)
    Bl, dBl = B @ quad.rot.T, dB @ quad.rot.T
    expo = quad.particle.beta * Bl @ quad.m.T + quad.anis
    w = np.exp(expo - expo.max(axis=1, keepdims=True)) * quad.w
    w /= w.sum(axis=1, keepdims=True)
    mean = w @ quad.m
    cov = np.einsum("pq,qi,qj->pij", w, quad.m, quad.m) - mean[:, :, None] * mean[:, None, :]
    want = quad.particle.beta * np.einsum("pij,pj->pi", cov, dBl) @ quad.rot
    np.testing.assert_allclose(m, mean @ quad.rot, rtol=0, atol=1e-13)
    np.testing.assert_allclose(dm, want, rtol=0, atol=1e-12 * np.abs(want).max())


def test_quadrature_size_reproduces_the_equilibrium_reference(equilibrium_reference):
    d = 20e-9
    for xi, sigma, psi, m_par, m_perp in equilibrium_reference:
        p = Particle(d, sigma * KB * 293.0 / (np.pi * d**3 / 6))
        nodes, azimuths = quadrature_size(xi, sigma)
        assert nodes <= 64  # vs. the class default 200 × 256
        quad = BoltzmannQuadrature(p, [1.0, 0.0, 0.0], nodes=nodes, azimuths=azimuths)
        b = xi / p.beta
        field = np.array([[b * np.cos(np.radians(psi)), b * np.sin(np.radians(psi)), 0.0]])
        m, _ = quad.moments(field, np.zeros_like(field))
        assert abs(m[0, 0] - m_par) <= 1e-9 and abs(m[0, 1] - m_perp) <= 1e-9


def test_m0a_rows_equal_a_direct_boltzmann_quadrature(sweep):
    d, k = 22.0, 2000.0
    particle = sweep.particle(d, k)
    bins = sweep.bins[:, 2]
    rows = m0a_rows(sweep, d, k)
    assert rows.shape == (2, 2, bins.size, 1, 2)
    xi_max = particle.beta * max(sweep.excitation.with_offset(o).max_field() for o in sweep.offsets.reshape(-1, 3))
    nodes, azimuths = quadrature_size(xi_max, particle.sigma)
    for ia, angle in enumerate(sweep.angles):
        quad = BoltzmannQuadrature(particle, easy_axis_vector(angle), nodes=nodes, azimuths=azimuths)
        for io in range(2):
            _, B, dB = _trajectory(sweep, io)
            want = spectrum(quad.moments(B, dB)[1])[:, bins]
            np.testing.assert_allclose(rows[ia, :, :, 0, io], want, rtol=0, atol=1e-12 * np.abs(want).max())
    # and the small quadrature is converged: a 3 × 3 times finer one changes nothing
    fine = BoltzmannQuadrature(particle, easy_axis_vector(60), nodes=3 * nodes, azimuths=3 * azimuths)
    _, B, dB = _trajectory(sweep, 1)
    want = spectrum(fine.moments(B, dB)[1])[:, bins]
    assert np.abs(rows[1, :, :, 0, 1] - want).max() <= 1e-10 * np.abs(want).max()


def test_m0a_store_and_fit_recover_an_entry(sweep):
    out = build_m0a(sweep)
    assert out == sweep.layout.m0a
    ds = open_zarr(out)
    assert ds["rows"].dims == ("diameter", "anisotropy") + ROW_DIMS and ds["rows"].dtype == np.complex128
    assert ds["diameter"].values.tolist() == [18.0, 22.0] and ds["anisotropy"].values.tolist() == [500.0, 2000.0]
    assert "M0a" in ds.attrs["model"]
    dictionary, attrs = open_m0a(sweep)
    assert attrs["config_hash"] == sweep.config_hash
    assert dictionary.dims == ("diameter", "anisotropy", "angle", "channel", "frequency", "offset")
    # anisotropy matters at equilibrium: the rows of (22, 500) and (22, 2000) differ, and the angle too
    rows = ds["rows"].values
    assert np.abs(rows[1, 0] - rows[1, 1]).max() > 1e-3 * np.abs(rows[1, 1]).max()
    assert np.abs(rows[1, 1, 0] - rows[1, 1, 1]).max() > 1e-3 * np.abs(rows[1, 1]).max()
    # measured = a transfer function per (angle, channel, bin) × the entry (18, 2000): M0a finds it
    rng = np.random.default_rng(2)
    a_true = rng.standard_normal((2, 2, sweep.bins.shape[0])) + 1j * rng.standard_normal((2, 2, sweep.bins.shape[0]))
    entry = dictionary.sel(diameter=18.0, anisotropy=2000.0).values
    measured = xr.DataArray(a_true[..., None] * entry, dims=("angle", "channel", "frequency", "offset"),
                            coords={"frequency": dictionary["frequency"].values})
    r = fit_m0a(measured, dictionary, sweep.bins)
    assert r.MODEL == "M0a" and (r.best_diameter, r.best_anisotropy) == (18.0, 2000.0)
    assert r.eps_global_best < 1e-12
    np.testing.assert_allclose(r.transfer, a_true, rtol=1e-10)
    assert {row["model"] for row in r.to_table() + r.freq_table() + r.row_table()} == {"M0a"}
    assert r.to_dict()["model"] == "M0a"
    assert fit_m1(measured, dictionary, sweep.bins).to_dict()["model"] == "M1"


def test_m0a_dictionary_subcommand(tmp_path, capsys):
    import yaml

    from mpisweep.cli import main

    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({**TINY, "grids": {**TINY["grids"], "diameters": [18], "anisotropies": [500]},
                                      "output": str(tmp_path / "results")}))
    assert main(["m0a-dictionary", "--config", str(config), "--output", str(tmp_path / "m0a.zarr")]) == 0
    assert "mpisweep m0a-dictionary:" in capsys.readouterr().err
    n_bins = Sweep.load(config).bins.shape[0]
    assert open_zarr(tmp_path / "m0a.zarr")["rows"].shape == (1, 1, 2, 2, n_bins, 1, 2)


def test_m0a_of_a_refined_sweep_has_its_blocks_only(sweep, tmp_path):
    """A refined sweep's M0a, computed by 2 processes: the named entries equal the full store's, the
    others are missing (NaN, listed in the attributes), and the fit picks among the present ones."""
    full = open_zarr(build_m0a(sweep, tmp_path / "full.zarr"))["rows"].values
    lines = []
    out = build_m0a(sweep, tmp_path / "refined.zarr", blocks=["D22_K2000", "D18_K500"], workers=2,
                    progress=lambda done, total, t: lines.append((done, total)))
    assert lines == [(1, 2), (2, 2)]
    ds = open_zarr(out)
    rows = ds["rows"].values
    np.testing.assert_array_equal(rows[0, 0], full[0, 0])
    np.testing.assert_array_equal(rows[1, 1], full[1, 1])
    assert np.isnan(rows[0, 1]).all() and np.isnan(rows[1, 0]).all()
    assert sorted(json.loads(ds.attrs["missing_blocks"])) == ["D18_K2000", "D22_K500"]
    # measured = the missing entry (18, 2000): the fit cannot return it and picks a present one
    dims = ("diameter", "anisotropy", "angle", "channel", "frequency", "offset")
    dictionary = ds["rows"].stack(offset=("offset_y", "offset_x")).transpose(*dims)
    measured = xr.DataArray(full[0, 1].reshape(full.shape[2:5] + (-1,)), dims=dims[2:],
                            coords={"frequency": dictionary["frequency"].values})
    r = fit_m0a(measured, dictionary, sweep.bins)
    assert (r.best_diameter, r.best_anisotropy) in {(22.0, 2000.0), (18.0, 500.0)}
