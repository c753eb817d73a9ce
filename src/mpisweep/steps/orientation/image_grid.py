"""Positions ↔ offset fields ↔ pixels: a hybrid system matrix's offset grid read as an image.

A sample at position p sees the offset field o = o_c + G·p (per axis, G signed: an FFP scanner's x
and y gradients are negative). :func:`position_map` takes that map from the calibration files
(/calibration/positions beside /calibration/offsetFields) when they hold it, and from the config
(orientation.gradient, or its shorthand field_of_view) otherwise; a config that contradicts the
files is refused with both maps named. An image is a reconstruction on an offset grid
(:class:`ImageGrid`, increasing offsets); its fractional pixel indices and positions in mm convert
through the map, so any grid (the calibration's, a finer model grid) and any gradient sign work
alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...io.mdf import PositionMap
from ...sweep.config import Sweep
from ...sweep.geometry import MM
from ...units import MT


@dataclass(frozen=True)
class ImageGrid:
    """An equidistant, increasing offset grid seen as an image: pixel (y, x) sits at offset (y_T[y], x_T[x])."""

    x_T: np.ndarray
    y_T: np.ndarray

    @classmethod
    def of_sweep(cls, sweep: Sweep) -> ImageGrid:
        """The sweep's offset grid (the calibration's, or a model sweep's)."""
        o = sweep.offset_grid
        return cls(np.linspace(o.x_T[0], o.x_T[1], o.nx), np.linspace(o.y_T[0], o.y_T[1], o.ny))

    @classmethod
    def of_dataset(cls, ds) -> ImageGrid:
        """The grid of a store with offset_x, offset_y coordinates in mT."""
        return cls(np.asarray(ds["offset_x"].values, float) * MT, np.asarray(ds["offset_y"].values, float) * MT)

    @property
    def shape(self) -> tuple[int, int]:
        return self.y_T.size, self.x_T.size

    def _steps(self) -> np.ndarray:
        return np.array([self.x_T[1] - self.x_T[0] if self.x_T.size > 1 else 0.0,
                         self.y_T[1] - self.y_T[0] if self.y_T.size > 1 else 0.0])

    def pixel_size_mm(self, pmap: PositionMap) -> np.ndarray:
        """(x, y) pixel width in mm (0 on an axis of one pixel)."""
        g = np.abs(pmap.gradient[:2])
        return np.divide(self._steps(), g, out=np.zeros(2), where=g > 0) / MM

    def pixels(self, pmap: PositionMap, xy_mm) -> np.ndarray:
        """Fractional (y, x) pixel indices of positions (…, 2) in mm (z = 0)."""
        o = position_to_offset(pmap, xy_mm)
        step = self._steps()
        ix = (o[..., 0] - self.x_T[0]) / step[0] if step[0] else np.zeros(o.shape[:-1])
        iy = (o[..., 1] - self.y_T[0]) / step[1] if step[1] else np.zeros(o.shape[:-1])
        return np.stack([iy, ix], axis=-1)

    def positions_mm(self, pmap: PositionMap, yx) -> np.ndarray:
        """Positions (…, 2) in mm (x, y) of fractional (y, x) pixel indices."""
        yx = np.asarray(yx, float)
        step = self._steps()
        o = np.zeros(yx.shape[:-1] + (3,))
        o[..., 0] = self.x_T[0] + yx[..., 1] * step[0]
        o[..., 1] = self.y_T[0] + yx[..., 0] * step[1]
        return pmap.position(o)[..., :2] / MM

    def contains(self, yx) -> np.ndarray:
        """Whether fractional pixel indices (…, 2) lie on the image (within half a pixel of its outer centres)."""
        yx = np.asarray(yx, float)
        ny, nx = self.shape
        return (yx[..., 0] >= -0.5) & (yx[..., 0] <= ny - 0.5) & (yx[..., 1] >= -0.5) & (yx[..., 1] <= nx - 0.5)


def position_to_offset(pmap: PositionMap, xy_mm) -> np.ndarray:
    """Offset fields (…, 3) in T of positions (…, 2) in mm (z = 0)."""
    xy = np.asarray(xy_mm, float) * MM
    p = np.zeros(xy.shape[:-1] + (3,))
    p[..., :2] = xy
    return pmap.offset(p)


def outside(sweep: Sweep, pmap: PositionMap, phantoms: list[dict]) -> list[str]:
    """'phantom N at (x, y) mm' for every phantom sample outside the calibrated region (the calibration grid
    and half a pixel around it), for a warning."""
    grid = ImageGrid.of_sweep(sweep)
    out = []
    for p in phantoms:
        for s in p["samples"]:
            if not grid.contains(grid.pixels(pmap, [s["x"], s["y"]])):
                out.append(f"phantom {p['number']} at ({s['x']:.3g}, {s['y']:.3g}) mm")
    return out


def warn_outside(sweep: Sweep, pmap: PositionMap, phantoms: list[dict], log=print) -> None:
    """Log one warning naming the phantom samples outside the calibrated region (:func:`outside`), if any."""
    far = outside(sweep, pmap, phantoms)
    if far:
        log(f"warning: {len(far)} phantom sample(s) outside the calibrated region: {'; '.join(far[:8])}"
            + (" …" if len(far) > 8 else ""))
