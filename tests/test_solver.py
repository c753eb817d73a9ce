"""The Fokker-Planck solve against MNPDynamics and analytic limits; convergence in L and tolerance."""

import numpy as np
import pytest

from mpisweep.physics.equilibrium import langevin_moment
from mpisweep.physics.excitation import Excitation
from mpisweep.physics.operator import easy_axis_vector
from mpisweep.physics.params import Particle
from mpisweep.physics.solver import SolverError, default_rtol, solve
from mpisweep.physics.spectra import mixing_bins, spectrum

CASE_B_PARTICLE = Particle(22e-9, 1100.0)
CASE_B_FIELD = Excitation((12.59e-3, 13.55e-3), (102, 96), 2.5e6, offset=(5e-3, -3e-3))
CASE_B_AXIS = easy_axis_vector(30.0)


def case_b_error(reference, **kwargs):
    result = solve(CASE_B_PARTICLE, CASE_B_FIELD, CASE_B_AXIS, check=False, **kwargs)
    return np.abs(result.moment - reference[:, 1:]).max(), result


def test_case_b_converges_in_degree(case_b):
    errors = [case_b_error(case_b, degree=L, rtol=1e-6)[0] for L in (7, 9, 11, 13, 15)]
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    assert errors[0] > 1e-3 and errors[-1] < 2e-5


def test_case_b_converges_in_tolerance(case_b):
    errors = [case_b_error(case_b, degree=15, rtol=r)[0] for r in (1e-3, 1e-4, 1e-5)]
    assert all(b < a / 3 for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 3e-5


def test_solution_is_periodic_and_normalised(case_b):
    err, result = case_b_error(case_b)
    assert result.periodicity < 1e-5
    assert np.linalg.norm(result.moment, axis=1).max() <= 1.0
    assert result.times.shape == (1632,) and result.moment.shape == (1632, 3)


def test_rate_converges_to_the_time_derivative_of_the_moment(case_b):
    _, result = case_b_error(case_b)
    tight = solve(CASE_B_PARTICLE, CASE_B_FIELD, CASE_B_AXIS, degree=result.degree, rtol=1e-7, check=False)
    scale = np.abs(tight.rate).max()
    assert np.abs(result.rate - tight.rate).max() <= 2e-3 * scale
    # The rate integrates to the moment (trapezoid rule on a 50 ns output grid).
    fine_field = Excitation((12.59e-3, 13.55e-3), (102, 96), 2.5e6, offset=(5e-3, -3e-3), samples=8 * 1632)
    fine = solve(CASE_B_PARTICLE, fine_field, CASE_B_AXIS, degree=result.degree, rtol=1e-7, check=False)
    steps = 0.5 * (fine.rate[1:] + fine.rate[:-1]) * fine.times[1]
    drift = np.abs(np.cumsum(steps, axis=0) - (fine.moment[1:] - fine.moment[0])).max()
    assert drift <= 2e-4


@pytest.mark.slow  # ~12 s: the full suite runs it, the quick tier (under 3 minutes) does not
def test_high_barrier_default_solve_is_within_1e4_of_a_tight_solve():
    # 26 nm, 9000 J/m³: σ ≈ 20.5, the automatic L = 36 (linear anisotropy branch), rtol 1e-6;
    # reference: rtol 1e-8 and L + 6 (one angle and offset: ~35 s on a loaded 2-core machine).
    particle = Particle(26e-9, 9000.0)
    assert particle.sigma > 20
    default = solve(particle, CASE_B_FIELD, CASE_B_AXIS, check=False)
    tight = solve(particle, CASE_B_FIELD, CASE_B_AXIS, degree=default.degree + 6, rtol=1e-8, check=False)
    assert default.degree >= 36 and default.periodicity < 1e-5
    assert np.abs(default.moment - tight.moment).max() <= 1e-4


def test_zero_anisotropy_and_slow_field_give_langevin():
    # 100 Hz drive: the relaxation time (~10 ns) is negligible, so <m> follows L(ξ).
    field = Excitation((12e-3,), (25_000,), 2.5e6, samples=100)
    p = Particle(20e-9, 0.0)
    result = solve(p, field, [1.0, 0.0, 0.0], rtol=1e-6)
    expected, rate = langevin_moment(p, field.field(result.times), field.field_rate(result.times))
    assert np.abs(result.moment - expected).max() <= 3e-5
    assert np.abs(result.rate - rate).max() <= 1e-3 * np.abs(rate).max()


def test_a_slow_three_axis_drive_gives_langevin_at_zero_anisotropy():
    # a 3D Lissajous of 104, 156 and 52 Hz (2, 3 and 1 periods per 19.2 ms cycle) with a z offset
    field = Excitation((12e-3, 11e-3, 9e-3), (24_000, 16_000, 48_000), 2.5e6, offset=(1e-3, -2e-3, 3e-3),
                       samples=240)
    p = Particle(20e-9, 0.0)
    result = solve(p, field, easy_axis_vector(30.0), rtol=1e-6)
    expected, rate = langevin_moment(p, field.field(result.times), field.field_rate(result.times))
    assert np.abs(result.moment - expected).max() <= 3e-5
    assert np.abs(result.moment[:, 2]).max() > 0.1  # the z drive moves the moment out of the plane


def test_a_three_channel_drive_along_one_axis_is_the_rotated_one_channel_solve():
    # only the y channel of a 3-channel drive (dividers 105, 42, 70) is on: the inactive channels add no
    # field and do not lengthen the cycle (42 samples); rotated by −90° about z it is a 1-channel x drive
    # of divider 42 with the easy axis rotated alike
    p = Particle(20e-9, 1100.0)
    axis = easy_axis_vector(30.0)
    three = solve(p, Excitation((0.0, 12e-3, 0.0), (105, 42, 70)), axis, rtol=1e-7, check=False)
    q = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # y → x
    one = solve(p, Excitation((12e-3,), (42,)), q @ axis, rtol=1e-7, check=False)
    assert three.moment.shape == one.moment.shape == (42, 3)
    assert np.abs(three.moment @ q.T - one.moment).max() <= 1e-4


def test_the_2d_drive_embedded_in_the_3d_cycle_repeats_the_2d_solve():
    # dividers 102, 96 and a z channel of divider 99 driven at 1 pT (numerically nothing, but active, so
    # the cycle is the 3D mode's 53,856 samples): it holds 33 cycles of the 2D drive, which the solve over
    # the long cycle must repeat
    p, axis = Particle(22e-9, 1100.0), easy_axis_vector(30.0)
    # (the difference is the solvers' error: 9.6e-5 at the default rtol, 6.2e-7 at 1e-6, 6.6e-8 at 1e-7)
    embedded = solve(p, Excitation((12.59e-3, 13.55e-3, 1e-12), (102, 96, 99), offset=(5e-3, -3e-3, 0.0)), axis,
                     rtol=1e-6, check=False)
    plain = solve(p, CASE_B_FIELD, axis, degree=embedded.degree, rtol=1e-6, check=False)
    assert embedded.moment.shape == (53_856, 3)
    assert np.abs(embedded.moment - np.tile(plain.moment, (33, 1))).max() <= 1e-5


def test_too_small_degree_is_caught_not_returned():
    p = Particle(28e-9, 9000.0)  # σ ≈ 26
    with pytest.raises(SolverError, match="unstable truncation.*L=6"):
        solve(p, Excitation.bruker(), easy_axis_vector(30.0), degree=6)
    with pytest.raises(SolverError, match=r"\|<m>\| exceeded"):
        solve(p, Excitation.bruker(), easy_axis_vector(30.0), degree=12)


def test_default_tolerance_tightens_with_the_barrier():
    assert default_rtol(0.0) == default_rtol(1.5) == 1e-4
    assert default_rtol(4.8) < 1e-5 and default_rtol(11.4) < 1.2e-6
    assert default_rtol(40.0) >= 1e-6 * 0.99


def test_spectrum_has_817_bins_and_mixing_orders():
    rate = np.random.default_rng(0).standard_normal((1632, 3))
    spec = spectrum(rate)
    assert spec.shape == (2, 817)
    np.testing.assert_allclose(spec[0], np.fft.rfft(rate[:, 0]) / 1632)
    bins = mixing_bins((102, 96), 9, 9)
    assert len(bins) == 100 - 3
    assert {(1, 0), (0, 1), (0, 0)}.isdisjoint({(mx, my) for mx, my, _ in bins})
    assert all(k == 16 * mx + 17 * my for mx, my, k in bins)


def test_block_rows_equal_single_solves_and_grid_order():
    from mpisweep.physics.block import offset_grid, simulate_block

    offsets = offset_grid((-10e-3, 10e-3), (-4e-3, 4e-3), 3, 2)
    assert offsets.shape == (2, 3, 3)
    assert offsets[0, 2, 0] == 10e-3 and offsets[1, 0, 1] == 4e-3  # x fastest, y rows
    field = Excitation((12e-3,), (100,), 2.5e6, samples=100)
    particle = Particle(18e-9, 2000.0)
    bins = np.array([1, 3, 5])
    block = simulate_block(particle, field, [0.0, 60.0], offsets, bins, rtol=1e-5)
    assert block.rows.shape == (2, 2, 3, 2, 3)
    single = solve(particle, field.with_offset(offsets[1, 2]), easy_axis_vector(60.0),
                   degree=int(block.degrees[1, 2]), rtol=1e-5, check=False)
    np.testing.assert_allclose(block.rows[1, :, :, 1, 2], spectrum(single.rate)[:, bins], rtol=1e-12)
    assert block.max_periodicity < 1e-5
    # Per-offset degrees may also be given as an (offset_y, offset_x) array.
    given = block.degrees + 2
    finer = simulate_block(particle, field, [60.0], offsets, bins, degree=given, rtol=1e-5)
    np.testing.assert_array_equal(finer.degrees, given)
    one = solve(particle, field.with_offset(offsets[0, 1]), easy_axis_vector(60.0),
                degree=int(given[0, 1]), rtol=1e-5, check=False)
    np.testing.assert_allclose(finer.rows[0, :, :, 0, 1], spectrum(one.rate)[:, bins], rtol=1e-12)
