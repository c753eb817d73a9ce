"""Workflow step `m0a_dictionary`: the anisotropic-equilibrium (M0a) rows ``m0a.zarr`` (diameter,
anisotropy, angle, channel, frequency, offset_y, offset_x), same layout and spectrum convention as
the Fokker–Planck dictionary ``fp.zarr``.

M0a is the static Boltzmann equilibrium with uniaxial anisotropy, f ∝ exp(ξ h·m + σ (n·m)²)
(the stationary solution of the paper's Fokker–Planck eq. 4 for a constant field), followed
instantaneously by the particle: no Néel relaxation. It sits between M0 (Langevin, paper eq. 7:
σ = 0) and M1 (paper eq. 10): it knows K and the easy axis ϑ, hence the angle dependence, but
not the lag of the relaxation. d⟨m⟩/dt = J(B)·dB/dt with the exact susceptibility
J = β·Cov(m) (fluctuation–dissipation), and φ_k = rfft(d⟨m⟩/dt)/N at the evaluation bins.

Cost: the sphere quadrature of :class:`~mpisweep.physics.equilibrium.BoltzmannQuadrature`
(Gauss–Legendre in n·m × trapezoid in the azimuth) is sized per (D, K) by
:func:`quadrature_size` from the block's largest ξ and σ, instead of the class's 200 × 256 nodes,
and its second moments are one matrix product: tens of milliseconds per offset and angle.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import xarray as xr

from ...io.atomic import atomic_path
from ...io.stores import ROWS_SHA256, checksum, to_zarr
from ...physics.equilibrium import BoltzmannQuadrature
from ...physics.params import Particle
from ...physics.spectra import spectrum
from ...sweep.config import Sweep
from ...sweep.coords import all_coords, fp_dims, store_attrs


def quadrature_size(xi_max: float, sigma: float) -> tuple[int, int]:
    """(Gauss–Legendre nodes, azimuths) for ξ ≤ ``xi_max`` and anisotropy σ.

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


def m0a_rows(sweep: Sweep, diameter_nm: float, anisotropy: float, size: tuple[int, int] | None = None) -> np.ndarray:
    """M0a rows (angle, channel, frequency, *offset grid) for one (D, K).

    ``size``: (nodes, azimuths) of the quadrature; default :func:`quadrature_size` at the block's
    strongest field.
    """
    particle: Particle = sweep.particle(diameter_nm, anisotropy)
    offsets = sweep.offsets
    bins = sweep.bin_indices
    t = sweep.excitation.times
    trajectories = [sweep.excitation.with_offset(o) for o in offsets.reshape(-1, 3)]
    if size is None:
        size = quadrature_size(particle.beta * max(ex.max_field() for ex in trajectories), particle.sigma)
    field = np.stack([ex.field(t) for ex in trajectories])  # (offsets, samples, 3)
    rate = np.stack([ex.field_rate(t) for ex in trajectories])
    out = np.zeros((len(sweep.angles), len(sweep.channels), bins.size, len(trajectories)), dtype=np.complex128)
    for ia, axis in enumerate(sweep.easy_axes):
        quad = BoltzmannQuadrature(particle, axis, nodes=size[0], azimuths=size[1])
        _, dm = quad.moments(field, rate)
        for io in range(len(trajectories)):
            out[ia, :, :, io] = spectrum(dm[io], sweep.scanner.receive_axes)[:, bins]
    return out.reshape(out.shape[:3] + sweep.offset_grid.shape)


def build_m0a(sweep: Sweep, output=None) -> Path:
    """All (D, K) of the grid → ``m0a.zarr`` (default ``layout.m0a``), written atomically."""
    output = Path(output) if output is not None else sweep.layout.m0a
    g = sweep.grids
    rows = np.stack([np.stack([m0a_rows(sweep, d, k) for k in g.anisotropies_Jm3]) for d in g.diameters_nm])
    ds = xr.Dataset({"rows": (fp_dims(sweep), rows)}, coords=all_coords(sweep),
                    attrs={**store_attrs(sweep), "model": "anisotropic equilibrium (M0a)", ROWS_SHA256: checksum(rows)})
    ds["rows"].attrs.update(long_name="anisotropic-equilibrium system-matrix rows (spectrum convention)", units="1/s")
    with atomic_path(output) as tmp:
        to_zarr(ds, tmp)
    return output
