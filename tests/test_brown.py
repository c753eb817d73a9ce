"""Brownian rotation (model "brown") against exact limits: relaxation rates, Langevin, Debye, the Néel equation.

The measurements behind the truncation rule and the tolerances are in benchmarks/brown.py (docs: brownian.md).
"""

import math

import numpy as np
import pytest

from mpisweep.physics.equilibrium import langevin, langevin_moment
from mpisweep.physics.excitation import Excitation
from mpisweep.physics.moment import solve
from mpisweep.physics.operator import build_operator, rotation_to_easy_axis
from mpisweep.physics.params import KB, BrownParticle, Particle
from mpisweep.physics.solver import STABILITY_TOL, SolverError, auto_degree, check_stability

# The strong 2D Lissajous case: Bruker drive at the grid's corner offset, ξ_max = 25.5, automatic L = 18.
CORNER_PARTICLE = BrownParticle(22e-9, 30e-9)  # τ_B = 10.5 µs
CORNER_FIELD = Excitation((12.59e-3, 13.55e-3), (102, 96), 2.5e6, offset=(14.35e-3, -14.71e-3), samples=204)
AXIS = (1.0, 0.0, 0.0)  # Brownian rotation has no easy axis: this only fixes the solver's frame


def run(particle, field, model="brown", **options):
    return solve(particle, field, AXIS, model=model, **options)


@pytest.fixture(scope="module")
def corner_reference():
    """The corner case at the automatic L + 6 and rtol 1e-8 (truncation ~1e-8 there, benchmarks/brown.py)."""
    L = auto_degree(CORNER_PARTICLE, CORNER_FIELD.max_field())
    return run(CORNER_PARTICLE, CORNER_FIELD, degree=L + 6, rtol=1e-8, check=False)


def test_relaxation_time_and_zero_field_spectrum_are_exact():
    """A(0) is rotational diffusion: eigenvalues −l(l+1)/(2τ_B), multiplicity 2l+1; τ_B = 3ηV_h/(k_B T)."""
    p = BrownParticle(22e-9, 60e-9, viscosity=1.3e-3, temperature=300.0)
    assert p.tau == pytest.approx(3 * 1.3e-3 * (math.pi / 6 * 60e-9**3) / (KB * 300.0), rel=1e-14)
    assert p.p == (0.0, p.beta / (2 * p.tau), 0.0, 0.0)
    L = 12
    ev = np.linalg.eigvals(build_operator(p, L).at(np.zeros(3)).toarray())
    assert np.abs(ev.imag).max() == 0.0
    expected = np.concatenate([np.full(2 * deg + 1, -deg * (deg + 1) / (2 * p.tau)) for deg in range(L + 1)])
    got = np.sort(ev.real)[::-1]
    assert got.size == (L + 1) ** 2
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10 / p.tau)
    assert -got[1] * p.tau == pytest.approx(1.0, rel=1e-12)  # the l = 1 mode (<m>) decays at exactly 1/τ_B


def test_stationary_state_is_the_langevin_equilibrium_and_converges_in_degree():
    """Operator.equilibrium_state against <m> = L(ξ) h for a static field in a generic direction.

    The rule's L keeps the error ≤ 1e-5 (the fit's target); it falls with every degree (by 2.5-4× at large ξ),
    and two degrees more give ≤ 1e-6 for ξ ≤ 40 (measured: 7.5e-7 at ξ = 40, ≤ 1.1e-6 up to ξ = 60 needs three).
    """
    p = BrownParticle(22e-9, 60e-9)
    h = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
    rot = rotation_to_easy_axis(AXIS)
    for xi in (0.5, 2.0, 5.0, 10.0, 20.0, 40.0):
        field = h * xi / p.beta
        L = auto_degree(p, xi / p.beta)
        errors = []
        for degree in range(L - 1, L + 3):
            op = build_operator(p, degree)
            m = op.mean_moment(op.equilibrium_state(rot @ field)) @ rot
            errors.append(np.abs(m - langevin(xi) * h).max())
        assert errors[1] <= 1e-5, (xi, L, errors)
        assert all(b < a for a, b in zip(errors, errors[1:])), (xi, errors)
        assert errors[3] <= 1e-6, (xi, L, errors)


@pytest.mark.parametrize("omega_tau", [0.03, 0.3, 3.0, 30.0])
def test_small_amplitude_response_is_debye(omega_tau):
    """χ(ω) = χ0/(1 + iωτ_B), χ0 = β/3, from the fundamental of one periodic cycle; 1e-4 relative.

    Exact in the linear regime: a field couples the isotropic density (l = 0) only to l = 1, whose decay rate is
    1/τ_B; l ≥ 2 and the fundamental's nonlinear correction enter at O(ξ²) = 1e-6 for ξ_amp = 1e-3. The warm-up of
    30 τ_B leaves e^-30 of the initial transient; rtol 1e-8 with atol 1e-13 resolves the ~1e-5 coefficients. At
    ωτ_B = 30 (τ_B = 4.8 T) the solve balances harmonics instead (tests/test_periodic.py: τ_B/T up to 1e4).
    """
    p = BrownParticle(20e-9, 40e-9)  # τ_B = 24.9 µs
    xi_amp, n = 1e-3, 32
    field = Excitation((xi_amp / p.beta,), (1,), omega_tau / (2 * np.pi * p.tau), samples=n)
    result = run(p, field, rtol=1e-8, atol=1e-13, warmup=30 * p.tau)
    fundamental = 2 * np.mean(result.moment[:, 0] * np.exp(-2j * np.pi * np.arange(n) / n))
    debye = (xi_amp / 3) / (1 + 1j * omega_tau)
    assert abs(fundamental / debye - 1) <= 1e-4, (fundamental, debye)
    assert np.abs(result.moment[:, 1:]).max() <= 1e-15  # nothing across the field


def test_strong_lissajous_drive_converges_in_degree_and_tolerance(corner_reference):
    ref = corner_reference.moment
    L = auto_degree(CORNER_PARTICLE, CORNER_FIELD.max_field())
    assert L == 18 and corner_reference.periodicity < 1e-5
    by_degree = [np.abs(run(CORNER_PARTICLE, CORNER_FIELD, degree=d, rtol=1e-8, check=False).moment - ref).max()
                 for d in (L - 6, L - 4, L - 2, L)]
    assert all(b < a / 2 for a, b in zip(by_degree, by_degree[1:])), by_degree
    assert by_degree[0] > 1e-4 and by_degree[-1] <= 1e-5, by_degree
    fine = corner_reference.degree
    by_rtol = [np.abs(run(CORNER_PARTICLE, CORNER_FIELD, degree=fine, rtol=r, check=False).moment - ref).max()
               for r in (1e-4, 1e-5, 1e-6)]
    assert all(b < a for a, b in zip(by_rtol, by_rtol[1:])), by_rtol
    default = run(CORNER_PARTICLE, CORNER_FIELD)  # automatic L, default rtol, stability check on
    assert default.degree == L and default.periodicity < 1e-5
    assert np.abs(default.moment - ref).max() <= 1e-4


def test_case_a_is_the_neel_equation_at_the_neel_time(case_a):
    """MNPDynamics' case A (Néel, K = 0, 1D field) equals Brownian rotation with τ_B = τ_N: an exact identity.

    For K = 0 the Néel drift adds only precession g·B×m to the Brownian one (whose damping coefficients agree:
    gα = β/(2τ_N)). With the field along a fixed axis, precession generates rotations about that axis; the density
    starts axially symmetric about it (static equilibrium) and stays so, and such a density is annihilated by the
    generator. So a BrownParticle whose viscosity gives τ_B = τ_N obeys the same equation. Bound 1e-7: the reference
    is accurate to ~1e-8 (N = 16 vs 24, RelTol 1e-8), each solve at rtol 1e-8 to ~1e-8, truncation at L = 16 < 1e-9.
    Both stationary states at the peak field are the Langevin one (identical vectors: precession annihilates it).
    """
    neel = Particle(20e-9, 0.0)
    volume_h = math.pi / 6 * 20e-9**3
    brown = BrownParticle(20e-9, 20e-9, viscosity=neel.tau * KB * neel.temperature / (3 * volume_h))
    assert brown.tau == pytest.approx(neel.tau, rel=1e-12) and brown.p[1] == pytest.approx(neel.p[1], rel=1e-12)
    field = Excitation((12e-3,), (100,), 2.5e6, samples=1000)
    m_brown = run(brown, field, degree=16, rtol=1e-8).moment
    m_neel = run(neel, field, model="fp", degree=16, rtol=1e-8).moment
    assert np.abs(m_brown - case_a[:, 1:]).max() <= 1e-7
    assert np.abs(m_brown - m_neel).max() <= 1e-7

    peak = np.array([0.0, 0.0, 12e-3])
    states = [build_operator(p, 16).equilibrium_state(peak) for p in (brown, neel)]
    np.testing.assert_allclose(states[0], states[1], rtol=0, atol=1e-13)
    m = build_operator(brown, 16).mean_moment(states[0])
    assert abs(m[2] - langevin(neel.beta * 12e-3)) <= 1e-9 and abs(m[0]) + abs(m[1]) <= 1e-13

    # At water's viscosity (τ_B = 3.1 µs, ωτ_B = 0.49) the same field is far from the Néel response.
    realistic = run(BrownParticle(20e-9, 20e-9), field, rtol=1e-5).moment
    assert np.abs(realistic - case_a[:, 1:]).max() > 0.1


def test_quasi_static_drive_lags_the_langevin_curve_by_tau_times_its_rate():
    """Case A's 12 mT field at 500 Hz (ωτ_B = 0.0098, ωτ_N = 4.4e-5): both models follow L(ξ(t)) with lag τ·dm_eq/dt.

    Adiabatic elimination: f = f_eq − τ_int(ξ)·∂f_eq/∂t + O((ωτ)²), with the integral relaxation time τ_int ≤ τ (a field
    only speeds up rotational diffusion). The largest lag sits at the field's zero crossing, where dm_eq/dt peaks and
    the response is linear (Debye, τ_int = τ exactly): there it equals τ·max|dm_eq/dt| times 1/√(1+(ωτ)²) and a
    nonlinear factor 1 − O((ξ_amp·ωτ)²) from the field's sweep over the last few τ: (8·0.01)² = 6e-3 for Brown,
    4e-9 for Néel. So lag/(τ·max|dm_eq/dt|) is in [0.99, 1] (Brown) and [0.999, 1] (Néel); the upper side gets
    +1e-3 for the time-integration error at rtol 1e-8 (~1e-8 absolute, against lags of 2e-2 and 9e-5).
    """
    brown, neel = BrownParticle(20e-9, 20e-9), Particle(20e-9, 0.0)
    field = Excitation((12e-3,), (5000,), 2.5e6, samples=400)
    m_eq, rate_eq = langevin_moment(neel, field.field(field.times), field.field_rate(field.times))
    fastest = np.abs(rate_eq[:, 0]).max()
    results = {}
    for particle, model, low in ((brown, "brown", 0.99), (neel, "fp", 0.999)):
        results[model] = run(particle, field, model=model, rtol=1e-8).moment
        lag = np.abs(results[model] - m_eq).max()
        assert low <= lag / (particle.tau * fastest) <= 1.001, (model, lag, particle.tau * fastest)
    # … and so they approach each other: Brown lags by at most τ_B·max|dm_eq/dt| = 0.019 more than Néel.
    assert np.abs(results["brown"] - results["fp"]).max() <= 1.001 * brown.tau * fastest


def test_stability_check_cannot_fire_too_small_degrees_overshoot_or_stay_wrong(corner_reference):
    """Brownian truncations are never unstable: the pre-solve check passes at any L and ξ (the reason is exact).

    With the field along z, A(B) keeps the |m| blocks apart and each is tridiagonal in l with diagonal −l(l+1)/(2τ_B)
    and off-diagonal products A[l,l+1]·A[l+1,l] < 0 (the conserved l = 0 row is zero): a diagonal similarity makes it
    a diagonal ≤ 0 plus a skew-symmetric matrix, so Re λ ≤ 0. A degree-≤ L space is rotation invariant, so every
    field direction has the same spectrum. A too-small L is therefore never refused as "unstable truncation": odd L
    overshoot |<m>| > 1 and the integration guard refuses them; even L run and return a wrong cycle (nothing in the
    solve flags those).
    """
    p, field = CORNER_PARTICLE, CORNER_FIELD
    xi = p.beta * field.max_field()
    op = build_operator(p, 8)
    a = op.at(np.array([0.0, 0.0, xi / p.beta])).toarray()
    g = op.geometry
    for m in range(-8, 9):
        block = np.flatnonzero(g.m == m)
        assert np.abs(a[np.ix_(block, np.flatnonzero(g.m != m))]).max() == 0.0
        sub = a[np.ix_(block, block)]
        products = np.diag(sub, 1) * np.diag(sub, -1)
        assert np.all(products[1 if m == 0 else 0:] < 0) and np.allclose(np.triu(sub, 2), 0) \
            and np.allclose(np.tril(sub, -2), 0)
        if m == 0:  # the conserved l = 0 row is zero: eigenvalue 0 and the l ≥ 1 block, same structure
            assert np.all(sub[0] == 0.0)
    strongest = field.field(field.times)[np.argmax(np.linalg.norm(field.field(field.times), axis=1))]
    for L in (1, 2, 3, 4, 6, 10):
        assert check_stability(build_operator(p, L), [strongest, np.zeros(3)]) <= STABILITY_TOL
    with pytest.raises(SolverError, match=r"\|<m>\| exceeded"):
        run(p, field, degree=3)
    wrong = run(p, field, degree=4)  # passes the stability check, integrates, and is far off
    assert np.abs(wrong.moment - corner_reference.moment).max() > 0.1


def test_model_and_particle_must_match_and_parameters_must_be_physical():
    field = Excitation((12e-3,), (100,), 2.5e6, samples=10)
    with pytest.raises(ValueError, match="takes a BrownParticle"):
        run(Particle(20e-9, 0.0), field, model="brown")
    with pytest.raises(ValueError, match="takes a Particle"):
        run(BrownParticle(20e-9, 30e-9), field, model="fp")
    for kwargs in ({"hydrodynamic_diameter": 19e-9}, {"viscosity": 0.0}, {"viscosity": -1e-3},
                   {"viscosity": float("nan")}, {"diameter": 0.0}):
        args = {"diameter": 20e-9, "hydrodynamic_diameter": 30e-9, **kwargs}
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            BrownParticle(**args)
    assert BrownParticle(20e-9, 20e-9).sigma == 0.0  # D_h = D is allowed (a bare core)
