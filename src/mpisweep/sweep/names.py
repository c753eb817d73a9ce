"""Stable names from grid values: coordinate labels, shard and marker names (D22_K1100)."""

import numpy as np


def label(x: float) -> str:
    """Stable text for a grid value: 22 → '22', 22.5 → '22.5', 1e-3 → '0.001'."""
    x = float(x)
    if x.is_integer():
        return str(int(x))
    return np.format_float_positional(round(x, 9), trim="-")


def block_name(d_nm: float, k: float) -> str:
    """Shard / marker name of one dictionary block, from the parameter values: D22_K1100."""
    return f"D{label(d_nm)}_K{label(k)}"
