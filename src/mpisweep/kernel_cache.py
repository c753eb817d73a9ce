"""One numba cache directory per version of the kernels' sources.

numba checks a cached function against its own source file only. When a kernel that it calls
lives in another file and changes (banded.py under integrator.integrate), it keeps loading the
old machine code from the cache: after an update, solves would silently run the previous
factorisation. Each kernel module therefore calls use_source_keyed_cache() before its first
``@njit``: numba's cache directory is then named by a hash of every kernel file of the package,
so any change to any of them compiles afresh. The directory lies under NUMBA_CACHE_DIR when that
is set (clusters, tests), else in the package's own ``__pycache__`` (where numba would put it),
or in ``~/.cache/mpisweep`` when the package is read-only.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
KERNEL_MARK = b"njit(cache=True"  # a cached kernel: @njit(cache=True, ...) or @numba.njit(...)


def kernel_digest(root: Path = PACKAGE) -> str:
    """A hash of every source file under root that defines a cached numba kernel (path and bytes)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        data = path.read_bytes()
        if KERNEL_MARK in data:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + data + b"\0")
    return digest.hexdigest()[:16]


@lru_cache(maxsize=1)
def cache_directory() -> str:
    """Where numba caches this version of the kernels."""
    name = f"mpisweep-{kernel_digest()}"
    base = os.environ.get("NUMBA_CACHE_DIR")
    if base:
        return base if Path(base).name == name else os.path.join(base, name)
    in_tree = PACKAGE / "__pycache__"
    if os.access(PACKAGE, os.W_OK) and (not in_tree.exists() or os.access(in_tree, os.W_OK)):
        return str(in_tree / name)
    return str(Path.home() / ".cache" / "mpisweep" / name)


def use_source_keyed_cache() -> None:
    """Point numba's cache at cache_directory() (for the @njit decorations that follow)."""
    from numba.core import config

    config.CACHE_DIR = cache_directory()
