"""Row SNR from the phantom measurements themselves, the same whoever wrote the files.

A file's /calibration/snr has no fixed definition (max or RMS over offsets, over which noise), so a
threshold on it means different things for different writers. Here the noise comes from the
background frames (empty bore) of the phantom files:

* σ² per (receive channel, bin): the pooled variance of the background frames about their mean
  within each file when files have ≥ 2 background frames, else about their mean over all files
  (a drifting background then counts as noise, which errs on the safe side);
* a phantom's spectrum u = mean of its F foreground frames − mean of its E background frames has
  noise σ_u² = σ²(1/F + 1/E) (averaged over the files where their frame counts differ);
* SNR = sqrt(max(mean_n |u_n|² − σ_u², 0)) / σ_u over the N phantoms: the RMS signal a row carries
  in the measurements, in units of its own noise.
"""

from __future__ import annotations

import numpy as np

from ...errors import MeasurementError
from ...io.mdf import read_system_matrix


def phantom_noise(files, bins, channels) -> tuple[np.ndarray, np.ndarray]:
    """(SNR, σ_u), each (channel, bin), of the phantom measurement `files` at rfft `bins` (see module docstring)."""
    spectra, within, across, factors = [], [], [], []
    for path in files:
        ds = read_system_matrix(path, frequencies=np.asarray(bins, np.int64), subtract_background=False,
                                calibration=False)
        if "background" not in ds:
            raise MeasurementError(f"{path}: no background frames (/measurement/isBackgroundFrame); "
                                   "orientation.reconstruction.snr_source: phantoms estimates the noise from them")
        fg = ds["system_matrix"].transpose("channel", "frequency", "offset").values[channels]
        bg = ds["background"].transpose("channel", "frequency", "background_frame").values[channels]
        spectra.append(fg.mean(axis=-1) - bg.mean(axis=-1))
        factors.append(1.0 / fg.shape[-1] + 1.0 / bg.shape[-1])  # σ_u² / σ² of this file
        if bg.shape[-1] > 1:
            within.append(np.sum(np.abs(bg - bg.mean(axis=-1, keepdims=True)) ** 2, axis=-1) / (bg.shape[-1] - 1))
        across.append(bg)
    if within:
        var = np.mean(within, axis=0)
    else:
        if len(across) < 2:
            raise MeasurementError("orientation.reconstruction.snr_source: phantoms needs two background frames at "
                                   "least (in one file or over the files)")
        frames = np.concatenate(across, axis=-1)
        var = np.sum(np.abs(frames - frames.mean(axis=-1, keepdims=True)) ** 2, axis=-1) / (frames.shape[-1] - 1)
    sigma_u = np.sqrt(var * np.mean(factors))  # files may differ in their frame counts
    power = np.mean(np.abs(np.stack(spectra)) ** 2, axis=0) - sigma_u ** 2
    snr = np.divide(np.sqrt(np.maximum(power, 0.0)), sigma_u, out=np.zeros_like(sigma_u), where=sigma_u > 0)
    return snr, sigma_u
