"""Coarse-to-fine against the full grid, in the same run, on a grid affordable here; and the paper projection.

    python benchmarks/refine_validation.py [--workers 2] [--steps 3,3 7,9] [--thresholds 0.02 0.05]

The validation grid (config/refine/validation.yaml): 8 diameters × 10 anisotropies (σ from 0.04 to 26),
4 angles, 5 × 5 offsets. Every block is simulated once (the full grid; resumable: finished blocks are
kept under results/refine-validation/grid); three virtual mixtures are measured (truth at low σ, at
high σ, and a two-component mixture across both). For each mixture the full grid is fitted (M1 and
M3; the rounds fit M2 too and refine around its weights), and the coarse-to-fine rounds of
mpisweep.steps.refine are run on the same shards, for each coarse step given: only the blocks a
round asks for are read, and the core-seconds of a run are the measured wall times (markers) of
the blocks it used. Printed per mixture and coarse step: rounds, blocks, core-seconds against the
full grid's, the floor (the least any refined run simulates: the grid's corners, which round 0
always has, and the full grid's M1 entry with its neighbours, which a run needs before it stops), M1
of both, the largest M3 weight difference and the relative difference of M1's best ε_global.

With --screening A,O (multi-fidelity rounds, refine.screening; --swap-margin m sets its swap_margin): the
whole grid is also screened at A angles × O × O offsets (under results/refine-validation/grid/screening,
resumable), and the multi-fidelity rounds run for each mixture on the full grid's shards: round 0 fits the
screening level, the later rounds the full-fidelity candidates. Printed: blocks screened and at full
fidelity, core-seconds of each level and their sum against the full grid's, M1 of both and the largest M3
weight difference.

Then the projection for config/paper.yaml: the refinement's decisions replayed on the paper's grid
with the cost model of mpisweep.sweep.cost, around an answer at σ ≈ 1.5 (where M1 sits on the
paper's data) with M3's weight on the best entry and two neighbours, against the full grid's cost
by the same model.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from mpisweep.fitting import fit_m1, fit_m3  # noqa: E402
from mpisweep.steps.dictionary.simulate import simulate_shard  # noqa: E402
from mpisweep.steps.measurement.virtual_scanner import simulate_component, virtual_scanner  # noqa: E402
from mpisweep.steps.refine.rounds import entry_names, partial_dictionary, refine_round  # noqa: E402
from mpisweep.steps.refine.screening import screen_chunk  # noqa: E402
from mpisweep.sweep import Sweep, cost  # noqa: E402
from mpisweep.sweep import measured as measurement  # noqa: E402
from mpisweep.sweep.config import without_foreign_defaults  # noqa: E402
from mpisweep.sweep.refine import RefineSettings, coarse_grid, neighbours, next_entries, spacing  # noqa: E402

ROOT = REPO / "results" / "refine-validation"
MIXTURES = {
    "low σ (18 nm, 1000 J/m³: σ = 0.8)": [{"diameter": 18, "anisotropy": 1000, "weight": 1.0}],
    "high σ (26 nm, 4500 J/m³: σ = 10)": [{"diameter": 26, "anisotropy": 4500, "weight": 1.0}],
    "two components across both": [{"diameter": 18, "anisotropy": 1000, "weight": 0.6},
                                   {"diameter": 26, "anisotropy": 4500, "weight": 0.4}],
}


def config(output: Path, components=None, refine=None) -> dict:
    """config/refine/validation.yaml merged over config/config.yaml, as the Snakefile merges it."""
    def merge(a, b):
        for k, v in b.items():
            a[k] = merge(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
        return a

    own = yaml.safe_load((REPO / "config" / "refine" / "validation.yaml").read_text())
    cfg = merge(copy.deepcopy(yaml.safe_load((REPO / "config" / "config.yaml").read_text())), own)
    cfg = without_foreign_defaults(cfg, [own])
    cfg["output"] = str(output)
    if components:
        cfg["measurement"]["virtual"]["components"] = components
    if refine:
        cfg["refine"] = refine
    return cfg


def _simulate(args):
    cfg, d, k = args
    simulate_shard(Sweep.load(cfg), d, k, progress=False)
    return d, k


def simulate_grid(cfg: dict, workers: int) -> None:
    sweep = Sweep.load(cfg)
    todo = [(cfg, d, k) for name, d, k in sweep.blocks if not sweep.layout.marker(name).exists()]
    print(f"full grid: {len(sweep.blocks)} blocks, {len(todo)} to simulate", flush=True)
    if todo:  # numba compiles (~30 s) in the first solve of an empty cache: once, here, outside the blocks' times
        with tempfile.TemporaryDirectory() as tmp:
            simulate_shard(sweep, *todo[0][1:], shard=Path(tmp) / "warm.zarr", marker=Path(tmp) / "warm.json",
                           progress=False)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        for i, (d, k) in enumerate(pool.map(_simulate, todo), 1):
            print(f"  {i}/{len(todo)} D={d:g} K={k:g} ({time.perf_counter() - t0:.0f} s)", flush=True)


def measure(cfg_grid: dict, name: str, components: list) -> Sweep:
    """The mixture's virtual measurement in its own folder, its dictionary the grid's shards (linked)."""
    out = ROOT / name.split(" ")[0].replace("σ", "sigma")
    sweep = Sweep.load(config(out, components))
    grid = Sweep.load(cfg_grid)
    sweep.layout.dictionary.mkdir(parents=True, exist_ok=True)
    for link, target in ((sweep.layout.shards, grid.layout.shards), (sweep.layout.markers, grid.layout.markers)):
        if not link.exists():
            link.symlink_to(target.resolve())
    files = []
    for comp_name, comp in sweep.components:
        path = sweep.layout.component(comp_name)
        if not path.exists():
            simulate_component(sweep, comp, path, progress=False)
        files.append(path)
    virtual_scanner(sweep, files)
    return sweep


def full_fit(sweep: Sweep) -> dict:
    fitted = measurement.fitted(sweep)  # the rows the rounds' fits (and the fit step) use
    measured, bins, rows = fitted.measured, fitted.bins, fitted.rows
    names = [n for n, _, _ in sweep.blocks]
    dictionary = partial_dictionary(sweep, names)
    r1 = fit_m1(measured, dictionary, bins, rows=rows)
    m3 = sweep.fit.m3
    r3 = fit_m3(measured, dictionary, bins, ranks=m3.ranks, l2=m3.l2, max_iter=m3.max_iter, tol=m3.tol, rows=rows)
    eps = np.asarray(r1.eps_global, float)
    best = tuple(int(v) for v in np.unravel_index(int(np.nanargmin(eps)), eps.shape))
    wall = {n: json.loads(sweep.layout.marker(n).read_text())["wall_time_s"] for n in names}
    # the least any refined run simulates: the grid's corners (round 0 always has them) and the answer's
    # neighbours (it stops only once they are in)
    floor = coarse_grid(eps.shape, (eps.shape[0] - 1, eps.shape[1] - 1)) | {best} | set(neighbours(best, eps.shape))
    return {"m1": (sweep.grids.diameters_nm[best[0]], sweep.parameter_values[best[1]]), "eps": float(np.nanmin(eps)),
            "m3": np.asarray(r3.weights[int(np.nanargmin(r3.eps_global))]), "seconds": sum(wall.values()),
            "blocks": len(names), "floor": sum(wall[n] for n in entry_names(sweep, floor))}


def adaptive(sweep: Sweep, step, threshold: float) -> dict:
    refine = {"enabled": True, "coarse_step": list(step), "weight_threshold": threshold}
    refined = Sweep.load(config(sweep.layout.root, json.loads(json.dumps([dict(c) for _, c in sweep.components])),
                                refine))
    previous, index = None, 0
    folder = refined.layout.refine / f"step_{step[0]}x{step[1]}_w{threshold:g}"
    while True:
        result = refine_round(refined, index, previous, folder / f"round_{index}.json", log=lambda m: None)
        if result["done"]:
            break
        previous, index = result, index + 1
    row = result["table"][-1]
    m3 = np.nan_to_num(np.asarray(result["answer"]["m3_weights"], float))
    return {"rounds": index + 1, "blocks": row["blocks"], "seconds": row["core_seconds_total"],
            "m1": (row["m1_diameter"], row["m1_value"]), "eps": row["m1_eps_global"], "m3": m3, "stop": row["stop"]}


def _screen(args):
    cfg, d = args
    screen_chunk(Sweep.load(cfg), d, log=lambda m: None)
    return d


def screen_grid(screening: dict, workers: int) -> None:
    """The whole validation grid at the screening fidelity (finished blocks kept)."""
    cfg = config(ROOT / "grid", refine={"enabled": True, "screening": screening})
    sweep = Sweep.load(cfg)
    with ProcessPoolExecutor(workers) as pool:
        for d in pool.map(_screen, [(cfg, d) for d in sweep.grids.diameters_nm]):
            print(f"  screened D={d:g}", flush=True)


def multi_fidelity(sweep: Sweep, screening: dict, threshold: float) -> dict:
    """The multi-fidelity rounds of one mixture: screening round 0 on the grid's screening level, then the
    full-fidelity rounds on the grid's shards."""
    refine = {"enabled": True, "weight_threshold": threshold, "screening": screening}
    refined = Sweep.load(config(sweep.layout.root, json.loads(json.dumps([dict(c) for _, c in sweep.components])),
                                refine))
    link = refined.layout.screening / "dictionary"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to((ROOT / "grid" / "screening" / "dictionary").resolve())
    folder = refined.layout.refine / (f"screening_{screening['angles']}x{screening['offsets']}_w{threshold:g}"
              + (f"_swap{screening['swap_margin']:g}" if screening.get("swap_margin") is not None else ""))
    previous, index = None, 0
    while True:
        result = refine_round(refined, index, previous, folder / f"round_{index}.json", log=lambda m: None)
        if result["done"]:
            break
        previous, index = result, index + 1
    table = result["table"]
    m3 = np.nan_to_num(np.asarray(result["answer"]["m3_weights"], float))
    return {"rounds": index + 1, "screened": result["screening"]["blocks"], "blocks": table[-1]["blocks"],
            "screen_seconds": table[0]["core_seconds"], "seconds": table[-1]["core_seconds_total"],
            "m1": (table[-1]["m1_diameter"], table[-1]["m1_value"]),
            "screen_m1": (table[0]["m1_diameter"], table[0]["m1_value"]), "m3": m3, "stop": table[-1]["stop"]}


def paper_projection(steps_list) -> None:
    """Replay the rounds on config/paper.yaml with the cost model (no simulation)."""
    sweep = Sweep.load(REPO / "config" / "paper.yaml")
    per_block: dict[str, float] = {}
    for job in cost.plan_jobs(sweep):
        per_block[job.block] = per_block.get(job.block, 0.0) + job.seconds
    names = [n for n, _, _ in sweep.blocks]
    shape = (len(sweep.grids.diameters_nm), len(sweep.parameter_values))
    seconds = np.array([per_block[n] for n in names]).reshape(shape)
    full = seconds.sum() / 3600
    # the answer: M1 at σ ≈ 1.5 (20 nm, 1500 J/m³), M3's weight on it and two neighbours
    i0 = sweep.grids.diameters_nm.index(20.0)
    j0 = sweep.parameter_values.index(1500.0)
    ii, jj = np.indices(shape)
    eps_true = 0.05 + 0.01 * (((ii - i0) / 2.0) ** 2 + ((jj - j0) / 8.0) ** 2)
    w_true = np.zeros(shape)
    w_true[i0, j0], w_true[i0, j0 + 3], w_true[i0 - 1, j0 - 2] = 0.6, 0.25, 0.15
    print(f"\nPaper grid ({shape[0]} × {shape[1]} blocks), cost model: full grid {full:.1f} core-h")
    print("| coarse step | rounds | blocks | core-h | of the full grid |")
    print("|---|---|---|---|---|")
    for step in steps_list:
        settings = RefineSettings(enabled=True, coarse_step=tuple(step))
        done = set(coarse_grid(shape, step))
        for r in range(settings.max_rounds):
            mask = np.zeros(shape, bool)
            for e in done:
                mask[e] = True
            eps = np.where(mask, eps_true, np.nan)
            w = np.where(mask, w_true, np.nan)
            new = next_entries(eps, [w], done, settings, spacing(step, r))
            if not new and spacing(step, r) == (1, 1):
                break
            done |= set(new)
        core_h = sum(seconds[e] for e in done) / 3600
        print(f"| {step[0]} × {step[1]} | {r + 1} | {len(done)} | {core_h:.1f} | {100 * core_h / full:.0f} % |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--steps", nargs="+", default=["3,3", "4,5", "7,9"], help="coarse steps D,K to compare")
    ap.add_argument("--thresholds", nargs="+", type=float, default=[0.02, 0.05], help="refine.weight_threshold values")
    ap.add_argument("--paper-steps", nargs="+", default=["2,8", "2,16", "4,16", "7,30"])
    ap.add_argument("--projection-only", action="store_true")
    ap.add_argument("--screening", nargs="*", default=[], help="multi-fidelity screening levels ANGLES,OFFSETS "
                    "(e.g. 2,3) to compare; no coarse-to-fine runs with --screening-only")
    ap.add_argument("--screening-only", action="store_true", help="only the multi-fidelity rounds")
    ap.add_argument("--swap-margin", type=float, default=None,
                    help="refine.screening.swap_margin of the multi-fidelity rounds (default: off)")
    args = ap.parse_args(argv)
    steps_list = [tuple(int(v) for v in s.split(",")) for s in args.steps]
    if not args.projection_only:
        cfg_grid = config(ROOT / "grid")
        simulate_grid(cfg_grid, args.workers)
        print("\n| mixture | coarse step | weight threshold | rounds | blocks | core-s (adaptive / full) | share | "
              "floor | M1 adaptive | M1 full | max ΔM3 weight | Δε_global M1 | stop |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        fits = {}
        for name, comps in MIXTURES.items():
            sweep = measure(cfg_grid, name, comps)
            full = fits[name] = (sweep, full_fit(sweep))[1]
            for step, threshold in ((s, t) for s in steps_list for t in args.thresholds if not args.screening_only):
                a = adaptive(sweep, step, threshold)
                dw = float(np.abs(a["m3"] - np.nan_to_num(full["m3"])).max())
                print(f"| {name} | {step[0]} × {step[1]} | {threshold:g} | {a['rounds']} | "
                      f"{a['blocks']} / {full['blocks']} | "
                      f"{a['seconds']:.0f} / {full['seconds']:.0f} | {100 * a['seconds'] / full['seconds']:.0f} % | "
                      f"{100 * full['floor'] / full['seconds']:.0f} % | "
                      f"({a['m1'][0]:g}, {a['m1'][1]:g}) | ({full['m1'][0]:g}, {full['m1'][1]:g}) | {dw:.3f} | "
                      f"{100 * (a['eps'] - full['eps']) / full['eps']:+.2f} % | {a['stop']} |", flush=True)
        for level in args.screening:
            a, o = (int(v) for v in level.split(","))
            screening = {"angles": a, "offsets": o} | ({} if args.swap_margin is None else
                                                       {"swap_margin": args.swap_margin})
            screen_grid(screening, args.workers)
            print("\n| mixture | screening | weight threshold | rounds | blocks screened / full fidelity | "
                  "core-s screening + full = total / full grid | share | M1 screening | M1 multi-fidelity | M1 full | "
                  "max ΔM3 weight | stop |")
            print("|---|---|---|---|---|---|---|---|---|---|---|---|")
            for name, comps in MIXTURES.items():
                full = fits[name]
                sweep = measure(cfg_grid, name, comps)
                for threshold in args.thresholds:
                    m = multi_fidelity(sweep, screening, threshold)
                    dw = float(np.abs(m["m3"] - np.nan_to_num(full["m3"])).max())
                    spent = m["seconds"] - m["screen_seconds"]
                    print(f"| {name} | {a} × {o}² | {threshold:g} | {m['rounds']} | {m['screened']} / {m['blocks']} | "
                          f"{m['screen_seconds']:.0f} + {spent:.0f} = {m['seconds']:.0f} / "
                          f"{full['seconds']:.0f} | {100 * m['seconds'] / full['seconds']:.1f} % | "
                          f"({m['screen_m1'][0]:g}, {m['screen_m1'][1]:g}) | ({m['m1'][0]:g}, {m['m1'][1]:g}) | "
                          f"({full['m1'][0]:g}, {full['m1'][1]:g}) | {dw:.3f} | {m['stop']} |", flush=True)
    paper_projection([tuple(int(v) for v in s.split(",")) for s in args.paper_steps])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
