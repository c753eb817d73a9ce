"""Are two results folders the same? Compares every output of two runs of a config, file by file.

    python benchmarks/identical_outputs.py RESULTS_A RESULTS_B

Zarr stores: every variable's and coordinate's bytes and the attributes; .npz: every array's bytes;
MDF/HDF5 files: every
dataset's values; CSV, JSON, PNG and text: the bytes. What legitimately differs between two runs is
left out and named in the table: wall times, peak memory, creation times, UUIDs, the code's git
revision and version (provenance: two versions of the code are what one compares), logs and
Snakemake benchmark files. Prints one line per file and a count; exit status 1 when any differ.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

VOLATILE = ("time", "created", "rss", "uuid", "date", "elapsed", "git_revision", "package_version")  # differ run to run
SKIPPED_DIRS = ("logs", "benchmarks")


def volatile(name: str) -> bool:
    name = name.lower()
    return any(v in name for v in VOLATILE)


def strip(obj):
    """JSON without its volatile keys."""
    if isinstance(obj, dict):
        return {k: strip(v) for k, v in obj.items() if not volatile(k)}
    if isinstance(obj, list):
        return [strip(v) for v in obj]
    return obj


def values(array):
    """Comparable contents of an array: its bytes, or its items for strings and objects."""
    array = np.asarray(array)
    return array.tolist() if array.dtype.kind in "OSU" else np.ascontiguousarray(array).tobytes()


def zarr_digest(path: Path) -> dict:
    import xarray as xr

    ds = xr.open_zarr(path)
    out = {f"var:{k}": values(ds[k].values) for k in list(ds.data_vars) + list(ds.coords) if not volatile(k)}
    out["attrs"] = json.dumps(strip({k: str(v) for k, v in ds.attrs.items()}), sort_keys=True)
    return out


def hdf_digest(path: Path) -> dict:
    import h5py

    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and not volatile(name):
                out[name] = values(obj[()])
        f.visititems(visit)
    return out


def digest(path: Path):
    if path.suffix == ".zarr":
        return zarr_digest(path)
    if path.suffix in (".mdf", ".h5", ".hdf5"):
        return hdf_digest(path)
    if path.suffix == ".npz":
        with np.load(path) as z:
            return {k: values(z[k]) for k in z.files if not volatile(k)}
    if path.suffix == ".json":
        return strip(json.loads(path.read_text()))
    return path.read_bytes()


def outputs(root: Path) -> list[Path]:
    """Every output (a Zarr store counts as one), relative to root, logs and benchmarks left out."""
    found = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if any(part in SKIPPED_DIRS for part in rel.parts) or any(part.endswith(".zarr") for part in rel.parts[:-1]):
            continue
        if p.suffix == ".zarr" or (p.is_file() and not p.name.startswith(".")):
            found.append(rel)
    return found


def main(argv=None) -> int:
    a, b = (Path(p) for p in (argv or sys.argv[1:]))
    left, right = outputs(a), outputs(b)
    differ = 0
    for rel in sorted(set(left) | set(right)):
        if rel not in left or rel not in right:
            status = f"only in {a if rel in left else b}"
            differ += 1
        else:
            same = digest(a / rel) == digest(b / rel)
            status = "identical" if same else "DIFFERS"
            differ += not same
        print(f"{status:12s} {rel}")
    print(f"\n{len(set(left) | set(right))} outputs compared ({', '.join(SKIPPED_DIRS)} and the keys "
          f"{', '.join(VOLATILE)} left out): {differ} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
