"""The simulate jobs' cluster plan: runtime and memory from the cost model, heavy blocks split, light ones grouped.

The paper grid is planned through `snakemake -n` with the Slurm profile (no cluster needed); the
resources Snakemake would request for every grouped Slurm job are read from its own group
computation. A block split into parts of mirror-paired angles assembles to the same bytes as
the whole block.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import GROUPS_ENTRY, run_snakemake

from mpisweep.io.stores import open_zarr
from mpisweep.steps.dictionary import simulate as mssimulate
from mpisweep.steps.dictionary.assemble import assemble
from mpisweep.steps.dictionary.simulate import block_marker, read_marker, simulate_shard
from mpisweep.sweep import Sweep, cost

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "workflow" / "profiles" / "slurm"
PAPER = REPO / "config" / "paper.yaml"

def dry_run_groups(tmp_path, *configfiles):
    dump = tmp_path / "groups.json"
    out = run_snakemake(tmp_path, "--profile", PROFILE, "--workflow-profile", "none", "-n", configfiles=configfiles,
                        entry=GROUPS_ENTRY, timeout=600, env={**os.environ, "GROUP_DUMP": str(dump)})
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    return json.loads(dump.read_text()), out.stdout + out.stderr


def check_plan(groups, sweep):
    """Every simulate job is planned ≥ 1.5× its estimate; no Slurm job past the maximum."""
    jobs = {job.name: job for job in cost.plan_jobs(sweep)}
    limit = sweep.cluster.max_job_minutes
    members = {name for g in groups.values() for name in g["jobs"]}
    assert members == set(jobs), "every planned simulate job is in exactly one group"
    ratios = []
    for gid, g in groups.items():
        estimate_s = sum(jobs[name].seconds for name in g["jobs"])
        assert g["runtime"] <= limit, (gid, g["runtime"])
        assert g["runtime"] * 60 >= 1.5 * estimate_s, gid
        assert g["runtime"] == sum(r for r, _ in g["jobs"].values()), "members run one after another"
        assert g["mem_mb"] >= 1.5 * max(jobs[name].memory_mb for name in g["jobs"]), gid
        assert g["cpus"] == 1
        for name, (runtime, mem) in g["jobs"].items():
            assert runtime * 60 >= 1.5 * jobs[name].seconds and mem >= 1.5 * jobs[name].memory_mb, name
            ratios.append(runtime * 60 / jobs[name].seconds)
    return jobs, ratios


@pytest.mark.workflow
def test_paper_grid_plan_covers_every_estimate_and_stays_within_the_maximum(tmp_path):
    groups, _ = dry_run_groups(tmp_path, PAPER)
    sweep = Sweep.load(PAPER)
    jobs, ratios = check_plan(groups, sweep)
    assert sweep.cluster.max_job_minutes == 240
    assert len(jobs) == 720  # at the default maximum no paper block needs splitting
    assert len(groups) <= 90  # fewer Slurm submissions than 8 blocks per job gave
    assert min(ratios) >= 1.5
    heaviest = jobs["D28_K9000"]
    assert heaviest.solves == 737 and heaviest.runtime_min <= 240
    print(f"\npaper grid: {len(jobs)} simulate jobs in {len(groups)} Slurm jobs, longest "
          f"{max(g['runtime'] for g in groups.values())} min; planned/estimate {min(ratios):.2f}-{max(ratios):.2f}")


@pytest.mark.workflow
def test_a_lower_maximum_splits_heavy_blocks_into_mirror_paired_parts(tmp_path):
    lower = tmp_path / "cluster.yaml"
    lower.write_text(yaml.safe_dump({"cluster": {"max_job_minutes": 60}}))
    groups, log = dry_run_groups(tmp_path, PAPER, lower)
    sweep = Sweep.load({**yaml.safe_load(PAPER.read_text()), "cluster": {"max_job_minutes": 60}})
    jobs, _ = check_plan(groups, sweep)
    split = [job for job in jobs.values() if job.count > 1]
    assert split and all(job.runtime_min <= 60 for job in jobs.values())
    angles = sweep.angles
    for job in split:
        held = {angles[i] % 180 for i in job.angles}
        assert held == {(180 - a) % 180 for a in held}, f"{job.name} separates a mirror pair: {sorted(held)}"
    name = split[0].name
    assert re.search(rf"--part {split[0].index}/{split[0].count} .*markers/{name}\.json", log)
    assert f"markers/{name}.json" in log.split("rule assemble:")[1].split("output:")[0]


def test_the_default_sweep_is_not_split():
    sweep = Sweep.load(REPO / "config" / "config.yaml")
    assert [job.name for job in cost.plan_jobs(sweep)] == [name for name, _, _ in sweep.blocks]


def test_the_cost_model_covers_the_measured_grid_cost():
    """Planned time (safety factor × estimate) ≥ 1.2× every cell of the grid-cost table (docs: performance)."""
    text = (REPO / "docs" / "performance.md").read_text().split("The paper grid's cost")[1]
    header = re.search(r"^\| s/solve.*\| (K .*) \|$", text, flags=re.M).group(1)
    ks = [float(k.strip().removeprefix("K ")) for k in header.split("|")]
    sweep = Sweep.load(PAPER)
    fields = np.array([[sweep.excitation.with_offset(o).max_field() for o in row] for row in sweep.offsets])
    rows = re.findall(r"^\| D (\d+) nm \| (.*) \|$", text, flags=re.M)
    assert len(rows) == 5
    for d, cells in rows:
        for k, cell in zip(ks, cells.split("|")):
            measured = float(cell.split()[0])
            particle = sweep.particle(float(d), k)
            degrees = np.vectorize(lambda b, p=particle: cost.auto_degree(p, b))(fields)
            model = cost.solve_seconds(degrees, particle.sigma, particle.beta * fields).mean()
            assert sweep.cluster.safety_factor * model >= 1.2 * measured, (d, k, model, measured)


TINY = {
    "offsets": {"x": {"min": -14.35, "max": 14.35, "count": 2}, "y": {"min": -14.71, "max": 14.71, "count": 3}},
    "grids": {"diameters": [20], "anisotropies": [500, 1100], "angles": [0, 45, 90, 135]},
    "frequencies": {"mx": 3, "my": 3},
}


def test_split_angles_keeps_mirror_pairs_and_is_deterministic():
    sweep = Sweep.load(TINY)
    orbits = cost.angle_orbits(sweep)
    assert sorted(orbits) == [(0,), (1, 3), (2,)]
    parts = cost.split_angles(orbits, [4, 6, 4], 2)
    assert parts == [(0, 2), (1, 3)] and parts == cost.split_angles(orbits, [4, 6, 4], 2)
    assert cost.split_angles(orbits, [4, 6, 4], 3) == [(0,), (1, 3), (2,)]


def test_a_split_block_assembles_to_the_same_bytes_as_the_whole_block(tmp_path, monkeypatch):
    one = {**TINY, "grids": {**TINY["grids"], "anisotropies": [1100]}}
    whole = Sweep.load({**one, "output": str(tmp_path / "whole")})
    split = Sweep.load({**one, "output": str(tmp_path / "split"), "cluster": {"max_job_minutes": 10}})
    for name, d, k in whole.blocks:
        simulate_shard(whole, d, k, progress=False)
    assemble(whole)
    # the tiny blocks fit any maximum, so make solves look ~25 s each: a whole block no longer fits
    monkeypatch.setattr(cost, "C", cost.C * 300)
    monkeypatch.setattr(cost, "JOB_S", 0.0)
    jobs = cost.plan_jobs(split)
    assert [(j.name, j.angles) for j in jobs] == [
        ("D20_K1100_part1of2", (0, 2)), ("D20_K1100_part2of2", (1, 3))]
    assert max(j.runtime_min for j in jobs) <= 10
    config = tmp_path / "split.json"
    split.write(config)
    for job in jobs:
        if job.name == "D20_K1100_part2of2":  # one part through the job's own command
            cmd = [sys.executable, "-m", "mpisweep", "simulate-block", "--config", str(config), "--diameter", "20",
                   "--anisotropy", "1100", "--part", job.part, "--quiet"]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            assert out.returncode == 0, out.stderr[-3000:]
        else:
            simulate_shard(split, job.diameter_nm, job.value, part=(job.index, job.count), progress=False)
    part = read_marker(split.layout.marker("D20_K1100_part2of2"))
    assert part["part"] == [2, 2] and part["angle_indices"] == [1, 3] and part["shape"][0] == 2
    assemble(split)
    a, b = open_zarr(whole.layout.fp), open_zarr(split.layout.fp)
    assert a["rows"].values.tobytes() == b["rows"].values.tobytes()
    assert block_marker(split, "D20_K1100")["sha256"] == read_marker(whole.layout.marker("D20_K1100"))["sha256"]
    assert json.loads(a.attrs["shard_checksums"]) == json.loads(b.attrs["shard_checksums"])
    # the protection stays: a part whose rows do not match its marker stops the assembly
    marker = split.layout.marker("D20_K1100_part1of2")
    info = json.loads(marker.read_text())
    marker.write_text(json.dumps({**info, "sha256": "0" * 64}))
    mssimulate._PLANS.clear()
    with pytest.raises(Exception, match="part1of2.zarr: rows do not match the sha256"):
        assemble(split, output=tmp_path / "again.zarr")
