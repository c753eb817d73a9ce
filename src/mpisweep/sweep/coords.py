"""Coordinates and attributes shared by the shards, fp.zarr, m0.zarr, models.zarr and model MDFs.

Coordinates: angle (deg), channel ("x", "y"), frequency = rfft bin k (int) with non-dimension
coordinates mx, my (mixing orders) and frequency_hz, offset_x / offset_y (mT), diameter (nm),
anisotropy (J/m³) or, for the Brownian model, hydrodynamic_diameter (nm); units are in each
coordinate's ``units`` attribute. A Brownian dictionary keeps a length-1 angle axis (0°, the drive
frame: a fluid tracer has no easy axis), so measured data and fits share one layout.
"""

from __future__ import annotations

import json
import time

import numpy as np
import xarray as xr

from ..errors import StoreError
from ..io.provenance import package_attrs
from ..physics.spectra import CHANNELS
from .config import MT, Sweep, digest
from .specs import dictionary_spec

ROW_DIMS = ("angle", "channel", "frequency", "offset_y", "offset_x")
FP_DIMS = ("diameter", "anisotropy") + ROW_DIMS  # Néel; fp_dims(sweep) for either model


def fp_dims(sweep: Sweep) -> tuple[str, ...]:
    """Dimensions of the assembled dictionary: (diameter, anisotropy or hydrodynamic_diameter) + ROW_DIMS."""
    return ("diameter", sweep.parameter.name) + ROW_DIMS
M0_DIMS = ("diameter", "channel", "frequency", "offset_y", "offset_x")

SPECTRUM_CONVENTION = (
    "phi_k = (1/N) sum_n d<m_c>/dt(t_n) exp(-2 pi i k n / N) (numpy.fft.rfft / N) in 1/s over one drive "
    "cycle in periodic steady state, t_n = n T / N, receive channels c = x, y; <m> normalized "
    "(|<m>| <= 1). The signal is proportional to -mu0 m0 d<m>/dt; sign and scale are absorbed by the "
    "fitted transfer function."
)


def row_coords(sweep: Sweep) -> dict:
    """Coordinates of the row dimensions (ROW_DIMS)."""
    bins = sweep.bins
    grid = sweep.offsets
    ox = grid[0, :, 0] / MT
    oy = grid[:, 0, 1] / MT
    coords = {
        "angle": ("angle", np.asarray(sweep.angles, float),
                  {"units": "deg", "long_name": "easy-axis angle from x" if sweep.model == "neel"
                   else "drive frame (Brownian model: no easy axis)"}),
        "channel": ("channel", np.array(CHANNELS, dtype=object), {"long_name": "receive channel"}),
        "frequency": ("frequency", bins[:, 2].astype(np.int64), {"long_name": "rfft bin index k", "units": "1"}),
        "mx": ("frequency", bins[:, 0].astype(np.int64), {"long_name": "mixing order x"}),
        "my": ("frequency", bins[:, 1].astype(np.int64), {"long_name": "mixing order y"}),
        "frequency_hz": ("frequency", bins[:, 2] / sweep.cycle, {"units": "Hz", "long_name": "frequency k / T"}),
        "offset_y": ("offset_y", np.round(oy, 12), {"units": "mT", "long_name": "offset field y"}),
        "offset_x": ("offset_x", np.round(ox, 12), {"units": "mT", "long_name": "offset field x"}),
    }
    return {k: xr.Variable(dims, values, attrs) for k, (dims, values, attrs) in coords.items()}


def grid_coords(sweep: Sweep) -> dict:
    p = sweep.parameter
    return {
        "diameter": xr.Variable("diameter", np.asarray(sweep.grids.diameters_nm, float),
                                {"units": "nm", "long_name": "core diameter D"}),
        p.name: xr.Variable(p.name, np.asarray(sweep.parameter_values, float),
                            {"units": p.unit, "long_name": p.long_name}),
    }


def all_coords(sweep: Sweep) -> dict:
    return {**grid_coords(sweep), **row_coords(sweep)}


def check_coords(ds: xr.Dataset, sweep: Sweep, path, names=None) -> None:
    """StoreError naming `path` when a stored coordinate differs from the sweep's (default: all of them)."""
    want = all_coords(sweep)
    if names is None:
        names = ("angle", "frequency", "offset_x", "offset_y", "diameter", sweep.parameter.name)
    for name in names:
        if name not in ds.coords:
            continue
        a, b = np.asarray(ds[name].values, float), np.asarray(want[name].values, float)
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-9, atol=1e-12):
            raise StoreError(f"{path}: coordinate {name} {a.tolist()[:6]} does not match the config "
                             f"{b.tolist()[:6]}; rerun the workflow")


def store_attrs(sweep: Sweep) -> dict:
    """Provenance attributes of the assembled stores."""
    return {
        "config_hash": sweep.config_hash,
        "dictionary_spec_hash": digest(dictionary_spec(sweep)),
        **package_attrs(),
        "solver": json.dumps({"degree": sweep.solver.degree or "auto", "rtol": sweep.solver.rtol or "auto"}),
        "spectrum_convention": SPECTRUM_CONVENTION,
        "particle": json.dumps(dict(sweep.constants)),
        "scanner": json.dumps(sweep.to_dict()["scanner"]),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def system_matrix_dataset(sweep: Sweep, data: np.ndarray, snr: np.ndarray | None, pmap=None) -> xr.Dataset:
    """One angle's rows (channel, frequency, offset_y, offset_x) on all bins, as the MDF reader's layout;
    with a position map (:class:`mpisweep.io.mdf.PositionMap`) also the grid's positions."""
    sc, o = sweep.scanner, sweep.offset_grid
    nbins = data.shape[1]
    cycle = sweep.cycle
    fields = sweep.offsets.reshape(-1, 3)  # x fastest, as MDF stores the grid
    variables = {"system_matrix": (("channel", "frequency", "offset"), data.reshape(2, nbins, -1))}
    if snr is not None:
        variables["snr"] = (("channel", "frequency"), snr)
    return xr.Dataset(
        variables,
        coords={
            "channel": np.arange(2),
            "frequency": np.arange(nbins) / cycle,
            "frequency_bin": ("frequency", np.arange(nbins)),
            "offset": np.arange(fields.shape[0]),
            "xyz": np.array(["x", "y", "z"]),
            "offset_field": (("offset", "xyz"), fields),
            **({} if pmap is None else {"position": (("offset", "xyz"), pmap.position(fields))}),
        },
        attrs={
            "calibration_method": "hybrid",
            "base_frequency": sc.base_frequency,
            "dividers": np.asarray(sc.dividers, np.int64).reshape(-1, 1),
            "drive_strength": np.asarray(sc.amplitudes_T, float).reshape(1, -1, 1),
            "drive_phase": np.asarray(sc.phases_rad, float).reshape(1, -1, 1),
            "waveform": np.full((len(sc.dividers), 1), "sine"),
            "cycle": cycle,
            "num_sampling_points": int(sc.samples),
            "bandwidth": sc.samples / (2 * cycle),
            "unit": "a.u.",
            "num_averages": 1,
            "calibration_size": np.array([o.nx, o.ny, 1]),
            "calibration_order": "xyz",
        },
    )
