"""Calibration effort vs orientation-imaging accuracy: the model replacing most of a calibration.

    python benchmarks/calibration_effort.py            # run config/calibration/*.yaml in turn, then report
    python benchmarks/calibration_effort.py --no-run   # report existing runs

The reference (config/calibration/full.yaml) is a full measured calibration from the virtual
scanner in the record's layout: 12 easy-axis angles (12 sample mounts) × 11 × 11 offsets, an FFP
scanner's negative gradients stated in /calibration/positions, a two-component mixture, 40 dB, 72
phantoms spread over 80 % of the field of view. The reduced calibrations read 1–3 of its angles on
every second offset (6 × 6); the dictionary is fitted to them, the transfer function too, and the
model matrices are imaged on the full 11 × 11 grid at 12 angles (15°) or 36 angles (5°).

Prints one table: per calibration and system-matrix set the scans, sample mounts, dictionary
and model-matrix core-hours, the fitted answer (M1 entry, M3's largest weights; truth 0.7 × (22, 1100) +
0.3 × (20, 2000)) and the angle (bias, SD, MAE, p95, max) and
position errors (mean, p95, max, in mm and in pixels of the full 11 × 11 calibration).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNS = ("full", "angles3", "angles3_5deg", "angles2", "angles1")
#: the full calibration's pixel (x, y) in mm: offset steps 2.87 and 2.942 mT at 1 T/m
FULL_PIXEL_MM = (2.87 + 2.942) / 2


def run(name: str, cores: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "snakemake", "--cores", cores, "--configfile",
                    str(REPO / "config" / "calibration" / f"{name}.yaml")], cwd=REPO, check=True)
    return time.perf_counter() - start


def core_hours(root: Path, rule: str) -> float:
    """Σ CPU time over a rule's Snakemake benchmark files, in hours."""
    total = 0.0
    for tsv in root.glob(f"benchmarks/{rule}/*.tsv"):
        with open(tsv) as f:
            rec = next(csv.DictReader(f, delimiter="\t"))
        total += float(rec["cpu_time"]) if rec.get("cpu_time") not in (None, "", "NA") else float(rec["s"])
    return total / 3600


def report(names) -> None:
    from mpisweep.steps.orientation.model_matrices import model_angles, model_sweep
    from mpisweep.sweep import Sweep

    print("| calibration | scans | mounts | dictionary core-h | model matrices core-h | M1 (D nm, K J/m³) | "
          "M3 largest weights | matrices | angle bias (°) | SD (°) | MAE (°) | p95 (°) | max (°) | "
          "position mean (mm / px) | p95 (mm) | max (mm) |")
    print("|" + "---|" * 16)
    for name in names:
        sweep = Sweep.load(REPO / "config" / "calibration" / f"{name}.yaml")
        root = REPO / sweep.output
        if not (root / "orientation" / "summary.csv").exists():
            print(f"| {name} | (not run) |" + " |" * 14)
            continue
        scans = len(sweep.angles) * sweep.offset_grid.nx * sweep.offset_grid.ny
        fits = json.loads((root / "fits" / "summary.json").read_text())
        m1 = f"({fits['M1']['best_diameter']:g}, {fits['M1']['best_anisotropy']:g})"
        best = min(fits["M3"], key=lambda r: r["eps_global"])["largest_weights"][:2]
        m3 = ", ".join(f"{r['weight']:.3f} ({r['diameter']:g}, {r['anisotropy']:g})" for r in best)
        for row in csv.DictReader(open(root / "orientation" / "summary.csv")):
            v = {k: float(x) for k, x in row.items() if k != "model"}
            if row["model"] == "measured":
                grid = f"measured {len(sweep.angles)} × {sweep.offset_grid.nx}²"
            else:
                g = model_sweep(sweep).offset_grid
                grid = f"{row['model']} {len(model_angles(sweep))} × {g.nx}²"
            print(f"| {name} | {scans} | {len(sweep.angles)} | {core_hours(root, 'simulate'):.3f} | "
                  f"{core_hours(root, 'model_matrices'):.3f} | {m1} | {m3} | "
                  f"{grid} | {v['angle_bias_deg']:+.2f} | {v['angle_sd_deg']:.2f} | {v['angle_mae_deg']:.2f} | "
                  f"{v['angle_p95_deg']:.2f} | {v['angle_max_deg']:.2f} | {v['position_mean_mm']:.2f} / "
                  f"{v['position_mean_mm'] / FULL_PIXEL_MM:.2f} | {v['position_p95_mm']:.2f} | "
                  f"{v['position_max_mm']:.2f} |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--no-run", action="store_true", help="only report existing runs")
    p.add_argument("--cores", default="all")
    p.add_argument("runs", nargs="*", default=list(RUNS), help=f"which of {RUNS} (default all, in this order)")
    args = p.parse_args(argv)
    sys.path.insert(0, str(REPO / "src"))
    if not args.no_run:
        for name in args.runs:
            print(f"{name}: {run(name, args.cores):.0f} s", flush=True)
    report(args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
