"""Exact mirror symmetry of a 2D Lissajous drive: solve one of each pair of dictionary rows, derive the other.

Derivation. Let the field be B(t) = o + Σ_i a_i cos(2π n_i t/T + φ_i) e_i (channel i along axis
i, n_i = lcm(dividers)/divider_i drive periods per cycle T) and let R be the rotation by π about
the x axis, R = diag(1, −1, −1). Half a cycle later each drive term is multiplied by (−1)^n_i,
whatever its phase φ_i. If the x drive makes an even and the y drive an odd number of periods
(Bruker: 16 and 17), and there is no z drive and no z offset, then

    B_o'(t + T/2) = R B_o(t)    with o' = R o = (ox, −oy, 0).

The Néel Fokker–Planck drift (params) is built from cross products and dot products of m, B and
the easy axis n only, and the diffusion is isotropic, so the equation is covariant under proper
rotations: rotating B and n by R rotates the whole density. (So is its Galerkin truncation: the
spherical harmonics of degree ≤ L span a rotation-invariant space, so the relation is exact at
every L; only the adaptive time steps differ between the two solves.) R maps the easy axis
n(ϑ) = (cos ϑ, sin ϑ, 0) onto (cos ϑ, −sin ϑ, 0) =
−n(180° − ϑ), and the uniaxial energy −K(n·m)² does not see the sign of n. The periodic steady
state is unique, so the problem (180° − ϑ, o') has

    <m>'(t + T/2) = R <m>(t) = (mx, −my, −mz)(t).

A shift by T/2 multiplies the k-th Fourier coefficient over the cycle by exp(−iπk) = (−1)^k; with
an even number of samples per cycle the shift is a whole number of samples, so this holds exactly
for the rfft bins of spectra.spectrum as well. Hence

    φ'_x,k = (−1)^k φ_x,k,      φ'_y,k = −(−1)^k φ_y,k.

With x and y swapped (odd on x, even on y) the rotation by π about the y axis, R = diag(−1, 1, −1),
does the same: (ϑ, (ox, oy)) → (180° − ϑ, (−ox, oy)), R n(ϑ) = n(180° − ϑ), and

    φ'_x,k = −(−1)^k φ_x,k,     φ'_y,k = (−1)^k φ_y,k.

A channel with zero amplitude imposes nothing (it may have either parity). For the Bruker drive
no other rotation or mirror maps the problem onto itself (a mirror reverses the precession term
p1 B×m; DESIGN.md §8). A z drive with
an odd period count would also be allowed by the x and y rotations, but is not used: the condition
here requires the z drive and z offsets to be zero. Numerically the derived rows differ from a
direct solve of the partner by the solver's error only (tests/test_symmetry.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .excitation import Excitation

ANGLE_TOL_DEG = 1e-9  # angles are compared modulo 180° to this
OFFSET_TOL_T = 1e-12  # offsets are matched on the grid to this (max over components)


@dataclass(frozen=True)
class Mirror:
    """The rotation by π about `axis` ("x" or "y") that maps the excitation onto itself shifted by T/2."""

    axis: str

    @property
    def rotation(self) -> np.ndarray:
        """The rotation matrix R (lab frame)."""
        return np.diag([1.0, -1.0, -1.0]) if self.axis == "x" else np.diag([-1.0, 1.0, -1.0])

    def angle(self, angle_deg: float) -> float:
        """The partner's easy-axis angle, 180° − ϑ, reduced to [0°, 180°)."""
        return float((180.0 - float(angle_deg)) % 180.0)

    def offset(self, offset) -> np.ndarray:
        """The partner's offset R·o: (ox, −oy, 0) about x, (−ox, oy, 0) about y."""
        return self.rotation @ np.asarray(offset, dtype=float)

    def signs(self, bins) -> np.ndarray:
        """Factors (2, len(bins)) with φ_partner[c, j] = signs[c, j]·φ[c, j] at rfft bins k = bins[j]."""
        alternating = 1.0 - 2.0 * (np.asarray(bins, dtype=np.int64) % 2)  # (−1)^k
        diag = np.diag(self.rotation)[:2]  # (R_xx, R_yy)
        return diag[:, None] * alternating[None, :]

    def rows(self, rows: np.ndarray, bins) -> np.ndarray:
        """The partner's rows from rows (channel x, y; frequency at `bins`, ...trailing axes)."""
        rows = np.asarray(rows)
        s = self.signs(bins)
        return rows * s.reshape(s.shape + (1,) * (rows.ndim - 2))


def period_counts(excitation: Excitation) -> tuple[int, ...]:
    """Drive periods per cycle n_i = lcm(dividers)/divider_i, one per channel."""
    cycle = math.lcm(*excitation.dividers)
    return tuple(cycle // d for d in excitation.dividers)


def mirror_symmetry(excitation: Excitation, offsets=None) -> Mirror | None:
    """The Mirror of this drive, or None where it does not hold.

    It holds when (i) the z drive (if any) has zero amplitude, (ii) every offset (`offsets`, any
    shape (..., 3) or (..., 2); the excitation's own offset if None) has zero z component,
    (iii) one cycle has an even number of samples, and (iv) about x: every x channel with nonzero
    amplitude makes an even and every y channel with nonzero amplitude an odd number of periods per
    cycle; about y: the other way round. Drive phases do not enter. If both (iv) hold (no active
    drive at all) the rotation about x is returned.
    """
    amps = excitation.amplitudes
    if len(amps) > 2 and amps[2] != 0.0:
        return None
    off = np.asarray(excitation.offset if offsets is None else offsets, dtype=float)
    if off.shape[-1] not in (2, 3):
        raise ValueError(f"offsets: last axis must have 2 or 3 components, got shape {off.shape}")
    if off.shape[-1] == 3 and np.any(off[..., 2] != 0.0):
        return None
    if excitation.samples % 2:
        return None
    n = period_counts(excitation)
    active = [(i, n[i]) for i in range(min(2, len(amps))) if amps[i] != 0.0]
    wanted = {"x": (0, 1), "y": (1, 0)}  # parity required per axis: (x channel, y channel)
    for axis, parity in wanted.items():
        if all(count % 2 == parity[i] for i, count in active):
            return Mirror(axis)
    return None


def _angle_index(angles: np.ndarray, angle: float) -> int | None:
    diff = (angles - angle + 90.0) % 180.0 - 90.0
    hits = np.flatnonzero(np.abs(diff) <= ANGLE_TOL_DEG)
    return int(hits[0]) if hits.size else None


def partner_table(mirror: Mirror, angles_deg, offsets: np.ndarray, degrees: np.ndarray | None = None) -> np.ndarray:
    """For each (angle, offset_y, offset_x) the flat index of its mirror partner in the grid, or −1.

    Angles are compared modulo 180°, offsets to OFFSET_TOL_T; where `degrees` (offset_y, offset_x)
    is given, offsets with different truncation degrees are not paired. A point may be its own
    partner (ϑ = 0° or 90° with oy = 0 about x, ox = 0 about y). Indices are flat over
    (angle, offset_y, offset_x), C order.
    """
    angles = np.atleast_1d(np.asarray(angles_deg, dtype=float))
    offsets = np.asarray(offsets, dtype=float)
    ny, nx = offsets.shape[:2]
    flat = offsets.reshape(-1, offsets.shape[-1])
    deg = None if degrees is None else np.broadcast_to(np.asarray(degrees), (ny, nx)).ravel()
    off_partner = np.full(ny * nx, -1, dtype=np.int64)
    for j, o in enumerate(flat):
        image = mirror.offset(np.pad(o, (0, 3 - o.size)))[: o.size]
        hits = np.flatnonzero(np.max(np.abs(flat - image), axis=1) <= OFFSET_TOL_T)
        if hits.size and (deg is None or deg[hits[0]] == deg[j]):
            off_partner[j] = hits[0]
    table = np.full((angles.size, ny * nx), -1, dtype=np.int64)
    for a, angle in enumerate(angles):
        b = _angle_index(angles, mirror.angle(angle))
        if b is None:
            continue
        ok = off_partner >= 0
        table[a, ok] = b * ny * nx + off_partner[ok]
    return table.reshape(angles.size, ny, nx)


def solve_plan(partner: np.ndarray) -> np.ndarray:
    """Which point each row comes from: source[i] = i (solve it) or the index of its partner.

    Points are visited in flat order; the first of each pair is solved and its partner derived
    from it. `partner` is partner_table's output (any shape, flattened; −1 = no partner).
    """
    partner = np.asarray(partner, dtype=np.int64).ravel()
    source = np.arange(partner.size)
    filled = np.zeros(partner.size, dtype=bool)
    for i in range(partner.size):
        if filled[i]:
            continue
        filled[i] = True
        p = partner[i]
        if p >= 0 and not filled[p]:
            source[p] = i
            filled[p] = True
    return source
