"""Dictionary rows for one (D, K): every easy-axis angle × every offset of the grid.

One simulate job of the sweep is one block: the particle's operator is built
once per truncation degree (chosen per offset from that trajectory's strongest
field), its spectrum is checked once per degree, and it is reused for all angles
and offsets; only the field is rotated. Where the drive has the mirror symmetry of
physics.symmetry, one of each pair (ϑ, o) ↔ (180° − ϑ, R·o) in the grid is solved and the
other's rows follow exactly from it (737 of the paper grid's 1452 solves per block).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .excitation import Excitation
from .operator import build_operator, easy_axis_vector, rotation_to_easy_axis
from .params import AnyParticle
from .solver import MAX_DEGREE, auto_degree, limit_degree, particle_rtol, require_stable, solve
from .spectra import spectrum
from .symmetry import mirror_symmetry, partner_table, solve_plan


@dataclass
class BlockResult:
    rows: np.ndarray  # complex (angle, channel, frequency, offset_y, offset_x)
    degrees: np.ndarray  # truncation degree L per offset (offset_y, offset_x)
    rtol: float
    max_periodicity: float
    steps: int
    wall_time: float
    solves: int = 0  # rows solved
    derived: int = 0  # rows derived from their mirror partner (physics.symmetry); solves + derived = all
    mirror: str | None = None  # axis of the mirror rotation in force ("x", "y"); None: none holds, or symmetry=False


def offset_grid(x_range, y_range, nx: int, ny: int) -> np.ndarray:
    """Equidistant offsets (ny, nx, 3) in tesla, x varying fastest; ranges are (min, max) in T."""
    xs = np.linspace(x_range[0], x_range[1], nx)
    ys = np.linspace(y_range[0], y_range[1], ny)
    grid = np.zeros((ny, nx, 3))
    grid[..., 0] = xs[None, :]
    grid[..., 1] = ys[:, None]
    return grid


def simulate_block(
    particle: AnyParticle,
    excitation: Excitation,
    angles_deg,
    offsets: np.ndarray,
    bins: np.ndarray,
    degree: int | np.ndarray | None = None,
    rtol: float | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    symmetry: bool = True,
    max_degree: int | None = MAX_DEGREE,
) -> BlockResult:
    """System-matrix rows φ_k (spectra.spectrum convention) at the rfft bins `bins`.

    `progress(done, total, elapsed_s)` is called after every row, solved or derived, so `done`
    reaches `total` (the caller decides what to show). `symmetry`: derive the rows of mirror
    partners (angles compared modulo 180°, offsets on the grid to 1e-12 T, same truncation degree)
    where physics.symmetry.mirror_symmetry holds for this drive; False solves every row.
    A degree above `max_degree` (None: no limit) is refused before any solve (DegreeError).
    """
    start = time.perf_counter()
    angles = np.atleast_1d(np.asarray(angles_deg, dtype=float))
    offsets = np.asarray(offsets, dtype=float)
    ny, nx = offsets.shape[:2]
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
        degrees = np.broadcast_to(np.asarray(degree, dtype=int), (ny, nx)).ravel()
    worst = int(np.argmax(degrees))
    limit_degree(int(degrees[worst]), max_degree,
                 f"{particle.describe()}, strongest field {trajectories[worst].max_field() * 1e3:.4g} mT")
    for L in np.unique(degrees):
        users = [ex for ex, d in zip(trajectories, degrees) if d == L]
        fields = max((ex.field(ex.times) for ex in users), key=lambda b: np.linalg.norm(b, axis=1).max())
        peak = fields[np.argmax(np.linalg.norm(fields, axis=1))]
        checks = [rotation_to_easy_axis(easy_axis_vector(a)) @ peak for a in angles[:2]] + [np.zeros(3)]
        require_stable(build_operator(particle, int(L)), checks,
                       f"{particle.describe()}, degree L={L}", "raise the degree")
    degrees = degrees.reshape(offsets.shape[:2]).astype(np.int64)

    rows = np.zeros((angles.size, 2, bins.size, ny, nx), dtype=complex)
    periodicity = 0.0
    steps = 0
    total = angles.size * ny * nx
    shape = (angles.size, ny, nx)
    mirror = mirror_symmetry(excitation) if symmetry else None
    if mirror is None:
        partner = np.full(total, -1, dtype=np.int64)
    else:
        partner = partner_table(mirror, angles, offsets, degrees).ravel()
    source = solve_plan(partner)
    done = solves = derived = 0
    for a, angle in enumerate(angles):
        axis = easy_axis_vector(angle)
        for iy in range(ny):
            for ix in range(nx):
                i = np.ravel_multi_index((a, iy, ix), shape)
                if source[i] != i:
                    continue  # derived right after its partner was solved
                res = solve(particle, excitation.with_offset(offsets[iy, ix]), axis,
                            degree=int(degrees[iy, ix]), rtol=rtol, check=False, max_degree=None)
                rows[a, :, :, iy, ix] = spectrum(res.rate)[:, bins]
                periodicity = max(periodicity, res.periodicity)
                steps += res.stats["steps"]
                solves += 1
                done += 1
                if progress is not None:
                    progress(done, total, time.perf_counter() - start)
                p = int(partner[i])
                if p >= 0 and p != i and source[p] == i:
                    pa, piy, pix = np.unravel_index(p, shape)
                    rows[pa, :, :, piy, pix] = mirror.rows(rows[a, :, :, iy, ix], bins)
                    derived += 1
                    done += 1
                    if progress is not None:
                        progress(done, total, time.perf_counter() - start)
    return BlockResult(rows, degrees, float(rtol), periodicity, steps, time.perf_counter() - start,
                       solves=solves, derived=derived, mirror=None if mirror is None else mirror.axis)
