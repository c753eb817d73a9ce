"""Dictionary storage: one Zarr shard + JSON marker per (D, K) block, the assembled tensor, M0.

Layout under ``<output>/dictionary/``::

    shards/D22_K1100.zarr    one simulate job: variable ``rows`` (angle, channel, frequency,
                             offset_y, offset_x) complex128 at the evaluation bins
    markers/D22_K1100.json   sha256 of the rows, wall time, L, rtol, max periodicity residual,
                             steps, package version, dictionary-spec hash (Snakemake tracks it)
    fp.zarr                  all shards: ``rows`` (diameter, anisotropy, angle, channel,
                             frequency, offset_y, offset_x), one chunk per block, plus the
                             per-block solver statistics
    m0.zarr                  Langevin (M0) rows (diameter, channel, frequency, offset_y, offset_x)

Every store is written to a temporary sibling directory and renamed into place, so an
interrupted job never leaves a partial store under the final name. Stores are Zarr v3 with
consolidated metadata. complex128 round-trips exactly through xarray + zarr 3 (tested), so rows
are stored as complex, not as real/imaginary pairs.

Coordinates: angle (deg), channel ("x", "y"), frequency = rfft bin k (int) with non-dimension
coordinates mx, my (mixing orders) and frequency_hz, offset_x / offset_y (mT), diameter (nm),
anisotropy (J/m³); units are in each coordinate's ``units`` attribute.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from . import __version__
from . import config as cfgmod
from .spectra import CHANNELS, spectrum

ROW_DIMS = ("angle", "channel", "frequency", "offset_y", "offset_x")
FP_DIMS = ("diameter", "anisotropy") + ROW_DIMS
M0_DIMS = ("diameter", "channel", "frequency", "offset_y", "offset_x")

SPECTRUM_CONVENTION = (
    "phi_k = (1/N) sum_n d<m_c>/dt(t_n) exp(-2 pi i k n / N) (numpy.fft.rfft / N) in 1/s over one drive "
    "cycle in periodic steady state, t_n = n T / N, receive channels c = x, y; <m> normalized "
    "(|<m>| <= 1). The signal is proportional to -mu0 m0 d<m>/dt; sign and scale are absorbed by the "
    "fitted transfer function."
)


class StoreError(RuntimeError):
    """A shard, marker or store is missing, inconsistent or corrupt; the message names it."""


# ------------------------------------------------------------------------------ helpers
def checksum(rows: np.ndarray) -> str:
    """sha256 of the rows as C-ordered little-endian complex128 bytes."""
    return hashlib.sha256(np.ascontiguousarray(rows, dtype="<c16").tobytes()).hexdigest()


def git_revision(path=None) -> str:
    """`git rev-parse HEAD` of the checkout holding the package (or `path`), else "unknown"."""
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    rev = out.stdout.strip()
    return rev if out.returncode == 0 and rev else "unknown"


def _remove_stale_temporaries(target: Path) -> None:
    """Delete temporaries of `target` left by writers that died (SIGKILL skips their cleanup)."""
    for leftover in target.parent.glob(f".{target.name}.tmp-*"):
        try:
            pid = int(leftover.name.rsplit("-", 1)[1])
            os.kill(pid, 0)  # still running: leave it alone
        except ProcessLookupError:
            shutil.rmtree(leftover, ignore_errors=True)
        except (ValueError, PermissionError):
            continue


@contextlib.contextmanager
def atomic_directory(target):
    """Yield a temporary sibling path; on success it replaces `target` (a directory) in one rename."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(target)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        yield tmp
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_json(path, obj) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True, allow_nan=True) + "\n")
    os.replace(tmp, path)


def to_zarr(ds: xr.Dataset, path, **kwargs):
    """Write a Zarr v3 store with consolidated metadata (quietly: the extension warns)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
        return ds.to_zarr(path, mode="w", zarr_format=3, consolidated=True, **kwargs)


def open_zarr(path, **kwargs) -> xr.Dataset:
    """Open a store written by this module lazily (no dask: backend lazy indexing)."""
    path = Path(path)
    if not path.exists():
        raise StoreError(f"{path}: store not found")
    return xr.open_zarr(path, consolidated=True, chunks=None, **kwargs)


def paths(resolved: dict) -> dict:
    out = Path(resolved["output"])
    d = out / "dictionary"
    return {
        "config": out / "config.json",
        "shards": d / "shards",
        "markers": d / "markers",
        "fp": d / "fp.zarr",
        "m0": d / "m0.zarr",
        "measurement": out / "measurement",
        "fits": out / "fits",
        "figures": out / "figures",
    }


def shard_path(resolved: dict, name: str) -> Path:
    return paths(resolved)["shards"] / f"{name}.zarr"


def marker_path(resolved: dict, name: str) -> Path:
    return paths(resolved)["markers"] / f"{name}.json"


# ---------------------------------------------------------------------------- coordinates
def row_coords(resolved: dict) -> dict:
    """Coordinates shared by shards, the assembled dictionary and the models dataset."""
    bins = cfgmod.evaluation_bins(resolved)
    cycle = np.lcm.reduce(resolved["scanner"]["dividers"]) / resolved["scanner"]["base_frequency"]
    grid = cfgmod.offset_fields(resolved)  # (ny, nx, 3) in T, the grid the blocks are simulated on
    ox = grid[0, :, 0] / cfgmod.MT
    oy = grid[:, 0, 1] / cfgmod.MT
    coords = {
        "angle": ("angle", np.asarray(resolved["grids"]["angles_deg"], float), {"units": "deg", "long_name": "easy-axis angle from x"}),
        "channel": ("channel", np.array(CHANNELS, dtype=object), {"long_name": "receive channel"}),
        "frequency": ("frequency", bins[:, 2].astype(np.int64), {"long_name": "rfft bin index k", "units": "1"}),
        "mx": ("frequency", bins[:, 0].astype(np.int64), {"long_name": "mixing order x"}),
        "my": ("frequency", bins[:, 1].astype(np.int64), {"long_name": "mixing order y"}),
        "frequency_hz": ("frequency", bins[:, 2] / cycle, {"units": "Hz", "long_name": "frequency k / T"}),
        "offset_y": ("offset_y", np.round(oy, 12), {"units": "mT", "long_name": "offset field y"}),
        "offset_x": ("offset_x", np.round(ox, 12), {"units": "mT", "long_name": "offset field x"}),
    }
    return {k: xr.Variable(dims, values, attrs) for k, (dims, values, attrs) in coords.items()}


def grid_coords(resolved: dict) -> dict:
    g = resolved["grids"]
    return {
        "diameter": xr.Variable("diameter", np.asarray(g["diameters_nm"], float), {"units": "nm", "long_name": "core diameter D"}),
        "anisotropy": xr.Variable("anisotropy", np.asarray(g["anisotropies_Jm3"], float),
                                  {"units": "J/m^3", "long_name": "anisotropy constant K"}),
    }


def _common_attrs(resolved: dict) -> dict:
    return {
        "config_hash": cfgmod.config_hash(resolved),
        "dictionary_spec_hash": cfgmod.digest(cfgmod.dictionary_spec(resolved)),
        "package_version": __version__,
        "git_revision": git_revision(),
        "solver": json.dumps({"degree": resolved["solver"]["degree"] or "auto", "rtol": resolved["solver"]["rtol"] or "auto"}),
        "spectrum_convention": SPECTRUM_CONVENTION,
        "particle": json.dumps(resolved["particle"]),
        "scanner": json.dumps(resolved["scanner"]),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


# --------------------------------------------------------------------------------- shards
def simulate_shard(resolved: dict, diameter_nm: float, anisotropy: float, shard, marker, progress=True) -> dict:
    """Run one (D, K) block, write its shard (atomically) and then its marker; return the marker."""
    from .block import simulate_block

    particle = cfgmod.particle(resolved, diameter_nm, anisotropy)
    excitation = cfgmod.excitation(resolved)
    bins = cfgmod.evaluation_bins(resolved)[:, 2]
    s = resolved["solver"]
    result = simulate_block(particle, excitation, resolved["grids"]["angles_deg"], cfgmod.offset_fields(resolved), bins,
                            degree=s["degree"], rtol=s["rtol"], progress=progress)
    spec_hash = cfgmod.digest(cfgmod.dictionary_spec(resolved))
    degrees = block_degrees(result)
    info = {
        "block": cfgmod.block_name(diameter_nm, anisotropy),
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
        "package_version": __version__,
        "spec_hash": spec_hash,
        "finite": bool(np.isfinite(result.rows).all()),
    }
    ds = xr.Dataset({"rows": (ROW_DIMS, result.rows), "degree": (("offset_y", "offset_x"), degrees)},
                    coords=row_coords(resolved),
                    attrs={**{k: v for k, v in info.items() if k not in ("shape", "degrees")},
                           "shape": json.dumps(info["shape"])})
    ds["rows"].attrs.update(long_name="system-matrix rows phi_k (spectrum convention)", units="1/s")
    ds["degree"].attrs.update(long_name="truncation degree L per offset")
    with atomic_directory(shard) as tmp:
        to_zarr(ds, tmp)
    write_json(marker, info)
    return info


def block_degrees(result) -> np.ndarray:
    """Truncation degrees (offset_y, offset_x) of a BlockResult."""
    return np.asarray(result.degrees, dtype=np.int64).reshape(result.rows.shape[-2:])


def read_shard(path) -> xr.Dataset:
    try:
        return open_zarr(path).load()
    except StoreError:
        raise
    except Exception as err:  # noqa: BLE001 - a corrupt store: name it
        raise StoreError(f"{path}: cannot read shard ({err})") from None


def read_marker(path) -> dict:
    path = Path(path)
    if not path.exists():
        raise StoreError(f"{path}: marker missing (the simulate job for this block did not finish)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise StoreError(f"{path}: marker is not valid JSON ({err})") from None


# ------------------------------------------------------------------------------- assemble
def assemble(resolved: dict, output=None, verify: bool = True) -> Path:
    """Combine all shards of the configured grid into one Zarr v3 store (``fp.zarr``).

    Each shard's rows are checked against its marker (sha256, dictionary-spec hash, coordinates)
    before they are copied, so a stale or corrupt shard stops the assembly with its name.
    """
    import dask.array as da
    import zarr

    p = paths(resolved)
    output = Path(output) if output is not None else p["fp"]
    spec_hash = cfgmod.digest(cfgmod.dictionary_spec(resolved))
    g = resolved["grids"]
    nd, nk = len(g["diameters_nm"]), len(g["anisotropies_Jm3"])
    coords = {**grid_coords(resolved), **row_coords(resolved)}
    shape = (nd, nk, len(g["angles_deg"]), len(CHANNELS), coords["frequency"].size,
             resolved["offsets"]["ny"], resolved["offsets"]["nx"])
    markers = {}
    for name, d, k in cfgmod.blocks(resolved):
        m = read_marker(marker_path(resolved, name))
        if m.get("spec_hash") != spec_hash:
            raise StoreError(f"{marker_path(resolved, name)}: shard was simulated for another dictionary spec "
                             f"({m.get('spec_hash', '?')[:12]} ≠ {spec_hash[:12]}); delete it to recompute")
        if list(m.get("shape", [])) != list(shape[2:]):
            raise StoreError(f"{marker_path(resolved, name)}: shape {m.get('shape')} ≠ expected {list(shape[2:])}")
        markers[name] = m
    stats = {}
    for key, dtype in (("rtol", float), ("max_periodicity", float), ("steps", np.int64), ("wall_time_s", float)):
        arr = np.array([[markers[cfgmod.block_name(d, k)][key] for k in g["anisotropies_Jm3"]] for d in g["diameters_nm"]],
                       dtype=dtype)
        stats[key] = (("diameter", "anisotropy"), arr)
    deg = np.array([[np.broadcast_to(np.asarray(markers[cfgmod.block_name(d, k)].get(
        "degrees", markers[cfgmod.block_name(d, k)]["degree"])), shape[-2:]) for k in g["anisotropies_Jm3"]]
        for d in g["diameters_nm"]], dtype=np.int64)
    stats["degree"] = (("diameter", "anisotropy", "offset_y", "offset_x"), deg)
    ds = xr.Dataset(
        {"rows": (FP_DIMS, da.zeros(shape, chunks=(1, 1) + shape[2:], dtype=np.complex128)), **stats},
        coords=coords,
        attrs={**_common_attrs(resolved), "shard_checksums": json.dumps({n: m["sha256"] for n, m in markers.items()})},
    )
    ds["rows"].attrs.update(long_name="system-matrix rows phi_k (spectrum convention)", units="1/s")
    ds["degree"].attrs.update(long_name="truncation degree L per block and offset")
    ds["max_periodicity"].attrs.update(long_name="largest periodicity residual |<m>(T) - <m>(0)| in the block")
    ds["wall_time_s"].attrs.update(units="s")
    with atomic_directory(output) as tmp:
        to_zarr(ds, tmp, compute=False)  # metadata and coordinates; the rows follow block by block
        group = zarr.open_group(tmp, mode="r+", zarr_format=3)
        for key, (_, arr) in stats.items():
            group[key][...] = arr
        rows = group["rows"]
        for i, d in enumerate(g["diameters_nm"]):
            for j, k in enumerate(g["anisotropies_Jm3"]):
                name = cfgmod.block_name(d, k)
                shard = read_shard(shard_path(resolved, name))
                block = np.asarray(shard["rows"].transpose(*ROW_DIMS).values)
                if verify:
                    if checksum(block) != markers[name]["sha256"]:
                        raise StoreError(f"{shard_path(resolved, name)}: rows do not match the sha256 in "
                                         f"{marker_path(resolved, name)}; delete both to recompute")
                    for c in ("angle", "frequency", "offset_x", "offset_y"):
                        if not np.allclose(shard[c].values, coords[c].values, rtol=1e-9, atol=1e-12):
                            raise StoreError(f"{shard_path(resolved, name)}: coordinate {c} differs from the config")
                rows[i, j] = block
    return output


# ------------------------------------------------------------------------------------ M0
def m0_rows(resolved: dict, diameter_nm: float) -> np.ndarray:
    """Langevin (M0) rows (channel, frequency, offset_y, offset_x) for one diameter, same convention."""
    from .equilibrium import langevin_moment

    particle = cfgmod.particle(resolved, diameter_nm, 0.0)
    excitation = cfgmod.excitation(resolved)
    offsets = cfgmod.offset_fields(resolved)
    bins = cfgmod.evaluation_bins(resolved)[:, 2]
    t = excitation.times
    ny, nx = offsets.shape[:2]
    out = np.zeros((len(CHANNELS), bins.size, ny, nx), dtype=np.complex128)
    for iy in range(ny):
        for ix in range(nx):
            ex = excitation.with_offset(offsets[iy, ix])
            _, rate = langevin_moment(particle, ex.field(t), ex.field_rate(t))
            out[:, :, iy, ix] = spectrum(rate)[:, bins]
    return out


def build_m0(resolved: dict, output=None) -> Path:
    output = Path(output) if output is not None else paths(resolved)["m0"]
    g = resolved["grids"]
    rows = np.stack([m0_rows(resolved, d) for d in g["diameters_nm"]])
    coords = {k: v for k, v in {**grid_coords(resolved), **row_coords(resolved)}.items()
              if set(v.dims) <= set(M0_DIMS)}
    ds = xr.Dataset({"rows": (M0_DIMS, rows)}, coords=coords, attrs={**_common_attrs(resolved), "model": "Langevin (M0)"})
    ds["rows"].attrs.update(long_name="Langevin system-matrix rows (spectrum convention)", units="1/s")
    with atomic_directory(output) as tmp:
        to_zarr(ds, tmp)
    return output
