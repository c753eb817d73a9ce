"""Which measured rows the fits use: those whose SNR shows a signal, so that noise is not fitted.

A row is one receive channel c at one evaluation bin k. The fits weight every row by 1/‖S‖∞ (paper
eq. 16), so a row of pure noise weighs as much as a strong harmonic; a receive channel without signal
(a coil along an axis without drive) then pulls the weights towards whatever entry fits the noise.
:func:`select_rows` keeps a row where its SNR (:mod:`mpisweep.io.mdf.noise`: RMS over the offsets over
the noise σ of one frame; pure noise ≈ 1) reaches the threshold in every measured file, drops the bins
left without any row, and names each receive channel left out entirely.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RowSelection:
    """The rows a fit uses, from the SNR (angle, channel, bin) of the measured files."""

    rows: np.ndarray  # (channel, bin) bool over the bins given to select_rows
    threshold: float
    channels: tuple[str, ...]
    snr: np.ndarray  # (channel, bin): the smallest SNR over the files

    @property
    def kept_bins(self) -> np.ndarray:
        """Positions of the bins that keep at least one row."""
        return np.flatnonzero(self.rows.any(axis=0))

    @property
    def dead_channels(self) -> list[str]:
        """Receive channels without any row above the threshold."""
        return [c for c, used in zip(self.channels, self.rows.any(axis=1)) if not used]

    def warnings(self) -> list[str]:
        """One line per receive channel left out, naming it and its largest SNR."""
        return [f"receive channel {c}: no bin reaches an SNR of {self.threshold:g} in every measured file "
                f"(largest {float(self.snr[i].max()):.3g}; noise alone gives ≈ 1): left out of the fits"
                for i, c in enumerate(self.channels) if not self.rows[i].any()]

    def summary(self) -> str:
        n_c, n_f = self.rows.shape
        dropped = n_f - self.kept_bins.size
        return (f"rows with SNR ≥ {self.threshold:g} in every file: {int(self.rows.sum())} of {n_c * n_f} "
                f"(channel × bin); {dropped} of {n_f} bins left without a row")


def select_rows(snr: np.ndarray, threshold: float, channels) -> RowSelection:
    """Rows (channel, bin) whose SNR reaches `threshold` in every file; `snr` is (file, channel, bin)."""
    snr = np.asarray(snr, float)
    if snr.ndim != 3:
        raise ValueError(f"snr: expected (file, channel, bin), got shape {snr.shape}")
    worst = np.nan_to_num(snr, nan=0.0).min(axis=0)
    return RowSelection(worst >= float(threshold), float(threshold), tuple(str(c) for c in channels), worst)
