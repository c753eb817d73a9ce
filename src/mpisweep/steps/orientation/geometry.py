"""Positions ↔ offset fields ↔ pixels: the hybrid system matrix's grid read as an image.

The calibration grid's n offsets per axis stand for n pixels of width field_of_view/n centred on
position 0 (the paper: 11 pixels of 2.727 mm). Offset fields and positions are linearly related,
o = o_centre + g·p with g = Δo / pixel width per axis, so any position (also between the
pixels) has its offset field, and any other offset grid its pixel positions.
"""

from __future__ import annotations

import numpy as np

from ...sweep.config import MT, Sweep


def pixel_size_mm(sweep: Sweep) -> np.ndarray:
    """(x, y) width of a calibration pixel in mm."""
    o = sweep.offset_grid
    return np.asarray(sweep.orientation["field_of_view"], float) / np.array([o.nx, o.ny])


def _centre_and_gradient(sweep: Sweep) -> tuple[np.ndarray, np.ndarray]:
    """Offset field (T) at position 0 and field per mm (T/mm), (x, y); a 1-pixel axis has no gradient."""
    o = sweep.offset_grid
    lo = np.array([o.x_T[0], o.y_T[0]])
    hi = np.array([o.x_T[1], o.y_T[1]])
    n = np.array([o.nx, o.ny])
    step = np.where(n > 1, (hi - lo) / np.maximum(n - 1, 1), 0.0)
    return (lo + hi) / 2, step / pixel_size_mm(sweep)


def position_to_offset(sweep: Sweep, xy_mm) -> np.ndarray:
    """Offset fields (…, 3) in T of positions (…, 2) in mm (z = 0)."""
    centre, gradient = _centre_and_gradient(sweep)
    xy = np.asarray(xy_mm, float)
    out = np.zeros(xy.shape[:-1] + (3,))
    out[..., :2] = centre + gradient * xy
    return out


def _grid_axes_mT(sweep: Sweep, grid_x_mT, grid_y_mT) -> tuple[np.ndarray, np.ndarray]:
    """An offset grid's (x, y) coordinates in mT: the given ones, or the calibration grid's."""
    o = sweep.offset_grid
    gx = np.linspace(o.x_T[0], o.x_T[1], o.nx) / MT if grid_x_mT is None else np.asarray(grid_x_mT, float)
    gy = np.linspace(o.y_T[0], o.y_T[1], o.ny) / MT if grid_y_mT is None else np.asarray(grid_y_mT, float)
    return gx, gy


def position_to_pixel(sweep: Sweep, xy_mm, grid_x_mT=None, grid_y_mT=None) -> np.ndarray:
    """Fractional (y, x) pixel indices of positions (…, 2) in mm on an offset grid (default: the calibration's).

    grid_x_mT, grid_y_mT: the grid's offset coordinates in mT (equidistant, increasing).
    """
    gx, gy = _grid_axes_mT(sweep, grid_x_mT, grid_y_mT)
    field = position_to_offset(sweep, xy_mm)[..., :2] / MT
    ix = (field[..., 0] - gx[0]) / (gx[1] - gx[0]) if gx.size > 1 else np.zeros(field.shape[:-1])
    iy = (field[..., 1] - gy[0]) / (gy[1] - gy[0]) if gy.size > 1 else np.zeros(field.shape[:-1])
    return np.stack([iy, ix], axis=-1)


def pixel_to_position(sweep: Sweep, yx, grid_x_mT=None, grid_y_mT=None) -> np.ndarray:
    """Positions (…, 2) in mm (x, y) of fractional (y, x) pixel indices on an offset grid."""
    gx, gy = _grid_axes_mT(sweep, grid_x_mT, grid_y_mT)
    yx = np.asarray(yx, float)
    fx = gx[0] + yx[..., 1] * (gx[1] - gx[0] if gx.size > 1 else 0.0)
    fy = gy[0] + yx[..., 0] * (gy[1] - gy[0] if gy.size > 1 else 0.0)
    centre, gradient = _centre_and_gradient(sweep)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(gradient[0] != 0, (fx * MT - centre[0]) / gradient[0], 0.0)
        y = np.where(gradient[1] != 0, (fy * MT - centre[1]) / gradient[1], 0.0)
    return np.stack([x, y], axis=-1)
