"""Nothing is lost: reproducible blocks, and a simulate job killed with SIGKILL leaves no corrupt shard.
(That a fresh compile and numba's cache give the same bytes: tests/test_numba_cache.py.)"""

import json
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


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    """SMALL's sweep, its resolved config file, and its block run once in this process (the reference)."""
    directory = tmp_path_factory.mktemp("resume")
    res = Sweep.load({**SMALL, "output": str(directory / "results")})
    path = directory / "resolved.json"
    res.write(path)
    reference = simulate_shard(res, 20, 500, directory / "ref.zarr", directory / "ref.json", progress=False)
    return res, path, reference, directory / "ref.zarr"


def simulate_block_command(config_path, shard, marker):
    return [sys.executable, "-m", "mpisweep", "simulate-block", "--config", str(config_path), "--diameter", "20",
            "--anisotropy", "500", "--shard", str(shard), "--marker", str(marker)]


def test_same_config_gives_byte_identical_blocks(resolved, tmp_path):
    res, _, first, first_shard = resolved
    second = simulate_shard(res, 20, 500, tmp_path / "b.zarr", tmp_path / "b.json", progress=False)
    assert first["sha256"] == second["sha256"]
    a = read_shard(first_shard)["rows"].values
    b = read_shard(tmp_path / "b.zarr")["rows"].values
    assert a.tobytes() == b.tobytes()
    assert json.loads((tmp_path / "b.json").read_text())["sha256"] == checksum(b)


def test_sigkill_mid_block_leaves_no_shard_and_the_rerun_completes(resolved, tmp_path):
    _, config_path, reference, _ = resolved
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
