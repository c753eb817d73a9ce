"""The fit's models dataset (``fits/models.zarr``, what the figures read) and the model MDF export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from ..io.mdf import write_system_matrix
from ..io.provenance import package_attrs
from .config import Sweep, label
from .coords import SPECTRUM_CONVENTION, all_coords, system_matrix_dataset


def _grid(values: np.ndarray, sweep: Sweep) -> np.ndarray:
    """(…, offset) → (…, offset_y, offset_x)."""
    return values.reshape(values.shape[:-1] + (sweep.offset_grid.ny, sweep.offset_grid.nx))


def models_dataset(sweep: Sweep, measured: xr.DataArray, r0, r1, r2) -> xr.Dataset:
    """The models Dataset (results/fits/models.zarr) the figures read.

    Variables: measured, model_m0, model_m1 (angle, channel, frequency, offset_y, offset_x)
    complex; model_m2 (rank, …) complex; eps_m0, eps_m1 (angle, channel, frequency); eps_m2
    (rank, angle, channel, frequency); eps_global_m0 (diameter); eps_global_m1 (diameter,
    anisotropy); weights_m2 (rank, diameter, anisotropy); eps_global_m2 (rank). Coordinates:
    angle (deg), channel ("x", "y"), frequency (rfft bin k, int) with mx, my (int) and
    frequency_hz, offset_x / offset_y (mT), diameter (nm), anisotropy (J/m³), rank (requested
    fraction of the full rank). Attrs: best_m0_diameter, best_m1_diameter, best_m1_anisotropy.
    """
    rows = ("angle", "channel", "frequency", "offset_y", "offset_x")
    eps = ("angle", "channel", "frequency")
    coords = all_coords(sweep)
    coords["rank"] = xr.Variable("rank", np.asarray(sweep.fit.rank_fractions, float),
                                 {"long_name": "requested TSVD rank as a fraction of the full rank"})
    coords["rank_count"] = xr.Variable("rank", np.asarray(r2.ranks, np.int64), {"long_name": "singular values kept"})
    S = np.asarray(measured.transpose("angle", "channel", "frequency", "offset").values)
    ds = xr.Dataset(
        {
            "measured": (rows, _grid(S, sweep)),
            "model_m0": (rows, _grid(np.asarray(r0.model), sweep)),
            "model_m1": (rows, _grid(np.asarray(r1.model), sweep)),
            "model_m2": (("rank",) + rows, _grid(np.asarray(r2.model), sweep)),
            "eps_m0": (eps, np.asarray(r0.eps, float)),
            "eps_m1": (eps, np.asarray(r1.eps, float)),
            "eps_m2": (("rank",) + eps, np.asarray(r2.eps, float)),
            "eps_global_m0": (("diameter",), np.asarray(r0.eps_global, float)),
            "eps_global_m1": (("diameter", "anisotropy"), np.asarray(r1.eps_global, float)),
            "weights_m2": (("rank", "diameter", "anisotropy"), np.asarray(r2.weights, float)),
            "eps_global_m2": (("rank",), np.asarray(r2.eps_global, float)),
        },
        coords=coords,
        attrs={
            "best_m0_diameter": float(r0.best_diameter),
            "best_m1_diameter": float(r1.best_diameter),
            "best_m1_anisotropy": float(r1.best_anisotropy),
            "eps_global_best_m0": float(r0.eps_global_best),
            "eps_global_best_m1": float(r1.eps_global_best),
            "config_hash": sweep.config_hash,
            **package_attrs(),
            "measured_files": measured.attrs.get("files", "[]"),
            "spectrum_convention": SPECTRUM_CONVENTION,
        },
    )
    for name in ("measured", "model_m0", "model_m1", "model_m2"):
        ds[name].attrs["long_name"] = {"measured": "measured system-matrix rows"}.get(name, f"model {name[-2:].upper()} rows")
    for name in ("eps_m0", "eps_m1", "eps_m2"):
        ds[name].attrs["long_name"] = "row NRMSE ε = ‖S − model‖₂ / (√N ‖S‖∞)"
    return ds


def write_model_mdfs(sweep: Sweep, models: xr.Dataset, outdir: Path) -> list[Path]:
    """The fitted M1 and M2 (rank with the lowest ε_global) system matrices as MDF v2.1, one file per angle.

    They include the fitted transfer functions, so they can stand in for the measured system
    matrices in MPI reconstruction software (e.g. MPIReco.jl). Only the evaluation bins are
    stored (/measurement/frequencySelection).
    """
    nbins = sweep.scanner.samples // 2 + 1
    bins = models["frequency"].values.astype(int)
    best_rank = int(np.nanargmin(models["eps_global_m2"].values))
    chosen = {"M1": models["model_m1"], "M2": models["model_m2"].isel(rank=best_rank)}
    written = []
    for name, model in chosen.items():
        for angle in models["angle"].values:
            rows = model.sel(angle=angle).transpose("channel", "frequency", "offset_y", "offset_x").values
            full = np.zeros((rows.shape[0], nbins) + rows.shape[2:], dtype=complex)
            full[:, bins] = rows
            path = outdir / "mdf" / name / f"{label(float(angle))}.mdf"
            ds = system_matrix_dataset(sweep, full, None)
            write_system_matrix(path, ds, frequency_bins=bins,
                                experiment={"name": f"mpisweep model {name}, easy axis {label(float(angle))} deg",
                                            "isSimulation": 1},
                                scanner={"name": "mpisweep model"}, tracer={"name": [f"model {name}"]})
            written.append(path)
    return written
