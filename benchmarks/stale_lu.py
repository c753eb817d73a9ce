"""How long a factorisation of I - c·A(t) stays useful as A(t) drifts with the drive field.

Issue 11, item 3 ("an LU that lasts longer"). For the heaviest block of the paper grid (28 nm,
9000 J/m³, L = 42, easy axis 28.6°, offset (3, -5) mT) the Newton matrix M(t) = I - c·A(t) is
factorised at t0 = 100 µs and used on M(t0 + Δt) x = b (b: the equilibrium state) in two ways:
- chord (Richardson) iteration x ← x + M(t0)⁻¹ (b - M x): its contraction rate ρ;
- GMRES (SciPy, right-preconditioned by M(t0)⁻¹, restart 60): iterations to a relative residual of
  1e-10 (at most 60) and the error against a direct solve.
GMRES only pays if M(t0)⁻¹ M(t) has a few outlying eigenvalues and the rest clustered at 1. It has
not: GMRES needs 7, 12 and 57+ iterations at Δt = 0.3, 1 and 3 µs (chord: ρ = 0.03, 0.1, 0.3), and
fails at 10 µs, where the chord rate is 0.8. So no LU lasts much longer than the integrator's ~1 µs
(it refactorises ~720 times per cycle), whatever the iteration; solve() is unchanged.

Run: .venv/bin/python benchmarks/stale_lu.py   (~5 s)
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import scipy.sparse.linalg as spl  # noqa: E402

from mpisweep.physics import integrator, solver  # noqa: E402
from mpisweep.physics.banded import band_lu_nopivot, band_solve_nopivot, band_width  # noqa: E402
from mpisweep.physics.excitation import Excitation  # noqa: E402
from mpisweep.physics.operator import build_operator, rotation_to_easy_axis  # noqa: E402
from mpisweep.physics.params import Particle  # noqa: E402

T0 = 100e-6  # s
DRIFTS = (0.3e-6, 1e-6, 3e-6, 10e-6, 30e-6)  # s
STEP_CONSTANTS = (0.05e-6, 0.2e-6, 1e-6)  # c = h/α_k, s
CHORD_ITERATIONS = 6


class NewtonMatrices:
    """M(t) = I - c·A(t) of one solve, as sparse matrices and as factorised bands."""

    def __init__(self, particle, excitation, easy_axis, degree):
        rot = rotation_to_easy_axis(easy_axis)
        self.op = build_operator(particle, degree)
        self.system = solver._assemble(self.op, [rot @ np.asarray(excitation.offset),
                                                 *(excitation.drive_vectors @ rot.T)])
        self.omega = 2 * np.pi * excitation.frequencies
        self.phase = np.asarray(excitation.phases, dtype=float)
        self.state = self.op.equilibrium_state(excitation.field(T0) @ rot.T)[self.system.perm]

    def values(self, t):
        s = np.zeros(self.system.vals.shape[0])
        v = np.zeros(self.system.vals.shape[1])
        integrator._coefficients(t, self.omega, self.phase, s)
        integrator._combine(self.system.vals, s, v)
        return v

    def sparse(self, t, c):
        n = self.op.size
        a = sp.csr_matrix((self.values(t), self.system.indices.astype(np.int64),
                           self.system.indptr.astype(np.int64)), shape=(n, n))
        return (sp.identity(n) - c * a).tocsr()

    def factor(self, t, c):
        s, n, bw = self.system, self.op.size, self.system.bandwidth
        ab = np.zeros((n, band_width(bw, bw)))
        integrator._form_newton_matrix(ab, c, self.values(t), s.band_col, s.band_row, 2 * bw)
        if band_lu_nopivot(ab, bw, bw, np.zeros(bw + 1), s.envelope) != 0:
            raise RuntimeError("the Newton matrix needs pivoting")

        def solve(x):
            x = np.array(x, dtype=float).ravel()
            band_solve_nopivot(ab, bw, bw, x, s.envelope)
            return x

        return solve


def main():
    particle = Particle(28e-9, 9000.0)
    excitation = Excitation.bruker(offset=(3e-3, -5e-3, 0.0))
    easy_axis = np.array([np.cos(0.5), np.sin(0.5), 0.0])
    m = NewtonMatrices(particle, excitation, easy_axis, degree=42)
    b = m.state
    print(f"28 nm, 9000 J/m³ (σ = {particle.sigma:.1f}), L = 42, n = {m.op.size}; LU at t0 = {T0 * 1e6:.0f} µs")
    print("| c (µs) | Δt (µs) | chord ρ | GMRES iterations | GMRES error |")
    print("| --- | --- | --- | --- | --- |")
    for c in STEP_CONSTANTS:
        precondition = m.factor(T0, c)
        for dt in DRIFTS:
            mat = m.sparse(T0 + dt, c)
            exact = spl.spsolve(mat.tocsc(), b)
            x = precondition(b)
            errors = []
            for _ in range(CHORD_ITERATIONS):
                x = x + precondition(b - mat @ x)
                errors.append(np.abs(x - exact).max())
            rate = (errors[-1] / errors[0]) ** (1 / (CHORD_ITERATIONS - 1))
            count = [0]

            def tally(_residual):
                count[0] += 1

            xg, _ = spl.gmres(mat, b, M=spl.LinearOperator(mat.shape, matvec=precondition), rtol=1e-10,
                              restart=60, maxiter=1, callback=tally, callback_type="pr_norm")
            err = np.abs(xg - exact).max() / np.abs(exact).max()
            print(f"| {c * 1e6:.2f} | {dt * 1e6:.1f} | {rate:.3f} | {count[0]} | {err:.1e} |", flush=True)


if __name__ == "__main__":
    main()
