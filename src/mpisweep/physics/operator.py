"""Spherical-harmonic Galerkin operator of the Néel Fokker-Planck equation.

The density is expanded in real, orthonormal spherical harmonics Y_i (degree
l ≤ L) in the *easy-axis frame*, where the easy axis n is the z axis:
f = Σ_i c_i Y_i. Testing the equation with Y_i and integrating by parts gives

    dc_i/dt = -l_i(l_i+1)/(2τ) c_i + Σ_j ∫ (∇_S Y_i · b) Y_j dΩ · c_j .

The drift b is affine in the field, so the operator is

    A(B') = A0 + Σ_k B'_k A_k,   k = x', y', z' (field in the easy-axis frame),
    A0 = -diag(l(l+1))/(2τ) + p3 G_an3 + p4 G_an4,   A_k = p1 G_prec,k + p2 G_damp,k .

The geometric matrices G depend on L only; they are computed once per L with a
quadrature that is exact for the polynomial integrands (Gauss-Legendre in cos θ,
trapezoid in φ), integrating φ block by block so the cost stays O(L⁴).
Any easy-axis direction and any offset reuse the same matrices: the field is
rotated into the easy-axis frame, the operator is not.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.special as sps
from scipy.sparse.csgraph import reverse_cuthill_mckee

from .params import Particle

_DROP = 1e-13  # relative size below which quadrature round-off is dropped


def basis_index(degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Degree l and real order m of each basis function, natural order i = l² + l + m."""
    l = np.concatenate([np.full(2 * k + 1, k) for k in range(degree + 1)])
    m = np.concatenate([np.arange(-k, k + 1) for k in range(degree + 1)])
    return l, m


@dataclass(frozen=True)
class Geometry:
    """Field-independent Galerkin matrices for truncation degree L (natural order)."""

    degree: int
    l: np.ndarray
    m: np.ndarray
    precession: tuple  # G_prec for e_x', e_y', e_z' (sparse)
    damping: tuple  # G_damp for e_x', e_y', e_z' (sparse)
    anis3: sp.csr_matrix
    anis4: sp.csr_matrix
    moment: np.ndarray  # (3, n): <m_k> = moment[k] @ c
    norm: np.ndarray  # (n,): ∫ f dΩ = norm @ c

    @property
    def size(self) -> int:
        return len(self.l)


def _trig(m: np.ndarray, phi: np.ndarray):
    """T_m(φ) (1, cos mφ, sin|m|φ) and its φ-derivative, shape (len(m), len(φ))."""
    am = np.abs(m)[:, None]
    arg = am * phi[None, :]
    t = np.where(m[:, None] > 0, np.cos(arg), np.where(m[:, None] < 0, np.sin(arg), 1.0))
    dt = np.where(m[:, None] > 0, -am * np.sin(arg), np.where(m[:, None] < 0, am * np.cos(arg), 0.0))
    return t, dt


@functools.lru_cache(maxsize=8)
def geometry(degree: int) -> Geometry:
    """Compute (and cache) the Galerkin matrices for truncation degree L = degree."""
    L = int(degree)
    if L < 1:
        raise ValueError(f"degree: truncation degree must be ≥ 1, got {degree}")
    l, m = basis_index(L)
    n = l.size
    # Integrands are polynomials of degree ≤ 2L+4 on the sphere: exact quadrature.
    x, wx = np.polynomial.legendre.leggauss(L + 4)
    theta = np.arccos(x)
    sin_t = np.sqrt(1.0 - x * x)
    nphi = 2 * L + 8
    phi = 2 * np.pi * np.arange(nphi) / nphi
    wphi = 2 * np.pi / nphi

    # Θ_i(θ), dΘ_i/dθ, Θ_i/sinθ for every basis function (n, Nθ).
    P = sps.sph_legendre_p_all(L, L, theta, diff_n=1)  # (2, L+1, 2L+1, Nθ)
    am = np.abs(m)
    scale = np.where(m == 0, 1.0, math.sqrt(2.0))[:, None]
    Th = scale * P[0, l, am]
    dTh = scale * P[1, l, am]
    Th_sin = Th / sin_t[None, :]

    # Cartesian unit vectors on the grid (Nθ, Nφ, 3).
    ct, st = x[:, None], sin_t[:, None]
    cp, spn = np.cos(phi)[None, :], np.sin(phi)[None, :]
    mvec = np.stack(np.broadcast_arrays(st * cp, st * spn, ct), axis=-1)
    e_th = np.stack(np.broadcast_arrays(ct * cp, ct * spn, -st + 0 * cp), axis=-1)
    e_ph = np.stack(np.broadcast_arrays(-spn + 0 * ct, cp + 0 * ct, 0 * ct * cp), axis=-1)
    z = mvec[..., 2:3]
    ez = np.array([0.0, 0.0, 1.0])

    # Drift fields b (tangential), one per Galerkin matrix.
    fields = []
    for k in range(3):
        ek = np.eye(3)[k]
        fields.append(np.cross(ek, mvec))  # precession e_k × m
    for k in range(3):
        ek = np.eye(3)[k]
        fields.append(ek - (mvec @ ek)[..., None] * mvec)  # damping (m × e_k) × m
    fields.append(z * np.cross(ez, mvec))  # anisotropy precession (n·m) n×m
    fields.append(z * (ez - z * mvec))  # anisotropy damping (n·m)(m×n)×m

    T, dT = _trig(np.arange(-L, L + 1), phi)  # (2L+1, Nφ)
    blocks = {mm: np.flatnonzero(m == mm) for mm in range(-L, L + 1)}
    mats = []
    for b in fields:
        a_th = np.einsum("tpk,tpk->tp", b, e_th)  # b·e_θ
        a_ph = np.einsum("tpk,tpk->tp", b, e_ph)  # b·e_φ
        # φ-integrals of T_mi(φ)·(b·e_θ)·T_mj(φ) and T'_mi·(b·e_φ)·T_mj: (Nθ, 2L+1, 2L+1)
        A = wphi * np.einsum("ip,tp,jp->tij", T, a_th, T, optimize=True)
        B = wphi * np.einsum("ip,tp,jp->tij", dT, a_ph, T, optimize=True)
        tol = _DROP * max(np.abs(A).max(), np.abs(B).max())
        rows, cols, vals = [], [], []
        for mi in range(-L, L + 1):
            for mj in range(-L, L + 1):
                a = A[:, mi + L, mj + L]
                bb = B[:, mi + L, mj + L]
                if max(np.abs(a).max(), np.abs(bb).max()) <= tol:
                    continue
                ii, jj = blocks[mi], blocks[mj]
                blk = (dTh[ii] * (wx * a)) @ Th[jj].T + (Th_sin[ii] * (wx * bb)) @ Th[jj].T
                r, c = np.nonzero(np.abs(blk) > _DROP * max(1.0, L))
                rows.append(ii[r])
                cols.append(jj[c])
                vals.append(blk[r, c])
        rows, cols, vals = (np.concatenate(v) for v in (rows, cols, vals))
        mats.append(sp.csr_matrix((vals, (rows, cols)), shape=(n, n)))

    # Moment and normalisation functionals by the same quadrature.
    Y = Th[:, :, None] * T[m + L][:, None, :]  # (n, Nθ, Nφ)
    w2 = wx[:, None] * wphi
    moment = np.einsum("itp,tpk,tp->ki", Y, mvec, w2)
    moment[np.abs(moment) < _DROP] = 0.0
    norm = np.einsum("itp,tp->i", Y, w2)
    norm[np.abs(norm) < _DROP] = 0.0
    return Geometry(L, l, m, tuple(mats[0:3]), tuple(mats[3:6]), mats[6], mats[7], moment, norm)


def rotation_to_easy_axis(easy_axis) -> np.ndarray:
    """Rotation R (rows e1', e2', e3' in lab coordinates) with R·n = z.

    For an in-plane easy axis, e1' is the lab z axis, so an in-plane field has
    no x' component in the easy-axis frame.
    """
    n = np.asarray(easy_axis, dtype=float)
    norm = np.linalg.norm(n)
    if n.shape != (3,) or not np.isfinite(norm) or norm == 0:
        raise ValueError(f"easy axis must be a non-zero 3-vector, got {easy_axis!r}")
    n = n / norm
    ref = np.array([0.0, 0.0, 1.0]) if abs(n[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = ref - (ref @ n) * n
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(n, e1)
    return np.stack([e1, e2, n])


def easy_axis_vector(angle_deg: float) -> np.ndarray:
    """The in-plane easy axis n(ϑ) = (cos ϑ, sin ϑ, 0).

    Parameters
    ----------
    angle_deg : float
        Easy-axis angle ϑ in degrees from the x axis, in the x-y plane.

    Returns
    -------
    numpy.ndarray
        The unit vector n, shape (3,).
    """
    a = math.radians(angle_deg)
    return np.array([math.cos(a), math.sin(a), 0.0])


@dataclass(frozen=True)
class Operator:
    """A(B') = a0 + Σ_k B'_k a[k] for one particle, in natural basis order (sparse CSR)."""

    particle: Particle
    geometry: Geometry
    a0: sp.csr_matrix
    a: tuple  # A_x', A_y', A_z'

    @property
    def degree(self) -> int:
        return self.geometry.degree

    @property
    def size(self) -> int:
        return self.geometry.size

    def at(self, field_local) -> sp.csr_matrix:
        """The operator for a field B' (tesla) given in the easy-axis frame."""
        out = self.a0.copy()
        for k in range(3):
            if field_local[k] != 0.0:
                out = out + field_local[k] * self.a[k]
        return out.tocsr()

    def isotropic_state(self) -> np.ndarray:
        c = np.zeros(self.size)
        c[0] = 1.0 / self.geometry.norm[0]
        return c

    def equilibrium_state(self, field_local) -> np.ndarray:
        """Normalised null vector of A(B'): the stationary density for a constant field."""
        A = self.at(field_local).tolil()
        A[0, :] = self.geometry.norm  # row 0 of A is zero (conservation): replace it by ∫f = 1
        rhs = np.zeros(self.size)
        rhs[0] = 1.0
        return sp.linalg.spsolve(A.tocsc(), rhs)

    def mean_moment(self, c) -> np.ndarray:
        """<m> in the easy-axis frame for coefficients c (..., n)."""
        return np.asarray(c) @ self.geometry.moment.T


@functools.lru_cache(maxsize=64)
def build_operator(particle: Particle, degree: int) -> Operator:
    """Assemble the Fokker-Planck operator of one particle at truncation degree L."""
    g = geometry(degree)
    p1, p2, p3, p4 = particle.p
    diffusion = sp.diags(-g.l * (g.l + 1) / (2.0 * particle.tau))
    a0 = (diffusion + p3 * g.anis3 + p4 * g.anis4).tocsr()
    a = tuple((p1 * g.precession[k] + p2 * g.damping[k]).tocsr() for k in range(3))
    return Operator(particle, g, a0, a)


@functools.lru_cache(maxsize=16)
def degree_ordering(degree: int) -> np.ndarray:
    """Band ordering for every operator of degree L (all field components, all anisotropy terms)."""
    g = geometry(degree)
    pattern = sp.identity(g.size) + abs(g.anis3) + abs(g.anis4)
    for k in range(3):
        pattern = pattern + abs(g.precession[k]) + abs(g.damping[k])
    perm, _ = band_ordering(pattern, g.l, g.m)
    return perm


def band_ordering(pattern: sp.spmatrix, l: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, int]:
    """A permutation giving a small half-bandwidth for the sparsity pattern, and that bandwidth.

    Candidates: blocks of |m| (cos/sin interleaved, l ascending), and reverse Cuthill-McKee.
    """
    pattern = (abs(pattern) + abs(pattern).T).tocsr()

    def bandwidth(perm):
        inv = np.empty_like(perm)
        inv[perm] = np.arange(perm.size)
        coo = pattern.tocoo()
        return int(np.max(np.abs(inv[coo.row] - inv[coo.col]))) if coo.nnz else 0

    by_m = np.lexsort((np.sign(m), l, np.abs(m)))
    rcm = np.asarray(reverse_cuthill_mckee(pattern, symmetric_mode=True), dtype=np.int64)
    cands = [(bandwidth(p), k, p) for k, p in enumerate((by_m, rcm))]
    bw, _, perm = min(cands)
    return perm.astype(np.int64), bw
