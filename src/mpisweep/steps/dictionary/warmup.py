"""Compile the numba kernels once, before the parallel simulate jobs.

numba writes its cache (``__pycache__`` beside the package, or ``NUMBA_CACHE_DIR``) on first
use. Many cold-start jobs doing that at once on a shared filesystem can race; the workflow's
``warmup`` rule therefore runs one tiny solve that compiles and caches every kernel, and the
simulate jobs wait for it and only load the cache.
"""

from __future__ import annotations

import time

from ...io.atomic import write_text


def warm_up(stamp=None) -> float:
    """One tiny solve: it compiles the integrator and every kernel it calls; returns seconds."""
    import numpy as np

    from ...physics.excitation import Excitation
    from ...physics.params import Particle
    from ...physics.solver import solve

    start = time.perf_counter()
    solve(Particle(16e-9, 500.0), Excitation((12e-3,), (100,), 2.5e6), np.array([1.0, 0.0, 0.0]), degree=4)
    seconds = time.perf_counter() - start
    if stamp is not None:
        write_text(stamp, f"numba kernels compiled in {seconds:.2f} s\n")
    return seconds
