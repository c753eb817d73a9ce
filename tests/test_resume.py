"""Nothing is lost: reproducible blocks, and a simulate job killed with SIGKILL leaves no corrupt shard."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from mpisweep.io.atomic import atomic_path
from mpisweep.io.stores import checksum
from mpisweep.steps.dictionary.simulate import read_shard, simulate_shard
from mpisweep.sweep import Sweep

SMALL = {
    "offsets": {"x": {"min": -14.35, "max": 14.35, "count": 2}, "y": {"min": -14.71, "max": 14.71, "count": 2}},
    "grids": {"diameters": [20], "anisotropies": [500], "angles": [0, 90]},
    "frequencies": {"mx": 3, "my": 3},
}


@pytest.fixture
def resolved(tmp_path):
    res = Sweep.load({**SMALL, "output": str(tmp_path / "results")})
    path = tmp_path / "resolved.json"
    res.write(path)
    return res, path


def simulate_block_command(config_path, shard, marker):
    return [sys.executable, "-m", "mpisweep", "simulate-block", "--config", str(config_path), "--diameter", "20",
            "--anisotropy", "500", "--shard", str(shard), "--marker", str(marker)]


def test_same_config_gives_byte_identical_blocks(resolved, tmp_path):
    res, _ = resolved
    first = simulate_shard(res, 20, 500, tmp_path / "a.zarr", tmp_path / "a.json", progress=False)
    second = simulate_shard(res, 20, 500, tmp_path / "b.zarr", tmp_path / "b.json", progress=False)
    assert first["sha256"] == second["sha256"]
    a = read_shard(tmp_path / "a.zarr")["rows"].values
    b = read_shard(tmp_path / "b.zarr")["rows"].values
    assert a.tobytes() == b.tobytes()
    assert json.loads((tmp_path / "a.json").read_text())["sha256"] == checksum(a)


SOLVE_HASH = """
import hashlib
from mpisweep.physics.excitation import Excitation
from mpisweep.physics.params import Particle
from mpisweep.physics.solver import solve
r = solve(Particle(20e-9, 2000.0), Excitation.bruker(offset=(4e-3, -2e-3)), [0.6, 0.8, 0.0], check=False)
print(hashlib.sha256(r.rate.tobytes()).hexdigest())
"""


def test_fresh_compile_and_numba_cache_give_bit_identical_solves(tmp_path):
    """A new machine compiles the kernels, a rerun loads them from the cache: same bytes."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    runs = [subprocess.run([sys.executable, "-c", SOLVE_HASH], env=env, capture_output=True, text=True,
                           check=True).stdout.strip() for _ in range(2)]
    assert any((tmp_path / "numba-cache").rglob("*.nbc"))  # the first run compiled and cached
    assert runs[0] == runs[1]


def test_sigkill_mid_block_leaves_no_shard_and_the_rerun_completes(resolved, tmp_path):
    res, config_path = resolved
    shard, marker = tmp_path / "s" / "D20_K500.zarr", tmp_path / "m" / "D20_K500.json"
    proc = subprocess.Popen(simulate_block_command(config_path, shard, marker),
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    # Wait until it reports solving progress, then kill it without any chance to clean up.
    deadline = time.monotonic() + 120
    for line in proc.stderr:
        if "solves" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not shard.exists() and not marker.exists()

    # The rerun (what Snakemake does for a job without its outputs) recomputes the block from scratch,
    # clears the dead writer's temporaries, and gives the same bytes as an undisturbed run.
    done = subprocess.run(simulate_block_command(config_path, shard, marker), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not list(shard.parent.glob(".*tmp-*"))
    reference = simulate_shard(res, 20, 500, tmp_path / "ref.zarr", tmp_path / "ref.json", progress=False)
    assert json.loads(marker.read_text())["sha256"] == reference["sha256"]


def test_an_interrupted_write_leaves_the_old_shard_intact(tmp_path):
    target = tmp_path / "shard.zarr"
    target.mkdir()
    (target / "zarr.json").write_text("{}")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.mkdir()
            (tmp / "partial").write_bytes(b"half a chunk")
            raise RuntimeError("killed mid-write")
    assert (target / "zarr.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shard.zarr"]
