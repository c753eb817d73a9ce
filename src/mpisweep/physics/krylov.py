"""GMRES with right preconditioning, returning the Ritz values the periodic solvers read contraction from.

A few dozen iterations at most (the Krylov basis is kept whole, no restarts), real or complex. The
Ritz values are the eigenvalues of the Arnoldi matrix H_j of the preconditioned operator; for the
shooting operator I − Φ (no preconditioner) they give the slowest per-cycle contraction of the cycle
map Φ as max |1 − θ|.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class KrylovResult:
    x: np.ndarray
    iterations: int
    residual: float  # ‖b − A x‖ (absolute, from the Arnoldi relation)
    ritz: np.ndarray  # eigenvalues of H_j (of A·M⁻¹)


def gmres(matvec: Callable[[np.ndarray], np.ndarray], b: np.ndarray, tol: float, max_iter: int,
          precond: Callable[[np.ndarray], np.ndarray] | None = None) -> KrylovResult:
    """Solve A x = b from x = 0 until ‖b − A x‖ ≤ tol (absolute) or `max_iter` iterations.

    Right preconditioning: A M⁻¹ z = b, x = M⁻¹ z, so the residual is the true one. Modified
    Gram-Schmidt with one re-orthogonalisation (the cycle map's vectors are integrated to a
    tolerance, so orthogonality is otherwise lost after ~10 steps).
    """
    apply_m = precond if precond is not None else (lambda v: v)
    beta = float(np.linalg.norm(b))
    dtype = np.result_type(b.dtype, np.float64)
    if beta == 0.0:
        return KrylovResult(np.zeros_like(b, dtype=dtype), 0, 0.0, np.zeros(0))
    basis = np.zeros((max_iter + 1, b.size), dtype=dtype)
    hess = np.zeros((max_iter + 1, max_iter), dtype=dtype)
    basis[0] = b.ravel() / beta
    y = np.zeros(0, dtype=dtype)
    residual = beta
    j = 0
    for j in range(max_iter):
        w = np.asarray(matvec(apply_m(basis[j].reshape(b.shape))), dtype=dtype).ravel()
        for _ in range(2):
            h = (basis[: j + 1] @ w.conj()).conj()  # ⟨v_i, w⟩ without copying the basis
            w = w - h @ basis[: j + 1]
            hess[: j + 1, j] += h
        hess[j + 1, j] = np.linalg.norm(w)
        rhs = np.zeros(j + 2, dtype=dtype)
        rhs[0] = beta
        y, *_ = np.linalg.lstsq(hess[: j + 2, : j + 1], rhs, rcond=None)
        residual = float(np.linalg.norm(hess[: j + 2, : j + 1] @ y - rhs))
        if residual <= tol or hess[j + 1, j].real <= 1e-14 * beta:
            break
        basis[j + 1] = w / hess[j + 1, j]
    k = j + 1
    z = (y @ basis[:k]).reshape(b.shape)
    ritz = np.linalg.eigvals(hess[:k, :k]) if k else np.zeros(0)
    return KrylovResult(apply_m(z), k, residual, ritz)
