"""Exact π-rotation symmetry of a Lissajous drive: solve one of each pair of dictionary rows, derive the other.

Derivation. Let the field be B(t) = o + Σ_i a_i cos(2π n_i t/T + φ_i) e_i (channel i along axis
i, n_i = lcm(dividers)/divider_i drive periods per cycle T). Half a cycle later each drive term is
multiplied by (−1)^n_i, whatever its phase φ_i. Let R_a be the rotation by π about axis a:
R_x = diag(1, −1, −1), R_y = diag(−1, 1, −1), R_z = diag(−1, −1, 1). If every active drive channel
i (nonzero amplitude) has (−1)^n_i = (R_a)_ii, then

    B_o'(t + T/2) = R_a B_o(t)    with o' = R_a o.

The Néel Fokker–Planck drift (params) is built from cross products and dot products of m, B and
the easy axis n only, and the diffusion is isotropic, so the equation is covariant under proper
rotations: rotating B and n by R rotates the whole density. (So is its Galerkin truncation: the
spherical harmonics of degree ≤ L span a rotation-invariant space, so the relation is exact at
every L; only the adaptive time steps differ between the two solves.) A mirror (det −1) is not a
symmetry: it reverses the precession term p1 B×m (DESIGN.md §8). The periodic steady state is
unique, so the problem (R n, R o) has <m>'(t + T/2) = R <m>(t).

For an in-plane easy axis n(ϑ) = (cos ϑ, sin ϑ, 0) and the uniaxial energy −K(n·m)², which does not
see the sign of n: R_x n(ϑ) = −n(180° − ϑ) and R_y n(ϑ) = n(180° − ϑ), so the partner angle is
180° − ϑ; R_z n(ϑ) = −n(ϑ), so the partner has the same angle and the offset (−ox, −oy, oz).

A shift by T/2 multiplies the k-th Fourier coefficient over the cycle by exp(−iπk) = (−1)^k; with
an even number of samples per cycle the shift is a whole number of samples, so this holds exactly
for the rfft bins of spectra.spectrum as well. Hence, per receive channel c,

    φ'_c,k = (R_a)_cc (−1)^k φ_c,k.

Which rotation a drive has follows from the parities of its period counts (and the inactive
channels impose nothing). The 2D Bruker drive (16 periods on x, 17 on y) has R_x; both counts
odd (or a 1D drive with an odd count) gives R_y or R_z; the 3D Bruker drive (dividers 102, 96, 99:
528, 561 and 544 periods, even, odd, even) would need diag(1, −1, 1), a mirror, so it has none and
every row is solved. Offsets of any dimension pair up on the grid when R_a o is a grid point
(:func:`partner_table`). Numerically the derived rows differ from a direct solve of the partner
by the solver's error only (tests/test_symmetry.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .excitation import Excitation

AXIS_TOL = 1e-9  # easy axes are compared up to sign to this (max over components)
OFFSET_TOL_T = 1e-12  # offsets are matched on the grid to this (max over components)


ROTATIONS = {"x": (1.0, -1.0, -1.0), "y": (-1.0, 1.0, -1.0), "z": (-1.0, -1.0, 1.0)}


@dataclass(frozen=True)
class Mirror:
    """The rotation by π about `axis` ("x", "y" or "z") that maps the excitation onto itself shifted by T/2."""

    axis: str

    @property
    def rotation(self) -> np.ndarray:
        """The rotation matrix R (lab frame)."""
        return np.diag(ROTATIONS[self.axis])

    def angle(self, angle_deg: float) -> float:
        """The partner's in-plane easy-axis angle in [0°, 180°): 180° − ϑ about x or y, ϑ about z."""
        return float((float(angle_deg) if self.axis == "z" else 180.0 - float(angle_deg)) % 180.0)

    def offset(self, offset) -> np.ndarray:
        """The partner's offset R·o."""
        return self.rotation @ np.asarray(offset, dtype=float)

    def signs(self, bins, channels=2) -> np.ndarray:
        """Factors (channels, len(bins)) with φ_partner[c, j] = signs[c, j]·φ[c, j] at rfft bins k = bins[j].

        `channels`: the receive channels' axes (indices 0–2 for x, y, z) or a count n (the first n axes)."""
        alternating = 1.0 - 2.0 * (np.asarray(bins, dtype=np.int64) % 2)  # (−1)^k
        axes = list(range(channels)) if isinstance(channels, (int, np.integer)) else list(channels)
        return np.asarray(ROTATIONS[self.axis])[axes][:, None] * alternating[None, :]

    def rows(self, rows: np.ndarray, bins, channels=None) -> np.ndarray:
        """The partner's rows from rows (receive channel; frequency at `bins`, ...trailing axes); `channels`
        as in :meth:`signs` (default: the first rows.shape[0] axes)."""
        rows = np.asarray(rows)
        s = self.signs(bins, rows.shape[0] if channels is None else channels)
        return rows * s.reshape(s.shape + (1,) * (rows.ndim - 2))


def period_counts(excitation: Excitation) -> tuple[int, ...]:
    """Drive periods per cycle n_i = cycle/divider_i, one per channel (an inactive channel's count may be
    fractional; it imposes nothing)."""
    cycle = excitation.cycle_samples
    return tuple(cycle // d for d in excitation.dividers)


def rotations(excitation: Excitation) -> list[Mirror]:
    """Every π rotation (about x, y, z) that maps the drive onto itself shifted by half a cycle.

    Needs an even number of samples per cycle (T/2 on the sample grid) and, for every channel i
    with nonzero amplitude, (−1)^n_i equal to the rotation's i-th diagonal entry. Phases do not enter.
    """
    if excitation.samples % 2:
        return []
    n = period_counts(excitation)
    return [Mirror(axis) for axis, diag in ROTATIONS.items()
            if all((-1.0) ** n[i] == diag[i] for i in excitation.active)]


def mirror_symmetry(excitation: Excitation) -> Mirror | None:
    """The rotation a block uses (the first of :func:`rotations`: x, then y, then z), or None where the drive
    has none. Offsets pair up where their image is on the grid (:func:`partner_table`)."""
    found = rotations(excitation)
    return found[0] if found else None


def partner_table(mirror: Mirror, axes, offsets: np.ndarray, degrees: np.ndarray | None = None) -> np.ndarray:
    """For each (easy axis, offset grid point) the flat index of its mirror partner in the grid, or −1.

    `axes`: (A, 3) easy-axis unit vectors (or in-plane angles in degrees, see :func:`easy_axes`), compared
    up to sign (n and −n are the same uniaxial particle) to AXIS_TOL; `offsets`: (..., 3) grid of any
    dimension, compared to OFFSET_TOL_T. Where `degrees` (the grid's shape) is given, offsets with
    different truncation degrees are not paired. A point may be its own partner (ϑ = 0° or 90° with
    oy = 0 about x). Indices are flat over (axis, *grid), C order; the result has that shape.
    """
    axes = easy_axes(axes)
    offsets = np.asarray(offsets, dtype=float)
    grid = offsets.shape[:-1]
    flat = offsets.reshape(-1, offsets.shape[-1])
    size = flat.shape[0]
    deg = None if degrees is None else np.broadcast_to(np.asarray(degrees), grid).ravel()
    off_partner = np.full(size, -1, dtype=np.int64)
    for j, o in enumerate(flat):
        image = mirror.offset(np.pad(o, (0, 3 - o.size)))[: o.size]
        hits = np.flatnonzero(np.max(np.abs(flat - image), axis=1) <= OFFSET_TOL_T)
        if hits.size and (deg is None or deg[hits[0]] == deg[j]):
            off_partner[j] = hits[0]
    table = np.full((axes.shape[0], size), -1, dtype=np.int64)
    images = axes @ mirror.rotation.T
    for a, image in enumerate(images):
        same = np.minimum(np.abs(axes - image).max(axis=1), np.abs(axes + image).max(axis=1)) <= AXIS_TOL
        if not same.any():
            continue
        b = int(np.flatnonzero(same)[0])
        ok = off_partner >= 0
        table[a, ok] = b * size + off_partner[ok]
    return table.reshape((axes.shape[0],) + grid)


def easy_axes(axes) -> np.ndarray:
    """(A, 3) unit easy-axis vectors from vectors or from in-plane angles in degrees from x (a 1-D list)."""
    axes = np.asarray(axes, dtype=float)
    if axes.ndim <= 1:
        radians = [math.radians(a) for a in np.atleast_1d(axes)]
        return np.array([(math.cos(a), math.sin(a), 0.0) for a in radians]).reshape(-1, 3)
    return axes / np.linalg.norm(axes, axis=1, keepdims=True)


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
