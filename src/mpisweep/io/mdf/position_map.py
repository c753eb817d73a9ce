"""The position ↔ offset-field map a hybrid calibration file states itself.

A sample at position p sees the selection field G·p, and the hybrid calibration emulates it with the
offset field o = o_c + G·p. An FFP scanner with a z-directed gradient pair has G = diag(−g/2, −g/2, g):
its x and y gradients are negative. An MDF calibration carries both /calibration/positions (m) and
/calibration/offsetFields (T), so the map, its signs included, is read from the file, never assumed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ._hdf import MDFError, Reader, open_mdf
from .structure import parse_layout


@dataclass(frozen=True)
class PositionMap:
    """offset = centre + gradient · position, per axis.

    centre: (3,) offset field at position 0, T. gradient: (3,) T/m, signed; 0 on an axis along which
    the calibration does not move. residual: largest |offset − map(position)| over the grid, T.
    """

    centre: np.ndarray
    gradient: np.ndarray
    residual: float

    def offset(self, positions) -> np.ndarray:
        """Offset fields (…, 3) in T of positions (…, 3) in m."""
        return self.centre + self.gradient * np.asarray(positions, float)

    def position(self, offsets) -> np.ndarray:
        """Positions (…, 3) in m of offset fields (…, 3) in T; 0 on an axis without gradient."""
        g = self.gradient
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(g != 0, (np.asarray(offsets, float) - self.centre) / np.where(g != 0, g, 1.0), 0.0)

    def differs_from(self, other: PositionMap, scale_T: float, rtol: float = 1e-3) -> bool:
        """True when the gradients differ by more than rtol of the larger (per axis) or the centres by
        more than rtol · scale_T (the largest offset field of the grid)."""
        g = np.abs(self.gradient - other.gradient) > rtol * np.maximum(np.abs(self.gradient), np.abs(other.gradient))
        c = np.abs(self.centre - other.centre) > rtol * scale_T
        return bool(np.any(g) or np.any(c))

    def describe(self) -> str:
        g = ", ".join(f"{v:.4g}" for v in self.gradient)
        c = ", ".join(f"{v * 1e3:.4g}" for v in self.centre)
        return f"offset = centre + G·position, G = ({g}) T/m, centre ({c}) mT (residual {self.residual:.1e} T)"


def position_map(positions, offset_fields, *, rtol: float = 1e-6, where: str = "calibration") -> PositionMap:
    """The per-axis linear map o = c + g·p that takes ``positions`` (O, 3) m to ``offset_fields`` (O, 3) T.

    Least squares per axis; an axis whose positions do not vary gets g = 0 and must have a constant
    offset. MDFError (naming ``where``) if the offsets are not such a map to ``rtol`` of the largest
    offset: a rotated or non-linear calibration, or positions and offsets of different grids.
    """
    p = np.asarray(positions, float).reshape(-1, 3)
    o = np.asarray(offset_fields, float).reshape(-1, 3)
    if p.shape != o.shape or p.shape[0] == 0:
        raise MDFError(f"{where}: /calibration/positions {p.shape} and /calibration/offsetFields {o.shape} "
                       "do not describe the same grid")
    for name, values in (("positions", p), ("offsetFields", o)):
        bad = np.argwhere(~np.isfinite(values))
        if bad.size:
            i, a = (int(v) for v in bad[0])
            raise MDFError(f"{where}: /calibration/{name} holds {values[i, a]} at entry {i}, axis {'xyz'[a]} "
                           f"({len(bad)} non-finite value(s)); the position map needs finite numbers")
    centre, gradient = np.zeros(3), np.zeros(3)
    for a in range(3):
        if np.ptp(p[:, a]) > 0:
            gradient[a], centre[a] = np.polyfit(p[:, a], o[:, a], 1)
        else:
            centre[a] = o[:, a].mean()
    residual = float(np.abs(centre + gradient * p - o).max())
    scale = max(float(np.abs(o).max()), np.finfo(float).tiny)
    if residual > rtol * scale:
        raise MDFError(f"{where}: /calibration/offsetFields are not a per-axis linear map of "
                       f"/calibration/positions (largest deviation {residual:.3g} T of {scale:.3g} T)")
    return PositionMap(centre, gradient, residual)


def read_position_map(path, *, rtol: float = 1e-6) -> PositionMap | None:
    """The map a calibration file states (:func:`position_map`), or None when it lacks
    /calibration/positions or /calibration/offsetFields."""
    name = os.fspath(path)
    with open_mdf(name) as handle:
        lay = parse_layout(Reader(handle, name))
    if lay.positions is None or lay.offset_fields is None:
        return None
    return position_map(lay.positions, lay.offset_fields, rtol=rtol, where=name)
