"""Checks that bound a sweep's cost and accuracy before anything is simulated.

The truncation degree L decides both: the cost of one solve grows like L³ (banded LU of
(L+1)² unknowns with half-bandwidth 2L+1), and too small an L loses accuracy. At resolve time
every block's automatic degree is computed at every offset's strongest field (a formula: cheap),
so a config whose fields push L past ``solver.max_degree`` is refused with the numbers, and an
explicit ``solver.degree`` below the automatic choice gets a warning, or an error where its
estimated truncation error exceeds the 1e-4 budget (unless ``solver.force_degree``).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import ConfigError
from ..physics.solver import ACCURACY_BUDGET, auto_degree, truncation_estimate


class AccuracyWarning(UserWarning):
    """An explicit setting is less accurate than the automatic one."""


def automatic_degrees(sweep) -> np.ndarray:
    """(blocks, offsets) automatic truncation degrees, blocks in `sweep.blocks` order."""
    fields = [sweep.excitation.with_offset(o).max_field() for o in sweep.offsets.reshape(-1, 3)]
    return np.array([[auto_degree(sweep.particle(d, k), b) for b in fields] for _, d, k in sweep.blocks])


def check(sweep) -> None:
    """ConfigError naming the key when the sweep's truncation degree is unaffordable or too inaccurate."""
    auto = automatic_degrees(sweep)
    limit = sweep.limits.max_degree
    where = np.unravel_index(int(np.argmax(auto)), auto.shape)
    name = sweep.blocks[where[0]][0]
    offset_mt = np.round(sweep.offsets.reshape(-1, 3)[where[1], :2] * 1e3, 3).tolist()
    degree = sweep.solver.degree
    if degree is None and auto.max() > limit:
        raise ConfigError(
            f"config key 'solver.max_degree': the automatic truncation degree reaches L = {int(auto.max())} for "
            f"{name} at offset {offset_mt} mT, above the limit {limit} (a solve costs ~L³; the paper grid needs at "
            "most 42): narrow the offsets or the grids, or raise solver.max_degree")
    if degree is None:
        return
    if degree > limit:
        raise ConfigError(f"config key 'solver.degree': {degree} is above solver.max_degree = {limit}")
    if degree >= auto.max():
        return
    worst = truncation_estimate(degree, int(auto.max()))
    message = (f"solver.degree = {degree} is below the automatic degree (up to {int(auto.max())}, for {name} at offset "
               f"{offset_mt} mT): estimated truncation error {worst:.1e}")
    if worst > ACCURACY_BUDGET and not sweep.limits.force_degree:
        raise ConfigError(f"config key 'solver.degree': {message} > {ACCURACY_BUDGET:g}; use 'auto', or set "
                          "solver.force_degree: true to run it anyway")
    warnings.warn(message, AccuracyWarning, stacklevel=2)
