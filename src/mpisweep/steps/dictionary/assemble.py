"""Workflow step `assemble`: all shards → ``fp.zarr``, one xarray tensor over the whole grid.

Variables: ``rows`` (diameter, anisotropy, angle, channel, frequency, [offset_z,] offset_y, offset_x), one
chunk per block, plus the per-block solver statistics (rtol, max_periodicity, steps,
wall_time_s, degree). Each shard's rows are checked against its marker (sha256,
dictionary-spec hash, coordinates) before they are copied, so a stale or corrupt shard stops
the assembly with its name. Only the evaluation bins are stored: all 817 bins of the paper
grid would be 27 GB. :func:`write_rows` is the block-wise writer (one (D, K) block in memory at a
time); benchmarks/fit_scale.py writes its synthetic M0a store with it too.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from ...errors import StoreError
from ...io.atomic import atomic_path
from ...io.stores import ROWS_SHA256, checksum, to_zarr
from ...sweep.config import Sweep, digest
from ...sweep.coords import all_coords, check_coords, fp_dims, row_dims, row_shape, store_attrs
from ...sweep.names import block_name
from ...sweep.specs import dictionary_spec
from .simulate import block_marker, read_block


def _markers(sweep: Sweep, shape, blocks) -> dict:
    spec_hash = digest(dictionary_spec(sweep))
    markers = {}
    for name in blocks:
        path = sweep.layout.marker(name)
        m = block_marker(sweep, name)  # a split block's parts merged
        if m.get("spec_hash") != spec_hash:
            raise StoreError(f"{path}: shard was simulated for another dictionary spec "
                             f"({m.get('spec_hash', '?')[:12]} ≠ {spec_hash[:12]}); delete it to recompute")
        if list(m.get("shape", [])) != list(shape[2:]):
            raise StoreError(f"{path}: shape {m.get('shape')} ≠ expected {list(shape[2:])}")
        markers[name] = m
    return markers


def _statistics(sweep: Sweep, markers: dict, shape) -> dict:
    p = sweep.parameter
    # a refined sweep's blocks never simulated have no marker: NaN statistics, degree −1
    missing = {"rtol": np.nan, "max_periodicity": np.nan, "steps": -1, "wall_time_s": np.nan, "degree": -1}
    grid = [[markers.get(block_name(d, k, p.symbol), missing) for k in sweep.parameter_values]
            for d in sweep.grids.diameters_nm]
    stats = {}
    for key, dtype in (("rtol", float), ("max_periodicity", float), ("steps", np.int64), ("wall_time_s", float)):
        stats[key] = (("diameter", p.name), np.array([[m[key] for m in row] for row in grid], dtype=dtype))
    grid_shape = sweep.offset_grid.shape
    deg = np.array([[np.broadcast_to(np.asarray(m.get("degrees", m["degree"])), grid_shape) for m in row]
                    for row in grid], dtype=np.int64)
    stats["degree"] = (("diameter", p.name) + sweep.offset_dims, deg)
    return stats


def write_rows(sweep: Sweep, output, block_rows, stats: dict | None = None, attrs: dict | None = None,
               long_name: str = "system-matrix rows phi_k (spectrum convention)") -> Path:
    """Write a (diameter, anisotropy or hydrodynamic_diameter, angle, …) rows store block by block, atomically.

    ``block_rows(i, j)``: the rows (angle, channel, frequency, *offset grid) of entry (i, j);
    only one block is in memory at a time. The store gets one chunk per block, ``stats`` as extra
    (dims, array) variables, ``attrs`` and the sha256 of the whole tensor (verified when a fit reads it).
    """
    import dask.array as da
    import zarr

    output = Path(output)
    g = sweep.grids
    coords = all_coords(sweep)
    shape = (len(g.diameters_nm), len(sweep.parameter_values)) + row_shape(sweep)
    stats = stats or {}
    empty = da.zeros(shape, chunks=(1, 1) + shape[2:], dtype=np.complex128)
    ds = xr.Dataset({"rows": (fp_dims(sweep), empty), **stats},
                    coords=coords, attrs=attrs or {})
    ds["rows"].attrs.update(long_name=long_name, units="1/s")
    for name, text in (("degree", "truncation degree L per block and offset"),
                       ("max_periodicity", "largest periodicity residual |<m>(T) - <m>(0)| in the block")):
        if name in ds:
            ds[name].attrs.update(long_name=text)
    if "wall_time_s" in ds:
        ds["wall_time_s"].attrs.update(units="s")
    with atomic_path(output) as tmp:
        to_zarr(ds, tmp, compute=False)  # metadata and coordinates; the rows follow block by block
        group = zarr.open_group(tmp, mode="r+", zarr_format=3)
        for key, (_, arr) in stats.items():
            group[key][...] = arr
        rows = group["rows"]
        digest_rows = hashlib.sha256()  # of the whole tensor in C order
        for i in range(shape[0]):
            for j in range(shape[1]):
                block = np.asarray(block_rows(i, j), dtype=np.complex128)
                if block.shape != shape[2:]:
                    raise StoreError(f"{output}: block ({i}, {j}) has shape {block.shape}, expected {shape[2:]}")
                rows[i, j] = block
                digest_rows.update(np.ascontiguousarray(block, dtype="<c16").tobytes())
        group.attrs[ROWS_SHA256] = digest_rows.hexdigest()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
            zarr.consolidate_metadata(tmp, zarr_format=3)
    return output


def assemble(sweep: Sweep, output=None, verify: bool = True, blocks=None) -> Path:
    """Combine all shards of the configured grid into one Zarr v3 store (default ``layout.fp``).

    ``blocks``: the block names a refined sweep simulated (config refine); the others are missing,
    NaN in the store, and the fits leave them out. Default: every block of the grid."""
    output = Path(output) if output is not None else sweep.layout.fp
    g = sweep.grids
    shape = (len(g.diameters_nm), len(sweep.parameter_values)) + row_shape(sweep)
    blocks = [name for name, _, _ in sweep.blocks] if blocks is None else list(blocks)
    markers = _markers(sweep, shape, blocks)
    stats = _statistics(sweep, markers, shape)

    def block_rows(i, j):
        name = block_name(g.diameters_nm[i], sweep.parameter_values[j], sweep.parameter.symbol)
        if name not in markers:
            return np.full(shape[2:], np.nan + 0j)
        path = sweep.layout.shard(name)
        shard = read_block(sweep, name)  # a split block's parts joined, each checked
        block = np.asarray(shard["rows"].transpose(*row_dims(sweep)).values)
        if verify:
            if checksum(block) != markers[name]["sha256"]:
                raise StoreError(f"{path}: rows do not match the sha256 in {sweep.layout.marker(name)}; "
                                 "delete both to recompute")
            check_coords(shard, sweep, path, names=("angle", "frequency", "offset_x", "offset_y", "offset_z"))
        return block

    attrs = {**store_attrs(sweep), "shard_checksums": json.dumps({n: m["sha256"] for n, m in markers.items()})}
    if len(markers) < len(sweep.blocks):
        attrs["missing_blocks"] = json.dumps([n for n, _, _ in sweep.blocks if n not in markers])
    return write_rows(sweep, output, block_rows, stats, attrs)
