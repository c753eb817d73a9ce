"""Mirror symmetry of the Lissajous drive (physics.symmetry): derived rows equal direct solves."""

import numpy as np
import pytest

from mpisweep.physics.block import offset_grid, simulate_block
from mpisweep.physics.excitation import Excitation
from mpisweep.physics.operator import easy_axis_vector
from mpisweep.physics.params import Particle
from mpisweep.physics.solver import auto_degree, solve
from mpisweep.physics.spectra import mixing_bins, spectrum
from mpisweep.physics.symmetry import Mirror, mirror_symmetry, partner_table, period_counts, rotations, solve_plan

BRUKER = Excitation.bruker()  # 16 periods on x, 17 on y: rotation about x
SWAPPED = Excitation((13.55e-3, 12.59e-3), (96, 102), phases=(0.4, -1.2))  # 17 and 16: rotation about y
ODD = Excitation((12e-3, 13e-3), (85, 51), samples=510)  # 3 and 5 periods: rotation about z
THREE_D = Excitation((12e-3, 11e-3, 9e-3), (105, 42, 70))  # 2, 5, 3 periods: rotation about x
NONE_3D = Excitation((12e-3, 11e-3, 9e-3), (90, 60, 45))  # 2, 3, 4 periods: none
BINS = mixing_bins((102, 96), 3, 3)[:, 2]  # even and odd k


def channel_error(a, b):
    """max |a − b| over the bins, relative to max |b|, worst channel (axis 0 of the last two dims)."""
    a, b = np.asarray(a), np.asarray(b)
    return max(np.abs(a[..., c, :] - b[..., c, :]).max() / np.abs(b[..., c, :]).max() for c in range(2))


def test_condition_from_dividers_amplitudes_and_samples():
    assert period_counts(BRUKER) == (16, 17)
    assert mirror_symmetry(BRUKER) == Mirror("x")
    assert mirror_symmetry(SWAPPED) == Mirror("y")
    # phases do not enter
    assert mirror_symmetry(Excitation(BRUKER.amplitudes, BRUKER.dividers, phases=(1.0, 2.0))) == Mirror("x")
    # both counts odd (3 and 5): the rotation about z, which keeps the in-plane easy axis. (Both even
    # cannot happen: n_i = lcm/divider_i have no common factor.)
    assert period_counts(ODD) == (3, 5) and rotations(ODD) == [Mirror("z")]
    assert mirror_symmetry(Excitation((12e-3, 13e-3), (102, 102))) == Mirror("z")  # 1 and 1
    # a channel with zero amplitude imposes nothing and does not lengthen the cycle: the other channel
    # alone makes one period per cycle (odd), so the rotations about y (x active) or x (y active) hold
    assert Excitation((12e-3, 0.0), (102, 96)).period == 102 / BRUKER.base_frequency
    assert period_counts(Excitation((12e-3, 0.0), (102, 96)))[0] == 1
    assert mirror_symmetry(Excitation((12e-3, 0.0), (102, 96))) == Mirror("y")
    assert mirror_symmetry(Excitation((0.0, 13e-3), (102, 96))) == Mirror("x")
    # the 3-axis record's files: z inactive (divider 99, strength 0), the 2D cycle and its rotation about x
    record = Excitation((12e-3, 13e-3, 0.0), (102, 96, 99))
    assert record.samples == 1632 and record.period == BRUKER.period and mirror_symmetry(record) == Mirror("x")
    assert rotations(Excitation((12e-3,), (100,), samples=100)) == [Mirror("y"), Mirror("z")]  # 1D, x odd
    # 3D drives: (even, odd, odd) has the rotation about x; (even, odd, even) would need a mirror
    assert period_counts(THREE_D) == (2, 5, 3) and mirror_symmetry(THREE_D) == Mirror("x")
    assert period_counts(NONE_3D) == (2, 3, 4) and rotations(NONE_3D) == []
    assert mirror_symmetry(Excitation((12e-3, 13e-3, 1e-3), (102, 96, 51))) is None  # 16, 17, 32
    assert mirror_symmetry(Excitation((12e-3, 13e-3, 0.0), (102, 96, 51))) == Mirror("x")
    # the 3D Bruker drive: 528, 561, 544 periods (even, odd, even): no π rotation, every row is solved
    bruker3d = Excitation((12e-3, 12e-3, 12e-3), (102, 96, 99))
    assert period_counts(bruker3d) == (528, 561, 544) and rotations(bruker3d) == []
    # an odd number of samples puts T/2 between two samples
    assert mirror_symmetry(Excitation(BRUKER.amplitudes, BRUKER.dividers, samples=1631)) is None
    # z offsets pair with their image: (ox, −oy, −oz) about x; a lone z offset has no partner
    both = np.array([[[1e-3, 2e-3, 1e-4], [1e-3, -2e-3, -1e-4]]])
    assert partner_table(Mirror("x"), [30.0, 150.0], both).tolist() == [[[3, 2]], [[1, 0]]]
    assert (partner_table(Mirror("x"), [30.0, 150.0], both[:, :1]) == -1).all()


def test_maps_and_signs():
    mx, my = Mirror("x"), Mirror("y")
    assert [mx.angle(a) for a in (0.0, 15.0, 90.0, 165.0, 180.0)] == [0.0, 165.0, 90.0, 15.0, 0.0]
    np.testing.assert_array_equal(mx.offset([1.0, 2.0, 0.0]), [1.0, -2.0, 0.0])
    np.testing.assert_array_equal(my.offset([1.0, 2.0, 0.0]), [-1.0, 2.0, 0.0])
    np.testing.assert_array_equal(mx.signs([0, 1, 2, 17]), [[1, -1, 1, -1], [-1, 1, -1, 1]])
    np.testing.assert_array_equal(my.signs([0, 1, 2, 17]), [[-1, 1, -1, 1], [1, -1, 1, -1]])
    rows = np.arange(8.0).reshape(2, 2, 2)  # (channel, bin, extra)
    np.testing.assert_array_equal(mx.rows(rows, [2, 3]), rows * mx.signs([2, 3])[..., None])
    mz = Mirror("z")
    assert [mz.angle(a) for a in (0.0, 15.0, 90.0, 180.0)] == [0.0, 15.0, 90.0, 0.0]
    np.testing.assert_array_equal(mz.offset([1.0, 2.0, 3.0]), [-1.0, -2.0, 3.0])
    np.testing.assert_array_equal(mz.signs([0, 1], channels=3), [[-1, 1], [-1, 1], [1, -1]])
    np.testing.assert_array_equal(mx.signs([1], channels=3), [[-1], [1], [1]])


@pytest.mark.parametrize("particle, excitation, angles, solves", [
    (Particle(18e-9, 2000.0), Excitation(BRUKER.amplitudes, BRUKER.dividers, phases=(0.4, -1.2)), [30.0, 150.0], 4),
    (Particle(20e-9, 1000.0), SWAPPED, [0.0, 45.0, 135.0], 6),
])
def test_mirrored_rows_equal_direct_solves(particle, excitation, angles, solves):
    offsets = offset_grid((-5e-3, 5e-3), (-3e-3, 3e-3), 2, 2)
    calls = []
    sym = simulate_block(particle, excitation, angles, offsets, BINS, rtol=1e-7,
                         progress=lambda done, total, t: calls.append((done, total)))
    direct = simulate_block(particle, excitation, angles, offsets, BINS, rtol=1e-7, symmetry=False)
    total = len(angles) * 4
    assert (sym.solves, sym.derived, sym.mirror) == (solves, total - solves, mirror_symmetry(excitation).axis)
    assert (direct.solves, direct.derived, direct.mirror) == (total, 0, None)
    assert calls == [(i + 1, total) for i in range(total)]  # progress counts every row to the total
    assert channel_error(sym.rows, direct.rows) < 2e-6  # rtol 1e-7: the solver's error
    # the signs matter: without them the rows would differ by O(1)
    mirror = mirror_symmetry(excitation)
    assert (mirror.signs(BINS) == 1).any() and (mirror.signs(BINS) == -1).any()


def test_high_barrier_mirrored_rows_equal_direct_solve():
    """σ = 11.4 through simulate_block at the sweep's settings (automatic L, default rtol)."""
    particle = Particle(26e-9, 5000.0)
    assert particle.sigma > 10
    offsets = offset_grid((-7e-3, -7e-3), (-11e-3, 11e-3), 1, 2)
    block = simulate_block(particle, BRUKER, [60.0, 120.0], offsets, BINS)
    assert (block.solves, block.derived) == (2, 2)
    # (120°, (−7, −11) mT) was derived from (60°, (−7, 11) mT)
    direct = solve(particle, BRUKER.with_offset(offsets[0, 0]), easy_axis_vector(120.0),
                   degree=int(block.degrees[0, 0]), rtol=block.rtol, check=False)
    assert channel_error(block.rows[1, :, :, 0, 0], spectrum(direct.rate)[:, BINS]) < 5e-5


def test_highest_barrier_pair_of_direct_solves():
    """σ = 20.5 (L = 36): the relation itself, on two direct solves (a block would add the dense
    stability check of the L = 36 spectrum, ~10 s, to this test)."""
    particle = Particle(26e-9, 9000.0)
    assert particle.sigma > 20
    mirror = mirror_symmetry(BRUKER)
    rows = [spectrum(solve(particle, BRUKER.with_offset(o), easy_axis_vector(a), check=False).rate)[:, BINS]
            for a, o in ((45.0, (5e-3, 5e-3, 0.0)), (135.0, mirror.offset((5e-3, 5e-3, 0.0))))]
    assert channel_error(mirror.rows(rows[0], BINS), rows[1]) < 5e-5


@pytest.mark.parametrize("excitation, offsets, angles, solves", [
    # both period counts odd: the rotation about z pairs (ϑ, o) with (ϑ, −o)
    (ODD, offset_grid((-5e-3, 5e-3), (-3e-3, 3e-3), 2, 2), [30.0, 100.0], 4),
    # a 3D drive (2, 5, 3 periods) and offsets with z: about x, (ϑ, (ox, oy, oz)) ↔ (180° − ϑ, (ox, −oy, −oz))
    (THREE_D, np.array([[[2e-3, 3e-3, 4e-3], [2e-3, -3e-3, -4e-3]]]), [30.0, 150.0], 2),
])
def test_rotated_rows_equal_direct_solves_for_other_drives(excitation, offsets, angles, solves):
    particle = Particle(18e-9, 2000.0)
    bins = np.arange(1, 40)
    sym = simulate_block(particle, excitation, angles, offsets, bins, rtol=1e-7)
    direct = simulate_block(particle, excitation, angles, offsets, bins, rtol=1e-7, symmetry=False)
    assert (sym.solves, sym.mirror) == (solves, mirror_symmetry(excitation).axis)
    for c in range(2):  # rows (angle, channel, bin, offset_y, offset_x)
        error = np.abs(sym.rows[:, c] - direct.rows[:, c]).max() / np.abs(direct.rows[:, c]).max()
        assert error < 2e-6, (c, error)


def test_no_mirroring_where_no_rotation_exists():
    particle = Particle(18e-9, 2000.0)
    offsets = np.array([[[2e-3, 3e-3, 0.0], [2e-3, -3e-3, 0.0]]])
    bins = np.arange(1, 40)
    block = simulate_block(particle, NONE_3D, [30.0, 150.0], offsets, bins, rtol=1e-6)
    assert (block.solves, block.derived, block.mirror) == (4, 0, None)
    # and the relation is indeed false for this drive: R_x with the z mirror is diag(1, −1, 1), which
    # holds only up to the precession term (1.6e-4 relative here, 100× the solver's error)
    derived, solved = Mirror("x").rows(block.rows[0, :, :, 0, 0], bins), block.rows[1, :, :, 0, 1]
    assert np.abs(derived - solved).max() > 2e-5 * np.abs(solved).max()


def test_pairs_need_the_same_degree():
    particle = Particle(18e-9, 2000.0)
    offsets = offset_grid((-5e-3, -5e-3), (-3e-3, 3e-3), 1, 2)  # (0°, (−5, ∓3)) map onto each other
    unequal = simulate_block(particle, BRUKER, [0.0], offsets, BINS, degree=np.array([[10], [12]]), rtol=1e-5)
    assert (unequal.solves, unequal.derived) == (2, 0)
    equal = simulate_block(particle, BRUKER, [0.0], offsets, BINS, degree=np.array([[10], [10]]), rtol=1e-5)
    assert (equal.solves, equal.derived) == (1, 1)
    assert (partner_table(Mirror("x"), [0.0], offsets, np.array([[10], [12]])) == -1).all()


def test_paper_grid_needs_737_of_1452_solves():
    offsets = offset_grid((-14.35e-3, 14.35e-3), (-14.71e-3, 14.71e-3), 11, 11)
    angles = np.arange(0.0, 166.0, 15.0)
    fields = [BRUKER.with_offset(o).max_field() for o in offsets.reshape(-1, 3)]
    for particle in (Particle(14e-9, 100.0), Particle(22e-9, 1100.0), Particle(28e-9, 9000.0)):
        degrees = np.array([auto_degree(particle, f) for f in fields]).reshape(11, 11)
        source = solve_plan(partner_table(mirror_symmetry(BRUKER), angles, offsets, degrees))
        assert source.size == 1452 and np.count_nonzero(source == np.arange(source.size)) == 737
    # angles 0° and 90° map onto themselves with oy → −oy; the oy = 0 row onto itself
    table = partner_table(Mirror("x"), angles, offsets)
    assert table[0, 5, 3] == np.ravel_multi_index((0, 5, 3), table.shape)
    assert table[6, 2, 3] == np.ravel_multi_index((6, 8, 3), table.shape)
    assert table[1, 2, 3] == np.ravel_multi_index((11, 8, 3), table.shape)
