"""The config's ``particle`` section: the physical constants of the particle model, in SI."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# the constants each model uses (a Néel sweep's resolved config holds no viscosity, a Brownian one no damping)
MODEL_CONSTANTS = {"neel": ("ms", "alpha", "temperature", "gamma"), "brown": ("ms", "temperature", "viscosity")}


def constants(p: Mapping, model: str) -> MappingProxyType:
    """ms (A/m), alpha, temperature (K), gamma (rad/(s·T)) or viscosity (Pa·s): the model's constants."""
    return MappingProxyType({k: float(p[k]) for k in MODEL_CONSTANTS[model]})
