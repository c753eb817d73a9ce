"""Orientation-imaging benchmark: the real experiment's layout with model-based and "measured" system matrices.

    python benchmarks/orientation.py            # run the workflow on config/orientation.yaml, then report
    python benchmarks/orientation.py --no-run   # report an existing run
    python benchmarks/orientation.py --timing   # also time the batched Kaczmarz (double, single) vs row by row

Prints, per system-matrix set, the angle error statistics (bias, SD, mean absolute error, 95th
percentile, maximum) and the position error in pixels against the targets (model-based:
MAE ≤ 2.1°, p95 ≤ 5°, position ≤ 0.5 px), and the wall time of each step from Snakemake's logs.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config" / "orientation.yaml"
TARGETS = {"angle_mae_deg": 2.1, "angle_p95_deg": 5.0, "position_mean_px": 0.5}


def run_workflow(cores: str) -> float:
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "snakemake", "--cores", cores,
           "--workflow-profile", str(REPO / "workflow/profiles/default"),
           "--configfile", str(CONFIG)]
    subprocess.run(cmd, cwd=REPO, check=True)
    return time.perf_counter() - start


def report(sweep) -> None:
    rows = list(csv.DictReader(open(sweep.layout.orientation_summary)))
    print(f"\n{len(rows)} system-matrix sets, {rows[0]['measurements']} single-sample phantoms each\n")
    print("| matrices | bias (°) | SD (°) | MAE (°) | p95 (°) | max (°) "
          "| position mean (px) | p95 (px) | max (px) | targets |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        v = {k: float(r[k]) for k in r if k not in ("model", "measurements")}
        met = "—" if r["model"] == "measured" else (
            "met" if all(v[k] <= t for k, t in TARGETS.items()) else
            "missed: " + ", ".join(f"{k} {v[k]:.2f} > {t}" for k, t in TARGETS.items() if v[k] > t))
        print(f"| {r['model']} | {v['angle_bias_deg']:+.2f} | {v['angle_sd_deg']:.2f} | {v['angle_mae_deg']:.2f} | "
              f"{v['angle_p95_deg']:.2f} | {v['angle_max_deg']:.2f} | {v['position_mean_px']:.2f} | "
              f"{v['position_p95_px']:.2f} | {v['position_max_px']:.2f} | {met} |")
    print("\nstep wall times (Snakemake benchmark files, s):")
    for tsv in sorted(sweep.layout.root.glob("benchmarks/*/*.tsv")):
        with open(tsv) as f:
            rec = next(csv.DictReader(f, delimiter="\t"))
        print(f"  {tsv.parent.name}/{tsv.stem}: {float(rec['s']):.1f} s, max RSS {float(rec['max_rss']):.0f} MB")


def timing(sweep, model: str = "measured", repeats: int = 2) -> None:
    """Batched Kaczmarz (double, single precision) for all phantoms vs the numba row-by-row loop (projected)."""
    from mpisweep.orientation.kaczmarz import kaczmarz, kaczmarz_batch
    from mpisweep.steps.orientation.reconstruct import Problem, measurements
    from mpisweep.steps.orientation.settings import chosen

    rec = sweep.orientation.reconstruction
    problem = Problem.load(sweep, model)
    system = problem.system(chosen(sweep.layout.reconstruction_settings(model))["setting"])
    A, lam = system.A, system.lam
    U = system.rows_of(measurements(sweep, problem.phantoms, problem.bins))
    sweeps = int(rec.iterations)
    print(f"\nKaczmarz timing: A {A.shape}, {U.shape[1]} measurements, {sweeps} sweeps (best of {repeats})")
    kaczmarz(A, U[:, 0], lam, 1)  # compile
    t = time.perf_counter()
    one = kaczmarz(A, U[:, 0], lam, sweeps)
    row = time.perf_counter() - t
    print(f"  row by row (numba), one measurement: {row:.2f} s → {row * U.shape[1]:.0f} s for all")
    results = {}
    for single in (False, True):
        best = np.inf
        for _ in range(repeats):
            t = time.perf_counter()
            results[single] = kaczmarz_batch(A, U, lam, sweeps, single=single)
            best = min(best, time.perf_counter() - t)
        diff = np.max(np.abs(results[single][:, 0] - one)) / np.max(one)
        print(f"  batched, {'single' if single else 'double'} precision: {best:.1f} s for all "
              f"({row * U.shape[1] / best:.0f}× the row loop); first column vs row loop {diff:.1e}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--no-run", action="store_true", help="only report an existing run")
    p.add_argument("--timing", action="store_true", help="also time the Kaczmarz variants")
    p.add_argument("--cores", default="all")
    p.add_argument("--repeats", type=int, default=2, help="timing: best of this many runs")
    args = p.parse_args(argv)
    sys.path.insert(0, str(REPO / "src"))
    from mpisweep.sweep import Sweep
    from mpisweep.sweep.layout import Layout

    if not args.no_run:
        print(f"workflow: {run_workflow(args.cores):.0f} s")
    # the config as Snakemake resolved it (config/config.yaml with config/orientation.yaml on top)
    output = REPO / Sweep.load(CONFIG).output
    resolved = Layout(str(output)).newest_resolved_config()
    if resolved is None:
        raise SystemExit(f"{output}: no resolved config (run the workflow first)")
    sweep = Sweep.read(resolved)
    report(sweep)
    if args.timing:
        timing(sweep, repeats=args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
