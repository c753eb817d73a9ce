"""Stable names from grid values: coordinate labels, shard and marker names (D22_K1100), and the
name of each particle model's second dictionary axis."""

from dataclasses import dataclass

import numpy as np


def label(x: float) -> str:
    """Stable text for a grid value: 22 → '22', 22.5 → '22.5', 1e-3 → '0.001'."""
    x = float(x)
    if x.is_integer():
        return str(int(x))
    return np.format_float_positional(round(x, 9), trim="-")


def block_name(d_nm: float, value: float, symbol: str = "K") -> str:
    """Shard / marker name of one dictionary block, from the parameter values: D22_K1100 (Néel, K in
    J/m³), D22_H40 (Brown, hydrodynamic diameter in nm)."""
    return f"D{label(d_nm)}_{symbol}{label(value)}"


@dataclass(frozen=True)
class ParameterAxis:
    """The dictionary's second axis beside the core diameter, per particle model.

    name: the store dimension and table column; unit: the coordinate's units attribute; symbol: its
    letter in block names; short and long_name: what logs and stores call it; value_key: its key,
    with unit, in markers and truth.json.
    """

    name: str
    unit: str
    symbol: str
    short: str
    long_name: str
    value_key: str

    @property
    def flag(self) -> str:
        """The step commands' option for it: --anisotropy or --hydrodynamic-diameter."""
        return "--" + self.name.replace("_", "-")


#: particle model (config key ``model``) → its second dictionary axis
PARAMETERS = {
    "neel": ParameterAxis("anisotropy", "J/m^3", "K", "K", "anisotropy constant K", "anisotropy_Jm3"),
    "brown": ParameterAxis("hydrodynamic_diameter", "nm", "H", "D_h", "hydrodynamic diameter D_h",
                           "hydrodynamic_diameter_nm"),
}
