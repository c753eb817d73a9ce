"""Where each offset of the calibration is: the position ↔ offset-field map.

offset = grid centre + G · position per axis (:class:`mpisweep.io.mdf.PositionMap`). The files'
own map (/calibration/positions) takes precedence where they have one (:func:`calibration_map`); the
config states one as orientation.gradient, or its shorthand field_of_view (:func:`configured_map`):
the map for files without positions, and the one the virtual scanner writes into its files.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..io.mdf import PositionMap
from .config import Sweep
from .measured import files_position_map

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
    gradient, fov = o.gradient, o.field_of_view
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
    counts = np.array([grid.nx, grid.ny, grid.nz])
    for axis, n, value in zip("xyz", counts, g):
        if n > 1 and value == 0:
            raise ConfigError(f"config key 'orientation.gradient': zero on {axis}, along which the offset grid has "
                              f"{n} points")
    # an axis of one offset has one position: its gradient maps nothing (the files' own map gives it 0 there)
    return PositionMap(grid_centre(sweep), np.where(counts > 1, g, 0.0), 0.0)


def calibration_map(sweep: Sweep, required: bool = True) -> PositionMap | None:
    """The map of the calibration files, else the configured one; ConfigError on a contradiction, and on
    none at all when `required` (else None)."""
    stated = files_position_map(sweep)
    configured = configured_map(sweep)
    if stated is None:
        if configured is None and required:
            raise ConfigError("config key 'orientation.gradient': the calibration files have no "
                              "/calibration/positions, so the position ↔ offset map must be configured: set "
                              "orientation.gradient (T/m per axis, signed; negative on x and y for an FFP scanner)")
        return configured
    files_map, where = stated
    if configured is not None and configured.differs_from(files_map, float(np.abs(sweep.offsets).max())):
        key = "gradient" if sweep.orientation.gradient is not None else "field_of_view"
        value = list(getattr(sweep.orientation, key))
        raise ConfigError(f"config key 'orientation.{key}' {value} ({configured.describe()}) contradicts the "
                          f"calibration files: {where} states {files_map.describe()}; remove orientation.{key} "
                          "to use the files' map, or correct it")
    return files_map
