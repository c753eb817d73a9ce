"""``mpisweep moment``: ⟨m⟩(t) and d⟨m⟩/dt of one particle over one drive cycle, as CSV.

The defaults of the drive, the solver and the fluid are the config schema's (one home for them); an
option that only another model takes (``--easy-axis`` for ``brown``, ``--viscosity`` for ``fp``) is
refused naming the option and the model rather than ignored.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import time
from pathlib import Path

from ...errors import UsageError
from ...units import MT, NM
from ..command import Command, positive, say

#: what each model is, for the message that refuses another model's option
NATURE = {"fp": "Néel relaxation in a fixed core", "brown": "a rigid dipole turning in a fluid",
          "equilibrium": "static anisotropic equilibrium, nothing integrated",
          "langevin": "Langevin equilibrium without anisotropy"}
#: options that only some models take (argument name → those models); the others refuse them
MODEL_OPTIONS = {
    "anisotropy": ("fp", "equilibrium"), "easy_axis": ("fp", "equilibrium"), "easy_axis_vector": ("fp", "equilibrium"),
    "alpha": ("fp",), "hydrodynamic_diameter": ("brown",), "viscosity": ("brown",),
    "degree": ("fp", "brown"), "force_degree": ("fp", "brown"), "max_degree": ("fp", "brown"), "rtol": ("fp", "brown"),
}
#: options parsed as None (to tell whether the user gave them) whose default `check` fills in
FILLED = ("anisotropy", "easy_axis", "max_degree", "viscosity")


def defaults() -> dict:
    """The defaults an option takes when not given: the schema's drive, solver limit and viscosity."""
    from ..schema import schema_default

    scanner = schema_default("scanner")  # the Bruker scanner
    return {"drive": scanner["drive"], "dividers": scanner["dividers"], "base_frequency": scanner["base_frequency"],
            "max_degree": schema_default("solver")["max_degree"],
            "viscosity": schema_default("particle")["viscosity"], "anisotropy": 0.0, "easy_axis": 0.0}


def add_arguments(p) -> None:
    from ...physics.moment import MODELS
    from ...physics.params import DEFAULT_ALPHA, DEFAULT_MS, DEFAULT_TEMPERATURE

    d = defaults()
    p.add_argument("--diameter", type=float, required=True, help="core diameter in nm")
    # None where "given by the user" matters (another model's option is refused); run fills the default in
    p.add_argument("--anisotropy", type=float,
                   help=f"uniaxial anisotropy K in J/m³ (models fp and equilibrium; default: {d['anisotropy']:g})")
    axis = p.add_mutually_exclusive_group()
    axis.add_argument("--easy-axis", type=float, help="in-plane easy-axis angle in degrees from x "
                      f"(models fp and equilibrium; default: {d['easy_axis']:g})")
    axis.add_argument("--easy-axis-vector", type=float, nargs=3, metavar=("X", "Y", "Z"),
                      help="easy axis as a vector (models fp and equilibrium)")
    p.add_argument("--drive", type=float, nargs="+", default=d["drive"], help="drive amplitudes in mT, one per axis")
    p.add_argument("--dividers", type=int, nargs="+", default=d["dividers"], help="dividers of the base frequency")
    p.add_argument("--base-frequency", type=float, default=d["base_frequency"], help="base frequency in Hz")
    p.add_argument("--phases", type=float, nargs="+", help="drive phases in degrees (default: 0)")
    p.add_argument("--offset", type=float, nargs="+", default=[0.0, 0.0],
                   help="static offset field in mT (2 or 3 components)")
    p.add_argument("--samples", type=int, help="samples per cycle (default: lcm(dividers))")
    p.add_argument("--degree", type=int, help="truncation degree L (default: automatic from σ and ξ)")
    p.add_argument("--force-degree", action="store_true",
                   help="run --degree even where its estimated truncation error exceeds the 1e-4 budget")
    p.add_argument("--max-degree", type=int, help="refuse a truncation degree above this, given or automatic "
                   f"(default: {d['max_degree']}; a solve costs ~L³)")
    p.add_argument("--rtol", type=float, help="integrator relative tolerance (default: automatic, from the model "
                   "and the barrier σ)")
    p.add_argument("--model", default="fp",
                   help=f"{', '.join(MODELS)}: Néel Fokker-Planck, Brownian Fokker-Planck (a particle in a fluid), "
                   "static Boltzmann with K, Langevin")
    p.add_argument("--hydrodynamic-diameter", type=float,
                   help="hydrodynamic diameter in nm (--model brown; at least --diameter)")
    p.add_argument("--viscosity", type=float,
                   help=f"viscosity of the fluid in Pa·s (--model brown; default: {d['viscosity']:g}, water)")
    p.add_argument("--ms", type=float, help=f"saturation magnetisation in A/m (default: {DEFAULT_MS:g})")
    p.add_argument("--alpha", type=float, help=f"Gilbert damping (--model fp; default: {DEFAULT_ALPHA:g})")
    p.add_argument("--temperature", type=float, help=f"temperature in K (default: {DEFAULT_TEMPERATURE:g})")
    p.add_argument("--output", "-o", default="-", help="CSV file (default: standard output)")


def check(args) -> None:
    """UsageError naming the option for a bad value or another model's option; then the defaults filled in."""
    from ...physics.moment import MODELS

    if args.model not in MODELS:
        raise UsageError(f"--model: unknown model {args.model!r} (choose {', '.join(MODELS)})")
    for name, models in MODEL_OPTIONS.items():
        value = getattr(args, name)
        if value is not None and value is not False and args.model not in models:
            raise UsageError(f"--{name.replace('_', '-')}: not a parameter of --model {args.model} "
                             f"({NATURE[args.model]}); only --model {' and '.join(models)} "
                             f"take{'s' if len(models) == 1 else ''} it")
    d = defaults()
    for name in FILLED:
        if getattr(args, name) is None:
            setattr(args, name, d[name])
    for name in ("drive", "offset", "phases", "easy_axis", "easy_axis_vector"):
        values = getattr(args, name)
        values = [values] if isinstance(values, float) else (values or [])
        if not all(math.isfinite(v) for v in values):
            raise UsageError(f"--{name.replace('_', '-')}: must be finite numbers, got {values}")
    if args.rtol is not None and not 0 < args.rtol < 1:
        raise UsageError(f"--rtol: must be in (0, 1), got {args.rtol}")
    positive("diameter", args.diameter)
    positive("anisotropy", args.anisotropy, allow_zero=True)
    positive("base-frequency", args.base_frequency)
    for name in ("ms", "alpha", "temperature", "rtol"):
        positive(name, getattr(args, name))
    if args.samples is not None and args.samples <= 0:
        raise UsageError(f"--samples: must be a positive integer, got {args.samples}")
    if args.degree is not None and args.degree < 1:
        raise UsageError(f"--degree: must be a positive integer, got {args.degree}")
    if args.max_degree < 1:
        raise UsageError(f"--max-degree: must be a positive integer, got {args.max_degree}")
    if args.model == "brown":
        if args.hydrodynamic_diameter is None:
            raise UsageError("--hydrodynamic-diameter: required with --model brown (nm)")
        positive("viscosity", args.viscosity)
        if args.hydrodynamic_diameter < args.diameter:
            raise UsageError(f"--hydrodynamic-diameter: {args.hydrodynamic_diameter:g} nm is below --diameter "
                             f"{args.diameter:g} nm (the shell adds to the core)")
    if len(args.offset) not in (2, 3):
        raise UsageError(f"--offset: need 2 or 3 components in mT, got {len(args.offset)}")
    if len(args.dividers) != len(args.drive):
        raise UsageError(f"--dividers: need one divider per --drive amplitude ({len(args.drive)}), "
                         f"got {len(args.dividers)}")
    if any(d <= 0 for d in args.dividers):
        raise UsageError(f"--dividers: must be positive integers, got {args.dividers}")


def run(args) -> int:
    import numpy as np

    from ...physics.excitation import Excitation
    from ...physics.moment import FOKKER_PLANCK, solve
    from ...physics.operator import easy_axis_vector
    from ...physics.params import BrownParticle, Particle

    start = time.perf_counter()
    check(args)
    extra = {k: getattr(args, k) for k in ("ms", "alpha", "temperature") if getattr(args, k) is not None}
    try:
        if args.model == "brown":
            particle = BrownParticle(args.diameter * NM, args.hydrodynamic_diameter * NM, args.viscosity, **extra)
        else:
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

    check_output(args.output)  # an unwritable -o fails now, not after the solve; the file is not touched
    if args.model in FOKKER_PLANCK:
        check_degree(args.degree, args.max_degree, particle, excitation, args.force_degree)
        options = {k: v for k, v in (("degree", args.degree), ("rtol", args.rtol)) if v is not None}
        options["max_degree"] = args.max_degree
        result = solve(particle, excitation, easy, model=args.model, **options)
        info = (f"degree L={result.degree}, method {result.method}, periodicity residual "
                f"{result.periodicity:.2e} after {result.cycles} cycle(s), {result.stats['steps']} steps")
    else:
        result = solve(particle, excitation, easy, model=args.model)
        info = f"model {args.model}"
    write_csv(args.output, result.times, result.moment, result.rate)
    say(f"mpisweep moment: {info}, wall time {time.perf_counter() - start:.3f} s")
    return 0


def check_degree(degree, max_degree, particle, excitation, force) -> None:
    """Errors above --max-degree and where the estimated truncation error exceeds the budget; else a warning
    below the automatic degree."""
    from ...physics.solver import ACCURACY_BUDGET, auto_degree, truncation_estimate

    automatic = auto_degree(particle, excitation.max_field())
    if degree is None and automatic > max_degree:
        raise UsageError(f"--max-degree: the fields (strongest {excitation.max_field() / MT:.4g} mT from --drive and "
                         f"--offset) need the truncation degree L = {automatic}, above --max-degree {max_degree} "
                         "(a solve costs ~L³; the paper grid needs at most 42): weaken them, or raise --max-degree")
    if degree is None:
        return
    if degree > max_degree:
        raise UsageError(f"--degree: {degree} is above --max-degree {max_degree}; raise --max-degree to run it")
    if degree >= automatic:
        return
    estimate = truncation_estimate(degree, automatic)
    text = f"--degree {degree} is below the automatic choice {automatic}: estimated truncation error {estimate:.1e}"
    if estimate > ACCURACY_BUDGET and not force:
        raise UsageError(f"{text} > {ACCURACY_BUDGET:g}; leave --degree out, or add --force-degree to run it anyway")
    say(f"mpisweep moment: warning: {text}")


def check_output(path) -> None:
    """UsageError unless `path` ("-": standard output) can be written; the file itself is not touched."""
    if path == "-":
        return
    target = Path(path)
    folder = target.parent
    if target.is_dir():
        raise UsageError(f"--output: cannot write {path} (it is a directory)")
    if not folder.is_dir():
        raise UsageError(f"--output: cannot write {path} (no directory {folder})")
    if not os.access(folder, os.W_OK | os.X_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise UsageError(f"--output: cannot write {path} (permission denied)")


def write_csv(path, times, moment, rate) -> None:
    """The CSV on standard output ("-"), or to a temporary sibling renamed over `path` once complete."""
    from ...io.atomic import atomic_path

    def write(out):
        w = csv.writer(out)
        w.writerow(["t", "mx", "my", "mz", "dmx", "dmy", "dmz"])
        for t, m, d in zip(times, moment, rate):
            w.writerow([f"{t:.10e}", *(f"{v:.12e}" for v in m), *(f"{v:.12e}" for v in d)])

    if path == "-":
        write(sys.stdout)
        return
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as out:
        write(out)


COMMANDS = (
    Command("moment", "mean moment <m>(t) and d<m>/dt over one drive cycle in periodic steady state",
            "Solve the Néel (or, with --model brown, the Brownian) Fokker-Planck equation, or an equilibrium model, "
            "for one particle and one field trajectory B(t) = offset + A_i cos(2π fB/divider_i t); write one cycle "
            "as CSV.",
            add_arguments, run),
)
