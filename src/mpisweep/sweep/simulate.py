"""Workflow step `simulate`: one (D, K) block → its Zarr shard (atomically), then its JSON marker.

The shard holds ``rows`` (angle, channel, frequency, offset_y, offset_x) complex128 at the
evaluation bins and the truncation degree per offset. The marker records the sha256 of the rows,
L, rtol, the largest periodicity residual, the steps, the wall time and the dictionary-spec hash;
it is written after the shard, so a marker always belongs to a complete shard.
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from ..errors import StoreError
from ..io.atomic import atomic_path, write_json
from ..io.provenance import package_attrs
from ..io.stores import checksum, read_zarr, to_zarr
from ..physics.block import simulate_block
from .config import Sweep, block_name, digest
from .coords import ROW_DIMS, row_coords
from .progress import printer
from .specs import dictionary_spec


def block_degrees(result) -> np.ndarray:
    """Truncation degrees (offset_y, offset_x) of a BlockResult."""
    return np.asarray(result.degrees, dtype=np.int64).reshape(result.rows.shape[-2:])


def simulate_shard(sweep: Sweep, diameter_nm: float, anisotropy: float, shard=None, marker=None,
                   progress: bool = True) -> dict:
    """Run one (D, K) block, write its shard and then its marker; return the marker."""
    name = block_name(diameter_nm, anisotropy)
    shard = shard or sweep.layout.shard(name)
    marker = marker or sweep.layout.marker(name)
    particle = sweep.particle(diameter_nm, anisotropy)
    result = simulate_block(particle, sweep.excitation, sweep.angles, sweep.offsets, sweep.bins[:, 2],
                            degree=sweep.solver.degree, rtol=sweep.solver_rtol(particle),
                            progress=printer(particle.describe()) if progress else None)
    degrees = block_degrees(result)
    info = {
        "block": name,
        "diameter_nm": float(diameter_nm),
        "anisotropy_Jm3": float(anisotropy),
        "sha256": checksum(result.rows),
        "shape": list(result.rows.shape),
        "wall_time_s": float(result.wall_time),
        "degree": int(degrees.max()),
        "degree_min": int(degrees.min()),
        "degrees": degrees.tolist(),
        "rtol": float(result.rtol),
        "max_periodicity": float(result.max_periodicity),
        "steps": int(result.steps),
        "solves": int(result.solves),
        "derived_by_symmetry": int(result.derived),
        "package_version": package_attrs()["package_version"],
        "spec_hash": digest(dictionary_spec(sweep)),
        "finite": bool(np.isfinite(result.rows).all()),
    }
    ds = xr.Dataset({"rows": (ROW_DIMS, result.rows), "degree": (("offset_y", "offset_x"), degrees)},
                    coords=row_coords(sweep),
                    attrs={**{k: v for k, v in info.items() if k not in ("shape", "degrees")},
                           "shape": json.dumps(info["shape"])})
    ds["rows"].attrs.update(long_name="system-matrix rows phi_k (spectrum convention)", units="1/s")
    ds["degree"].attrs.update(long_name="truncation degree L per offset")
    with atomic_path(shard) as tmp:
        to_zarr(ds, tmp)
    write_json(marker, info)
    return info


def read_marker(path) -> dict:
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        raise StoreError(f"{path}: marker missing (the simulate job for this block did not finish)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise StoreError(f"{path}: marker is not valid JSON ({err})") from None


def read_shard(path) -> xr.Dataset:
    return read_zarr(path)
