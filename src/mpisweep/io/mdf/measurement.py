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
    """Write a measurement (a phantom scan, not a calibration) as an MDF file.

    Parameters
    ----------
    path : str or os.PathLike
        The MDF file to write.
    frames : numpy.ndarray
        Complex foreground frames (channel, frequency, frame) on all samples//2 + 1 rfft bins.
    background : numpy.ndarray or None
        Complex background frames (channel, frequency, background frame), or None.
    attrs : dict
        The drive and receiver metadata, e.g. the attributes of a Dataset from
        :func:`~mpisweep.read_system_matrix` of the same scanner.
    **groups
        ``study=``, ``experiment=``, ``scanner=``, ``tracer=`` dicts for the MDF groups.
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
    """The spectrum of an MDF measurement: the mean of its foreground frames minus the background.

    Parameters
    ----------
    path : str or os.PathLike
        The MDF measurement file.
    frequencies : array_like of int, optional
        0-based rfft bins to keep, in the order given (default all stored bins).
    subtract_background : bool
        Subtract the mean of the background frames.

    Returns
    -------
    xarray.DataArray
        Complex (channel, frequency), with the file's attributes and ``frames`` (the number of
        foreground frames averaged).
    """
    ds = read_system_matrix(path, frequencies=frequencies, subtract_background=subtract_background, calibration=False)
    spectrum = ds["system_matrix"].mean("offset")
    spectrum.attrs.update(ds.attrs, frames=int(ds.sizes["offset"]))
    return spectrum
