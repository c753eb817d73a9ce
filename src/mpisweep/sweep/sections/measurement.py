"""The config's ``measurement`` section: where the measured system matrices come from.

Either the virtual scanner (synthetic MDF files from a mixture of dictionary entries, with noise
and a receive chain) or measured MDF files listed in a CSV. Keys, ranges and defaults: the schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from ...errors import ConfigError
from ...physics.excitation import Excitation
from ...units import MT
from ..names import PARAMETERS, block_name
from .base import build, dump, optional

# the virtual scanner's analytic receive chain per receive channel, where the config leaves them null
DEFAULT_GAINS = (1.0, 0.8, 0.9)
DEFAULT_PHASES_DEG = (0.0, 25.0, -15.0)


@dataclass(frozen=True, kw_only=True)
class TransferFunction:
    """``measurement.virtual.transfer_function``: the virtual receive chain (analytic, a measured h5 file, unity)."""

    kind: str
    gain: tuple[float, ...] | None  # analytic: per receive channel
    phase: tuple[float, ...] | None  # analytic: degrees per receive channel
    highpass: float  # Hz, first-order corner
    lowpass: float  # Hz, second-order corner
    delay: float  # s
    channels: tuple[int, ...] | None  # h5: the file's channels, in receive order
    path: str | None = optional()  # h5: the file


@dataclass(frozen=True, kw_only=True)
class VirtualSolver:
    """``measurement.virtual.solver``: the virtual scanner's finer discretization (no inverse crime)."""

    degree_offset: int
    rtol_factor: float


@dataclass(frozen=True, kw_only=True)
class FieldScale:
    """``measurement.virtual.field_scale``: the fields the particles see, as multiples of the stated ones plus a
    shift of the offsets (a field-free point elsewhere than the files state); optionally a drive amplitude and a
    receive sensitivity that vary over the offsets."""

    offsets: tuple[float, ...]  # per axis x, y, z (missing axes 1)
    drive: tuple[float, ...]  # per drive channel (missing channels 1)
    centre: tuple[float, ...] | None = optional()  # mT added to the offsets, per axis x, y, z (None: 0)
    drive_profile: tuple[tuple[float, float], ...] | None = optional()  # (slope, curvature) per axis (None: 0)
    sensitivity: tuple[tuple[float, float], ...] | None = optional()  # (slope, curvature) per axis (None: 0)

    def profiles(self) -> tuple[np.ndarray, np.ndarray]:
        """(3, 2) coefficients of the drive amplitude's and of the receive sensitivity's variation, zeros where
        the config gives none."""
        out = [np.zeros((3, 2)), np.zeros((3, 2))]
        for c, given in zip(out, (self.drive_profile, self.sensitivity)):
            if given:
                c[: len(given)] = given
        return out[0], out[1]

    def apply(self, excitation: Excitation, offsets: np.ndarray) -> tuple[Excitation, np.ndarray]:
        """The drive and the offset fields (…, 3) in T as the particles see them."""
        drive = np.ones(len(excitation.amplitudes))
        drive[: len(self.drive)] = self.drive[: drive.size]
        scale, shift = np.ones(3), np.zeros(3)
        scale[: len(self.offsets)] = self.offsets
        shift[: len(self.centre or ())] = np.asarray(self.centre or (), dtype=float) * MT
        seen = replace(excitation, amplitudes=tuple(np.asarray(excitation.amplitudes) * drive))
        return seen, np.asarray(offsets) * scale + shift


@dataclass(frozen=True, kw_only=True)
class Writer:
    """``measurement.virtual.writer``: how another writer lays out the files (background frames, SNR definition)."""

    background_frames: int
    snr: str  # rms | max | none


@dataclass(frozen=True, kw_only=True)
class VirtualScanner:
    """``measurement.virtual``: the mixture, noise and receive chain of the synthetic measurement."""

    components: tuple[Mapping, ...]  # {diameter, anisotropy or hydrodynamic_diameter, weight}
    snr_db: float | None
    seed: int
    transfer_function: TransferFunction
    solver: VirtualSolver
    field_scale: FieldScale | None = optional()  # None: the particles see the stated fields
    writer: Writer | None = optional()  # None: mpisweep's own layout


@dataclass(frozen=True, kw_only=True)
class Columns:
    """``measurement.mdf.columns``: the index CSV's column names (None = detect)."""

    file: str | None
    angle: str | None


@dataclass(frozen=True, kw_only=True)
class MdfFiles:
    """``measurement.mdf``: measured MDF files, one per easy-axis angle, listed in a CSV."""

    csv: str
    columns: Columns
    angle_offset: float
    angle_sign: int
    channels: tuple[int, ...] | None  # the file's receive channels used, in order
    tolerance: float
    offset_subgrid: bool
    directory: str | None = optional()


@dataclass(frozen=True, kw_only=True)
class Measurement:
    """``measurement``: the source (virtual or mdf) and the settings of both."""

    source: str
    virtual: VirtualScanner
    mdf: MdfFiles

    @classmethod
    def from_config(cls, raw: Mapping, receive: int, model: str) -> "Measurement":
        """The validated section, per-channel settings filled for `receive` channels and checked for `model`."""
        m = build(cls, raw, "measurement")
        m = m._per_channel(receive)
        m._check(model)
        return m

    @classmethod
    def from_json(cls, d: Mapping) -> "Measurement":
        return build(cls, d, "measurement")

    def to_json(self) -> dict:
        return dump(self)

    def _per_channel(self, n: int) -> "Measurement":
        """Fill the per-receive-channel settings left null (gains, phases, file channels) for `n` channels and
        check that given ones have one value per channel."""
        tf = self.virtual.transfer_function
        filled = {}
        for key, default in (("gain", DEFAULT_GAINS), ("phase", DEFAULT_PHASES_DEG), ("channels", range(3))):
            given = getattr(tf, key)
            filled[key] = tuple(default)[:n] if given is None else tuple(given)
            if len(filled[key]) < n:
                raise ConfigError(f"config key 'measurement.virtual.transfer_function.{key}': {list(given)} has "
                                  f"{len(given)} value(s) for {n} receive channels (scanner.receive)")
        channels = tuple(range(n)) if self.mdf.channels is None else self.mdf.channels
        if len(channels) != n:
            raise ConfigError(f"config key 'measurement.mdf.channels': {list(channels)} names {len(channels)} file "
                              f"channel(s) for {n} receive channels (scanner.receive)")
        virtual = replace(self.virtual, transfer_function=replace(tf, **filled))
        return replace(self, virtual=virtual, mdf=replace(self.mdf, channels=channels))

    def _check(self, model: str) -> None:
        seen = set()
        axis = PARAMETERS[model]
        other = next(a for m, a in PARAMETERS.items() if m != model)
        for i, c in enumerate(self.virtual.components):
            key = f"measurement.virtual.components[{i}]"
            if axis.name not in c or other.name in c:
                raise ConfigError(f"config key '{key}': model {model} gives each component a diameter, "
                                  f"{axis.name} ({axis.unit}) and weight")
            if model == "brown" and c[axis.name] < c["diameter"]:
                raise ConfigError(f"config key '{key}.{axis.name}': {c[axis.name]:g} nm is below its diameter "
                                  f"{c['diameter']:g} nm")
            name = block_name(c["diameter"], c[axis.name], axis.symbol)
            if name in seen:
                raise ConfigError(f"config key '{key}': ({c['diameter']:g} nm, {c[axis.name]:g} {axis.unit}) "
                                  "is listed twice")
            seen.add(name)
        if self.virtual.transfer_function.kind == "h5" and self.virtual.transfer_function.path is None:
            raise ConfigError("config key 'measurement.virtual.transfer_function.path': required for kind h5")
        if self.source == "mdf" and not self.mdf.directory:
            raise ConfigError("config key 'measurement.mdf.directory': required for measurement.source mdf")
