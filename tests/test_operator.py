"""The Galerkin operator against exact references: relaxation eigenvalues and static equilibria."""

import numpy as np
import pytest
import scipy.linalg

from mpisweep.physics.operator import (
    band_ordering,
    build_operator,
    easy_axis_vector,
    geometry,
    rotation_to_easy_axis,
)
from mpisweep.physics.params import KB, Particle

D = 20e-9
T = 293.0


def particle_for(sigma, diameter=D):
    volume = np.pi * diameter**3 / 6
    return Particle(diameter, sigma * KB * T / volume)


def relaxation_rate(sigma, degree):
    """Smallest non-zero eigenvalue λ1·τ of the zero-field operator (m = 0 block: axially symmetric)."""
    op = build_operator(particle_for(sigma), degree)
    block = np.flatnonzero(op.geometry.m == 0)
    a = op.a0.toarray()[np.ix_(block, block)] * op.particle.tau
    rates = np.sort(-scipy.linalg.eigvals(a).real)
    return rates[1]  # rates[0] is the conserved density (0)


def test_relaxation_eigenvalue_matches_exact_values(relaxation_reference):
    for sigma, exact in relaxation_reference:
        got = relaxation_rate(sigma, 40)
        assert abs(got / exact - 1) <= 1e-6, (sigma, got, exact)


def test_relaxation_converges_in_degree_for_high_barrier(relaxation_reference):
    sigma, exact = relaxation_reference[-1]  # σ = 15 needs a high truncation degree
    errors = [abs(relaxation_rate(sigma, L) / exact - 1) for L in (20, 26, 32, 40)]
    assert errors[0] > 1e-3  # too small a degree is visibly wrong …
    assert all(b < a for a, b in zip(errors, errors[1:]))  # … and the error falls with L
    assert errors[-1] < 1e-6


def field_for(particle, xi, psi_deg):
    """Field (easy-axis frame, n = z) of reduced strength ξ at angle ψ from the easy axis."""
    b = xi / particle.beta
    psi = np.radians(psi_deg)
    return np.array([0.0, b * np.sin(psi), b * np.cos(psi)])


def test_equilibrium_null_vector_matches_reference(equilibrium_reference):
    for xi, sigma, psi, m_par, m_perp in equilibrium_reference:
        p = particle_for(sigma)
        op = build_operator(p, 48)
        m = op.mean_moment(op.equilibrium_state(field_for(p, xi, psi)))
        assert abs(m[2] - m_par) <= 1e-6 and abs(m[1] - m_perp) <= 1e-6, (xi, sigma, psi, m)
        assert abs(m[0]) <= 1e-12


def test_equilibrium_converges_in_degree(equilibrium_reference):
    xi, sigma, psi, m_par, m_perp = equilibrium_reference[-2]  # ξ = 60, σ = 30, ψ = 45°
    p = particle_for(sigma)
    errors = []
    for L in (20, 30, 40, 50):
        op = build_operator(p, L)
        m = op.mean_moment(op.equilibrium_state(field_for(p, xi, psi)))
        errors.append(max(abs(m[2] - m_par), abs(m[1] - m_perp)))
    assert all(b < a for a, b in zip(errors, errors[1:]))
    assert errors[0] > 1e-4 and errors[-1] < 1e-9


def test_probability_is_conserved_and_precession_is_skew():
    g = geometry(12)
    op = build_operator(Particle(22e-9, 1100), 12)
    a = op.at([3e-3, -7e-3, 11e-3]).toarray()
    # d/dt ∫f = norm·A·c = 0 for every c: the normalisation functional is a left null vector.
    assert np.abs(g.norm @ a).max() <= 1e-12 * np.abs(a).max()
    for k in range(3):
        prec = g.precession[k]
        assert abs(prec + prec.T).max() <= 1e-13  # rotation generators are skew-symmetric


def test_isotropic_state_has_zero_moment_and_unit_mass():
    op = build_operator(Particle(22e-9, 0.0), 8)
    c = op.isotropic_state()
    assert op.geometry.norm @ c == pytest.approx(1.0, abs=1e-14)
    assert np.abs(op.mean_moment(c)).max() <= 1e-15


def test_rotation_maps_easy_axis_to_z_and_keeps_in_plane_fields_in_plane():
    for angle in (0.0, 30.0, 165.0):
        n = easy_axis_vector(angle)
        r = rotation_to_easy_axis(n)
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-15)
        assert np.linalg.det(r) == pytest.approx(1.0)
        np.testing.assert_allclose(r @ n, [0, 0, 1], atol=1e-15)
        assert abs((r @ [0.3, -0.2, 0.0])[0]) <= 1e-15  # in-plane field: no x' component
    with pytest.raises(ValueError, match="easy axis"):
        rotation_to_easy_axis([0, 0, 0])


def test_band_ordering_gives_narrow_band():
    g = geometry(15)
    op = build_operator(Particle(22e-9, 1100), 15)
    pattern = abs(op.a0) + abs(op.a[1]) + abs(op.a[2])
    perm, bw = band_ordering(pattern, g.l, g.m)
    assert sorted(perm) == list(range(g.size))
    assert bw <= 2 * 15 + 1  # reverse Cuthill–McKee gives 3L-1; ordering by |m| does better
