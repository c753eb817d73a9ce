"""Workflow step `m0a_dictionary`: the anisotropic-equilibrium (M0a) rows ``m0a.zarr`` (diameter,
anisotropy, angle, channel, frequency, offset_y, offset_x), same layout and spectrum convention as
the Fokker–Planck dictionary ``fp.zarr``.

M0a is the static Boltzmann equilibrium with uniaxial anisotropy, f ∝ exp(ξ h·m + σ (n·m)²)
(the stationary solution of the paper's Fokker–Planck eq. 4 for a constant field), followed
instantaneously by the particle: no Néel relaxation. It sits between M0 (Langevin, paper eq. 7:
σ = 0) and M1 (paper eq. 10): it knows K and the easy axis ϑ, hence the angle dependence, but
not the lag of the relaxation. d⟨m⟩/dt = J(B)·dB/dt with the exact susceptibility
J = β·Cov(m) (fluctuation–dissipation), and φ_k = rfft(d⟨m⟩/dt)/N at the evaluation bins.

Cost: the sphere quadrature is :class:`~mpisweep.physics.equilibrium.AxialBoltzmannQuadrature`
(the azimuth in closed form, Gauss–Legendre in n·m), sized per (D, K) by :func:`quadrature_size`
from the block's largest ξ and σ. It gives the moments of the 2D quadrature
:class:`~mpisweep.physics.equilibrium.BoltzmannQuadrature` (Gauss–Legendre × trapezoid) to
rounding, with one evaluation per node instead of one per node and azimuth (1/24 to 1/66 of them
on the paper's grid): 8–17 s per (D, K) there, 2.5 core-hours for the whole grid, spread over
``workers`` processes.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ...physics.distribution import AxisGroup, AxisPlan
from ...physics.equilibrium import AxialBoltzmannQuadrature
from ...physics.params import Particle
from ...physics.spectra import spectrum
from ...sweep.config import Sweep
from ...sweep.coords import row_shape, store_attrs
from ...sweep.names import block_name
from .assemble import write_rows


def quadrature_size(xi_max: float, sigma: float) -> tuple[int, int]:
    """(Gauss–Legendre nodes, azimuths) for ξ ≤ ``xi_max`` and anisotropy σ (the axial quadrature
    uses the nodes only).

    Rule: nodes = 3.5 √(ξ_max + 2σ) + 8, rounded up to a multiple of 4 (at least 16), azimuths
    = 3/2 nodes. Measured against a 240 × 360 quadrature on the default grid's trajectory with the
    strongest field (rows at all bins, relative to the largest): ≤ 3e-13 for (ξ, σ) from (5, 0.5)
    to (100, 60) and (20, 80) (as many azimuths as nodes: ≤ 5e-11 there, but 3e-9 for ⟨m⟩ at
    ξ = 60, σ = 30 with the field normal to the easy axis; half as many: up to 3e-4); ⟨m⟩ of
    tests/data/equilibrium.csv to ≤ 5e-11. The paper's grid (D ≤ 28 nm, K ≤ 9000 J/m³,
    |B| ≤ 39 mT) has ξ ≤ 53, σ ≤ 26: at most 44 × 66 nodes instead of the class default 200 × 256.
    """
    s = max(0.0, float(xi_max)) + 2.0 * max(0.0, float(sigma))
    nodes = max(16, 4 * math.ceil((3.5 * math.sqrt(s) + 8.0) / 4.0))
    return nodes, 3 * nodes // 2


def m0a_rows(sweep: Sweep, diameter_nm: float, anisotropy: float, nodes: int | None = None) -> np.ndarray:
    """M0a rows (angle, channel, frequency, *offset grid) for one (D, K).

    ``nodes``: Gauss–Legendre nodes of the axial quadrature; default :func:`quadrature_size`'s at
    the block's strongest field.
    """
    particle: Particle = sweep.particle(diameter_nm, anisotropy)
    offsets = sweep.offsets
    bins = sweep.bin_indices
    t = sweep.excitation.times
    trajectories = [sweep.excitation.with_offset(o) for o in offsets.reshape(-1, 3)]
    if nodes is None:
        nodes, _ = quadrature_size(particle.beta * max(ex.max_field() for ex in trajectories), particle.sigma)
    field = np.stack([ex.field(t) for ex in trajectories])  # (offsets, samples, 3)
    rate = np.stack([ex.field_rate(t) for ex in trajectories])
    if sweep.distribution is None:  # one plan per easy axis: that axis at every offset
        everywhere = np.arange(len(trajectories))
        entries = [AxisPlan((AxisGroup(axis[None, :], np.ones(1), everywhere),)) for axis in sweep.easy_axes]
    else:
        entries = [sweep.distribution.plan(sweep.excitation, offsets, particle.sigma)]
    channels = sweep.scanner.receive_axes
    out = np.zeros((len(entries), len(channels), bins.size, len(trajectories)), dtype=np.complex128)
    for ia, plan in enumerate(entries):
        for group in plan.groups:
            for axis, weight in zip(group.axes, group.weights):
                _, dm = AxialBoltzmannQuadrature(particle, axis, nodes=nodes).moments(field[group.offsets],
                                                                                     rate[group.offsets])
                for k, io in enumerate(group.offsets):
                    out[ia, :, :, io] += weight * spectrum(dm[k], channels)[:, bins]
        out[ia, plan.averaged_out(channels)] = 0.0  # the average over the azimuth about the common axis
    return out.reshape(out.shape[:3] + sweep.offset_grid.shape)


def build_m0a(sweep: Sweep, output=None, blocks=None, progress=None, workers: int = 1) -> Path:
    """The (D, K) entries of the grid → ``m0a.zarr`` (default ``layout.m0a``), written atomically.

    ``blocks``: the block names a refined sweep simulated (config refine); the others are missing,
    NaN, as in its ``fp.zarr``, so that M0a is fitted over the same entries as M1. Default: every
    block of the grid. The entries are computed by ``workers`` processes and written one at a time
    (a few of them in memory, not the whole tensor); ``progress(done, total, elapsed_s)`` is called
    after each entry.
    """
    output = Path(output) if output is not None else sweep.layout.m0a
    g = sweep.grids
    wanted = None if blocks is None else set(blocks)
    names = [[block_name(d, k, sweep.parameter.symbol) for k in g.anisotropies_Jm3] for d in g.diameters_nm]
    todo = [(i, j) for i in range(len(names)) for j in range(len(names[i])) if wanted is None or names[i][j] in wanted]
    entries = _entries(sweep, [(g.diameters_nm[i], g.anisotropies_Jm3[j]) for i, j in todo], workers)
    start, done, todo_set = time.perf_counter(), 0, set(todo)

    def block_rows(i, j):  # called in (i, j) order, as `todo` is
        nonlocal done
        if (i, j) not in todo_set:
            return np.full(row_shape(sweep), np.nan + 0j)
        rows = next(entries)
        done += 1
        if progress is not None:
            progress(done, len(todo), time.perf_counter() - start)
        return rows

    attrs = {**store_attrs(sweep), "model": "anisotropic equilibrium (M0a)"}
    if wanted is not None:
        attrs["missing_blocks"] = json.dumps([n for row in names for n in row if n not in wanted])
    return write_rows(sweep, output, block_rows, attrs=attrs,
                      long_name="anisotropic-equilibrium system-matrix rows (spectrum convention)")


def _entries(sweep: Sweep, entries, workers: int):
    """m0a_rows of each (D, K) in order; with ``workers`` > 1 from a process pool, a few ahead."""
    if workers <= 1:
        yield from (m0a_rows(sweep, d, k) for d, k in entries)
        return
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(sweep.to_dict(),)) as pool:
        ahead = deque()
        for d, k in entries:
            ahead.append(pool.submit(_worker_rows, d, k))
            if len(ahead) > 2 * workers:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


_WORKER_SWEEP: Sweep | None = None


def _init_worker(resolved: dict) -> None:
    global _WORKER_SWEEP
    _WORKER_SWEEP = Sweep.from_dict(resolved)


def _worker_rows(d: float, k: float) -> np.ndarray:
    return m0a_rows(_WORKER_SWEEP, d, k)
