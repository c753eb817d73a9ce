"""Cost of a sweep grid (default: the paper's): a stratified per-solve cost table and the projected core-hours.

A stratified sample of (D, K) blocks (D 14-28 nm × K 100-9000 J/m³; --quick: 3 × 3) gets a few
solves each at (angle, offset) points drawn from the sweep's grid (seed 0), through solve() at the
sweep's settings (automatic L per offset, default rtol), single core. The table shows s/solve and
the L used. The cost of every block of the grid is then interpolated in log(s/solve) over the
sampled (D, K) (bilinear, clamped outside the sample) and multiplied by the block's number of
solves: all angles × offsets without symmetry, and with the mirror symmetry of physics.symmetry
(the pairs simulate_block derives instead of solving, counted with each block's own L per offset).
Without --quick each sampled solve is also compared with a tighter one (rtol/10, L + 4): max|Δ<m>|.

The stability check of the spectrum (once per block and degree) is not counted; on a shared
machine timings scatter by ±30 %.

Run: make bench-grid   (or .venv/bin/python benchmarks/grid.py [--quick] [--config config/paper.yaml])
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from mpisweep.physics.operator import easy_axis_vector  # noqa: E402
from mpisweep.physics.params import Particle  # noqa: E402
from mpisweep.physics.solver import auto_degree, solve  # noqa: E402
from mpisweep.physics.symmetry import mirror_symmetry, partner_table, solve_plan  # noqa: E402
from mpisweep.sweep.config import Sweep  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_D = (14, 18, 22, 26, 28)  # nm
SAMPLE_K = (100, 1000, 2500, 4500, 6500, 9000)  # J/m³
QUICK_D = (14, 22, 28)
QUICK_K = (100, 4500, 9000)


def block_degrees(sweep: Sweep, particle: Particle, max_fields: np.ndarray) -> np.ndarray:
    """Truncation degree per offset (offset_y, offset_x), as simulate_block chooses it."""
    if sweep.solver.degree is not None:
        return np.full(max_fields.shape, int(sweep.solver.degree))
    return np.vectorize(lambda b: auto_degree(particle, b))(max_fields)


def solves_per_block(sweep: Sweep, degrees: np.ndarray, symmetry: bool) -> int:
    """Number of solves simulate_block makes for one block (the derived mirror partners not counted)."""
    total = len(sweep.angles) * degrees.size
    mirror = mirror_symmetry(sweep.excitation, sweep.offsets) if symmetry else None
    if mirror is None:
        return total
    source = solve_plan(partner_table(mirror, sweep.easy_axes, sweep.offsets, degrees))
    return int(np.count_nonzero(source == np.arange(source.size)))


def sample_block(sweep, d_nm, k, max_fields, rng, count, accuracy):
    """(mean s/solve, [L], worst max|Δ<m>| against a tighter solve or nan) of `count` solves."""
    particle = sweep.particle(d_nm, k)
    degrees = block_degrees(sweep, particle, max_fields)
    rtol = sweep.solver_rtol(particle)
    offsets = sweep.offsets
    walls, used, errors = [], [], []
    for _ in range(count):
        angle = float(rng.choice(sweep.angles))
        iy, ix = int(rng.integers(offsets.shape[0])), int(rng.integers(offsets.shape[1]))
        field = sweep.excitation.with_offset(offsets[iy, ix])
        axis = easy_axis_vector(angle)
        L = int(degrees[iy, ix])
        start = time.perf_counter()
        res = solve(particle, field, axis, degree=L, rtol=rtol, check=False)
        walls.append(time.perf_counter() - start)
        used.append(L)
        if accuracy:
            tight = solve(particle, field, axis, degree=L + 4, rtol=rtol / 10, check=False)
            errors.append(float(np.abs(res.moment - tight.moment).max()))
    return float(np.mean(walls)), used, (max(errors) if errors else float("nan"))


def interpolate_log(ds, ks, table, d, k):
    """exp of the bilinear interpolation of log(table) over (ds, ks), clamped at the edges."""
    logs = np.log(table)
    along_k = np.array([np.interp(k, ks, row) for row in logs])
    return float(np.exp(np.interp(d, ds, along_k)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 × 3 blocks, one solve each, no accuracy check")
    parser.add_argument("--config", default=str(ROOT / "config" / "paper.yaml"))
    parser.add_argument("--per-block", type=int, default=None, help="solves per sampled block (default 3; quick 1)")
    parser.add_argument("--no-accuracy", action="store_true", help="time only: skip the tighter comparison solves")
    args = parser.parse_args()
    sweep = Sweep.load(args.config)
    sample_d, sample_k = (QUICK_D, QUICK_K) if args.quick else (SAMPLE_D, SAMPLE_K)
    per_block = args.per_block or (1 if args.quick else 3)
    accuracy = not (args.quick or args.no_accuracy)
    rng = np.random.default_rng(0)
    max_fields = np.array([[sweep.excitation.with_offset(o).max_field() for o in row] for row in sweep.offsets])

    solve(Particle(18e-9, 1000.0), sweep.excitation, easy_axis_vector(0.0), rtol=1e-4)  # compile / load cache
    cost = np.zeros((len(sample_d), len(sample_k)))
    cells = {}
    for i, d in enumerate(sample_d):
        for j, k in enumerate(sample_k):
            wall, used, err = sample_block(sweep, d, k, max_fields, rng, per_block, accuracy)
            cost[i, j] = wall
            sigma = sweep.particle(d, k).sigma
            span = f"{min(used)}" if min(used) == max(used) else f"{min(used)}-{max(used)}"
            cells[d, k] = (wall, span, err, sigma)

    print(f"\ns/solve (L) at the sweep's settings, {per_block} solve(s) per block, single core"
          + ("; [max|Δ<m>| vs rtol/10, L+4]" if accuracy else ""))
    print("D \\ K [J/m³] " + "".join(f"{k:>22}" for k in sample_k))
    for d in sample_d:
        line = "".join(f"{f'{w:.3f} ({s})' + (f' [{e:.0e}]' if accuracy else ''):>22}"
                       for w, s, e, _ in (cells[d, k] for k in sample_k))
        print(f"{d:>4} nm      {line}")

    # Projection over the sweep's grid.
    hours = {True: 0.0, False: 0.0}
    heaviest = {True: (0.0, ""), False: (0.0, "")}
    solves_total = {True: 0, False: 0}
    plans = {}
    for name, d, k in sweep.blocks:
        per_solve = interpolate_log(sample_d, sample_k, cost, d, k)
        degrees = block_degrees(sweep, sweep.particle(d, k), max_fields)
        key = degrees.tobytes()
        if key not in plans:
            plans[key] = {s: solves_per_block(sweep, degrees, s) for s in (False, True)}
        for sym, n in plans[key].items():
            h = per_solve * n / 3600
            hours[sym] += h
            solves_total[sym] += n
            if h > heaviest[sym][0]:
                heaviest[sym] = (h, name)
    nblocks = len(sweep.blocks)
    per = len(sweep.angles) * sweep.offsets.shape[0] * sweep.offsets.shape[1]
    mirror = mirror_symmetry(sweep.excitation, sweep.offsets)
    print(f"\nprojected grid cost ({nblocks} blocks × {per} rows = {nblocks * per:,} rows; {args.config}):")
    labels = {False: "every row solved", True: f"mirror symmetry ({mirror.axis if mirror else 'does not hold'})"}
    for sym, label in labels.items():
        print(f"  {label:<32} {solves_total[sym]:>10,} solves  {hours[sym]:8.1f} core-hours"
              f"  (heaviest block {heaviest[sym][1]}: {heaviest[sym][0]:.2f} h)")
    if hours[True] > 0:
        print(f"  saving: {hours[False] / hours[True]:.2f}x")


if __name__ == "__main__":
    main()
