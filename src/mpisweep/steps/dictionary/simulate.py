"""Workflow step `simulate`: one (D, K) block → its Zarr shard (atomically), then its JSON marker.

The shard holds ``rows`` (angle, channel, frequency, offset_y, offset_x) complex128 at the
evaluation bins and the truncation degree per offset. The marker records the sha256 of the rows,
L, rtol, the largest periodicity residual, the steps, the wall time and the dictionary-spec hash;
it is written after the shard, so a marker always belongs to a complete shard.

A heavy block may be planned as several jobs (cost.plan_jobs): part i of n holds a group of
mirror-paired angles, named ``D28_K9000_part1of3``, with its own shard and marker. The rows of
each (angle, offset) do not depend on which other angles are in the job, so the parts joined
(:func:`read_block`, each checked against its marker's sha256) equal the whole block byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from ...errors import StoreError
from ...io.atomic import atomic_path, write_json
from ...io.provenance import package_attrs
from ...io.stores import checksum, read_zarr, to_zarr
from ...physics.block import simulate_block
from ...physics.solver import auto_degree
from ...sweep import cost
from ...sweep.config import Sweep, digest
from ...sweep.coords import check_coords, row_coords, row_dims
from ...sweep.names import block_name
from ...sweep.progress import printer
from ...sweep.specs import dictionary_spec


def part_angles(sweep: Sweep, diameter_nm: float, value: float, index: int, count: int) -> tuple[int, ...]:
    """Angle indices of part `index` (1-based) of `count` of a block (cost.split_angles; all for 1 of 1)."""
    if count == 1:
        return tuple(range(len(sweep.angles)))
    if sweep.solver.degree is not None:
        degrees = np.full(sweep.offset_grid.shape, int(sweep.solver.degree))
    else:
        particle = sweep.particle(diameter_nm, value)
        degrees = np.array([auto_degree(particle, sweep.excitation.with_offset(o).max_field())
                            for o in sweep.offsets.reshape(-1, 3)]).reshape(sweep.offset_grid.shape)
    orbits = cost.angle_orbits(sweep)
    solved = cost.solved_points(sweep, degrees)
    parts = cost.split_angles(orbits, [int(solved[list(o)].sum()) for o in orbits], count)
    if not 1 <= index <= len(parts):
        raise ValueError(f"part {index}/{count}: the block has {len(orbits)} groups of mirror-paired angles")
    return parts[index - 1]


def simulate_shard(sweep: Sweep, diameter_nm: float, value: float, shard=None, marker=None,
                   progress: bool = True, part: tuple[int, int] = (1, 1), extra: dict | None = None,
                   check: bool = True) -> dict:
    """Run one (D, K) block — (D, D_h) for the Brownian model — or part (index, count) of it, write its
    shard and then its marker (with `extra` entries, e.g. the fidelity level); return the marker. `check`:
    the spectrum check of :func:`~mpisweep.physics.block.simulate_block`."""
    index, count = part
    name = cost.part_name(block_name(diameter_nm, value, sweep.parameter.symbol), index, count)
    shard = shard or sweep.layout.shard(name)
    marker = marker or sweep.layout.marker(name)
    particle = sweep.particle(diameter_nm, value)
    indices = part_angles(sweep, diameter_nm, value, index, count)
    axes = sweep.simulation_axes(indices)
    result = simulate_block(particle, sweep.excitation, axes, sweep.offsets, sweep.bin_indices,
                            degree=sweep.solver.degree, rtol=sweep.solver_rtol(particle),
                            max_degree=sweep.limits.max_degree, channels=sweep.scanner.receive_axes,
                            progress=printer(particle.describe()) if progress else None, check=check)
    degrees = result.degrees
    info = {
        "block": name,
        "diameter_nm": float(diameter_nm),
        sweep.parameter.value_key: float(value),
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
    } | (extra or {})
    if count > 1:
        info |= {"part": [index, count], "angle_indices": list(indices)}
    coords = {k: (xr.Variable("angle", v.values[list(indices)], v.attrs) if v.dims == ("angle",) else v)
              for k, v in row_coords(sweep).items()}
    ds = xr.Dataset({"rows": (row_dims(sweep), result.rows), "degree": (sweep.offset_dims, degrees)},
                    coords=coords,
                    attrs={**{k: v for k, v in info.items() if k not in ("shape", "degrees")},
                           "shape": json.dumps(info["shape"])})
    ds["rows"].attrs.update(long_name="system-matrix rows phi_k (spectrum convention)", units="1/s")
    ds["degree"].attrs.update(long_name="truncation degree L per offset")
    with atomic_path(shard) as tmp:
        to_zarr(ds, tmp)
    write_json(marker, info)
    return info


def read_marker(path) -> dict:
    path = Path(path)
    if not path.exists():
        raise StoreError(f"{path}: marker missing (the simulate job for this block did not finish)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise StoreError(f"{path}: marker is not valid JSON ({err})") from None


def read_shard(path) -> xr.Dataset:
    return read_zarr(path)


_PLANS: dict[str, dict] = {}


def block_jobs(sweep: Sweep, name: str) -> list:
    """The planned simulate jobs (cost.Job) of one block: one, or its parts in index order."""
    if sweep.config_hash not in _PLANS:
        plan: dict[str, list] = {}
        for job in cost.job_plan(sweep):
            plan.setdefault(job.block, []).append(job)
        _PLANS.clear()
        _PLANS[sweep.config_hash] = plan
    return _PLANS[sweep.config_hash][name]


def _parts(sweep: Sweep, name: str) -> list[tuple]:
    """(job, marker) of each part of a split block, checked against the plan and each other."""
    parts = []
    for job in block_jobs(sweep, name):
        path = sweep.layout.marker(job.name)
        m = read_marker(path)
        if m.get("angle_indices") != list(job.angles):
            raise StoreError(f"{path}: holds angles {m.get('angle_indices')}, the plan {list(job.angles)}; "
                             "delete it to recompute")
        if parts and m.get("spec_hash") != parts[0][1].get("spec_hash"):
            raise StoreError(f"{path}: simulated for another dictionary spec than {job.block}'s other parts")
        parts.append((job, m))
    return parts


def read_block(sweep: Sweep, name: str) -> xr.Dataset:
    """A block's shard; a split block's parts joined along angle, each checked against its marker's sha256."""
    jobs = block_jobs(sweep, name)
    if len(jobs) == 1:
        return read_shard(sweep.layout.shard(name))
    rows = None
    for job, m in _parts(sweep, name):
        path = sweep.layout.shard(job.name)
        ds = read_shard(path)
        part = np.asarray(ds["rows"].transpose(*row_dims(sweep)).values)
        if checksum(part) != m["sha256"]:
            raise StoreError(f"{path}: rows do not match the sha256 in {sweep.layout.marker(job.name)}; "
                             "delete both to recompute")
        check_coords(ds, sweep, path, names=("frequency", "offset_x", "offset_y", "offset_z"))
        if not np.array_equal(ds["angle"].values, np.asarray([sweep.angles[i] for i in job.angles], float)):
            raise StoreError(f"{path}: angles {ds['angle'].values.tolist()} are not the planned part's")
        if rows is None:
            rows = np.zeros((len(sweep.angles),) + part.shape[1:], dtype=part.dtype)
            degree = ds["degree"].values
        rows[list(job.angles)] = part
    return xr.Dataset({"rows": (row_dims(sweep), rows), "degree": (sweep.offset_dims, degree)},
                      coords=row_coords(sweep))


def block_marker(sweep: Sweep, name: str) -> dict:
    """A block's marker; for a split block its parts' markers merged (sha256 of the joined rows)."""
    jobs = block_jobs(sweep, name)
    if len(jobs) == 1:
        return read_marker(sweep.layout.marker(name))
    markers = [m for _, m in _parts(sweep, name)]
    rows = read_block(sweep, name)["rows"].transpose(*row_dims(sweep)).values
    merged = {k: v for k, v in markers[0].items() if k not in ("part", "angle_indices")}
    merged.update(
        block=name, sha256=checksum(rows), shape=list(rows.shape), parts=[job.name for job in jobs],
        wall_time_s=sum(m["wall_time_s"] for m in markers), steps=sum(m["steps"] for m in markers),
        solves=sum(m["solves"] for m in markers), derived_by_symmetry=sum(m["derived_by_symmetry"] for m in markers),
        max_periodicity=max(m["max_periodicity"] for m in markers), finite=all(m["finite"] for m in markers),
    )
    return merged
