"""Periodic steady state for any τ/T: the validation table, and the references of tests/test_periodic.py.

Cases (CASES): a D = 22 nm Brownian particle in a 20 mT, 25 kHz drive (T = 40 µs) with τ_B/T from
1e-2 to 1e4 (hydrodynamic diameter 22-1000 nm, viscosity 1e-4 or 1e-3 Pa·s), two with a 5 mT drive
and a 10 mT offset; Néel particles of 24 nm with σ = 15, 20, 25 (K = σ k_B T/V) in 1-5 mT at 25 kHz,
easy axis at 30° to the drive, with and without offset. No offset: the half-cycle symmetry holds
exactly (Brown: m(t + T/2) = −m(t); Néel: the components in the plane of drive and easy axis flip,
the one normal to it does not, because precession is not odd under m → −m). Debye: the same
Brownian particles in a drive of ξ = 0.01, whose fundamental must be χ0·ξ/(1 + iωτ_B), χ0 = 1/3.

References (``--references`` writes tests/data/periodic_cases.csv and periodic_reference.csv):
* Brown: harmonic balance solved by a direct sparse LU (not the GMRES of physics.harmonic) at the
  automatic degree + 6, the mixing order raised by 8 until ⟨m⟩ moves by < 1e-13; checked against
  the same at degree + 8 and, where τ_B ≤ 1000 T, against a long relaxation in time (warm-up
  30 τ_B, rtol 1e-10, atol 1e-14, degree + 6).
* Néel: shooting integrated at rtol 1e-11 at the automatic degree + 6 (+ 10 with an offset), checked
  against shooting at rtol 1e-10 and degree + 4 (+ 8), and (offset cases) against the direct
  harmonic balance at the automatic degree (order 8), which shows the truncation error there.
The "check" column of periodic_cases.csv is the largest |Δ⟨m⟩| between a reference and its check.

The table: per case, τ/T (Brown: τ_B/T; Néel: −1/ln ρ of the predicted contraction), the error of
the default solve (method "auto") against the reference, absolute and relative to max|⟨m⟩|, the
method it chose, its cost (integrator steps, GMRES iterations, wall time best of 3) and the same
for method "relax" (the solver before: warm-up max(40 µs, 12 τ), then cycles until the end matches
the start to 1e-5; best of 1 where a solve takes more than 5 s).

Run: .venv/bin/python benchmarks/periodic.py [--references] [--quick]
(table ~3 min on 2 cores, most of it the old method at τ_B/T ≥ 1e3; --quick skips those; --references ~15 min)
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import scipy.sparse.linalg as spla  # noqa: E402

from mpisweep.physics import harmonic  # noqa: E402
from mpisweep.physics.excitation import Excitation  # noqa: E402
from mpisweep.physics.operator import build_operator, easy_axis_vector, rotation_to_easy_axis  # noqa: E402
from mpisweep.physics.params import KB, BrownParticle, Particle  # noqa: E402
from mpisweep.physics.solver import _assemble, _drive_numbers, auto_degree, solve  # noqa: E402

NM, MT = 1e-9, 1e-3
DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
CASES_CSV, REFERENCE_CSV = DATA / "periodic_cases.csv", DATA / "periodic_reference.csv"
DIVIDER = 100  # 2.5 MHz / 100 = 25 kHz, T = 40 µs, 100 samples per cycle
NEEL_D, NEEL_AXIS = 24.0, 30.0
DEBYE_XI = 0.01

# name, model, D nm, D_h nm, viscosity Pa·s, σ (Néel), drive mT, offset mT (along the drive)
CASES = [
    ("brown-r0.01", "brown", 22, 22, 1e-4, 0, 20, 0),
    ("brown-r0.1", "brown", 22, 22, 1e-3, 0, 20, 0),
    ("brown-r1", "brown", 22, 47, 1e-3, 0, 20, 0),
    ("brown-r10", "brown", 22, 100, 1e-3, 0, 20, 0),
    ("brown-r100", "brown", 22, 215, 1e-3, 0, 20, 0),
    ("brown-r1e3", "brown", 22, 465, 1e-3, 0, 20, 0),
    ("brown-r1e4", "brown", 22, 1000, 1e-3, 0, 20, 0),
    ("brown-r10-offset", "brown", 22, 100, 1e-3, 0, 5, 10),
    ("brown-r1e4-offset", "brown", 22, 1000, 1e-3, 0, 5, 10),
    ("neel-s15-5mT", "fp", NEEL_D, 0, 0, 15, 5, 0),
    ("neel-s20-3mT", "fp", NEEL_D, 0, 0, 20, 3, 0),
    ("neel-s25-1mT", "fp", NEEL_D, 0, 0, 25, 1, 0),
    ("neel-s25-5mT", "fp", NEEL_D, 0, 0, 25, 5, 0),
    ("neel-s20-3mT-offset", "fp", NEEL_D, 0, 0, 20, 3, 1),
    ("neel-s25-1mT-offset", "fp", NEEL_D, 0, 0, 25, 1, 0.5),
]
FIELDS = ("case", "model", "diameter_nm", "hydrodynamic_nm", "viscosity", "sigma", "drive_mT", "offset_mT")


def particle_of(row) -> Particle | BrownParticle:
    d = float(row["diameter_nm"]) * NM
    if row["model"] == "brown":
        return BrownParticle(d, float(row["hydrodynamic_nm"]) * NM, float(row["viscosity"]))
    volume = math.pi / 6 * d**3
    return Particle(d, float(row["sigma"]) * KB * 293.0 / volume)


def excitation_of(row) -> Excitation:
    return Excitation((float(row["drive_mT"]) * MT,), (DIVIDER,), 2.5e6, offset=(float(row["offset_mT"]) * MT, 0, 0))


def axis_of(row):
    return (1.0, 0.0, 0.0) if row["model"] == "brown" else easy_axis_vector(NEEL_AXIS)


def rows_of(cases):
    return [dict(zip(FIELDS, c)) for c in cases]


def harmonic_direct(particle, excitation, axis, degree, tol=1e-13, first=8, step=8, largest=400):
    """⟨m⟩(t) (lab) from harmonic balance solved by sparse LU, the order raised until ⟨m⟩ moves < tol."""
    rot = rotation_to_easy_axis(axis)
    op = build_operator(particle, degree)
    system = _assemble(op, [rot @ np.asarray(excitation.offset), *(excitation.drive_vectors @ rot.T)])
    active, numbers = _drive_numbers(excitation)
    n = op.size
    terms = [sp.csr_matrix((system.vals[q], system.indices.astype(np.int64), system.indptr.astype(np.int64)),
                           shape=(n, n)) for q in [0] + [a + 1 for a in active]]
    phases = np.asarray(excitation.phases)[active]
    i0 = int(np.flatnonzero(system.perm == 0)[0])
    w0 = 2 * np.pi / excitation.period
    previous, order = None, first
    while True:
        ks, _ = harmonic.harmonic_set(numbers, order)
        pos = {int(k): i for i, k in enumerate(ks)}
        blocks = [[None] * ks.size for _ in ks]
        for i, k in enumerate(ks):
            blocks[i][i] = terms[0] - 1j * k * w0 * sp.identity(n)
            for q, nq in enumerate(numbers):
                for sign in (1, -1):
                    j = pos.get(int(k) - sign * nq)
                    if j is not None:
                        extra = 0.5 * np.exp(sign * 1j * phases[q]) * terms[q + 1]
                        blocks[i][j] = extra if blocks[i][j] is None else blocks[i][j] + extra
        matrix = sp.bmat(blocks, format="lil", dtype=complex)
        row = pos[0] * n + i0
        matrix[row, :] = 0
        matrix[row, row] = 1.0
        rhs = np.zeros(ks.size * n, complex)
        rhs[row] = 1.0 / op.geometry.norm[0]
        coefficients = spla.splu(matrix.tocsc()).solve(rhs).reshape(ks.size, n)
        result = harmonic.HarmonicResult(ks, coefficients, order, 0, 0.0, 0.0, True)
        m, _ = harmonic.evaluate(result, system.w_moment, system.obs_idx, excitation.period, excitation.times)
        m = m @ rot
        if previous is not None and (np.abs(m - previous).max() < tol or order >= largest):
            return m
        previous, order = m, order + step


def reference(row, quick=False):
    """(reference ⟨m⟩, check ⟨m⟩, description): see the module docstring."""
    p, ex, axis = particle_of(row), excitation_of(row), axis_of(row)
    L = auto_degree(p, ex.max_field())
    if row["model"] == "brown":
        ref = harmonic_direct(p, ex, axis, L + 6)
        finer = harmonic_direct(p, ex, axis, L + 8)
        text = f"harmonic balance L+8: {np.abs(finer - ref).max():.1e}"
        if p.tau > 1000 * ex.period:
            return ref, finer, text
        relaxed = solve(p, ex, axis, degree=L + 6, rtol=1e-10, atol=1e-14, warmup=30 * p.tau, method="relax",
                        check=False).moment
        text += f"; relaxation 30 τ_B, rtol 1e-10, L+6: {np.abs(relaxed - ref).max():.1e}"
        worst = max((finer, relaxed), key=lambda m: np.abs(m - ref).max())
        return ref, worst, text
    extra = 10 if float(row["offset_mT"]) else 6  # an offset's slow balance converges slower in L (solver.py)
    ref = solve(p, ex, axis, degree=L + extra, rtol=1e-8, method="shooting", check=False).moment
    check = solve(p, ex, axis, degree=L + extra - 2, rtol=1e-7, method="shooting", check=False).moment
    text = f"shooting rtol 1e-10, L+{extra - 2}: {np.abs(check - ref).max():.1e}"
    if float(row["offset_mT"]) and not quick:
        direct = harmonic_direct(p, ex, axis, L, first=8, step=8, largest=8)
        text += f"; harmonic balance L, order 8: {np.abs(direct - ref).max():.1e}"
    return ref, check, text


def write_references(quick=False, only=None):
    table, samples = [], []
    if only:  # recompute these cases, keep the others from the files
        with open(CASES_CSV) as f:
            kept = [r for r in csv.DictReader(f) if r["case"] not in only]
        with open(REFERENCE_CSV) as f:
            old = [r for r in csv.DictReader(f) if r["case"] not in only]
        table = kept
        samples = [(r["case"], r["k"], r["t"], r["mx"], r["my"], r["mz"]) for r in old]
    for row in rows_of(CASES):
        if only and row["case"] not in only:
            continue
        start = time.perf_counter()
        ref, check, text = reference(row, quick)
        diff = float(np.abs(ref - check).max())
        p, ex = particle_of(row), excitation_of(row)
        table.append({**row, "tau_over_T": p.tau / ex.period, "max_m": float(np.abs(ref).max()),
                      "check": diff, "check_against": text})
        for k, (t, m) in enumerate(zip(ex.times, ref)):
            samples.append((row["case"], k, repr(float(t)), *(repr(float(x)) for x in m)))
        print(f"{row['case']:22s} max|m| {np.abs(ref).max():.4g}  check {diff:.1e} ({text})  "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    order = [c[0] for c in CASES]
    table.sort(key=lambda r: order.index(r["case"]))
    samples.sort(key=lambda r: (order.index(r[0]), int(r[1])))
    with open(CASES_CSV, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(table[0]))
        w.writeheader()
        w.writerows(table)
    with open(REFERENCE_CSV, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(("case", "k", "t", "mx", "my", "mz"))
        w.writerows(samples)


def load_references():
    with open(CASES_CSV) as f:
        cases = list(csv.DictReader(f))
    moments = {}
    with open(REFERENCE_CSV) as f:
        for r in csv.DictReader(f):
            moments.setdefault(r["case"], []).append([float(r["mx"]), float(r["my"]), float(r["mz"])])
    return cases, {k: np.array(v) for k, v in moments.items()}


def symmetry_violation(row, m):
    """max |m(t + T/2) − S m(t)|: S = −1 (Brown); Néel: −1 in the plane of drive and easy axis, +1 normal to it."""
    half = m.shape[0] // 2
    sign = np.array([-1.0, -1.0, -1.0 if row["model"] == "brown" else 1.0])
    return float(np.abs(m[half:] - sign * m[:half]).max())


def timed(fn, repeat):
    best, result = np.inf, None
    for _ in range(repeat):
        result = fn()
        best = min(best, result.wall_time)
        if result.wall_time > 5.0:
            break
    return result, best


def debye_fundamental(particle, method="auto"):
    ex = Excitation((DEBYE_XI / particle.beta,), (DIVIDER,), 2.5e6)
    res = solve(particle, ex, (1.0, 0.0, 0.0), method=method, check=False)
    n = ex.samples
    fundamental = 2 * np.mean(res.moment[:, 0] * np.exp(-2j * np.pi * np.arange(n) / n))
    omega_tau = 2 * np.pi * particle.tau / ex.period
    return fundamental / ((DEBYE_XI / 3) / (1 + 1j * omega_tau)) - 1, res


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--references", action="store_true", help="recompute tests/data/periodic_*.csv")
    parser.add_argument("--quick", action="store_true", help="skip the old method where it takes minutes")
    parser.add_argument("--only", nargs="+", help="with --references: recompute only these cases")
    args = parser.parse_args()
    if args.references:
        write_references(args.quick, args.only)
        return
    cases, refs = load_references()
    print("| case | τ/T | method | error | error / max|m| | symmetry | steps | GMRES | wall s "
          "| before: error | before: steps | before: wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in cases:
        p, ex, axis = particle_of(row), excitation_of(row), axis_of(row)
        ref = refs[row["case"]]
        scale = np.abs(ref).max()
        after, wall = timed(lambda: solve(p, ex, axis, check=False), 3)
        err = np.abs(after.moment - ref).max()
        ratio = p.tau / ex.period if row["model"] == "brown" else -1.0 / math.log(max(after.contraction, 1e-300))
        sym = symmetry_violation(row, after.moment) if float(row["offset_mT"]) == 0 else float("nan")
        if args.quick and row["model"] == "brown" and p.tau > 200 * ex.period:
            old = "| – | – | – |"
        else:
            before, bwall = timed(lambda: solve(p, ex, axis, check=False, method="relax"), 3)
            old = f"| {np.abs(before.moment - ref).max():.1e} | {before.stats['steps']} | {bwall:.3f} |"
        print(f"| {row['case']} | {ratio:.3g} | {after.method} | {err:.1e} | {err / scale:.1e} | {sym:.1e} "
              f"| {after.stats['steps']} | {after.stats.get('krylov', 0)} | {wall:.3f} {old}", flush=True)
    print()
    print("Cost target: D_h 1000 nm against 40 nm, 22 nm core, 20 mT at 25 kHz, same degree, best of 3")
    drive = Excitation((20e-3,), (DIVIDER,), 2.5e6)
    fast, fwall = timed(lambda: solve(BrownParticle(22 * NM, 40 * NM), drive, (1, 0, 0), check=False), 3)
    slow, swall = timed(lambda: solve(BrownParticle(22 * NM, 1000 * NM), drive, (1, 0, 0), degree=fast.degree,
                                      check=False), 3)
    for name, res, wall in (("D_h 40 nm", fast, fwall), ("D_h 1000 nm", slow, swall)):
        print(f"  {name}: {res.method}, L {res.degree}, {res.cycles} cycles, {res.stats['steps']} steps, "
              f"{res.stats.get('krylov', 0)} GMRES, {wall * 1e3:.1f} ms")
    print(f"  ratio of wall times {swall / fwall:.2f}")
    print()
    print("| Debye: τ_B/T | method | fundamental / Debye − 1 | steps | GMRES |")
    print("|---|---|---|---|---|")
    for row in rows_of(CASES):
        if row["model"] != "brown" or float(row["offset_mT"]):
            continue
        p = particle_of(row)
        rel, res = debye_fundamental(p)
        print(f"| {p.tau / (DIVIDER / 2.5e6):.3g} | {res.method} | {abs(rel):.1e} | {res.stats['steps']} "
              f"| {res.stats.get('krylov', 0)} |")


if __name__ == "__main__":
    main()
