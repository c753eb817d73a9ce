"""Orientation-imaging figures: angle errors per true orientation (box plots) and per-pixel orientation maps.

Maps: hue = easy-axis angle on a cyclic scale of period 180° (the colouring of a complex number
with phase 2θ), brightness = concentration Σ_l c_l / max.
"""

from __future__ import annotations

import numpy as np

from ..orientation.readout import orientation_map
from .colour import complex_to_rgb


def error_boxplot(readouts: dict[str, list[dict]], path) -> None:
    """Angle error vs true orientation, one box per (orientation, model)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(readouts)
    angles = sorted({round(r["true_angle_deg"], 6) for rows in readouts.values() for r in rows})
    fig, ax = plt.subplots(figsize=(min(16.0, max(6.0, 0.12 * len(angles) * len(models) + 2)), 3.6),
                           constrained_layout=True)
    width = 0.8 / max(len(models), 1)
    for i, m in enumerate(models):
        data = [[r["angle_error_deg"] for r in readouts[m] if round(r["true_angle_deg"], 6) == a] for a in angles]
        pos = np.arange(len(angles)) + (i - (len(models) - 1) / 2) * width
        b = ax.boxplot(data, positions=pos, widths=width * 0.9, patch_artist=True, showfliers=True,
                       flierprops={"markersize": 2})
        colour = plt.get_cmap("tab10")(i)
        for patch in b["boxes"]:
            patch.set_facecolor(colour)
            patch.set_alpha(0.6)
        ax.plot([], [], "s", color=colour, label=m)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xticks(np.arange(len(angles)))
    ax.set_xticklabels([f"{a:g}" for a in angles], rotation=90 if len(angles) > 12 else 0, fontsize=7)
    ax.set_xlabel("true easy-axis angle (deg)")
    ax.set_ylabel("angle error θ̂ − θ (deg)")
    ax.legend(fontsize=7, ncol=len(models))
    fig.savefig(path, dpi=150)
    plt.close(fig)


def orientation_maps(images: dict[str, np.ndarray], angles: dict[str, list[float]], truths: list[list[dict]],
                     extents: dict[str, tuple[float, float, float, float]], path) -> None:
    """One panel per (phantom, model): hue = angle (period 180°), brightness = concentration; true samples marked.

    images: model → (phantom, L, ny, nx) on its offset grid; extents: model → (x of column −½, x of column
    nx − ½, y of row −½, y of row ny − ½) in mm, so each image is drawn in position space (mirrored where
    a gradient is negative); truths: per phantom its samples {x, y (mm), angle}.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(images)
    n = len(truths)
    fig, axes = plt.subplots(n, len(models) + 1, figsize=(2.4 * (len(models) + 1), 2.4 * n), squeeze=False,
                             constrained_layout=True, gridspec_kw={"width_ratios": [1] * len(models) + [0.35]})
    for j, m in enumerate(models):
        for i in range(n):
            theta, conc = orientation_map(images[m][i], angles[m])
            rgb = complex_to_rgb(conc * np.exp(2j * np.radians(theta)), normalize="global")
            ax = axes[i, j]
            left, right, bottom, top = extents[m]
            ax.imshow(rgb, origin="lower", interpolation="nearest", extent=extents[m])
            ax.set_xlim(min(left, right), max(left, right))
            ax.set_ylim(min(bottom, top), max(bottom, top))
            xy = np.array([[s["x"], s["y"]] for s in truths[i]])
            ax.scatter(xy[:, 0], xy[:, 1], s=30, facecolors="none", edgecolors="w", linewidths=0.8)
            for s in truths[i]:
                ax.annotate(f"{s['angle']:g}°", (s["x"], s["y"]), color="w", fontsize=6, xytext=(3, 3),
                            textcoords="offset points")
            ax.tick_params(labelsize=6)
            if i == n - 1:
                ax.set_xlabel("x (mm)", fontsize=7)
            if j == 0:
                ax.set_ylabel("y (mm)", fontsize=7)
            if i == 0:
                ax.set_title(m, fontsize=9)
    for i in range(n):
        ax = axes[i, -1]
        hue = np.linspace(0, 180, 181)
        ax.imshow(complex_to_rgb(np.exp(2j * np.radians(hue))[:, None].repeat(8, 1), normalize="global"),
                  origin="lower", aspect="auto", extent=(0, 1, 0, 180))
        ax.set_xticks([])
        ax.yaxis.tick_right()
        ax.set_yticks([0, 45, 90, 135, 180])
        ax.set_ylabel("angle (deg)", fontsize=7)
        ax.yaxis.set_label_position("right")
    fig.savefig(path, dpi=150)
    plt.close(fig)
