"""Command line: `mpisweep moment …` (one Fokker-Planck solve) and the other tools.

The command line speaks the field's units (nm, J/m³, degrees, mT) and converts
to SI once, here.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time

MT = 1e-3  # tesla per millitesla
NM = 1e-9  # metre per nanometre


class UsageError(ValueError):
    """A bad command-line value; the message names the argument."""


def _positive(name, value, allow_zero=False):
    if value is None:
        return value
    ok = value >= 0 if allow_zero else value > 0
    if not (ok and math.isfinite(value)):
        raise UsageError(f"--{name}: must be {'≥ 0' if allow_zero else '> 0'}, got {value}")
    return value


def _add_moment(sub):
    p = sub.add_parser(
        "moment",
        help="mean moment <m>(t) and d<m>/dt over one drive cycle in periodic steady state",
        description="Solve the Néel Fokker-Planck equation (or an equilibrium model) for one particle "
        "and one field trajectory B(t) = offset + A_i cos(2π fB/divider_i t); write one cycle as CSV.",
    )
    p.add_argument("--diameter", type=float, required=True, help="core diameter in nm")
    p.add_argument("--anisotropy", type=float, default=0.0, help="uniaxial anisotropy K in J/m³ (default 0)")
    axis = p.add_mutually_exclusive_group()
    axis.add_argument("--easy-axis", type=float, default=0.0, help="in-plane easy-axis angle in degrees from x")
    axis.add_argument("--easy-axis-vector", type=float, nargs=3, metavar=("X", "Y", "Z"), help="easy axis as a vector")
    p.add_argument("--drive", type=float, nargs="+", default=[12.59, 13.55], help="drive amplitudes in mT, one per axis")
    p.add_argument("--dividers", type=int, nargs="+", default=[102, 96], help="dividers of the base frequency")
    p.add_argument("--base-frequency", type=float, default=2.5e6, help="base frequency in Hz")
    p.add_argument("--phases", type=float, nargs="+", help="drive phases in degrees (default 0)")
    p.add_argument("--offset", type=float, nargs="+", default=[0.0, 0.0], help="static offset field in mT (2 or 3 components)")
    p.add_argument("--samples", type=int, help="samples per cycle (default lcm(dividers))")
    p.add_argument("--degree", type=int, help="truncation degree L (default: automatic from σ and ξ)")
    p.add_argument("--rtol", type=float, help="integrator relative tolerance")
    p.add_argument("--model", default="fp", help="fp (Fokker-Planck), equilibrium (static Boltzmann with K) or langevin")
    p.add_argument("--ms", type=float, help="saturation magnetisation in A/m")
    p.add_argument("--alpha", type=float, help="Gilbert damping")
    p.add_argument("--temperature", type=float, help="temperature in K")
    p.add_argument("--output", "-o", default="-", help="CSV file (default: standard output)")
    p.set_defaults(run=run_moment)


def run_moment(args) -> int:
    import numpy as np

    from .equilibrium import BoltzmannQuadrature, langevin_moment
    from .excitation import Excitation
    from .operator import easy_axis_vector
    from .params import Particle
    from . import solver

    start = time.perf_counter()
    if args.model not in ("fp", "equilibrium", "langevin"):
        raise UsageError(f"--model: unknown model {args.model!r} (choose fp, equilibrium or langevin)")
    _positive("diameter", args.diameter)
    _positive("anisotropy", args.anisotropy, allow_zero=True)
    _positive("base-frequency", args.base_frequency)
    for name in ("ms", "alpha", "temperature", "rtol"):
        _positive(name, getattr(args, name))
    if args.samples is not None and args.samples <= 0:
        raise UsageError(f"--samples: must be a positive integer, got {args.samples}")
    if args.degree is not None and args.degree < 1:
        raise UsageError(f"--degree: must be a positive integer, got {args.degree}")
    if len(args.offset) not in (2, 3):
        raise UsageError(f"--offset: need 2 or 3 components in mT, got {len(args.offset)}")
    if len(args.dividers) != len(args.drive):
        raise UsageError(f"--dividers: need one divider per --drive amplitude ({len(args.drive)}), got {len(args.dividers)}")
    if any(d <= 0 for d in args.dividers):
        raise UsageError(f"--dividers: must be positive integers, got {args.dividers}")

    extra = {k: getattr(args, k) for k in ("ms", "alpha", "temperature") if getattr(args, k) is not None}
    try:
        particle = Particle(args.diameter * NM, args.anisotropy, **extra)
        excitation = Excitation(
            tuple(a * MT for a in args.drive),
            tuple(args.dividers),
            args.base_frequency,
            phases=None if args.phases is None else tuple(math.radians(p) for p in args.phases),
            offset=tuple(o * MT for o in args.offset),
            samples=args.samples,
        )
    except ValueError as err:
        raise UsageError(str(err)) from None
    if args.easy_axis_vector is not None:
        easy = np.asarray(args.easy_axis_vector, dtype=float)
        if not np.linalg.norm(easy) > 0:
            raise UsageError(f"--easy-axis-vector: must be non-zero, got {args.easy_axis_vector}")
    else:
        easy = easy_axis_vector(args.easy_axis)

    times = excitation.times
    if args.model == "fp":
        kwargs = {} if args.rtol is None else {"rtol": args.rtol}
        result = solver.solve(particle, excitation, easy, degree=args.degree, **kwargs)
        moment, rate = result.moment, result.rate
        info = (
            f"degree L={result.degree}, periodicity residual {result.periodicity:.2e} "
            f"after {result.cycles} cycle(s), {result.stats['steps']} steps"
        )
    else:
        field, field_rate = excitation.field(times), excitation.field_rate(times)
        if args.model == "langevin":
            moment, rate = langevin_moment(particle, field, field_rate)
        else:
            moment, rate = BoltzmannQuadrature(particle, easy).moments(field, field_rate)
        info = f"model {args.model}"
    _write_csv(args.output, times, moment, rate)
    print(f"mpisweep moment: {info}, wall time {time.perf_counter() - start:.3f} s", file=sys.stderr)
    return 0


def _write_csv(path, times, moment, rate):
    out = sys.stdout if path == "-" else open(path, "w", newline="")
    try:
        w = csv.writer(out)
        w.writerow(["t", "mx", "my", "mz", "dmx", "dmy", "dmz"])
        for t, m, d in zip(times, moment, rate):
            w.writerow([f"{t:.10e}", *(f"{v:.12e}" for v in m), *(f"{v:.12e}" for v in d)])
    finally:
        if out is not sys.stdout:
            out.close()


def _add_mdf_info(sub):
    p = sub.add_parser(
        "mdf-info",
        help="summarise an MDF v2 system-matrix file",
        description="Print version, grid, channels, frequencies, drive field and processing flags of an MDF file.",
    )
    p.add_argument("file", metavar="FILE", help="MDF (HDF5) file")
    p.set_defaults(run=run_mdf_info)


def run_mdf_info(args) -> int:
    from .mdf import MDFError, describe

    try:
        print(describe(args.file))
    except MDFError as err:
        raise UsageError(str(err)) from None
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mpisweep", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_moment(sub)
    _add_mdf_info(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except UsageError as err:
        parser.exit(2, f"mpisweep {args.command}: error: {err}\n")
    except Exception as err:  # noqa: BLE001 - report solver failures without a traceback
        from .solver import SolverError

        if isinstance(err, SolverError):
            parser.exit(1, f"mpisweep {args.command}: error: {err}\n")
        raise


if __name__ == "__main__":
    sys.exit(main())
