"""Fidelity levels of a dictionary: the full level and the screening level of multi-fidelity rounds.

A block's cost is proportional to the number of (angle, offset) rows it is solved at, and a fit's
answer does not need all of them to point at the right (D, K) entries. With ``refine.screening`` the
rounds first simulate every block of the grid at a *screening fidelity*: ``angles`` of the configured
easy-axis angles (evenly spread) on an offset subgrid of ``offsets`` points per axis (points of the
configured grid, its edges included), at the same degree and tolerance as the full level. Its fit
against the measured rows of the same angles and offsets names the candidates; only those are simulated
at full fidelity (:mod:`mpisweep.steps.refine.rounds`).

The screening level is a sweep of its own (:func:`screening_sweep`), with its own layout under
``<output>/screening``, its own dictionary spec (so its markers' spec hash differs from the full
level's) and measured data read as a subgrid of the measured files: the levels are stored apart and
never mixed in one fit.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import ConfigError
from .config import Sweep
from .measured import VIRTUAL_TOLERANCE
from .sections.measurement import Columns, MdfFiles
from .sections.refine import RefineSettings

#: the fidelity labels written to round JSONs, tables and the screening markers
FULL, SCREENING = "full", "screening"


def angle_indices(n: int, count: int) -> tuple[int, ...]:
    """`count` of `n` angle indices spread evenly over the (cyclic) angle axis, the first included."""
    count = min(int(count), n)
    return tuple(sorted({round(i * n / count) for i in range(count)}))


def subgrid_count(n: int, count: int, axis: str) -> int:
    """Points per axis of the screening subgrid of an axis of `n` points (its edges included): ConfigError
    naming refine.screening.offsets when they are not points of the configured grid."""
    if n == 1:
        return 1
    count = min(int(count), n)
    if (n - 1) % (count - 1):
        fits = [c for c in range(2, n + 1) if (n - 1) % (c - 1) == 0]
        raise ConfigError(f"config key 'refine.screening.offsets': {count} offsets are not points of the "
                          f"{n} of offsets.{axis} (edges included); use one of {fits}")
    return count


def screening_sweep(sweep: Sweep) -> Sweep:
    """The sweep of the screening level: the chosen angles on the offset subgrid, written under
    ``<output>/screening``, reading the measured files (the virtual scanner's too) as a subgrid."""
    s = sweep.refine.screening
    if s is None:
        raise ConfigError("config key 'refine.screening': not set; the sweep has one fidelity level")
    if sweep.directions:
        raise ConfigError("config key 'refine.screening': screening picks in-plane angles (grids.angles); "
                          "3D easy axes (grids.directions) are not supported")
    o = sweep.offset_grid
    offsets = replace(o, nx=subgrid_count(o.nx, s.offsets, "x"), ny=subgrid_count(o.ny, s.offsets, "y"),
                      nz=subgrid_count(o.nz, s.offsets, "z"))
    angles = tuple(sweep.angles[i] for i in angle_indices(len(sweep.angles), s.angles))
    if sweep.source == "virtual":
        layout = sweep.layout
        files = MdfFiles(csv=layout.virtual_index.name, columns=Columns(file="file", angle="angle"),
                         angle_offset=0.0, angle_sign=1, channels=tuple(range(len(sweep.channels))),
                         tolerance=VIRTUAL_TOLERANCE, offset_subgrid=True, directory=str(layout.measurement))
    else:
        files = replace(sweep.mdf, offset_subgrid=True)
    return replace(sweep, output=str(sweep.layout.screening), offset_grid=offsets,
                   grids=replace(sweep.grids, angles_deg=angles),
                   measurement=replace(sweep.measurement, source="mdf", mdf=files),
                   orientation=replace(sweep.orientation, enabled=False), refine=RefineSettings())


def rows_share(sweep: Sweep) -> float:
    """The screening level's (angle, offset) rows per block as a share of the full level's."""
    level = screening_sweep(sweep)
    return (len(level.angles) * level.offset_grid.size) / (len(sweep.angles) * sweep.offset_grid.size)
