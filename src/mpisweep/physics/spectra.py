"""System-matrix rows from one cycle of d<m>/dt.

Convention (fixed, documented): φ_k = (1/N) Σ_n d<m_c>/dt(t_n) · exp(-2πi k n / N),
k = 0 … N/2 (numpy.fft.rfft / N), in 1/s, receive channels c = x, y. The physical
signal is ∝ -µ0·m0·d<m>/dt; the sign and all scale factors are absorbed by the
fitted complex transfer function, so only this convention has to stay fixed.
"""

from __future__ import annotations

import numpy as np

CHANNELS = ("x", "y")


def spectrum(rate: np.ndarray, channels: int = 2) -> np.ndarray:
    """rfft bins of d<m>/dt per receive channel: (samples, 3) → (channels, samples//2 + 1)."""
    rate = np.asarray(rate, dtype=float)
    if rate.ndim != 2 or rate.shape[1] < channels:
        raise ValueError(f"rate: expected shape (samples, ≥{channels}), got {rate.shape}")
    return np.fft.rfft(rate[:, :channels].T, axis=-1) / rate.shape[0]


def mixing_bins(dividers, max_x: int, max_y: int) -> np.ndarray:
    """0-based rfft bins k(mx, my) = mx·(C/dx) + my·(C/dy), C = lcm(dividers), as (mx, my, k) rows.

    For the Bruker cycle (102, 96) this is k = 16·mx + 17·my (paper §2.3). The
    evaluation set excludes (0,0), (0,1) and (1,0): the DC bin and the drive frequencies.
    """
    import math

    dx, dy = (int(d) for d in dividers[:2])
    cycle = math.lcm(dx, dy)
    rows = [
        (mx, my, mx * (cycle // dx) + my * (cycle // dy))
        for mx in range(max_x + 1)
        for my in range(max_y + 1)
        if (mx, my) not in ((0, 0), (0, 1), (1, 0))
    ]
    return np.array(rows, dtype=int).reshape(-1, 3)
