"""The multi-contrast system: which rows (receive channel, frequency) enter, how they are weighted, A = [S_α1 … S_αL].

Rows are the (channel, rfft bin) pairs at or above a minimum frequency whose calibration SNR
reaches a threshold in every contrast (every calibration angle), as in Möddel et al. 2021.
Weighting (applied to the rows of A and to the measurement alike):

* ``none``;
* ``row_norm``: each row divided by its 2-norm over all contrasts and pixels;
* ``whitening``: each row divided by its noise standard deviation, estimated from the
  calibration as (RMS of the calibration row over angles and offsets) / SNR.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MpisweepError

WEIGHTINGS = ("none", "row_norm", "whitening")


@dataclass(frozen=True)
class Rows:
    """Selected rows: receive channel index and rfft bin of each, and its weight."""

    channel: np.ndarray  # (M,) int
    bin: np.ndarray  # (M,) int
    weight: np.ndarray  # (M,) float, multiplies row i of A and u_i


def select_rows(snr: np.ndarray | None, freqs_hz: np.ndarray, min_frequency: float, snr_threshold: float | None,
                channels=(0, 1)) -> tuple[np.ndarray, np.ndarray]:
    """(channel, bin) index arrays of the rows to use.

    snr: (angle, channel, bin) calibration SNR on the bins `freqs_hz` (all rfft bins); None only
    when snr_threshold is None. Raises when no row is left.
    """
    freqs_hz = np.asarray(freqs_hz, float)
    keep = np.zeros((len(channels), freqs_hz.size), bool)
    keep[:] = freqs_hz[None, :] >= min_frequency
    if snr_threshold is not None:
        if snr is None:
            raise MpisweepError("frequency selection by SNR needs a noise estimate: the calibration files have neither "
                                "background frames nor /calibration/snr; set orientation.reconstruction.snr_threshold: "
                                "null to select by frequency only, or snr_source: phantoms")
        keep &= np.min(np.asarray(snr)[:, list(channels), :], axis=0) >= snr_threshold
    ch, k = np.nonzero(keep)
    if ch.size == 0:
        raise MpisweepError(f"no frequency ≥ {min_frequency:g} Hz has SNR ≥ {snr_threshold} in every contrast; "
                            "lower orientation.reconstruction.snr_threshold or min_frequency")
    return np.asarray(channels)[ch], k


def stack(matrices: np.ndarray, channel: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """A (M, L·P) from per-contrast system matrices (L, C, K, P): column l·P + p is pixel p of contrast l."""
    rows = matrices[:, channel, bins, :]  # (L, M, P)
    return np.ascontiguousarray(np.moveaxis(rows, 0, 1).reshape(rows.shape[1], -1))


def row_weights(A: np.ndarray, weighting: str, noise_sigma: np.ndarray | None = None) -> np.ndarray:
    """(M,) row weights for `weighting` (see module docstring); noise_sigma (M,) for whitening."""
    if weighting == "none":
        return np.ones(A.shape[0])
    if weighting == "row_norm":
        norm = np.linalg.norm(A, axis=1)
        return np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0)
    if weighting == "whitening":
        if noise_sigma is None:
            raise MpisweepError("whitening needs the calibration files' noise (background frames or /calibration/snr)")
        s = np.asarray(noise_sigma, float)
        return np.divide(1.0, s, out=np.zeros_like(s), where=s > 0)
    raise MpisweepError(f"orientation.reconstruction.weighting: unknown {weighting!r}; choose one of {WEIGHTINGS}")


def noise_sigma(calibration: np.ndarray, snr: np.ndarray) -> np.ndarray:
    """Noise standard deviation (C, K) of one calibration scan per row, from the calibration (angle, C, K, P)
    and its SNR (angle, C, K): RMS over the angles and offsets / the mean SNR over the angles (inf where it is 0)."""
    rms = np.sqrt(np.mean(np.abs(calibration) ** 2, axis=(0, 3)))
    s = np.mean(np.asarray(snr), axis=0)
    return np.divide(rms, s, out=np.full_like(rms, np.inf), where=s > 0)
