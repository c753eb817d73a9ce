"""The config's ``orientation`` section: orientation imaging with model and measured system matrices.

Model matrices synthesized from the fit, phantom measurements, a multi-contrast Kaczmarz
reconstruction and the readout of each sample's position and angle. Keys and defaults: the schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import ConfigError
from ..schema import with_defaults
from .base import build, dump, optional
from .grids import expand_grid


@dataclass(frozen=True, kw_only=True)
class MatrixTransferFunction:
    """``orientation.matrices.transfer_function``: fitted from the calibration, or a measured h5 file."""

    source: str
    channels: tuple[int, ...]  # h5: the file's channels for receive channels x and y
    path: str | None = optional()


@dataclass(frozen=True, kw_only=True)
class Matrices:
    """``orientation.matrices``: the model system matrices synthesized from the fits."""

    angles: Any  # a grid spec in degrees, or None = the calibration angles
    offsets: Any  # {x: {min, max, count}, y: ...} in mT, or None = the calibration grid
    min_frequency: float  # Hz
    transfer_function: MatrixTransferFunction


@dataclass(frozen=True, kw_only=True)
class Phantoms:
    """``orientation.phantoms``: virtual phantoms, or measured ones listed in a CSV."""

    source: str
    csv: str
    orientations: Any  # grid spec in degrees
    positions: Any  # [[x, y], ...] in mm or {count, radius, seed, cross}
    maps: tuple  # multi-sample phantoms: lists of {x, y, angle, amount}
    snr_db: float | None
    background: float
    frames: int
    background_frames: int
    seed: int
    directory: str | None = optional()


@dataclass(frozen=True, kw_only=True)
class AutoCandidates:
    """``orientation.reconstruction.auto``: the candidates of the auto settings and the held-out scans."""

    lambda_rel: tuple[float, ...]
    snr_threshold: tuple[float | None, ...]
    weighting: tuple[str, ...]
    scans: int  # per calibration angle
    seed: int


@dataclass(frozen=True, kw_only=True)
class Reconstruction:
    """``orientation.reconstruction``: the Kaczmarz reconstruction's settings and row selection ("auto": chosen
    from held-out calibration scans, :mod:`mpisweep.steps.orientation.settings`)."""

    lambda_rel: float | str
    iterations: int
    min_frequency: float  # Hz
    snr_threshold: float | None | str
    snr_source: str
    weighting: str
    single_precision: bool
    auto: AutoCandidates


@dataclass(frozen=True, kw_only=True)
class Readout:
    """``orientation.readout``: the disc around each found sample (pixels, or mm when radius_mm is set)."""

    radius: float
    radius_mm: float | None


@dataclass(frozen=True, kw_only=True)
class Orientation:
    """``orientation``: whether imaging runs, with which matrices, where the samples are and how they are read."""

    enabled: bool
    models: tuple[str, ...]
    gradient: tuple[float, ...] | None  # T/m per axis, signed
    field_of_view: tuple[float, ...] | None  # mm per axis
    matrices: Matrices
    phantoms: Phantoms
    reconstruction: Reconstruction
    readout: Readout

    @classmethod
    def from_config(cls, raw: Mapping) -> "Orientation":
        """The validated section; its grids expand (errors name the key) before any work."""
        o = build(cls, raw, "orientation")
        if o.matrices.angles is not None:
            expand_grid(o.matrices.angles, "orientation.matrices.angles")
        expand_grid(o.phantoms.orientations, "orientation.phantoms.orientations")
        if o.enabled and o.phantoms.source == "mdf" and not o.phantoms.directory:
            raise ConfigError("config key 'orientation.phantoms.directory': required for orientation.phantoms.source "
                              "mdf")
        return o

    @classmethod
    def from_json(cls, d: Mapping) -> "Orientation":
        # a config resolved before a key existed reads it at the schema's default (its own values stand)
        return build(cls, with_defaults(dict(d), "orientation"), "orientation")

    def to_json(self) -> dict:
        return dump(self)

    @property
    def geometry(self) -> dict:
        """The position map as configured: {gradient, field_of_view} (None where not given)."""
        return {"gradient": self.gradient, "field_of_view": self.field_of_view}
