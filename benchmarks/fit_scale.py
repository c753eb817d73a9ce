"""The fit at the paper's size: a paper-shaped dictionary through assemble → fit → figures, with the
wall time and peak memory (RSS) of every step.

The grid is config/paper.yaml's: 8 diameters × 90 anisotropies × 12 angles × 2 channels × 97
evaluation bins × 121 offsets (720 entries, 3.0 GiB of complex128 rows per dictionary). Solving it
would take ~90 core-hours (docs/performance.md, `make bench-grid`), so the rows come from a cheap synthetic
filler instead, and everything after that runs the project's own code:

* **filler** (not a pipeline step): rows = lag(D, K, k) · Σ_p g_p(D, K, ϑ) B_p(c, k, offset), with
  16 fixed random patterns B_p (random complex spectra times smooth Legendre polynomials over the
  offset grid), weights g_p smooth in (D, K) and 180°-periodic in ϑ, and a Néel-like phase lag
  exp(−i·atan(k·τ)) per entry, with τ growing with D and K and falling with the offset field.
  Deterministic (seeded). It writes the 720 shards and their
  markers as `simulate` does, `m0a.zarr` (the same rows without the lag: no relaxation) through
  `assemble.write_rows`, and the three mixture components of paper.yaml at all rfft bins as the
  virtual scanner's component files.
* the real steps, each as its `mpisweep` subcommand in a subprocess (as the workflow runs them):
  `assemble`, `m0-dictionary` (real Langevin rows), `virtual-scanner` (mixture + transfer function
  + 40 dB noise → 12 MDF files), `check-measurement`, `fit` (M0, M0a, M1, M2 at the paper's 7
  ranks, M3) and `figures`.

Peak RSS is that of each subprocess alone (os.wait4). The fit gets `--cores` BLAS threads (as the
fit rule), every other step one. Outputs go under --output (default results/bench-fit), and the
dictionary stores (~10 GB) are deleted at the end unless --keep.

Run: make bench-fit   (or .venv/bin/python benchmarks/fit_scale.py [--cores 2] [--output DIR] [--keep]
[--config FILE: another grid, e.g. config/config.yaml for a one-minute trial])
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "config" / "paper.yaml"
PATTERNS = 16
SEED = 20240612


def paper_sweep(output, config=PAPER):
    """The config (default config/paper.yaml) with its output moved to `output`."""
    from mpisweep.sweep import Sweep
    from mpisweep.sweep.schema import read_yaml

    cfg = read_yaml(config)
    cfg["output"] = str(output)
    return Sweep.load(cfg)


class Filler:
    """Deterministic synthetic rows over (D, K, ϑ, channel, k, offset); see the module docstring."""

    def __init__(self, sweep, patterns: int = PATTERNS, seed: int = SEED):
        from numpy.polynomial import legendre

        rng = np.random.default_rng(seed)
        o = sweep.offsets.reshape(-1, 3)
        u = o[:, 0] / max(np.abs(o[:, 0]).max(), 1e-30)
        v = o[:, 1] / max(np.abs(o[:, 1]).max(), 1e-30)
        basis = np.stack([legendre.legval(u, np.eye(5)[i]) * legendre.legval(v, np.eye(5)[j])
                          for i in range(5) for j in range(5) if i + j <= 4])  # (15, N) smooth over offsets
        nbins = sweep.scanner.samples // 2 + 1
        k = np.arange(nbins)
        envelope = 1.0 / (1.0 + (k / 80.0) ** 2)
        c = rng.standard_normal((patterns, 2, nbins, len(basis), 2)) @ [1.0, 1j]
        c /= 1.0 + np.arange(len(basis))  # higher polynomials weaker
        self.patterns = (c @ basis) * envelope[None, None, :, None]  # (P, C, all bins, N)
        self.field = u**2 + v**2  # (N,) the lag shrinks in strong offset fields, as Néel relaxation does
        self.eval_bins = sweep.bins[:, 2]
        self.k = k
        self.centre = rng.uniform(0, 1, (patterns, 2))
        self.wave = rng.uniform(-1.5, 1.5, (patterns, 2))
        self.phase = rng.uniform(0, np.pi, patterns)
        self.d, self.kk = np.asarray(sweep.grids.diameters_nm), np.asarray(sweep.grids.anisotropies_Jm3)
        self.angles = np.radians(sweep.angles)
        self.shape = (len(sweep.angles), 2, len(self.eval_bins), sweep.offset_grid.ny, sweep.offset_grid.nx)

    def _scaled(self, d_nm, k_jm3):
        return (d_nm - 14.0) / 14.0, (k_jm3 - 100.0) / 8900.0

    def weights(self, d_nm, k_jm3):
        """g_p (angle, P) of one entry."""
        x, y = self._scaled(d_nm, k_jm3)
        bump = np.exp(-((x - self.centre[:, 0]) ** 2 + (y - self.centre[:, 1]) ** 2) / (2 * 0.35**2))
        twist = np.exp(2j * np.pi * (self.wave[:, 0] * x + self.wave[:, 1] * y))
        angular = 1.0 + 0.6 * np.cos(2 * (self.angles[:, None] - self.phase[None, :]))
        return (0.3 + x) ** 3 * bump * twist * angular

    def lag(self, d_nm, k_jm3, bins):
        """Néel-like phase lag exp(−i atan(k τ)) (bin, offset): τ grows with D and K, falls with the offset field."""
        x, y = self._scaled(d_nm, k_jm3)
        tau = (0.5 + 4 * x * (0.2 + y)) / (1.0 + self.field) / 400.0
        return np.exp(-1j * np.arctan(np.multiply.outer(bins, tau)))

    def rows(self, d_nm, k_jm3, bins=None, relax: bool = True):
        """Rows (angle, channel, bin, offset_y, offset_x) at `bins` (default: the evaluation bins)."""
        bins = self.eval_bins if bins is None else bins
        p = self.patterns[:, :, bins]
        out = np.tensordot(self.weights(d_nm, k_jm3), p, axes=(1, 0))  # (A, C, F, N)
        if relax:
            out *= self.lag(d_nm, k_jm3, bins)[None, None]
        return out.reshape(out.shape[:3] + self.shape[-2:])


def fill(sweep) -> None:
    """Shards + markers (as `simulate`), m0a.zarr (via assemble.write_rows) and the virtual scanner's components."""
    import xarray as xr

    from mpisweep.io.atomic import atomic_path, write_json
    from mpisweep.io.provenance import package_attrs
    from mpisweep.io.stores import checksum, to_zarr
    from mpisweep.steps.dictionary.assemble import write_rows
    from mpisweep.sweep.config import digest
    from mpisweep.sweep.coords import ROW_DIMS, row_coords, store_attrs
    from mpisweep.sweep.specs import component_spec, dictionary_spec

    filler = Filler(sweep)
    layout = sweep.layout
    spec_hash = digest(dictionary_spec(sweep))
    coords = row_coords(sweep)
    degrees = np.zeros(filler.shape[-2:], dtype=np.int64)  # no solve: L = 0 marks synthetic rows
    for name, d, k in sweep.blocks:
        rows = filler.rows(d, k)
        info = {"block": name, "diameter_nm": float(d), "anisotropy_Jm3": float(k), "sha256": checksum(rows),
                "shape": list(rows.shape), "wall_time_s": 0.0, "degree": 0, "degree_min": 0,
                "degrees": degrees.tolist(), "rtol": float(sweep.solver_rtol(sweep.particle(d, k))),
                "max_periodicity": 0.0, "steps": 0, "solves": 0, "derived_by_symmetry": 0,
                "package_version": package_attrs()["package_version"], "spec_hash": spec_hash, "finite": True,
                "synthetic": True}
        ds = xr.Dataset({"rows": (ROW_DIMS, rows), "degree": (("offset_y", "offset_x"), degrees)}, coords=coords,
                        attrs={**{key: v for key, v in info.items() if key not in ("shape", "degrees")},
                               "shape": json.dumps(info["shape"])})
        with atomic_path(layout.shard(name)) as tmp:
            to_zarr(ds, tmp)
        write_json(layout.marker(name), info)
    g = sweep.grids
    write_rows(sweep, layout.m0a, lambda i, j: filler.rows(g.diameters_nm[i], g.anisotropies_Jm3[j], relax=False),
               attrs={**store_attrs(sweep), "model": "synthetic M0a rows (benchmarks/fit_scale.py)"})
    all_bins = np.arange(sweep.scanner.samples // 2 + 1)
    for name, comp in sweep.components:
        rows = filler.rows(comp["diameter"], comp["anisotropy"], bins=all_bins)
        with atomic_path(layout.component(name), suffix=".npz") as tmp:
            np.savez(tmp, rows=rows, degrees=degrees, rtol=0.0, max_periodicity=0.0, steps=0, wall_time=0.0,
                     spec_hash=digest(component_spec(sweep, comp)))


def run_step(name: str, cmd: list[str], threads: int, log_dir: Path) -> dict:
    """Run one step as a subprocess; its wall time (s) and peak RSS (GB, this process alone)."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = str(threads)
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"{name}.log", "w") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"step {name} failed (exit {proc.returncode}); see {log_dir / f'{name}.log'}")
    rss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024) / 1e9
    return {"step": name, "wall_s": wall, "peak_rss_gb": rss}


def du(path: Path) -> float:
    """Size on disk of a file or folder, GB."""
    if path.is_file():
        return path.stat().st_size / 1e9
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e9


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", default=str(ROOT / "results" / "bench-fit"), help="output folder (default %(default)s)")
    ap.add_argument("--config", default=str(PAPER), help="sweep config (default %(default)s)")
    ap.add_argument("--cores", type=int, default=2, help="BLAS threads of the fit step (default 2)")
    ap.add_argument("--keep", action="store_true", help="keep the dictionary stores afterwards")
    ap.add_argument("--fill-only", action="store_true", help=argparse.SUPPRESS)  # the filler's own subprocess
    args = ap.parse_args(argv)
    output = Path(args.output).resolve()
    sweep = paper_sweep(output, args.config)
    if args.fill_only:
        fill(sweep)
        return 0

    layout = sweep.layout
    if output.exists():
        shutil.rmtree(output)
    config = layout.resolved_config(sweep.config_hash)
    sweep.write(config)
    py = sys.executable
    cfg = ["--config", str(config)]
    n_rows = int(np.prod([len(sweep.blocks), len(sweep.angles), 2, len(sweep.bins), sweep.offset_grid.ny,
                          sweep.offset_grid.nx]))
    print(f"paper grid: {len(sweep.grids.diameters_nm)} D × {len(sweep.grids.anisotropies_Jm3)} K × "
          f"{len(sweep.angles)} angles × 2 channels × {len(sweep.bins)} bins × {sweep.offsets[..., 0].size} offsets "
          f"= {n_rows:,} complex values ({16 * n_rows / 2**30:.2f} GiB complex128 per dictionary)")
    logs = output / "logs" / "bench-fit"
    steps = [
        ("filler (synthetic shards, m0a.zarr, components)",
         [py, str(Path(__file__).resolve()), "--output", str(output), "--config", args.config, "--fill-only"], 1),
        ("assemble", [py, "-m", "mpisweep", "assemble", *cfg], 1),
        ("m0_dictionary", [py, "-m", "mpisweep", "m0-dictionary", *cfg], 1),
        ("virtual_scanner", [py, "-m", "mpisweep", "virtual-scanner", *cfg], 1),
        ("check_measurement", [py, "-m", "mpisweep", "check-measurement", *cfg, "--output", str(layout.check)], 1),
        ("fit", [py, "-m", "mpisweep", "fit", *cfg, "--check", str(layout.check)], args.cores),
        ("figures", [py, "-m", "mpisweep", "figures", str(layout.models), str(layout.figures)], 1),
    ]
    sizes = {"filler": [layout.shards, layout.m0a], "assemble": [layout.fp], "m0_dictionary": [layout.m0],
             "virtual_scanner": [layout.measurement], "check_measurement": [layout.check], "fit": [layout.fits],
             "figures": [layout.figures]}
    results = []
    for name, cmd, threads in steps:
        r = run_step(name.split()[0], cmd, threads, logs)
        r["label"] = name
        r["output_gb"] = sum(du(path) for path in sizes[r["step"]])
        results.append(r)
        print(f"  {name}: {r['wall_s']:.1f} s, peak RSS {r['peak_rss_gb']:.2f} GB", flush=True)

    summary = json.loads(layout.fit_table("summary").read_text())
    print("\n| step | wall time | peak RSS | output on disk |\n| --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['label']} | {r['wall_s']:.1f} s | {r['peak_rss_gb']:.2f} GB | {r['output_gb']:.2f} GB |")
    steps_only = results[1:]
    print(f"| assemble → figures | {sum(r['wall_s'] for r in steps_only):.1f} s | "
          f"{max(r['peak_rss_gb'] for r in steps_only):.2f} GB (largest) | |")
    print(f"\nfit (its own summary.json): {summary['wall_time_s']:.1f} s, peak RSS {summary['peak_rss_gb']:.2f} GB; "
          f"M1 best ({summary['M1']['best_diameter']:g}, {summary['M1']['best_anisotropy']:g}), "
          f"M2 ε_global {', '.join(format(m['eps_global'], '.4f') for m in summary['M2'])}, "
          f"M3 ε_global {summary['M3'][0]['eps_global']:.4f} after {summary['M3'][0]['iterations']} iterations")
    truth = summary.get("recovered", {}).get("m3_weights_vs_truth", [])
    if truth:
        print("M3 weights vs truth: " + ", ".join(f"({t['diameter']:g}, {t['anisotropy']:g}) {t['m3_weight']:.3f} "
                                                 f"(true {t['true_weight']:.3f})" for t in truth))
    (output / "bench-fit.json").write_text(json.dumps(results, indent=1) + "\n")
    if not args.keep:
        for path in (layout.shards, layout.markers, layout.fp, layout.m0a):
            shutil.rmtree(path, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
