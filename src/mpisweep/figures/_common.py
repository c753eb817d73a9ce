"""Shared helpers of :mod:`mpisweep.figures`: style, saving, coordinate and selection helpers."""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

#: the models, and M1 and M3 at the field calibration's fitted fields (where it found the stated ones off)
MODELS = ("m0", "m0a", "m1", "m2", "m3", "m1_fields", "m3_fields")
LABEL = {"m0": "M0", "m0a": "M0a", "m1": "M1", "m2": "M2", "m3": "M3", "m1_fields": "M1 fitted",
         "m3_fields": "M3 fitted"}
COLOR = {"m0": "#d95f02", "m0a": "#e6ab02", "m1": "#1b9e77", "m2": "#7570b3", "m3": "#e7298a",
         "m1_fields": "#66a61e", "m3_fields": "#a6761d"}
DPI = 130
STYLE = {
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.titlesize": 12,
    "image.interpolation": "nearest",
}
KANIS = "$K_\\mathrm{anis}$"
#: the dictionary's second axis in models.zarr → (symbol, unit, axis label): K for immobilised
#: particles (Néel), the hydrodynamic diameter for fluid tracers (Brown)
SECOND_AXES = {
    "anisotropy": (KANIS, "J/m³", f"anisotropy constant {KANIS} (J/m³)"),
    "hydrodynamic_diameter": ("$D_h$", "nm", "hydrodynamic diameter $D_h$ (nm)"),
}


def second_axis(da) -> str:
    """The name of a (…, diameter, second axis) DataArray's second axis (a key of SECOND_AXES)."""
    return next(d for d in da.dims if d in SECOND_AXES)


def styled(func):
    """Run a plotting function inside the module's rc style (no global rcParams change)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return func(*args, **kwargs)

    return wrapper


def new_figure(figsize, layout="constrained") -> Figure:
    """A figure outside pyplot's registry: nothing global to close, freed when dropped."""
    return Figure(figsize=figsize, layout=layout)


def save(fig: Figure, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png")
    return path


@styled
def placeholder(path, title: str, reason: str) -> Path:
    """A small figure saying why a figure could not be drawn (keeps output names stable)."""
    fig = new_figure((6, 2.5))
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.6, title, ha="center", va="center", fontsize=12, weight="bold", transform=ax.transAxes)
    ax.text(0.5, 0.35, reason, ha="center", va="center", fontsize=10, wrap=True, transform=ax.transAxes)
    return save(fig, path)


def nan_rms(a, axis=None):
    a = np.asarray(a, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.sqrt(np.nanmean(a * a, axis=axis))


def finite_range(*arrays, positive=False):
    vals = [np.asarray(a, dtype=float).ravel() for a in arrays]
    v = np.concatenate(vals) if vals else np.empty(0)
    v = v[np.isfinite(v)]
    if positive:
        v = v[v > 0]
    if v.size == 0:
        return None
    return float(v.min()), float(v.max())


def edges(c) -> np.ndarray:
    """Cell edges around sorted cell centres (works for non-uniform and single-value grids)."""
    c = np.asarray(c, dtype=float).ravel()
    if c.size == 1:
        w = 0.1 * abs(c[0]) or 0.5
        return np.array([c[0] - w, c[0] + w])
    mid = 0.5 * (c[1:] + c[:-1])
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def one_d(x) -> np.ndarray:
    return np.atleast_1d(np.asarray(x))


def mixing_orders(models) -> tuple[np.ndarray, np.ndarray]:
    """(mx, my) per entry of the ``frequency`` dimension: from coords, else decoded from k = 16 mx + 17 my.

    A spectrometer's rows (mx only) get my = 0; of a 3D drive's rows only those with mz = 0 are placed
    on the (mx, my) plane, the others get (−1, −1) (not shown in the ε_freq map, not picked by default)."""
    if "mx" in models.coords:
        mx = one_d(models["mx"].values).astype(int)
        my = one_d(models["my"].values).astype(int) if "my" in models.coords else np.zeros_like(mx)
        if "mz" in models.coords:
            off_plane = one_d(models["mz"].values).astype(int) != 0
            mx, my = np.where(off_plane, -1, mx), np.where(off_plane, -1, my)
        return mx, my
    k = one_d(models["frequency"].values).astype(int)
    mx, my = np.full(k.shape, -1), np.full(k.shape, -1)
    for i, kk in enumerate(k):
        for b in range(0, 17):
            if kk - 17 * b >= 0 and (kk - 17 * b) % 16 == 0:
                mx[i], my[i] = (kk - 17 * b) // 16, b
                break
    return mx, my


def rank_values(models) -> np.ndarray | None:
    if "rank" not in models.coords:
        return None
    return one_d(models["rank"].values).astype(float)


def rank_label(r) -> str:
    return f"{100 * float(r):.3g} %"


def rank_index(models, rank=None) -> int | None:
    """Position of the M2 rank to show; ``None`` → lowest ε_global_m2 (ties → larger rank)."""
    r = rank_values(models)
    if r is None:
        return None
    if rank is None:
        if "eps_global_m2" in models:
            e = one_d(models["eps_global_m2"].values).astype(float)
            if e.shape == r.shape and np.isfinite(e).any():
                best = np.nanmin(e)
                cand = np.flatnonzero(e <= best + 1e-12 * abs(best))
                return int(cand[np.argmax(r[cand])])
        return int(np.argmax(r))
    i = int(np.argmin(np.abs(r - float(rank))))
    if not np.isclose(r[i], float(rank), rtol=1e-6, atol=1e-9):
        raise ValueError(f"rank {rank} not in the data (ranks: {r.tolist()})")
    return i


def select_rank(da, idx):
    if idx is not None and "rank" in da.dims:
        return da.isel(rank=idx)
    if "rank" in da.dims:
        return da.isel(rank=0)
    return da


def m3_index(models) -> int:
    """Position along ``rank_m3`` of the M3 solution to show: the lowest ε_global_m3 (else the first)."""
    if "eps_global_m3" in models:
        e = one_d(models["eps_global_m3"].values).astype(float)
        if np.isfinite(e).any():
            return int(np.nanargmin(e))
    return 0


def m3_title(models) -> str:
    """"M3" with its rank when M3 has more than one solution."""
    if "rank_m3" in models.coords and models.sizes.get("rank_m3", 1) > 1:
        return f"M3 (rank {rank_label(one_d(models['rank_m3'].values)[m3_index(models)])})"
    return "M3"


def select_m3(models, da):
    """``da`` at the M3 solution of :func:`m3_index` when it has a ``rank_m3`` dimension."""
    return da.isel(rank_m3=m3_index(models)) if "rank_m3" in da.dims else da


def present(models, prefix: str) -> list[str]:
    """Model keys (m0, m0a, m1, m2, m3) for which ``{prefix}{key}`` is a variable of ``models``."""
    return [k for k in MODELS if f"{prefix}{k}" in models.data_vars]


def eps_rows(models, key: str, ridx) -> np.ndarray:
    """ε of one model as (angle, channel, frequency) float array (M2 at rank position ``ridx``)."""
    da = select_rank(select_m3(models, models[f"eps_{key}"]), ridx)
    dims = [d for d in ("angle", "channel", "frequency") if d in da.dims]
    a = np.asarray(da.transpose(*dims).values, dtype=float)
    for d in ("angle", "channel", "frequency"):  # restore missing (squeezed) dims
        if d not in dims:
            a = np.expand_dims(a, ("angle", "channel", "frequency").index(d))
    return a


def m1_optimum(models):
    """(D, K) — (D, D_h) for fluid tracers — of the M1 optimum: attrs ``best_m1_*`` if present, else
    nanargmin of eps_global_m1."""
    a = models.attrs
    second = second_axis(models["eps_global_m1"]) if "eps_global_m1" in models else "anisotropy"
    if "best_m1_diameter" in a and f"best_m1_{second}" in a:
        try:
            return float(a["best_m1_diameter"]), float(a[f"best_m1_{second}"])
        except (TypeError, ValueError):
            pass
    if "eps_global_m1" in models:
        da = models["eps_global_m1"].transpose("diameter", second)
        e = np.asarray(da.values, dtype=float)
        if np.isfinite(e).any():
            i, j = np.unravel_index(np.nanargmin(e), e.shape)
            return float(one_d(da["diameter"].values)[i]), float(one_d(da[second].values)[j])
    return None
