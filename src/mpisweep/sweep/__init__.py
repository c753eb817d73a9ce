"""The machinery every workflow step shares, usable without Snakemake.

config (the typed :class:`Sweep`), sections (one typed section per config key), schema (YAML →
validated config), names (labels, block names), layout (every output path), measured (the measured
files' reader), geometry (the position map), specs (what decides a rerun), cost (degrees, cost
model, Slurm plan), refine (the rounds' decisions), coords (store coordinates), command (the record
a subcommand is declared with) and tools (the commands that are no workflow step), progress,
workers (steps in processes), in_use (output guard).
The steps themselves live in :mod:`mpisweep.steps`, one package per workflow stage.
"""

from .config import Sweep
from .layout import Layout
from .names import block_name, label

__all__ = ["Sweep", "Layout", "block_name", "label"]
