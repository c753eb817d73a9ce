"""Workflow step `m0_dictionary`: the Langevin (M0) rows ``m0.zarr`` (diameter, channel, frequency,
*offset grid), same spectrum convention as the Fokker–Planck dictionary; no anisotropy,
no angle dependence (paper eq. 7)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from ...io.atomic import atomic_path
from ...io.stores import ROWS_SHA256, checksum, to_zarr
from ...physics.equilibrium import langevin_moment
from ...physics.params import Particle
from ...physics.spectra import spectrum
from ...sweep.config import Sweep
from ...sweep.coords import all_coords, m0_dims, store_attrs
from ...units import NM


def m0_rows(sweep: Sweep, diameter_nm: float) -> np.ndarray:
    """Langevin rows (channel, frequency, *offset grid) for one diameter."""
    # the Langevin model needs only the moment (D, Ms, T), the same for either particle model
    c = sweep.constants
    particle = Particle(diameter_nm * NM, ms=c["ms"], temperature=c["temperature"])
    offsets = sweep.offsets.reshape(-1, 3)
    bins = sweep.bin_indices
    t = sweep.excitation.times
    out = np.zeros((len(sweep.channels), bins.size, offsets.shape[0]), dtype=np.complex128)
    for i, offset in enumerate(offsets):
        ex = sweep.excitation.with_offset(offset)
        _, rate = langevin_moment(particle, ex.field(t), ex.field_rate(t))
        out[:, :, i] = spectrum(rate, sweep.scanner.receive_axes)[:, bins]
    return out.reshape(out.shape[:2] + sweep.offset_grid.shape)


def build_m0(sweep: Sweep, output=None) -> Path:
    output = Path(output) if output is not None else sweep.layout.m0
    rows = np.stack([m0_rows(sweep, d) for d in sweep.grids.diameters_nm])
    dims = m0_dims(sweep)
    coords = {k: v for k, v in all_coords(sweep).items() if set(v.dims) <= set(dims)}
    ds = xr.Dataset({"rows": (dims, rows)}, coords=coords,
                    attrs={**store_attrs(sweep), "model": "Langevin (M0)", ROWS_SHA256: checksum(rows)})
    ds["rows"].attrs.update(long_name="Langevin system-matrix rows (spectrum convention)", units="1/s")
    with atomic_path(output) as tmp:
        to_zarr(ds, tmp)
    return output
