"""The config's ``solver`` section: truncation degree and tolerance of the dictionary's solves, and their bounds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class SolverSettings:
    """``solver.degree`` and ``solver.rtol``: None = automatic (the solver's rule per particle)."""

    degree: int | None
    rtol: float | None

    @classmethod
    def from_config(cls, s: Mapping) -> "SolverSettings":
        return cls(None if s["degree"] == "auto" else int(s["degree"]),
                   None if s["rtol"] == "auto" else float(s["rtol"]))

    @classmethod
    def from_json(cls, s: Mapping) -> "SolverSettings":
        return cls(s["degree"], s["rtol"])

    def to_json(self) -> dict:
        return {"degree": self.degree, "rtol": self.rtol}

    def rtol_for(self, particle) -> float:
        """The configured rtol, or for "auto" the solver's own rule for this particle (one home: the solver)."""
        from ...physics.solver import particle_rtol

        return self.rtol if self.rtol is not None else particle_rtol(particle)


@dataclass(frozen=True)
class Limits:
    """``solver.max_degree`` and ``solver.force_degree``: bounds checked before any work (no row depends on them,
    so they are not in the dictionary spec)."""

    max_degree: int
    force_degree: bool

    @classmethod
    def from_config(cls, s: Mapping) -> "Limits":
        return cls(int(s["max_degree"]), bool(s["force_degree"]))

    @classmethod
    def from_json(cls, d: Mapping) -> "Limits":
        return cls(int(d["max_degree"]), bool(d["force_degree"]))

    def to_json(self) -> dict:
        return {"max_degree": self.max_degree, "force_degree": self.force_degree}
