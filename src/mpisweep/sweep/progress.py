"""Progress lines for long steps: a callback for :func:`mpisweep.physics.block.simulate_block`."""

from __future__ import annotations

import sys


def printer(what: str, every: float = 0.05, stream=None, unit: str = "solves"):
    """A progress(done, total, elapsed) callback printing '<what>: done/total <unit>, t s, eta' every 5 %."""
    stream = stream or sys.stderr

    def progress(done: int, total: int, elapsed: float) -> None:
        if done % max(1, int(total * every)) == 0 or done == total:
            eta = elapsed / done * (total - done)
            print(f"  {what}: {done}/{total} {unit}, {elapsed:.1f} s, eta {eta:.0f} s", file=stream, flush=True)

    return progress
