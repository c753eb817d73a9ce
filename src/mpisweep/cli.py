"""Command line: `mpisweep moment …` (one solve), `mdf-info`, and the sweep workflow's steps.

The command line speaks the field's units (nm, J/m³, degrees, mT) and converts to SI once, here.
Exit status: 0 on success, 2 for a bad argument (:class:`UsageError`), 1 for every other
:class:`MpisweepError` (bad config, bad file, failed solve, corrupt store), each as one line.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from pathlib import Path

from .errors import MpisweepError, UsageError

MT = 1e-3  # tesla per millitesla
NM = 1e-9  # metre per nanometre


def _positive(name, value, allow_zero=False):
    if value is None:
        return value
    ok = value >= 0 if allow_zero else value > 0
    if not (ok and math.isfinite(value)):
        raise UsageError(f"--{name}: must be {'≥ 0' if allow_zero else '> 0'}, got {value}")
    return value


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------- moment
def _add_moment(sub):
    from .physics.moment import MODELS
    from .sweep.schema import schema_default

    scanner = schema_default("scanner")  # the Bruker scanner: one home for its defaults
    solver = schema_default("solver")
    particle = schema_default("particle")
    p = sub.add_parser(
        "moment",
        help="mean moment <m>(t) and d<m>/dt over one drive cycle in periodic steady state",
        description="Solve the Néel (or, with --model brown, the Brownian) Fokker-Planck equation, or an "
        "equilibrium model, for one particle "
        "and one field trajectory B(t) = offset + A_i cos(2π fB/divider_i t); write one cycle as CSV.",
    )
    p.add_argument("--diameter", type=float, required=True, help="core diameter in nm")
    p.add_argument("--anisotropy", type=float, default=0.0, help="uniaxial anisotropy K in J/m³ (default 0)")
    axis = p.add_mutually_exclusive_group()
    axis.add_argument("--easy-axis", type=float, default=0.0, help="in-plane easy-axis angle in degrees from x")
    axis.add_argument("--easy-axis-vector", type=float, nargs=3, metavar=("X", "Y", "Z"), help="easy axis as a vector")
    p.add_argument("--drive", type=float, nargs="+", default=scanner["drive"],
                   help="drive amplitudes in mT, one per axis")
    p.add_argument("--dividers", type=int, nargs="+", default=scanner["dividers"],
                   help="dividers of the base frequency")
    p.add_argument("--base-frequency", type=float, default=scanner["base_frequency"], help="base frequency in Hz")
    p.add_argument("--phases", type=float, nargs="+", help="drive phases in degrees (default 0)")
    p.add_argument("--offset", type=float, nargs="+", default=[0.0, 0.0],
                   help="static offset field in mT (2 or 3 components)")
    p.add_argument("--samples", type=int, help="samples per cycle (default lcm(dividers))")
    p.add_argument("--degree", type=int, help="truncation degree L (default: automatic from σ and ξ)")
    p.add_argument("--force-degree", action="store_true",
                   help="run --degree even where its estimated truncation error exceeds the 1e-4 budget")
    p.add_argument("--max-degree", type=int, default=solver["max_degree"],
                   help=f"refuse a truncation degree above this, given or automatic (default {solver['max_degree']}; "
                   "a solve costs ~L³)")
    p.add_argument("--rtol", type=float, help="integrator relative tolerance")
    p.add_argument("--model", default="fp",
                   help=f"{', '.join(MODELS)}: Néel Fokker-Planck, Brownian Fokker-Planck (a particle in a fluid), "
                   "static Boltzmann with K, Langevin")
    p.add_argument("--hydrodynamic-diameter", type=float,
                   help="hydrodynamic diameter in nm (--model brown; at least --diameter)")
    p.add_argument("--viscosity", type=float, default=particle["viscosity"],
                   help=f"viscosity of the fluid in Pa·s (--model brown; default {particle['viscosity']:g}, water)")
    p.add_argument("--ms", type=float, help="saturation magnetisation in A/m")
    p.add_argument("--alpha", type=float, help="Gilbert damping")
    p.add_argument("--temperature", type=float, help="temperature in K")
    p.add_argument("--output", "-o", default="-", help="CSV file (default: standard output)")
    p.set_defaults(run=run_moment)


def _check_moment_args(args) -> None:
    from .physics.moment import MODELS

    if args.model not in MODELS:
        raise UsageError(f"--model: unknown model {args.model!r} (choose {', '.join(MODELS)})")
    for name in ("drive", "offset", "phases", "easy_axis", "easy_axis_vector"):
        values = getattr(args, name)
        values = [values] if isinstance(values, float) else (values or [])
        if not all(math.isfinite(v) for v in values):
            raise UsageError(f"--{name.replace('_', '-')}: must be finite numbers, got {values}")
    if args.rtol is not None and not 0 < args.rtol < 1:
        raise UsageError(f"--rtol: must be in (0, 1), got {args.rtol}")
    _positive("diameter", args.diameter)
    _positive("anisotropy", args.anisotropy, allow_zero=True)
    _positive("base-frequency", args.base_frequency)
    for name in ("ms", "alpha", "temperature", "rtol"):
        _positive(name, getattr(args, name))
    if args.samples is not None and args.samples <= 0:
        raise UsageError(f"--samples: must be a positive integer, got {args.samples}")
    if args.degree is not None and args.degree < 1:
        raise UsageError(f"--degree: must be a positive integer, got {args.degree}")
    if args.max_degree < 1:
        raise UsageError(f"--max-degree: must be a positive integer, got {args.max_degree}")
    brown = args.model == "brown"
    if brown and args.hydrodynamic_diameter is None:
        raise UsageError("--hydrodynamic-diameter: required with --model brown (nm)")
    if brown:
        _positive("viscosity", args.viscosity)
        if args.hydrodynamic_diameter < args.diameter:
            raise UsageError(f"--hydrodynamic-diameter: {args.hydrodynamic_diameter:g} nm is below --diameter "
                             f"{args.diameter:g} nm (the shell adds to the core)")
        for name in ("anisotropy", "alpha"):
            if getattr(args, name):
                raise UsageError(f"--{name}: not a parameter of --model brown (a rigid dipole in a fluid)")
    elif args.hydrodynamic_diameter is not None:
        raise UsageError("--hydrodynamic-diameter: only with --model brown")
    if len(args.offset) not in (2, 3):
        raise UsageError(f"--offset: need 2 or 3 components in mT, got {len(args.offset)}")
    if len(args.dividers) != len(args.drive):
        raise UsageError(f"--dividers: need one divider per --drive amplitude ({len(args.drive)}), "
                         f"got {len(args.dividers)}")
    if any(d <= 0 for d in args.dividers):
        raise UsageError(f"--dividers: must be positive integers, got {args.dividers}")


def run_moment(args) -> int:
    import numpy as np

    from .physics.excitation import Excitation
    from .physics.moment import FOKKER_PLANCK, solve
    from .physics.operator import easy_axis_vector
    from .physics.params import BrownParticle, Particle

    start = time.perf_counter()
    _check_moment_args(args)
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

    _check_output(args.output)  # an unwritable -o fails now, not after the solve; the file is not touched
    if args.model in FOKKER_PLANCK:
        _check_degree(args.degree, args.max_degree, particle, excitation, args.force_degree)
        options = {k: v for k, v in (("degree", args.degree), ("rtol", args.rtol)) if v is not None}
        options["max_degree"] = args.max_degree
        result = solve(particle, excitation, easy, model=args.model, **options)
        info = (f"degree L={result.degree}, periodicity residual {result.periodicity:.2e} "
                f"after {result.cycles} cycle(s), {result.stats['steps']} steps")
    else:
        result = solve(particle, excitation, easy, model=args.model)
        info = f"model {args.model}"
    _write_moment_csv(args.output, result.times, result.moment, result.rate)
    _stderr(f"mpisweep moment: {info}, wall time {time.perf_counter() - start:.3f} s")
    return 0


def _check_degree(degree, max_degree, particle, excitation, force):
    """Errors above --max-degree and where the estimated truncation error exceeds the budget; else a warning
    below the automatic degree."""
    from .physics.solver import ACCURACY_BUDGET, auto_degree, truncation_estimate

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
    _stderr(f"mpisweep moment: warning: {text}")


def _check_output(path) -> None:
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


def _write_moment_csv(path, times, moment, rate):
    """The CSV on standard output ("-"), or to a temporary sibling renamed over `path` once complete."""
    from .io.atomic import atomic_path

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


# -------------------------------------------------------------------------------- mdf-info
def _add_mdf_info(sub):
    p = sub.add_parser("mdf-info", help="summarise an MDF v2 system-matrix file",
                       description="Print version, grid, channels, frequencies, drive field and processing flags "
                       "of an MDF file.")
    p.add_argument("file", metavar="FILE", help="MDF (HDF5) file")
    p.set_defaults(run=run_mdf_info)


def run_mdf_info(args) -> int:
    from .io.mdf import describe

    path = Path(args.file)
    if path.is_dir():
        raise UsageError(f"FILE: {path} is a directory, not an MDF file")
    if not path.exists():
        raise UsageError(f"FILE: {path}: no such file")
    print(describe(path))
    return 0


# ----------------------------------------------------------------- sweep workflow steps
# The Snakefile's rules call these; each reads the resolved config JSON the workflow wrote
# (<output>/.resolved/<hash>.json) or a YAML sweep config, validated on the fly.
def _sweep(path):
    from .sweep.config import Sweep

    if not Path(path).exists():
        raise UsageError(f"--config: {path} not found")
    return Sweep.read(path)


def _add_config_arg(p):
    p.add_argument("--config", required=True, metavar="CONFIG",
                   help="resolved config JSON (<output>/.resolved/<hash>.json) or a YAML sweep config")


def _add_dk(p, what="core diameter in nm", what_k="anisotropy constant K in J/m³"):
    p.add_argument("--diameter", type=float, required=True, help=what)
    second = p.add_mutually_exclusive_group(required=True)
    second.add_argument("--anisotropy", type=float, help=f"{what_k} (model neel)")
    second.add_argument("--hydrodynamic-diameter", type=float, help="hydrodynamic diameter in nm (model brown)")


def _add_sweep(sub):
    p = sub.add_parser("check-config", help="validate a sweep config and print the resolved (SI) config",
                       description="Validate a YAML sweep config against the schema, fill in the defaults, convert "
                       "to SI and print the result (or write it with -o).")
    p.add_argument("file", metavar="CONFIG", help="YAML sweep config")
    p.add_argument("--output", "-o", help="write the resolved config JSON here")
    p.set_defaults(run=run_check_config)

    p = sub.add_parser("warmup", help="compile the numba kernels once into the cache (before parallel jobs)",
                       description="Run one tiny solve so that numba compiles and caches every kernel; parallel "
                       "simulate jobs then load the cache instead of racing to write it (NUMBA_CACHE_DIR).")
    p.add_argument("--output", "-o", help="write a stamp file here when done")
    p.set_defaults(run=run_warmup)

    p = sub.add_parser("simulate-block",
                       help="one dictionary block (D, K): all angles and offsets → Zarr shard + marker",
                       description="Simulate the Fokker-Planck rows of one (D, K) for every configured angle and "
                       "offset; write the shard atomically, then its JSON marker.")
    _add_config_arg(p)
    _add_dk(p)
    p.add_argument("--shard", help="shard path (default <output>/dictionary/shards/D…_K….zarr)")
    p.add_argument("--marker", help="marker path (default <output>/dictionary/markers/D…_K….json)")
    p.add_argument("--part", default="1/1", metavar="I/N",
                   help="only part I of N of the block (groups of mirror-paired angles, as the job plan splits it)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(run=run_simulate_block)

    p = sub.add_parser("assemble", help="combine all shards into the dictionary tensor fp.zarr",
                       description="Check every shard against its marker and write the assembled Zarr v3 store.")
    _add_config_arg(p)
    p.add_argument("--output", "-o", help="store path (default <output>/dictionary/fp.zarr)")
    p.add_argument("--refined", metavar="ROUND_JSON",
                   help="a refined sweep's last round (refine/round_<n>.json): only its blocks, the others missing")
    p.set_defaults(run=run_assemble)

    p = sub.add_parser("refine-round", help="one round of a coarse-to-fine sweep (config refine)",
                       description="Fit the blocks simulated so far (the coarse subgrid in round 0), record the "
                       "answer and choose the next round's blocks.")
    _add_config_arg(p)
    p.add_argument("--round", type=int, required=True, help="the round, 0 = the coarse subgrid")
    p.add_argument("--previous", help="the previous round's JSON (required from round 1 on)")
    p.add_argument("--output", "-o", help="the round's JSON (default <output>/refine/round_<n>.json)")
    p.set_defaults(run=run_refine_round)

    p = sub.add_parser("refine-table", help="the rounds of a coarse-to-fine sweep as a CSV",
                       description="One row per round (blocks added, core-seconds, the answer) from the last round.")
    p.add_argument("--round", required=True, help="the last round's JSON (refine/round_<n>.json)")
    p.add_argument("--output", "-o", required=True, help="the CSV (refine/rounds.csv)")
    p.set_defaults(run=run_refine_table)

    p = sub.add_parser("m0-dictionary", help="Langevin (M0) dictionary m0.zarr",
                       description="Equilibrium (Langevin) rows for every configured diameter and offset.")
    _add_config_arg(p)
    p.add_argument("--output", "-o", help="store path (default <output>/dictionary/m0.zarr)")
    p.set_defaults(run=run_m0_dictionary)

    p = sub.add_parser("m0a-dictionary", help="anisotropic-equilibrium (M0a) dictionary m0a.zarr",
                       description="Static Boltzmann-equilibrium rows (with K and the easy axis, no relaxation) for "
                       "every configured diameter, anisotropy, angle and offset.")
    _add_config_arg(p)
    p.add_argument("--output", "-o", help="store path (default <output>/dictionary/m0a.zarr)")
    p.set_defaults(run=run_m0a_dictionary)

    p = sub.add_parser("virtual-component", help="virtual scanner: rows of one mixture component (finer solver)",
                       description="Simulate one component of the virtual scanner's mixture at all rfft bins.")
    _add_config_arg(p)
    _add_dk(p, "core diameter in nm (a configured component)", "anisotropy constant in J/m³ (a configured component)")
    p.add_argument("--output", "-o", help="npz path (default <output>/measurement/components/D…_K….npz)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(run=run_virtual_component)

    p = sub.add_parser("virtual-scanner", help="virtual scanner: MDF files + calibrations.csv + truth.json",
                       description="Mix the simulated components, apply the transfer function and noise, and "
                       "write one MDF file per angle.")
    _add_config_arg(p)
    p.set_defaults(run=run_virtual_scanner)

    p = sub.add_parser("check-measurement", help="check measured MDF files against the configured scanner",
                       description="Index the measured files (CSV), check cycle, dividers, samples, grid size, "
                       "offset fields and channels against the config; write a JSON report.")
    _add_config_arg(p)
    p.add_argument("--output", "-o", required=True, help="JSON report")
    p.set_defaults(run=run_check_measurement)

    p = sub.add_parser("fit", help="fit M0, M1, M2; write tables, summary.json and models.zarr",
                       description="Fit the models to the measured data and write results under <output>/fits.")
    _add_config_arg(p)
    p.add_argument("--check", help="report of check-measurement (default: index the files again)")
    p.add_argument("--fp", help="assembled dictionary (default <output>/dictionary/fp.zarr)")
    p.add_argument("--m0", help="M0 dictionary (default <output>/dictionary/m0.zarr)")
    p.add_argument("--outdir", help="output folder (default <output>/fits)")
    p.set_defaults(run=run_fit)

    p = sub.add_parser("check-angles", help="which angle convention (from x or y, either sense) fits the data best",
                       description="Fit M1 to the measured files under each candidate mapping model angle = offset + "
                       "sign × CSV angle (offset 0° or 90°, sign ±1) and print the mappings, best first.")
    _add_config_arg(p)
    p.add_argument("--fp", help="assembled dictionary (default <output>/dictionary/fp.zarr)")
    p.add_argument("--output", "-o", help="also write the table as CSV here")
    p.set_defaults(run=run_check_angles)

    p = sub.add_parser("figures", help="render the figures of a models.zarr",
                       description="Open MODELS_ZARR (the fit step's models dataset) and write the PNG figures "
                       "of mpisweep.figures.render_all into OUTDIR.")
    p.add_argument("models", metavar="MODELS_ZARR")
    p.add_argument("outdir", metavar="OUTDIR")
    p.set_defaults(run=run_figures)


def run_check_config(args) -> int:
    from .sweep.config import Sweep

    if not Path(args.file).exists():
        raise UsageError(f"CONFIG: {args.file} not found")
    sweep = Sweep.load(args.file)
    if args.output:
        sweep.write(args.output)
    else:
        print(json.dumps(sweep.to_dict(), indent=1, sort_keys=True))
    o = sweep.offset_grid
    _stderr(f"mpisweep check-config: {args.file} is valid: {len(sweep.blocks)} blocks × {len(sweep.angles)} angles × "
            f"{o.size} offsets, config hash {sweep.config_hash[:12]}")
    return 0


def run_warmup(args) -> int:
    from .steps.dictionary.warmup import warm_up

    seconds = warm_up(args.output)
    _stderr(f"mpisweep warmup: numba kernels compiled and cached in {seconds:.1f} s")
    return 0


def _dk(args, sweep) -> float:
    """The block's second parameter from --anisotropy (model neel) or --hydrodynamic-diameter (model brown)."""
    _positive("diameter", args.diameter)
    flag = sweep.parameter.flag
    value = getattr(args, sweep.parameter.name)
    if value is None:
        raise UsageError(f"{flag}: required for model {sweep.model} (the sweep's second grid parameter)")
    _positive(flag[2:], value, allow_zero=sweep.model == "neel")
    return value


def run_simulate_block(args) -> int:
    from .steps.dictionary.simulate import part_angles, simulate_shard
    from .sweep.cost import part_name
    from .sweep.names import block_name

    try:
        index, count = (int(v) for v in args.part.split("/"))
    except ValueError:
        raise UsageError(f"--part: expected I/N (e.g. 2/3), got {args.part!r}") from None
    if not 1 <= index <= count:
        raise UsageError(f"--part: need 1 ≤ I ≤ N, got {args.part}")
    sweep = _sweep(args.config)
    value = _dk(args, sweep)
    name = part_name(block_name(args.diameter, value, sweep.parameter.symbol), index, count)
    try:
        part_angles(sweep, args.diameter, value, index, count)
    except ValueError as err:
        raise UsageError(f"--part: {err}") from None
    info = simulate_shard(sweep, args.diameter, value, args.shard, args.marker,
                          progress=not args.quiet, part=(index, count))
    _stderr(f"mpisweep simulate-block {name}: L={info['degree_min']}…{info['degree']}, rtol={info['rtol']:.3g}, "
            f"max periodicity residual {info['max_periodicity']:.2e}, {info['steps']} steps, "
            f"wall time {info['wall_time_s']:.1f} s")
    if not info["finite"]:
        _stderr(f"mpisweep simulate-block {name}: warning: non-finite rows (the fits skip this entry)")
    return 0


def run_assemble(args) -> int:
    from .steps.dictionary.assemble import assemble

    sweep = _sweep(args.config)
    t0 = time.perf_counter()
    blocks = json.loads(Path(args.refined).read_text())["blocks"] if args.refined else None
    out = assemble(sweep, args.output, blocks=blocks)
    _stderr(f"mpisweep assemble: {out} in {time.perf_counter() - t0:.1f} s")
    return 0


def run_refine_table(args) -> int:
    from .io.atomic import write_csv
    from .steps.refine.rounds import TABLE_FIELDS

    table = json.loads(Path(args.round).read_text())["table"]
    write_csv(args.output, table, TABLE_FIELDS)
    _stderr(f"mpisweep refine-table: {len(table)} rounds → {args.output}")
    return 0


def run_refine_round(args) -> int:
    from .steps.refine.rounds import refine_round

    if args.round > 0 and not args.previous:
        raise UsageError("mpisweep refine-round: --previous (round_<n-1>.json) is required from round 1 on")
    refine_round(_sweep(args.config), args.round, args.previous, args.output,
                 log=lambda m: _stderr(f"mpisweep refine-round: {m}"))
    return 0


def run_m0_dictionary(args) -> int:
    from .steps.dictionary.m0_dictionary import build_m0

    out = build_m0(_sweep(args.config), args.output)
    _stderr(f"mpisweep m0-dictionary: {out}")
    return 0


def run_m0a_dictionary(args) -> int:
    from .steps.dictionary.m0a_dictionary import build_m0a

    t0 = time.perf_counter()
    out = build_m0a(_sweep(args.config), args.output)
    _stderr(f"mpisweep m0a-dictionary: {out} in {time.perf_counter() - t0:.1f} s")
    return 0


def run_virtual_component(args) -> int:
    from .steps.measurement.virtual_scanner import simulate_component
    from .sweep.names import block_name

    sweep = _sweep(args.config)
    value = _dk(args, sweep)
    p = sweep.parameter
    name = block_name(args.diameter, value, p.symbol)
    comps = dict(sweep.components)
    if name not in comps:
        raise UsageError(f"--diameter/{p.flag}: ({args.diameter:g} nm, {value:g} {p.unit}) "
                         "is not a component "
                         f"of measurement.virtual.components ({', '.join(comps)})")
    info = simulate_component(sweep, comps[name], args.output or sweep.layout.component(name), progress=not args.quiet)
    _stderr(f"mpisweep virtual-component {name}: L≤{info['degree']}, rtol={info['rtol']:.3g}, "
            f"wall time {info['wall_time']:.1f} s")
    return 0


def run_virtual_scanner(args) -> int:
    from .steps.measurement.virtual_scanner import virtual_scanner

    truth = virtual_scanner(_sweep(args.config))
    _stderr(f"mpisweep virtual-scanner: {len(truth['files'])} MDF files, SNR {truth['snr_db']} dB, "
            f"noise sigma {truth['noise_sigma']:.3g}")
    return 0


def run_check_measurement(args) -> int:
    from .io.atomic import write_json
    from .steps.measurement import measured as measurement

    report = measurement.check(_sweep(args.config))
    write_json(args.output, report)
    _stderr(f"mpisweep check-measurement: {len(report['files'])} file(s) match the configured scanner")
    return 0


def run_fit(args) -> int:
    from .steps.fit.fit import run_fit as fit

    fit(_sweep(args.config), args.check, args.fp, args.m0, args.outdir,
        log=lambda msg: _stderr(f"mpisweep fit: {msg}"))
    return 0


def run_check_angles(args) -> int:
    from .io.atomic import write_csv
    from .steps.fit.angles import check_angles

    rows = check_angles(_sweep(args.config), args.fp, log=_stderr)
    fields = ["angle_offset", "angle_sign", "eps_global", "best_diameter", "best_anisotropy", "note"]
    if args.output:
        write_csv(args.output, rows, fields)
    print("angle_offset  angle_sign  eps_global  best (D nm, K J/m³)")
    for r in rows:
        eps = "—" if r["eps_global"] is None else f"{r['eps_global']:.4f}"
        best = r["note"] if r["eps_global"] is None else f"({r['best_diameter']:g}, {r['best_anisotropy']:g})"
        print(f"{r['angle_offset']:>12g}  {r['angle_sign']:>+10d}  {eps:>10}  {best}")
    fitted = [r for r in rows if r["eps_global"] is not None]
    if len(fitted) > 1:
        a, b = fitted[0], fitted[1]
        print(f"best: model angle = {a['angle_offset']:g} {'+' if a['angle_sign'] > 0 else '−'} CSV angle "
              f"(ε_global {a['eps_global']:.4f}, next best {b['eps_global']:.4f}, "
              f"{100 * (b['eps_global'] / a['eps_global'] - 1):.0f} % higher)")
    return 0


def run_figures(args) -> int:
    from .figures import render_all
    from .io.stores import open_zarr, verify_variables

    src = Path(args.models)
    if not src.exists():
        raise UsageError(f"MODELS_ZARR: {src} not found")
    for path in render_all(verify_variables(open_zarr(src), src), args.outdir):
        print(path)
    return 0


def _add_orientation(sub) -> None:
    p = sub.add_parser("phantoms", help="virtual phantom measurements (MDF) + measurements.csv + truth.json",
                       description="Simulate the single-sample and map phantoms of orientation.phantoms with the "
                       "virtual scanner's mixture, transfer function, background and noise.")
    _add_config_arg(p)
    p.add_argument("--jobs", type=int, default=1, help="simulate this many (angle, component) sets at once (processes)")
    p.set_defaults(run=run_phantoms)

    p = sub.add_parser("model-matrices", help="full-band model system matrices from the fit (zarr + MDF per angle)",
                       description="Simulate the non-zero-weight (D, K) entries of the M1/M2/M3 fits on every bin "
                       "from orientation.matrices.min_frequency up and apply the transfer function.")
    _add_config_arg(p)
    p.add_argument("--model", action="append", choices=["M1", "M2", "M3"],
                   help="fit model (repeatable; default: those in orientation.models)")
    p.add_argument("--jobs", type=int, default=1, help="simulate this many (D, K) entries at once (processes)")
    p.set_defaults(run=run_model_matrices)

    p = sub.add_parser("reconstruct", help="multi-contrast Kaczmarz reconstruction of every phantom + readout",
                       description="Reconstruct all phantoms with one system-matrix set (measured, M1, M2, M3) and "
                       "read out each single-sample phantom's position and easy-axis angle.")
    _add_config_arg(p)
    p.add_argument("--model", required=True, choices=["measured", "M1", "M2", "M3"], help="system-matrix set")
    p.add_argument("--jobs", type=int, default=1, help="split the phantoms over this many processes")
    p.set_defaults(run=run_reconstruct)

    p = sub.add_parser("orientation-summary", help="angle and position error statistics + orientation figures",
                       description="Score every readout table (bias, SD, mean absolute error, 95th percentile, "
                       "maximum; position error in pixels) and draw the box plot and orientation maps.")
    _add_config_arg(p)
    p.set_defaults(run=run_orientation_summary)


def _jobs(args) -> int:
    """--jobs, checked: worker processes of a step."""
    if args.jobs < 1:
        raise UsageError(f"--jobs: must be at least 1, got {args.jobs}")
    return args.jobs


def run_phantoms(args) -> int:
    from .steps.orientation.phantoms import simulate_phantoms

    truth = simulate_phantoms(_sweep(args.config), workers=_jobs(args),
                              log=lambda m: _stderr(f"mpisweep phantoms: {m}"))
    print(f"{len(truth['phantoms'])} phantom measurements, noise σ {truth['noise_sigma']:.4g}")
    return 0


def run_model_matrices(args) -> int:
    from .steps.orientation.model_matrices import synthesize

    synthesize(_sweep(args.config), args.model, log=lambda m: _stderr(f"mpisweep model-matrices: {m}"),
               workers=_jobs(args))
    return 0


def run_reconstruct(args) -> int:
    from .steps.orientation.reconstruct import reconstruct

    reconstruct(_sweep(args.config), args.model, log=lambda m: _stderr(f"mpisweep reconstruct: {m}"),
                workers=_jobs(args))
    return 0


def run_orientation_summary(args) -> int:
    from .steps.orientation.summary import figures, summarize

    sweep = _sweep(args.config)
    summarize(sweep, log=print)
    for path in figures(sweep):
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mpisweep", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_moment(sub)
    _add_mdf_info(sub)
    _add_sweep(sub)
    _add_orientation(sub)
    return parser


def main(argv=None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    # named before the parser is built (its imports take seconds), so that Ctrl-C then names it too
    command = f"mpisweep {words[0]}" if words and not words[0].startswith("-") else "mpisweep"
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        command = f"mpisweep {args.command}"
        return args.run(args)
    except MpisweepError as err:
        _exit(err.exit_status, f"{command}: error: {err}")
    except OSError as err:  # a full disk, a read-only folder: the writers leave no partial file behind
        where = f"{err.filename}: " if err.filename else ""
        _exit(1, f"{command}: error: {where}{err.strerror or err}")
    except KeyboardInterrupt:  # Ctrl-C: one line and the shell's status for SIGINT; outputs are written atomically
        _exit(130, f"{command}: interrupted")


def _exit(status: int, message: str):
    _stderr(message)
    raise SystemExit(status)


if __name__ == "__main__":
    sys.exit(main())
