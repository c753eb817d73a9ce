"""Equilibrium magnetisation models.

- Langevin (model M0): <m> = L(β|B|) B/|B|, L(z) = coth z - 1/z, no anisotropy.
- Static anisotropic Boltzmann equilibrium: f ∝ exp(β B·m + σ (n·m)²), evaluated
  with a Gauss-Legendre × trapezoid quadrature in the easy-axis frame (independent
  of the Fokker-Planck operator, which must converge to it for a constant field).

Both give d<m>/dt = J(B)·dB/dt with the exact susceptibility J = ∂<m>/∂B; for the
Boltzmann form J = β·Cov(m) (fluctuation-dissipation).
"""

from __future__ import annotations

import numpy as np

from .operator import rotation_to_easy_axis
from .params import Particle


def langevin(z):
    """L(z) = coth z - 1/z, accurate near 0 (series) and for large z."""
    z = np.asarray(z, dtype=float)
    small = np.abs(z) < 1e-3
    zs = np.where(small, 1.0, z)
    out = 1.0 / np.tanh(zs) - 1.0 / zs
    return np.where(small, z / 3.0 - z**3 / 45.0, out)


def langevin_derivative(z):
    """L'(z) = 1/z² - 1/sinh² z."""
    z = np.asarray(z, dtype=float)
    small = np.abs(z) < 1e-3
    zs = np.where(small, 1.0, z)
    big = np.abs(zs) > 300
    sh = np.where(big, 1.0, np.sinh(np.where(big, 1.0, zs)))
    out = 1.0 / zs**2 - np.where(big, 0.0, 1.0 / sh**2)
    return np.where(small, 1.0 / 3.0 - z**2 / 15.0, out)


def langevin_moment(particle: Particle, field, field_rate=None):
    """<m> (and d<m>/dt if field_rate is given) of the Langevin model, shape (..., 3)."""
    B = np.asarray(field, dtype=float)
    beta = particle.beta
    b = np.linalg.norm(B, axis=-1, keepdims=True)
    safe = np.where(b > 0, b, 1.0)
    h = np.where(b > 0, B / safe, 0.0)
    z = beta * b
    m = langevin(z) * h
    if field_rate is None:
        return m
    dB = np.asarray(field_rate, dtype=float)
    # J = β L'(z) h hᵀ + (L(z)/|B|)(I - h hᵀ); at B = 0, J = β/3 I.
    Lz = langevin(z)
    dLz = langevin_derivative(z)
    par = np.sum(h * dB, axis=-1, keepdims=True) * h
    perp_gain = np.where(b > 0, Lz / safe, beta / 3.0)
    dm = beta * dLz * par + perp_gain * (dB - par)
    return m, dm


class BoltzmannQuadrature:
    """Quadrature of f ∝ exp(β B·m + σ (n·m)²) on the sphere, in the easy-axis frame."""

    def __init__(self, particle: Particle, easy_axis, nodes: int = 200, azimuths: int = 256):
        self.particle = particle
        self.rot = rotation_to_easy_axis(easy_axis)
        x, w = np.polynomial.legendre.leggauss(nodes)
        phi = 2 * np.pi * np.arange(azimuths) / azimuths
        st = np.sqrt(1 - x * x)
        self.m = np.stack(
            [np.outer(st, np.cos(phi)).ravel(), np.outer(st, np.sin(phi)).ravel(), np.repeat(x, azimuths)],
            axis=-1,
        )
        self.w = np.repeat(w, azimuths) * (2 * np.pi / azimuths)
        self.anis = particle.sigma * self.m[:, 2] ** 2
        self.mm = (self.m[:, :, None] * self.m[:, None, :]).reshape(-1, 9)

    #: field samples per block (bounds the (samples × nodes) working arrays)
    BLOCK = 2048

    def moments(self, field, field_rate=None):
        """<m> (and d<m>/dt = β Cov(m) dB/dt) in the lab frame for lab-frame fields (..., 3)."""
        B = np.atleast_2d(np.asarray(field, dtype=float))
        shape = B.shape[:-1]
        Bl = B.reshape(-1, 3) @ self.rot.T
        dBl = (None if field_rate is None
               else np.atleast_2d(np.asarray(field_rate, dtype=float)).reshape(-1, 3) @ self.rot.T)
        mean = np.empty_like(Bl)
        dm = np.empty_like(Bl)
        for p0 in range(0, Bl.shape[0], self.BLOCK):
            sl = slice(p0, p0 + self.BLOCK)
            expo = self.particle.beta * Bl[sl] @ self.m.T + self.anis  # (P, Q)
            expo -= expo.max(axis=1, keepdims=True)
            wts = np.exp(expo, out=expo)
            wts *= self.w
            wts /= wts.sum(axis=1, keepdims=True)
            mean[sl] = wts @ self.m
            if dBl is not None:
                # second moments as one (P, Q) @ (Q, 9) product: ~10× faster than an einsum over (P, Q, 3, 3)
                cov = (wts @ self.mm).reshape(-1, 3, 3) - mean[sl, :, None] * mean[sl, None, :]
                dm[sl] = self.particle.beta * np.einsum("pij,pj->pi", cov, dBl[sl])
        m_lab = (mean @ self.rot).reshape(shape + (3,))
        if dBl is None:
            return m_lab
        return m_lab, (dm @ self.rot).reshape(shape + (3,))
