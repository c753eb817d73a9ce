"""Session fixture ``slurm_cluster``: a real single-node Slurm cluster on localhost.

Use it from a test module marked ``cluster`` (tests/conftest.py fails an unmarked test that
uses it) with ``from slurm.fixture import slurm_cluster`` (pytest puts ``tests/`` on
``sys.path``). The fixture runs ``tests/slurm/cluster.sh up`` in a temporary directory,
yields a :class:`SlurmCluster` (its ``env`` is the environment to run Slurm clients and
``snakemake --profile workflow/profiles/slurm`` with), and runs ``cluster.sh down`` at the
end of the session. Bringing it up takes about 5 s once the packages are there; installing
them (apt-get) about 35 s.

When the tests run, skip or fail
--------------------------------
* ``MPISWEEP_SLURM=0``: always skipped ("disabled"), also in CI.
* ``MPISWEEP_SLURM=1`` or ``CI=true`` ("required"): the packages are installed when missing
  (``cluster.sh install``: apt-get, needs root). Anything that prevents the cluster from
  coming up FAILS the tests with the reason: not root, no apt-get, apt-get failed, a daemon
  did not start (with the tail of its log).
* Otherwise (a developer machine): if the packages are installed and we are root, the
  cluster is started and the tests run. If not, the tests are SKIPPED with a reason that
  names what is missing (the binaries, or root), and how to enable them:
  ``sudo tests/slurm/cluster.sh install`` or ``MPISWEEP_SLURM=1``.

The cluster's daemons run as root (SlurmUser=root), so a non-root run cannot start it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().with_name("cluster.sh")
# what `cluster.sh up` needs (same list as BINARIES in cluster.sh)
BINARIES = (
    "slurmctld slurmd slurmdbd sbatch srun sacct sacctmgr sinfo squeue scontrol "
    "munged munge unmunge mariadbd mariadb-install-db mariadb mariadb-admin"
).split()
SBIN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
INSTALL_TIMEOUT = 900
UP_TIMEOUT = 300
TERMINAL = {
    "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
    "PREEMPTED", "BOOT_FAIL", "DEADLINE",
}


@dataclass
class SlurmCluster:
    """A running test cluster."""

    directory: Path
    env: dict = field(repr=False)  # os.environ + SLURM_CONF + wrappers first on PATH
    account: str
    partition: str
    cluster: str
    cpus: int
    mem_mb: int

    def run(self, *cmd, check=True, timeout=60, **kw) -> subprocess.CompletedProcess:
        """Run a command in the cluster's environment, text output captured."""
        kw.setdefault("capture_output", True)
        proc = subprocess.run(cmd, env=self.env, text=True, timeout=timeout, **kw)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return proc

    def sbatch(self, *args) -> str:
        """Submit with `sbatch --parsable ARGS`, return the job id."""
        return self.run("sbatch", "--parsable", *args).stdout.strip().split(";")[0]

    def state(self, jobid: str) -> str:
        """The job's state in accounting (sacct), '' while it is not recorded yet."""
        out = self.run("sacct", "-j", jobid, "-X", "-n", "-P", "-o", "State").stdout.split()
        return out[0].split()[0] if out else ""

    def wait(self, *jobids: str, timeout: float = 120) -> dict:
        """Wait until all jobs are in a terminal state (sacct); return {jobid: state}."""
        deadline = time.monotonic() + timeout
        states = {}
        while True:
            states = {j: self.state(j) for j in jobids}
            if all(s in TERMINAL for s in states.values()):
                return states
            if time.monotonic() > deadline:
                queue = self.run("squeue", "-o", "%i %T %r", check=False).stdout
                raise AssertionError(
                    f"jobs not finished after {timeout} s: {states}\nsqueue:\n{queue}\n"
                    f"logs: {self.directory / 'log'}"
                )
            time.sleep(0.5)


def _mode() -> str:
    flag = os.environ.get("MPISWEEP_SLURM", "").strip().lower()
    if flag in {"0", "false", "no", "off"}:
        return "disabled"
    if flag in {"1", "true", "yes", "on"} or os.environ.get("CI", "").strip().lower() == "true":
        return "required"
    return "optional"


def _missing_binaries() -> list[str]:
    path = os.pathsep.join([os.environ.get("PATH", ""), SBIN_PATH])
    return [b for b in BINARIES if shutil.which(b, path=path) is None]


def _short_tmpdir(tmp_path_factory) -> Path:
    """A fresh directory; short enough for the unix sockets inside (108-byte limit)."""
    d = tmp_path_factory.mktemp("slurm")
    if len(str(d)) > 60:
        d = Path(tempfile.mkdtemp(prefix="mpisweep-slurm-", dir="/tmp"))
    return d


def _read_env(path: Path) -> dict:
    out = {}
    for line in path.read_text().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


def _run_script(*args, timeout):
    # the watchdog stops the cluster if this session dies without its teardown
    env = dict(os.environ, SLURM_TEST_OWNER_PID=str(os.getpid()))
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL, env=env,
    )


def _output(proc) -> str:
    return (proc.stdout + proc.stderr).strip()[-4000:]


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    mode = _mode()
    if mode == "disabled":
        pytest.skip("Slurm cluster tests disabled (MPISWEEP_SLURM=0)")
    required = mode == "required"
    why = "MPISWEEP_SLURM=1" if os.environ.get("MPISWEEP_SLURM") else "CI=true"

    def unavailable(reason, hint=None):
        if required:
            pytest.fail(f"Slurm test cluster required ({why}) but {reason}", pytrace=False)
        hint = hint or (
            "install it with `sudo tests/slurm/cluster.sh install` (Debian/Ubuntu, apt-get), "
            "or run with MPISWEEP_SLURM=1 to install automatically"
        )
        pytest.skip(f"Slurm test cluster not available: {reason}; {hint}")

    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        unavailable(
            "not running as root (its daemons run as SlurmUser=root)",
            "run the tests as root to include them",
        )
    if shutil.which("bash") is None:
        unavailable("bash not found")
    missing = _missing_binaries()
    if missing:
        if not required:
            unavailable(
                f"missing {' '.join(missing)} (packages slurm-wlm slurmdbd munge "
                "mariadb-server mariadb-client)"
            )
        if shutil.which("apt-get") is None:
            unavailable(f"missing {' '.join(missing)} and no apt-get to install them")
        proc = _run_script("install", timeout=INSTALL_TIMEOUT)
        if proc.returncode != 0:
            unavailable(f"`cluster.sh install` failed (exit {proc.returncode}):\n{_output(proc)}")

    directory = _short_tmpdir(tmp_path_factory)
    proc = _run_script("up", str(directory), timeout=UP_TIMEOUT)
    if proc.returncode != 0:
        # cluster.sh stops what it started when `up` fails; logs stay in directory/log
        pytest.fail(
            f"`cluster.sh up {directory}` failed (exit {proc.returncode}):\n{_output(proc)}",
            pytrace=False,
        )
    try:
        info = _read_env(directory / "env")
        env = dict(os.environ)
        env["SLURM_CONF"] = info["SLURM_CONF"]
        env["PATH"] = os.pathsep.join([info["SLURM_TEST_BIN"], env.get("PATH", ""), SBIN_PATH])
        # the cluster's own settings, not the caller's
        for key in list(env):
            if key.startswith(("SBATCH_", "SRUN_", "SALLOC_", "SQUEUE_", "SACCT_")):
                del env[key]
        cluster = SlurmCluster(
            directory=directory,
            env=env,
            account=info["SLURM_TEST_ACCOUNT"],
            partition=info["SLURM_TEST_PARTITION"],
            cluster=info["SLURM_TEST_CLUSTER"],
            cpus=int(info["SLURM_TEST_CPUS"]),
            mem_mb=int(info["SLURM_TEST_MEM_MB"]),
        )
        yield cluster
    finally:
        proc = _run_script("down", str(directory), timeout=120)
        if proc.returncode != 0:
            pytest.fail(f"`cluster.sh down {directory}` failed:\n{_output(proc)}", pytrace=False)
        # the database is ~160 MB; logs and configs stay for inspection
        shutil.rmtree(directory / "mysql", ignore_errors=True)
