"""Multi-contrast reconstruction of every phantom with one set of system matrices, and its readout.

For a system-matrix set ("measured": the calibration files; M1/M2/M3: the model matrices of
:mod:`.model_matrices`, on their own offset grid and angles), the rows (receive channel, bin) at or
above the minimum frequency whose SNR reaches the threshold (the calibration files' SNR in every
calibration contrast, or the SNR estimated from the phantoms themselves, :mod:`.noise`) are stacked
into A = [S_α1 … S_αL], weighted, and all phantoms are reconstructed at once by the batched Kaczmarz
(:func:`mpisweep.orientation.kaczmarz.kaczmarz_batch`). λ_rel, the threshold and the weighting are
the config's, or chosen first on held-out calibration scans (:mod:`.settings`). Each single-sample phantom is
then read out without its truth (:func:`mpisweep.orientation.readout.read_out`) on the matrices' grid,
positions converted through the position map (:mod:`mpisweep.sweep.geometry`); the truth is only used to score it.

Outputs: ``orientation/reconstructions/<model>.zarr`` (``c`` (measurement, angle, offset_y,
offset_x), float32), ``orientation/readout/<model>.csv`` (one row per single-sample phantom:
true and estimated angle and position, angle error wrapped to ±90°, position error in pixels of
the image and in mm) and ``orientation/settings/<model>.csv`` (every setting scored).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ...errors import MeasurementError, MpisweepError
from ...io.atomic import atomic_path, write_csv
from ...io.mdf.measurement import read_measurement
from ...io.provenance import package_attrs
from ...io.stores import stamp_variables, to_zarr
from ...orientation.kaczmarz import kaczmarz_parallel
from ...orientation.readout import read_out, wrap_angle
from ...orientation.system import noise_sigma
from ...sweep.config import Sweep
from ...sweep.geometry import calibration_map
from ...sweep.measured import calibration, receive_channels
from ...units import MT
from .image_grid import ImageGrid, warn_outside
from .model_matrices import read_model
from .noise import phantom_noise
from .phantoms import phantom_index, true_pixels
from .settings import (
    AUTO,
    MIN_ANGLES_TO_LEAVE_OUT,
    HeldOutScorer,
    RowNoise,
    Score,
    Setting,
    System,
    add_noise,
    build_system,
    candidates,
    fixed_values,
    held_out_scans,
    phantom_noise_factor,
    search,
    write_scores,
)

READOUT_COLUMNS = ["number", "file", "true_angle_deg", "angle_deg", "angle_error_deg", "true_x_px", "true_y_px",
                   "x_px", "y_px", "position_error_px", "p1", "p2", "p3", "start_angle_deg", "true_x_mm", "true_y_mm",
                   "x_mm", "y_mm", "position_error_mm"]


def system_matrices(sweep: Sweep, model: str, bins: np.ndarray, cal: np.ndarray, cal_angles) -> tuple:
    """(matrices (L, C, K, P) on `bins`, contrast angles, their image grid) of `model`; "measured" is the
    calibration `cal` (angle, C, K, P) itself."""
    if model == "measured":
        return cal, list(cal_angles), ImageGrid.of_sweep(sweep)
    ds = read_model(sweep, model)
    have = ds["frequency"].values
    missing = np.setdiff1d(bins, have)
    if missing.size:
        raise MpisweepError(f"{sweep.layout.model_matrices(model)}: bins from {missing.min()} are not synthesized; "
                            "orientation.matrices.min_frequency must not exceed reconstruction.min_frequency")
    sm = ds["system_matrix"].sel(frequency=bins).transpose("angle", "channel", "frequency",
                                                           "offset_y", "offset_x").values
    return sm.reshape(sm.shape[:3] + (-1,)), [float(a) for a in ds["angle"].values], ImageGrid.of_dataset(ds)


def _channels(sweep: Sweep) -> list[int]:
    return [0, 1] if sweep.orientation.phantoms.source == "virtual" else receive_channels(sweep)


def measurements(sweep: Sweep, phantoms: list[dict], bins: np.ndarray) -> np.ndarray:
    """(phantom, channel x/y, bin) measured spectra, background subtracted."""
    chans = _channels(sweep)
    return np.stack([read_measurement(p["file"], frequencies=bins).values[chans] for p in phantoms])


def row_noise(sweep: Sweep, cal, snr, phantoms, bins) -> RowNoise:
    """The SNR that selects rows and the noise σ per row (orientation.reconstruction.snr_source)."""
    if sweep.orientation.reconstruction.snr_source == "phantoms":
        snr_rows, sigma = phantom_noise([p["file"] for p in phantoms], bins, _channels(sweep))
        return RowNoise(snr_rows[None], sigma, "phantoms")
    if snr is None:
        return RowNoise(None, None, "calibration (no noise in the files)")
    return RowNoise(snr, noise_sigma(cal, snr), "calibration")


@dataclass
class Problem:
    """Everything one system-matrix set's reconstruction reads: the calibration (angle, C, K, P) with its SNR and
    angles, the matrices (L, C, K, P) with their angles and image grid, the position map, the phantoms and
    the row noise, on the rfft `bins`."""

    sweep: Sweep
    model: str
    bins: np.ndarray
    cal: np.ndarray
    snr: np.ndarray | None
    cal_angles: list[float]
    matrices: np.ndarray
    angles: list[float]
    grid: ImageGrid
    pmap: object
    phantoms: list[dict]
    noise: RowNoise

    @classmethod
    def load(cls, sweep: Sweep, model: str, log=print) -> "Problem":
        bins = sweep.bins_above(sweep.orientation.reconstruction.min_frequency)
        cal, snr, cal_angles = calibration(sweep, bins)
        matrices, angles, grid = system_matrices(sweep, model, bins, cal, cal_angles)
        pmap = calibration_map(sweep)
        phantoms = phantom_index(sweep)
        warn_outside(sweep, pmap, phantoms, log)
        return cls(sweep, model, bins, cal, snr, list(cal_angles), matrices, angles, grid, pmap, phantoms,
                   row_noise(sweep, cal, snr, phantoms, bins))

    @property
    def freqs_hz(self) -> np.ndarray:
        return self.bins / self.sweep.cycle

    @property
    def radius(self) -> float:
        return readout_radius(self.sweep, self.pmap, self.grid)

    def system(self, setting: Setting) -> System:
        rec = self.sweep.orientation.reconstruction
        return build_system(self.matrices, setting, self.noise, self.freqs_hz, float(rec.min_frequency))

    def phantom_snr(self) -> np.ndarray | None:
        """The phantoms' own SNR per row (channel, bin), None where their files offer no noise."""
        if self.noise.source == "phantoms":
            return self.noise.snr[0]
        try:
            return phantom_noise([p["file"] for p in self.phantoms], self.bins, _channels(self.sweep))[0]
        except MeasurementError:
            return None


def choose_settings(problem: Problem, log=print, workers: int = 1) -> tuple[Setting, list[Score]]:
    """The reconstruction setting for the problem's matrices: explicit values as configured, the rest chosen on
    held-out calibration scans (:mod:`.settings`); every scored setting."""
    sweep, model, rec = problem.sweep, problem.model, problem.sweep.orientation.reconstruction
    rng = np.random.default_rng(int(rec.auto.seed))
    cal_grid = ImageGrid.of_sweep(sweep)
    held = held_out_scans(problem.cal, cal_grid.shape, int(rec.auto.scans), rng)
    kappa = 1.0 if problem.snr is None else phantom_noise_factor(  # no calibration noise: nothing to match
        problem.snr, problem.phantom_snr(), problem.freqs_hz, float(rec.min_frequency))
    if kappa > 1.0:
        held = add_noise(held, noise_sigma(problem.cal, problem.snr), kappa, rng)  # κ > 1 needs the calibration's SNR
    scorer = HeldOutScorer(
        matrices=problem.matrices, angles=problem.angles, shape=problem.grid.shape, held=held,
        scan_angles=np.asarray(problem.cal_angles, float)[held.angle],
        true_yx=problem.grid.pixels(problem.pmap, cal_grid.positions_mm(problem.pmap, held.pixel_yx)),
        leave_out=model == "measured" and len(problem.angles) >= MIN_ANGLES_TO_LEAVE_OUT,
        noise=problem.noise, freqs_hz=problem.freqs_hz, min_frequency=float(rec.min_frequency),
        sweeps=int(rec.iterations), radius=problem.radius, single=bool(rec.single_precision), workers=workers)
    auto = [k for k, v in fixed_values(rec).items() if v == AUTO]
    if model == "measured" and not scorer.leave_out and auto:
        log(f"warning: {model}: {len(problem.angles)} calibration angles are too few to leave one out, so the "
            "held-out scans are columns of A itself and the scores favour a small λ_rel; give explicit settings to "
            "avoid it")
    log(f"{model}: settings from {len(held.angle)} held-out calibration scans"
        + (" (each angle left out of A in turn)" if scorer.leave_out else "")
        + (f", noise added to the phantoms' level (κ = {kappa:.2f})" if kappa > 1 else "")
        + (f"; choosing {', '.join(auto)}" if auto else "; every setting explicit"))
    setting, scores = search(candidates(rec, problem.noise), scorer.score, log)
    log(f"{model}: {'chosen' if auto else 'configured'}: {setting.describe()}")
    return setting, scores


def readout_radius(sweep: Sweep, pmap, grid: ImageGrid) -> float:
    """The readout disc's radius in pixels of `grid`: orientation.readout.radius, or radius_mm converted
    with the grid's mean pixel size."""
    ro = sweep.orientation.readout
    size = [v for v in grid.pixel_size_mm(pmap) if v > 0]
    if ro.radius_mm is None or not size:
        return float(ro.radius)
    return float(ro.radius_mm) / float(np.mean(size))


def solve_phantoms(problem: Problem, setting: Setting, log=None,
                   workers: int = 1) -> tuple[np.ndarray, System, float]:
    """(images (phantom, angle, ny, nx), the system, wall time in s) of every phantom at `setting`."""
    rec = problem.sweep.orientation.reconstruction
    system = problem.system(setting)
    U = system.rows_of(measurements(problem.sweep, problem.phantoms, problem.bins))  # (M, B)
    sweeps = int(rec.iterations)
    ny, nx = problem.grid.shape
    model = problem.model
    if log:
        log(f"{model}: A {system.A.shape[0]} rows × {system.A.shape[1]} columns ({len(problem.angles)} contrasts on "
            f"{nx} × {ny} pixels of {' × '.join(f'{v:.3g}' for v in problem.grid.pixel_size_mm(problem.pmap))} mm), "
            f"{U.shape[1]} measurements, λ = {system.lam:.4g}, {sweeps} sweeps, {workers} process(es)")
    start = time.perf_counter()

    def progress(done, total):
        if log and done % max(1, total // 10) == 0:
            el = time.perf_counter() - start
            log(f"  {model}: sweep {done}/{total}, {el:.1f} s, eta {el / done * (total - done):.0f} s")

    C = kaczmarz_parallel(system.A, U, system.lam, sweeps, single=bool(rec.single_precision), workers=workers,
                          progress=progress if log else None)
    images = C.T.reshape(len(problem.phantoms), len(problem.angles), ny, nx)
    return images, system, time.perf_counter() - start


def read_phantoms(problem: Problem, images: np.ndarray) -> list[dict]:
    """The readout table (:data:`READOUT_COLUMNS`) of every single-sample phantom's image."""
    grid, pmap, radius = problem.grid, problem.pmap, problem.radius
    rows = []
    for p, c in zip(problem.phantoms, images):
        if p["kind"] != "single":
            continue
        r = read_out(c, problem.angles, radius)
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
    return rows


def reconstruct(sweep: Sweep, model: str, log=print, workers: int = 1) -> dict:
    """Choose the settings (where auto), reconstruct every phantom with `model`'s matrices, read them out, write
    store, readout and settings tables; return a summary.

    workers: processes the phantoms are split over (one BLAS thread each).
    """
    problem = Problem.load(sweep, model, log)
    setting, scores = choose_settings(problem, log, workers)
    write_scores(sweep.layout.reconstruction_settings(model), scores, setting)
    images, system, wall = solve_phantoms(problem, setting, log, workers)
    rows = read_phantoms(problem, images)
    rec, pmap = sweep.orientation.reconstruction, problem.pmap
    write_store(sweep, model, images, problem.phantoms, problem.angles, problem.grid,
                {"rows": int(system.A.shape[0]), "lambda": system.lam, "lambda_rel": setting.lambda_rel,
                 "snr_threshold": "null" if setting.snr_threshold is None else setting.snr_threshold,
                 "sweeps": int(rec.iterations), "wall_time_s": wall, "weighting": setting.weighting,
                 "snr_source": rec.snr_source, "gradient_T_per_m": pmap.gradient.tolist(),
                 "centre_T": pmap.centre.tolist()})
    write_csv(sweep.layout.readout(model), rows, READOUT_COLUMNS)
    log(f"{model}: reconstructed in {wall:.1f} s → {sweep.layout.readout(model)}")
    return {"model": model, "rows": int(system.A.shape[0]), "columns": int(system.A.shape[1]), "lambda": system.lam,
            "setting": setting, "wall_time_s": wall, "readout": rows}


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
