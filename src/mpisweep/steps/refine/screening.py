"""Workflow step `screen`: the blocks of one diameter at the screening fidelity (``refine.screening``).

A screening block is tens of times cheaper than a full one, so one job simulates all blocks of one
diameter, one after another in one process (a process per block would cost more than the blocks),
without the spectrum check (the rows are the same; the full-fidelity blocks check theirs). Each block
gets its shard and marker in the screening level's own layout
(:func:`mpisweep.sweep.fidelity.screening_sweep`), the marker saying ``fidelity: screening``; a block
whose marker belongs to the current screening spec is kept, so a job that dies resumes where it
stopped. The job's record (``screening/chunks/D<d>.json``) lists its blocks and their core-seconds.

With ``refine.screening.every`` = n > 1 only every n-th parameter value of a diameter is screened (the
last included), and :class:`FilledScreening` fills the values between for the screening fit by a cubic
spline along the parameter axis: a block's rows vary smoothly with K (a spline through every 2nd K
rebuilds the left-out rows of the paper grid to below 1e-3 of their norm), so the screening costs 1/n.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.interpolate import make_interp_spline

from ...errors import StoreError
from ...io.atomic import write_json
from ...io.stores import checksum
from ...sweep import cost
from ...sweep.config import Sweep, digest
from ...sweep.coords import row_dims
from ...sweep.fidelity import SCREENING, screening_sweep
from ...sweep.names import label
from ...sweep.refine import coarse_indices
from ...sweep.specs import dictionary_spec
from ..dictionary.simulate import read_marker, read_shard, simulate_shard
from ..dictionary.warmup import warm_up


def chunk_name(diameter_nm: float) -> str:
    """The screening job of one diameter: D22."""
    return f"D{label(diameter_nm)}"


@dataclass(frozen=True)
class Chunk:
    """One screening job as the workflow plans it: its diameter, planned runtime (min) and memory (MB)."""

    diameter_nm: float
    runtime_min: int
    mem_mb: int


def screened_names(sweep: Sweep, diameter_nm: float | None = None) -> list[str]:
    """The blocks the screening simulates (of one diameter, or of all in ``sweep.blocks`` order): every
    ``refine.screening.every``-th parameter value, the last included."""
    values = sweep.parameter_values
    kept = {values[i] for i in coarse_indices(len(values), sweep.refine.screening.every)}
    return [name for name, d, value in sweep.blocks
            if value in kept and (diameter_nm is None or float(d) == float(diameter_nm))]


def screening_chunks(sweep: Sweep) -> dict[str, Chunk]:
    """The screening jobs, one per diameter, sized by the cost model of their blocks at the screening fidelity
    (:func:`mpisweep.sweep.cost.plan_jobs` of the screening level, whose blocks are small enough to stay whole)."""
    screened = set(screened_names(sweep))
    jobs = [j for j in cost.plan_jobs(screening_sweep(sweep)) if j.block in screened]
    safety = sweep.cluster.safety_factor
    chunks = {}
    for d in sweep.grids.diameters_nm:
        mine = [j for j in jobs if j.diameter_nm == float(d)]
        seconds = cost.JOB_S + sum(j.seconds - cost.JOB_S for j in mine)  # one process start for all its blocks
        chunks[chunk_name(d)] = Chunk(float(d), math.ceil(safety * seconds / 60.0), max(j.mem_mb for j in mine))
    return chunks


def _current(level: Sweep, name: str, spec_hash: str) -> bool:
    """Whether a screening block is finished for the current spec (marker after shard: a marker means done)."""
    path = level.layout.marker(name)
    if not path.exists() or not level.layout.shard(name).exists():
        return False
    try:
        return read_marker(path).get("spec_hash") == spec_hash
    except StoreError:
        return False


def screen_chunk(sweep: Sweep, diameter_nm: float, output=None, log=print) -> dict:
    """Simulate the screened blocks of one diameter (:func:`screened_names`) at the screening fidelity (finished
    ones kept); write the record."""
    level = screening_sweep(sweep)
    spec_hash = digest(dictionary_spec(level))
    blocks, seconds, t0 = [], 0.0, time.perf_counter()
    screened = set(screened_names(sweep, diameter_nm))
    mine = [(name, value) for name, _, value in level.blocks if name in screened]
    todo = {name for name, _ in mine if not _current(level, name, spec_hash)}
    load = warm_up() if todo else 0.0  # the process's numba cache load, once, not in the first block's time
    for n, (name, value) in enumerate(mine, 1):
        if name in todo:
            # no spectrum check: the rows are the same, and the full-fidelity blocks check theirs
            simulate_shard(level, diameter_nm, value, progress=False, extra={"fidelity": SCREENING}, check=False)
            log(f"screen {name}: {n}/{len(mine)} ({time.perf_counter() - t0:.0f} s)")
        seconds += float(read_marker(level.layout.marker(name))["wall_time_s"])
        blocks.append(name)
    record = {"fidelity": SCREENING, "diameter_nm": float(diameter_nm), "blocks": blocks,
              "core_seconds": round(seconds, 3), "load_seconds": round(load, 3), "angles": list(level.angles),
              "offsets": list(level.offset_grid.shape), "spec_hash": spec_hash}
    write_json(output or sweep.layout.screening_chunk(chunk_name(diameter_nm)), record)
    return record


def read_screened(level: Sweep, name: str) -> xr.Dataset:
    """A screening block's shard, checked against its marker (sha256, fidelity, the level's spec)."""
    marker = read_marker(level.layout.marker(name))
    path = level.layout.shard(name)
    if marker.get("fidelity") != SCREENING or marker.get("spec_hash") != digest(dictionary_spec(level)):
        raise StoreError(f"{level.layout.marker(name)}: not a block of this screening level "
                         f"(fidelity {marker.get('fidelity', 'full')}); delete it and its shard to recompute")
    ds = read_shard(path)
    rows = np.asarray(ds["rows"].transpose(*row_dims(level)).values)
    if checksum(rows) != marker["sha256"]:
        raise StoreError(f"{path}: rows do not match the sha256 in {level.layout.marker(name)}; delete both to "
                         "recompute")
    return ds


class FilledScreening:
    """The screening level as the screening fit reads it (``reader(level, name)``, as :func:`read_screened`):
    screened blocks from their shards, the others of a diameter by a cubic spline through its screened
    blocks along the parameter axis (real and imaginary parts of each row; linear with 2 screened values)."""

    def __init__(self, sweep: Sweep):
        self.sweep = sweep
        self.screened = set(screened_names(sweep))
        self._entries = {name: (float(d), float(v)) for name, d, v in sweep.blocks}  # name → (D, value)
        self._splines: dict[float, tuple] = {}  # D → (spline, a screened block's rows as the template)

    def __call__(self, level: Sweep, name: str) -> xr.Dataset:
        if name in self.screened:
            return read_screened(level, name)
        d, value = self._entries[name]
        spline, template = self._spline(level, d)
        filled = spline(value)
        return xr.Dataset({"rows": template.copy(data=filled[..., 0] + 1j * filled[..., 1])})

    def _spline(self, level: Sweep, d: float):
        if d not in self._splines:
            names = screened_names(self.sweep, d)
            rows = [read_screened(level, n)["rows"] for n in names]
            x = [self._entries[n][1] for n in names]
            y = np.stack([np.stack([r.values.real, r.values.imag], axis=-1) for r in rows])
            self._splines[d] = (make_interp_spline(x, y, k=min(3, len(x) - 1), axis=0), rows[0])
        return self._splines[d]
