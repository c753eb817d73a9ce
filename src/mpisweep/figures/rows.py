"""Measured vs modelled system-matrix rows over the offset grid (paper Figs. 1 and 5)."""

from __future__ import annotations

import matplotlib
import numpy as np

from ._common import (
    LABEL,
    m3_title,
    mixing_orders,
    new_figure,
    one_d,
    present,
    rank_index,
    rank_label,
    rank_values,
    save,
    select_m3,
    styled,
)
from .colour import NAN_RGB, add_colorbar_2d, complex_to_rgb

__all__ = ["plot_rows", "default_frequencies", "default_angles"]

_PREFERRED = [(1, 1), (3, 3), (5, 5), (1, 3), (3, 1), (3, 5), (5, 3), (2, 2)]


def default_frequencies(models, n: int = 3) -> list[int]:
    """Positions along ``frequency`` of up to ``n`` low mixing orders, (1,1), (3,3), (5,5) first."""
    mx, my = mixing_orders(models)
    pairs = list(zip(mx.tolist(), my.tolist()))
    chosen = [pairs.index(p) for p in _PREFERRED if p in pairs][:n]
    rest = sorted((i for i, p in enumerate(pairs)
                   if min(p) >= 0 and p not in ((0, 0), (0, 1), (1, 0)) and i not in chosen),
                  key=lambda i: (pairs[i][0] + pairs[i][1], pairs[i][0]))
    chosen += rest[: n - len(chosen)]
    if not chosen:
        chosen = list(range(min(n, len(pairs))))
    return chosen


def default_angles(models) -> list[int]:
    """Positions of the first, middle and last angle (unique)."""
    na = models.sizes["angle"]
    return sorted({0, na // 2, na - 1})


def _freq_positions(models, frequencies) -> list[int]:
    if frequencies is None:
        return default_frequencies(models)
    mx, my = mixing_orders(models)
    pairs = list(zip(mx.tolist(), my.tolist()))
    k = one_d(models["frequency"].values).astype(int).tolist()
    pos = []
    for f in frequencies:
        if isinstance(f, (tuple, list)) and len(f) == 2:
            if tuple(int(v) for v in f) not in pairs:
                raise ValueError(f"mixing order {tuple(f)} not in the data")
            pos.append(pairs.index(tuple(int(v) for v in f)))
        else:
            if int(f) not in k:
                raise ValueError(f"frequency bin {f} not in the data")
            pos.append(k.index(int(f)))
    return pos


def _angle_positions(models, angles) -> list[int]:
    if angles is None:
        return default_angles(models)
    a = one_d(models["angle"].values).astype(float)
    pos = []
    for v in np.atleast_1d(angles):
        i = int(np.argmin(np.abs(a - float(v))))
        if not np.isclose(a[i], float(v), atol=1e-6):
            raise ValueError(f"angle {v} not in the data (angles: {a.tolist()})")
        pos.append(i)
    return pos


def _images(models, name, ch, fpos, apos, ridx):
    """(angle, frequency, offset_y, offset_x) complex array for the chosen rows, offsets ascending."""
    da = select_m3(models, models[name])
    if "rank" in da.dims:
        da = da.isel(rank=ridx if ridx is not None else 0)
    da = da.isel(channel=ch, frequency=fpos, angle=apos).sortby("offset_y").sortby("offset_x")
    return np.asarray(da.transpose("angle", "frequency", "offset_y", "offset_x").values, dtype=complex)


def order_label(models, pos: int) -> str:
    """The mixing orders of frequency entry `pos`: "(mx,my)" for the 2D drive, "(mx,my,mz)" for 3D, "m=…" for a
    spectrometer's harmonic, "k=…" (the bin) where the entry has no mixing-order label."""
    names = [n for n in ("mx", "my", "mz") if n in models.coords]
    orders = [int(one_d(models[n].values)[pos]) for n in names]
    if not names or min(orders) < 0:
        return f"k={int(one_d(models['frequency'].values)[pos])}"
    return f"m={orders[0]}" if len(orders) == 1 else f"({','.join(map(str, orders))})"


def distribution(models) -> str | None:
    """The easy axes' distribution (random, field_aligned) when the angle axis is one averaged entry, else None."""
    return models["angle"].attrs.get("easy_axes")


def axis_label(models, pos: int) -> str:
    """The easy axis of angle entry `pos`: ϑ (in-plane), (θ, φ) when the easy axes are given in 3D, or their
    distribution."""
    if distribution(models):
        return distribution(models).replace("_", "-") + " axes"
    if "polar" in models.coords:
        polar, azimuth = (float(one_d(models[n].values)[pos]) for n in ("polar", "azimuth"))
        return f"(θ,φ)=({polar:g}°,{azimuth:g}°)"
    return f"ϑ={float(one_d(models['angle'].values)[pos]):g}°"


def easy_axis_in_plane(models, pos: int) -> tuple[float, float]:
    """The easy axis of angle entry `pos` projected onto the x-y plane of the images."""
    if "polar" in models.coords:
        polar, azimuth = (np.deg2rad(float(one_d(models[n].values)[pos])) for n in ("polar", "azimuth"))
        return np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth)
    t = np.deg2rad(float(one_d(models["angle"].values)[pos]))
    return np.cos(t), np.sin(t)


def _nice_ticks(lim):
    """Three ticks (−a, 0, a) for a symmetric-ish offset range, rounded to a multiple of 5 mT."""
    a = 0.75 * min(abs(lim[0]), abs(lim[1]))
    a = 5 * np.floor(a / 5) if a >= 5 else round(a, 1)
    if a <= 0:
        return [0.5 * (lim[0] + lim[1])]
    return [-a, 0.0, a] if lim[0] < 0 < lim[1] else [lim[0], lim[1]]


@styled
def plot_rows(models, path, frequencies=None, angles=None, *, channel="x", m2_rank=None,
              diff: bool = True) -> dict:
    """Grid of system-matrix rows: one figure row per (frequency, angle), columns measured, M0, M0a, M1,
    M2, M3 (those present; M2 and M3 at their lowest-ε_global rank unless ``m2_rank`` is given for M2)
    and the difference maps |measured − model| (paper Fig. 5).

    ``frequencies``: (mx, my) pairs or integer bins k (labels of ``frequency``); default
    :func:`default_frequencies`. ``angles``: angle values in degrees; default first/middle/last.
    Complex images use :func:`complex_to_rgb` with the brightness scale max|S_measured| over all
    angles and offsets of that frequency and channel (shared by measured and model images, as in the
    paper); difference maps use the same scale. The yellow line in the measured column is the easy
    axis (cos ϑ, sin ϑ). Offsets: x horizontal, y vertical, in mT, origin lower left.
    Returns ``{"path", "frequencies": [(mx, my)], "angles": [deg]}``.
    """
    chans = [str(c) for c in one_d(models["channel"].values)]
    ch = chans.index(str(channel)) if str(channel) in chans else int(channel)
    fpos, apos = _freq_positions(models, frequencies), _angle_positions(models, angles)
    ridx = rank_index(models, m2_rank)
    keys = present(models, "model_")
    mx, my = mixing_orders(models)
    ang = one_d(models["angle"].values).astype(float)
    ox = np.sort(one_d(models["offset_x"].values).astype(float))
    oy = np.sort(one_d(models["offset_y"].values).astype(float))
    hx = 0.5 * (ox[1] - ox[0]) if ox.size > 1 else 1.0
    line = oy.size == 1  # a 1D offset grid (a spectrometer, a robot line): a strip a quarter as high as wide
    hy = 0.5 * (oy[1] - oy[0]) if not line else 0.125 * (ox[-1] - ox[0] + 2 * hx)
    extent = (ox[0] - hx, ox[-1] + hx, oy[0] - hy, oy[-1] + hy)

    meas_all = models["measured"].isel(channel=ch, frequency=fpos)
    amp = np.abs(np.asarray(meas_all.transpose("frequency", ...).values, dtype=complex))
    amp = np.where(np.isfinite(amp), amp, 0).reshape(len(fpos), -1)
    scale = amp.max(axis=1, initial=0.0)  # per frequency, over all angles and offsets

    meas = _images(models, "measured", ch, fpos, apos, ridx)
    mods = {k: _images(models, f"model_{k}", ch, fpos, apos, ridx) for k in keys}
    rv = rank_values(models)
    titles = ["measured"] + [f"M2 ({rank_label(rv[ridx])})" if k == "m2" and rv is not None and ridx is not None
                             else m3_title(models) if k == "m3" else LABEL[k] for k in keys]
    if diff:
        titles += [f"|meas − {LABEL[k]}|" for k in keys]
    rows = [(fi, ai) for fi in range(len(fpos)) for ai in range(len(apos))]
    nr, nc = len(rows), len(titles)
    dvals = []
    if diff:
        for k in keys:
            s = np.where(scale > 0, scale, np.inf)[None, :, None, None]
            dvals.append(np.abs(meas - mods[k]) / s)
    fin = [v[np.isfinite(v)] for v in dvals]
    allv = np.concatenate(fin) if fin else np.empty(0)
    dtop = float(allv.max()) if allv.size and allv.max() > 0 else 1.0

    panel = 1.35
    W, H = panel * nc + 2.6, max(panel * nr + 1.3, 5.0)
    fig = new_figure((W, H), layout=None)
    gs = fig.add_gridspec(nr, nc, left=1.25 / W, right=1 - 1.35 / W, bottom=0.7 / H, top=1 - 0.6 / H,
                          wspace=0.08, hspace=0.1)
    dimg = None
    dcmap = matplotlib.colormaps["inferno"].with_extremes(bad=NAN_RGB)
    xt, yt = _nice_ticks(extent[:2]), _nice_ticks(extent[2:])
    seg = 0.45 * min(extent[1] - extent[0], extent[3] - extent[2])
    cx, cy = 0.5 * (extent[0] + extent[1]), 0.5 * (extent[2] + extent[3])
    for r, (fi, ai) in enumerate(rows):
        col = [complex_to_rgb(meas[ai, fi], normalize=scale[fi])]
        col += [complex_to_rgb(mods[k][ai, fi], normalize=scale[fi]) for k in keys]
        for c in range(nc):
            ax = fig.add_subplot(gs[r, c])
            if c < len(col):
                ax.imshow(col[c], origin="lower", extent=extent, aspect="equal", interpolation="nearest")
            else:
                dimg = ax.imshow(dvals[c - len(col)][ai, fi], origin="lower", extent=extent, aspect="equal",
                                 cmap=dcmap, vmin=0, vmax=dtop, interpolation="nearest")
            if c == 0 and not distribution(models):
                ex, ey = easy_axis_in_plane(models, apos[ai])
                ax.plot([cx - seg * ex, cx + seg * ex], [cy - seg * ey, cy + seg * ey],
                        color="yellow", lw=1.3, alpha=0.85)
            if c == 0:
                ax.set_xlim(extent[:2])
                ax.set_ylim(extent[2:])
                ax.set_yticks([] if line else yt)
                where = f"y = {oy[0]:g} mT" if line else "y (mT)"
                ax.set_ylabel(f"{order_label(models, fpos[fi])}, {axis_label(models, apos[ai])}\n{where}", fontsize=9)
            else:
                ax.set_yticks([])
            if r == nr - 1:
                ax.set_xticks(xt)
                ax.set_xlabel("x (mT)", fontsize=9)
            else:
                ax.set_xticks([])
            ax.tick_params(labelsize=7, length=2)
            if r == 0:
                ax.set_title(titles[c], fontsize=9.5)
    top = 1 - 0.6 / H
    key_h = 1.9
    cax = fig.add_axes((1 - 1.0 / W, top - key_h / H, 0.3 / W, key_h / H))
    add_colorbar_2d(cax, orientation="vertical", amp_label="|S|/max", n_phase=128, n_amp=32)
    if dimg is not None:
        bar_top = top - (key_h + 0.8) / H
        bar_h = min(3.0, max(1.0, bar_top * H - 0.7))
        dax = fig.add_axes((1 - 1.0 / W, bar_top - bar_h / H, 0.15 / W, bar_h / H))
        fig.colorbar(dimg, cax=dax).set_label("|meas − model| / max|S|", fontsize=8)
        dax.tick_params(labelsize=7)
    fig.suptitle(f"System-matrix rows, channel {chans[ch]}: hue = phase, brightness = |S| / max|S_meas| per frequency",
                 fontsize=10.5)
    return {"path": save(fig, path), "frequencies": [(int(mx[i]), int(my[i])) for i in fpos],
            "angles": [float(ang[i]) for i in apos]}
