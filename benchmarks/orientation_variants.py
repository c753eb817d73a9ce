"""Orientation imaging on data unlike the project's own writer's: the variants of benchmarks/variants/orientation/.

    python benchmarks/orientation_variants.py               # run every variant (Snakemake), then report
    python benchmarks/orientation_variants.py --no-run      # report finished runs
    python benchmarks/orientation_variants.py --compare     # also reconstruct the phantoms at every scored setting

Each variant is layered over config/orientation.yaml (the real experiment's 12 angles on 11 × 11
pixels) and differs in the receive chain and its delay, the calibration writer's SNR definition and
background frames, the phantoms' frames and background frames, the noise level (30–50 dB) and how
far the phantoms spread; every variant runs with the default (auto) reconstruction settings.

Printed per variant and system-matrix set: the setting chosen on held-out calibration scans, its
held-out angle MAE, and the phantoms' angle MAE / p95 and mean position error against the targets
(MAE ≤ 2.0°, p95 ≤ 4.5°, position ≤ 0.5 px, M3 no worse than M1). The MAE, the p95 and M3 − M1 (paired
over the same phantoms) carry 95 % bootstrap intervals over the phantoms: how far another draw of as
many phantoms could move them. With --compare, every setting the
search scored is also reconstructed on the phantoms: held-out against phantom MAE, their Spearman
rank correlation, the phantom MAE of the chosen setting against the best scored one, and the paper's
fixed setting (λ_rel 0.01, SNR ≥ 5, no weighting) for comparison.

Run: nice -n 5 .venv/bin/python benchmarks/orientation_variants.py [--cores 2] [--variant o1 …]
(about 10 minutes per variant on 2 cores).
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import bootstrap

REPO = Path(__file__).resolve().parents[1]
BASE = REPO / "config" / "orientation.yaml"
VARIANTS = sorted((REPO / "benchmarks" / "variants" / "orientation").glob("*.yaml"))
TARGETS = {"angle_mae_deg": 2.0, "angle_p95_deg": 4.5, "position_mean_px": 0.5}
PAPER = (0.01, 5.0, "none")


def run_workflow(variant: Path, cores: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "snakemake", "--cores", cores, "--configfile", str(BASE), str(variant)],
                   cwd=REPO, check=True)
    return time.perf_counter() - start


def resolved_sweep(variant: Path):
    """The config as Snakemake resolved it for `variant` (the newest resolved config in its output)."""
    import yaml

    from mpisweep.sweep import Sweep
    from mpisweep.sweep.layout import Layout

    output = REPO / yaml.safe_load(variant.read_text())["output"]
    config = Layout(str(output)).newest_resolved_config()
    if config is None:
        raise SystemExit(f"{output}: no resolved config (run the variant first)")
    return Sweep.read(config)


def describe(lam, threshold, weighting) -> str:
    return f"{float(lam):g} / {'all' if threshold in ('', None) else f'{float(threshold):g}'} / {weighting}"


def angle_errors(sweep, model: str) -> np.ndarray:
    """|angle error| in degrees of every phantom of one set's readout table."""
    with open(sweep.layout.readout(model), newline="") as f:
        return np.array([abs(float(r["angle_error_deg"])) for r in csv.DictReader(f)])


def interval(values: np.ndarray, statistic, draws: int = 20000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of statistic(values, axis=-1) over the phantoms."""
    ci = bootstrap((values,), statistic, n_resamples=draws, method="percentile", rng=np.random.default_rng(seed))
    return float(ci.confidence_interval.low), float(ci.confidence_interval.high)


def report(variant: Path, sweep) -> list[dict]:
    """The variant's rows of the table, each phantom statistic with its 95 % bootstrap interval over the phantoms
    (what another draw of as many phantoms could give), and M3 − M1 paired over the same phantoms."""
    rows = list(csv.DictReader(open(sweep.layout.orientation_summary)))
    errors = {r["model"]: angle_errors(sweep, r["model"]) for r in rows}
    for r in rows:
        v = {k: float(r[k]) for k in TARGETS}
        e = errors[r["model"]]
        mae_ci = interval(e, np.mean)
        p95_ci = interval(e, lambda x, axis: np.percentile(x, 95, axis=axis))
        r["met"] = "met" if all(v[k] <= t for k, t in TARGETS.items()) else "missed: " + ", ".join(
            f"{k.replace('_deg', '').replace('_px', '')} {v[k]:.2f}" for k, t in TARGETS.items() if v[k] > t)
        print(f"| {variant.stem} | {r['model']} | {describe(r['lambda_rel'], r['snr_threshold'], r['weighting'])} "
              f"| {float(r['heldout_angle_mae_deg']):.2f} | {float(r['angle_mae_deg']):.2f} "
              f"({mae_ci[0]:.2f}–{mae_ci[1]:.2f}) | {float(r['angle_p95_deg']):.2f} ({p95_ci[0]:.2f}–{p95_ci[1]:.2f}) "
              f"| {float(r['position_mean_px']):.2f} | {r['met']} |")
    if "M1" in errors and "M3" in errors:
        d = errors["M3"] - errors["M1"]
        lo, hi = interval(d, np.mean)
        print(f"|  | M3 − M1 | | | {d.mean():+.2f} ({lo:+.2f} to {hi:+.2f}) | | | "
              f"{'M3 no worse' if d.mean() <= 0 else 'M3 worse'} |")
    return rows


def compare(variant: Path, sweep, workers: int) -> None:
    """Every scored setting (and the paper's) reconstructed on the phantoms: held-out vs phantom MAE."""
    from scipy.stats import spearmanr

    from mpisweep.steps.orientation.reconstruct import Problem, read_phantoms, solve_phantoms
    from mpisweep.steps.orientation.settings import Setting, read_scores
    from mpisweep.steps.orientation.summary import scores as phantom_scores

    for model in sweep.orientation.models:
        problem = Problem.load(sweep, model, log=lambda m: None)
        table = [r for r in read_scores(sweep.layout.reconstruction_settings(model)) if np.isfinite(r["angle_mae_deg"])]
        paper = Setting(*PAPER)
        settings = [r["setting"] for r in table] + ([paper] if paper not in [r["setting"] for r in table] else [])
        phantom = {}
        for s in settings:
            images, _, _ = solve_phantoms(problem, s, workers=workers)
            phantom[s] = phantom_scores(read_phantoms(problem, images))
        print(f"\n{variant.stem}, {model}: setting (λ_rel / threshold / weighting) | held-out MAE | phantom MAE | "
              "phantom p95 | position px")
        for r in table:
            p = phantom[r["setting"]]
            mark = " ← chosen" if r["chosen"] else ""
            print(f"  {describe(r['setting'].lambda_rel, r['setting'].snr_threshold, r['setting'].weighting):24s} "
                  f"| {r['angle_mae_deg']:5.2f} | {p['angle_mae_deg']:5.2f} | {p['angle_p95_deg']:5.2f} | "
                  f"{p['position_mean_px']:.2f}{mark}")
        if paper not in [r["setting"] for r in table]:
            p = phantom[paper]
            print(f"  {describe(*PAPER):24s} |   —   | {p['angle_mae_deg']:5.2f} | {p['angle_p95_deg']:5.2f} | "
                  f"{p['position_mean_px']:.2f} (the paper's, not scored)")
        held = [r["angle_mae_deg"] for r in table]
        ph = [phantom[r["setting"]]["angle_mae_deg"] for r in table]
        chosen = next(phantom[r["setting"]]["angle_mae_deg"] for r in table if r["chosen"])
        rho = spearmanr(held, ph).statistic if len(table) > 2 else float("nan")
        print(f"  Spearman ρ(held-out, phantoms) = {rho:.2f} over {len(table)} settings; chosen {chosen:.2f}° "
              f"against the best scored {min(ph):.2f}° and the paper's {phantom[paper]['angle_mae_deg']:.2f}°")


def matrix_errors(variant: Path, sweep) -> None:
    """How far each set's matrices are from the virtual scanner's noise-free calibration, on the rows its
    reconstruction used, within the fitted bins and beyond them."""
    from mpisweep.steps.measurement.virtual_scanner import noise_free_calibration
    from mpisweep.steps.orientation.reconstruct import Problem
    from mpisweep.steps.orientation.settings import chosen

    truth_all, _ = noise_free_calibration(sweep)
    fitted = set(int(k) for k in sweep.bin_indices)
    print(f"\n{variant.stem}: ‖S − S_true‖ / ‖S_true‖ on the rows each set used (noise-free virtual calibration)")
    print("| matrices | rows | all rows | fitted bins | other bins | transfer function |")
    print("|---|---|---|---|---|---|")
    for model in sweep.orientation.models:
        problem = Problem.load(sweep, model, log=lambda m: None)
        truth = truth_all[:, :, problem.bins].reshape(problem.cal.shape)
        if problem.matrices.shape != truth.shape:
            print(f"| {model} | matrices on another grid: not compared |")
            continue
        system = problem.system(chosen(sweep.layout.reconstruction_settings(model))["setting"])
        ch, k = system.channel, system.k
        diff = problem.matrices[:, ch, k] - truth[:, ch, k]
        in_fit = np.array([int(problem.bins[i]) in fitted for i in k])

        def rel(mask):
            return (np.linalg.norm(diff[:, mask]) / np.linalg.norm(truth[:, ch, k][:, mask])) if mask.any() else np.nan

        tf = "—"
        if model != "measured":
            from mpisweep.steps.orientation.model_matrices import read_model

            ds = read_model(sweep, model)
            a = ds["transfer_function"].sel(frequency=problem.bins).values
            tf = f"|a| from {np.abs(a).min():.3g} to {np.abs(a).max():.3g}"
        print(f"| {model} | {len(k)} | {rel(np.ones(len(k), bool)):.4f} | {rel(in_fit):.4f} | {rel(~in_fit):.4f} "
              f"| {tf} |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--no-run", action="store_true", help="only report finished runs")
    p.add_argument("--compare", action="store_true", help="also reconstruct the phantoms at every scored setting")
    p.add_argument("--matrices", action="store_true", help="also each set's distance from the noise-free calibration")
    p.add_argument("--variant", action="append", help="a variant's name prefix (o1, o2, …; default all)")
    p.add_argument("--cores", default="all")
    p.add_argument("--jobs", type=int, default=2, help="--compare: processes per reconstruction")
    args = p.parse_args(argv)
    sys.path.insert(0, str(REPO / "src"))
    chosen = [v for v in VARIANTS if not args.variant or any(v.stem.startswith(n) for n in args.variant)]
    if not args.no_run:
        for v in chosen:
            print(f"{v.stem}: workflow {run_workflow(v, args.cores):.0f} s", flush=True)
    print("\n| variant | matrices | chosen λ_rel / threshold / weighting | held-out MAE (°) | MAE (°) (95 % interval) "
          "| p95 (°) (95 % interval) | position (px) | targets |")
    print("|---|---|---|---|---|---|---|---|")
    sweeps = {v: resolved_sweep(v) for v in chosen}
    for v in chosen:
        report(v, sweeps[v])
    if args.matrices:
        for v in chosen:
            matrix_errors(v, sweeps[v])
    if args.compare:
        for v in chosen:
            compare(v, sweeps[v], args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
