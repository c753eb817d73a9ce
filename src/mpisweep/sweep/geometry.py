"""The position ↔ offset-field map the config states: orientation.gradient, or its shorthand field_of_view.

offset = grid centre + G · position per axis (:class:`mpisweep.io.mdf.PositionMap`). The files'
own map (/calibration/positions) takes precedence where they have one; this is the map for files
without positions and the one the virtual scanner writes into its files.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..io.mdf import PositionMap
from .config import Sweep

MM = 1e-3


def grid_centre(sweep: Sweep) -> np.ndarray:
    """(3,) offset field in T at the centre of the calibration grid."""
    o = sweep.offset_grid
    return np.array([(o.x_T[0] + o.x_T[1]) / 2, (o.y_T[0] + o.y_T[1]) / 2, (o.z_T[0] + o.z_T[1]) / 2])


def _field_of_view_gradient(sweep: Sweep, fov_mm) -> np.ndarray:
    """(x, y[, z]) gradient in T/m of field_of_view: n pixels of field_of_view/n for the grid's n offsets."""
    o = sweep.offset_grid
    axes = len(fov_mm)
    n = np.array([o.nx, o.ny, o.nz])[:axes]
    span = np.array([o.x_T[1] - o.x_T[0], o.y_T[1] - o.y_T[0], o.z_T[1] - o.z_T[0]])[:axes]
    step = np.where(n > 1, span / np.maximum(n - 1, 1), 0.0)
    return step / (np.asarray(fov_mm, float) * MM / n)


def configured_map(sweep: Sweep) -> PositionMap | None:
    """The map of orientation.gradient (or field_of_view), or None when the config gives neither.

    ConfigError when both are given and disagree, or a gradient is zero on an axis the grid spans.
    """
    o = sweep.orientation
    gradient, fov = o.get("gradient"), o.get("field_of_view")
    if gradient is None and fov is None:
        return None
    g = _field_of_view_gradient(sweep, fov) if gradient is None else np.asarray(gradient, float)
    if gradient is not None and fov is not None:
        implied = _field_of_view_gradient(sweep, fov)
        if len(implied) != len(g) or np.any(np.abs(implied - g) > 1e-6 * np.abs(g)):
            raise ConfigError(f"config keys 'orientation.gradient' {list(gradient)} T/m and "
                              f"'orientation.field_of_view' {list(fov)} mm (gradient {np.round(implied, 6).tolist()} "
                              "T/m) disagree; give one")
    grid = sweep.offset_grid
    if grid.nz > 1 and len(g) < 3:
        key = "gradient" if gradient is not None else "field_of_view"
        raise ConfigError(f"config key 'orientation.{key}': the offset grid spans z ({grid.nz} points); give three "
                          "values (x, y, z) so that the files' positions say where each offset is")
    g = np.pad(np.asarray(g, float), (0, 3 - len(g)))
    for axis, n, value in (("x", grid.nx, g[0]), ("y", grid.ny, g[1]), ("z", grid.nz, g[2])):
        if n > 1 and value == 0:
            raise ConfigError(f"config key 'orientation.gradient': zero on {axis}, along which the offset grid has "
                              f"{n} points")
    return PositionMap(grid_centre(sweep), g, 0.0)

