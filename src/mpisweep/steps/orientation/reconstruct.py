"""Multi-contrast reconstruction of every phantom with one set of system matrices, and its readout.

For a system-matrix set ("measured": the calibration files; M1/M2/M3: the model matrices of
:mod:`.model_matrices`, on their own offset grid and angles), the rows (receive channel, bin) at or
above the minimum frequency whose SNR reaches the threshold (the calibration files' SNR in every
calibration contrast, or the SNR estimated from the phantoms themselves, :mod:`.noise`) are stacked
into A = [S_α1 … S_αL], weighted as configured, and all phantoms are reconstructed at once by the
batched Kaczmarz (:func:`mpisweep.orientation.kaczmarz.kaczmarz_batch`). Each single-sample phantom is
then read out without its truth (:func:`mpisweep.orientation.readout.read_out`) on the matrices' grid,
positions converted through the position map (:mod:`mpisweep.sweep.geometry`); the truth is only used to score it.

Outputs: ``orientation/reconstructions/<model>.zarr`` (``c`` (measurement, angle, offset_y,
offset_x), float32) and ``orientation/readout/<model>.csv`` (one row per single-sample phantom:
true and estimated angle and position, angle error wrapped to ±90°, position error in pixels of
the image and in mm).
"""

from __future__ import annotations

import time

import numpy as np
import xarray as xr

from ...errors import MpisweepError
from ...io.atomic import atomic_path, write_csv
from ...io.mdf.measurement import read_measurement
from ...io.provenance import package_attrs
from ...io.stores import stamp_variables, to_zarr
from ...orientation.kaczmarz import kaczmarz_parallel, regularization
from ...orientation.readout import read_out, wrap_angle
from ...orientation.system import noise_sigma, row_weights, select_rows, stack
from ...sweep.config import Sweep
from ...sweep.geometry import calibration_map
from ...sweep.measured import calibration, receive_channels
from ...units import MT
from .image_grid import ImageGrid, warn_outside
from .model_matrices import read_model
from .noise import phantom_noise
from .phantoms import phantom_index, true_pixels

READOUT_COLUMNS = ["number", "file", "true_angle_deg", "angle_deg", "angle_error_deg", "true_x_px", "true_y_px",
                   "x_px", "y_px", "position_error_px", "p1", "p2", "p3", "start_angle_deg", "true_x_mm", "true_y_mm",
                   "x_mm", "y_mm", "position_error_mm"]


def system_matrices(sweep: Sweep, model: str, bins: np.ndarray):
    """(matrices (L, C, K, P) on `bins`, contrast angles, their image grid, calibration rows, calibration SNR)."""
    cal, snr, cal_angles = calibration(sweep, bins)
    if model == "measured":
        return cal, list(cal_angles), ImageGrid.of_sweep(sweep), cal, snr
    ds = read_model(sweep, model)
    have = ds["frequency"].values
    missing = np.setdiff1d(bins, have)
    if missing.size:
        raise MpisweepError(f"{sweep.layout.model_matrices(model)}: bins from {missing.min()} are not synthesized; "
                            "orientation.matrices.min_frequency must not exceed reconstruction.min_frequency")
    sm = ds["system_matrix"].sel(frequency=bins).transpose("angle", "channel", "frequency",
                                                           "offset_y", "offset_x").values
    return (sm.reshape(sm.shape[:3] + (-1,)), [float(a) for a in ds["angle"].values], ImageGrid.of_dataset(ds),
            cal, snr)


def _channels(sweep: Sweep) -> list[int]:
    return [0, 1] if sweep.orientation.phantoms.source == "virtual" else receive_channels(sweep)


def measurements(sweep: Sweep, phantoms: list[dict], bins: np.ndarray) -> np.ndarray:
    """(phantom, channel x/y, bin) measured spectra, background subtracted."""
    chans = _channels(sweep)
    return np.stack([read_measurement(p["file"], frequencies=bins).values[chans] for p in phantoms])


def row_selection(sweep: Sweep, cal, snr, phantoms, bins):
    """(channel, bin index, noise σ per row or None) of the rows to use (orientation.reconstruction)."""
    rec = sweep.orientation.reconstruction
    if rec.snr_source == "phantoms":
        snr_rows, sigma = phantom_noise([p["file"] for p in phantoms], bins, _channels(sweep))
        channel, k = select_rows(snr_rows[None], bins / sweep.cycle, float(rec.min_frequency), rec.snr_threshold)
        return channel, k, sigma[channel, k]
    channel, k = select_rows(snr, bins / sweep.cycle, float(rec.min_frequency), rec.snr_threshold)
    return channel, k, (noise_sigma(cal, snr, channel, k) if rec.weighting == "whitening" else None)


def readout_radius(sweep: Sweep, pmap, grid: ImageGrid) -> float:
    """The readout disc's radius in pixels of `grid`: orientation.readout.radius, or radius_mm converted
    with the grid's mean pixel size."""
    ro = sweep.orientation.readout
    size = [v for v in grid.pixel_size_mm(pmap) if v > 0]
    if ro.radius_mm is None or not size:
        return float(ro.radius)
    return float(ro.radius_mm) / float(np.mean(size))


def reconstruct(sweep: Sweep, model: str, log=print, workers: int = 1) -> dict:
    """Reconstruct every phantom with `model`'s matrices, read them out, write store and table; return a summary.

    workers: processes the phantoms are split over (one BLAS thread each).
    """
    rec = sweep.orientation.reconstruction
    bins = sweep.bins_above(sweep.orientation.reconstruction.min_frequency)
    matrices, angles, grid, cal, snr = system_matrices(sweep, model, bins)
    pmap = calibration_map(sweep)
    phantoms = phantom_index(sweep)
    warn_outside(sweep, pmap, phantoms, log)
    channel, k, sigma = row_selection(sweep, cal, snr, phantoms, bins)
    A = stack(matrices, channel, k)
    w = row_weights(A, rec.weighting, sigma)
    A = A * w[:, None]
    lam = regularization(A, float(rec.lambda_rel))
    U = measurements(sweep, phantoms, bins)[:, channel, k].T * w[:, None]  # (M, B)
    sweeps = int(rec.iterations)
    ny, nx = grid.shape
    log(f"{model}: A {A.shape[0]} rows × {A.shape[1]} columns ({len(angles)} contrasts on {nx} × {ny} pixels of "
        f"{' × '.join(f'{v:.3g}' for v in grid.pixel_size_mm(pmap))} mm), {U.shape[1]} measurements, "
        f"λ = {lam:.4g}, {sweeps} sweeps, {workers} process(es)")
    start = time.perf_counter()

    def progress(done, total):
        if done % max(1, total // 10) == 0:
            el = time.perf_counter() - start
            log(f"  {model}: sweep {done}/{total}, {el:.1f} s, eta {el / done * (total - done):.0f} s")

    C = kaczmarz_parallel(A, U, lam, sweeps, single=bool(rec.single_precision), workers=workers, progress=progress)
    wall = time.perf_counter() - start
    images = C.T.reshape(len(phantoms), len(angles), ny, nx)
    radius = readout_radius(sweep, pmap, grid)
    rows = []
    for p, c in zip(phantoms, images):
        if p["kind"] != "single":
            continue
        r = read_out(c, angles, radius)
        truth = p["samples"][0]
        ty, tx = true_pixels(grid, pmap, p)[0]
        x_mm, y_mm = grid.positions_mm(pmap, r.position_yx)
        rows.append({"number": p["number"], "file": str(p["file"]), "true_angle_deg": truth["angle"],
                     "angle_deg": r.angle_deg, "angle_error_deg": float(wrap_angle(r.angle_deg - truth["angle"])),
                     "true_x_px": tx, "true_y_px": ty, "x_px": r.position_yx[1], "y_px": r.position_yx[0],
                     "position_error_px": float(np.hypot(r.position_yx[1] - tx, r.position_yx[0] - ty)),
                     "p1": r.parameters[0], "p2": r.parameters[1], "p3": r.parameters[2],
                     "start_angle_deg": r.start_deg, "true_x_mm": truth["x"], "true_y_mm": truth["y"],
                     "x_mm": float(x_mm), "y_mm": float(y_mm),
                     "position_error_mm": float(np.hypot(x_mm - truth["x"], y_mm - truth["y"]))})
    write_store(sweep, model, images, phantoms, angles, grid,
                {"rows": int(A.shape[0]), "lambda": lam, "sweeps": sweeps, "wall_time_s": wall,
                 "weighting": rec.weighting, "snr_source": rec.snr_source,
                 "gradient_T_per_m": pmap.gradient.tolist(), "centre_T": pmap.centre.tolist()})
    write_csv(sweep.layout.readout(model), rows, READOUT_COLUMNS)
    log(f"{model}: reconstructed in {wall:.1f} s → {sweep.layout.readout(model)}")
    return {"model": model, "rows": int(A.shape[0]), "columns": int(A.shape[1]), "lambda": lam,
            "wall_time_s": wall, "readout": rows}


def write_store(sweep: Sweep, model: str, images: np.ndarray, phantoms, angles, grid: ImageGrid, info: dict) -> None:
    ds = xr.Dataset(
        {"c": (("measurement", "angle", "offset_y", "offset_x"), images.astype(np.float32))},
        coords={"measurement": [int(p["number"]) for p in phantoms],
                "multi_sample": ("measurement", [p["kind"] == "map" for p in phantoms]),
                "angle": ("angle", np.asarray(angles, float),
                          {"units": "deg", "long_name": "contrast: easy-axis angle"}),
                "offset_y": ("offset_y", np.round(grid.y_T / MT, 12), {"units": "mT"}),
                "offset_x": ("offset_x", np.round(grid.x_T / MT, 12), {"units": "mT"})},
        attrs={"model": model, **{k: v for k, v in info.items()}, "config_hash": sweep.config_hash, **package_attrs()},
    )
    ds["c"].attrs["long_name"] = "reconstructed concentration per contrast channel (a.u., ≥ 0)"
    with atomic_path(sweep.layout.reconstruction(model), suffix=".zarr") as tmp:
        to_zarr(stamp_variables(ds), tmp)
