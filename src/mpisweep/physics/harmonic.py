"""Harmonic balance: the periodic steady state of the Galerkin system in the frequency domain.

With A(t) = C_0 + Σ_q cos(n_q ω_0 t + φ_q) C_q (ω_0 = 2π/T, n_q drive periods per cycle; the
Fokker-Planck operator of paper eqs. 4-6 is affine in the field) and c(t) = Σ_k ĉ_k e^{i k ω_0 t},
the periodic solution satisfies, harmonic by harmonic,

    (C_0 − i k ω_0) ĉ_k + ½ Σ_q (e^{iφ_q} C_q ĉ_{k−n_q} + e^{−iφ_q} C_q ĉ_{k+n_q}) = 0,

with the normalisation ∫f = 1 (ĉ_0 of Y_00 fixed) in place of the conservation row, which is
empty. The harmonics kept are those of mixing order ≤ N, k = Σ a_q n_q with Σ|a_q| ≤ N; N grows
until the outermost order is negligible. The system is solved by GMRES, right-preconditioned by
the block diagonal (C_0 − i k ω_0)⁻¹ (one banded LU per harmonic k ≥ 0; k < 0 are the conjugates).

There is no time step, so nothing accumulates over cycles: the answer is as good for τ = 10⁴ T
as for τ = T. It converges fast where the drive changes the density little within a drive period
(Brownian τ_B ≫ 1/ω: the coupling C_q/(kω_0) is weak) and needs many harmonics and iterations
where the response switches sharply (fast relaxation), or where a nearly singular slow mode meets
fast precessional modes (high-barrier Néel: there shooting on the cycle map is used instead; see
physics.periodic). :func:`periodic_harmonics` says when it did not converge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

from .krylov import gmres

#: relative GMRES residual ‖b − A ĉ‖/‖b‖ of a converged solve (b: the normalisation)
RESIDUAL = 1e-11
#: mixing orders: the first, the step and the largest tried
FIRST_ORDER, ORDER_STEP, MAX_ORDER = 4, 4, 32
#: GMRES iterations per order, and the largest system (harmonics × unknowns) tried
MAX_ITERATIONS = 80
MAX_UNKNOWNS = 60_000
#: √(4π/3)·√3: the largest |⟨m⟩| one unit coefficient of degree 1 can carry (bound for the tail)
MOMENT_PER_COEFFICIENT = 2.0 * np.sqrt(np.pi)


def harmonic_set(numbers, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Harmonics k = Σ a_q n_q with Σ|a_q| ≤ `order`, sorted, and the least mixing order of each."""
    reached = {0: 0}
    frontier = [0]
    for level in range(1, order + 1):
        nxt = []
        for k in frontier:
            for n in numbers:
                for j in (k + n, k - n):
                    if j not in reached:
                        reached[j] = level
                        nxt.append(j)
        frontier = nxt
    ks = np.array(sorted(reached))
    return ks, np.array([reached[k] for k in ks])


@dataclass
class HarmonicResult:
    ks: np.ndarray  # (H,) harmonic numbers k (of ω_0 = 2π/T)
    coefficients: np.ndarray  # (H, n) complex ĉ_k, band order
    order: int  # mixing order N reached
    iterations: int  # GMRES iterations, all orders together
    residual: float  # relative GMRES residual of the last order
    tail: float  # bound on |⟨m⟩| carried by the two outermost orders (the truncation estimate)
    converged: bool


class _Balance:
    """The harmonic-balance operator on one harmonic set and its block-diagonal preconditioner."""

    def __init__(self, terms: list[sp.csr_matrix], numbers, phases, period, bandwidth, i0, ks):
        self.terms, self.ks, self.i0, self.bw = terms, ks, i0, bandwidth
        self.w0 = 2.0 * np.pi / period
        n = terms[0].shape[0]
        self.n = n
        pos = {int(k): i for i, k in enumerate(ks)}
        self.zero = pos[0]
        self.shifts = []  # (term, coefficient, target rows, source rows)
        for q, nq in enumerate(numbers):
            for sign in (1, -1):
                src = np.array([pos.get(int(k) - sign * nq, -1) for k in ks])
                ok = np.flatnonzero(src >= 0)
                self.shifts.append((terms[q + 1], 0.5 * np.exp(sign * 1j * phases[q]), ok, src[ok]))
        coo = terms[0].tocoo()
        band = np.zeros((3 * bandwidth + 1, n))
        band[2 * bandwidth + coo.row - coo.col, coo.col] = coo.data
        self.factors = {}
        for k in ks[ks >= 0]:
            if k == 0:
                ab = band.copy()
                ab[2 * bandwidth, i0] = 1.0  # the (empty) conservation row becomes ĉ_0[i0] = c00
                lu, piv, info = lapack.dgbtrf(ab, bandwidth, bandwidth)
            else:
                ab = band.astype(complex)
                ab[2 * bandwidth] -= 1j * k * self.w0
                lu, piv, info = lapack.zgbtrf(ab, bandwidth, bandwidth)
            if info != 0:
                raise np.linalg.LinAlgError(f"harmonic {k}: singular block")
            self.factors[int(k)] = (lu, piv)

    def apply(self, y: np.ndarray) -> np.ndarray:
        out = (self.terms[0] @ y.T).T - 1j * self.w0 * self.ks[:, None] * y
        for term, coef, rows, src in self.shifts:
            out[rows] += coef * (term @ y[src].T).T
        out[self.zero, self.i0] = y[self.zero, self.i0]
        return out

    def precondition(self, r: np.ndarray) -> np.ndarray:
        out = np.empty_like(r)
        bw = self.bw
        for i, k in enumerate(self.ks):
            lu, piv = self.factors[abs(int(k))]
            if k > 0:
                out[i] = lapack.zgbtrs(lu, bw, bw, r[i], piv)[0]
            elif k < 0:
                out[i] = lapack.zgbtrs(lu, bw, bw, r[i].conj(), piv)[0].conj()
            else:
                out[i] = (lapack.dgbtrs(lu, bw, bw, r[i].real.copy(), piv)[0]
                          + 1j * lapack.dgbtrs(lu, bw, bw, r[i].imag.copy(), piv)[0])
        return out


def periodic_harmonics(terms: list[sp.csr_matrix], numbers, phases, period: float, bandwidth: int,
                       i0: int, c00: float, tolerance: Callable[[HarmonicResult], float]) -> HarmonicResult:
    """Harmonics ĉ_k of the periodic state; orders grow until the two outermost carry ≤ tolerance(result) in ⟨m⟩.

    `terms`: C_0, C_1 … (CSR, band order, bandwidth `bandwidth`); `numbers`: n_q, drive periods per
    cycle; `phases`: φ_q; `i0`: the position of Y_00, whose coefficient is `c00`. Not converged
    (converged False) when an order needs more than MAX_ITERATIONS, the system would exceed
    MAX_UNKNOWNS, or MAX_ORDER is reached.
    """
    n = terms[0].shape[0]
    previous = None
    total = 0
    order = FIRST_ORDER
    result = None
    while True:
        ks, orders = harmonic_set(numbers, order)
        if ks.size * n > MAX_UNKNOWNS:
            return result or HarmonicResult(ks, np.zeros((ks.size, n), complex), order, total, np.inf, np.inf, False)
        balance = _Balance(terms, numbers, phases, period, bandwidth, i0, ks)
        b = np.zeros((ks.size, n), complex)
        b[balance.zero, i0] = c00
        start = np.zeros_like(b)
        if previous is not None:
            pos = {int(k): i for i, k in enumerate(ks)}
            start[[pos[int(k)] for k in previous.ks]] = previous.coefficients
        r0 = b - balance.apply(start)
        solved = gmres(balance.apply, r0, RESIDUAL * c00, MAX_ITERATIONS, balance.precondition)
        total += solved.iterations
        coefficients = start + solved.x
        # the two outermost orders: with a symmetric drive every other order can vanish exactly
        outer = coefficients[orders >= order - 1]
        tail = 2.0 * MOMENT_PER_COEFFICIENT * float(np.abs(outer).max()) if outer.size else 0.0
        residual = solved.residual / c00
        result = HarmonicResult(ks, coefficients, order, total, residual, tail, False)
        result.converged = residual <= RESIDUAL and tail <= tolerance(result)
        converged = result.converged
        if converged or residual > RESIDUAL or order >= MAX_ORDER:
            return result
        previous = result
        order += ORDER_STEP


def evaluate(result: HarmonicResult, w_moment: np.ndarray, obs_idx: np.ndarray, period: float,
             times: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """⟨m⟩(t) and d⟨m⟩/dt (easy-axis frame) at `times` from the harmonics: exact derivative, no differencing."""
    w0 = 2.0 * np.pi / period
    mk = result.coefficients[:, obs_idx.astype(np.int64)] @ w_moment.T  # (H, 3)
    rk = 1j * w0 * result.ks[:, None] * mk
    m = np.empty((times.size, 3))
    dm = np.empty((times.size, 3))
    for s in range(0, times.size, chunk):
        phase = np.exp(1j * w0 * np.outer(times[s:s + chunk], result.ks))
        m[s:s + chunk] = (phase @ mk).real
        dm[s:s + chunk] = (phase @ rk).real
    return m, dm


def state_at_zero(result: HarmonicResult) -> np.ndarray:
    """c(0) = Σ_k ĉ_k (real part; the imaginary parts of ±k cancel)."""
    return result.coefficients.sum(axis=0).real
