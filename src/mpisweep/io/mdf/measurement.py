"""MDF measurement files (not calibrations): write phantom measurements, read any measurement as one spectrum.

A measurement file has the same /acquisition and /measurement groups as a system matrix but no
/calibration group; its frames are repeated acquisitions of one object, background frames
(empty bore) flagged in /measurement/isBackgroundFrame. :func:`read_measurement` reads it through
the system-matrix reader (time or frequency domain, either complex layout, frame permutation,
background interpolation) and averages the foreground frames.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .reader import read_system_matrix
from .writer import write_system_matrix


def write_measurement(path, frames: np.ndarray, background: np.ndarray | None, attrs: dict, **groups) -> None:
    """Write foreground frames (C, K, F) and background frames (C, K, E) on all V/2+1 bins as an MDF measurement.

    attrs: the drive/receiver metadata of :data:`.writer.METADATA_KEYS` (e.g. a system-matrix
    Dataset's attrs); groups: study=, experiment=, scanner=, tracer= dicts.
    """
    frames = np.asarray(frames, complex)
    C, K, F = frames.shape
    cycle = float(attrs["cycle"])
    ds = xr.Dataset(
        {"system_matrix": (("channel", "frequency", "offset"), frames)},
        coords={"channel": np.arange(C), "frequency": np.arange(K) / cycle,
                "frequency_bin": ("frequency", np.arange(K)),
                "offset": np.arange(F)},
        attrs={k: v for k, v in attrs.items()
               if k not in ("calibration_size", "calibration_order", "calibration_method")},
    )
    bg = None if background is None else xr.DataArray(np.asarray(background, complex),
                                                       dims=("channel", "frequency", "background_frame"))
    write_system_matrix(path, ds, background=bg, calibration=False, **groups)


def read_measurement(path, *, frequencies=None, subtract_background: bool = True) -> xr.DataArray:
    """The measurement's spectrum (channel, frequency): mean of the foreground frames minus the background."""
    ds = read_system_matrix(path, frequencies=frequencies, subtract_background=subtract_background, calibration=False)
    spectrum = ds["system_matrix"].mean("offset")
    spectrum.attrs.update(ds.attrs, frames=int(ds.sizes["offset"]))
    return spectrum
