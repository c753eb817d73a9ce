"""Phantom measurements for orientation imaging: virtual ones written in the record's layout, and the index
that reads them back.

Virtual phantoms are delta samples of the virtual scanner's mixture at continuous positions
(between the calibration pixels) and continuous easy-axis angles. The signal of a sample of
amount a at position p with angle θ is a · H_c(f_k) · Σ_j w_j φ_j(θ, o(p))_c,k on every rfft bin,
with o(p) the offset field of the position (:mod:`mpisweep.sweep.geometry`), φ simulated with the virtual
scanner's finer discretization and H its transfer function. Every frame adds a fixed background
spectrum and complex Gaussian noise (σ = 10^(−SNR/20) · RMS signal of all phantoms at the
evaluation bins); the background frames record background + noise, which the reader subtracts. With no
background frames (``background_frames: 0``) the frames are stored background-corrected, as some
scanners' software writes them, and the noise shows only in the spread of the repeated frames.

Outputs (``<output>/orientation/phantoms/``): ``measurements/<n>.mdf`` (MDF measurement files),
``measurements.csv`` with the record's columns ``experimentNumber,easyAxisOrientation,x,y,path``
(positions in metres, single-sample phantoms only) and ``truth.json`` (every phantom's samples,
also the multi-sample "map" phantoms, the noise level and the settings).

:func:`phantom_index` lists the phantoms of either source through one reader: the CSV of the
record's layout (virtual, or ``orientation.phantoms.directory`` for measured files), plus the
map phantoms of ``truth.json`` when virtual.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ...errors import MeasurementError
from ...io.atomic import write_csv, write_json
from ...io.mdf import PositionMap
from ...io.mdf.measurement import write_measurement
from ...io.receive_chain import receive_chain
from ...physics.block import simulate_block
from ...sweep.config import Sweep, expand_grid
from ...sweep.coords import system_matrix_dataset
from ...sweep.geometry import calibration_map
from ...sweep.measured import read_index
from ...sweep.names import label
from ...sweep.progress import printer
from ...sweep.sections.base import dump
from ...sweep.workers import map_over_sweep
from ..measurement.virtual_scanner import component_settings
from .image_grid import ImageGrid, position_to_offset, warn_outside

CSV_COLUMNS = ["experimentNumber", "easyAxisOrientation", "x", "y", "path"]


# ----------------------------------------------------------------------------- the plan
def positions_mm(sweep: Sweep) -> np.ndarray:
    """(P, 2) positions (x, y) in mm of the single-sample phantoms."""
    spec = sweep.orientation.phantoms.positions
    if isinstance(spec, (list, tuple)):
        return np.asarray([[float(x), float(y)] for x, y in spec])
    rng = np.random.default_rng(int(spec.get("seed", 7)))
    n, radius = int(spec["count"]), float(spec["radius"])
    r = radius * np.sqrt(rng.random(n))
    phi = 2 * np.pi * rng.random(n)
    return np.round(np.stack([r * np.cos(phi), r * np.sin(phi)], axis=1), 3)


def plan(sweep: Sweep) -> list[dict]:
    """Every virtual phantom: {number, kind ("single" or "map"), samples [{x, y (mm), angle (deg), amount}]}."""
    ph = sweep.orientation.phantoms
    orientations = expand_grid(ph.orientations, "orientation.phantoms.orientations")
    positions = positions_mm(sweep)
    if isinstance(ph.positions, Mapping) and not ph.positions.get("cross", True):
        pairs = [(orientations[i % len(orientations)], xy) for i, xy in enumerate(positions)]  # one each
    else:
        pairs = [(angle, xy) for angle in orientations for xy in positions]
    out = []
    for angle, (x, y) in pairs:
        out.append({"number": len(out) + 1, "kind": "single",
                    "samples": [{"x": float(x), "y": float(y), "angle": float(angle) % 180.0, "amount": 1.0}]})
    for samples in ph.maps:
        out.append({"number": len(out) + 1, "kind": "map",
                    "samples": [{"x": float(s["x"]), "y": float(s["y"]), "angle": float(s["angle"]) % 180.0,
                                 "amount": float(s.get("amount", 1.0))} for s in samples]})
    return out


# ------------------------------------------------------------------------ simulation
def _component_rows(sweep: Sweep, component: dict, angle: float, offsets: np.ndarray) -> np.ndarray:
    """φ (P, channel, all bins) of one mixture component at one angle and P offset fields (P, 3)."""
    particle = sweep.particle(component["diameter"], component["anisotropy"])
    grid = offsets.reshape(1, -1, 3)
    degrees, rtol = component_settings(sweep, component, grid)  # the virtual scanner's settings
    bins = np.arange(sweep.scanner.samples // 2 + 1)
    res = simulate_block(particle, sweep.excitation, [angle], grid, bins, degree=degrees, rtol=rtol, symmetry=False,
                         max_degree=None)  # the virtual scanner's finer discretisation, as there
    return np.moveaxis(res.rows[0, :, :, 0, :], -1, 0)  # (P, C, K)


def noise_free_signals(sweep: Sweep, phantoms: list[dict], pmap: PositionMap, progress: bool = True,
                       workers: int = 1) -> np.ndarray:
    """(n phantoms, channel, all bins) noise-free spectra, transfer function applied; positions → offsets by `pmap`.

    One simulation per (angle, mixture component) over all positions at that angle; with
    workers > 1 they run in that many processes (the same values).
    """
    nbins = sweep.scanner.samples // 2 + 1
    out = np.zeros((len(phantoms), 2, nbins), complex)
    by_angle: dict[float, list[tuple[int, dict]]] = {}
    for i, ph in enumerate(phantoms):
        for s in ph["samples"]:
            by_angle.setdefault(s["angle"], []).append((i, s))
    tasks = [(angle, comp, position_to_offset(pmap, np.array([[s["x"], s["y"]] for _, s in members])))
             for angle, members in by_angle.items() for _, comp in sweep.components]
    show = printer("phantoms: (angle, component) sets") if progress else None
    start = time.perf_counter()

    simulated = []
    results = map_over_sweep(_component_rows, sweep,
                             [(comp, angle, offsets) for angle, comp, offsets in tasks], workers)
    for done, ((angle, comp, _), rows) in enumerate(zip(tasks, results), start=1):
        simulated.append((angle, comp, rows))
        if show:
            show(done, len(tasks), time.perf_counter() - start)
    total_w = sum(c["weight"] for _, c in sweep.components)
    for angle, comp, rows in simulated:
        for (i, s), r in zip(by_angle[angle], rows):
            out[i] += s["amount"] * r * (comp["weight"] / total_w)
    H = receive_chain(dump(sweep.virtual.transfer_function), np.arange(nbins) / sweep.cycle)
    return out * H[None]


def simulate_phantoms(sweep: Sweep, progress: bool = True, workers: int = 1, log=print) -> dict:
    """Write the virtual phantom measurements, measurements.csv and truth.json; return the truth."""
    lay, ph = sweep.layout, sweep.orientation.phantoms
    phantoms = plan(sweep)
    pmap = calibration_map(sweep)
    warn_outside(sweep, pmap, phantoms, log)
    signal = noise_free_signals(sweep, phantoms, pmap, progress, workers)
    rms = float(np.sqrt(np.mean(np.abs(signal[:, :, sweep.bin_indices]) ** 2)))
    sigma = 0.0 if ph.snr_db is None else rms * 10.0 ** (-float(ph.snr_db) / 20.0)
    rng = np.random.default_rng(int(ph.seed))

    def noise(shape):
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * (sigma / math.sqrt(2))

    F, E = int(ph.frames), int(ph.background_frames)
    background = (rng.standard_normal(signal.shape[1:]) + 1j * rng.standard_normal(signal.shape[1:])) * (
        float(ph.background) * rms / math.sqrt(2))
    if E == 0:  # no background frames: the frames are stored background-corrected
        background[:] = 0.0
    attrs = system_matrix_dataset(sweep, np.zeros((2, signal.shape[2], sweep.offset_grid.ny, sweep.offset_grid.nx)),
                                  None).attrs
    rows = []
    for p, s in zip(phantoms, signal):
        fg = (s + background)[..., None] + noise(s.shape + (F,))
        bg = background[..., None] + noise(s.shape + (E,)) if E else None
        path = lay.phantom_file(p["number"])
        first = p["samples"][0]
        write_measurement(path, fg, bg, attrs,
                          experiment={"name": f"virtual phantom {p['number']}", "number": p["number"],
                                      "isSimulation": 1},
                          tracer={"name": ["virtual mixture"]}, scanner={"name": "mpisweep virtual scanner"})
        p["file"] = str(path.relative_to(lay.phantoms))
        if p["kind"] == "single":
            rows.append({"experimentNumber": p["number"], "easyAxisOrientation": label(first["angle"]),
                         "x": repr(first["x"] / 1e3), "y": repr(first["y"] / 1e3), "path": p["file"]})
    write_csv(lay.phantom_index, rows, CSV_COLUMNS)
    truth = {"phantoms": phantoms, "noise_sigma": sigma, "signal_rms": rms, "snr_db": ph.snr_db,
             "background_rms": float(ph.background) * rms if E else 0.0, "frames": F, "background_frames": E,
             "seed": int(ph.seed), "components": [dict(c) for _, c in sweep.components],
             "solver": dump(sweep.virtual.solver)}
    write_json(lay.phantom_truth, truth)
    return truth


# ------------------------------------------------------------------------------- index
def _positions(csv_path: Path) -> dict[int, tuple[float, float]]:
    """CSV row number → (x, y) in mm from the record's columns x, y (metres)."""
    with open(csv_path, newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        for col in ("x", "y"):
            if col not in header:
                raise MeasurementError(f"{csv_path}: no column {col!r} (the record's layout has "
                                       f"{','.join(CSV_COLUMNS)}); columns are {header}")
        out = {}
        for i, rec in enumerate(reader, start=2):
            try:
                out[i] = (float(rec["x"]) * 1e3, float(rec["y"]) * 1e3)
            except (TypeError, ValueError):
                raise MeasurementError(f"{csv_path}: row {i}: position ({rec['x']!r}, {rec['y']!r}) is not a "
                                       "pair of numbers (metres)") from None
    return out


def phantom_index(sweep: Sweep) -> list[dict]:
    """Every phantom to reconstruct: {number, kind, file (Path), samples [{x, y (mm), angle (model, deg)}] or None}.

    Single-sample phantoms come from the CSV in the record's layout; with virtual phantoms the
    map phantoms of truth.json follow.
    """
    ph = sweep.orientation.phantoms
    if ph.source == "virtual":
        directory, name, offset, sign = sweep.layout.phantoms, "measurements.csv", 0.0, 1
    else:
        directory, name = Path(ph.directory), ph.csv
        m = sweep.mdf
        offset, sign = m.angle_offset, m.angle_sign
    rows = read_index(directory, name, {"file": "path", "angle": "easyAxisOrientation"}, offset, sign)
    where = _positions(directory / name)
    out = []
    for r in rows:
        x, y = where[r["row"]]
        number = len(out) + 1
        out.append({"number": number, "kind": "single", "file": r["file"],
                    "samples": [{"x": x, "y": y, "angle": r["angle"], "amount": 1.0}]})
    if ph.source == "virtual":
        truth = json.loads(sweep.layout.phantom_truth.read_text())
        for p in truth["phantoms"]:
            if p["kind"] == "map":
                out.append({"number": p["number"], "kind": "map", "file": directory / p["file"],
                            "samples": p["samples"]})
    return out


def true_pixels(grid: ImageGrid, pmap: PositionMap, phantom: dict) -> np.ndarray:
    """(samples, 2) fractional (y, x) pixels of a phantom's samples on an image grid."""
    return grid.pixels(pmap, np.array([[s["x"], s["y"]] for s in phantom["samples"]]))
