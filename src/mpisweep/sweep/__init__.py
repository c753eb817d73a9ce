"""The sweep workflow's steps, each runnable and testable without Snakemake.

config (the typed :class:`Sweep`), schema (YAML → validated config), layout (every output path),
specs (what decides a rerun), coords (store coordinates), and one module per workflow step:
simulate, assemble, m0_dictionary, m0a_dictionary, virtual_scanner, measurement (check and load),
fit (with dictionaries, models, fit_tables), warmup (numba cache).
"""

from .config import Sweep, block_name, label
from .layout import Layout

__all__ = ["Sweep", "Layout", "block_name", "label"]
