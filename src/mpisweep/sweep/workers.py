"""Independent simulations of one sweep in worker processes.

A Sweep does not pickle (its config is held in read-only mappings), so each worker rebuilds it
from the resolved config (to_dict). Results come back in task order and equal a serial run's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from .config import Sweep


def _call(func: Callable, resolved: dict, args: tuple):
    return func(Sweep.from_dict(resolved), *args)


def map_over_sweep(func: Callable, sweep: Sweep, tasks: Iterable[tuple], workers: int = 1) -> Iterator:
    """func(sweep, *task) for each task, in order; in `workers` processes when there are several.

    func must be a module-level function (the workers import it by name). Results are yielded as
    they are ready in order, so a caller can report progress.
    """
    tasks = list(tasks)
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield func(sweep, *task)
        return
    from concurrent.futures import ProcessPoolExecutor

    resolved = sweep.to_dict()
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
        futures = [pool.submit(_call, func, resolved, tuple(task)) for task in tasks]
        for future in futures:
            yield future.result()
