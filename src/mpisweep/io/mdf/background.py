"""Background estimate for calibration frames from interleaved empty-bore (background) frames.

Background frames that are contiguous in acquisition order form a block; each block is averaged
and placed at the mean acquisition index of its frames. The background for a calibration frame is
the linear interpolation of the block means at its acquisition index, held constant before the
first and after the last block (a single block is subtracted as a constant). This tracks a slowly
drifting background the way MPIFiles does (block averages, linear interpolation along the frame
index); unlike MPIFiles, which maps frame indices proportionally onto the list of background
frames (exact only for equidistant background frames), the interpolation here uses the true
acquisition index of every block.
"""

from __future__ import annotations

import numpy as np


def background_blocks(acquisition: np.ndarray, is_background: np.ndarray):
    """Blocks of background frames contiguous in acquisition order.

    `acquisition[n]` is the 0-based acquisition index of stored frame n and `is_background[n]`
    marks it as background. Returns a list of (stored frame indices, block centre).
    """
    acquisition = np.asarray(acquisition)
    is_background = np.asarray(is_background, dtype=bool)
    order = np.argsort(acquisition)  # stored frames in acquisition order
    blocks, current = [], []
    for n in order:
        if is_background[n]:
            current.append(n)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return [(np.array(b), float(np.mean(acquisition[b]))) for b in blocks]


def interpolated_background(data: np.ndarray, acquisition, is_background) -> np.ndarray:
    """Background for every non-background frame of `data` (frame axis last), same frame order.

    `data` holds all N stored frames along its last axis; the result has the shape of the
    foreground frames `data[..., ~is_background]`.
    """
    is_background = np.asarray(is_background, dtype=bool)
    acquisition = np.asarray(acquisition)
    blocks = background_blocks(acquisition, is_background)
    fg_times = acquisition[~is_background].astype(float)
    if not blocks:
        raise ValueError("no background frames")
    means = np.stack([data[..., idx].mean(axis=-1) for idx, _ in blocks], axis=-1)  # (..., B)
    centres = np.array([c for _, c in blocks])
    if len(blocks) == 1:
        return np.repeat(means, fg_times.size, axis=-1)
    # Linear interpolation weights between neighbouring block centres (constant outside).
    t = np.clip(fg_times, centres[0], centres[-1])
    hi = np.clip(np.searchsorted(centres, t, side="right"), 1, len(centres) - 1)
    lo = hi - 1
    w = (t - centres[lo]) / (centres[hi] - centres[lo])
    return means[..., lo] * (1.0 - w) + means[..., hi] * w
