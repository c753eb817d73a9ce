"""The noise of an MDF file per receive channel and frequency, from whatever the file offers, and one SNR.

The SNR of a row (one receive channel c and bin k of one file, over its offsets or frames) is, everywhere
in mpisweep (the fits' row selection, ``mdf-info``)::

    SNR_ck = RMS_ν |S_ck,ν| / σ_ck

with σ_ck the standard deviation of the complex noise of one stored frame (E|n|² = σ²). A row of pure
noise has SNR ≈ 1. Where σ comes from, best first (:data:`SOURCES`):

* ``background frames``: the spread of the file's background (empty-bore) frames about the mean of
  their contiguous block, so that a drifting background does not count as noise; needs a block of at
  least two frames.
* ``repeated frames``: a measurement file's foreground frames (repeated acquisitions of one object)
  about their mean; used where it has no background block of two frames.
* ``file SNR``: /calibration/snr, as σ = RMS / snr. Exact where the writer used the definition above
  (mpisweep's virtual scanner does); other writers take the maximum instead of the RMS over offsets,
  or other noise measures, so this is the last resort and says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .reader import read_system_matrix

SOURCES = ("background frames", "repeated frames", "file SNR")


@dataclass(frozen=True)
class Noise:
    """σ per (channel, frequency) of one stored frame, where it came from (one of SOURCES) and how many
    frames it rests on (0 for the file SNR); ``sigma`` None and ``source`` "none" when the file offers nothing."""

    sigma: np.ndarray | None  # (channel, frequency), in the file's data unit
    source: str
    frames: int

    def describe(self) -> str:
        if self.sigma is None:
            return "none (no background frames, no repeated frames, no /calibration/snr)"
        if self.source == "file SNR":
            return "file SNR (/calibration/snr; σ = RMS over the offsets / snr)"
        return f"{self.source} ({self.frames} frames)"


def rms_snr(rows: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """SNR = RMS over the last axis of |rows| / σ (rows (..., channel, frequency, offset), σ broadcast to
    (..., channel, frequency)); inf where σ is 0, 0 where the row and σ are both 0."""
    rms = np.sqrt(np.mean(np.abs(rows) ** 2, axis=-1))
    out = np.full(np.broadcast_shapes(rms.shape, np.shape(sigma)), np.inf)
    np.divide(rms, sigma, out=out, where=np.asarray(sigma) > 0)
    out[(rms == 0) & (np.asarray(sigma) == 0)] = 0.0
    return out


def _block_spread(frames: np.ndarray, acquisition: np.ndarray) -> tuple[np.ndarray | None, int]:
    """σ from frames (channel, frequency, frame) grouped into runs of consecutive acquisition indices:
    the pooled deviation about each run's mean (n − 1 degrees of freedom per run); None without a run of 2."""
    order = np.argsort(acquisition)
    runs, current = [], [order[0]]
    for prev, n in zip(order[:-1], order[1:]):
        if acquisition[n] == acquisition[prev] + 1:
            current.append(n)
        else:
            runs.append(current)
            current = [n]
    runs.append(current)
    runs = [r for r in runs if len(r) >= 2]
    if not runs:
        return None, 0
    squares = sum(np.sum(np.abs(frames[..., r] - frames[..., r].mean(axis=-1, keepdims=True)) ** 2, axis=-1)
                  for r in runs)
    dof = sum(len(r) - 1 for r in runs)
    return np.sqrt(squares / dof), sum(len(r) for r in runs)


def frame_noise(ds, *, calibration: bool = True) -> Noise | None:
    """The noise the frames of a file give (background frames, else repeated frames of a measurement file),
    from its dataset read with ``subtract_background=False``; None when they give none."""
    if "period" in ds.dims:
        ds = ds.isel(period=0)
    if "background" in ds:
        frames = ds["background"].transpose("channel", "frequency", "background_frame").values
        sigma, used = _block_spread(frames, np.asarray(ds["background_acquisition_frame"].values))
        if sigma is not None:
            return Noise(sigma, SOURCES[0], used)
    data = ds["system_matrix"].transpose("channel", "frequency", "offset").values
    if not calibration and data.shape[-1] >= 2:
        spread = np.abs(data - data.mean(axis=-1, keepdims=True)) ** 2
        return Noise(np.sqrt(spread.sum(axis=-1) / (data.shape[-1] - 1)), SOURCES[1], data.shape[-1])
    return None


def file_noise(path: str | os.PathLike, bins=None, *, calibration: bool = True) -> Noise:
    """The noise of one MDF file at rfft `bins` (None: all stored), from the best source it offers.

    `calibration`: a system-matrix file (its foreground frames are offsets, never repeats); False reads a
    measurement file, whose foreground frames are repeated acquisitions.
    """
    ds = read_system_matrix(path, frequencies=bins, subtract_background=False, calibration=calibration)
    found = frame_noise(ds, calibration=calibration)
    if found is not None:
        return found
    if "snr" not in ds:
        return Noise(None, "none", 0)
    # the file's SNR relates σ to the rows as the fits see them: background subtracted
    rows = read_system_matrix(path, frequencies=bins, calibration=calibration) if "background" in ds else ds
    if "period" in ds.dims:
        ds, rows = ds.isel(period=0), rows.isel(period=0)
    snr = ds["snr"].transpose("channel", "frequency").values
    data = rows["system_matrix"].transpose("channel", "frequency", "offset").values
    rms = np.sqrt(np.mean(np.abs(data) ** 2, axis=-1))
    sigma = np.full(rms.shape, np.inf)
    np.divide(rms, snr, out=sigma, where=snr > 0)
    return Noise(sigma, SOURCES[2], 0)
