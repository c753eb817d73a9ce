"""The machinery every workflow step shares, usable without Snakemake.

config (the typed :class:`Sweep`), names (labels, block names), schema (YAML → validated config),
layout (every output path), specs (what decides a rerun), cost (degrees, cost model, Slurm plan),
coords (store coordinates), progress, workers (steps in processes), in_use (output guard).
The steps themselves live in :mod:`mpisweep.steps`, one package per workflow stage.
"""

from .config import Sweep
from .layout import Layout
from .names import block_name, label

__all__ = ["Sweep", "Layout", "block_name", "label"]
