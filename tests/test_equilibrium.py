import numpy as np
import pytest

from mpisweep.physics.equilibrium import (
    AxialBoltzmannQuadrature,
    BoltzmannQuadrature,
    langevin,
    langevin_derivative,
    langevin_moment,
)
from mpisweep.physics.params import KB, Particle


def test_boltzmann_quadrature_matches_reference(equilibrium_reference):
    d = 20e-9
    for xi, sigma, psi, m_par, m_perp in equilibrium_reference:
        p = Particle(d, sigma * KB * 293.0 / (np.pi * d**3 / 6))
        quad = BoltzmannQuadrature(p, [1.0, 0.0, 0.0], nodes=400)
        b = xi / p.beta
        psi = np.radians(psi)
        m = quad.moments([b * np.cos(psi), b * np.sin(psi), 0.0])[0]
        assert abs(m[0] - m_par) <= 1e-9 and abs(m[1] - m_perp) <= 1e-9


def test_langevin_function_limits_and_derivative():
    z = np.array([-30.0, -2.0, -1e-4, 0.0, 1e-4, 0.5, 2.0, 30.0, 800.0])
    assert langevin(0.0) == 0.0
    assert langevin(1e-4) == pytest.approx(1e-4 / 3, rel=1e-8)
    assert langevin(2.0) == pytest.approx(1 / np.tanh(2.0) - 0.5, rel=1e-14)
    assert langevin(800.0) == pytest.approx(1 - 1 / 800.0, rel=1e-14)
    h = 1e-6
    numeric = (langevin(z + h) - langevin(z - h)) / (2 * h)
    np.testing.assert_allclose(langevin_derivative(z), numeric, rtol=1e-6, atol=1e-9)


def test_isotropic_boltzmann_equals_langevin_with_exact_susceptibility():
    p = Particle(20e-9, 0.0)
    fields = np.array([[3e-3, 2e-3, 0.0], [0.0, 0.0, 0.0], [-8e-3, 1e-3, 2e-3]])
    rates = np.array([[1.0, 2.0, 0.3], [1.0, 0.0, 0.0], [0.2, -0.5, 4.0]])
    m_q, dm_q = BoltzmannQuadrature(p, [1.0, 0.0, 0.0]).moments(fields, rates)
    m_l, dm_l = langevin_moment(p, fields, rates)
    np.testing.assert_allclose(m_q, m_l, atol=1e-12)
    np.testing.assert_allclose(dm_q, dm_l, rtol=1e-10, atol=1e-9)
    # d<m>/dt from the susceptibility equals the numerical time derivative.
    h = 1e-9
    numeric = (langevin_moment(p, fields + h * rates) - langevin_moment(p, fields - h * rates)) / (2 * h)
    np.testing.assert_allclose(dm_l, numeric, rtol=1e-5)


@pytest.mark.parametrize("diameter, anisotropy", [(14e-9, 100.0), (22e-9, 2000.0), (28e-9, 9000.0), (20e-9, 0.0)])
def test_axial_quadrature_equals_the_sphere_quadrature(diameter, anisotropy):
    """The azimuth in closed form (Bessel functions) gives the 2D quadrature's <m> and d<m>/dt to
    rounding: random fields up to 39 mT about a tilted easy axis, a field along the axis (no normal
    component: e₁ undefined) and zero field included."""
    p = Particle(diameter, anisotropy)
    axis = np.array([0.3, 0.8, 0.2]) / np.linalg.norm([0.3, 0.8, 0.2])
    rng = np.random.default_rng(1)
    fields = rng.normal(size=(400, 3)) * 0.0135
    fields[0], fields[1], fields[2] = 0.0, 0.01 * axis, -0.03 * axis
    rates = rng.normal(size=(400, 3))
    m_ref, dm_ref = BoltzmannQuadrature(p, axis, nodes=240, azimuths=360).moments(fields, rates)
    m, dm = AxialBoltzmannQuadrature(p, axis, nodes=64).moments(fields, rates)
    np.testing.assert_allclose(m, m_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dm, dm_ref, rtol=0, atol=1e-12 * np.abs(dm_ref).max())
    np.testing.assert_allclose(AxialBoltzmannQuadrature(p, axis, nodes=64).moments(fields), m, rtol=0, atol=0)


def test_axial_quadrature_matches_reference(equilibrium_reference):
    d = 20e-9
    for xi, sigma, psi, m_par, m_perp in equilibrium_reference:
        p = Particle(d, sigma * KB * 293.0 / (np.pi * d**3 / 6))
        b = xi / p.beta
        psi = np.radians(psi)
        m = AxialBoltzmannQuadrature(p, [1.0, 0.0, 0.0], nodes=96).moments([b * np.cos(psi), b * np.sin(psi), 0.0])[0]
        assert abs(m[0] - m_par) <= 1e-9 and abs(m[1] - m_perp) <= 1e-9
