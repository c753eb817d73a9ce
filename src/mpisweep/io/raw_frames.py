"""Raw time-domain scanner frames, with positions and background rows kept beside them, as an MDF v2.1 system matrix.

A scanner's own files often hold nothing but ADC samples: one HDF5 dataset of frames × samples (or
frames × channels × samples), one row per drive period, with the robot positions and the background
(empty-bore) rows listed in a CSV beside it. :func:`import_raw` writes such a file as the MDF the rest of
mpisweep reads (:func:`mpisweep.read_system_matrix`), with :func:`mpisweep.write_system_matrix`:

* Samples become the physical unit per receive channel as a·x + b (MDF's dataConversionFactor), then go
  through the unnormalised real DFT the reader applies to time-domain MDF, X_k = Σ_n x_n exp(−2πikn/V),
  k = 0..V/2 (numpy.fft.rfft, as MPIFiles). The file therefore reads back exactly as the same frames
  stored in the time domain would. It is stored in the frequency domain because that is the layout the
  project's writer writes and the sweep's checks and fits read (bins); all V/2 + 1 bins are kept, so
  nothing is lost (irfft gives the frames back).
* Background rows become background frames (/measurement/isBackgroundFrame) and the acquisition order is
  kept in /measurement/framePermutation, so the reader subtracts the background interpolated in time.
* Positions go to /calibration/positions in m (method "robot"). When the calibration frames cover a full
  x × y × z grid they are stored in MDF's grid order (x fastest, each axis ascending) with /calibration/size.
* Rows marked as failed are left out.

Noise per bin k (σ_k of one frame, as in :mod:`mpisweep.io.mdf.noise`): with a block of two or more
adjacent background frames the file itself gives it (file_noise's "background frames"). Otherwise it is
estimated here and stored as /calibration/snr = RMS_ν |X_kν| / σ_k over the calibration frames as the
reader returns them (background subtracted), the relation file_noise inverts. It comes from a repeated
acquisition of the same frames (σ² = mean_ν |X_ν − X'_ν|² / 2), or else from the spread of the isolated
background frames about their mean, which also counts the drift between them as noise.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import xarray as xr

from ..errors import MDFError, MeasurementError
from ..units import AXES
from .csv_table import normalized, read_table
from .mdf.background import interpolated_background
from .mdf.writer import write_system_matrix

AXIS_COLUMNS = {a: (a, f"pos{a}", f"position{a}", f"{a}pos", f"{a}position", f"robot{a}") for a in AXES}
BACKGROUND_COLUMNS = ("isbackground", "background", "isbackgroundframe", "backgroundframe", "bg", "isbg", "empty")
ROW_COLUMNS = ("row", "frame", "index", "rowindex", "frameindex")
COLUMN_KEYS = (*AXES, "background", "row")
LENGTH_UNITS = {"m": 1.0, "cm": 1e-2, "mm": 1e-3, "um": 1e-6, "µm": 1e-6}
TRUE, FALSE = ("1", "true", "yes", "y", "t"), ("0", "false", "no", "n", "f")
NOISE_SOURCES = ("background frames", "repeat file", "background spread", "none")


@dataclass(frozen=True)
class Drive:
    """The drive field: base frequency in Hz, one divider and one amplitude in T per drive channel."""

    base_frequency: float
    dividers: tuple[int, ...]
    strength: tuple[float, ...]

    @property
    def cycle(self) -> float:
        """One frame: lcm(dividers) / base frequency, in s."""
        return math.lcm(*self.dividers) / self.base_frequency


@dataclass(frozen=True)
class PositionTable:
    """A positions CSV: (frames, 3) positions in m (NaN where a cell is empty), the background flag per
    frame (None without such a column), and the header of the column used for each key."""

    positions: np.ndarray
    background: np.ndarray | None
    columns: dict


@dataclass(frozen=True)
class Imported:
    """What :func:`import_raw` wrote: frames read, rows used, the grid, and where the noise comes from."""

    output: Path
    frames: int
    channels: int
    samples: int
    calibration_rows: tuple[int, ...]  # dataset rows of the stored calibration frames, stored order
    background_rows: tuple[int, ...]
    failed_rows: tuple[int, ...]
    size: tuple[int, int, int] | None
    positions: np.ndarray | None  # (calibration frames, 3) m, stored order
    columns: dict
    noise: str  # one of NOISE_SOURCES
    noise_frames: int
    repeat_used: bool


def read_frames(path, dataset: str = "/matrix") -> np.ndarray:
    """The frames of an HDF5 dataset as float64 (frames, channels, samples); a 2-D dataset is one channel."""
    path = Path(path)
    if not path.is_file():
        raise MDFError(f"{path}: no such file")
    try:
        handle = h5py.File(path, "r")
    except (OSError, ValueError) as err:
        raise MDFError(f"{path}: not a readable HDF5 file ({err})") from None
    with handle:
        node = handle.get(dataset)
        if not isinstance(node, h5py.Dataset):
            found = []
            handle.visititems(lambda name, obj: found.append("/" + name) if isinstance(obj, h5py.Dataset) else None)
            raise MDFError(f"{path}: no dataset {dataset!r} (datasets: {', '.join(found) or 'none'})")
        if node.dtype.kind not in "iuf":
            raise MDFError(f"{path}: {dataset} has dtype {node.dtype}, expected real numbers (time-domain samples)")
        frames = np.asarray(node[()], dtype=np.float64)
    if frames.ndim == 2:
        frames = frames[:, None, :]
    if frames.ndim != 3 or min(frames.shape) < 1 or frames.shape[-1] < 2:
        raise MDFError(f"{path}: {dataset} has shape {frames.shape}, expected (frames, samples) or "
                       "(frames, channels, samples) with at least 2 samples")
    return frames


def to_physical(frames: np.ndarray, conversion) -> np.ndarray:
    """a·x + b per receive channel: `conversion` is (a, b) for all channels or (channels, 2)."""
    conv = np.asarray(conversion, dtype=float).reshape(-1)
    if conv.size % 2 or conv.size == 0:
        raise MeasurementError(f"conversion: expected (a, b) pairs, got {conv.size} numbers")
    conv = conv.reshape(-1, 2)
    channels = frames.shape[1]
    if conv.shape[0] == 1:
        conv = np.repeat(conv, channels, axis=0)
    if conv.shape[0] != channels:
        raise MeasurementError(f"conversion: {conv.shape[0]} (a, b) pairs for {channels} receive channels "
                               "(give one pair for all or one per channel)")
    return frames * conv[None, :, 0, None] + conv[None, :, 1, None]


def spectra(frames: np.ndarray) -> np.ndarray:
    """The unnormalised rfft over the samples, X_k = Σ_n x_n exp(−2πikn/V): (frames, channels, V//2 + 1)."""
    return np.fft.rfft(frames, axis=-1)


def split_unit(header: str) -> tuple[str, str | None]:
    """A column header as (normalised name, unit or None): "x_mm", "x [mm]", "x (mm)", "x/mm" → ("x", "mm")."""
    text = str(header).strip().lower()
    m = re.search(r"[\[\(\{]\s*([a-zµ]+)\s*[\]\)\}]\s*$", text) or re.search(r"[_\s/]+(mm|cm|m|um|µm)$", text)
    if m:
        return normalized(text[:m.start()]), m.group(1)
    return normalized(text), None


def _flag(text: str, csv_path, line: int, column: str) -> bool:
    value = str(text).strip().lower()
    if value in TRUE or value in FALSE:
        return value in TRUE
    raise MeasurementError(f"{csv_path}: line {line}: {column} = {text!r} is not a background flag (1/0, true/false)")


def read_positions(csv_path, frames: int, columns: dict | None = None, unit: str | None = None) -> PositionTable:
    """Read a positions CSV with one row per frame.

    Parameters
    ----------
    csv_path : str or os.PathLike
        Comma, semicolon or tab separated, with a header row.
    frames : int
        Rows of the frames dataset: the CSV must have as many data rows.
    columns : dict, optional
        Header of the column for any of x, y, z, background, row; the rest is detected from names compared in
        lower case without brackets or punctuation (x, pos_x, position x, …; is_background, background, bg;
        row, frame, index). Missing axes are 0.
    unit : str, optional
        The positions' unit (mm, cm, m) where the header states none ("x_mm", "x [mm]").

    Returns
    -------
    PositionTable
        Rows in frame order: by the row column (0-based frame indices) when there is one, else as listed.
    """
    csv_path = Path(csv_path)
    columns = dict(columns or {})
    if not csv_path.is_file():
        raise MeasurementError(f"{csv_path}: no such file")
    header, numbered = read_table(csv_path)
    lines = [line for line, _ in numbered]
    records = [rec for _, rec in numbered]
    named = {}
    for key, want in columns.items():
        if key not in COLUMN_KEYS:
            raise ValueError(f"unknown column key {key!r} (keys: {', '.join(COLUMN_KEYS)})")
        match = [h for h in header if h.strip() == str(want).strip()]
        if not match:
            raise MeasurementError(f"{csv_path}: no column {want!r} for {key} (columns: {', '.join(header)})")
        named[key] = match[0]
    split = {h: split_unit(h) for h in header}
    candidates = {**AXIS_COLUMNS, "background": BACKGROUND_COLUMNS, "row": ROW_COLUMNS}
    for key in COLUMN_KEYS:
        if key not in named:
            hits = [h for h in header if split[h][0] in candidates[key] and h not in named.values()]
            if hits:
                named[key] = min(hits, key=lambda h: candidates[key].index(split[h][0]))
    if not any(a in named for a in AXES):
        raise MeasurementError(f"{csv_path}: no position column (columns: {', '.join(header)}); "
                               "name them x_mm, y_mm, z_mm or give them")
    if len(records) != frames:
        raise MeasurementError(f"{csv_path}: {len(records)} data rows, but the frames dataset has {frames} frames "
                               "(one row per frame, background and failed frames included)")

    order = np.arange(frames)
    if "row" in named:
        col = named["row"]
        try:
            order = np.array([int(str(r[col]).strip()) for r in records])
        except ValueError:
            raise MeasurementError(f"{csv_path}: column {col!r} must hold integer frame indices") from None
        if not np.array_equal(np.sort(order), np.arange(frames)):
            raise MeasurementError(f"{csv_path}: column {col!r} must number the frames 0..{frames - 1}, each once")

    positions = np.zeros((frames, 3))
    for axis, a in enumerate(AXES):
        if a not in named:
            continue
        col = named[a]
        stated = split[col][1]
        if stated is not None and stated not in LENGTH_UNITS:
            raise MeasurementError(f"{csv_path}: column {col!r}: unit {stated!r} is not a length "
                                   f"({', '.join(LENGTH_UNITS)})")
        if stated is None and unit is None:
            raise MeasurementError(f"{csv_path}: column {col!r} states no unit; name it {a}_mm or '{a} [mm]', "
                                   "or give the unit")
        if stated is not None and unit is not None and stated != unit:
            raise MeasurementError(f"{csv_path}: column {col!r} is in {stated}, but the unit given is {unit}")
        scale = LENGTH_UNITS[stated or unit]
        for line, row, rec in zip(lines, order, records):
            text = str(rec.get(col) or "").strip()
            try:
                positions[row, axis] = float(text) * scale if text else np.nan
            except ValueError:
                raise MeasurementError(f"{csv_path}: line {line}: {col} = {text!r} is not a number") from None

    background = None
    if "background" in named:
        col = named["background"]
        background = np.zeros(frames, bool)
        for line, row, rec in zip(lines, order, records):
            background[row] = _flag(rec.get(col) or "", csv_path, line, col)
    return PositionTable(positions, background, named)


def grid_order(positions: np.ndarray, decimals: int = 9) -> tuple[np.ndarray, tuple[int, int, int] | None]:
    """The order that stores (O, 3) positions (m) as MDF's grid, x fastest and each axis ascending, and the
    grid size (Nx, Ny, Nz); the identity and None when they are not a full grid with each point once."""
    p = np.round(np.asarray(positions, float), decimals)
    index, size = [], []
    for axis in range(3):
        values, inverse = np.unique(p[:, axis], return_inverse=True)
        index.append(inverse.reshape(-1))
        size.append(values.size)
    flat = index[0] + size[0] * (index[1] + size[1] * index[2])
    if math.prod(size) != len(p) or np.unique(flat).size != len(p):
        return np.arange(len(p)), None
    return np.argsort(flat, kind="stable"), (size[0], size[1], size[2])


def longest_run(mask: np.ndarray) -> int:
    """The most adjacent True entries of a boolean sequence."""
    best = run = 0
    for value in np.asarray(mask, bool):
        run = run + 1 if value else 0
        best = max(best, run)
    return best


def repeat_noise(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """σ (channel, bin) of one frame from two acquisitions of the same frames (frames, channel, bin):
    E|X − X'|² = 2σ², averaged over the frames."""
    return np.sqrt(np.mean(np.abs(first - second) ** 2, axis=0) / 2)


def spread_noise(background: np.ndarray) -> np.ndarray:
    """σ (channel, bin) from ≥ 2 background frames (frames, channel, bin) about their mean (n − 1 degrees of
    freedom); drift between the frames counts as noise."""
    dev = background - background.mean(axis=0, keepdims=True)
    return np.sqrt(np.sum(np.abs(dev) ** 2, axis=0) / (background.shape[0] - 1))


def _rows(values, frames: int, what: str) -> np.ndarray:
    rows = np.unique(np.asarray(list(values or ()), dtype=np.int64))
    bad = rows[(rows < 0) | (rows >= frames)]
    if bad.size:
        raise MeasurementError(f"{what}: rows {bad.tolist()} are outside 0..{frames - 1} "
                               f"(the dataset has {frames} frames)")
    return rows


def _finite(spec: np.ndarray, rows: np.ndarray, path, dataset) -> None:
    bad = rows[~np.isfinite(spec[rows]).all(axis=(1, 2))]
    if bad.size:
        raise MDFError(f"{path}: {dataset}: rows {bad.tolist()} are not finite; leave them out as failed frames")


def import_raw(frames_path, output, drive: Drive, *, dataset: str = "/matrix", conversion=(1.0, 0.0),
               unit: str = "V", averages: int = 1, positions_csv=None, columns: dict | None = None,
               position_unit: str | None = None, background_rows=None, failed_rows=(), repeat_path=None,
               repeat_failed_rows=()) -> Imported:
    """Write the time-domain frames of `frames_path` as an MDF v2.1 system matrix (see the module docstring).

    Parameters
    ----------
    frames_path, dataset
        The HDF5 file and its dataset of frames: (frames, samples) or (frames, channels, samples), one drive
        cycle per frame.
    output : str or os.PathLike
        The MDF file to write (atomically).
    drive : Drive
        The drive field the file does not record.
    conversion : array_like
        (a, b), or one pair per receive channel: the value in `unit` is a·sample + b.
    unit : str
        The unit after conversion (/acquisition/receiver/unit).
    averages : int
        Averages per frame (/acquisition/numAverages).
    positions_csv, columns, position_unit
        The positions CSV, one row per frame (:func:`read_positions`); None writes no positions.
    background_rows : iterable of int, optional
        0-based background rows; default the CSV's background column (none without one).
    failed_rows : iterable of int
        0-based rows left out.
    repeat_path : str or os.PathLike, optional
        A repeated acquisition of the same frames (same dataset and shape) for the noise; its own failed rows
        `repeat_failed_rows` and `failed_rows` are left out of the comparison.

    Returns
    -------
    Imported
    """
    frames = read_frames(frames_path, dataset)
    count, channels, samples = frames.shape
    spec = spectra(to_physical(frames, conversion))
    table = None if positions_csv is None else read_positions(positions_csv, count, columns, position_unit)
    failed = _rows(failed_rows, count, "failed frames")
    if background_rows is not None:
        is_bg = np.zeros(count, bool)
        is_bg[_rows(background_rows, count, "background frames")] = True
    else:
        is_bg = np.zeros(count, bool) if table is None or table.background is None else table.background.copy()
    kept = np.setdiff1d(np.arange(count), failed)
    _finite(spec, kept, frames_path, dataset)
    fg, bg = kept[~is_bg[kept]], kept[is_bg[kept]]
    if fg.size == 0:
        raise MeasurementError(f"{frames_path}: no calibration frames left ({bg.size} background, {failed.size} failed "
                         f"of {count})")

    size, pos = None, None
    if table is not None:
        pos = table.positions[fg]
        missing = fg[~np.isfinite(pos).all(axis=1)]
        if missing.size:
            raise MeasurementError(f"{positions_csv}: rows {missing.tolist()} (calibration frames) have no position")
        order, size = grid_order(pos)
        fg, pos = fg[order], pos[order]
    acquisition = np.searchsorted(kept, np.r_[fg, bg])  # rank among the kept rows

    repeat_used, noise_frames, sigma = False, 0, None
    if longest_run(is_bg[kept]) >= 2:
        source = NOISE_SOURCES[0]  # the file itself gives it (file_noise)
        noise_frames = bg.size
    elif repeat_path is not None:
        other = read_frames(repeat_path, dataset)
        if other.shape != frames.shape:
            raise MDFError(f"{repeat_path}: {dataset} has shape {other.shape}, but {frames_path} has {frames.shape}")
        both = np.setdiff1d(kept, _rows(repeat_failed_rows, count, "failed frames of the repeat"))
        other = spectra(to_physical(other, conversion))
        _finite(other, both, repeat_path, dataset)
        sigma, source, noise_frames = repeat_noise(spec[both], other[both]), NOISE_SOURCES[1], both.size
        repeat_used = True
    elif bg.size >= 2:
        sigma, source, noise_frames = spread_noise(spec[bg]), NOISE_SOURCES[2], bg.size
    else:
        source = NOISE_SOURCES[3]
    snr = None
    if sigma is not None:
        rows = spec[fg]
        if bg.size:  # the rows as the reader returns them: background subtracted (what file_noise divides by snr)
            stacked = np.moveaxis(spec[np.r_[fg, bg]], 0, -1)
            flags = np.r_[np.zeros(fg.size, bool), np.ones(bg.size, bool)]
            rows = rows - np.moveaxis(interpolated_background(stacked, acquisition, flags), -1, 0)
        rms = np.sqrt(np.mean(np.abs(rows) ** 2, axis=0))  # (channel, bin)
        snr = np.full(rms.shape, np.inf)
        np.divide(rms, sigma, out=snr, where=sigma > 0)

    bins = np.arange(samples // 2 + 1)
    coords = {"channel": np.arange(channels), "frequency": bins / drive.cycle, "frequency_bin": ("frequency", bins),
              "offset": np.arange(fg.size)}
    if pos is not None:
        coords.update(xyz=np.array(AXES), position=(("offset", "xyz"), pos))
    attrs = {
        "calibration_method": "robot", "base_frequency": float(drive.base_frequency),
        "dividers": np.asarray(drive.dividers, np.int64).reshape(-1, 1),
        "drive_strength": np.asarray(drive.strength, float).reshape(1, -1, 1),
        "drive_phase": np.zeros((1, len(drive.dividers), 1)), "waveform": np.full((len(drive.dividers), 1), "sine"),
        "cycle": drive.cycle, "num_sampling_points": samples, "unit": unit, "num_averages": int(averages),
    }
    if size is not None:
        attrs.update(calibration_size=np.array(size), calibration_order="xyz")
    data = xr.Dataset({"system_matrix": (("channel", "frequency", "offset"), np.moveaxis(spec[fg], 0, -1))},
                      coords=coords, attrs=attrs)
    write_system_matrix(
        output, data, background=np.moveaxis(spec[bg], 0, -1) if bg.size else None,
        frame_permutation=acquisition + 1, snr=snr,
        experiment={"name": Path(frames_path).stem,
                    "description": f"raw time-domain frames {Path(frames_path).name}:{dataset}, imported by mpisweep"})
    return Imported(Path(output), count, channels, samples, tuple(int(r) for r in fg), tuple(int(r) for r in bg),
                    tuple(int(r) for r in failed), size, pos, {} if table is None else dict(table.columns),
                    source, noise_frames, repeat_used)
