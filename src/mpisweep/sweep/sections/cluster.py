"""The config's ``cluster`` section: sizing of the simulate jobs for a batch cluster (no row depends on it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..schema import schema_default
from .base import build, dump

_DEFAULT = schema_default("cluster")


@dataclass(frozen=True, kw_only=True)
class ClusterSettings:
    """``cluster``: the job plan of :func:`mpisweep.sweep.cost.plan_jobs` (defaults: the schema's)."""

    max_job_minutes: int = _DEFAULT["max_job_minutes"]
    safety_factor: float = _DEFAULT["safety_factor"]

    @classmethod
    def from_config(cls, c: Mapping) -> "ClusterSettings":
        c = build(cls, c, "cluster")
        return cls(max_job_minutes=int(c.max_job_minutes), safety_factor=float(c.safety_factor))

    from_json = from_config

    def to_json(self) -> dict:
        return dump(self)
