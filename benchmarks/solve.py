"""Single-core speed and accuracy of one-cycle Fokker-Planck solves; prints a table.

Rows:
- case B (MNPDynamics reference: D = 22 nm, K = 1100 J/m³, easy axis 30°, offset (5, -3) mT)
- D = 26 nm, K = 5000 J/m³, easy axis x, no offset (reference: this solver at rtol 1e-8, L + 6)
- all 121 offsets of the Bruker 11 × 11 grid for case B's (D, K, angle), via simulate_block
- the same case-B problem with scipy.integrate.solve_ivp(method="BDF") on this project's operator

Timings are of the solve itself, as the sweep runs it: the dense stability check of the
spectrum is done once per block and degree there, not per solve (`mpisweep moment` does it).

Run: make bench   (or .venv/bin/python benchmarks/solve.py [--quick])
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

from mpisweep.physics.block import offset_grid, simulate_block  # noqa: E402
from mpisweep.physics.excitation import Excitation  # noqa: E402
from mpisweep.physics.operator import build_operator, easy_axis_vector, rotation_to_easy_axis  # noqa: E402
from mpisweep.physics.params import Particle  # noqa: E402
from mpisweep.physics.solver import auto_degree, default_rtol, solve  # noqa: E402
from mpisweep.physics.spectra import mixing_bins  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[1] / "tests" / "data" / "mnpdynamics_caseB.csv"
CASE_B = (Particle(22e-9, 1100.0), Excitation.bruker(offset=(5e-3, -3e-3)), easy_axis_vector(30.0))


def best_of(repeats, fn):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def scipy_baseline(particle, excitation, axis, degree, rtol):
    """solve_ivp(BDF) with a sparse Jacobian on the same operator, warm-up and cycle as solve()."""
    op = build_operator(particle, degree)
    rot = rotation_to_easy_axis(axis)
    terms = [rot @ np.asarray(excitation.offset)] + [rot @ a for a in excitation.drive_vectors]
    mats = [sp.csr_matrix(sum(f[k] * op.a[k] for k in range(3)) + (op.a0 if q == 0 else 0))
            for q, f in enumerate(terms)]
    omega = 2 * np.pi * excitation.frequencies

    def jac(t, y):
        return mats[0] + sum(np.cos(w * t) * m for w, m in zip(omega, mats[1:]))

    y0 = op.equilibrium_state(rot @ excitation.field(-40e-6))
    sol = solve_ivp(lambda t, y: jac(t, y) @ y, (-40e-6, excitation.period), y0, method="BDF",
                    jac=jac, rtol=rtol, atol=rtol * 1e-2, t_eval=excitation.times)
    return (sol.y.T @ op.geometry.moment.T) @ rot


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 121-offset set and the scipy baseline")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rows = []
    particle, field, axis = CASE_B
    reference_b = np.loadtxt(REFERENCE, delimiter=",", skiprows=1)[:, 1:]
    solve(particle, field, axis)  # compile (or load the numba cache) outside the timings
    wall, res = best_of(args.repeats, lambda: solve(particle, field, axis, check=False))
    err_b = np.abs(res.moment - reference_b).max()
    rows.append(("case B (22 nm, 1100 J/m³, 30°, offset 5/-3 mT)", res.degree, default_rtol(particle.sigma),
                 wall, err_b, "MNPDynamics N=28", res.stats["steps"], res.stats["factorizations"]))

    p26 = Particle(26e-9, 5000.0)
    bruker = Excitation.bruker()
    deg26 = auto_degree(p26, bruker.max_field())
    ref26 = solve(p26, bruker, [1.0, 0.0, 0.0], degree=deg26 + 6, rtol=1e-8, atol=1e-10, check=False).moment
    wall, res = best_of(args.repeats, lambda: solve(p26, bruker, [1.0, 0.0, 0.0], check=False))
    rows.append(("26 nm, 5000 J/m³, easy axis x, no offset", res.degree, default_rtol(p26.sigma), wall,
                 np.abs(res.moment - ref26).max(), "self, rtol 1e-8, L+6", res.stats["steps"],
                 res.stats["factorizations"]))

    if not args.quick:
        offsets = offset_grid((-14.35e-3, 14.35e-3), (-14.71e-3, 14.71e-3), 11, 11)
        bins = mixing_bins((102, 96), 9, 9)[:, 2]
        block = simulate_block(particle, bruker, [30.0], offsets, bins)
        rows.append(("case B (D, K, angle), all 121 offsets: per offset",
                     f"{block.degrees.min()}-{block.degrees.max()}", block.rtol,
                     block.wall_time / 121, float("nan"), f"total {block.wall_time:.1f} s", block.steps // 121, None))

        start = time.perf_counter()
        m_scipy = scipy_baseline(particle, field, axis, auto_degree(particle, field.max_field()), 1e-4)
        wall_scipy = time.perf_counter() - start
        rows.append(("case B, scipy solve_ivp BDF (same operator)", auto_degree(particle, field.max_field()), 1e-4,
                     wall_scipy, np.abs(m_scipy - reference_b).max(), "MNPDynamics N=28", None, None))
        ratio = wall_scipy / rows[0][3]

    print()
    print(f"{'problem':<52} {'L':>5} {'rtol':>8} {'wall/solve':>11} {'max|Δm|':>9}  {'steps':>6} {'LUs':>5}  reference")
    for name, degree, rtol, wall, err, ref, steps, lus in rows:
        print(f"{name:<52} {degree!s:>5} {rtol:>8.1e} {wall:>10.3f}s {err:>9.1e}  "
              f"{steps or '':>6} {lus or '':>5}  {ref}")
    if not args.quick:
        print(f"\nspeed-up over scipy BDF on case B: {ratio:.1f}x")


if __name__ == "__main__":
    main()
