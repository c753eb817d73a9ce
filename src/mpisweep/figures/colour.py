"""Domain colouring of complex system-matrix rows (paper Fig. 1: hue = phase, brightness = amplitude).

hue = phase (cyclic HSV hue wheel: phase 0 → red, +2π/3 → green, −2π/3 → blue, ±π → cyan),
saturation = 1, value (brightness) = |z| / scale, so |z| = 0 is black. Non-finite entries
are drawn mid-grey, a colour the domain colouring itself never produces.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import hsv_to_rgb

__all__ = ["complex_to_rgb", "colorbar_2d", "add_colorbar_2d", "NAN_RGB"]

#: colour of NaN/inf entries (grey: the domain colouring only produces saturated colours or black)
NAN_RGB = (0.5, 0.5, 0.5)


def complex_to_rgb(z, normalize="row", *, row_ndim: int = 2) -> np.ndarray:
    """Map complex values to RGB floats in [0, 1], shape ``z.shape + (3,)``.

    Parameters
    ----------
    z : array-like, complex
    normalize : "row" | "global" | "none" | None | float | array
        How |z| is turned into brightness:

        * ``"row"`` (default): divided by max |z| over the last ``row_ndim`` axes, i.e. per
          system-matrix row (an image over (offset_y, offset_x) for the default ``row_ndim=2``;
          use ``row_ndim=1`` for flattened rows (..., N));
        * ``"global"``: divided by max |z| over the whole array;
        * ``"none"`` / ``None``: |z| used as is;
        * a number or an array broadcastable to ``z.shape``: divided by it (a shared scale,
          e.g. max |S_measured| per frequency for measured and model images alike).

        Brightness is clipped to [0, 1]; a zero scale gives black.
    """
    z = np.asarray(z, dtype=complex)
    finite = np.isfinite(z)
    amp = np.where(finite, np.abs(np.where(finite, z, 0)), 0.0)
    if isinstance(normalize, str) or normalize is None:
        mode = "none" if normalize is None else normalize
        if mode == "row":
            k = min(max(int(row_ndim), 0), z.ndim)
            axes = tuple(range(z.ndim - k, z.ndim))
            scale = amp.max(axis=axes, keepdims=True, initial=0.0) if axes else amp
        elif mode == "global":
            scale = amp.max(initial=0.0)
        elif mode == "none":
            scale = 1.0
        else:
            raise ValueError(f"normalize must be 'row', 'global', 'none', None or a scale, got {normalize!r}")
    else:
        scale = np.asarray(normalize, dtype=float)
    scale = np.broadcast_to(scale, z.shape)
    ok = np.isfinite(scale) & (scale > 0)
    value = np.divide(amp, scale, out=np.zeros(z.shape), where=ok)
    value = np.clip(value, 0.0, 1.0)
    hue = np.mod(np.angle(np.where(finite, z, 0)) / (2 * np.pi), 1.0)
    hsv = np.stack([hue, np.ones_like(hue), value], axis=-1)
    rgb = hsv_to_rgb(hsv)
    rgb[~finite] = NAN_RGB
    return np.clip(rgb, 0.0, 1.0)


def colorbar_2d(n_phase: int = 256, n_amp: int = 64) -> np.ndarray:
    """RGB image of the 2D colour key: shape (n_amp, n_phase, 3).

    Rows are amplitudes 0 … 1 (row 0 = amplitude 0), columns phases −π … π.
    """
    phase = np.linspace(-np.pi, np.pi, int(n_phase))
    amp = np.linspace(0.0, 1.0, int(n_amp))
    return complex_to_rgb(amp[:, None] * np.exp(1j * phase[None, :]), normalize="none")


_PI_TICKS = ([-np.pi, -np.pi / 2, 0, np.pi / 2, np.pi], ["−π", "−π/2", "0", "π/2", "π"])


def add_colorbar_2d(ax, *, orientation: str = "horizontal", n_phase: int = 256, n_amp: int = 64,
                    amp_label: str = "|S| / max|S|", phase_label: str = "phase (rad)"):
    """Draw the 2D colour key into ``ax`` (phase along one axis, amplitude along the other).

    ``orientation="horizontal"``: phase on the x axis; ``"vertical"``: phase on the y axis
    (for a tall narrow key next to a figure). Returns ``ax``.
    """
    img = colorbar_2d(n_phase, n_amp)
    if orientation == "horizontal":
        ax.imshow(img, origin="lower", extent=(-np.pi, np.pi, 0, 1), aspect="auto", interpolation="bilinear")
        ax.set_xticks(*_PI_TICKS)
        ax.set_yticks([0, 0.5, 1])
        ax.set_xlabel(phase_label)
        ax.set_ylabel(amp_label)
    elif orientation == "vertical":
        ax.imshow(np.transpose(img, (1, 0, 2)), origin="lower", extent=(0, 1, -np.pi, np.pi),
                  aspect="auto", interpolation="bilinear")
        ax.set_yticks(*_PI_TICKS)
        ax.set_xticks([0, 1])
        ax.set_ylabel(phase_label)
        ax.set_xlabel(amp_label)
        ax.yaxis.set_label_position("right")
        ax.yaxis.tick_right()
    else:
        raise ValueError(f"orientation must be 'horizontal' or 'vertical', got {orientation!r}")
    return ax
