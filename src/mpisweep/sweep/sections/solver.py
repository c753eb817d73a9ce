"""The config's ``solver`` section: truncation degree and tolerance of the dictionary's solves, and their bounds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class SolverSettings:
    """``solver.degree``, ``solver.rtol`` (None = automatic, the solver's rule per particle) and
    ``solver.dynamic_range_db`` (None = no contract on the rows beyond the ⟨m⟩ budget)."""

    degree: int | None
    rtol: float | None
    dynamic_range_db: float | None = None

    @classmethod
    def from_config(cls, s: Mapping) -> "SolverSettings":
        return cls(None if s["degree"] == "auto" else int(s["degree"]),
                   None if s["rtol"] == "auto" else float(s["rtol"]),
                   None if s["dynamic_range_db"] is None else float(s["dynamic_range_db"]))

    @classmethod
    def from_json(cls, s: Mapping) -> "SolverSettings":
        return cls(s["degree"], s["rtol"], s.get("dynamic_range_db"))

    def to_json(self) -> dict:
        """Without a dynamic range, the form (and every hash) of sweeps that set none is unchanged."""
        contract = {} if self.dynamic_range_db is None else {"dynamic_range_db": self.dynamic_range_db}
        return {"degree": self.degree, "rtol": self.rtol} | contract

    def rtol_for(self, particle) -> float:
        """The configured rtol; for "auto" the solver's own rule for this particle (one home: the solver),
        tightened to hold the dynamic range where one is set (``mpisweep.physics.accuracy.rtol_for_range``)."""
        from ...physics.accuracy import rtol_for_range
        from ...physics.solver import particle_rtol

        if self.rtol is not None:
            return self.rtol
        rtol = particle_rtol(particle)
        if self.dynamic_range_db is not None:
            rtol = min(rtol, rtol_for_range(self.dynamic_range_db, getattr(particle, "sigma", 0.0)))
        return rtol


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
