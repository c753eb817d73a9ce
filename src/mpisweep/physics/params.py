"""Particle parameters of the two Fokker-Planck models, SI units throughout.

Both are the same equation on the unit sphere with the drift field (paper eq. 6)

    b(m) = p1 B×m + p2 (m×B)×m + p3 (n·m) n×m + p4 (n·m)(m×n)×m

and the diffusion coefficient 1/(2τ), B = µ0·H in tesla. :class:`Particle` is Néel rotation of the
moment inside an immobilised particle (precession, damping, anisotropy). :class:`BrownParticle` is
Brownian rotation of a rigid dipole in a fluid, ∂f/∂t = (1/2τ_B) ∇·(∇f − f ∇(ξ h·m)): no precession
and no internal anisotropy (p1 = p3 = p4 = 0), p2 = β/(2τ_B) so that the static solution is the
Langevin density exp(ξ h·m), and τ_B = 3ηV_h/(kB T).
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
DEFAULT_VISCOSITY = 1.0e-3  # Pa·s, water at 293 K


def _check_physical(obj, checks: dict) -> None:
    for name, ok in checks.items():
        value = getattr(obj, name)
        if not (ok and math.isfinite(value)):
            raise ValueError(f"particle parameter {name}={value!r} is not physical")


class _MagneticCore:
    """What both particle models share: the core (diameter D) carries the moment m0 = Ms·V."""

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


@dataclass(frozen=True)
class Particle(_MagneticCore):
    """A single-domain particle: core diameter D (m) and anisotropy constant K (J/m³)."""

    diameter: float
    anisotropy: float = 0.0
    ms: float = DEFAULT_MS
    alpha: float = DEFAULT_ALPHA
    temperature: float = DEFAULT_TEMPERATURE
    gamma: float = DEFAULT_GAMMA

    def __post_init__(self):
        _check_physical(self, {
            "diameter": self.diameter > 0,
            "anisotropy": self.anisotropy >= 0,
            "ms": self.ms > 0,
            "alpha": self.alpha > 0,
            "temperature": self.temperature > 0,
            "gamma": self.gamma > 0,
        })

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


@dataclass(frozen=True)
class BrownParticle(_MagneticCore):
    """A rigid dipole rotating in a fluid: core diameter D and hydrodynamic diameter D_h (m).

    The moment is locked to the particle (no Néel relaxation: valid where τ_B ≪ τ_N), so there
    is no precession and no easy axis; the viscosity η is in Pa·s.
    """

    diameter: float
    hydrodynamic_diameter: float
    viscosity: float = DEFAULT_VISCOSITY
    ms: float = DEFAULT_MS
    temperature: float = DEFAULT_TEMPERATURE

    #: no internal anisotropy (the sweep's and the solver's σ)
    anisotropy = 0.0

    def __post_init__(self):
        _check_physical(self, {
            "diameter": self.diameter > 0,
            "hydrodynamic_diameter": self.hydrodynamic_diameter >= self.diameter,
            "viscosity": self.viscosity > 0,
            "ms": self.ms > 0,
            "temperature": self.temperature > 0,
        })

    @property
    def hydrodynamic_volume(self) -> float:
        """V_h = πD_h³/6 in m³ (it sets the friction)."""
        return math.pi * self.hydrodynamic_diameter**3 / 6.0

    @property
    def sigma(self) -> float:
        """No anisotropy barrier: σ = 0."""
        return 0.0

    @property
    def tau(self) -> float:
        """Brownian relaxation time τ_B = 3ηV_h/(kB T) in s (the l = 1 mode decays at 1/τ_B)."""
        return 3.0 * self.viscosity * self.hydrodynamic_volume / (KB * self.temperature)

    @property
    def p(self) -> tuple[float, float, float, float]:
        """Drift coefficients (p1, p2, p3, p4): only the field's aligning torque, p2 = β/(2τ_B)."""
        return 0.0, self.beta / (2.0 * self.tau), 0.0, 0.0

    def describe(self) -> str:
        return (
            f"D={self.diameter * 1e9:g} nm, D_h={self.hydrodynamic_diameter * 1e9:g} nm, "
            f"eta={self.viscosity:g} Pa·s, Ms={self.ms:g} A/m, T={self.temperature:g} K (Brown)"
        )


#: either particle model; the solver and the dictionary blocks take both
AnyParticle = Particle | BrownParticle
