"""The refine stage's commands (``workflow/rules/refine.smk``): refine-round, refine-table."""

from __future__ import annotations

from ...errors import UsageError
from ...sweep.command import Command, add_config_argument, load_sweep, logger, say


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


def run_refine_table(args) -> int:
    from ...io.atomic import write_csv
    from ...sweep.refine import read_round
    from .rounds import TABLE_FIELDS

    table = read_round(args.round)["table"]
    write_csv(args.output, table, TABLE_FIELDS)
    say(f"mpisweep refine-table: {len(table)} rounds → {args.output}")
    return 0


COMMANDS = (
    Command("refine-round", "one round of a coarse-to-fine sweep (config refine)",
            "Fit the blocks simulated so far (the coarse subgrid in round 0), record the answer and choose the next "
            "round's blocks.",
            add_refine_round, run_refine_round),
    Command("refine-table", "the rounds of a coarse-to-fine sweep as a CSV",
            "One row per round (blocks added, core-seconds, the answer) from the last round.",
            add_refine_table, run_refine_table),
)
