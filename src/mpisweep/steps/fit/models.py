"""The fit's models dataset (``fits/models.zarr``, what the figures read) and the model MDF export."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import xarray as xr

from ...io.mdf import write_system_matrix
from ...io.provenance import package_attrs
from ...io.stores import stamp_variables
from ...sweep.config import Sweep
from ...sweep.coords import SPECTRUM_CONVENTION, all_coords, row_dims, system_matrix_dataset
from ...sweep.names import label

#: model key (variable suffix) → name in tables, MDF folders and captions
MODEL_LABELS = {"m0": "M0", "m0a": "M0a", "m1": "M1", "m2": "M2", "m3": "M3"}


def _grid(values: np.ndarray, sweep: Sweep) -> np.ndarray:
    """(…, offset) → (…, [offset_z,] offset_y, offset_x)."""
    return values.reshape(values.shape[:-1] + sweep.offset_grid.shape)


def models_dataset(sweep: Sweep, measured: xr.DataArray, r0, r0a, r1, r2, r3, fitted_fields=None) -> xr.Dataset:
    """The models Dataset (results/fits/models.zarr) the figures read.

    Variables: measured, model_m0, model_m0a, model_m1 (angle, channel, frequency, [offset_z,]
    offset_y, offset_x) complex; model_m2 (rank, …) and model_m3 (rank_m3, …) complex; eps_m0, eps_m0a,
    eps_m1 (angle, channel, frequency); eps_m2 (rank, angle, channel, frequency), eps_m3 (rank_m3,
    …); eps_global_m0 (diameter); eps_global_m0a, eps_global_m1 (diameter, anisotropy);
    weights_m2 (rank, diameter, anisotropy), weights_m3 (rank_m3, diameter, anisotropy);
    eps_global_m2 (rank), eps_global_m3 (rank_m3); transfer_m3 (rank_m3, channel, frequency)
    complex, M3's shared transfer function. Coordinates: angle (deg), channel ("x", "y"),
    frequency (rfft bin k, int) with mx, my (int) and frequency_hz, offset_x / offset_y (mT),
    diameter (nm), anisotropy (J/m³), rank and rank_m3 (requested fraction of the full rank of
    M2 and of M3's weight step). Attrs: best_m0_diameter, best_m0a_diameter,
    best_m0a_anisotropy, best_m1_diameter, best_m1_anisotropy, m3_l2.

    Where the field calibration found the stated fields off, `fitted_fields` ({"m1": …, "m3": …}, rows as the
    models' at the fitted fields) adds model_m1_fields and model_m3_fields.

    For the Brownian model (``r0a`` None: with no anisotropy M0a is M0) the second axis is
    hydrodynamic_diameter (nm) instead of anisotropy, and the M0a entries are absent.
    """
    p = sweep.parameter.name
    m0a = r0a is not None
    rows = row_dims(sweep)
    eps = ("angle", "channel", "frequency")
    coords = all_coords(sweep)
    if measured.sizes["frequency"] < len(sweep.bin_indices):  # frequencies.select snr: the fitted bins only
        used = np.searchsorted(sweep.bin_indices, np.asarray(measured["frequency"].values))
        coords = {k: (v[used] if v.dims == ("frequency",) else v) for k, v in coords.items()}
    coords["rank"] = xr.Variable("rank", np.asarray(sweep.fit.rank_fractions, float),
                                 {"long_name": "requested TSVD rank as a fraction of the full rank"})
    coords["rank_count"] = xr.Variable("rank", np.asarray(r2.ranks, np.int64), {"long_name": "singular values kept"})
    coords["rank_m3"] = xr.Variable("rank_m3", np.asarray(sweep.fit.m3.rank_fractions, float),
                                    {"long_name": "requested TSVD rank of M3's weight step "
                                                  "as a fraction of the full rank"})
    coords["rank_m3_count"] = xr.Variable("rank_m3", np.asarray(r3.ranks, np.int64),
                                          {"long_name": "singular values kept (M3)"})
    S = np.asarray(measured.transpose("angle", "channel", "frequency", "offset").values)
    variables = {
        "measured": (rows, _grid(S, sweep)),
        "model_m0": (rows, _grid(np.asarray(r0.model), sweep)),
        "model_m0a": (rows, _grid(np.asarray(r0a.model), sweep)) if m0a else None,
        "model_m1": (rows, _grid(np.asarray(r1.model), sweep)),
        "model_m2": (("rank",) + rows, _grid(np.asarray(r2.model), sweep)),
        "model_m3": (("rank_m3",) + rows, _grid(np.asarray(r3.model), sweep)),
        "eps_m0": (eps, np.asarray(r0.eps, float)),
        "eps_m0a": (eps, np.asarray(r0a.eps, float)) if m0a else None,
        "eps_m1": (eps, np.asarray(r1.eps, float)),
        "eps_m2": (("rank",) + eps, np.asarray(r2.eps, float)),
        "eps_m3": (("rank_m3",) + eps, np.asarray(r3.eps, float)),
        "eps_global_m0": (("diameter",), np.asarray(r0.eps_global, float)),
        "eps_global_m0a": (("diameter", p), np.asarray(r0a.eps_global, float)) if m0a else None,
        "eps_global_m1": (("diameter", p), np.asarray(r1.eps_global, float)),
        "weights_m2": (("rank", "diameter", p), r2.shown_weights),  # NaN: entries not simulated
        "eps_global_m2": (("rank",), np.asarray(r2.eps_global, float)),
        "weights_m3": (("rank_m3", "diameter", p), r3.shown_weights),
        "eps_global_m3": (("rank_m3",), np.asarray(r3.eps_global, float)),
        "transfer_m3": (("rank_m3", "channel", "frequency"), np.asarray(r3.transfer, np.complex128)),
    }
    for key, rows_there in (fitted_fields or {}).items():
        variables[f"model_{key}_fields"] = (rows, _grid(np.asarray(rows_there), sweep))
    best = {
        "best_m0_diameter": float(r0.best_diameter),
        "best_m0a_diameter": float(r0a.best_diameter) if m0a else None,
        f"best_m0a_{p}": float(r0a.best_anisotropy) if m0a else None,
        "best_m1_diameter": float(r1.best_diameter),
        f"best_m1_{p}": float(r1.best_anisotropy),
        "eps_global_best_m0": float(r0.eps_global_best),
        "eps_global_best_m0a": float(r0a.eps_global_best) if m0a else None,
        "eps_global_best_m1": float(r1.eps_global_best),
    }
    ds = xr.Dataset(
        {k: v for k, v in variables.items() if v is not None},
        coords=coords,
        attrs={
            **{k: v for k, v in best.items() if v is not None},
            "m3_l2": float(r3.l2),
            "config_hash": sweep.config_hash,
            **package_attrs(),
            "measured_files": measured.attrs.get("files", "[]"),
            "spectrum_convention": SPECTRUM_CONVENTION,
        },
    )
    for name in ("measured", "model_m0", "model_m0a", "model_m1", "model_m2", "model_m3"):
        if name in ds:
            ds[name].attrs["long_name"] = ("measured system-matrix rows" if name == "measured"
                                           else f"model {MODEL_LABELS[name[6:]]} rows")
    for key in ("m1", "m3"):
        if f"model_{key}_fields" in ds:
            ds[f"model_{key}_fields"].attrs["long_name"] = (f"model {MODEL_LABELS[key]} rows at the fitted fields "
                                                             "(fit.fields)")
    ds["transfer_m3"].attrs["long_name"] = "M3 transfer function a_ck shared by all entries and angles (Σw = 1)"
    for name in ("eps_m0", "eps_m0a", "eps_m1", "eps_m2", "eps_m3"):
        if name in ds:
            ds[name].attrs["long_name"] = "row NRMSE ε = ‖S − model‖₂ / (√N ‖S‖∞)"
    return stamp_variables(ds)


def write_model_mdfs(sweep: Sweep, models: xr.Dataset, outdir: Path) -> list[Path]:
    """The fitted M0a, M1, M2 and M3 (M2, M3: rank with the lowest ε_global) system matrices as MDF v2.1,
    one file per angle; also M1 and M3 at the fitted fields (M1_fitted, M3_fitted) where the field calibration
    found the stated fields off: the rows the particles give at the positions the files state.

    They include the fitted transfer functions, so they can stand in for the measured system
    matrices in MPI reconstruction software (e.g. MPIReco.jl). Only the evaluation bins are
    stored (/measurement/frequencySelection).
    """
    nbins = sweep.scanner.samples // 2 + 1
    bins = models["frequency"].values.astype(int)
    best_rank = int(np.nanargmin(models["eps_global_m2"].values))
    best_m3 = int(np.nanargmin(models["eps_global_m3"].values))
    chosen = {"M0a": models.get("model_m0a"), "M1": models["model_m1"],
              "M2": models["model_m2"].isel(rank=best_rank), "M3": models["model_m3"].isel(rank_m3=best_m3),
              "M1_fitted": models.get("model_m1_fields"), "M3_fitted": models.get("model_m3_fields")}
    # no M0a for model brown; M1 and M3 at the fitted fields only where the field calibration found them off
    chosen = {name: model for name, model in chosen.items() if model is not None}
    for name in ("M1_fitted", "M3_fitted"):  # an earlier fit's, where the fields were off then
        if name not in chosen:
            shutil.rmtree(outdir / "mdf" / name, ignore_errors=True)
    written = []
    for name, model in chosen.items():
        for angle in models["angle"].values:
            rows = model.sel(angle=angle).transpose("channel", "frequency", *sweep.offset_dims).values
            full = np.zeros((rows.shape[0], nbins) + rows.shape[2:], dtype=complex)
            full[:, bins] = rows
            path = outdir / "mdf" / name / f"{label(float(angle))}.mdf"
            ds = system_matrix_dataset(sweep, full, None)
            write_system_matrix(path, ds, frequency_bins=bins,
                                experiment={"name": f"mpisweep model {name}, " + sweep.easy_axis_text(angle),
                                            "isSimulation": 1},
                                scanner={"name": "mpisweep model"}, tracer={"name": [f"model {name}"]})
            written.append(path)
    return written
