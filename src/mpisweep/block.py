"""Dictionary rows for one (D, K): every easy-axis angle × every offset of the grid.

One simulate job of the sweep is one block: the operator is built once (its
truncation degree chosen for the strongest field of the whole block, so that
every row of the block shares one L), checked once for stability, and reused
for all angles and offsets; only the field is rotated.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np

from .excitation import Excitation
from .operator import build_operator, easy_axis_vector, rotation_to_easy_axis
from .params import Particle
from .solver import SolverError, auto_degree, check_stability, default_rtol, solve
from .spectra import spectrum


@dataclass
class BlockResult:
    rows: np.ndarray  # complex (angle, channel, frequency, offset_y, offset_x)
    degree: int
    rtol: float
    max_periodicity: float
    steps: int
    wall_time: float


def offset_grid(x_range, y_range, nx: int, ny: int) -> np.ndarray:
    """Equidistant offsets (ny, nx, 3) in tesla, x varying fastest; ranges are (min, max) in T."""
    xs = np.linspace(x_range[0], x_range[1], nx)
    ys = np.linspace(y_range[0], y_range[1], ny)
    grid = np.zeros((ny, nx, 3))
    grid[..., 0] = xs[None, :]
    grid[..., 1] = ys[:, None]
    return grid


def block_degree(particle: Particle, excitation: Excitation, offsets: np.ndarray) -> int:
    """One truncation degree for the block: the automatic L at the block's strongest field."""
    strongest = max(excitation.with_offset(o).max_field() for o in offsets.reshape(-1, 3))
    return auto_degree(particle, strongest)


def simulate_block(
    particle: Particle,
    excitation: Excitation,
    angles_deg,
    offsets: np.ndarray,
    bins: np.ndarray,
    degree: int | None = None,
    rtol: float | None = None,
    progress: bool = False,
) -> BlockResult:
    """System-matrix rows φ_k (spectra.spectrum convention) at the rfft bins `bins`."""
    start = time.perf_counter()
    angles = np.atleast_1d(np.asarray(angles_deg, dtype=float))
    offsets = np.asarray(offsets, dtype=float)
    ny, nx = offsets.shape[:2]
    bins = np.asarray(bins, dtype=int)
    if degree is None:
        degree = block_degree(particle, excitation, offsets)
    if rtol is None:
        rtol = default_rtol(particle.sigma)
    op = build_operator(particle, int(degree))
    # Stability once per block, at the strongest field any row sees (and at zero field).
    strongest = max(
        (excitation.with_offset(o).field(excitation.times) for o in offsets.reshape(-1, 3)),
        key=lambda b: np.max(np.linalg.norm(b, axis=1)),
    )
    peak = strongest[np.argmax(np.linalg.norm(strongest, axis=1))]
    fields = [rotation_to_easy_axis(easy_axis_vector(a)) @ peak for a in angles[:2]] + [np.zeros(3)]
    worst = check_stability(op, fields)
    if worst > 1e-6:
        raise SolverError(
            f"unstable truncation for {particle.describe()} at degree L={degree}: "
            f"eigenvalue real part {worst:.3g}/τ > 0; raise the degree"
        )

    rows = np.zeros((angles.size, 2, bins.size, ny, nx), dtype=complex)
    periodicity = 0.0
    steps = 0
    total = angles.size * ny * nx
    done = 0
    for a, angle in enumerate(angles):
        axis = easy_axis_vector(angle)
        for iy in range(ny):
            for ix in range(nx):
                res = solve(particle, excitation.with_offset(offsets[iy, ix]), axis,
                            degree=degree, rtol=rtol, check=False)
                rows[a, :, :, iy, ix] = spectrum(res.rate)[:, bins]
                periodicity = max(periodicity, res.periodicity)
                steps += res.stats["steps"]
                done += 1
                if progress and (done % max(1, total // 20) == 0 or done == total):
                    elapsed = time.perf_counter() - start
                    print(
                        f"  {particle.describe()}: {done}/{total} solves, {elapsed:.1f} s, "
                        f"eta {elapsed / done * (total - done):.0f} s",
                        file=sys.stderr,
                        flush=True,
                    )
    return BlockResult(rows, int(degree), float(rtol), periodicity, steps, time.perf_counter() - start)
