"""numba's cache on clusters: parallel cold-start jobs, the warm-up step, and that a fresh compile and the
cache give the same bytes.

Parallel simulate jobs that all find an empty cache compile at once and race to write it (the
workflow avoids that with its warm-up rule, but a user may start jobs by hand); all must succeed
and give the same bytes (two jobs race: CI has two cores). After `mpisweep warmup` the cache
holds every kernel: a simulate job then only loads it (writes nothing to it) and gives the bytes
of the freshly compiled kernels. Each compiles from an empty cache, so the module is marked slow.
"""

import json
import os
import subprocess
import sys

import pytest

from mpisweep.kernel_cache import PACKAGE, kernel_digest
from mpisweep.sweep import Sweep

pytestmark = pytest.mark.slow

TINY = {"grids": {"diameters": [16], "anisotropies": [300], "angles": [0]},
        "offsets": {"x": {"min": -2, "max": 2, "count": 2}, "y": {"min": 0, "max": 0, "count": 1}},
        "frequencies": {"mx": 2, "my": 2}}


def simulate_block(config, cache, name):
    """The block of TINY through its job's command, with numba's cache in `cache` (not started yet)."""
    return subprocess.Popen([sys.executable, "-m", "mpisweep", "simulate-block", "--config", str(config),
                             "--diameter", "16", "--anisotropy", "300", "--quiet", "--shard",
                             str(config.parent / f"{name}.zarr"), "--marker", str(config.parent / f"{name}.json")],
                            env={**os.environ, "NUMBA_CACHE_DIR": str(cache)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def sha256(config, name):
    return json.loads((config.parent / f"{name}.json").read_text())["sha256"]


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp("numba") / "resolved.json"
    Sweep.load({**TINY, "output": str(path.parent / "results")}).write(path)
    return path


@pytest.fixture(scope="module")
def cold_start(config):
    """Two simulate jobs started at once on an empty cache: [(exit status, stderr)] and their blocks' sha256."""
    jobs = [simulate_block(config, config.parent / "cold", f"cold{i}") for i in range(2)]
    results = [(job.wait(timeout=600), job.stderr.read()) for job in jobs]
    return results, {sha256(config, f"cold{i}") for i, (rc, _) in enumerate(results) if rc == 0}


@pytest.fixture(scope="module")
def warm(config):
    """`mpisweep warmup` on an empty cache: (the cache, the finished process, its stamp)."""
    cache, stamp = config.parent / "warm", config.parent / "warm.stamp"
    out = subprocess.run([sys.executable, "-m", "mpisweep", "warmup", "--output", str(stamp)],
                         env={**os.environ, "NUMBA_CACHE_DIR": str(cache)}, capture_output=True, text=True,
                         timeout=600)
    return cache, out, stamp


def test_parallel_cold_start_jobs_share_an_empty_cache(cold_start):
    results, hashes = cold_start
    assert [rc for rc, _ in results] == [0] * 2, [err[-1500:] for _, err in results]
    assert len(hashes) == 1


def test_warmup_fills_the_cache(warm):
    cache, out, stamp = warm
    assert out.returncode == 0, out.stderr[-2000:]
    assert stamp.exists() and "compiled" in out.stderr
    index = list((cache / f"mpisweep-{kernel_digest()}").rglob("*.nbi"))
    cached = {p.name.split("-")[0] for p in index}
    assert {"integrator.integrate", "banded.band_lu_nopivot", "banded.band_solve_nopivot"} <= cached, cached
    assert len(index) == len(list(cache.rglob("*.nbi")))  # nothing outside it


def test_after_warmup_a_job_only_loads_the_cache_and_gives_the_freshly_compiled_bytes(config, warm, cold_start):
    """A new machine compiles the kernels (the cold start), a job after the warm-up loads them: same bytes."""
    cache, out, _ = warm
    assert out.returncode == 0, out.stderr[-2000:]
    before = {p: p.stat().st_mtime_ns for p in cache.rglob("*")}
    job = simulate_block(config, cache, "warm")
    assert job.wait(timeout=600) == 0, job.stderr.read()[-1500:]
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*")} == before  # nothing compiled, nothing written
    assert {sha256(config, "warm")} == cold_start[1]


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
