"""The receive chain between the particles' moment and the recorded spectrum: an analytic model of a
scanner's filters and delay, or a measured transfer-function table."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..errors import ConfigError, MDFError


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
        import h5py

        path = Path(tf["path"])
        if not path.exists():
            raise MDFError(f"transfer function file {path}: not found")
        with h5py.File(path, "r") as h:
            if "transferFunction" not in h or "frequencies" not in h:
                raise MDFError(f"{path}: needs /transferFunction (channel, frequency, 2) and /frequencies")
            table = np.asarray(h["transferFunction"][...], float)
            ftab = np.asarray(h["frequencies"][...], float).reshape(-1)
        if table.ndim != 3 or table.shape[-1] != 2 or table.shape[1] != ftab.size:
            raise MDFError(f"{path}: /transferFunction has shape {table.shape}, expected (C, {ftab.size}, 2)")
        out = np.empty((channels, f.size), dtype=complex)
        for i, ch in enumerate(tf["channels"][:channels]):
            if ch >= table.shape[0]:
                raise MDFError(f"{path}: transfer function channel {ch} not among its {table.shape[0]} channels")
            out[i] = np.interp(f, ftab, table[ch, :, 0]) + 1j * np.interp(f, ftab, table[ch, :, 1])
        return out
    raise ConfigError(f"transfer function: unknown kind {kind!r} (unity, analytic or h5)")
