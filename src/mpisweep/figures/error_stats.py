"""Error statistics: ε_freq over mixing orders (paper Fig. 6 top), ε per angle as box plots (Fig. 6 bottom);
all models present (M0, M0a, M1, M2, M3)."""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.colors import LogNorm, Normalize
from matplotlib.patches import Patch

from ._common import (
    COLOR,
    LABEL,
    eps_rows,
    finite_range,
    m3_title,
    mixing_orders,
    nan_rms,
    new_figure,
    one_d,
    present,
    rank_index,
    rank_label,
    rank_values,
    save,
    styled,
)

__all__ = ["plot_eps_freq", "plot_eps_angle", "eps_freq_grid"]


def _m2_title(models, key, ridx):
    rv = rank_values(models)
    if key == "m2" and ridx is not None and rv is not None:
        return f"M2 (rank {rank_label(rv[ridx])})"
    if key == "m3":
        return m3_title(models)
    return LABEL[key]


def eps_freq_grid(models, key: str, ridx=None) -> np.ndarray:
    """ε_freq (RMS of ε over angles and channels) on a (my, mx) grid; NaN where no bin exists."""
    ef = nan_rms(eps_rows(models, key, ridx), axis=(0, 1))
    mx, my = mixing_orders(models)
    ok = (mx >= 0) & (my >= 0)
    grid = np.full((int(my[ok].max(initial=0)) + 1, int(mx[ok].max(initial=0)) + 1), np.nan)
    grid[my[ok], mx[ok]] = ef[ok]
    return grid


def _int_ticks(ax, n, axis):
    step = max(1, int(np.ceil(n / 10)))
    (ax.set_xticks if axis == "x" else ax.set_yticks)(np.arange(0, n, step))


@styled
def plot_eps_freq(models, path, *, m2_rank=None, cmap: str = "viridis") -> dict:
    """ε_freq per model over (mx, my) with one shared colour scale, plus |ε_M1 − ε_M2| (log scale).

    mx runs along x, my along y (origin lower left); grey cells are mixing orders not in the data
    (e.g. (0,0), (0,1), (1,0)). Returns ``{"path", "eps_global": {model: RMS of ε_freq}}``.
    """
    keys = present(models, "eps_")
    ridx = rank_index(models, m2_rank)
    grids = {k: eps_freq_grid(models, k, ridx) for k in keys}
    rng = finite_range(*grids.values()) or (0.0, 1.0)
    if rng[0] == rng[1]:
        rng = (rng[0] - 0.5 * abs(rng[0] or 1), rng[1] + 0.5 * abs(rng[1] or 1))
    norm = Normalize(*rng)
    cm = matplotlib.colormaps[cmap].with_extremes(bad="0.85")
    diff = None
    if "m1" in grids and "m2" in grids:
        diff = np.abs(grids["m1"] - grids["m2"])
    npan = len(keys) + (diff is not None)
    fig = new_figure((3.1 * npan + 1.2, 3.7))
    axes = list(np.atleast_1d(fig.subplots(1, max(npan, 1), squeeze=False)[0]))
    out = {}
    im = None
    for ax, k in zip(axes, keys):
        g = grids[k]
        ny, nx = g.shape
        im = ax.imshow(np.ma.masked_invalid(g), origin="lower", cmap=cm, norm=norm,
                       extent=(-0.5, nx - 0.5, -0.5, ny - 0.5))
        out[k] = float(nan_rms(g))
        ax.set_title(f"{_m2_title(models, k, ridx)}\n$\\varepsilon_\\mathrm{{global}}$ = {out[k]:.4f}")
        ax.set_xlabel("mixing order $m_x$")
        _int_ticks(ax, nx, "x")
        _int_ticks(ax, ny, "y")
    if keys:
        axes[0].set_ylabel("mixing order $m_y$")
        cb = fig.colorbar(im, ax=axes[:len(keys)], shrink=0.9, pad=0.02)
        cb.set_label("$\\varepsilon^\\mathrm{freq}_k$ (RMS over angles, channels)")
    if diff is not None:
        ax = axes[len(keys)]
        pr = finite_range(diff, positive=True)
        dn = LogNorm(*pr) if pr and pr[1] > pr[0] else Normalize(0, pr[1] if pr else 1)
        ny, nx = diff.shape
        dim = ax.imshow(np.ma.masked_invalid(np.where(diff > 0, diff, np.nan) if pr else diff), origin="lower",
                        cmap=matplotlib.colormaps["magma"].with_extremes(bad="0.85"), norm=dn,
                        extent=(-0.5, nx - 0.5, -0.5, ny - 0.5))
        ax.set_title("$|\\varepsilon^\\mathrm{freq}_{M1} - \\varepsilon^\\mathrm{freq}_{M2}|$")
        ax.set_xlabel("mixing order $m_x$")
        _int_ticks(ax, nx, "x")
        _int_ticks(ax, ny, "y")
        fig.colorbar(dim, ax=ax, shrink=0.9, pad=0.02).set_label("absolute difference")
    fig.suptitle("Frequency-resolved error $\\varepsilon^\\mathrm{freq}_k$ per model")
    return {"path": save(fig, path), "eps_global": out}


@styled
def plot_eps_angle(models, path, *, m2_rank=None) -> dict:
    """Box plot of ε over frequencies and channels, one box per angle and model (paper Fig. 6 bottom).

    Boxes: quartiles, line: median, whiskers: 1.5 IQR, dots: outliers. NaN entries are dropped.
    Returns ``{"path", "median": {model: array of medians per angle}}``.
    """
    keys = present(models, "eps_")
    ridx = rank_index(models, m2_rank)
    angles = one_d(models["angle"].values).astype(float)
    na, nm = angles.size, max(len(keys), 1)
    fig = new_figure((min(16, max(6.5, 0.45 * na * nm + 2.5)), 4.3))
    ax = fig.add_subplot()
    width = 0.8 / nm
    handles, med = [], {}
    for j, k in enumerate(keys):
        e = eps_rows(models, k, ridx)
        data = [v[np.isfinite(v)] for v in e.reshape(e.shape[0], -1)]
        med[k] = np.array([np.median(v) if v.size else np.nan for v in data])
        pos = np.arange(na) + (j - (nm - 1) / 2) * width
        keep = [i for i, v in enumerate(data) if v.size]
        if keep:
            bp = ax.boxplot([data[i] for i in keep], positions=pos[keep], widths=0.85 * width,
                            patch_artist=True, manage_ticks=False,
                            medianprops=dict(color="black", lw=1.2),
                            flierprops=dict(marker=".", ms=3, mfc=COLOR[k], mec="none", alpha=0.6))
            for b in bp["boxes"]:
                b.set_facecolor(COLOR[k])
                b.set_alpha(0.75)
        with np.errstate(all="ignore"):
            m = np.nanmedian(med[k]) if np.isfinite(med[k]).any() else np.nan
        handles.append(Patch(facecolor=COLOR[k], alpha=0.75,
                             label=f"{_m2_title(models, k, ridx)}: median ε {m:.3f}"))
    ax.set_xticks(np.arange(na))
    ax.set_xlim(-0.6, na - 0.4)
    if models["angle"].attrs.get("units", "deg") == "deg":
        ax.set_xticklabels([f"{a:g}°" for a in angles])
        ax.set_xlabel("easy-axis angle $\\vartheta$")
    else:  # 3D directions (counted) or a distribution of easy axes (one entry)
        ax.set_xticklabels([f"{a:g}" for a in angles] if na > 1 else [""])
        ax.set_xlabel(models["angle"].attrs.get("long_name", "easy axis"))
    ax.set_ylabel("row error $\\varepsilon$ (NRMSE)")
    ax.grid(axis="y", alpha=0.3)
    if handles:
        ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=min(3, len(handles)),
                  frameon=False)
    fig.suptitle("Row error per easy-axis angle (statistics over frequencies and channels)")
    return {"path": save(fig, path), "median": med}
