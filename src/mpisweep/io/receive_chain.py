"""The receive chain between the particles' moment and the recorded spectrum: an analytic model of a
scanner's filters and delay, or a measured transfer-function table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, MDFError

#: how a measured transfer function enters the model: on the moment (it includes the induction) or on d⟨m⟩/dt
APPLIED_TO = ("moment", "rate")


@dataclass(frozen=True)
class TransferTable:
    """A measured transfer function: complex (file channel, frequency) over frequencies in Hz."""

    path: str
    frequencies: np.ndarray
    values: np.ndarray

    @classmethod
    def read(cls, path) -> "TransferTable":
        """Read /transferFunction (channel, frequency, re/im) over /frequencies (Hz), the MPIFiles layout."""
        import h5py

        path = Path(path)
        if not path.exists():
            raise MDFError(f"transfer function file {path}: not found")
        with h5py.File(path, "r") as h:
            if "transferFunction" not in h or "frequencies" not in h:
                raise MDFError(f"{path}: needs /transferFunction (channel, frequency, 2) and /frequencies")
            table = np.asarray(h["transferFunction"][...], float)
            freqs = np.asarray(h["frequencies"][...], float).reshape(-1)
        if table.ndim != 3 or table.shape[-1] != 2 or table.shape[1] != freqs.size:
            raise MDFError(f"{path}: /transferFunction has shape {table.shape}, expected (C, {freqs.size}, 2)")
        return cls(str(path), freqs, table[..., 0] + 1j * table[..., 1])

    @property
    def n_channels(self) -> int:
        return self.values.shape[0]

    def at(self, channel: int, freqs_hz, strict: bool = True) -> np.ndarray:
        """H of file channel `channel` at `freqs_hz`, linearly interpolated; outside the table an MDFError
        (strict) or its end values."""
        f = np.asarray(freqs_hz, float)
        if not 0 <= channel < self.n_channels:
            raise MDFError(f"{self.path}: transfer function channel {channel} not among its {self.n_channels} channels")
        lo, hi = self.frequencies.min(), self.frequencies.max()
        outside = f[(f < lo) | (f > hi)]
        if strict and outside.size:
            raise MDFError(f"{self.path}: covers {lo:g}-{hi:g} Hz; the fits evaluate {outside.min():g} Hz"
                           f"{' and more' if outside.size > 1 else ''} outside it (raise frequencies.min_frequency)")
        return (np.interp(f, self.frequencies, self.values[channel].real)
                + 1j * np.interp(f, self.frequencies, self.values[channel].imag))

    def response(self, channels, applied_to: str, freqs_hz) -> np.ndarray:
        """(receive channel, F) H·q: file channel `channels[c]` for receive channel c, q per `applied_to`."""
        if applied_to not in APPLIED_TO:
            raise ValueError(f"applied_to: {applied_to!r}, expected one of {APPLIED_TO}")
        f = np.asarray(freqs_hz, float)
        h = np.stack([self.at(int(ch), f) for ch in channels])
        return h / (2j * np.pi * f) if applied_to == "moment" else h


def receive_chain(tf: Mapping, freqs_hz, channels: int = 2) -> np.ndarray:
    """Complex receive transfer function (channels, F) of the receive channels at `freqs_hz` (the first
    `channels` gains, phases or file channels).

    `tf` holds the settings as the config's ``measurement.virtual.transfer_function`` writes them (and
    the virtual scanner's truth.json records them): kind ``unity``; ``analytic`` (gain, phase in
    degrees per channel, a first-order high-pass, a second-order low-pass, a delay in s); ``h5`` (a
    measured table /transferFunction (channel, frequency, re/im) over /frequencies in Hz, interpolated).
    """
    f = np.asarray(freqs_hz, dtype=float)
    kind = tf["kind"]
    if kind == "unity":
        return np.ones((channels, f.size), dtype=complex)
    if kind == "analytic":
        s_hp = 1j * f / float(tf["highpass"])
        shape = (s_hp / (1 + s_hp) / (1 + 1j * f / float(tf["lowpass"])) ** 2
                 * np.exp(-2j * np.pi * f * float(tf["delay"])))
        gains = np.asarray(tf["gain"][:channels], float) * np.exp(1j * np.radians(np.asarray(tf["phase"][:channels],
                                                                                              float)))
        return gains[:, None] * shape[None, :]
    if kind == "h5":
        table = TransferTable.read(tf["path"])
        return np.stack([table.at(int(ch), f, strict=False) for ch in tf["channels"][:channels]])
    raise ConfigError(f"transfer function: unknown kind {kind!r} (unity, analytic or h5)")
