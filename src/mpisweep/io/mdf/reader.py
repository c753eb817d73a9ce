"""Read an MDF v2 system matrix into an xarray Dataset (complex, frequency domain, SI units).

Output: data variable `system_matrix` with dims ("channel", "frequency", "offset") — and a leading
"period" dim when the file has J > 1 periods per frame. The "offset" axis holds the O calibration
(non-background) frames in stored order, which MDF defines as the calibration-grid order (x
fastest, then y, then z); /measurement/framePermutation only records the acquisition index of each
stored frame and is used to interpolate the background in acquisition time (coordinate
"acquisition_frame"). Time-domain data is transformed with the unnormalised real DFT
X_k = sum_n x_n exp(-2 pi i k n / V) (numpy.fft.rfft, as MPIFiles), k = 0..V/2.
"""

from __future__ import annotations

import os

import numpy as np
import xarray as xr

from ._hdf import MDFError, Reader, as_complex, open_mdf
from .background import interpolated_background
from .structure import DATA, SNR, TRANSFER_FUNCTION, Layout, parse_layout

# Attributes describing how the file stored the data rather than the physics (excluded from
# round-trip comparisons: a rewrite in canonical MDF v2.1 layout changes them).
LAYOUT_ATTRS = (
    "mdf_version", "source_path", "source_domain", "fft_normalization", "fast_frame_axis",
    "frame_axis_flag", "num_background_frames", "frequency_selection", "frame_permutation",
    "data_conversion_applied",
)


def read_system_matrix(path, *, frequencies=None, subtract_background=True, apply_transfer_function=False,
                       snr_threshold=None, convert_units=True, calibration=True) -> xr.Dataset:
    """Load the system matrix of an MDF v2 file (measured, or written by the sweep).

    Parameters
    ----------
    path : str or os.PathLike
        The MDF file.
    frequencies : array_like of int, optional
        0-based rfft bins k (f = k/cycle) to keep, in the order given; they must be stored in the
        file. None keeps all stored bins.
    subtract_background : bool
        Subtract the block-averaged, linearly interpolated background frames (skipped when
        /measurement/isBackgroundCorrected is already 1). Background frames never appear on
        "offset"; with False they are returned raw as the variable ``background``.
    apply_transfer_function : bool
        Divide by /acquisition/receiver/transferFunction (unless the file says it is already
        corrected); :class:`~mpisweep.errors.MDFError` when the file has none.
    snr_threshold : float, optional
        Keep the frequencies whose /calibration/snr reaches this on some channel (and period).
    convert_units : bool
        Apply /acquisition/receiver/dataConversionFactor (a·raw + b) when present.
    calibration : bool
        False reads a measurement file (no /calibration/method; its frames on "offset").

    Returns
    -------
    xarray.Dataset
        ``system_matrix``: complex (channel, frequency, offset), with a leading ``period`` when the
        file has several; ``snr`` (channel, frequency) and ``transfer_function`` when present.
        Coordinates: ``frequency`` in Hz with ``frequency_bin`` (k), ``offset`` (the grid points, x
        fastest) with ``offset_field`` (offset, xyz) in T and ``position`` in m when the file has
        them. The attributes hold the drive (``base_frequency`` in Hz, ``dividers``,
        ``drive_strength`` in T), the receiver and the calibration grid (``calibration_size``).

    Raises
    ------
    MDFError
        A file that is not MDF v2 or lacks a dataset, named with the dataset.
    """
    name = os.fspath(path)
    with open_mdf(name) as handle:
        r = Reader(handle, name)
        lay = parse_layout(r, calibration)
        data = _load_frames(r, lay, convert_units)  # (J, C, K, N) complex
        tf = _per_column(r, lay, TRANSFER_FUNCTION, r.complex_array(TRANSFER_FUNCTION, required=False), 2)
        snr = _per_column(r, lay, SNR, r.array(SNR, float, required=False), 3)

    cols = _select_columns(lay, frequencies)
    if snr_threshold is not None:
        if snr is None:
            raise MDFError(f"{name}: {SNR} is missing; cannot filter by snr_threshold={snr_threshold}")
        cols = cols[snr[:, :, cols].max(axis=(0, 1)) >= snr_threshold]
        if cols.size == 0:
            raise MDFError(f"{name}: no frequency has {SNR} >= {snr_threshold}")
    data = data[:, :, cols, :]

    mask = lay.background_mask
    fg = data[..., ~mask]
    subtracted = subtract_background and lay.num_background > 0 and not lay.background_corrected
    if subtracted:
        fg = fg - interpolated_background(data, lay.acquisition, mask)

    tf_applied = lay.transfer_function_corrected
    if apply_transfer_function and not tf_applied:
        if tf is None:
            raise MDFError(f"{name}: {TRANSFER_FUNCTION} is missing; cannot apply the transfer function")
        sel = tf[:, cols]
        if np.any(sel == 0):
            bad = lay.bins[cols][np.any(sel == 0, axis=0)]
            raise MDFError(f"{name}: {TRANSFER_FUNCTION} is zero at frequency bin(s) {bad.tolist()}; "
                           "exclude them via frequencies=")
        fg = fg / sel[None, :, :, None]
        tf_applied = True

    return _assemble(lay, fg, cols, data, tf, snr, subtracted, tf_applied, subtract_background, convert_units)


def _load_frames(r: Reader, lay: Layout, convert_units: bool) -> np.ndarray:
    """All N frames as complex (J, C, K, N) on the stored bins `lay.bins`, units converted."""
    raw = np.asarray(r.raw(DATA))
    if lay.fourier:
        arr = as_complex(raw, r.error, DATA, lay.pair_axis)
    else:
        arr = raw.astype(np.float64)
    if not lay.fast_axis:
        arr = np.moveaxis(arr, 0, -1)  # (N, J, C, X) -> (J, C, X, N)
    if not lay.fourier:
        arr = np.fft.rfft(arr, axis=2)
    arr = np.ascontiguousarray(arr, dtype=np.complex128)
    if convert_units and lay.conversion is not None:
        a, b = lay.conversion[:, 0], lay.conversion[:, 1]
        arr *= a[None, :, None, None]
        dc = lay.bins == 0
        arr[:, :, dc, :] += (b * lay.num_sampling_points)[None, :, None, None]
    return arr


def _per_column(r: Reader, lay: Layout, key: str, arr, ndim: int):
    """Map an optional per-frequency array (last axis K stored bins or all V/2+1 bins) onto stored columns.

    Returns (C, K) for ndim 2 (transfer function) or (J', C, K) for ndim 3 (SNR, J' = 1 or J).
    """
    if arr is None:
        return None
    if ndim == 3 and arr.ndim == 2:
        arr = arr[None]
    C, K, L = lay.num_channels, lay.bins.size, lay.num_rfft_bins
    lead_ok = arr.ndim == ndim and arr.shape[-2] == C and (ndim == 2 or arr.shape[0] in (1, lay.num_periods))
    if not lead_ok or arr.shape[-1] not in (K, L):
        want = f"(C, K) = ({C}, {K})" if ndim == 2 else f"(J, C, K) = ({lay.num_periods}, {C}, {K})"
        raise r.error(key, f"has shape {arr.shape}, expected {want} (or {L} = V/2+1 frequencies)")
    return arr if arr.shape[-1] == K else arr[..., lay.bins]


def _select_columns(lay: Layout, frequencies) -> np.ndarray:
    """Stored-column indices of the requested bins (all columns when None)."""
    if frequencies is None:
        return np.arange(lay.bins.size)
    req = np.asarray(frequencies).reshape(-1)
    if req.size and not np.issubdtype(req.dtype, np.integer):
        raise TypeError(f"frequencies: expected integer rfft bin indices, got dtype {req.dtype}")
    where = {int(k): i for i, k in enumerate(lay.bins)}
    missing = [int(k) for k in req if int(k) not in where]
    if missing:
        raise MDFError(f"{lay.name}: frequency bin(s) {missing} are not stored in {DATA} "
                       f"(stored: {lay.bins.size} bins from {lay.bins.min()} to {lay.bins.max()})")
    return np.array([where[int(k)] for k in req], dtype=np.int64)


def _assemble(lay, fg, cols, data, tf, snr, subtracted, tf_applied, subtract_background, convert_units):
    J, C = lay.num_periods, lay.num_channels
    lead = ("period",) if J > 1 else ()
    squeeze = (lambda a: a) if J > 1 else (lambda a: a[0])
    bins = lay.bins[cols]
    mask = lay.background_mask
    coords = {
        "channel": np.arange(C),
        "frequency": bins / lay.cycle,
        "frequency_bin": ("frequency", bins),
        "offset": np.arange(lay.num_offsets),
        "acquisition_frame": ("offset", lay.acquisition[~mask]),
    }
    if J > 1:
        coords["period"] = np.arange(J)
    if lay.offset_fields is not None or lay.positions is not None:
        coords["xyz"] = np.array(["x", "y", "z"])
    if lay.offset_fields is not None:
        coords["offset_field"] = (("offset", "xyz"), lay.offset_fields)
    if lay.positions is not None:
        coords["position"] = (("offset", "xyz"), lay.positions)
    variables = {"system_matrix": (lead + ("channel", "frequency", "offset"), squeeze(fg))}
    if snr is not None:
        variables["snr"] = (lead + ("channel", "frequency"),
                            squeeze(np.broadcast_to(snr, (J, *snr.shape[1:]))[:, :, cols]))
    if tf is not None:
        variables["transfer_function"] = (("channel", "frequency"), tf[:, cols])
    if not subtract_background and lay.num_background:
        bg = data[..., mask]
        variables["background"] = (lead + ("channel", "frequency", "background_frame"), squeeze(bg))
        coords["background_frame"] = np.arange(lay.num_background)
        coords["background_acquisition_frame"] = ("background_frame", lay.acquisition[mask])
    ds = xr.Dataset(variables, coords=coords, attrs=_attributes(lay, subtracted, tf_applied, convert_units))
    ds["system_matrix"].attrs.update(units=lay.unit)
    ds["frequency"].attrs.update(units="Hz")
    if "offset_field" in ds.coords:
        ds["offset_field"].attrs.update(units="T")
    if "position" in ds.coords:
        ds["position"].attrs.update(units="m")
    return ds


def _attributes(lay: Layout, subtracted: bool, tf_applied: bool, convert_units: bool) -> dict:
    attrs = {
        "mdf_version": lay.version,
        "calibration_method": lay.method,
        "base_frequency": lay.base_frequency,
        "dividers": lay.dividers,
        "drive_frequencies": lay.drive_frequencies,
        "drive_strength": lay.strength,
        "drive_phase": lay.phase,
        "waveform": lay.waveform,
        "cycle": lay.cycle,
        "num_sampling_points": lay.num_sampling_points,
        "bandwidth": lay.bandwidth,
        "unit": lay.unit,
        "num_averages": lay.num_averages,
        "background_corrected": bool(subtracted or lay.background_corrected),
        "transfer_function_corrected": bool(tf_applied),
        "source_domain": "frequency" if lay.fourier else "time",
        "fast_frame_axis": lay.fast_axis,
        "frame_axis_flag": lay.fast_axis_key,
        "num_background_frames": lay.num_background,
        "frequency_selection": lay.frequency_selection,
        "frame_permutation": lay.frame_permutation,
        "data_conversion_applied": bool(convert_units and lay.conversion is not None),
        "source_path": os.path.abspath(lay.name),
    }
    if not lay.fourier:
        attrs["fft_normalization"] = "unnormalised rfft over V samples: X_k = sum_n x_n exp(-2 pi i k n / V)"
    if lay.size is not None:
        attrs["calibration_size"] = lay.size
    if lay.order is not None:
        attrs["calibration_order"] = lay.order
    return attrs


def to_grid(ds: xr.Dataset) -> xr.Dataset:
    """Reshape "offset" into ("offset_y", "offset_x") — or ("offset_z", "offset_y", "offset_x") when Nz > 1.

    Uses attrs["calibration_size"] = (Nx, Ny, Nz) as MDF stores it; offsets vary fastest in x, so
    flat offset o = ix + Nx * (iy + Ny * iz). A 1-D scan (Ny = Nz = 1) becomes (offset_y=1, offset_x=Nx).
    """
    src = ds.attrs.get("source_path", "dataset")
    size = ds.attrs.get("calibration_size")
    if size is None:
        raise MDFError(f"{src}: /calibration/size is missing; cannot reshape offsets to a grid")
    nx, ny, nz = (int(v) for v in np.asarray(size).reshape(-1))
    count = ds.sizes["offset"]
    if nx * ny * nz != count:
        raise MDFError(f"{src}: /calibration/size {[nx, ny, nz]} has {nx * ny * nz} points "
                       f"but there are {count} calibration frames")
    order = ds.attrs.get("calibration_order", "xyz")
    if order != "xyz":
        raise MDFError(f"{src}: /calibration/order is {order!r}; only 'xyz' (x fastest) is supported")
    dims, shape = ((("offset_z", "offset_y", "offset_x"), (nz, ny, nx)) if nz > 1
                   else (("offset_y", "offset_x"), (ny, nx)))
    data_vars, coords = {}, {}
    for name, var in ds.variables.items():
        if name == "offset":
            continue
        if "offset" in var.dims:
            ax = var.dims.index("offset")
            values = var.values.reshape(var.shape[:ax] + shape + var.shape[ax + 1:])
            var = xr.Variable(var.dims[:ax] + dims + var.dims[ax + 1:], values, attrs=var.attrs)
        (data_vars if name in ds.data_vars else coords)[name] = var
    for dim, n in zip(dims, shape):
        coords[dim] = np.arange(n)
    return xr.Dataset(data_vars, coords=coords, attrs=dict(ds.attrs))
