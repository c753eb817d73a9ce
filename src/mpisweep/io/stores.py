"""Zarr v3 stores: write with consolidated metadata, open lazily, checksum the rows.

complex128 round-trips exactly through xarray + zarr 3 (tested), so rows are stored as complex,
not as real/imaginary pairs.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import StoreError


def checksum(rows: np.ndarray) -> str:
    """sha256 of the rows as C-ordered little-endian complex128 bytes."""
    return hashlib.sha256(np.ascontiguousarray(rows, dtype="<c16").tobytes()).hexdigest()


def to_zarr(ds: xr.Dataset, path, **kwargs):
    """Write a Zarr v3 store with consolidated metadata (quietly: the extension warns)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
        return ds.to_zarr(path, mode="w", zarr_format=3, consolidated=True, **kwargs)


def open_zarr(path, **kwargs) -> xr.Dataset:
    """Open a store lazily (no dask: backend lazy indexing); StoreError naming it when it is unreadable."""
    path = Path(path)
    if not path.exists():
        raise StoreError(f"{path}: store not found")
    try:
        return xr.open_zarr(path, consolidated=True, chunks=None, **kwargs)
    except Exception as err:  # noqa: BLE001 - a corrupt store: name it
        raise StoreError(f"{path}: cannot open store ({err})") from None


def read_zarr(path) -> xr.Dataset:
    """Open and load a whole store; StoreError naming it when it is missing or corrupt."""
    ds = open_zarr(path)
    try:
        return ds.load()
    except Exception as err:  # noqa: BLE001
        raise StoreError(f"{path}: cannot read store ({err})") from None


def open_dictionary(path) -> xr.Dataset:
    """Open a dictionary store written by the sweep (fp.zarr, m0.zarr, m0a.zarr, a shard), lazily.

    Parameters
    ----------
    path : str or os.PathLike
        The Zarr store, e.g. ``results/dictionary/fp.zarr``.

    Returns
    -------
    xarray.Dataset
        ``rows``: complex (diameter, anisotropy or hydrodynamic_diameter, angle, channel, frequency,
        [offset_z,] offset_y, offset_x) for fp.zarr; coordinates in the field's units (diameter in
        nm, anisotropy in J/m³, angle in degrees, offsets in mT, ``frequency`` the rfft bin k with
        ``frequency_hz``); per block ``degree`` (per offset), ``rtol``, ``steps`` and
        ``wall_time_s``; attributes with the config hash, the package version and the solver
        settings. Blocks never simulated (coarse-to-fine runs) are NaN.
    """
    return open_zarr(path)


#: attribute holding the sha256 of a store's ``rows`` (C order, little-endian complex128)
ROWS_SHA256 = "rows_sha256"


def rows_digest(blocks) -> str:
    """sha256 over row blocks taken in C order (equals :func:`checksum` of the whole array)."""
    h = hashlib.sha256()
    for block in blocks:
        h.update(np.ascontiguousarray(block, dtype="<c16").tobytes())
    return h.hexdigest()


def verify_rows(ds: xr.Dataset, path, values: np.ndarray | None = None) -> None:
    """StoreError naming `path` when the rows differ from the sha256 recorded at write time.

    `values`: the rows already in memory (C order of the store's dims); otherwise they are read
    block by block along the first dimension. Stores written without the attribute are not checked.
    """
    want = ds.attrs.get(ROWS_SHA256)
    if want is None:
        return
    if values is not None:
        got = checksum(values)
    else:
        rows = ds["rows"]
        got = rows_digest(np.asarray(rows.isel({rows.dims[0]: i}).values) for i in range(rows.shape[0]))
    if got != want:
        raise StoreError(f"{path}: rows do not match the sha256 recorded when the store was written "
                         "(corrupted on disk?); delete it to rebuild it")


#: attribute holding {variable: sha256} of every data variable of a results store (models.zarr)
VARIABLES_SHA256 = "variables_sha256"


def stamp_variables(ds: xr.Dataset) -> xr.Dataset:
    """Record the sha256 of every data variable (as complex128 bytes) in the attributes."""
    import json

    ds.attrs[VARIABLES_SHA256] = json.dumps({name: checksum(np.asarray(ds[name].values)) for name in ds.data_vars})
    return ds


def verify_variables(ds: xr.Dataset, path, names=None) -> xr.Dataset:
    """Load `ds` (or only the variables `names`) and raise StoreError naming `path` and the variable that no
    longer matches its sha256."""
    import json

    want = json.loads(ds.attrs.get(VARIABLES_SHA256, "{}"))
    ds = ds.load() if names is None else ds[list(names)].load()
    for name, sha in want.items():
        if name in ds and checksum(np.asarray(ds[name].values)) != sha:
            raise StoreError(f"{path}: variable {name} does not match the sha256 recorded when the store was written "
                             "(corrupted on disk?); delete it to rebuild it")
    return ds
