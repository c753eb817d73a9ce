"""Distributions of easy axes: the rows of a sample whose easy axes are not all parallel.

A uniaxial particle's response depends on its easy axis n only up to sign (the energy
−K V (n·m)² is even in n), so every distribution is an average over directions on a
half sphere of rows that :func:`~mpisweep.physics.block.simulate_block` computes for aligned
particles:

- ``random``: easy axes uniform on the sphere (an unoriented immobilized sample), by a
  Lebedev rule of the given degree (exact for spherical harmonics up to it), each ±n pair
  solved once. When the drive and every offset lie along one coordinate axis a, the rows
  depend only on n·a, so Gauss–Legendre in u = n·a does it with far fewer solves; the
  components normal to a average to zero over the azimuth and are set to zero.
- ``field_aligned``: every particle's easy axis along the local field's axis (a fluid tracer whose
  particles the field turns, as in Maass et al. 2024's model for fluid tracers): the principal axis
  of ⟨B Bᵀ⟩ over one drive cycle at each offset, which is the static field's direction wherever it
  dominates the drive, and the drive's axis at the field-free point of a 1D drive.

A distribution is planned as groups (easy axes, the offsets they serve, weights); the rows of
an offset are the weighted sum over its group's easy axes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.integrate import lebedev_rule

from .excitation import Excitation

DISTRIBUTIONS = ("random", "field_aligned")

#: the degrees scipy's Lebedev rules exist for (odd, 3 … 131)
LEBEDEV_DEGREES = (3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 35, 41, 47, 53, 59, 65, 71, 77,
                   83, 89, 95, 101, 107, 113, 119, 125, 131)

#: directions that differ by less than this (in the unit vector) are one easy axis
SAME_AXIS = 1e-9


@dataclass(frozen=True)
class AxisGroup:
    """Easy axes (N, 3) whose weighted rows make the rows of the flat offsets ``offsets``."""

    axes: np.ndarray
    weights: np.ndarray  # (N,), summing to 1
    offsets: np.ndarray  # flat offset indices


@dataclass(frozen=True)
class AxisPlan:
    """What to solve for one distribution over one offset grid: its groups, and which receive axes
    keep their rows (the others average to zero exactly)."""

    groups: tuple[AxisGroup, ...]
    kept_axes: tuple[int, ...] = (0, 1, 2)

    @property
    def solves(self) -> int:
        """Rows to solve, before mirror symmetry."""
        return sum(g.axes.shape[0] * g.offsets.size for g in self.groups)

    def averaged_out(self, channels) -> list[int]:
        """Positions in ``channels`` (receive axes 0, 1, 2) whose rows the distribution averages to zero."""
        return [c for c, axis in enumerate(channels) if axis not in self.kept_axes]


@dataclass(frozen=True)
class EasyAxisDistribution:
    """A sample's easy axes for :func:`~mpisweep.simulate_block`: ``random`` (by a rule of degree
    ``quadrature``; None: the smallest Lebedev degree ≥ 9 + 3.5 σ of the particle, ≥ 9 + 1.5 σ where the
    drive and offsets lie along one axis) or ``field_aligned``."""

    kind: str
    quadrature: int | None = None

    def __post_init__(self):
        if self.kind not in DISTRIBUTIONS:
            raise ValueError(f"easy-axis distribution {self.kind!r}: expected one of {', '.join(DISTRIBUTIONS)}")
        if self.quadrature is not None and self.quadrature not in LEBEDEV_DEGREES:
            raise ValueError(f"degree {self.quadrature}: a Lebedev rule exists for the odd degrees 3–31 and "
                             f"{', '.join(map(str, LEBEDEV_DEGREES[15:]))}")

    def describe(self) -> str:
        if self.kind == "random":
            return "random easy axes" + (f" (quadrature degree {self.quadrature})" if self.quadrature else "")
        return "easy axes along the local field"

    def finer(self, excitation: Excitation, offsets: np.ndarray, sigma: float, steps: int = 2) -> EasyAxisDistribution:
        """The same distribution by a rule ``steps`` Lebedev degrees finer than :meth:`plan` would use
        (random; field-aligned has no rule)."""
        if self.kind != "random":
            return self
        axial = common_axis(excitation, np.asarray(offsets, float).reshape(-1, 3)) is not None
        degree = self.quadrature or quadrature_degree(sigma, axial)
        return replace(self, quadrature=LEBEDEV_DEGREES[min(LEBEDEV_DEGREES.index(degree) + steps,
                                                            len(LEBEDEV_DEGREES) - 1)])

    def plan(self, excitation: Excitation, offsets: np.ndarray, sigma: float = 0.0) -> AxisPlan:
        """The groups of easy axes that make this distribution's rows at ``offsets`` (..., 3), in T, for a
        particle of anisotropy σ = KV/(k_B T) (which sets the automatic quadrature degree)."""
        flat = np.asarray(offsets, float).reshape(-1, 3)
        everywhere = np.arange(flat.shape[0])
        if self.kind == "random":
            axis = common_axis(excitation, flat)
            degree = self.quadrature or quadrature_degree(sigma, axial=axis is not None)
            if axis is not None:
                axes, weights = axial_rule(axis, degree)
                return AxisPlan((AxisGroup(axes, weights, everywhere),), (axis,))
            axes, weights = half_sphere_rule(degree)
            return AxisPlan((AxisGroup(axes, weights, everywhere),))
        return field_axis_plan(excitation, flat)


def quadrature_degree(sigma: float, axial: bool = False) -> int:
    """The degree for random easy axes of a particle with σ = KV/(k_B T): the smallest Lebedev degree
    ≥ 9 + 3.5 σ, or ≥ 9 + 1.5 σ for the axial rule. Measured on a spectrometer's Fokker–Planck rows
    (benchmarks/easy_axis_quadrature.py): within 1e-4 of the largest row for σ ≤ 10.7 (the rows change
    faster with the easy axis as σ grows: the field switches the moment over a narrower cone of axes)."""
    want = 9.0 + (1.5 if axial else 3.5) * max(0.0, float(sigma))
    return next((d for d in LEBEDEV_DEGREES if d >= want), LEBEDEV_DEGREES[-1])


def half_sphere_rule(degree: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) directions, one of each ±n pair of the Lebedev rule of ``degree``, and weights summing to 1.

    Lebedev rules are symmetric under n → −n, so the pair's weights add up on the one kept.
    """
    points, weights = lebedev_rule(degree)
    points = points.T
    keep = np.array([_canonical(p) for p in points])
    axes, w = points[keep], 2.0 * weights[keep]
    return axes, w / w.sum()


def axial_rule(axis: int, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Directions and weights for a response that depends on u = n·e_axis only, even in u.

    The Gauss–Legendre rule on [−1, 1] with degree + 1 nodes (exact for polynomials in u up to
    2·degree + 1, so at least as exact as the Lebedev rule of that degree) folded onto u ≥ 0;
    the directions lie in the plane of e_axis and the next coordinate axis.
    """
    nodes = degree + 1 + (degree + 1) % 2  # an even count: no node at u = 0 to split
    u, w = np.polynomial.legendre.leggauss(nodes)
    u, w = u[u > 0], w[u > 0]
    axes = np.zeros((u.size, 3))
    axes[:, axis] = u
    axes[:, (axis + 1) % 3] = np.sqrt(1.0 - u * u)
    return axes, w / w.sum()


def common_axis(excitation: Excitation, offsets: np.ndarray) -> int | None:
    """The coordinate axis that the active drive channels and every offset lie along, or None."""
    drive = excitation.drive_vectors[list(excitation.active)]
    along = {int(np.argmax(np.abs(v))) for v in drive}
    if len(along) != 1:
        return None
    axis = along.pop()
    others = np.delete(np.asarray(offsets, float), axis, axis=-1)
    return axis if np.all(others == 0.0) else None


def field_axis(excitation: Excitation) -> np.ndarray:
    """The principal axis of ⟨B Bᵀ⟩ over one cycle (unit vector, sign made canonical)."""
    b = excitation.field(excitation.times)
    _, vectors = np.linalg.eigh(b.T @ b)
    n = vectors[:, -1]
    return n if _canonical(n) else -n


def field_axis_plan(excitation: Excitation, offsets: np.ndarray) -> AxisPlan:
    """One group per distinct local field axis, with the offsets it serves."""
    axes = np.array([field_axis(excitation.with_offset(o)) for o in offsets])
    keys = np.round(axes / SAME_AXIS).astype(np.int64)
    _, first, which = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    groups = tuple(AxisGroup(axes[i][None, :], np.ones(1), np.flatnonzero(which.ravel() == g))
                   for g, i in enumerate(first))
    return AxisPlan(groups)


def _canonical(n: np.ndarray) -> bool:
    """True for the one of ±n whose first component not zero (to 1e-12) is positive."""
    for v in n:
        if abs(v) > 1e-12:
            return v > 0
    return False
