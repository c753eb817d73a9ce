"""Figures for the model fits M0, M0a, M1, M2, M3 (Albers et al. 2022, Figs. 1, 3–6; hue = phase,
brightness = amplitude).

Input: the ``models`` Dataset of the fit step (results/fits/models.zarr) with variables
``measured``, ``model_m0``, ``model_m1`` (angle, channel, frequency, offset_y, offset_x) complex,
``model_m2`` (rank, …) complex, ``eps_m0``, ``eps_m1`` (angle, channel, frequency),
``eps_m2`` (rank, angle, channel, frequency), ``eps_global_m0`` (diameter),
``eps_global_m1`` (diameter, anisotropy), ``weights_m2`` (rank, diameter, anisotropy),
``eps_global_m2`` (rank); coords angle (deg), channel, frequency (bin k, non-dim mx, my),
offset_x, offset_y (mT), diameter (nm), anisotropy (J/m³), rank (fraction of full rank). Optional,
drawn when present: ``model_m0a``, ``eps_m0a``, ``eps_global_m0a`` (diameter, anisotropy) and
``model_m3``, ``eps_m3``, ``weights_m3``, ``eps_global_m3`` over ``rank_m3`` (M3 is shown at its
lowest-ε_global rank), and ``model_m1_fields``, ``model_m3_fields``: M1 and M3 at the field calibration's
fitted fields (in the rows figure).

All figures are drawn on :class:`matplotlib.figure.Figure` objects (Agg canvas, never pyplot),
so nothing is registered globally and memory is freed after each save. NaN entries are shown
grey (or dropped from statistics). Entry points:

* :func:`complex_to_rgb`, :func:`colorbar_2d`, :func:`add_colorbar_2d` — domain colouring
* :func:`plot_eps_global_map` (M1 or M0a), :func:`plot_eps_global_m0`, :func:`plot_m2_weights`,
  :func:`plot_m3_weights`
* :func:`plot_eps_freq`, :func:`plot_eps_angle`, :func:`plot_rows`
* :func:`render_all` — writes every figure under fixed names (:data:`FILE_NAMES`)

Command line: ``python -m mpisweep.figures results/fits/models.zarr OUTDIR``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._common import placeholder
from .colour import NAN_RGB, add_colorbar_2d, colorbar_2d, complex_to_rgb
from .error_stats import eps_freq_grid, plot_eps_angle, plot_eps_freq
from .maps import plot_eps_global_m0, plot_eps_global_map, plot_m2_weights, plot_m3_weights
from .rows import default_angles, default_frequencies, plot_rows

__all__ = [
    "complex_to_rgb", "colorbar_2d", "add_colorbar_2d", "NAN_RGB",
    "plot_eps_global_map", "plot_eps_global_m0", "plot_m2_weights", "plot_m3_weights",
    "plot_eps_freq", "plot_eps_angle", "eps_freq_grid",
    "plot_rows", "default_frequencies", "default_angles",
    "render_all", "FILE_NAMES", "main",
]

#: figure key → file name written by :func:`render_all` (stable; used by the workflow report)
FILE_NAMES = {
    "eps_global_m1": "eps_global_m1.png",
    "eps_global_m0": "eps_global_m0.png",
    "m2_weights": "m2_weights.png",
    "eps_global_m0a": "eps_global_m0a.png",
    "m3_weights": "m3_weights.png",
    "eps_freq": "eps_freq.png",
    "eps_angle": "eps_angle.png",
    "rows": "rows.png",
}

_NEEDS = {
    "eps_global_m1": ("eps_global_m1",),
    "eps_global_m0": ("eps_global_m0",),
    "m2_weights": ("weights_m2",),
    "eps_global_m0a": ("eps_global_m0a",),
    "m3_weights": ("weights_m3",),
    "eps_freq": ("eps_m0", "eps_m0a", "eps_m1", "eps_m2", "eps_m3"),
    "eps_angle": ("eps_m0", "eps_m0a", "eps_m1", "eps_m2", "eps_m3"),
    "rows": ("measured",),
}


def render_all(models, outdir, *, m2_rank=None, frequencies=None, angles=None, channel="x",
               m2_ranks=None) -> list[Path]:
    """Write all figures into ``outdir`` under :data:`FILE_NAMES`; return their paths (that order).

    ``m2_rank``: the M2 rank shown in eps_freq/eps_angle/rows (default: lowest ε_global_m2);
    ``m2_ranks``: ranks in m2_weights (default all); ``frequencies``, ``angles``, ``channel``:
    passed to :func:`plot_rows`. Every file is always written: a figure whose input variables
    are all missing becomes a short placeholder naming them, so workflow outputs stay stable.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    if "offset_z" in models.dims:  # a 3D offset grid: the rows are shown in the plane nearest z = 0
        z = np.asarray(models["offset_z"].values, float)
        models = models.isel(offset_z=int(np.argmin(np.abs(z))))
    plots = {
        "eps_global_m1": lambda p: plot_eps_global_map(models, p),
        "eps_global_m0": lambda p: plot_eps_global_m0(models, p),
        "m2_weights": lambda p: plot_m2_weights(models, p, rank=m2_ranks),
        "eps_global_m0a": lambda p: plot_eps_global_map(models, p, model="m0a"),
        "m3_weights": lambda p: plot_m3_weights(models, p),
        "eps_freq": lambda p: plot_eps_freq(models, p, m2_rank=m2_rank),
        "eps_angle": lambda p: plot_eps_angle(models, p, m2_rank=m2_rank),
        "rows": lambda p: plot_rows(models, p, frequencies, angles, channel=channel, m2_rank=m2_rank),
    }
    paths = []
    for key, name in FILE_NAMES.items():
        path = outdir / name
        if any(v in models.data_vars for v in _NEEDS[key]):
            plots[key](path)
        else:
            placeholder(path, key, "not available: missing variable(s) " + ", ".join(_NEEDS[key]))
        paths.append(path)
    return paths


def main(argv=None) -> int:
    import argparse

    import xarray as xr

    ap = argparse.ArgumentParser(prog="python -m mpisweep.figures", description=__doc__.splitlines()[0])
    ap.add_argument("models", help="models dataset (.zarr directory or .nc file)")
    ap.add_argument("outdir", help="output folder for the PNG files")
    ap.add_argument("--m2-rank", type=float, default=None, help="M2 rank fraction to show (default: best)")
    ap.add_argument("--channel", default="x")
    args = ap.parse_args(argv)
    src = Path(args.models)
    ds = xr.open_zarr(src) if src.suffix == ".zarr" or src.is_dir() else xr.open_dataset(src)
    for p in render_all(ds, args.outdir, m2_rank=args.m2_rank, channel=args.channel):
        print(p)
    return 0
