"""The local Slurm test cluster runs and accounts for jobs (the sweep through the Slurm profile
is tests/test_slurm_sweep.py).

When these tests run, skip or fail: see tests/slurm/fixture.py (in short: they run in CI
and with MPISWEEP_SLURM=1, installing Slurm with apt-get if needed; elsewhere they skip
unless Slurm is installed and the user is root).
"""

import re

import pytest
from slurm.fixture import slurm_cluster  # noqa: F401  (session fixture)

pytestmark = pytest.mark.cluster


def test_wrap_job_completes_and_is_accounted(slurm_cluster, tmp_path):  # noqa: F811
    c = slurm_cluster
    out = tmp_path / "hi.out"
    jid = c.sbatch("-o", str(out), "--wrap", "echo hi")
    assert c.wait(jid)[jid] == "COMPLETED"
    assert out.read_text() == "hi\n"
    states = c.run("sacct", "-j", jid, "-n", "-o", "State").stdout.split()
    assert states and set(states) == {"COMPLETED"}, states  # job and its batch step


def test_two_task_job(slurm_cluster, tmp_path):  # noqa: F811
    c = slurm_cluster
    out = tmp_path / "tasks.out"
    jid = c.sbatch("-n", "2", "-o", str(out), "--wrap", "srun -l bash -c 'echo task $SLURM_PROCID'")
    assert c.wait(jid)[jid] == "COMPLETED", out.read_text() if out.exists() else ""
    assert sorted(out.read_text().split("\n")[:-1]) == ["0: task 0", "1: task 1"]
    rows = c.run("sacct", "-j", jid, "-n", "-P", "-o", "JobID,State,NTasks").stdout.split()
    step = [r for r in rows if r.startswith(f"{jid}.0|")]
    assert step == [f"{jid}.0|COMPLETED|2"], rows


def test_jobs_run_concurrently(slurm_cluster, tmp_path):  # noqa: F811
    """Two 1-CPU jobs without --mem run at the same time: each waits for the other's start
    marker, so both complete only if they overlap (needs DefMemPerCPU, else every job is
    given the node's whole memory and they run one after the other)."""
    c = slurm_cluster
    wait_for = "for i in $(seq 900); do [ -e {other} ] && exit 0; sleep 0.1; done; exit 1"
    ids = []
    for me, other in (("a", "b"), ("b", "a")):
        script = f"touch {tmp_path / me}; " + wait_for.format(other=tmp_path / other)
        ids.append(c.sbatch("-n1", "-c1", "-o", str(tmp_path / f"{me}.out"), "--wrap", script))
    states = c.wait(*ids, timeout=150)
    assert set(states.values()) == {"COMPLETED"}, states
    for jid in ids:  # no --mem: DefMemPerCPU applied, not the whole node
        # asked of the controller: accounting may not hold the job's TRES yet right after it
        # ends (sacct then prints ReqMem as "16?", an unset value)
        job = c.run("scontrol", "-o", "show", "job", jid).stdout
        mem = re.search(r"\bMinMemoryCPU=(\d+)M\b", job)
        assert mem and int(mem.group(1)) < c.mem_mb, job
