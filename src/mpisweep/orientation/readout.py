"""From a multi-contrast reconstruction to the sample's position and easy-axis angle, without ground truth.

c has shape (L, ny, nx): one concentration image per contrast channel (system-matrix angle α_l).

1. :func:`locate`: the sample is the maximum of Σ_l c_l; its position is the centroid of Σ_l c_l
   inside a disc (radius in pixels) around that maximum.
2. :func:`channel_weights`: per channel, the sum of c_l inside the disc around that position.
3. :func:`fit_angle`: least-squares fit of w(α) = p1·(cos²(π(α − p2)/180))^p3 (p1 ≥ 0, p3 ≥ 1)
   started from the doubled-angle mean ½·atan2(Σ w sin 2α, Σ w cos 2α); θ̂ = p2 mod 180°.
4. :func:`orientation_map`: per pixel, the doubled-angle mean of the channel values (hue) and
   Σ_l c_l (brightness), for phantoms with several samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares


def wrap_angle(delta_deg):
    """Angle difference(s) wrapped to [−90°, 90°): the easy axis has period 180°."""
    return (np.asarray(delta_deg, float) + 90.0) % 180.0 - 90.0


def doubled_angle_mean(weights, angles_deg, axis: int = 0):
    """½·atan2(Σ w sin 2α, Σ w cos 2α) in degrees [0, 180): the mean of an axial quantity."""
    w = np.asarray(weights, float)
    a = np.radians(2.0 * np.asarray(angles_deg, float))
    shape = [1] * w.ndim
    shape[axis] = -1
    s = np.sum(w * np.sin(a).reshape(shape), axis=axis)
    c = np.sum(w * np.cos(a).reshape(shape), axis=axis)
    return (np.degrees(np.arctan2(s, c)) / 2.0) % 180.0


def disc(shape: tuple[int, int], centre_yx, radius: float) -> np.ndarray:
    """Boolean mask of the pixels whose centres lie within `radius` pixels of `centre_yx`."""
    yy, xx = np.indices(shape)
    return (yy - centre_yx[0]) ** 2 + (xx - centre_yx[1]) ** 2 <= radius ** 2


def locate(c: np.ndarray, radius: float) -> np.ndarray:
    """Sub-pixel (y, x) position of the sample in the reconstruction c (L, ny, nx)."""
    total = np.asarray(c, float).sum(axis=0)
    peak = np.unravel_index(int(np.argmax(total)), total.shape)
    mask = disc(total.shape, peak, radius)
    w = total * mask
    if w.sum() <= 0:
        return np.asarray(peak, float)
    yy, xx = np.indices(total.shape)
    return np.array([np.sum(w * yy), np.sum(w * xx)]) / w.sum()


def channel_weights(c: np.ndarray, centre_yx, radius: float) -> np.ndarray:
    """Per contrast channel l, the sum of c_l inside the disc around `centre_yx` → (L,)."""
    c = np.asarray(c, float)
    return c[:, disc(c.shape[1:], centre_yx, radius)].sum(axis=1)


def orientation_model(alpha_deg, p1, p2, p3):
    """w(α) = p1·(cos²(π(α − p2)/180))^p3."""
    return p1 * (np.cos(np.radians(np.asarray(alpha_deg, float) - p2)) ** 2) ** p3


def fit_angle(weights, angles_deg) -> tuple[float, np.ndarray]:
    """θ̂ in [0°, 180°) and (p1, p2, p3) of the fit of :func:`orientation_model` to the channel weights.

    p2 is fitted without bounds and wrapped, which is the bounded fit 0 ≤ p2 ≤ 180 without its
    edge at 0°/180°: the model has period 180° in p2.
    """
    w = np.asarray(weights, float)
    a = np.asarray(angles_deg, float)
    start = float(doubled_angle_mean(w, a))
    scale = float(np.max(w)) if np.max(w) > 0 else 1.0
    if not np.any(w > 0):
        return start, np.array([0.0, start, 1.0])

    def residual(p):
        return (orientation_model(a, p[0], p[1], p[2]) - w) / scale

    fit = least_squares(residual, x0=[scale, start, 1.0], bounds=([0.0, -np.inf, 1.0], [np.inf, np.inf, np.inf]),
                        x_scale=[scale, 10.0, 1.0])
    p = fit.x.copy()
    p[1] %= 180.0
    return float(p[1]), p


@dataclass(frozen=True)
class Readout:
    """Where the sample is and how its easy axis points, as :func:`mpisweep.read_out` reads it.

    Attributes
    ----------
    position_yx : numpy.ndarray
        Sub-pixel position (y, x) of the sample in the image, in pixels.
    weights : numpy.ndarray
        (L,) channel weights: the reconstruction of each contrast channel summed over a disc
        around the position.
    angle_deg : float
        Estimated easy-axis angle θ̂ in [0°, 180°), degrees from x: the peak p2 of the fit
        w(α) = p1·(cos²(π(α − p2)/180))^p3 to the weights (Möddel et al. 2021).
    parameters : numpy.ndarray
        The fitted (p1, p2, p3).
    start_deg : float
        The doubled-angle mean of the weights the fit started from, in degrees.
    """

    position_yx: np.ndarray  # sub-pixel (y, x) position, pixels
    weights: np.ndarray  # (L,) channel weights
    angle_deg: float  # θ̂ in [0, 180)
    parameters: np.ndarray  # (p1, p2, p3)
    start_deg: float  # doubled-angle mean the fit started from


def read_out(c: np.ndarray, angles_deg, radius: float = 2.0) -> Readout:
    """Read the position and the easy-axis angle of a single sample from a multi-contrast image.

    Parameters
    ----------
    c : numpy.ndarray
        The reconstruction (L, ny, nx): one image per contrast channel (calibration angle).
    angles_deg : array_like
        The L contrast channels' easy-axis angles, in degrees.
    radius : float
        Radius of the disc around the found sample over which each channel is summed, in pixels.

    Returns
    -------
    ~mpisweep.orientation.readout.Readout
        Position (pixels), channel weights and the fitted angle (degrees).
    """
    pos = locate(c, radius)
    w = channel_weights(c, pos, radius)
    angle, p = fit_angle(w, angles_deg)
    return Readout(pos, w, angle, p, float(doubled_angle_mean(w, angles_deg)))


def orientation_map(c: np.ndarray, angles_deg) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel (angle in [0°, 180°), concentration Σ_l c_l) maps (ny, nx) of the reconstruction c (L, ny, nx)."""
    c = np.asarray(c, float)
    return doubled_angle_mean(c, angles_deg, axis=0), c.sum(axis=0)
