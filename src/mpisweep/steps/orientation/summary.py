"""Scores of the orientation readout per system-matrix set: angle error statistics and position error.

Angle error e = θ̂ − θ wrapped to ±90°: bias mean(e), SD std(e) (ddof 1), mean absolute error,
95th percentile and maximum of |e|. Position error: distance of the found sample from the true
position, in pixels of the image it was read from and in mm (mean, 95th percentile, maximum). Beside
them, the reconstruction setting each set used and its held-out calibration score
(:mod:`.settings`). Written to ``orientation/summary.csv``.
"""

from __future__ import annotations

import csv

import numpy as np

from ...io.atomic import write_csv
from ...sweep.config import Sweep
from .settings import chosen

SUMMARY_COLUMNS = ["model", "measurements", "angle_bias_deg", "angle_sd_deg", "angle_mae_deg", "angle_p95_deg",
                   "angle_max_deg", "position_mean_px", "position_p95_px", "position_max_px", "position_mean_mm",
                   "position_p95_mm", "position_max_mm", "lambda_rel", "snr_threshold", "weighting",
                   "heldout_angle_mae_deg", "heldout_angle_p95_deg"]


def read_readout(path) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: (v if k == "file" else float(v)) for k, v in r.items()} for r in csv.DictReader(f)]


def scores(rows: list[dict]) -> dict:
    """The statistics of one readout table."""
    e = np.array([r["angle_error_deg"] for r in rows], float)
    p = np.array([r["position_error_px"] for r in rows], float)
    mm = np.array([r["position_error_mm"] for r in rows], float)
    if e.size == 0:
        return {k: float("nan") for k in SUMMARY_COLUMNS[1:]} | {"measurements": 0}
    return {"measurements": int(e.size), "angle_bias_deg": float(e.mean()),
            "angle_sd_deg": float(e.std(ddof=1)) if e.size > 1 else 0.0, "angle_mae_deg": float(np.abs(e).mean()),
            "angle_p95_deg": float(np.percentile(np.abs(e), 95)), "angle_max_deg": float(np.abs(e).max()),
            "position_mean_px": float(p.mean()), "position_p95_px": float(np.percentile(p, 95)),
            "position_max_px": float(p.max()), "position_mean_mm": float(mm.mean()),
            "position_p95_mm": float(np.percentile(mm, 95)), "position_max_mm": float(mm.max())}


def summarize(sweep: Sweep, log=print) -> list[dict]:
    """One row of scores per model in orientation.models → summary.csv."""
    table = []
    for model in sweep.orientation.models:
        used = chosen(sweep.layout.reconstruction_settings(model))
        setting = used["setting"]
        row = {"model": model} | scores(read_readout(sweep.layout.readout(model))) | {
            "lambda_rel": setting.lambda_rel, "snr_threshold": "" if setting.snr_threshold is None else
            setting.snr_threshold, "weighting": setting.weighting, "heldout_angle_mae_deg": used["angle_mae_deg"],
            "heldout_angle_p95_deg": used["angle_p95_deg"]}
        table.append(row)
        log(f"{model:>8}: angle MAE {row['angle_mae_deg']:.2f}°, p95 {row['angle_p95_deg']:.2f}°, bias "
            f"{row['angle_bias_deg']:+.2f}°, SD {row['angle_sd_deg']:.2f}°, max {row['angle_max_deg']:.2f}°; "
            f"position {row['position_mean_px']:.2f} px = {row['position_mean_mm']:.2f} mm "
            f"(max {row['position_max_mm']:.2f} mm); {setting.describe()} (held-out MAE "
            f"{used['angle_mae_deg']:.2f}°)")
    write_csv(sweep.layout.orientation_summary, table, SUMMARY_COLUMNS)
    return table


def figures(sweep: Sweep) -> list:
    """figures/orientation_errors.png (box plots) and figures/orientation_maps.png (map phantoms, else the
    first singles)."""
    from ...figures.orientation import error_boxplot, orientation_maps
    from ...io.stores import open_zarr
    from ...sweep.geometry import calibration_map
    from .image_grid import ImageGrid
    from .phantoms import phantom_index

    lay = sweep.layout
    models = list(sweep.orientation.models)
    readouts = {m: read_readout(lay.readout(m)) for m in models}
    lay.figures.mkdir(parents=True, exist_ok=True)
    boxes = lay.figure("orientation_errors.png")
    error_boxplot(readouts, boxes)
    phantoms = phantom_index(sweep)
    pmap = calibration_map(sweep)
    shown = [i for i, p in enumerate(phantoms) if p["kind"] == "map"] or list(range(min(3, len(phantoms))))
    images, angles, extents = {}, {}, {}
    for m in models:
        ds = open_zarr(lay.reconstruction(m))
        images[m] = np.asarray(ds["c"].values)[shown]
        angles[m] = [float(a) for a in ds["angle"].values]
        grid = ImageGrid.of_dataset(ds)
        ny, nx = grid.shape
        (x0, y0), (x1, y1) = grid.positions_mm(pmap, np.array([[-0.5, -0.5], [ny - 0.5, nx - 0.5]]))
        extents[m] = (float(x0), float(x1), float(y0), float(y1))
    maps = lay.figure("orientation_maps.png")
    orientation_maps(images, angles, [phantoms[i]["samples"] for i in shown], extents, maps)
    return [boxes, maps]
