"""Particle parameters of the Néel Fokker-Planck model, SI units throughout.

The drift field of the Fokker-Planck equation (paper eq. 6) is

    b(m) = p1 B×m + p2 (m×B)×m + p3 (n·m) n×m + p4 (n·m)(m×n)×m

with B = µ0·H in tesla and the diffusion coefficient 1/(2τ).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KB = 1.38064852e-23  # Boltzmann constant in J/K (the value MNPDynamics uses)

# Defaults of the peer toolbox MNPDynamics (the paper's group's MATLAB solver).
DEFAULT_MS = 474_000.0  # saturation magnetisation, A/m
DEFAULT_TEMPERATURE = 293.0  # K
DEFAULT_ALPHA = 0.1  # Gilbert damping
DEFAULT_GAMMA = 1.75e11  # gyromagnetic ratio, rad/(s·T)


@dataclass(frozen=True)
class Particle:
    """A single-domain particle: core diameter D (m) and anisotropy constant K (J/m³)."""

    diameter: float
    anisotropy: float = 0.0
    ms: float = DEFAULT_MS
    alpha: float = DEFAULT_ALPHA
    temperature: float = DEFAULT_TEMPERATURE
    gamma: float = DEFAULT_GAMMA

    def __post_init__(self):
        checks = {
            "diameter": self.diameter > 0,
            "anisotropy": self.anisotropy >= 0,
            "ms": self.ms > 0,
            "alpha": self.alpha > 0,
            "temperature": self.temperature > 0,
            "gamma": self.gamma > 0,
        }
        for name, ok in checks.items():
            value = getattr(self, name)
            if not (ok and math.isfinite(value)):
                raise ValueError(f"particle parameter {name}={value!r} is not physical")

    @property
    def volume(self) -> float:
        """Core volume V = πD³/6 in m³."""
        return math.pi * self.diameter**3 / 6.0

    @property
    def moment(self) -> float:
        """Magnetic moment m0 = Ms·V in A·m²."""
        return self.ms * self.volume

    @property
    def beta(self) -> float:
        """β = m0/(kB T) in 1/T, so that ξ = β·|B|."""
        return self.moment / (KB * self.temperature)

    @property
    def sigma(self) -> float:
        """Reduced anisotropy barrier σ = K V/(kB T)."""
        return self.anisotropy * self.volume / (KB * self.temperature)

    @property
    def g(self) -> float:
        """Reduced gyromagnetic ratio γ/(1+α²)."""
        return self.gamma / (1.0 + self.alpha**2)

    @property
    def tau(self) -> float:
        """Free-diffusion time τ = V Ms / (2 kB T g α) in s."""
        return self.volume * self.ms / (2.0 * KB * self.temperature * self.g * self.alpha)

    @property
    def p(self) -> tuple[float, float, float, float]:
        """Drift coefficients (p1, p2, p3, p4) of paper eq. 6."""
        p1 = self.g
        p2 = self.g * self.alpha
        p3 = 2.0 * self.g * self.anisotropy / self.ms
        return p1, p2, p3, self.alpha * p3

    def describe(self) -> str:
        return (
            f"D={self.diameter * 1e9:g} nm, K={self.anisotropy:g} J/m³, Ms={self.ms:g} A/m, "
            f"alpha={self.alpha:g}, T={self.temperature:g} K"
        )
