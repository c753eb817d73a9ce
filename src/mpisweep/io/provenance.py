"""Where a result came from: package version and the git revision of the checkout."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

from .._version import __version__


@functools.cache
def git_revision(path=None) -> str:
    """`git rev-parse HEAD` of the checkout holding the package (or `path`), else "unknown"."""
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    rev = out.stdout.strip()
    return rev if out.returncode == 0 and rev else "unknown"


def package_attrs() -> dict:
    """Attributes every store and summary records."""
    return {"package_version": __version__, "git_revision": git_revision()}
