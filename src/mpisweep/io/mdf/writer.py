"""Write a system matrix as an MDF v2.1 calibration file (frequency domain, complex compound {r, i}).

Takes a Dataset shaped like `read_system_matrix` returns, so read(write(ds)) == ds for the data,
coordinates and physics attributes. /measurement/data is written (J, C, K, N) with
isFastFrameAxis = 1 (or (N, J, C, K) with fast_frame_axis=False); background frames follow the O
calibration frames.
"""

from __future__ import annotations

import io
import math
import uuid as uuidlib
from datetime import datetime, timezone

import h5py
import numpy as np
import xarray as xr

from ..atomic import atomic_path

MDF_VERSION = "2.1.0"

# Metadata taken from data.attrs (names as the reader writes them); keyword arguments override.
METADATA_KEYS = (
    "base_frequency", "dividers", "drive_strength", "drive_phase", "waveform", "cycle",
    "num_sampling_points", "bandwidth", "unit", "num_averages", "calibration_method",
    "calibration_size", "calibration_order", "background_corrected", "transfer_function_corrected",
)


def write_system_matrix(path, data: xr.Dataset, *, background=None, frame_permutation=None, frequency_bins=None,
                        fast_frame_axis=True, offset_fields=None, positions=None, snr=None, transfer_function=None,
                        study=None, experiment=None, scanner=None, tracer=None, time=None, file_uuid=None,
                        calibration=True, **metadata) -> None:
    """Write a system matrix as an MDF v2.1 file that reads back identically.

    The file is built in memory and written atomically: a failed write leaves no partial file.

    Parameters
    ----------
    path : str or os.PathLike
        The MDF file to write.
    data : xarray.Dataset
        ``system_matrix`` with dims ([period,] channel, frequency, offset), in the layout
        :func:`~mpisweep.read_system_matrix` returns, with its drive and receiver attributes.
    background : array_like, optional
        Raw background frames (dims [period,] channel, frequency, background_frame); default
        ``data["background"]`` if present. Written after the calibration frames and flagged in
        /measurement/isBackgroundFrame.
    frame_permutation : array_like of int, optional
        1-based acquisition index of each stored frame (calibration frames, then background
        frames), i.e. /measurement/framePermutation; default from the coordinates
        "acquisition_frame" / "background_acquisition_frame", omitted when the identity.
    frequency_bins : array_like of int, optional
        0-based rfft bins to store (a subset of data's "frequency_bin"); any set other than all
        bins is written as the 1-based /measurement/frequencySelection.
    fast_frame_axis : bool
        Store the frames on the fastest axis (/measurement/isFastFrameAxis).
    offset_fields, positions, snr, transfer_function : array_like, optional
        (offset, 3) in T, (offset, 3) in m, ([period,] channel, frequency) and (channel,
        frequency); default from the coordinates or variables of `data` with those names.
    study, experiment, scanner, tracer : dict, optional
        Fields overriding those of the MDF groups of the same names.
    time, file_uuid : optional
        The file's /time and /uuid (default now and a new UUID).
    calibration : bool
        False writes a measurement file: the frames are measurement frames and there is no
        /calibration group (:func:`~mpisweep.write_measurement`).
    **metadata
        Any of the drive and receiver attributes the reader writes (base_frequency, dividers,
        drive_strength, …, the module's ``METADATA_KEYS``), overriding ``data.attrs``.
    """
    unknown = sorted(set(metadata) - set(METADATA_KEYS))
    if unknown:
        raise TypeError(f"write_system_matrix: unknown metadata {unknown}; known: {list(METADATA_KEYS)}")
    meta = {k: data.attrs[k] for k in METADATA_KEYS if k in data.attrs}
    meta.update(metadata)
    drive = _drive(meta)
    V = int(_need(meta, "num_sampling_points"))
    L = V // 2 + 1

    sm = _frames(data["system_matrix"], "offset", "system_matrix")  # (J, C, K, O)
    J, C, _, O = sm.shape
    bins = _bins(data, drive["cycle"], L)
    K = bins.size
    cols = np.arange(K)
    if frequency_bins is not None:
        where = {int(k): i for i, k in enumerate(bins)}
        missing = [int(k) for k in np.asarray(frequency_bins).reshape(-1) if int(k) not in where]
        if missing:
            raise ValueError(f"frequency_bins {missing} are not in the data's frequency_bin coordinate")
        cols = np.array([where[int(k)] for k in np.asarray(frequency_bins).reshape(-1)], dtype=np.int64)
    bins = bins[cols]
    sm = sm[:, :, cols, :]

    if background is None and "background" in data:
        background = data["background"]
    bg = np.zeros((J, C, K, 0), complex)
    if background is not None:
        bg = _frames(background, "background_frame", "background")
        if bg.shape[:3] != (J, C, K):
            raise ValueError(f"background has shape {bg.shape[:3]} (J, C, K), system_matrix has {(J, C, K)}")
    bg = bg[:, :, cols, :]
    E = bg.shape[-1]
    N = O + E
    perm = _permutation(data, frame_permutation, N, E)

    offset_fields = _coord(data, offset_fields, "offset_field", (O, 3))
    positions = _coord(data, positions, "position", (O, 3))
    snr = _per_frequency(data, snr, "snr", cols, (J, C, K), lead=J)
    tf = _per_frequency(data, transfer_function, "transfer_function", cols, (C, K))
    size = meta.get("calibration_size")
    if size is not None:
        size = np.asarray(size, dtype=np.int64).reshape(-1)
        if size.size != 3 or int(np.prod(size)) != O:
            raise ValueError(f"calibration_size {size.tolist()} does not describe {O} calibration frames "
                             "(need Nx*Ny*Nz = O)")

    frames = np.concatenate([sm, bg], axis=-1)
    if not fast_frame_axis:
        frames = np.moveaxis(frames, -1, 0)
    now = time or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    method = str(meta.get("calibration_method", "hybrid"))
    groups = {
        "/study": {"name": "", "number": 0, "uuid": str(uuidlib.uuid4()), "description": "", "time": now,
                   **(study or {})},
        "/experiment": {"name": "", "number": 0, "uuid": str(uuidlib.uuid4()), "description": "", "subject": "",
                        "isSimulation": int(method == "simulation"), **(experiment or {})},
        "/scanner": {"facility": "", "manufacturer": "", "name": "", "operator": "", "topology": "FFP",
                     **(scanner or {})},
        "/tracer": {"batch": [""], "concentration": [0.0], "name": [""], "solute": ["Fe"], "vendor": [""],
                    "volume": [0.0], **(tracer or {})},
    }
    fields = {
        "/version": MDF_VERSION, "/uuid": file_uuid or str(uuidlib.uuid4()), "/time": now,
        "/acquisition/numAverages": int(meta.get("num_averages", 1)), "/acquisition/numFrames": N,
        "/acquisition/numPeriodsPerFrame": J, "/acquisition/startTime": now,
        "/acquisition/drivefield/baseFrequency": drive["base"], "/acquisition/drivefield/cycle": drive["cycle"],
        "/acquisition/drivefield/divider": drive["dividers"],
        "/acquisition/drivefield/numChannels": drive["dividers"].shape[0],
        "/acquisition/drivefield/phase": drive["phase"], "/acquisition/drivefield/strength": drive["strength"],
        "/acquisition/drivefield/waveform": drive["waveform"],
        "/acquisition/receiver/bandwidth": float(meta.get("bandwidth", V / (2 * drive["cycle"]))),
        "/acquisition/receiver/numChannels": C, "/acquisition/receiver/numSamplingPoints": V,
        "/acquisition/receiver/unit": str(meta.get("unit", "V")),
        "/acquisition/receiver/dataConversionFactor": np.tile([1.0, 0.0], (C, 1)),
        "/measurement/data": frames,
        "/measurement/isBackgroundCorrected": _flag(meta.get("background_corrected", False)),
        "/measurement/isBackgroundFrame": np.r_[np.zeros(O, np.int8), np.ones(E, np.int8)],
        "/measurement/isFastFrameAxis": _flag(fast_frame_axis),
        "/measurement/isFourierTransformed": _flag(True),
        "/measurement/isFramePermutation": _flag(perm is not None),
        "/measurement/isFrequencySelection": _flag(not np.array_equal(bins, np.arange(L))),
        "/measurement/isSparsityTransformed": _flag(False),
        "/measurement/isSpectralLeakageCorrected": _flag(False),
        "/measurement/isTransferFunctionCorrected": _flag(meta.get("transfer_function_corrected", False)),
        "/calibration/method": method,
    }
    if perm is not None:
        fields["/measurement/framePermutation"] = perm
    if not np.array_equal(bins, np.arange(L)):
        fields["/measurement/frequencySelection"] = (bins + 1).astype(np.int64)
    optional = {"/calibration/size": size, "/calibration/offsetFields": offset_fields,
                "/calibration/positions": positions, "/calibration/snr": snr,
                "/acquisition/receiver/transferFunction": tf}
    fields.update({k: v for k, v in optional.items() if v is not None})
    if not calibration:
        fields = {k: v for k, v in fields.items() if not k.startswith("/calibration/")}
    elif size is not None:
        fields["/calibration/order"] = str(meta.get("calibration_order", "xyz"))
    for group, values in groups.items():
        fields.update({f"{group}/{k}": v for k, v in values.items()})

    # Built in memory, then written by plain file I/O: a full disk is then an OSError that the atomic
    # writer cleans up after (HDF5 itself can crash on ENOSPC and leave a partial file behind).
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for key, value in fields.items():
            _put(f, key, value)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getbuffer())


def _need(meta, key):
    if meta.get(key) is None:
        raise ValueError(f"write_system_matrix: metadata {key!r} missing (pass {key}=... or set data.attrs[{key!r}])")
    return meta[key]


def _drive(meta) -> dict:
    """Drive-field parameters in MDF shapes: divider (D, F), strength/phase (J', D, F), waveform (D, F)."""
    dividers = np.asarray(_need(meta, "dividers"), dtype=np.int64)
    dividers = dividers.reshape(-1, 1) if dividers.ndim < 2 else dividers
    if np.any(dividers <= 0):
        raise ValueError(f"dividers must be positive, got {dividers.tolist()}")
    base = float(_need(meta, "base_frequency"))
    cycle = float(meta.get("cycle") or math.lcm(*(int(d) for d in dividers.reshape(-1))) / base)

    def per_period(key, default):
        arr = np.asarray(meta.get(key, default), dtype=float)
        if arr.ndim < 3 and arr.size == dividers.size:
            arr = arr.reshape((1, *dividers.shape))
        if arr.ndim != 3 or arr.shape[1:] != dividers.shape:
            raise ValueError(f"{key} has shape {arr.shape}, expected (J, D, F) with (D, F) = {dividers.shape}")
        return arr

    waveform = np.broadcast_to(np.asarray(meta.get("waveform", "sine"), dtype=str), dividers.shape)
    return {"dividers": dividers, "base": base, "cycle": cycle, "strength": per_period("drive_strength", None),
            "phase": per_period("drive_phase", np.zeros(dividers.shape)), "waveform": waveform}


def _frames(arr, frame_dim, what) -> np.ndarray:
    """A DataArray (or ndarray) as complex (J, C, K, frames)."""
    if isinstance(arr, xr.DataArray):
        base = ("channel", "frequency", frame_dim)
        dims = (("period",) if "period" in arr.dims else ()) + base
        if set(arr.dims) != set(dims):
            raise ValueError(f"{what} has dims {arr.dims}, expected {dims}")
        arr = arr.transpose(*dims).values
    arr = np.asarray(arr, dtype=np.complex128)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4:
        raise ValueError(f"{what} has shape {arr.shape}, expected ([J,] C, K, {frame_dim})")
    return arr


def _bins(data, cycle, L) -> np.ndarray:
    if "frequency_bin" in data.coords:
        bins = np.asarray(data["frequency_bin"].values, dtype=np.int64)
    else:
        bins = np.rint(np.asarray(data["frequency"].values) * cycle).astype(np.int64)
    if bins.size and (bins.min() < 0 or bins.max() >= L or np.unique(bins).size != bins.size):
        raise ValueError(f"frequency bins must be distinct and within 0..{L - 1} (V/2), got {bins.min()}..{bins.max()}")
    return bins


def _permutation(data, given, N, E):
    """1-based framePermutation, or None for the identity."""
    if given is not None:
        perm = np.asarray(given, dtype=np.int64).reshape(-1)
        if perm.size != N or not np.array_equal(np.sort(perm), np.arange(1, N + 1)):
            raise ValueError(f"frame_permutation must be a permutation of 1..{N} "
                             f"(O calibration + {E} background frames)")
    elif "acquisition_frame" in data.coords:
        acq = np.asarray(data["acquisition_frame"].values)
        if E:
            if "background_acquisition_frame" not in data.coords or data.sizes.get("background_frame") != E:
                return None
            acq = np.r_[acq, np.asarray(data["background_acquisition_frame"].values)]
        perm = np.argsort(np.argsort(acq, kind="stable"), kind="stable") + 1  # ranks keep the acquisition order
    else:
        return None
    return None if np.array_equal(perm, np.arange(1, N + 1)) else perm


def _coord(data, given, name, shape):
    value = given if given is not None else (data[name].values if name in data.coords else None)
    if value is None:
        return None
    value = np.asarray(value, dtype=float)
    if value.shape != shape:
        raise ValueError(f"{name} has shape {value.shape}, expected {shape}")
    return value


def _per_frequency(data, given, name, cols, shape, lead=None):
    if given is None and name not in data:
        return None
    """A per-frequency array on data's frequency axis (shape `shape`), restricted to the written columns."""
    if given is None:
        da = data[name]
        dims = (("period",) if "period" in da.dims else ()) + ("channel", "frequency")
        value = da.transpose(*dims).values
    else:
        value = np.asarray(given)
    if lead is not None and value.ndim == len(shape) - 1:
        value = np.broadcast_to(value[None], (lead, *value.shape))
    if value.shape != shape:
        raise ValueError(f"{name} has shape {value.shape}, expected {shape}")
    return value[..., cols]


def _flag(value) -> np.int8:
    return np.int8(bool(value))


def _put(f: h5py.File, key: str, value) -> None:
    """Create one dataset; str and str arrays become UTF-8 variable-length strings, complex a compound {r, i}."""
    if isinstance(value, str):
        f.create_dataset(key, data=value, dtype=h5py.string_dtype())
        return
    arr = np.asarray(value)
    if arr.dtype.kind in "UO":
        f.create_dataset(key, data=arr.astype(object), dtype=h5py.string_dtype())
    else:
        f.create_dataset(key, data=arr)
