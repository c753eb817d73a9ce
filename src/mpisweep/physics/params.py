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
        """Core volume V = πD³/6, in m³."""
        return math.pi * self.diameter**3 / 6.0

    @property
    def moment(self) -> float:
        """Magnetic moment m0 = Ms·V in A·m²."""
        return self.ms * self.volume

    @property
    def beta(self) -> float:
        """β = m0/(k_B T), in 1/T, so that the reduced field is ξ = β·|B|."""
        return self.moment / (KB * self.temperature)


@dataclass(frozen=True)
class Particle(_MagneticCore):
    """An immobilised single-domain particle: Néel rotation of its moment (paper eqs. 4–6).

    Parameters
    ----------
    diameter : float
        Core diameter D, in m.
    anisotropy : float
        Uniaxial anisotropy constant K ≥ 0, in J/m³.
    ms : float
        Saturation magnetisation Ms, in A/m (default 474 kA/m, as MNPDynamics).
    alpha : float
        Gilbert damping α (default 0.1).
    temperature : float
        Temperature T, in K (default 293 K).
    gamma : float
        Gyromagnetic ratio γ, in rad/(s·T) (default 1.75e11).

    Raises
    ------
    ValueError
        A parameter that is not physical (D ≤ 0, K < 0, …), named in the message.
    """

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
        """Reduced anisotropy barrier σ = KV/(k_B T), dimensionless."""
        return self.anisotropy * self.volume / (KB * self.temperature)

    @property
    def g(self) -> float:
        """Reduced gyromagnetic ratio γ/(1 + α²), in rad/(s·T)."""
        return self.gamma / (1.0 + self.alpha**2)

    @property
    def tau(self) -> float:
        """Free-diffusion time τ = V·Ms/(2 k_B T g α), in s (the Néel relaxation time at K = 0)."""
        return self.volume * self.ms / (2.0 * KB * self.temperature * self.g * self.alpha)

    @property
    def p(self) -> tuple[float, float, float, float]:
        """The drift coefficients (p1, p2, p3, p4) of paper eq. 6 (precession, damping and the two
        anisotropy terms)."""
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
    """A fluid tracer: a rigid dipole whose whole particle turns (Brownian rotation).

    The moment is locked to the particle (no Néel relaxation: valid where τ_B ≪ τ_N), so there
    is no precession and no easy axis.

    Parameters
    ----------
    diameter : float
        Core diameter D, in m (it carries the moment).
    hydrodynamic_diameter : float
        Hydrodynamic diameter D_h ≥ D, in m (it sets the friction).
    viscosity : float
        Viscosity η of the fluid, in Pa·s (default 1 mPa·s, water at 293 K).
    ms : float
        Saturation magnetisation Ms, in A/m.
    temperature : float
        Temperature T, in K.

    Raises
    ------
    ValueError
        A parameter that is not physical (D_h < D, η ≤ 0, …), named in the message.
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
        """Hydrodynamic volume V_h = πD_h³/6, in m³ (it sets the friction)."""
        return math.pi * self.hydrodynamic_diameter**3 / 6.0

    @property
    def sigma(self) -> float:
        """The reduced anisotropy barrier, always 0 (a rigid dipole has no internal anisotropy)."""
        return 0.0

    @property
    def tau(self) -> float:
        """Brownian relaxation time τ_B = 3ηV_h/(k_B T), in s (the l = 1 mode decays at 1/τ_B)."""
        return 3.0 * self.viscosity * self.hydrodynamic_volume / (KB * self.temperature)

    @property
    def p(self) -> tuple[float, float, float, float]:
        """The drift coefficients (p1, p2, p3, p4) of paper eq. 6, of which only the field's aligning
        torque p2 = β/(2τ_B) is non-zero."""
        return 0.0, self.beta / (2.0 * self.tau), 0.0, 0.0

    def describe(self) -> str:
        return (
            f"D={self.diameter * 1e9:g} nm, D_h={self.hydrodynamic_diameter * 1e9:g} nm, "
            f"eta={self.viscosity:g} Pa·s, Ms={self.ms:g} A/m, T={self.temperature:g} K (Brown)"
        )


#: either particle model; the solver and the dictionary blocks take both
AnyParticle = Particle | BrownParticle
