"""Opening the stored dictionaries for the fits: fp.zarr, m0a.zarr and m0.zarr as (…, offset) arrays.

A dictionary smaller than ``fit.max_memory_gb`` is loaded; a larger one is read block by block
through :class:`FlatOffsetView`, so the fits never hold it whole. The checksum of a loaded
dictionary is taken one diameter at a time, so verifying it costs no second copy of the rows
(3 GB at the paper's size).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ...errors import StoreError
from ...fitting import DICTIONARY_DIMS, DICTIONARY_M0_DIMS
from ...io.stores import ROWS_SHA256, open_zarr, rows_digest, verify_rows
from ...sweep.config import Sweep
from ...sweep.coords import check_coords


class _Values:
    """The `.values` of one block (what the fits read)."""

    def __init__(self, values):
        self.values = values


GRID_DIMS = ("offset_z", "offset_y", "offset_x")  # x fastest, as the flat offset of an MDF file


def grid_dims(da) -> tuple[str, ...]:
    """The offset-grid dimensions `da` has, in flattening order (z slowest)."""
    return tuple(d for d in GRID_DIMS if d in da.dims)


class FlatOffsetView:
    """Read-only view of a lazily opened (…, [offset_z,] offset_y, offset_x) DataArray as (…, offset).

    Duck-types the small part of the DataArray API that :mod:`mpisweep.fitting` uses (dims,
    coords, dtype, shape, transpose, isel(...).values), so the fits read the Zarr dictionary
    block by block instead of loading it whole.
    """

    def __init__(self, da: xr.DataArray):
        self._grid = grid_dims(da)
        lead = [d for d in da.dims if d not in self._grid]
        self._da = da.transpose(*lead, *self._grid)
        self.dims = tuple(lead) + ("offset",)
        self.coords = {d: da.coords[d] for d in lead if d in da.coords}
        self.dtype = da.dtype
        self.shape = tuple(da.sizes[d] for d in lead) + (int(np.prod([da.sizes[d] for d in self._grid])),)

    def transpose(self, *dims):
        if dims[-1] != "offset":
            raise ValueError("FlatOffsetView: 'offset' must stay last")
        return FlatOffsetView(self._da.transpose(*dims[:-1], *self._grid))

    def isel(self, indexers):
        if "offset" in indexers:
            raise NotImplementedError("FlatOffsetView: indexing along 'offset'")
        sub = self._da.isel(indexers)
        values = np.asarray(sub.values)
        return _Values(values.reshape(values.shape[:-len(self._grid)] + (-1,)))


def flat(da: xr.DataArray, dims) -> xr.DataArray:
    """In-memory (…, [offset_z,] offset_y, offset_x) → (…, offset) with the fitting module's dimension order."""
    lead = [d for d in dims if d != "offset"]
    grid = grid_dims(da)
    arr = da.transpose(*lead, *grid)
    values = np.asarray(arr.values)
    return xr.DataArray(values.reshape(values.shape[:-len(grid)] + (-1,)), dims=tuple(lead) + ("offset",),
                        coords={d: arr.coords[d].values for d in lead if d in arr.coords})


def verify_loaded(ds: xr.Dataset, path, values: np.ndarray) -> None:
    """:func:`~mpisweep.io.stores.verify_rows` for rows in memory (C order of the store), hashed
    along the first axis (the same sha256, without a full-size byte copy)."""
    want = ds.attrs.get(ROWS_SHA256)
    if want is not None and rows_digest(values[i] for i in range(values.shape[0])) != want:
        raise StoreError(f"{path}: rows do not match the sha256 recorded when the store was written "
                         "(corrupted on disk?); delete it to rebuild it")


def open_fp(sweep: Sweep, path=None, log=print):
    """The Fokker–Planck dictionary (diameter, anisotropy or hydrodynamic_diameter, angle, channel,
    frequency, offset) and its attrs."""
    return _open_rows(sweep, path or sweep.layout.fp, log)


def open_m0a(sweep: Sweep, path=None, log=print):
    """The anisotropic-equilibrium (M0a) dictionary, same layout as :func:`open_fp`, and its attrs."""
    return _open_rows(sweep, path or sweep.layout.m0a, log)


def _open_rows(sweep: Sweep, path, log):
    ds = open_zarr(path)
    check_coords(ds, sweep, path)
    nbytes = ds["rows"].size * 16
    if nbytes <= sweep.fit.max_memory_gb * 2**30:
        rows = flat(ds["rows"], ("diameter", sweep.parameter.name) + DICTIONARY_DIMS[2:])
        verify_loaded(ds, path, rows.values)
        return rows, dict(ds.attrs)
    log(f"dictionary {nbytes / 2**30:.1f} GiB > fit.max_memory_gb: reading it block-wise from {path}")
    verify_rows(ds, path)
    return FlatOffsetView(ds["rows"]), dict(ds.attrs)


def open_m0(sweep: Sweep, path=None):
    """The Langevin dictionary (diameter, channel, frequency, offset)."""
    path = path or sweep.layout.m0
    ds = open_zarr(path)
    check_coords(ds, sweep, path, names=("angle", "frequency", "offset_x", "offset_y", "offset_z", "diameter"))
    rows = flat(ds["rows"], DICTIONARY_M0_DIMS)
    verify_loaded(ds, path, rows.values)
    return rows
