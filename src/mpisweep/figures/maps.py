"""Parameter maps: ε_global of M1 (and M0a) over (D, K) and of M0 over D (paper Fig. 3), M2 and M3 weights (Fig. 4)."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
from matplotlib.colors import LogNorm, Normalize
from matplotlib.ticker import FormatStrFormatter

from ._common import (
    COLOR,
    LABEL,
    SECOND_AXES,
    edges,
    finite_range,
    m1_optimum,
    new_figure,
    one_d,
    rank_label,
    rank_values,
    save,
    second_axis,
    styled,
)

__all__ = ["plot_eps_global_map", "plot_eps_global_m0", "plot_m2_weights", "plot_m3_weights"]


def _dk(da):
    """Sorted (D, K, values[D, K]) of a (diameter, anisotropy) DataArray — K is D_h for fluid tracers."""
    second = second_axis(da)
    da = da.transpose("diameter", second).sortby("diameter").sortby(second)
    return (one_d(da["diameter"].values).astype(float), one_d(da[second].values).astype(float),
            np.asarray(da.values, dtype=float).reshape(da.sizes["diameter"], da.sizes[second]))


def _d_ticks(ax, d):
    if d.size <= 20:
        ax.set_yticks(d)
        ax.set_yticklabels([f"{v:g}" for v in d])


def _annotate_min(ax, x, y, text, xlim, ylim):
    """Text box next to the marked point, on the side with more room."""
    fx = (x - xlim[0]) / (xlim[1] - xlim[0]) if xlim[1] != xlim[0] else 0.5
    fy = (y - ylim[0]) / (ylim[1] - ylim[0]) if ylim[1] != ylim[0] else 0.5
    dx, ha = (18, "left") if fx < 0.6 else (-18, "right")
    dy, va = (14, "bottom") if fy < 0.6 else (-14, "top")
    ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va, fontsize=9,
                bbox=dict(boxstyle="round,pad=0.3", fc="white", ec="0.3", alpha=0.9),
                arrowprops=dict(arrowstyle="-", color="white", lw=1.2))


@styled
def plot_eps_global_map(models, path, *, log: bool | None = None, cmap: str = "viridis", model: str = "m1") -> dict:
    """Heat map of ε_global of M1 over (K, D) with the minimum marked and annotated (paper Fig. 3 bottom).

    ``model``: "m1" (default) or "m0a", the map ``eps_global_{model}`` drawn.

    K_anis runs along x, D along y. White contours show ε_global = (1 + p)·min for
    p = 2, 5, 10, 25, 50 %. ``log=None`` picks a log colour scale when max/min > 5.

    Returns ``{"path", "diameter", "anisotropy", "eps"}``: the plotted minimum (NaN-aware;
    values are NaN when the map has no finite entry).
    """
    name = LABEL[model]
    second = second_axis(models[f"eps_global_{model}"])
    symbol, unit, axis_label = SECOND_AXES[second]
    d, k, e = _dk(models[f"eps_global_{model}"])
    rng = finite_range(e, positive=True)
    if log is None:
        log = rng is not None and rng[1] / rng[0] > 5
    norm = (LogNorm(*rng) if log else Normalize(*rng)) if rng else Normalize(0, 1)
    cm = matplotlib.colormaps[cmap].with_extremes(bad="0.85")

    fig = new_figure((9.5, 4.2))
    ax = fig.add_subplot()
    mesh = ax.pcolormesh(edges(k), edges(d), np.ma.masked_invalid(e), cmap=cm, norm=norm, shading="flat")
    cb = fig.colorbar(mesh, ax=ax, pad=0.015)
    cb.set_label(f"global NRMSE $\\varepsilon_\\mathrm{{global}}$ ({name})")
    if log:
        cb.ax.yaxis.set_major_formatter(FormatStrFormatter("%.3g"))
        cb.ax.yaxis.set_minor_formatter(FormatStrFormatter("%.2g"))
    ax.set_xlabel(axis_label)
    ax.set_ylabel("core diameter $D$ (nm)")
    _d_ticks(ax, d)
    info = {"diameter": np.nan, second: np.nan, "eps": np.nan}
    if np.isfinite(e).any():
        i, j = np.unravel_index(np.nanargmin(e), e.shape)
        info = {"diameter": float(d[i]), second: float(k[j]), "eps": float(e[i, j])}
        if min(e.shape) >= 2:
            levels = info["eps"] * (1 + np.array([0.02, 0.05, 0.10, 0.25, 0.50]))
            levels = levels[levels < np.nanmax(e)]
            if levels.size:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    cs = ax.contour(k, d, np.ma.masked_invalid(e), levels=levels, colors="white",
                                    linewidths=0.7, alpha=0.75)
                    ax.clabel(cs, fmt={lv: f"+{(lv / info['eps'] - 1) * 100:.0f} %" for lv in levels},
                              fontsize=7, inline=True)
        ax.plot(k[j], d[i], "o", ms=13, mfc="none", mec="black", mew=3.2, zorder=5)
        ax.plot(k[j], d[i], "o", ms=13, mfc="none", mec="white", mew=1.8, zorder=6)
        _annotate_min(ax, k[j], d[i],
                      f"min $\\varepsilon_\\mathrm{{global}}$ = {info['eps']:.4f}\n"
                      f"$D$ = {d[i]:g} nm, {symbol} = {k[j]:g} {unit}",
                      ax.get_xlim(), ax.get_ylim())
        title = f"{name} parameter optimization: global NRMSE over ($D$, " + symbol + ")"
    else:
        title = f"{name} parameter optimization: no finite $\\varepsilon_\\mathrm{{global}}$"
    ax.set_title(title)
    info["path"] = save(fig, path)
    return info


@styled
def plot_eps_global_m0(models, path) -> dict:
    """ε_global of M0 over D (line), with min over K of the M1 map per D for comparison.

    Returns ``{"path", "diameter", "eps"}`` of the M0 minimum (NaN if none is finite).
    """
    da = models["eps_global_m0"].sortby("diameter")
    d = one_d(da["diameter"].values).astype(float)
    e = one_d(da.values).astype(float)
    fig = new_figure((6.4, 4.0))
    ax = fig.add_subplot()
    ax.plot(d, e, "o-", color=COLOR["m0"], label="M0 (equilibrium)")
    if "eps_global_m1" in models:
        d1, _, e1 = _dk(models["eps_global_m1"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            prof = np.nanmin(e1, axis=1)
        symbol = SECOND_AXES[second_axis(models["eps_global_m1"])][0]
        ax.plot(d1, prof, "s--", color=COLOR["m1"], ms=5, label=f"M1 (best {symbol} per D)")
    info = {"diameter": np.nan, "eps": np.nan}
    if np.isfinite(e).any():
        i = int(np.nanargmin(e))
        info = {"diameter": float(d[i]), "eps": float(e[i])}
        ax.plot(d[i], e[i], "*", ms=16, color=COLOR["m0"], mec="black", zorder=5,
                label=f"M0 minimum: {e[i]:.4f} at D = {d[i]:g} nm")
    ax.set_xlabel("core diameter $D$ (nm)")
    ax.set_ylabel("global NRMSE $\\varepsilon_\\mathrm{global}$")
    if d.size <= 20:
        ax.set_xticks(d)
        ax.set_xticklabels([f"{v:g}" for v in d])
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    ax.set_title("M0 (equilibrium) diameter fit")
    info["path"] = save(fig, path)
    return info


@styled
def plot_m2_weights(models, path, rank=None, *, cmap: str = "Blues") -> dict:
    """M2 weights over (K, D), one panel per rank (paper Fig. 4), M1 optimum circled in red.

    ``rank``: None (all ranks), one rank fraction or a sequence of them. Each panel has its
    own linear colour scale from 0 (white) to its largest weight; NaN cells are grey.
    Returns ``{"path", "ranks"}``.
    """
    return _plot_weights(models, path, rank, cmap, "m2")


@styled
def plot_m3_weights(models, path, rank=None, *, cmap: str = "Purples") -> dict:
    """M3 weights (Σw = 1, one transfer function per channel and frequency shared by all entries) over
    (K, D), one panel per rank of ``rank_m3``, M1 optimum circled in red; as :func:`plot_m2_weights`."""
    return _plot_weights(models, path, rank, cmap, "m3")


def _plot_weights(models, path, rank, cmap: str, model: str) -> dict:
    name, dim = LABEL[model], "rank" if model == "m2" else "rank_m3"
    w = models[f"weights_{model}"]
    rv = rank_values(models) if model == "m2" else (
        one_d(models["rank_m3"].values).astype(float) if "rank_m3" in models.coords else None)
    if dim not in w.dims:
        w = w.expand_dims({dim: [rv[0] if rv is not None and rv.size == 1 else np.nan]})
    ranks_all = one_d(w[dim].values).astype(float)
    if rank is None:
        sel = list(range(ranks_all.size))
    else:
        sel = []
        for r in np.atleast_1d(np.asarray(rank, dtype=float)):
            i = int(np.argmin(np.abs(ranks_all - r)))
            if not np.isclose(ranks_all[i], r, rtol=1e-6, atol=1e-9):
                raise ValueError(f"rank {r} not in the data (ranks: {ranks_all.tolist()})")
            sel.append(i)
    eg = None
    if f"eps_global_{model}" in models and models[f"eps_global_{model}"].size == ranks_all.size:
        eg = one_d(models[f"eps_global_{model}"].values).astype(float)
    opt = m1_optimum(models)
    cm = matplotlib.colormaps[cmap].with_extremes(bad="0.6")

    n = len(sel)
    fig = new_figure((9.5, 0.9 + (2.9 if n <= 3 else 2.3) * n))
    axes = fig.subplots(n, 1, squeeze=False, sharex=True)[:, 0]
    for ax, i in zip(axes, sel):
        d, k, wv = _dk(w.isel({dim: i}))
        rng = finite_range(wv)
        top = rng[1] if rng and rng[1] > 0 else 1.0
        mesh = ax.pcolormesh(edges(k), edges(d), np.ma.masked_invalid(wv), cmap=cm, vmin=0, vmax=top,
                             shading="flat")
        cb = fig.colorbar(mesh, ax=ax, pad=0.015)
        cb.set_label("weight $w_{D,K}$ (a.u.)" if model == "m2" else "weight $w_{D,K}$ ($\\Sigma w = 1$)")
        nz = int(np.sum(np.isfinite(wv) & (wv > 1e-12 * top)))
        title = (f"{name} weights, rank {rank_label(ranks_all[i])} of full" if np.isfinite(ranks_all[i])
                 else f"{name} weights")
        if eg is not None and np.isfinite(eg[i]):
            title += f"  (ε_global = {eg[i]:.4f})"
        title += f"  —  {nz} of {wv.size} weights non-zero"
        ax.set_title(title)
        ax.set_ylabel("core diameter $D$ (nm)")
        _d_ticks(ax, d)
        if opt is not None:
            ax.plot(opt[1], opt[0], "o", ms=13, mfc="none", mec="red", mew=1.8, zorder=5)
    symbol, unit, axis_label = SECOND_AXES[second_axis(w)]
    axes[-1].set_xlabel(axis_label)
    head = f"Model {name}: non-negative weights over ($D$, " + symbol + ")"
    if opt is not None:
        head += f";  red circle: M1 optimum ($D$ = {opt[0]:g} nm, {symbol} = {opt[1]:g} {unit})"
    fig.suptitle(head)
    return {"path": save(fig, path), "ranks": [float(ranks_all[i]) for i in sel]}
