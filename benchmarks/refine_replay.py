"""Replay the rounds of a finished refined run on its stored blocks, with today's code and other refine settings.

    python benchmarks/refine_replay.py results/paper-multifidelity [--set eps_tolerance=0.005 ...] [--out DIR]

A refined run's rounds are decisions on fits; the blocks they ask for are kept (shards, markers, and the
screening level). This re-runs the rounds of mpisweep.steps.refine on those blocks with the run's resolved
config and the given ``refine.<key>=<value>`` overrides, writing the rounds' JSON under --out (the run
itself is not touched), and prints per round the blocks, their core-seconds (the markers' measured wall
times), the fit's wall seconds measured now, M1, M3's ε_global and weights, and why it stopped. A round
that asks for a block the run never simulated ends the replay with that block's name: the replay
simulates nothing.

    python benchmarks/refine_replay.py results/paper-multifidelity --fill-error 2

measures ``refine.screening.every`` on a run that screened every block: each block left out at every n-th
value is filled by FilledScreening's spline and compared with its directly screened rows, ‖Φ − S‖/‖S‖,
against the same measure of its nearer grid neighbour in K (what separates adjacent entries in a fit);
printed per diameter over σ.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from mpisweep.errors import MpisweepError  # noqa: E402
from mpisweep.steps.refine.rounds import refine_round  # noqa: E402
from mpisweep.steps.refine.screening import FilledScreening, read_screened, screened_names  # noqa: E402
from mpisweep.sweep import Sweep  # noqa: E402
from mpisweep.sweep.fidelity import screening_sweep  # noqa: E402
from mpisweep.sweep.layout import Layout  # noqa: E402


def resolved(run: Path) -> Sweep:
    """The run's resolved config (the newest under .resolved)."""
    config = Layout(str(run)).newest_resolved_config()
    if config is None:
        raise SystemExit(f"{run}: no resolved config under .resolved/ (not a finished run's folder)")
    return Sweep.read(config)


def fill_error(sweep: Sweep, every: int) -> None:
    """The spline-filled screening blocks against the directly screened ones, per diameter."""
    sweep = dataclasses.replace(sweep, refine=dataclasses.replace(
        sweep.refine, screening=dataclasses.replace(sweep.refine.screening, every=every)))
    level, reader = screening_sweep(sweep), FilledScreening(sweep)
    screened = set(screened_names(sweep))
    values = sweep.parameter_values
    print(f"screening every {every}: {len(screened)} of {len(sweep.blocks)} blocks screened, the rest filled")
    print("| D (nm) | σ of the filled blocks | filled | ‖Φ − S‖/‖S‖ median / max | nearer K neighbour | "
          "worst ratio |")
    print("|---|---|---|---|---|---|")
    for d in sweep.grids.diameters_nm:
        errors, steps, sigmas = [], [], []
        for j, value in enumerate(values):
            name = next(n for n, dd, v in sweep.blocks if dd == d and v == value)
            if name in screened:
                continue
            direct = read_screened(level, name)["rows"].values
            norm = np.linalg.norm(direct)
            errors.append(np.linalg.norm(reader(level, name)["rows"].values - direct) / norm)
            near = [read_screened(level, n)["rows"].values for n, dd, v in sweep.blocks
                    if dd == d and v in (values[max(j - 1, 0)], values[min(j + 1, len(values) - 1)]) and v != value]
            steps.append(min(np.linalg.norm(x - direct) for x in near) / norm)
            sigmas.append(sweep.particle(d, value).sigma)
        e, st = np.array(errors), np.array(steps)
        print(f"| {d:g} | {min(sigmas):.2f}–{max(sigmas):.2f} | {len(e)} | {np.median(e):.1e} / {e.max():.1e} | "
              f"{np.median(st):.1e} | {(e / st).max():.3f} |", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="the refined run's output folder")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="refine settings to change")
    ap.add_argument("--out", type=Path, default=None, help="where the replayed rounds go (default: <run>/replay)")
    ap.add_argument("--fill-error", type=int, default=None, metavar="N",
                    help="measure the spline fill of refine.screening.every = N instead of replaying")
    args = ap.parse_args(argv)
    sweep = resolved(args.run)
    if args.fill_error:
        fill_error(sweep, args.fill_error)
        return 0
    refine = sweep.refine
    for key, value in (s.split("=", 1) for s in args.set):  # eps_tolerance=0.01, screening.every=2
        if key.startswith("screening."):
            screening = dataclasses.replace(refine.screening, **{key.split(".", 1)[1]: yaml.safe_load(value)})
            refine = dataclasses.replace(refine, screening=screening)
        else:
            refine = dataclasses.replace(refine, **{key: yaml.safe_load(value)})
    sweep = dataclasses.replace(sweep, refine=refine)
    out = args.out or args.run / "replay"
    print(f"replaying {args.run} with refine {sweep.refine.to_json()}", flush=True)
    print("| round | blocks (new) | block core-s | fit wall s | M1 | M3 ε_global | M3 weights > 0.05 | stop |")
    print("|---|---|---|---|---|---|---|---|")
    previous, index, fits = None, 0, 0.0
    while True:
        t0 = time.perf_counter()
        try:
            result = refine_round(sweep, index, previous, out / f"round_{index}.json", log=lambda m: None)
        except MpisweepError as err:
            print(f"round {index}: {err}: the replay stops here (it simulates nothing)")
            return 1
        seconds = time.perf_counter() - t0
        fits += seconds
        row = result["table"][-1]
        heavy = "; ".join(w for w in row["m3_weights"].split("; ") if w and float(w.rsplit(" ", 1)[1]) > 0.05)
        print(f"| {index} | {row['blocks']} ({row['blocks_added']}) | {row['core_seconds']:.0f} | {seconds:.0f} | "
              f"({row['m1_diameter']:g}, {row['m1_value']:g}) | {row['m3_eps_global']:.6f} | {heavy} | "
              f"{row['stop']} |", flush=True)
        if result["done"]:
            break
        previous, index = result, index + 1
    print(f"\nblocks {row['blocks']} at full fidelity, {row['core_seconds_total']:.0f} core-s of blocks (screening "
          f"included), {index + 1} round fits, {fits:.0f} s of fit wall time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
