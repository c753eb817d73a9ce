"""``mpisweep import-raw FRAMES``: raw time-domain scanner frames, positions and background rows beside them, as an
MDF v2.1 system matrix (:func:`mpisweep.io.raw_frames.import_raw`), and a short summary with the SNR per harmonic."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ...errors import UsageError
from ..command import Command, positive

HARMONICS = 10  # bins summarised


def add_arguments(p) -> None:
    p.add_argument("frames", metavar="FRAMES", help="HDF5 file of time-domain frames, one drive cycle per row")
    p.add_argument("--dataset", default="/matrix",
                   help="the frames' dataset: frames × samples or frames × channels × samples")
    p.add_argument("--output", "-o", required=True, help="the MDF file to write")
    p.add_argument("--positions", metavar="CSV",
                   help="one row per frame: x, y, z with their unit in the header (x_mm or 'x [mm]'), optionally a "
                   "row column (0-based frame index) and a background column (1 = background)")
    p.add_argument("--base-frequency", type=float, required=True, help="base frequency in Hz")
    p.add_argument("--dividers", type=int, nargs="+", required=True,
                   help="dividers of the base frequency, one per drive channel (drive frequency = base / divider)")
    p.add_argument("--drive", type=float, nargs="+", required=True, help="drive amplitudes in mT, one per channel")
    p.add_argument("--conversion", type=float, nargs="+", default=[1.0, 0.0], metavar="A B",
                   help="value = A·sample + B (ADC counts to --unit), one pair for all receive channels or one per "
                   "channel")
    p.add_argument("--unit", default="V", help="unit of A·sample + B")
    p.add_argument("--averages", type=int, default=1, help="averages per frame")
    p.add_argument("--background", type=int, nargs="+", metavar="ROW",
                   help="background (empty-bore) rows, 0-based (default: the CSV's background column)")
    p.add_argument("--failed", type=int, nargs="+", metavar="ROW", help="rows to leave out (failed frames), 0-based")
    p.add_argument("--columns", nargs="+", metavar="KEY=COLUMN",
                   help="CSV columns by header for x, y, z, background, row (default: detected from the names)")
    p.add_argument("--position-unit", choices=("mm", "cm", "m"), help="unit of positions whose header states none")
    p.add_argument("--repeat", metavar="FILE",
                   help="a repeated acquisition of the same frames (same dataset): the noise from the difference, "
                   "where the file has no two adjacent background frames")
    p.add_argument("--repeat-failed", type=int, nargs="+", metavar="ROW", help="rows of --repeat to leave out")


def _columns(items) -> dict:
    from ...io.raw_frames import COLUMN_KEYS

    out = {}
    for item in items or ():
        key, sep, name = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--columns: {item!r} is not KEY=COLUMN")
        if key not in COLUMN_KEYS:
            raise UsageError(f"--columns: unknown key {key!r} (keys: {', '.join(COLUMN_KEYS)})")
        out[key] = name
    return out


def check(args):
    """The drive in SI and the CSV columns; UsageError naming the option for a bad value or a missing file."""
    from ...io.raw_frames import Drive

    for name, path in (("FRAMES", args.frames), ("--positions", args.positions), ("--repeat", args.repeat)):
        if path is not None and not Path(path).is_file():
            raise UsageError(f"{name}: {path}: no such file")
    positive("base-frequency", args.base_frequency)
    if any(d <= 0 for d in args.dividers):
        raise UsageError(f"--dividers: must be positive integers, got {args.dividers}")
    if len(args.drive) != len(args.dividers):
        raise UsageError(f"--drive: {len(args.drive)} amplitudes for {len(args.dividers)} --dividers (one per channel)")
    for value in args.drive:
        positive("drive", value)
    if len(args.conversion) % 2 or not all(math.isfinite(v) for v in args.conversion):
        raise UsageError(f"--conversion: expected finite pairs A B, got {args.conversion}")
    if args.averages < 1:
        raise UsageError(f"--averages: must be a positive integer, got {args.averages}")
    for name in ("background", "failed", "repeat_failed"):
        rows = getattr(args, name) or []
        if any(r < 0 for r in rows):
            raise UsageError(f"--{name.replace('_', '-')}: rows are 0-based indices ≥ 0, got {rows}")
    if args.repeat_failed and not args.repeat:
        raise UsageError("--repeat-failed: needs --repeat")
    drive = Drive(args.base_frequency, tuple(args.dividers), tuple(v * 1e-3 for v in args.drive))
    return drive, _columns(args.columns)


def _span(values_mm) -> str:
    lo, hi = float(np.min(values_mm)), float(np.max(values_mm))
    return f"{lo:g} mm" if math.isclose(lo, hi) else f"{lo:g}..{hi:g} mm"


def _rows(what, rows) -> str:
    return f"{len(rows)} {what}" + (f" (rows {', '.join(str(r) for r in rows)})" if rows else "")


def summary(args, drive, imported) -> list[str]:
    """The lines printed after the import: frames, positions, drive, noise and the SNR per harmonic."""
    from ...io.mdf import read_system_matrix
    from ...io.mdf.noise import file_noise, rms_snr

    im = imported
    bins = np.arange(1, min(HARMONICS, im.samples // 2) + 1)
    lines = [
        f"wrote {im.output}: MDF v2.1 system matrix, {im.samples // 2 + 1} frequency bins (rfft of {im.samples} "
        f"samples), {im.channels} receive channel{'s' * (im.channels > 1)}",
        f"frames: {im.frames} in {args.frames}:{args.dataset}; {len(im.calibration_rows)} calibration, "
        f"{_rows('background', im.background_rows)}, {_rows('failed', im.failed_rows)}",
    ]
    if im.positions is None:
        lines.append("positions: none (no --positions)")
    else:
        mm = im.positions * 1e3
        grid = ("x".join(str(n) for n in im.size) + " grid (x fastest)" if im.size
                else "not a full grid, acquisition order")
        used = ", ".join(f"{k}: {v}" for k, v in im.columns.items())
        lines.append(f"positions: {grid}; x {_span(mm[:, 0])}, y {_span(mm[:, 1])}, z {_span(mm[:, 2])} "
                     f"(columns {used})")
    pairs = np.asarray(args.conversion).reshape(-1, 2)
    conv = "; ".join(f"{a:.11g}·sample + {b:.11g} {args.unit}" for a, b in pairs)
    freqs = ", ".join(f"{drive.base_frequency / d / 1e3:.5g} kHz" for d in drive.dividers)
    lines.append(f"drive: {freqs} at {', '.join(f'{s * 1e3:g}' for s in drive.strength)} mT; "
                 f"{args.averages} averages; value = {conv}")
    how = {
        "background frames": f"{im.noise_frames} background frames in adjacent blocks (file_noise reads them)",
        "repeat file": f"difference from --repeat {args.repeat} over {im.noise_frames} frames, stored as "
                       "/calibration/snr",
        "background spread": f"spread of the {im.noise_frames} background frames about their mean (no two "
                             "adjacent: drift between them counts as noise), stored as /calibration/snr",
        "none": "none (no background frames to compare, no --repeat)",
    }[im.noise]
    if args.repeat and not im.repeat_used:
        how += "; --repeat not needed"
    lines.append(f"noise: {how}")
    noise = file_noise(im.output, bins)
    if noise.sigma is None:
        return lines
    rows = read_system_matrix(im.output, frequencies=bins)["system_matrix"]
    snr = np.median(rms_snr(rows.transpose("channel", "frequency", "offset").values, noise.sigma), axis=0)
    lines.append(f"SNR per harmonic = RMS over the positions / σ{' (median over channels)' * (im.channels > 1)}, "
                 f"σ from file_noise: {noise.source}")
    lines.append("  bin   f/kHz       SNR")
    lines += [f"  {k:3d}  {k / drive.cycle / 1e3:8.3f}  {s:8.3g}" for k, s in zip(bins, snr)]
    return lines


def run(args) -> int:
    from ...io.raw_frames import import_raw

    drive, columns = check(args)
    imported = import_raw(
        args.frames, args.output, drive, dataset=args.dataset, conversion=args.conversion, unit=args.unit,
        averages=args.averages, positions_csv=args.positions, columns=columns, position_unit=args.position_unit,
        background_rows=args.background, failed_rows=args.failed or (), repeat_path=args.repeat,
        repeat_failed_rows=args.repeat_failed or ())
    print("\n".join(summary(args, drive, imported)))
    return 0


COMMANDS = (
    Command("import-raw", "import raw time-domain scanner frames as an MDF system matrix",
            "Write raw time-domain frames (an HDF5 dataset, one drive cycle per row, ADC counts converted as "
            "A·sample + B) with the robot positions and background rows from a CSV beside them as an MDF v2.1 "
            "system matrix: rfft'd, background frames flagged for subtraction, positions in m, failed rows left "
            "out, the noise per harmonic from adjacent background frames, a repeat or the background spread.",
            add_arguments, run),
)
