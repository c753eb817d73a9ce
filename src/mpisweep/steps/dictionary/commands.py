"""The dictionary stage's commands (``workflow/rules/dictionary.smk``): warmup, simulate-block, assemble,
m0-dictionary, m0a-dictionary."""

from __future__ import annotations

import time

from ...errors import UsageError
from ...sweep.command import Command, add_block_arguments, add_config_argument, block_value, load_sweep, say


# --------------------------------------------------------------------------------- warmup
def add_warmup(p) -> None:
    p.add_argument("--output", "-o", help="write a stamp file here when done")


def run_warmup(args) -> int:
    from .warmup import warm_up

    seconds = warm_up(args.output)
    say(f"mpisweep warmup: numba kernels compiled and cached in {seconds:.1f} s")
    return 0


# ------------------------------------------------------------------------- simulate-block
def add_simulate_block(p) -> None:
    add_config_argument(p)
    add_block_arguments(p)
    p.add_argument("--shard", help="shard path (default <output>/dictionary/shards/D…_K….zarr)")
    p.add_argument("--marker", help="marker path (default <output>/dictionary/markers/D…_K….json)")
    p.add_argument("--part", default="1/1", metavar="I/N",
                   help="only part I of N of the block (groups of mirror-paired angles, as the job plan splits it)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run_simulate_block(args) -> int:
    from ...sweep.cost import part_name
    from ...sweep.names import block_name
    from .simulate import part_angles, simulate_shard

    try:
        index, count = (int(v) for v in args.part.split("/"))
    except ValueError:
        raise UsageError(f"--part: expected I/N (e.g. 2/3), got {args.part!r}") from None
    if not 1 <= index <= count:
        raise UsageError(f"--part: need 1 ≤ I ≤ N, got {args.part}")
    sweep = load_sweep(args.config)
    value = block_value(args, sweep)
    name = part_name(block_name(args.diameter, value, sweep.parameter.symbol), index, count)
    try:
        part_angles(sweep, args.diameter, value, index, count)
    except ValueError as err:
        raise UsageError(f"--part: {err}") from None
    info = simulate_shard(sweep, args.diameter, value, args.shard, args.marker,
                          progress=not args.quiet, part=(index, count))
    say(f"mpisweep simulate-block {name}: L={info['degree_min']}…{info['degree']}, rtol={info['rtol']:.3g}, "
        f"max periodicity residual {info['max_periodicity']:.2e}, {info['steps']} steps, "
        f"wall time {info['wall_time_s']:.1f} s")
    if not info["finite"]:
        say(f"mpisweep simulate-block {name}: warning: non-finite rows (the fits skip this entry)")
    return 0


# ------------------------------------------------------------------------------- assemble
def add_refined_argument(p) -> None:
    p.add_argument("--refined", metavar="ROUND_JSON",
                   help="a refined sweep's last round (refine/round_<n>.json): only its blocks, the others missing")


def refined_blocks(args) -> list[str] | None:
    """The block names of ``--refined``'s round (None: every block of the grid)."""
    from ...sweep.refine import read_round

    return read_round(args.refined)["blocks"] if args.refined else None


def add_assemble(p) -> None:
    add_config_argument(p)
    p.add_argument("--output", "-o", help="store path (default <output>/dictionary/fp.zarr)")
    add_refined_argument(p)


def run_assemble(args) -> int:
    from .assemble import assemble

    sweep = load_sweep(args.config)
    t0 = time.perf_counter()
    out = assemble(sweep, args.output, blocks=refined_blocks(args))
    say(f"mpisweep assemble: {out} in {time.perf_counter() - t0:.1f} s")
    return 0


# ------------------------------------------------------------------ equilibrium dictionaries
def add_store_output(p, name: str) -> None:
    add_config_argument(p)
    p.add_argument("--output", "-o", help=f"store path (default <output>/dictionary/{name})")


def run_m0_dictionary(args) -> int:
    from .m0_dictionary import build_m0

    out = build_m0(load_sweep(args.config), args.output)
    say(f"mpisweep m0-dictionary: {out}")
    return 0


def add_m0a_dictionary(p) -> None:
    add_store_output(p, "m0a.zarr")
    add_refined_argument(p)
    p.add_argument("--workers", type=int, default=1, metavar="N", help="processes computing entries (default 1)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")


def run_m0a_dictionary(args) -> int:
    from ...sweep.progress import printer
    from .m0a_dictionary import build_m0a

    t0 = time.perf_counter()
    progress = None if args.quiet else printer("m0a-dictionary", unit="entries")
    out = build_m0a(load_sweep(args.config), args.output, blocks=refined_blocks(args), progress=progress,
                    workers=args.workers)
    say(f"mpisweep m0a-dictionary: {out} in {time.perf_counter() - t0:.1f} s")
    return 0


COMMANDS = (
    Command("warmup", "compile the numba kernels once into the cache (before parallel jobs)",
            "Run one tiny solve so that numba compiles and caches every kernel; parallel simulate jobs then load the "
            "cache instead of racing to write it (NUMBA_CACHE_DIR).",
            add_warmup, run_warmup),
    Command("simulate-block", "one dictionary block (D, K): all angles and offsets → Zarr shard + marker",
            "Simulate the Fokker-Planck rows of one (D, K) for every configured angle and offset; write the shard "
            "atomically, then its JSON marker.",
            add_simulate_block, run_simulate_block),
    Command("assemble", "combine all shards into the dictionary tensor fp.zarr",
            "Check every shard against its marker and write the assembled Zarr v3 store.",
            add_assemble, run_assemble),
    Command("m0-dictionary", "Langevin (M0) dictionary m0.zarr",
            "Equilibrium (Langevin) rows for every configured diameter and offset.",
            lambda p: add_store_output(p, "m0.zarr"), run_m0_dictionary),
    Command("m0a-dictionary", "anisotropic-equilibrium (M0a) dictionary m0a.zarr",
            "Static Boltzmann-equilibrium rows (with K and the easy axis, no relaxation) for every configured "
            "diameter, anisotropy, angle and offset (a refined sweep: the entries its rounds simulated).",
            add_m0a_dictionary, run_m0a_dictionary),
)
