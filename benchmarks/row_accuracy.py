"""Row accuracy against the integrator tolerance: the dynamic range each rtol holds, and its cost.

The rows are φ_k = rfft(d⟨m⟩/dt)/N over one cycle (mpisweep.spectrum, as simulate_block makes them),
every bin k ≥ 1 of the receive channels. A solve *holds* R dB when every row above 10^(−R/20) of
the largest is within 1 % (complex, relative) of a converged reference (mpisweep.physics.accuracy).

Cases: Néel (20 nm, 1000 J/m³; σ 1.0) and (24 nm, 5000 J/m³; σ 9.0), Brown (20 nm, D_h 20 nm), on
(a) the 1D drive of the 2018 head-scanner file (5 mT, 125 MHz/4864 ≈ 25.7 kHz, 152 samples, receive
    x, easy axis x) with offset 0 and 3 mT along x;
(b) the Bruker 2D drive (1632 samples, receive x and y, easy axis 30°) at offsets (0, 0) and
    (8.61, −5.88) mT (a grid point);
and, for the σ dependence, Néel (22 nm, 3000 J/m³; σ 4.1) and (28 nm, 5000 J/m³; σ 14.2) on (a) at 3 mT.
Reference: rtol 1e-10 at the automatic degree L + 6; its own check: rtol 1e-11, L + 8 and twice
the warm-up, on the rows scored (those above −80 dB). Then rtol 1e-4 … 1e-8 and the default rtol
at the automatic L: the range held, the steps and the solve time (best of --repeat, check=False as
the sweep solves). "floor" is the range held at rtol 1e-10 at the automatic L (truncation alone).

Printed: per case and rtol the range held; per case and R ∈ {40, 60, 80} dB the largest rtol of
the list that holds R, with its steps and time; the range held, steps and time at the rule's
rtol_for_range(R, σ); and per case c = min over rtols of rtol·10^(held/20)/s(σ), the constant of the
rule rtol = c·s(σ)·10^(−R/20) (mpisweep.physics.accuracy), over held ranges of 30-100 dB.

Run: nice -n 15 .venv/bin/python benchmarks/row_accuracy.py [--only 1d|2d|extra] [--repeat 3]
(1D and 2D: about 4 minutes with --repeat 1 on a shared core, 1D alone 20 s; "extra", not in the
default run: σ 15.9 and 25.6 on the 1D drive and σ 14.2 on the 2D drive, about 4 minutes)
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

from mpisweep.physics.accuracy import (  # noqa: E402
    RTOL_PER_AMPLITUDE,
    held_range,
    row_errors,
    rtol_for_range,
    sigma_factor,
)
from mpisweep.physics.excitation import Excitation  # noqa: E402
from mpisweep.physics.operator import easy_axis_vector  # noqa: E402
from mpisweep.physics.params import BrownParticle, Particle  # noqa: E402
from mpisweep.physics.solver import DEFAULT_WARMUP, WARMUP_TAUS, auto_degree, particle_rtol, solve  # noqa: E402
from mpisweep.physics.spectra import spectrum  # noqa: E402

MT, NM = 1e-3, 1e-9
RTOLS = (1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
RANGES = (40.0, 60.0, 80.0)
PARTICLES = {
    "Neel 20 nm 1000": Particle(20 * NM, 1000.0),
    "Neel 24 nm 5000": Particle(24 * NM, 5000.0),
    "Brown 20/20 nm": BrownParticle(20 * NM, 20 * NM),
}
#: 1D only, 3 mT offset: the σ dependence of the rule (σ 4.1 and 14.2)
SIGMA_SCAN = {
    "Neel 22 nm 3000": Particle(22 * NM, 3000.0),
    "Neel 28 nm 5000": Particle(28 * NM, 5000.0),
}
#: --only extra: σ beyond the law's span on the 1D drive (15.9, 25.6), and σ 14.2 on the 2D drive
EXTRA = {
    "Neel 26 nm 7000": Particle(26 * NM, 7000.0),
    "Neel 28 nm 9000": Particle(28 * NM, 9000.0),
}


def drive_1d(offset_mt):
    return Excitation((5 * MT,), (4864,), 125e6, offset=(offset_mt * MT, 0.0, 0.0), samples=152)


def cases(only):
    """(label, particle, excitation, easy axis, receive channels)."""
    out = []
    if only in (None, "1d"):
        for name, p in PARTICLES.items():
            for off in (0.0, 3.0):
                out.append((f"1D {off:g} mT, {name}", p, drive_1d(off), (1.0, 0.0, 0.0), (0,)))
        for name, p in SIGMA_SCAN.items():
            out.append((f"1D 3 mT, {name}", p, drive_1d(3.0), (1.0, 0.0, 0.0), (0,)))
    if only in (None, "2d"):
        for name, p in PARTICLES.items():
            for off in ((0.0, 0.0), (8.61, -5.884)):
                ex = Excitation.bruker(offset=(off[0] * MT, off[1] * MT))
                out.append((f"2D ({off[0]:g}, {off[1]:g}) mT, {name}", p, ex, easy_axis_vector(30.0), (0, 1)))
    if only == "extra":
        for name, p in EXTRA.items():
            out.append((f"1D 3 mT, {name}", p, drive_1d(3.0), (1.0, 0.0, 0.0), (0,)))
        ex = Excitation.bruker(offset=(8.61 * MT, -5.884 * MT))
        name = "Neel 28 nm 5000"
        out.append((f"2D (8.61, -5.884) mT, {name}", SIGMA_SCAN[name], ex, easy_axis_vector(30.0), (0, 1)))
    return out


def rows_of(particle, ex, axis, channels, repeat=1, **options):
    """Rows (channels, bins ≥ 1), steps and best-of-`repeat` wall time of one solve."""
    best, res = math.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        res = solve(particle, ex, axis, check=False, **options)
        best = min(best, time.perf_counter() - t)
    return spectrum(res.rate, channels)[:, 1:], res.stats["steps"], best


def run_case(label, particle, ex, axis, channels, repeat):
    degree = auto_degree(particle, ex.max_field())
    warmup = max(DEFAULT_WARMUP, WARMUP_TAUS * particle.tau)
    # Warm the compiled kernel up outside the timings.
    rows_of(particle, ex, axis, channels, degree=degree)
    ref, ref_steps, ref_time = rows_of(particle, ex, axis, channels, degree=degree + 6, rtol=1e-10)
    check, _, check_time = rows_of(particle, ex, axis, channels, degree=degree + 8, rtol=1e-11, warmup=2 * warmup)
    amp, err = row_errors(check, ref)
    scored = amp > 10 ** (-max(RANGES) / 20)
    ref_error = float(err[scored].max())
    floor = held_range(rows_of(particle, ex, axis, channels, degree=degree, rtol=1e-10)[0], ref)
    result = dict(case=label, sigma=particle.sigma, degree=degree, ref_error=ref_error, ref_time=ref_time,
                  check_time=check_time, ref_steps=ref_steps, floor=floor, rtols={})
    default = particle_rtol(particle)
    for rtol in sorted(set(RTOLS) | {default}, reverse=True):
        rows, steps, wall = rows_of(particle, ex, axis, channels, repeat, degree=degree, rtol=rtol)
        result["rtols"][rtol] = dict(held=held_range(rows, ref), steps=steps, time=wall)
    result["default"] = default
    result["rule"] = {}
    for R in RANGES:
        rtol = rtol_for_range(R, particle.sigma)
        rows, steps, wall = rows_of(particle, ex, axis, channels, repeat, degree=degree, rtol=rtol)
        result["rule"][R] = dict(rtol=rtol, held=held_range(rows, ref), steps=steps, time=wall)
    return result


def fmt_db(x):
    return "   all" if math.isinf(x) else f"{x:6.1f}"


def report(results):
    print("\nRange held (dB) per rtol at the automatic L; ref: max rel. error of the reference against its check "
          "on the rows above -80 dB; floor: range held at rtol 1e-10, automatic L")
    print(f"{'case':38s} {'L':>3s} {'ref err':>8s} {'floor':>6s} " + " ".join(f"{r:>7.0e}" for r in RTOLS)
          + "  default")
    for r in results:
        d = r["rtols"][r["default"]]
        print(f"{r['case']:38s} {r['degree']:3d} {r['ref_error']:8.1e} {fmt_db(r['floor'])} "
              + " ".join(f" {fmt_db(r['rtols'][t]['held'])}" for t in RTOLS)
              + f"  {fmt_db(d['held'])} @{r['default']:.1e}")
    print("\nLargest rtol of the list holding R (every row above -R dB within 1 %); steps; solve time (s)")
    print(f"{'case':38s} " + " ".join(f"{f'{R:g} dB':>24s}" for R in RANGES))
    for r in results:
        cells = []
        for R in RANGES:
            ok = [t for t in RTOLS if r["rtols"][t]["held"] >= R]
            if not ok:
                cells.append(f"{'none ≤ 1e-8':>24s}")
                continue
            t = max(ok)
            e = r["rtols"][t]
            cells.append(f"{t:8.0e} {e['steps']:7d} {e['time']:7.3f}s")
        print(f"{r['case']:38s} " + " ".join(cells))
    print("\nAt the rule's rtol_for_range(R, σ): rtol, range held (dB), steps, solve time (s)")
    print(f"{'case':38s} " + " ".join(f"{f'{R:g} dB':>31s}" for R in RANGES))
    for r in results:
        cells = [f"{e['rtol']:8.1e} {fmt_db(e['held'])} {e['steps']:7d} {e['time']:7.3f}s" for e in r["rule"].values()]
        print(f"{r['case']:38s} " + " ".join(cells))
    # c such that rtol = c·s(σ)·10^(-R/20) holds R wherever measured: c ≤ rtol·10^(held/20)/s(σ)
    print("\nc = min over rtols of rtol·10^(held/20)/s(σ), over held in 30-100 dB (rule: rtol = c·s(σ)·10^(-R/20))")
    cs = []
    for r in results:
        pts = [(t * 10 ** (v["held"] / 20) / sigma_factor(r["sigma"]), t) for t, v in r["rtols"].items()
               if 30 <= v["held"] <= 100]
        if pts:
            c, t = min(pts)
            cs.append((c, r["case"], t))
            print(f"{r['case']:38s} σ {r['sigma']:5.2f} s(σ) {sigma_factor(r['sigma']):.3g}  c {c:.3g} (at {t:.0e})")
    if cs:
        c, case, t = min(cs)
        print(f"smallest c: {c:.3g} ({case}, rtol {t:.0e}); rule constant {RTOL_PER_AMPLITUDE:g}: "
              f"margin {c / RTOL_PER_AMPLITUDE:.2g}×")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("1d", "2d", "extra"))
    ap.add_argument("--repeat", type=int, default=3, help="solve time: best of this many")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    results = []
    for case in cases(args.only):
        t = time.perf_counter()
        results.append(run_case(*case, args.repeat))
        print(f"{case[0]}: {time.perf_counter() - t:.1f} s", flush=True)
    report(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=str)


if __name__ == "__main__":
    main()
