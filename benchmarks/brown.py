"""Brownian rotation (model "brown"): truncation rule, time-integration error, periodicity, cost; prints tables.

1. Static limit: for each L, the largest ξ at which the operator's stationary state
   (Operator.equilibrium_state) gives the Langevin moment L(ξ) to ≤ 1e-5 (bisection).
2. Dynamic cases (core D 14-28 nm, D_h from D to 100 nm, the Bruker 2D drive with offsets across
   the ±14.35/±14.71 mT grid, and 1D drives): max|Δ<m>| over the cycle against a reference at
   L_ref = (static need) + 6 and rtol 1e-8; the smallest L with error ≤ 1e-5.
3. The smallest rule L = ⌈a·√ξ − b⌉ (a, b on a 0.1 grid, L ≥ 4) meeting every need of 1 and 2,
   then per case: the error at the rule's L and at L − 1 (rtol 1e-8), the time-integration error
   at the default rtol, 3e-5 and 1e-5 (same L, against rtol 1e-8), the total error at the default
   rtol and at 1e-5 (against the reference), and the cycles the periodicity check ran.
4. Periodicity: D = 22 nm, Bruker drive, D_h 22-200 nm: cycles, residual, and the error of the
   returned cycle against a long warm-up (40 τ_B) at the same L and rtol 1e-8, at the default rtol and
   at 1e-5; the transient left by the default warm-up (rtol 1e-8), and by a 12 τ_B warm-up (rtol 1e-5).
5. Cost: D = 22 nm, D_h = 30, 60, 100 nm, offset 0 and the corner offset; best of 3 solves
   (automatic L, the default rtol and 1e-5, check=False as the sweep runs it), single process.

Run: .venv/bin/python benchmarks/brown.py [--quick]   (about 2 minutes on 2 cores; --quick: ~30 s)
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from mpisweep.physics.equilibrium import langevin  # noqa: E402
from mpisweep.physics.excitation import Excitation  # noqa: E402
from mpisweep.physics.moment import solve  # noqa: E402
from mpisweep.physics.operator import build_operator  # noqa: E402
from mpisweep.physics.params import BrownParticle  # noqa: E402
from mpisweep.physics.solver import BROWN_DEGREE_OFFSET, BROWN_DEGREE_SLOPE, MIN_DEGREE, default_rtol  # noqa: E402

TARGET = 1e-5  # truncation error the rule must keep
NM, MT = 1e-9, 1e-3
BRUKER = ((12.59e-3, 13.55e-3), (102, 96), 2.5e6)


def bruker(ox=0.0, oy=0.0):
    return Excitation(*BRUKER, offset=(ox * MT, oy * MT))


# (label, D nm, D_h nm, excitation); quick marks the --quick subset
CASES = [
    ("Bruker, 0", 14, 14, bruker(), False),
    ("Bruker, (14.35, -14.71)", 14, 30, bruker(14.35, -14.71), False),
    ("Bruker, (-14.35, 0)", 18, 18, bruker(-14.35, 0), False),
    ("Bruker, (7.18, 7.36)", 18, 50, bruker(7.175, 7.355), False),
    ("Bruker, (14.35, 14.71)", 20, 20, bruker(14.35, 14.71), False),
    ("Bruker, 0", 22, 22, bruker(), True),
    ("Bruker, (5, -3)", 22, 22, bruker(5, -3), False),
    ("Bruker, (14.35, -14.71)", 22, 30, bruker(14.35, -14.71), False),
    ("Bruker, (0, 14.71)", 22, 60, bruker(0, 14.71), False),
    ("Bruker, (-14.35, -14.71)", 22, 100, bruker(-14.35, -14.71), True),
    ("Bruker, (-14.35, 14.71)", 25, 25, bruker(-14.35, 14.71), False),
    ("Bruker, (14.35, 0)", 25, 80, bruker(14.35, 0), False),
    ("Bruker, (14.35, -14.71)", 28, 28, bruker(14.35, -14.71), True),
    ("Bruker, 0", 28, 40, bruker(), False),
    ("Bruker, (14.35, -14.71)", 28, 100, bruker(14.35, -14.71), False),
    ("1D 12 mT 25 kHz (case A)", 20, 20, Excitation((12e-3,), (100,), 2.5e6, samples=1000), True),
    ("1D 12 mT 1 kHz + 14.35 mT x", 25, 25, Excitation((12e-3,), (2500,), 2.5e6, offset=(14.35e-3, 0.0),
                                                        samples=500), False),
    ("1D 12 mT 25 kHz + 14.35 mT y", 28, 60, Excitation((12e-3,), (100,), 2.5e6, offset=(0.0, 14.35e-3),
                                                         samples=1000), False),
]


def rule(a, b, xi):
    return max(MIN_DEGREE, math.ceil(a * math.sqrt(xi) - b))


def static_error(op, xi):
    """max |<m>_L − L(ξ) e_z| of the operator's stationary state for a field along z."""
    m = op.mean_moment(op.equilibrium_state(np.array([0.0, 0.0, xi / op.particle.beta])))
    return max(abs(m[2] - float(langevin(xi))), abs(m[0]), abs(m[1]))


def static_thresholds(degrees):
    """For each L, the largest ξ with |<m>_L − L(ξ)| ≤ TARGET (the error grows with ξ at fixed L; bisection).

    The rule must then give at least L + 1 above that ξ: a·√ξ_L − b ≥ L.
    """
    p = BrownParticle(22 * NM, 30 * NM)  # the stationary state depends on ξ only
    out = {}
    for L in degrees:
        op = build_operator(p, L)
        lo, hi = 1e-3, 1.0
        while static_error(op, hi) <= TARGET:
            lo, hi = hi, 2 * hi
        while hi / lo > 1 + 1e-4:
            mid = math.sqrt(lo * hi)
            lo, hi = (mid, hi) if static_error(op, mid) <= TARGET else (lo, mid)
        out[L] = lo
    return out


class Case:
    def __init__(self, label, d, dh, excitation):
        self.label, self.excitation = label, excitation
        self.particle = BrownParticle(d * NM, dh * NM)
        self.xi = self.particle.beta * excitation.max_field()
        self.cache = {}

    def run(self, degree, rtol, **kw):
        key = (degree, rtol, tuple(sorted(kw.items())))
        if key not in self.cache:
            self.cache[key] = solve(self.particle, self.excitation, model="brown", degree=degree, rtol=rtol,
                                    check=False, max_degree=None, **kw)
        return self.cache[key]

    def error(self, degree, rtol=1e-8):
        return float(np.abs(self.run(degree, rtol).moment - self.reference.moment).max())

    def measure_need(self, start):
        """Smallest L with error ≤ TARGET (scanning down from `start`, or up if `start` fails)."""
        self.ref_degree = start + 6
        self.reference = self.run(self.ref_degree, 1e-8)
        L = start
        if self.error(L) > TARGET:
            while self.error(L) > TARGET:
                L += 1
            self.need = L
            return
        while L > 2 and self.error(L - 1) <= TARGET:
            L -= 1
        self.need = L


def fit(thresholds, needs):
    """The rule ⌈a√ξ − b⌉ (a, b on a 0.1 grid) with the smallest Σ L over ξ = 0.5-60 that meets every bound.

    Static: a·√ξ_L − b ≥ L for each threshold ξ_L (so L + 1 above it); dynamic: ⌈a√ξ − b⌉ ≥ need.
    """
    dense = np.geomspace(0.5, 60, 200)
    best = None
    for a in np.round(np.arange(2.5, 4.51, 0.1), 2):
        for b in np.round(np.arange(-2.0, 3.01, 0.1), 2):
            if all(a * math.sqrt(xi) - b >= L - 1e-9 for L, xi in thresholds.items() if L + 1 > MIN_DEGREE) \
                    and all(rule(a, b, xi) >= n for xi, n in needs):
                cost = sum(rule(a, b, xi) for xi in dense)
                if best is None or cost < best[0]:
                    best = (cost, a, b)
    return best[1], best[2]


def best_of(repeats, fn):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 dynamic cases, a coarse static scan, no D_h > 150 nm")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    t_start = time.perf_counter()
    print(f"load: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs")
    solve(BrownParticle(22 * NM, 30 * NM), bruker(), model="brown")  # compile / load the numba cache

    # 1. static limit
    degrees = range(2, 26) if args.quick else range(2, 61)  # 60: the solver's max_degree
    thresholds = static_thresholds(degrees)
    print(f"\n1. Static limit: the largest ξ_L at which L still gives |<m>_L − L(ξ)| ≤ {TARGET:g}")
    for chunk in range(degrees.start, degrees.stop, 20):
        part = [L for L in degrees if chunk <= L < chunk + 20]
        print("   L:    " + " ".join(f"{L:>5d}" for L in part))
        print("   ξ_L:  " + " ".join(f"{thresholds[L]:>5.3g}" for L in part))
        print("   √ξ_L: " + " ".join(f"{math.sqrt(thresholds[L]):>5.2f}" for L in part))

    def static_need_at(xi):
        return min([L for L in degrees if thresholds[L] >= xi] or [max(degrees) + 1])

    # 2. dynamic cases
    cases = [Case(label, d, dh, ex) for label, d, dh, ex, quick in CASES if quick or not args.quick]
    for c in cases:
        c.measure_need(max(3, static_need_at(c.xi)))

    # 3. fit and per-case table
    a, b = fit(thresholds, [(c.xi, c.need) for c in cases])
    print(f"\n   fitted rule: L = max({MIN_DEGREE}, ⌈{a:.1f}·√ξ − {b:.1f}⌉)   "
          f"(solver.py now: ⌈{BROWN_DEGREE_SLOPE}·√ξ − {BROWN_DEGREE_OFFSET}⌉)")
    rtol0 = default_rtol(0.0)
    print(f"\n2./3. Dynamic cases: errors max|Δ<m>| against rtol 1e-8 at L_ref; default rtol {rtol0:g}")
    head = (f"{'case':<30} {'D':>3} {'D_h':>4} {'τ_B µs':>7} {'ξ_max':>6} {'need':>4} {'L':>3} {'err L':>8} "
            f"{'err L−1':>8} {'L_ref':>5} {'int def':>8} {'int 3e-5':>8} {'int 1e-5':>8} {'total':>8} "
            f"{'tot 1e-5':>8} {'cycles':>8}")
    print(head)
    worst_total = worst_fine = 0.0
    for c in cases:
        L = rule(a, b, c.xi)
        default = c.run(L, rtol0)
        tight = c.run(L, 1e-8)
        mid, fine = c.run(L, 3e-5), c.run(L, 1e-5)
        integ = [float(np.abs(r.moment - tight.moment).max()) for r in (default, mid, fine)]
        total = float(np.abs(default.moment - c.reference.moment).max())
        total_fine = float(np.abs(fine.moment - c.reference.moment).max())
        worst_total = max(worst_total, total)
        worst_fine = max(worst_fine, total_fine)
        print(f"{c.label:<30} {c.particle.diameter / NM:>3.0f} {c.particle.hydrodynamic_diameter / NM:>4.0f} "
              f"{c.particle.tau * 1e6:>7.3g} {c.xi:>6.1f} {c.need:>4d} {L:>3d} {c.error(L):>8.1e} "
              f"{c.error(L - 1):>8.1e} {c.ref_degree:>5d} {integ[0]:>8.1e} {integ[1]:>8.1e} {integ[2]:>8.1e} "
              f"{total:>8.1e} {total_fine:>8.1e} {default.cycles:>2d}/{mid.cycles}/{fine.cycles}")
    print(f"   largest total error at the rule's L: {worst_total:.1e} at the default rtol, {worst_fine:.1e} at 1e-5; "
          "int: time-integration error at the rtol; cycles: run at the default rtol / 3e-5 / 1e-5")

    # 4. periodicity
    print("\n4. Periodicity: D = 22 nm, Bruker drive (T = 652.8 µs), automatic L; errors against a 40 τ_B "
          "warm-up at rtol 1e-8 (same L).\n   Solves at the default rtol and at 1e-5: cycles, residual, total "
          "error; 'transient': the default warm-up at rtol 1e-8; '12τ': a 12 τ_B warm-up at rtol 1e-5")
    print(f"{'D_h':>4} {'offset mT':>16} {'τ_B µs':>7} {'τ_B/T':>6} {'warm-up µs':>10} | {'cyc':>3} {'residual':>8} "
          f"{'total':>7} | {'cyc':>3} {'residual':>8} {'total':>7} | {'transient':>9} | {'12τ':>7} {'wall s':>6}")
    sizes = (22, 60, 100, 150) if args.quick else (22, 60, 100, 150, 200)
    for dh, off in [(dh, (0.0, 0.0)) for dh in sizes] + [(150, (14.35, -14.71))]:
        p = BrownParticle(22 * NM, dh * NM)
        ex = bruker(*off)
        res = solve(p, ex, model="brown", check=False)
        kw = dict(model="brown", degree=res.degree, check=False)
        fine = solve(p, ex, rtol=1e-5, **kw)
        long = solve(p, ex, warmup=40 * p.tau, rtol=1e-8, **kw)
        transient = solve(p, ex, rtol=1e-8, **kw)
        w12 = solve(p, ex, warmup=12 * p.tau, rtol=1e-5, **kw)
        errs = [float(np.abs(r.moment - long.moment).max()) for r in (res, fine, transient, w12)]
        warm = max(40e-6, 4 * p.tau)
        print(f"{dh:>4d} {str(off):>16} {p.tau * 1e6:>7.1f} {p.tau / ex.period:>6.2f} {warm * 1e6:>10.0f} | "
              f"{res.cycles:>3d} {res.periodicity:>8.1e} {errs[0]:>7.1e} | {fine.cycles:>3d} {fine.periodicity:>8.1e} "
              f"{errs[1]:>7.1e} | {errs[2]:>9.1e} | {errs[3]:>7.1e} {w12.wall_time:>6.3f}")

    # 5. cost
    print(f"\n5. Cost per solve (automatic L, check=False, single process, best of {args.repeats}), D = 22 nm, "
          f"at the default rtol {rtol0:g} and at 1e-5; load {os.getloadavg()[0]:.2f}")
    print(f"{'D_h':>4} {'τ_B µs':>7} {'offset mT':>16} {'L':>3} {'cycles':>6} {'steps':>6} {'LUs':>5} {'wall s':>7}"
          f"   {'cycles':>6} {'steps':>6} {'LUs':>5} {'wall s':>7}")
    for dh in (30, 60, 100):
        p = BrownParticle(22 * NM, dh * NM)
        for off in ((0.0, 0.0), (14.35, -14.71)):
            ex = bruker(*off)
            cols = []
            for rtol in (None, 1e-5):
                wall, res = best_of(args.repeats, lambda: solve(p, ex, model="brown", rtol=rtol, check=False))
                cols.append(f"{res.cycles:>6d} {res.stats['steps']:>6d} {res.stats['factorizations']:>5d} "
                            f"{wall:>7.3f}")
            print(f"{dh:>4d} {p.tau * 1e6:>7.1f} {str(off):>16} {res.degree:>3d} " + "   ".join(cols))
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
