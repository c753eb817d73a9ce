"""The sweep submitted to a real Slurm cluster through workflow/profiles/slurm equals the local run.

Micro config: 1 diameter × 2 anisotropies × 2 angles × 2 × 2 offsets, noise-free virtual scanner.
The cluster comes from tests/slurm (installed from Debian packages in CI).
"""

import importlib.util
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import snakemake_cmd
from slurm.fixture import slurm_cluster  # noqa: F401  (session fixture)

from mpisweep.io.stores import open_zarr

pytestmark = [pytest.mark.cluster, pytest.mark.workflow]

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "workflow" / "profiles" / "slurm"
MICRO = {
    "output": "results",
    "offsets": {"x": {"min": -14.35, "max": 14.35, "count": 2}, "y": {"min": -14.71, "max": 14.71, "count": 2}},
    "grids": {"diameters": [20], "anisotropies": [500, 1100], "angles": [0, 90]},
    "frequencies": {"mx": 3, "my": 3},
    "fit": {"ranks": ["100%"]},
    "measurement": {"source": "virtual", "virtual": {
        "components": [{"diameter": 20, "anisotropy": 1100, "weight": 1.0}], "snr_db": None, "seed": 3,
        "solver": {"degree_offset": 0, "rtol_factor": 1}}},
    "orientation": {"enabled": False},
}


def test_slurm_sweep_equals_local_sweep(slurm_cluster, tmp_path):  # noqa: F811
    c = slurm_cluster
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.fail("snakemake-executor-plugin-slurm is not installed "
                    "(it is in pyproject.toml and pinned in envs/constraints.txt)")
    local, remote = tmp_path / "local", tmp_path / "slurm"
    local.mkdir()
    remote.mkdir()

    t0 = time.monotonic()
    proc = c.run(*snakemake_cmd(local, "--cores", "2", config=MICRO), check=False, timeout=900, cwd=local)
    local_wall = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr[-4000:]

    before = set(c.run("sacct", "-X", "-n", "-P", "-a", "-o", "JobID", "-S", "2000-01-01").stdout.split())
    t0 = time.monotonic()
    proc = c.run(*snakemake_cmd(remote, "--profile", PROFILE, "--workflow-profile", "none",
                                "--slurm-init-seconds-before-status-checks", "2", config=MICRO),
                 check=False, timeout=900, cwd=remote)
    slurm_wall = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr[-6000:]
    rows = c.run("sacct", "-X", "-n", "-P", "-a", "-S", "2000-01-01",
                 "-o", "JobID,State,AllocCPUS,ReqMem,Timelimit,Account,Partition").stdout.split()
    jobs = {r.split("|")[0]: r.split("|")[1:] for r in rows if r.split("|")[0] not in before}
    assert jobs and {v[0] for v in jobs.values()} == {"COMPLETED"}, jobs
    assert {(v[4], v[5]) for v in jobs.values()} == {(c.account, c.partition)}
    # Both simulate blocks ran in one grouped Slurm job, sized from the cost model for sequential
    # members (mpisweep.sweep.cost: 3 min and 1500 MB each → 1 CPU, 1500 MB, 2 × 3 min). Logs of
    # successful jobs are kept.
    logs = remote / ".snakemake" / "slurm_logs"
    group_dirs = [d for d in logs.iterdir() if d.name.startswith("group_")]
    group = [p.stem for d in group_dirs for p in d.rglob("*.log")]
    assert len(group) == 1, (group, sorted(p.name for p in logs.iterdir()))
    assert jobs[group[0]][1:4] == ["1", "1500M", "00:06:00"], jobs[group[0]]
    assert {p.name for p in logs.iterdir()} >= {"rule_assemble", "rule_fit"} and len(group_dirs) == 1
    print(f"\nlocal --cores 2: {local_wall:.0f} s; Slurm: {slurm_wall:.0f} s in {len(jobs)} Slurm jobs")

    for name in ("fp.zarr", "m0.zarr"):
        a = open_zarr(local / "results" / "dictionary" / name)
        b = open_zarr(remote / "results" / "dictionary" / name)
        assert np.array_equal(a["rows"].values, b["rows"].values), name
        for coord in a.coords:
            assert np.array_equal(a[coord].values, b[coord].values), (name, coord)
    for marker in (local / "results" / "dictionary" / "markers").glob("*.json"):
        twin = remote / "results" / "dictionary" / "markers" / marker.name
        assert json.loads(marker.read_text())["sha256"] == json.loads(twin.read_text())["sha256"]
    fit_a = json.loads((local / "results" / "fits" / "summary.json").read_text())
    fit_b = json.loads((remote / "results" / "fits" / "summary.json").read_text())
    assert fit_a["M1"] == fit_b["M1"] and fit_a["M1"]["best_anisotropy"] == 1100.0
    assert os.listdir(remote / "results" / "figures")
