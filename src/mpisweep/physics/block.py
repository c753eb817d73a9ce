"""Dictionary rows for one (D, K): every easy axis × every offset of the grid.

One simulate job of the sweep is one block: the particle's operator is built
once per truncation degree (chosen per offset from that trajectory's strongest
field), its spectrum is checked once per degree, and it is reused for all angles
and offsets; only the field is rotated. Where the drive has the π-rotation symmetry of
physics.symmetry, one of each pair (n, o) ↔ (R·n, R·o) in the grid is solved and the
other's rows follow exactly from it (737 of the paper grid's 1452 solves per block).
Easy axes are in-plane angles or 3D unit vectors; the offset grid has any dimension
(..., 3); the receive channels are any of the axes x, y, z.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from .distribution import EasyAxisDistribution
from .excitation import Excitation
from .operator import build_operator, rotation_to_easy_axis
from .params import AnyParticle
from .solver import MAX_DEGREE, auto_degree, limit_degree, particle_rtol, require_stable, solve
from .spectra import spectrum
from .symmetry import easy_axes, mirror_symmetry, partner_table, solve_plan


@dataclass
class BlockResult:
    """The system-matrix rows of one particle over easy axes × offsets, as
    :func:`mpisweep.simulate_block` returns them.

    Attributes
    ----------
    rows : numpy.ndarray
        Complex rows φ_k, shape (axis, channel, frequency) + the grid: one per easy axis, receive
        channel and requested rfft bin, over the offset grid (``(offset_y, offset_x)``, with
        ``offset_z`` first on a 3D grid). φ_k is the rfft of d⟨m⟩/dt divided by the samples per
        cycle (:func:`mpisweep.spectrum`), in 1/s.
    degrees : numpy.ndarray
        Truncation degree L per offset, the grid's shape (the largest any of its solves ran at).
    rtol : float
        The integrator's relative tolerance.
    max_periodicity : float
        Largest distance to the periodic state of the solves (:attr:`~mpisweep.physics.solver.SolveResult.periodicity`).
    steps : int
        Integrator steps of all solves.
    wall_time : float
        Wall-clock time, in s.
    solves : int
        Rows solved.
    derived : int
        Rows derived from their mirror partner instead of solved; solves + derived = all rows.
    mirror : str or None
        Axis ("x", "y", "z") of the π rotation that paired the rows, or None (no symmetry holds,
        or ``symmetry=False``).
    """

    rows: np.ndarray  # complex (axis, channel, frequency, *grid): grid = (offset_y, offset_x) or with offset_z first
    degrees: np.ndarray  # truncation degree L per offset (the grid's shape)
    rtol: float
    max_periodicity: float
    steps: int
    wall_time: float
    solves: int = 0  # rows solved
    derived: int = 0  # rows derived from their mirror partner (physics.symmetry); solves + derived = all
    mirror: str | None = None  # axis of the mirror rotation in force ("x", "y"); None: none holds, or symmetry=False


def offset_grid(x_range, y_range, nx: int, ny: int, z_range=(0.0, 0.0), nz: int = 1) -> np.ndarray:
    """An equidistant grid of offset fields, x varying fastest.

    Parameters
    ----------
    x_range, y_range : tuple of float
        (min, max) of the offset field along x and y, in T.
    nx, ny : int
        Number of offsets along x and y.
    z_range : tuple of float
        (min, max) along z, in T; a single z point sits at ``z_range[0]``.
    nz : int
        Number of offsets along z.

    Returns
    -------
    numpy.ndarray
        Offset fields in T: (ny, nx, 3), or (nz, ny, nx, 3) when nz > 1.
    """
    xs = np.linspace(x_range[0], x_range[1], nx)
    ys = np.linspace(y_range[0], y_range[1], ny)
    zs = np.linspace(z_range[0], z_range[1], nz)
    grid = np.zeros((nz, ny, nx, 3))
    grid[..., 0] = xs[None, None, :]
    grid[..., 1] = ys[None, :, None]
    grid[..., 2] = zs[:, None, None]
    return grid if nz > 1 else grid[0]


def simulate_block(
    particle: AnyParticle,
    excitation: Excitation,
    axes,
    offsets: np.ndarray,
    bins: np.ndarray,
    degree: int | np.ndarray | None = None,
    rtol: float | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    symmetry: bool = True,
    max_degree: int | None = MAX_DEGREE,
    channels=(0, 1),
    check: bool = True,
) -> BlockResult:
    """System-matrix rows of one particle for every easy axis × offset: one dictionary block.

    Parameters
    ----------
    particle : Particle or BrownParticle
        The particle (SI units).
    excitation : Excitation
        The drive; its own offset is replaced by each of `offsets`.
    axes : array_like or ~mpisweep.EasyAxisDistribution
        In-plane easy-axis angles in degrees from x (a 1-D list), (A, 3) easy-axis vectors, or a
        distribution of easy axes (random, field-aligned), whose averaged rows are one entry.
    offsets : numpy.ndarray
        (..., 3) offset fields in T, e.g. from :func:`~mpisweep.offset_grid`; the rows keep its
        shape.
    bins : numpy.ndarray
        The rfft bins k to keep, e.g. ``mixing_bins(...)[:, -1]``.
    degree : int or numpy.ndarray, optional
        Truncation degree L, one for all or one per offset (default :func:`~mpisweep.auto_degree`
        at each offset's strongest field).
    rtol : float, optional
        Relative tolerance (default :func:`~mpisweep.default_rtol` of σ).
    progress : callable, optional
        ``progress(done, total, elapsed_s)``, called after every row, solved or derived, so that
        ``done`` reaches ``total``.
    symmetry : bool
        Derive the rows of mirror partners (easy axes compared up to sign, offsets on the grid to
        1e-12 T, same truncation degree) where a π rotation maps this drive onto itself; False
        solves every row.
    max_degree : int or None
        A degree above this is refused before any solve (:class:`~mpisweep.errors.DegreeError`);
        None: no limit.
    channels : tuple of int
        The receive channels' axes (0, 1, 2 = x, y, z).
    check : bool
        Check the operator's spectrum once per degree (that it is stable at the strongest field);
        the rows are the same without it. The screening level of multi-fidelity rounds leaves it to the
        full-fidelity blocks, where it costs a small share.

    Returns
    -------
    ~mpisweep.physics.block.BlockResult
        ``rows`` of shape (axis, channel, bin) + the offset grid, complex, in 1/s.
    """
    if isinstance(axes, EasyAxisDistribution):
        return _simulate_distribution(axes, particle, excitation, offsets, bins, degree, progress, channels,
                                      rtol=rtol, symmetry=symmetry, max_degree=max_degree, check=check)
    start = time.perf_counter()
    vectors = easy_axes(axes)
    offsets = np.asarray(offsets, dtype=float)
    grid = offsets.shape[:-1]
    channels = tuple(int(c) for c in channels)
    bins = np.asarray(bins, dtype=int)
    if rtol is None:
        rtol = particle_rtol(particle)
    # Truncation degree per offset: automatic from that trajectory's strongest field, or given
    # (one int, or an (offset_y, offset_x) array). The spectrum is checked once per degree,
    # at the strongest field using it.
    trajectories = [excitation.with_offset(o) for o in offsets.reshape(-1, 3)]
    if degree is None:
        degrees = np.array([auto_degree(particle, ex.max_field()) for ex in trajectories])
    else:
        degrees = np.broadcast_to(np.asarray(degree, dtype=int), grid).ravel()
    worst = int(np.argmax(degrees))
    limit_degree(int(degrees[worst]), max_degree,
                 f"{particle.describe()}, strongest field {trajectories[worst].max_field() * 1e3:.4g} mT")
    for L in np.unique(degrees) if check else ():
        users = [ex for ex, d in zip(trajectories, degrees) if d == L]
        fields = max((ex.field(ex.times) for ex in users), key=lambda b: np.linalg.norm(b, axis=1).max())
        peak = fields[np.argmax(np.linalg.norm(fields, axis=1))]
        checks = [rotation_to_easy_axis(n) @ peak for n in vectors[:2]] + [np.zeros(3)]
        require_stable(build_operator(particle, int(L)), checks,
                       f"{particle.describe()}, degree L={L}", "raise the degree")
    degrees = degrees.reshape(grid).astype(np.int64)
    automatic = degree is None

    flat_offsets = offsets.reshape(-1, 3)
    flat_degrees = degrees.ravel()
    used = degrees.copy()  # what the solves ran at (slow Néel hopping raises it: physics.solver.SLOW_DEGREE_EXTRA)
    n_offsets = flat_offsets.shape[0]
    rows = np.zeros((vectors.shape[0], len(channels), bins.size, n_offsets), dtype=complex)
    periodicity = 0.0
    steps = 0
    total = vectors.shape[0] * n_offsets
    mirror = mirror_symmetry(excitation) if symmetry else None
    if mirror is None:
        partner = np.full(total, -1, dtype=np.int64)
    else:
        partner = partner_table(mirror, vectors, offsets, degrees).ravel()
    source = solve_plan(partner)
    done = solves = derived = 0
    for a, axis in enumerate(vectors):
        for j in range(n_offsets):
            i = a * n_offsets + j
            if source[i] != i:
                continue  # derived right after its partner was solved
            res = solve(particle, excitation.with_offset(flat_offsets[j]), axis,
                        degree=int(flat_degrees[j]), rtol=rtol, check=False, max_degree=None,
                        slow_degree=automatic)
            rows[a, :, :, j] = spectrum(res.rate, channels)[:, bins]
            periodicity = max(periodicity, res.periodicity)
            used.flat[j] = max(int(used.flat[j]), res.degree)
            steps += res.stats["steps"]
            solves += 1
            done += 1
            if progress is not None:
                progress(done, total, time.perf_counter() - start)
            p = int(partner[i])
            if p >= 0 and p != i and source[p] == i:
                rows[p // n_offsets, :, :, p % n_offsets] = mirror.rows(rows[a, :, :, j], bins, channels)
                derived += 1
                done += 1
                if progress is not None:
                    progress(done, total, time.perf_counter() - start)
    rows = rows.reshape(rows.shape[:3] + grid)
    return BlockResult(rows, used, float(rtol), periodicity, steps, time.perf_counter() - start,
                       solves=solves, derived=derived, mirror=None if mirror is None else mirror.axis)


def _simulate_distribution(distribution: EasyAxisDistribution, particle, excitation, offsets, bins, degree,
                           progress, channels, **options) -> BlockResult:
    """One entry of rows (1, channel, bin, *grid): the distribution's weighted average of aligned rows,
    solved group by group of its plan (:meth:`~mpisweep.physics.distribution.EasyAxisDistribution.plan`)."""
    start = time.perf_counter()
    offsets = np.asarray(offsets, dtype=float)
    grid = offsets.shape[:-1]
    flat = offsets.reshape(-1, 3)
    channels = tuple(int(c) for c in channels)
    bins = np.asarray(bins, dtype=int)
    given = None if degree is None else np.broadcast_to(np.asarray(degree, dtype=int), grid).ravel()
    plan = distribution.plan(excitation, flat, particle.sigma)
    rows = np.zeros((1, len(channels), bins.size, flat.shape[0]), dtype=complex)
    used = np.zeros(flat.shape[0], dtype=np.int64)
    total, done = plan.solves, 0
    parts = []
    for group in plan.groups:
        report = None if progress is None else (
            lambda n, _total, _elapsed, base=done: progress(base + n, total, time.perf_counter() - start))
        part = simulate_block(particle, excitation, group.axes, flat[group.offsets], bins,
                              degree=None if given is None else given[group.offsets], progress=report,
                              channels=channels, **options)
        rows[0][..., group.offsets] = np.tensordot(group.weights, part.rows, axes=(0, 0))
        used[group.offsets] = part.degrees
        done += group.axes.shape[0] * group.offsets.size
        parts.append(part)
    rows[0, plan.averaged_out(channels)] = 0.0  # the average over the azimuth about the common axis
    return BlockResult(rows.reshape(rows.shape[:3] + grid), used.reshape(grid), parts[0].rtol,
                       max(p.max_periodicity for p in parts), sum(p.steps for p in parts),
                       time.perf_counter() - start, solves=sum(p.solves for p in parts),
                       derived=sum(p.derived for p in parts), mirror=parts[0].mirror)


def simulate_varying_drive(particle: AnyParticle, excitation: Excitation, axes, offsets: np.ndarray,
                           amplitude: np.ndarray, bins: np.ndarray, degree: int | np.ndarray | None = None,
                           progress: Callable[[int, int, float], None] | None = None, **options) -> BlockResult:
    """:func:`simulate_block` where the drive amplitude varies over the offsets: `amplitude` (the grid's shape)
    multiplies every drive channel at each offset, as a drive coil that is not homogeneous over the field of
    view. A uniform 1 is one block; otherwise each offset is a block of its own (no mirror pairs)."""
    offsets = np.asarray(offsets, dtype=float)
    grid = offsets.shape[:-1]
    amplitude = np.broadcast_to(np.asarray(amplitude, dtype=float), grid)
    if np.all(amplitude == 1.0):
        return simulate_block(particle, excitation, axes, offsets, bins, degree=degree, progress=progress, **options)
    start = time.perf_counter()
    flat, scale = offsets.reshape(-1, 3), amplitude.ravel()
    given = None if degree is None else np.broadcast_to(np.asarray(degree, dtype=int), grid).ravel()
    parts = []
    for i in range(flat.shape[0]):
        drive = replace(excitation, amplitudes=tuple(a * scale[i] for a in excitation.amplitudes))
        parts.append(simulate_block(particle, drive, axes, flat[i:i + 1], bins,
                                    degree=None if given is None else given[i:i + 1], **options))
        if progress is not None:
            progress(i + 1, flat.shape[0], time.perf_counter() - start)
    rows = np.concatenate([p.rows for p in parts], axis=-1)
    return BlockResult(rows.reshape(rows.shape[:3] + grid), np.concatenate([p.degrees for p in parts]).reshape(grid),
                       parts[0].rtol, max(p.max_periodicity for p in parts), sum(p.steps for p in parts),
                       time.perf_counter() - start, solves=sum(p.solves for p in parts),
                       derived=sum(p.derived for p in parts), mirror=None)
