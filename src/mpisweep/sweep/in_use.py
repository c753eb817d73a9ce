"""One run at a time per output directory, whatever directory Snakemake was started from.

Snakemake locks its working directory, so two runs started from different directories on the
same ``output`` would write the same files. The workflow claims ``<output>/.in-use`` (host, PID,
working directory) when it starts and releases it when it ends; a second run finds the claim and
stops with a message naming the first. A claim whose process is gone (killed) is taken over.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from ..errors import MpisweepError


class OutputInUse(MpisweepError):
    """Another run writes the same output directory."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim(output) -> Path:
    """Claim `output` for this process; OutputInUse when a live run on this host holds it."""
    path = Path(output) / ".in-use"
    path.parent.mkdir(parents=True, exist_ok=True)
    me = {"host": socket.gethostname(), "pid": os.getpid(), "cwd": os.getcwd()}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                other = json.loads(path.read_text())
            except (OSError, ValueError):
                other = {}
            ours = other.get("pid") == me["pid"] and other.get("host") == me["host"]
            stale = other.get("host") == me["host"] and not _alive(int(other.get("pid", -1)))
            if ours:
                return path
            if not stale and other:
                raise OutputInUse(f"output is in use: {Path(output).resolve()} is being written by another run "
                                  f"(PID {other.get('pid')} on {other.get('host')}, started in {other.get('cwd')}); "
                                  f"wait for it, or delete {path} if that run is gone") from None
            path.unlink(missing_ok=True)  # the previous run was killed: take over
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        return path
    raise OutputInUse(f"output is in use: could not claim {path}")


def release(output) -> None:
    """Drop this process's claim on `output` (another process's claim stays)."""
    path = Path(output) / ".in-use"
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def stale_lock_hint(workdir, output) -> str | None:
    """A hint when Snakemake's lock in `workdir` was left by a killed run on `output`, else None.

    After a kill -9 Snakemake's own lock (.snakemake/locks) stays and the next run refuses to
    start; our claim of the same run names a process that is gone, so the lock is known stale.
    """
    locks = Path(workdir) / ".snakemake" / "locks"
    claim_path = Path(output) / ".in-use"
    if not locks.is_dir() or not any(locks.iterdir()) or not claim_path.exists():
        return None
    try:
        other = json.loads(claim_path.read_text())
    except (OSError, ValueError):
        return None
    if other.get("host") != socket.gethostname() or _alive(int(other.get("pid", -1))):
        return None
    return (f"mpisweep: the run that wrote {output} (PID {other.get('pid')}) was killed and left Snakemake's lock "
            f"behind; run the same command once with --unlock, then again without it (finished work is kept)")
