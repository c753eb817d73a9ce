"""``mpisweep check-config CONFIG``: a YAML sweep config validated, its defaults filled, resolved to SI."""

from __future__ import annotations

import json
from pathlib import Path

from ...errors import UsageError
from ..command import Command, say


def add_arguments(parser) -> None:
    parser.add_argument("file", metavar="CONFIG", help="YAML sweep config")
    parser.add_argument("--output", "-o", help="write the resolved config JSON here (default: standard output)")


def run(args) -> int:
    from ..config import Sweep
    from ..cost import axes_per_entry

    if not Path(args.file).exists():
        raise UsageError(f"CONFIG: {args.file} not found")
    sweep = Sweep.load(args.file)  # a file that is not UTF-8 text: ConfigError naming it (schema.read_yaml)
    if args.output:
        sweep.write(args.output)
    else:
        print(json.dumps(sweep.to_dict(), indent=1, sort_keys=True))
    o = sweep.offset_grid
    say(f"mpisweep check-config: {args.file} is valid: {len(sweep.blocks)} blocks × {len(sweep.angles)} angles × "
        f"{o.size} offsets, config hash {sweep.config_hash[:12]}")
    if sweep.distribution is not None and sweep.distribution.kind == "random":
        sigmas = [sweep.particle(d, k).sigma for _, d, k in sweep.blocks]
        counts = [axes_per_entry(sweep, s) for s in (min(sigmas), max(sigmas))]
        say(f"mpisweep check-config: random easy axes: {counts[0]}–{counts[1]} directions solved per offset "
            f"(σ {min(sigmas):.1f}–{max(sigmas):.1f}; grids.quadrature sets the rule)")
    return 0


COMMANDS = (
    Command("check-config", "validate a sweep config and print the resolved (SI) config",
            "Validate a YAML sweep config against the schema, fill in the defaults, convert to SI and print the "
            "result (or write it with -o).",
            add_arguments, run),
)
