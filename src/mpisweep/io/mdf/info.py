"""Human summary of an MDF file (`mpisweep mdf-info`) and checks of a loaded matrix against a simulation config."""

from __future__ import annotations

import os

import numpy as np
import xarray as xr

from ._hdf import MDFError, Reader, open_mdf
from .background import background_blocks
from .position_map import position_map
from .structure import parse_layout


def _si(value: float, unit: str) -> str:
    """`value` with an SI prefix, e.g. 25699.01 Hz -> '25.699 kHz'."""
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n")):
        if abs(value) >= scale:
            return f"{value / scale:.6g} {prefix}{unit}"
    return f"{value:.6g} {unit}"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def describe(path) -> str:
    """A multi-line summary: version, method, grid, channels, frequencies, drive, samples, cycle, flags."""
    name = os.fspath(path)
    with open_mdf(name) as handle:
        lay = parse_layout(Reader(handle, name))
    D, F = lay.dividers.shape
    freqs = lay.bins / lay.cycle
    grid = "not given"
    if lay.size is not None:
        nx, ny, nz = (int(v) for v in lay.size)
        grid = f"{nx} x {ny} x {nz} (x, y, z) = {nx * ny * nz} points"
    lines = [
        f"MDF file {name}",
        f"  version {lay.version}, calibration method {lay.method}",
        f"  grid size {grid}; {lay.num_offsets} calibration frames + {lay.num_background} background frames",
        f"  receive channels {lay.num_channels}, periods per frame {lay.num_periods}, unit {lay.unit}",
        f"  samples per cycle {lay.num_sampling_points}, cycle {_si(lay.cycle, 's')}, "
        f"bandwidth {_si(lay.bandwidth, 'Hz')}, "
        f"averages {lay.num_averages}",
        f"  frequencies: {freqs.size} bins, {_si(freqs.min(), 'Hz')} to {_si(freqs.max(), 'Hz')} "
        f"(spacing 1/cycle = {_si(1 / lay.cycle, 'Hz')})"
        + ("" if lay.fourier else ", after rfft of the time-domain data"),
        f"  drive: base frequency {_si(lay.base_frequency, 'Hz')}, {D} channel(s) x {F} frequency(ies)",
    ]
    for d in range(D):
        active = bool(np.any(np.abs(lay.strength[:, d]) > 0))
        for f in range(F):
            amp = lay.strength[0, d, f] * 1e3
            lines.append(
                f"    channel {d + 1}: divider {lay.dividers[d, f]} -> {_si(lay.drive_frequencies[d, f], 'Hz')}, "
                f"strength {amp:.4g} mT, phase {lay.phase[0, d, f]:.4g} rad, waveform {lay.waveform[d, f]}"
                + ("" if active else " (inactive: zero strength)")
            )
    axis_name = lay.fast_axis_key.rsplit("/", 1)[-1]
    lines += [
        "  flags:",
        f"    Fourier transformed: {_yes(lay.fourier)} "
        f"({'frequency' if lay.fourier else 'time'} domain, /measurement/data "
        f"{lay.data_shape} {lay.data_dtype})",
        f"    fast frame axis: {_yes(lay.fast_axis)} (from {axis_name})",
        f"    background frames: {lay.num_background}, background corrected: {_yes(lay.background_corrected)}",
        f"    frequency selection: {_yes(lay.frequency_selection)}"
        + (f" ({lay.bins.size} of {lay.num_rfft_bins} bins)" if lay.frequency_selection else ""),
        f"    frame permutation: {_yes(lay.frame_permutation)}",
        f"    transfer function: {'present' if lay.has_transfer_function else 'absent'}, "
        f"corrected: {_yes(lay.transfer_function_corrected)}",
        f"    SNR: {'present' if lay.has_snr else 'absent'}",
        f"    offset fields: {'present' if lay.offset_fields is not None else 'absent'}, "
        f"positions: {'present' if lay.positions is not None else 'absent'}",
        f"  noise (SNR = RMS over the offsets / σ of one frame): {_noise_source(lay)}",
    ]
    if lay.offset_fields is not None and lay.positions is not None:
        try:
            lines.append(f"  position map: {position_map(lay.positions, lay.offset_fields, where=name).describe()}")
        except MDFError as err:
            lines.append(f"  position map: none ({err})")
    return "\n".join(lines)


def _noise_source(lay) -> str:
    """Where mpisweep.io.mdf.noise takes this file's noise from (its first source the file offers)."""
    if lay.num_background:
        blocks = background_blocks(lay.acquisition, lay.background_mask)
        usable = sum(len(frames) for frames, _ in blocks if len(frames) >= 2)
        if usable:
            return f"background frames ({usable} in blocks of at least two)"
    if lay.has_snr:
        return "/calibration/snr (no background block of two frames; its writer's definition may differ)"
    return "none (no background frames, no /calibration/snr): fits use every row"


def active_channels(ds: xr.Dataset) -> np.ndarray:
    """Indices of the drive channels with a non-zero strength in any period (all when none is given)."""
    strength = ds.attrs.get("drive_strength")
    n = np.asarray(ds.attrs["dividers"]).reshape(np.asarray(ds.attrs["dividers"]).shape[0], -1).shape[0]
    if strength is None:
        return np.arange(n)
    strength = np.abs(np.asarray(strength, float)).reshape(-1, n, np.asarray(strength).shape[-1])
    return np.flatnonzero((strength > 0).any(axis=(0, 2)))


_CHECK_KEYS = ("cycle", "base_frequency", "dividers", "num_sampling_points", "grid_size", "offset_fields")


def check_compatible(ds: xr.Dataset, expected: dict, *, path, rtol: float = 1e-6) -> None:
    """Raise MDFError naming `path` and the MDF field when `ds` does not match what a simulation expects.

    expected keys (all optional): cycle (s), base_frequency (Hz), dividers (one per drive channel),
    num_sampling_points, grid_size ((Nx, Ny) or (Nx, Ny, Nz)), offset_fields ((O, 2) or (O, 3), T).
    Floats compare within `rtol` (offset fields within rtol times the largest expected field).
    """
    unknown = sorted(set(expected) - set(_CHECK_KEYS))
    if unknown:
        raise ValueError(f"check_compatible: unknown keys {unknown}; known: {list(_CHECK_KEYS)}")
    name = os.fspath(path)

    def fail(field, actual, want):
        raise MDFError(f"{name}: {field} is {actual}, config expects {want}")

    attrs = ds.attrs
    for key, field in (("cycle", "/acquisition/drivefield/cycle"),
                       ("base_frequency", "/acquisition/drivefield/baseFrequency")):
        if key in expected and not np.isclose(attrs[key], expected[key], rtol=rtol, atol=0):
            fail(field, f"{attrs[key]:.9g}", f"{expected[key]:.9g}")
    if "dividers" in expected:
        # a 3-axis scanner writes its inactive channels too (z: divider 99, strength 0): compare the active ones
        all_dividers = np.asarray(attrs["dividers"]).reshape(-1)
        active = active_channels(ds)
        actual = all_dividers[active].tolist()
        want = np.asarray(expected["dividers"]).reshape(-1).tolist()
        if actual != want:
            shown = actual if len(active) == all_dividers.size else (
                f"{actual} on the active channels {[int(a) + 1 for a in active]} (all: {all_dividers.tolist()})")
            fail("/acquisition/drivefield/divider", shown, want)
    if "num_sampling_points" in expected and int(attrs["num_sampling_points"]) != int(expected["num_sampling_points"]):
        fail("/acquisition/receiver/numSamplingPoints", int(attrs["num_sampling_points"]),
             int(expected["num_sampling_points"]))
    if "grid_size" in expected:
        want = [int(v) for v in expected["grid_size"]]
        want = want + [1] * (3 - len(want))
        size = attrs.get("calibration_size")
        if size is None:
            fail("/calibration/size", "missing", want)
        actual = [int(v) for v in np.asarray(size).reshape(-1)]
        if actual != want:
            fail("/calibration/size", actual, want)
    if "offset_fields" in expected:
        want = np.asarray(expected["offset_fields"], dtype=float)
        if "offset_field" not in ds.coords:
            fail("/calibration/offsetFields", "missing", f"{want.shape[0]} offset fields")
        actual = np.asarray(ds["offset_field"].values, dtype=float).reshape(-1, 3)
        if want.ndim != 2 or want.shape[1] not in (2, 3) or want.shape[0] != actual.shape[0]:
            fail("/calibration/offsetFields", f"of shape {actual.shape}", f"shape {want.shape}")
        actual = actual[:, : want.shape[1]]
        dev = np.abs(actual - want).max(axis=1)
        tol = rtol * max(float(np.abs(want).max()), np.finfo(float).tiny)
        if dev.max() > tol:
            i = int(dev.argmax())
            fail("/calibration/offsetFields", f"{(actual[i] * 1e3).round(6).tolist()} mT at offset {i}",
                 f"{(want[i] * 1e3).round(6).tolist()} mT (max deviation {dev.max() * 1e3:.3g} mT)")
