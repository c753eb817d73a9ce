"""The refine stage's commands (``workflow/rules/refine.smk``): screen-blocks, refine-round, refine-table."""

from __future__ import annotations

from ...errors import UsageError
from ...sweep.command import Command, add_config_argument, load_sweep, logger, say


def add_screen_blocks(p) -> None:
    add_config_argument(p)
    p.add_argument("--diameter", type=float, required=True, help="the core diameter whose blocks are screened, nm")
    p.add_argument("--output", "-o", help="the job's record (default <output>/screening/chunks/D<d>.json)")


def run_screen_blocks(args) -> int:
    from .screening import screen_chunk

    sweep = load_sweep(args.config)
    if args.diameter not in sweep.grids.diameters_nm:
        raise UsageError(f"--diameter: {args.diameter:g} nm is not a diameter of grids.diameters "
                         f"{list(sweep.grids.diameters_nm)}")
    record = screen_chunk(sweep, args.diameter, args.output, log=logger("screen-blocks"))
    say(f"mpisweep screen-blocks: {len(record['blocks'])} blocks at the screening fidelity (angles "
        f"{', '.join(f'{a:g}°' for a in record['angles'])}; {' × '.join(map(str, record['offsets']))} offsets), "
        f"{record['core_seconds']:.0f} core-s")
    return 0


def add_refine_round(p) -> None:
    add_config_argument(p)
    p.add_argument("--round", type=int, required=True, help="the round, 0 = the coarse subgrid")
    p.add_argument("--previous", help="the previous round's JSON (required from round 1 on)")
    p.add_argument("--output", "-o", help="the round's JSON (default <output>/refine/round_<n>.json)")


def run_refine_round(args) -> int:
    from .rounds import refine_round

    if args.round < 0:
        raise UsageError(f"--round: must be 0 (the coarse subgrid) or more, got {args.round}")
    if args.round > 0 and not args.previous:
        raise UsageError("mpisweep refine-round: --previous (round_<n-1>.json) is required from round 1 on")
    # a --previous that is no round's JSON: StoreError naming the file (sweep.refine.read_round)
    refine_round(load_sweep(args.config), args.round, args.previous, args.output, log=logger("refine-round"))
    return 0


def add_refine_table(p) -> None:
    p.add_argument("--round", required=True, help="the last round's JSON (refine/round_<n>.json)")
    p.add_argument("--output", "-o", required=True, help="the CSV (refine/rounds.csv)")
    p.add_argument("--config", help="the sweep's config (with --screening)")
    p.add_argument("--screening", help="multi-fidelity rounds: also write M1's ε_global over the whole grid at the "
                   "screening fidelity to this CSV (refine/screening_m1_eps_global.csv)")


def run_refine_table(args) -> int:
    from ...io.atomic import write_csv
    from ...sweep.refine import read_round
    from .rounds import TABLE_FIELDS, screening_table

    if args.screening and not args.config:
        raise UsageError("mpisweep refine-table: --screening needs --config (the grid's coordinates)")
    last = read_round(args.round)
    write_csv(args.output, last["table"], TABLE_FIELDS)
    say(f"mpisweep refine-table: {len(last['table'])} rounds → {args.output}")
    if args.screening:
        rows, fields = screening_table(load_sweep(args.config), last)
        write_csv(args.screening, rows, fields)
        say(f"mpisweep refine-table: M1's ε_global at the screening fidelity → {args.screening}")
    return 0


COMMANDS = (
    Command("screen-blocks", "the blocks of one diameter at the screening fidelity (config refine.screening)",
            "Simulate every block of one core diameter at the screening fidelity of multi-fidelity rounds (a few "
            "angles on an offset subgrid), under <output>/screening; finished blocks are kept.",
            add_screen_blocks, run_screen_blocks),
    Command("refine-round", "one round of a coarse-to-fine sweep (config refine)",
            "Fit the blocks simulated so far (the coarse subgrid in round 0), record the answer and choose the next "
            "round's blocks.",
            add_refine_round, run_refine_round),
    Command("refine-table", "the rounds of a coarse-to-fine sweep as a CSV",
            "One row per round (blocks added, core-seconds, the answer) from the last round.",
            add_refine_table, run_refine_table),
)
