"""Workflow step `m0_dictionary`: the Langevin (M0) rows ``m0.zarr`` (diameter, channel, frequency,
offset_y, offset_x), same spectrum convention as the Fokker–Planck dictionary; no anisotropy,
no angle dependence (paper eq. 7)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from ...io.atomic import atomic_path
from ...io.stores import ROWS_SHA256, checksum, to_zarr
from ...physics.equilibrium import langevin_moment
from ...physics.params import Particle
from ...physics.spectra import CHANNELS, spectrum
from ...sweep.config import NM, Sweep
from ...sweep.coords import M0_DIMS, all_coords, store_attrs


def m0_rows(sweep: Sweep, diameter_nm: float) -> np.ndarray:
    """Langevin rows (channel, frequency, offset_y, offset_x) for one diameter."""
    # the Langevin model needs only the moment (D, Ms, T), the same for either particle model
    c = sweep.constants
    particle = Particle(diameter_nm * NM, ms=c["ms"], temperature=c["temperature"])
    offsets = sweep.offsets
    bins = sweep.bins[:, 2]
    t = sweep.excitation.times
    ny, nx = offsets.shape[:2]
    out = np.zeros((len(CHANNELS), bins.size, ny, nx), dtype=np.complex128)
    for iy in range(ny):
        for ix in range(nx):
            ex = sweep.excitation.with_offset(offsets[iy, ix])
            _, rate = langevin_moment(particle, ex.field(t), ex.field_rate(t))
            out[:, :, iy, ix] = spectrum(rate)[:, bins]
    return out


def build_m0(sweep: Sweep, output=None) -> Path:
    output = Path(output) if output is not None else sweep.layout.m0
    rows = np.stack([m0_rows(sweep, d) for d in sweep.grids.diameters_nm])
    coords = {k: v for k, v in all_coords(sweep).items() if set(v.dims) <= set(M0_DIMS)}
    ds = xr.Dataset({"rows": (M0_DIMS, rows)}, coords=coords,
                    attrs={**store_attrs(sweep), "model": "Langevin (M0)", ROWS_SHA256: checksum(rows)})
    ds["rows"].attrs.update(long_name="Langevin system-matrix rows (spectrum convention)", units="1/s")
    with atomic_path(output) as tmp:
        to_zarr(ds, tmp)
    return output
