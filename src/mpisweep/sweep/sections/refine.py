"""The config's ``refine`` section: coarse-to-fine rounds (:mod:`mpisweep.sweep.refine` holds the decisions)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from ..schema import schema_default

_DEFAULT = schema_default("refine")


def coarse_steps(step) -> tuple[int, int]:
    """A coarse step as (diameters, second axis): one int for both, or a pair."""
    return (int(step), int(step)) if np.ndim(step) == 0 else (int(step[0]), int(step[1]))


@dataclass(frozen=True, kw_only=True)
class ScreeningSettings:
    """``refine.screening``: the screening fidelity of multi-fidelity rounds (:mod:`mpisweep.sweep.fidelity`)."""

    angles: int  # how many of the configured angles, evenly spread
    offsets: int  # offsets per axis of the subgrid
    margin: float  # a neighbour goes to full fidelity when its screening ε_global is within this of its seed's
    every: int = 1  # screen every n-th parameter value of a diameter (the last included), fill the rest by spline
    swap_margin: float | None = None  # a mixture's neighbour goes on when swapping it in is within this of M3's ε

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class RefineSettings:
    """``refine``: the rounds' settings (defaults: the schema's; off = the whole grid)."""

    enabled: bool = _DEFAULT["enabled"]
    coarse_step: tuple[int, int] = coarse_steps(_DEFAULT["coarse_step"])  # (diameters, second axis)
    weight_threshold: float = _DEFAULT["weight_threshold"]
    margin: float = _DEFAULT["margin"]
    tolerance: float = _DEFAULT["tolerance"]
    eps_tolerance: float = _DEFAULT["eps_tolerance"]
    max_rounds: int = _DEFAULT["max_rounds"]
    max_blocks: int | None = _DEFAULT["max_blocks"]
    screening: ScreeningSettings | None = None  # None: every round at full fidelity

    @classmethod
    def from_config(cls, r: Mapping) -> "RefineSettings":
        screening = r.get("screening")
        return cls(**{**r, "coarse_step": coarse_steps(r["coarse_step"]),
                      "screening": None if screening is None else ScreeningSettings(**screening)})

    from_json = from_config

    def to_json(self) -> dict:
        """Without screening the form (and the hash) of a refined sweep is what it was before screening existed."""
        out = asdict(self)
        if self.screening is None:
            del out["screening"]
        return out
