"""numba's cache on clusters: parallel cold-start jobs and the warm-up step.

Parallel simulate jobs that all find an empty cache compile at once and race to write it (the
workflow avoids that with its warm-up rule, but a user may start jobs by hand); all must succeed
and give the same bytes (two jobs race: CI has two cores). After `mpisweep warmup` the cache
holds every kernel.
"""

import json
import os
import subprocess
import sys

from mpisweep.kernel_cache import PACKAGE, kernel_digest
from mpisweep.sweep import Sweep

TINY = {"grids": {"diameters": [16], "anisotropies": [300], "angles": [0]},
        "offsets": {"x": {"min": -2, "max": 2, "count": 2}, "y": {"min": 0, "max": 0, "count": 1}},
        "frequencies": {"mx": 2, "my": 2}}


def test_parallel_cold_start_jobs_share_an_empty_cache(tmp_path):
    config = tmp_path / "resolved.json"
    Sweep.load({**TINY, "output": str(tmp_path / "results")}).write(config)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    jobs = [subprocess.Popen([sys.executable, "-m", "mpisweep", "simulate-block", "--config", str(config),
                              "--diameter", "16", "--anisotropy", "300", "--quiet",
                              "--shard", str(tmp_path / f"s{i}.zarr"), "--marker", str(tmp_path / f"m{i}.json")],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    results = [(job.wait(timeout=600), job.stderr.read()) for job in jobs]
    assert [rc for rc, _ in results] == [0] * 2, [err[-1500:] for _, err in results]
    hashes = {json.loads((tmp_path / f"m{i}.json").read_text())["sha256"] for i in range(2)}
    assert len(hashes) == 1


def test_warmup_fills_the_cache(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    stamp = tmp_path / "warm"
    out = subprocess.run([sys.executable, "-m", "mpisweep", "warmup", "--output", str(stamp)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert stamp.exists() and "compiled" in out.stderr
    index = list((tmp_path / "cache" / f"mpisweep-{kernel_digest()}").rglob("*.nbi"))
    cached = {p.name.split("-")[0] for p in index}
    assert {"integrator.integrate", "banded.band_lu_nopivot", "banded.band_solve_nopivot"} <= cached, cached
    assert len(index) == len(list((tmp_path / "cache").rglob("*.nbi")))  # nothing outside it


def test_the_cache_directory_changes_with_any_kernel_source(tmp_path):
    """numba checks a cached kernel against its own file only, so a change in a kernel it calls
    (another file) must lead to another cache directory: the digest covers every kernel file."""
    for name, text in {"a.py": "@njit(cache=True)\ndef f(): pass\n", "b.py": "@numba.njit(cache=True)\n",
                       "plain.py": "x = 1\n"}.items():
        (tmp_path / name).write_text(text)
    before = kernel_digest(tmp_path)
    (tmp_path / "plain.py").write_text("x = 2\n")
    assert kernel_digest(tmp_path) == before  # not a kernel file
    (tmp_path / "b.py").write_text("@numba.njit(cache=True)\n# changed\n")
    assert kernel_digest(tmp_path) != before
    # the package's own kernel files are all covered
    covered = {p.name for p in PACKAGE.rglob("*.py") if b"njit(cache=True" in p.read_bytes()}
    assert {"banded.py", "integrator.py", "kaczmarz.py"} <= covered, covered
