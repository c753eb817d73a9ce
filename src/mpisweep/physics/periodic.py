"""The per-cycle contraction of the cycle map, and shooting on it (Newton-Krylov) where it is slow.

The Galerkin system ċ = A(t) c is linear with T-periodic A, and the density's normalisation
(∫f = 1, the Y_00 coefficient, which A never changes) makes the one-cycle map affine in the
other unknowns: c ↦ Φ c. The periodic state is its fixed point. Relaxing towards it cycle by cycle
shrinks the error by ρ, the largest |eigenvalue| of Φ on the zero-mass subspace, per cycle; an
end-to-start difference δ then bounds the distance to the fixed point only by δ/(1 − ρ).

* :func:`predicted_contraction` estimates ρ before any integration. Brownian rotation: the slowest
  rate at zero field is exactly 1/τ_B and a field only speeds relaxation up, so ρ ≤ e^(−T/τ_B).
  Néel rotation: the slowest non-zero rate λ(B) of A(B), frozen at the fields of the cycle,
  ρ ≈ exp(−∫λ(B(t)) dt): for a high barrier this is the two-well hopping mode, for which the
  formula is exact in the adiabatic limit (measured: σ 15-25 at 1-12 mT, 25 kHz, it matches the
  power iteration on Φ to 7 digits). The zero-field rate (cached per particle and degree) already
  proves fast relaxation for every σ ≲ 12 in the Bruker drive; otherwise the fields are visited
  strongest first and the estimate stops as soon as the cycle's hops are enough.
* :func:`shoot` solves (I − Φ) Δ = P(c) − c by GMRES, each matrix-vector product one cycle of
  the homogeneous system, and stops on the contraction-aware distance ‖P(c) − c‖/(1 − ρ) with ρ
  from the Ritz values of Φ. A high-barrier particle has one slow mode, so a Newton step takes
  ~2 GMRES iterations.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse.linalg as spla

from .harmonic import MOMENT_PER_COEFFICIENT
from .krylov import gmres
from .operator import Operator, build_operator
from .params import AnyParticle, BrownParticle

#: the relaxation path (warm-up, then cycles until the end matches the start) is kept where
#: the predicted contraction per cycle is at most this: τ ≤ T
RELAX_CONTRACTION = math.exp(-1.0)
#: field samples per drive period (at least 16 per cycle) for the frozen-field estimate, at most this many
SAMPLES_PER_PERIOD, MAX_SAMPLES = 16, 256
#: shooting: Newton steps, GMRES iterations per step
MAX_NEWTON, MAX_KRYLOV = 4, 40
#: a Krylov vector is integrated scaled to this ∞-norm (|⟨m⟩| of it stays below 1, the blow-up guard)
KRYLOV_SCALE = 0.1


def _reduced(op: Operator, field_local):
    a = op.at(field_local)
    keep = np.flatnonzero(np.arange(op.size) != 0)  # Y_00 (natural index 0): A's row is empty
    return a[keep][:, keep].tocsc()


def slowest_rate(op: Operator, field_local) -> float:
    """The slowest non-zero decay rate (1/s) of A(B) at a constant field B (easy-axis frame).

    The conserved density is the zero eigenvalue; on the zero-mass subspace the eigenvalues nearest 0
    are found by shift-invert, and the smallest −Re λ is returned.
    """
    reduced = _reduced(op, field_local)
    k = min(4, reduced.shape[0] - 2)
    if k < 1:
        return float(np.min(-np.linalg.eigvals(reduced.toarray()).real))
    vals = spla.eigs(reduced, k=k, sigma=0.0, which="LM", return_eigenvectors=False, tol=1e-6)
    return float(np.min(-vals.real))


@functools.lru_cache(maxsize=64)
def zero_field_rate(particle: AnyParticle, degree: int) -> float:
    """The slowest relaxation rate at zero field: 1/τ_B for Brownian rotation, an eigenvalue for Néel."""
    if isinstance(particle, BrownParticle):
        return 1.0 / particle.tau
    return slowest_rate(build_operator(particle, degree), np.zeros(3))


def predicted_contraction(particle: AnyParticle, degree: int, fields_local: np.ndarray, period: float,
                          periods_per_cycle: int) -> float:
    """ρ, the per-cycle contraction of the cycle map, predicted from relaxation rates (no integration).

    `fields_local`: a callable t ↦ B(t) in the easy-axis frame (t an array). Brownian: e^(−T/τ_B),
    an upper bound. Néel: exp(−T·λ(0)) where that already shows fast relaxation
    (≤ RELAX_CONTRACTION), else exp(−∫λ(B(t))dt) over SAMPLES_PER_PERIOD samples per drive period, the
    strongest fields first, stopping once the partial integral alone gives ≤ RELAX_CONTRACTION.
    """
    rate0 = zero_field_rate(particle, degree)
    rho0 = math.exp(-period * rate0)
    if isinstance(particle, BrownParticle) or rho0 <= RELAX_CONTRACTION:
        return rho0
    count = int(min(MAX_SAMPLES, max(16, SAMPLES_PER_PERIOD * periods_per_cycle)))
    t = np.arange(count) * (period / count)
    fields = fields_local(t)
    order = np.argsort(-np.linalg.norm(fields, axis=1), kind="stable")
    op = build_operator(particle, degree)
    enough = -math.log(RELAX_CONTRACTION)
    total = 0.0
    for i in order:
        total += max(rate0, slowest_rate(op, fields[i])) * period / count
        if total >= enough:
            break
    return math.exp(-total)


@dataclass
class ShootResult:
    state: np.ndarray  # c(0) of the last cycle integrated
    distance: float  # contraction-aware distance of that state from the fixed point, in ⟨m⟩
    contraction: float  # ρ used for it
    measured: float  # max |1 − θ| over the last GMRES's Ritz values θ (0: no GMRES ran)
    newton: int
    krylov: int  # GMRES iterations (homogeneous cycles), all steps together
    cycles: int  # cycles integrated, homogeneous and full
    tolerance: float  # tol() of the last full cycle: converged when distance ≤ tolerance

    @property
    def converged(self) -> bool:
        return self.distance <= self.tolerance


def shoot(cycle: Callable[[np.ndarray, bool], np.ndarray], state: np.ndarray, zero_index: int,
          tol: Callable[[], float], contraction: float) -> ShootResult:
    """Newton-Krylov on the cycle map from `state`, until the contraction-aware distance is ≤ tol().

    `cycle(c, output)` integrates one cycle from c at t = 0 and returns c(T) (with `output`, the
    samples of that cycle are kept by the caller: the last full cycle is the answer). The Jacobian is
    Φ itself (the map is linear): Φ v is one cycle from v with v's Y_00 coefficient 0. `tol` is
    called after each full cycle (it may depend on the cycle's amplitude); `contraction` is the
    prior ρ; once GMRES has run, the larger of it and the largest |1 − θ| over GMRES's Ritz values θ.
    """
    zero = np.zeros(state.size, dtype=bool)
    zero[zero_index] = True
    rho = contraction
    measured = 0.0
    cycles = krylov = newton = 0

    def phi_minus_identity(v):
        nonlocal cycles
        scale = float(np.abs(v).max())
        if scale == 0.0:
            return np.zeros_like(v)
        cycles += 1
        w = cycle(v * (KRYLOV_SCALE / scale), False) * (scale / KRYLOV_SCALE)
        w[zero] = 0.0
        return v - w

    while True:
        end = cycle(state, True)
        cycles += 1
        residual = end - state
        residual[zero] = 0.0
        limit = tol()
        distance = MOMENT_PER_COEFFICIENT * float(np.abs(residual).max()) / (1.0 - rho)
        if distance <= limit or newton >= MAX_NEWTON:
            return ShootResult(state, distance, rho, measured, newton, krylov, cycles, limit)
        # (I − Φ) Δ = P(c) − c; GMRES to a tenth of the budget, scaled back to coefficients
        solved = gmres(phi_minus_identity, residual, 0.1 * limit * (1.0 - rho) / MOMENT_PER_COEFFICIENT,
                       MAX_KRYLOV)
        krylov += solved.iterations
        newton += 1
        if solved.ritz.size:
            measured = float(np.max(np.abs(1.0 - solved.ritz)))
            rho = min(max(contraction, measured), 1.0 - 1e-12)
        state = state + solved.x
