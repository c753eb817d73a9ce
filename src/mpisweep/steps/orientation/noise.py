"""Row SNR from the phantom measurements themselves, the same whoever wrote the files.

A file's /calibration/snr has no fixed definition (max or RMS over offsets, over which noise), so a
threshold on it means different things for different writers. Here the noise comes from the phantom
files (:func:`mpisweep.io.mdf.noise.frame_noise`), each read once:

* σ per (receive channel, bin) of one frame of each file: the spread of its background frames about
  their block's mean, else (no background block of two frames) the spread of its repeated foreground
  frames; σ² is averaged over the files;
* a phantom's spectrum u = mean of its F foreground frames − mean of its E background frames has
  noise σ_u² = σ²(1/F + 1/E) (1/E = 0 without background frames; averaged over the files where
  their frame counts differ);
* SNR = sqrt(max(mean_n |u_n|² − σ_u², 0)) / σ_u over the N phantoms: the RMS signal a row carries
  in the measurements, in units of its own noise.
"""

from __future__ import annotations

import numpy as np

from ...errors import MeasurementError
from ...io.mdf import read_system_matrix
from ...io.mdf.noise import frame_noise


def phantom_noise(files, bins, channels) -> tuple[np.ndarray, np.ndarray]:
    """(SNR, σ_u), each (channel, bin), of the phantom measurement `files` at rfft `bins` (see module docstring)."""
    bins = np.asarray(bins, np.int64)
    spectra, variances, factors, single = [], [], [], []
    for path in files:
        ds = read_system_matrix(path, frequencies=bins, subtract_background=False, calibration=False)
        noise = frame_noise(ds, calibration=False)
        if noise is None:
            if "background" not in ds:
                raise MeasurementError(f"{path}: neither background frames (/measurement/isBackgroundFrame) nor "
                                       "repeated frames; orientation.reconstruction.snr_source: phantoms estimates "
                                       "the noise from them")
            single.append(ds["background"].transpose("channel", "frequency", "background_frame").values[channels])
        fg = ds["system_matrix"].transpose("channel", "frequency", "offset").values[channels]
        factor = 1.0 / fg.shape[-1]
        spectrum = fg.mean(axis=-1)
        if "background" in ds:
            bg = ds["background"].transpose("channel", "frequency", "background_frame").values[channels]
            spectrum = spectrum - bg.mean(axis=-1)
            factor += 1.0 / bg.shape[-1]
        spectra.append(spectrum)
        if noise is not None:
            variances.append(noise.sigma[channels] ** 2)
        factors.append(factor)  # σ_u² / σ² of this file
    if single:  # files with a single background frame and a single frame: their background frames pooled
        if len(single) + len(variances) < 2:
            raise MeasurementError("orientation.reconstruction.snr_source: phantoms needs two background frames at "
                                   "least (in one file or over the files)")
        frames = np.concatenate(single, axis=-1)
        if frames.shape[-1] >= 2:
            variances.append(np.sum(np.abs(frames - frames.mean(axis=-1, keepdims=True)) ** 2, axis=-1)
                             / (frames.shape[-1] - 1))
    sigma_u = np.sqrt(np.mean(variances, axis=0) * np.mean(factors))  # files may differ in their frame counts
    if not np.any(sigma_u > 1e-12 * np.abs(np.stack(spectra)).max()):  # rounding, not noise
        raise MeasurementError(f"{files[0]} …: the phantom files carry no noise (their background and repeated "
                               "frames are identical), so orientation.reconstruction.snr_source: phantoms has no "
                               "SNR to select by; use snr_source: calibration or snr_threshold: null")
    power = np.mean(np.abs(np.stack(spectra)) ** 2, axis=0) - sigma_u ** 2
    snr = np.divide(np.sqrt(np.maximum(power, 0.0)), sigma_u, out=np.zeros_like(sigma_u), where=sigma_u > 0)
    return snr, sigma_u
