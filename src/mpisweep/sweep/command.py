"""A subcommand of ``mpisweep``: the record a stage declares, and the argument helpers the stages share.

Each workflow stage declares its commands in its own ``commands`` module
(:mod:`mpisweep.steps.dictionary.commands`, …) and the tools that are no workflow step in
:mod:`mpisweep.sweep.tools`; each module lists them in ``COMMANDS``. The command line
(:mod:`mpisweep.cli`) collects them, as a plugin registry would, so a step's flags and wrapper live
beside the step: adding a step touches its rule and its stage, not the CLI. A command speaks the
field's units (nm, J/m³, degrees, mT) and converts to SI once, in its ``run``.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import UsageError


@dataclass(frozen=True)
class Command:
    """One subcommand: ``mpisweep NAME``.

    name: the subcommand (a user contract: the Snakemake rules call it); help: its line in
    ``mpisweep --help``; description: the paragraph of ``mpisweep NAME --help``; add_arguments: adds
    its options to an :class:`argparse.ArgumentParser`; run: takes the parsed arguments, returns the
    exit status (0) and raises :class:`~mpisweep.errors.MpisweepError` for anything else.
    """

    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def say(message: str) -> None:
    """One line of progress or result on stderr (stdout holds a command's data)."""
    print(message, file=sys.stderr, flush=True)


def logger(command: str) -> Callable[[str], None]:
    """A step's `log` callback: each message on stderr as ``mpisweep COMMAND: message``."""
    return lambda message: say(f"mpisweep {command}: {message}")


def positive(name: str, value, allow_zero: bool = False):
    """`value` unless it is not finite or not > 0 (≥ 0 with `allow_zero`): UsageError naming ``--name``."""
    if value is None:
        return value
    ok = value >= 0 if allow_zero else value > 0
    if not (ok and math.isfinite(value)):
        raise UsageError(f"--{name}: must be {'≥ 0' if allow_zero else '> 0'}, got {value}")
    return value


# ----------------------------------------------------------------- the workflow's steps
# The Snakefile's rules call the steps with --config: the resolved config JSON the workflow wrote
# (<output>/.resolved/<hash>.json) or a YAML sweep config, validated on the fly.
def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="CONFIG",
                        help="resolved config JSON (<output>/.resolved/<hash>.json) or a YAML sweep config")


def load_sweep(path):
    """The :class:`~mpisweep.sweep.config.Sweep` of ``--config`` (UsageError when the file is missing)."""
    from .config import Sweep

    if not Path(path).exists():
        raise UsageError(f"--config: {path} not found")
    return Sweep.read(path)


def add_block_arguments(parser: argparse.ArgumentParser, what: str = "core diameter in nm",
                        what_k: str = "anisotropy constant K in J/m³") -> None:
    """--diameter and the block's second parameter: --anisotropy (model neel) or --hydrodynamic-diameter."""
    parser.add_argument("--diameter", type=float, required=True, help=what)
    second = parser.add_mutually_exclusive_group(required=True)
    second.add_argument("--anisotropy", type=float, help=f"{what_k} (model neel)")
    second.add_argument("--hydrodynamic-diameter", type=float, help="hydrodynamic diameter in nm (model brown)")


def block_value(args: argparse.Namespace, sweep) -> float:
    """The block's second parameter from --anisotropy (model neel) or --hydrodynamic-diameter (model brown)."""
    positive("diameter", args.diameter)
    flag = sweep.parameter.flag
    value = getattr(args, sweep.parameter.name)
    if value is None:
        raise UsageError(f"{flag}: required for model {sweep.model} (the sweep's second grid parameter)")
    positive(flag[2:], value, allow_zero=sweep.model == "neel")
    return value
