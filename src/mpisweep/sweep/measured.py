"""Measured system matrices as the sweep reads them: one MDF file per easy-axis angle, listed in a CSV.

One code path for real and synthetic data: the virtual scanner writes ``<output>/measurement/
calibrations.csv`` + ``<angle>.mdf``; measured data come as the Zenodo layout
``DIRECTORY/calibrations.csv`` + ``DIRECTORY/calibrations/<n>.mdf``. Both are indexed by
:func:`index` and loaded by :func:`load` (the fits), :func:`calibration` (any bins) and
:func:`files_position_map` (where each offset is) through :func:`mpisweep.io.mdf.read_system_matrix`;
the measurement stage's check step (:mod:`mpisweep.steps.measurement.check`) checks them first.

CSV columns (``measurement.mdf.columns``; ``null`` = detect). Column names are compared in lower
case with everything in brackets and all non-alphanumerics removed ("Angle [deg]" → "angle").

* file: the first of file, filename, path, mdf, calibration, calibrationfile, name, number, num,
  nr, no, id, experiment, experimentnumber, measurement; otherwise the only column whose name
  contains "file" or "path". A value is a path relative to DIRECTORY or DIRECTORY/calibrations;
  ".mdf" is appended when it has no suffix (so a column of experiment numbers 1, 2, … works).
* angle: the first of angle, angledeg, angles, easyaxisorientation (the record's own header
  ``path,easyAxisOrientation``), easyaxisangle, theta, rotation, orientation, connector, phi;
  otherwise the only column whose name contains "angle" or "orientation". Values in degrees; a trailing unit
  ("15°", "15 deg") is ignored.

The CSV angle is mapped to the model's easy-axis angle (degrees from x) as
``angle_offset + angle_sign · angle`` and compared modulo 180° (n and −n are the same uniaxial
particle). The paper's ϑ is measured from the y axis (0° connector: easy axis ∥ y), hence
``angle_offset: 90`` in config/paper.yaml; the sense of rotation of the connectors is not stated
in the paper, so ``angle_sign`` may have to be −1 (compare the M1 ε_global of both).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import MDFError, MeasurementError
from ..fitting.selection import RowSelection, select_rows
from ..io.csv_table import normalized, read_table
from ..io.mdf import PositionMap, read_position_map, read_system_matrix
from ..io.mdf.noise import Noise, file_noise, rms_snr
from .config import Sweep
from .names import label
from .sections.base import dump

FILE_COLUMNS = ("file", "filename", "path", "mdf", "calibration", "calibrationfile", "name", "number", "num",
                "nr", "no", "id", "experiment", "experimentnumber", "measurement")
ANGLE_COLUMNS = ("angle", "angledeg", "angles", "easyaxisorientation", "easyaxisangle", "theta", "rotation",
                 "orientation", "connector", "phi")
VIRTUAL_TOLERANCE = 1e-6


def _pick(header, given, candidates, contains, what, csv_path):
    if given:
        if given not in header:
            raise MeasurementError(f"{csv_path}: column {given!r} (measurement.mdf.columns.{what}) not found; "
                                   f"columns are {header}")
        return given
    normed = {normalized(h): h for h in header}
    for c in candidates:
        if c in normed:
            return normed[c]
    hits = [h for h in header if any(s in normalized(h) for s in contains)]
    if len(hits) == 1:
        return hits[0]
    raise MeasurementError(f"{csv_path}: cannot tell which column holds the {what} (columns {header}); "
                           f"set measurement.mdf.columns.{what}")


def _angle_value(text, csv_path, row):
    m = re.match(r"^\s*([-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)", str(text))
    if not m:
        raise MeasurementError(f"{csv_path}: row {row}: angle {text!r} is not a number")
    return float(m.group(1))


def _resolve_file(directory: Path, value: str, csv_path, row) -> Path:
    value = str(value).strip()
    names = [value]
    if not Path(value).suffix or re.fullmatch(r"\d+", value):
        names.append(value + ".mdf")
    tried = []
    for base in (directory, directory / "calibrations"):
        for name in names:
            p = Path(name) if Path(name).is_absolute() else base / name
            tried.append(str(p))
            if p.is_file():
                return p
    raise MeasurementError(f"{csv_path}: row {row}: file {value!r} not found (tried {', '.join(tried)})")


def _same_angle(a: float, b: float) -> bool:
    d = (a - b) % 180.0
    return min(d, 180.0 - d) < 1e-6


def read_index(directory, csv_name="calibrations.csv", columns=None, angle_offset=0.0, angle_sign=1) -> list[dict]:
    """All rows of the CSV: [{"file": Path, "csv_angle": float, "angle": model angle (deg, [0, 180))}]."""
    directory = Path(directory)
    csv_path = directory / csv_name
    if not directory.is_dir():
        raise MeasurementError(f"measurement.mdf.directory: {directory} is not a directory")
    if not csv_path.is_file():
        raise MeasurementError(f"measurement.mdf.csv: {csv_path} not found")
    columns = columns or {}
    header, records = read_table(csv_path)
    fcol = _pick(header, columns.get("file"), FILE_COLUMNS, ("file", "path"), "file", csv_path)
    acol = _pick(header, columns.get("angle"), ANGLE_COLUMNS, ("angle", "orientation"), "angle", csv_path)
    rows = []
    for i, rec in records:
        csv_angle = _angle_value(rec.get(acol), csv_path, i)
        rows.append({
            "file": _resolve_file(directory, rec.get(fcol), csv_path, i),
            "csv_angle": csv_angle,
            "angle": (float(angle_offset) + float(angle_sign) * csv_angle) % 180.0,
            "row": i,
        })
    if not rows:
        raise MeasurementError(f"{csv_path}: no data rows")
    return rows


def index_path(sweep: Sweep) -> Path:
    """The CSV that lists the measured files."""
    if sweep.source == "virtual":
        return sweep.layout.virtual_index
    return Path(sweep.mdf.directory) / sweep.mdf.csv


def index(sweep: Sweep) -> list[dict]:
    """One entry per configured angle (grid order): {"file", "angle" (the grid's value), "csv_angle"}."""
    csv_path = index_path(sweep)
    if sweep.source == "virtual":
        rows = read_index(csv_path.parent, csv_path.name, {"file": "file", "angle": "angle"})
    else:
        m = sweep.mdf
        rows = read_index(m.directory, m.csv, dump(m.columns), m.angle_offset, m.angle_sign)
    if sweep.distribution is not None:  # one sample whose easy axes are distributed: one file
        if len(rows) != 1:
            raise MeasurementError(f"{csv_path}: lists {len(rows)} files, but grids.easy_axes is "
                                   f"{sweep.grids.easy_axes}: one measured file of that sample is fitted")
        return [{"file": rows[0]["file"], "angle": 0.0, "csv_angle": rows[0]["csv_angle"]}]
    out = []
    for angle in sweep.angles:
        hits = [r for r in rows if _same_angle(r["angle"], angle)]
        if not hits:
            have = sorted({round(r["angle"], 6) for r in rows})
            raise MeasurementError(f"{csv_path}: no file for the configured angle {label(angle)}° "
                                   f"(grids.angles); the CSV gives model angles {have} (after angle_offset/angle_sign)")
        if len(hits) > 1:
            raise MeasurementError(f"{csv_path}: rows {[h['row'] for h in hits]} all map to angle {label(angle)}°")
        out.append({"file": hits[0]["file"], "angle": float(angle), "csv_angle": hits[0]["csv_angle"]})
    return out


def expected_fields(sweep: Sweep) -> dict:
    """What every measured file must match (keys of mpisweep.io.mdf.check_compatible)."""
    sc, o = sweep.scanner, sweep.offset_grid
    return {
        "cycle": sweep.cycle,
        "base_frequency": sc.base_frequency,
        "dividers": list(sc.active_dividers),
        "num_sampling_points": sc.samples,
        "grid_size": [o.nx, o.ny] + ([o.nz] if o.nz > 1 else []),
        "offset_fields": sweep.offsets.reshape(-1, 3)[:, : 2 if o.is_planar else 3],
    }


def receive_channels(sweep: Sweep) -> list[int]:
    """The measured files' receive channels used as the configured ones (scanner.receive), in order."""
    return list(range(len(sweep.channels))) if sweep.source == "virtual" else list(sweep.mdf.channels)


def tolerance(sweep: Sweep) -> float:
    """Relative tolerance of the files' fields against the config (measurement.mdf.tolerance; tight for virtual)."""
    return VIRTUAL_TOLERANCE if sweep.source == "virtual" else float(sweep.mdf.tolerance)


def _subgrid(sweep: Sweep, ds: xr.Dataset, path) -> xr.Dataset:
    """The file's offsets that make up the configured grid (measurement.mdf.offset_subgrid), in grid order."""
    want = sweep.offsets.reshape(-1, 3)
    if "offset_field" not in ds.coords:
        raise MDFError(f"{path}: /calibration/offsetFields is missing; measurement.mdf.offset_subgrid needs it")
    have = np.asarray(ds["offset_field"].values, float).reshape(-1, 3)
    dist = np.abs(have[None, :, :] - want[:, None, :]).max(axis=-1)  # (configured, file)
    pick = dist.argmin(axis=1)
    miss = dist[np.arange(want.shape[0]), pick] > tolerance(sweep) * max(float(np.abs(want).max()), 1e-30)
    if miss.any():
        i = int(np.argmax(miss))
        shown = want[i, : 2 if sweep.offset_grid.is_planar else 3]
        raise MDFError(f"{path}: /calibration/offsetFields holds no offset at {(shown * 1e3).round(6).tolist()} mT "
                       "of the configured grid: with measurement.mdf.offset_subgrid the configured offsets must be "
                       "points of the files' grid (e.g. count 6 over the same range for every second of 11)")
    out = ds.isel(offset=pick)
    o = sweep.offset_grid
    out.attrs["calibration_size"] = np.array([o.nx, o.ny, o.nz])
    return out


def read_file(sweep: Sweep, path: Path, bins=None) -> xr.Dataset:
    """One measured file as the sweep uses it: its configured offsets (subgrid) and receive channels checked."""
    ds = read_system_matrix(path, frequencies=bins)
    if sweep.source == "mdf" and sweep.mdf.offset_subgrid:
        ds = _subgrid(sweep, ds, path)
    if "period" in ds.dims:
        raise MDFError(f"{path}: /acquisition/numPeriodsPerFrame is {ds.sizes['period']}; "
                       "one period per frame is supported")
    need = max(receive_channels(sweep)) + 1
    if ds.sizes["channel"] < need:
        raise MDFError(f"{path}: /acquisition/receiver/numChannels is {ds.sizes['channel']}, config uses channel "
                       f"{need - 1} (measurement.mdf.channels)")
    return ds


def _entries(sweep: Sweep, check_report: dict | None) -> list[dict]:
    """The measured files in grid order: from the check step's report when given, else from the index."""
    if check_report is None:
        return index(sweep)
    return [{"file": Path(f["file"]), "angle": f["angle"]} for f in check_report["files"]]


def load(sweep: Sweep, check_report: dict | None = None) -> xr.DataArray:
    """Measured rows (angle, channel, frequency, offset) complex at the evaluation bins, the configured
    receive channels."""
    entries = _entries(sweep, check_report)
    bins = sweep.bin_indices
    chans = receive_channels(sweep)
    data = []
    for e in entries:
        ds = read_file(sweep, e["file"], bins=bins)
        sm = ds["system_matrix"].transpose("channel", "frequency", "offset").values[chans]
        data.append(sm)
    arr = np.stack(data).astype(np.complex128)
    return xr.DataArray(
        arr, dims=("angle", "channel", "frequency", "offset"),
        coords={"angle": [e["angle"] for e in entries], "channel": list(sweep.channels),
                "frequency": bins.astype(np.int64)},
        name="measured", attrs={"files": json.dumps([str(e["file"]) for e in entries])},
    )


def calibration(sweep: Sweep, bins) -> tuple[np.ndarray, np.ndarray | None, list[float]]:
    """The measured calibration at any rfft bins: rows (angle, receive channel, bin, offset), their SNR (angle,
    channel, bin; :func:`measured_snr`) or None when a file offers no noise, and the angles (grid order)."""
    entries = index(sweep)
    chans = receive_channels(sweep)
    rows = np.stack([read_file(sweep, e["file"], bins=np.asarray(bins, np.int64))["system_matrix"]
                     .transpose("channel", "frequency", "offset").values[chans] for e in entries]).astype(np.complex128)
    snr, _ = measured_snr(sweep, rows, bins, entries)
    return rows, snr, [e["angle"] for e in entries]


def noise(sweep: Sweep, bins, entries=None) -> tuple[np.ndarray | None, list[Noise]]:
    """σ (angle, receive channel, bin) of the measured files at rfft `bins` (:func:`mpisweep.io.mdf.noise.file_noise`:
    background frames, else /calibration/snr), and each file's :class:`~mpisweep.io.mdf.noise.Noise`; σ is None
    when some file offers no noise at all."""
    entries = index(sweep) if entries is None else entries
    chans = receive_channels(sweep)
    found = [file_noise(e["file"], np.asarray(bins, np.int64)) for e in entries]
    if any(n.sigma is None for n in found):
        return None, found
    return np.stack([n.sigma[chans] for n in found]), found


def measured_snr(sweep: Sweep, rows: np.ndarray, bins, entries=None) -> tuple[np.ndarray | None, list[Noise]]:
    """SNR (angle, receive channel, bin) of measured `rows` (angle, channel, bin, offset) at `bins`
    (:func:`mpisweep.io.mdf.noise.rms_snr`), None when a file offers no noise; and the files' Noise."""
    sigma, found = noise(sweep, bins, entries)
    return (None if sigma is None else rms_snr(rows, sigma)), found


def fitted_bins(sweep: Sweep) -> np.ndarray:
    """Positions in sweep.bins of the rows the fits use: all of them, or (frequencies.select snr) those whose
    SNR (:mod:`mpisweep.io.mdf.noise`) reaches frequencies.snr_threshold on some receive channel in every
    measured file."""
    if sweep.snr_band is None:
        return np.arange(len(sweep.bin_indices))
    threshold = sweep.snr_band[1]
    _, snr, _ = calibration(sweep, sweep.bin_indices)
    if snr is None:
        raise MeasurementError(f"frequencies.select snr: the measured files in {index_path(sweep).parent} have "
                               "neither background frames nor /calibration/snr (the virtual scanner writes it when "
                               "measurement.virtual.snr_db is set); use frequencies.select mixing")
    keep = np.flatnonzero((snr.max(axis=1) >= threshold).all(axis=0))
    if keep.size == 0:
        raise MeasurementError(f"frequencies.snr_threshold: no bin from {sweep.snr_band[0]:g} Hz up reaches an SNR of "
                               f"{threshold:g} in every measured file (largest {float(np.nanmax(snr)):.3g})")
    return keep


def row_selection(sweep: Sweep, measured: xr.DataArray, check_report: dict | None = None
                  ) -> tuple[RowSelection | None, list[Noise]]:
    """The rows (receive channel, bin) of `measured` (:func:`load_fitted`'s) whose SNR reaches fit.snr_threshold in
    every file (:func:`mpisweep.fitting.selection.select_rows`); None when the threshold is null or a file offers
    no noise. Also each file's Noise."""
    if sweep.fit.snr_threshold is None:
        return None, []
    entries = _entries(sweep, check_report)
    bins = np.asarray(measured["frequency"].values, np.int64)
    rows = measured.transpose("angle", "channel", "frequency", "offset").values
    snr, found = measured_snr(sweep, rows, bins, entries)
    if snr is None:
        return None, found
    return select_rows(snr, sweep.fit.snr_threshold, sweep.channels), found


@dataclass(frozen=True)
class Fitted:
    """The measured rows every fit of the sweep uses (the fit step and the refine rounds alike)."""

    measured: xr.DataArray  # (angle, channel, frequency, offset) at the bins below
    bins: np.ndarray  # their rows of sweep.bins
    rows: np.ndarray | None  # (channel, frequency) mask of the rows used; None: every row
    selection: RowSelection | None  # fit.snr_threshold's selection over load_fitted's bins; None: none made
    noise: list[Noise]  # each file's noise estimate (empty with fit.snr_threshold null)


def fitted(sweep: Sweep, check_report: dict | None = None) -> Fitted:
    """:func:`load_fitted`'s rows with fit.snr_threshold applied (:func:`row_selection`): the bins left without a
    row dropped, the (channel, bin) mask of the rest. MeasurementError when no row is left."""
    measured, bins = load_fitted(sweep, check_report)
    selection, found = row_selection(sweep, measured, check_report)
    if selection is None:
        return Fitted(measured, bins, None, None, found)
    keep = selection.kept_bins
    if keep.size == 0:
        raise MeasurementError(f"fit.snr_threshold: no row reaches an SNR of {selection.threshold:g} in every "
                               f"measured file (largest {float(selection.snr.max()):.3g})")
    rows = selection.rows[:, keep]
    if keep.size < len(bins):
        measured, bins = measured.isel(frequency=keep), bins[keep]
    return Fitted(measured, bins, None if rows.all() else rows, selection, found)


def load_fitted(sweep: Sweep, check_report: dict | None = None) -> tuple[xr.DataArray, np.ndarray]:
    """The measured rows the fits use (:func:`load` at :func:`fitted_bins`) and their rows of sweep.bins."""
    used = fitted_bins(sweep)
    measured = load(sweep, check_report)
    return (measured if len(used) == len(sweep.bins) else measured.isel(frequency=used)), sweep.bins[used]


def files_position_map(sweep: Sweep) -> tuple[PositionMap, Path] | None:
    """The position map the calibration files state (the same in every file) and the first file stating it;
    None when no file has /calibration/positions. MDFError when only some have them or two differ."""
    maps = [(e["file"], read_position_map(e["file"])) for e in index(sweep)]
    have = [(f, m) for f, m in maps if m is not None]
    if not have:
        return None
    lacking = [f for f, m in maps if m is None]
    if lacking:
        raise MDFError(f"{lacking[0]}: no /calibration/positions, while {have[0][0]} has them")
    first_file, first = have[0]
    scale = float(np.abs(sweep.offsets).max())
    for f, m in have[1:]:
        if m.differs_from(first, scale):
            raise MDFError(f"{f}: its positions map onto offsets as {m.describe()}, but {first_file} as "
                           f"{first.describe()}")
    return first, first_file
