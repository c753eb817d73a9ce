"""Coordinates and attributes shared by the shards, fp.zarr, m0.zarr, models.zarr and model MDFs.

Coordinates: angle (deg), channel (the receive coils' axes: "x", "y" for the paper), frequency =
rfft bin k (int) with non-dimension coordinates mx, my, mz (mixing orders, one per drive channel)
and frequency_hz, offset_x / offset_y (mT; offset_z too on a grid of several z points), diameter
(nm), anisotropy (J/m³) or, for the Brownian model, hydrodynamic_diameter (nm); units are in each
coordinate's ``units`` attribute. Easy axes given in 3D (grids.directions) count 0, 1, … along the
angle axis, with non-dimension coordinates polar and azimuth (deg) saying which. A Brownian
dictionary keeps a length-1 angle axis (0°, the drive frame: a fluid tracer has no easy axis), so
measured data and fits share one layout.
"""

from __future__ import annotations

import json
import time

import numpy as np
import xarray as xr

from ..errors import StoreError
from ..io.provenance import package_attrs
from ..units import MT
from .config import Sweep, digest
from .specs import dictionary_spec

ROW_DIMS = ("angle", "channel", "frequency", "offset_y", "offset_x")  # the paper's 2D grid; row_dims(sweep) for any


def row_dims(sweep: Sweep) -> tuple[str, ...]:
    """Dimensions of one block's rows: (angle, channel, frequency) + the offset grid's (sweep.offset_dims)."""
    return ("angle", "channel", "frequency") + sweep.offset_dims


def row_shape(sweep: Sweep) -> tuple[int, ...]:
    """Shape of one block's rows (row_dims): (angles, receive channels, evaluation bins, *offset grid)."""
    return (len(sweep.angles), len(sweep.channels), len(sweep.bin_indices)) + sweep.offset_grid.shape


def fp_dims(sweep: Sweep) -> tuple[str, ...]:
    """Dimensions of the assembled dictionary: (diameter, anisotropy or hydrodynamic_diameter) + row_dims."""
    return ("diameter", sweep.parameter.name) + row_dims(sweep)


def m0_dims(sweep: Sweep) -> tuple[str, ...]:
    """Dimensions of the M0 (Langevin) dictionary: (diameter, channel, frequency) + the offset grid's."""
    return ("diameter", "channel", "frequency") + sweep.offset_dims

SPECTRUM_CONVENTION = (
    "phi_k = (1/N) sum_n d<m_c>/dt(t_n) exp(-2 pi i k n / N) (numpy.fft.rfft / N) in 1/s over one drive "
    "cycle in periodic steady state, t_n = n T / N, receive channels c = x, y; <m> normalized "
    "(|<m>| <= 1). The signal is proportional to -mu0 m0 d<m>/dt; sign and scale are absorbed by the "
    "fitted transfer function."
)


def row_coords(sweep: Sweep) -> dict:
    """Coordinates of the row dimensions (row_dims)."""
    bins = sweep.bins
    o = sweep.offset_grid
    if sweep.distribution is not None:
        angle = {"units": "1", "long_name": sweep.distribution.describe() + " (one entry: their average)",
                 "easy_axes": sweep.distribution.kind}
    elif sweep.directions:
        angle = {"units": "1", "long_name": "easy-axis direction (counts grids.directions; see polar, azimuth)"}
    elif sweep.model == "neel":
        angle = {"units": "deg", "long_name": "easy-axis angle from x"}
    else:
        angle = {"units": "deg", "long_name": "drive frame (Brownian model: no easy axis)"}
    coords = {
        "angle": ("angle", np.asarray(sweep.angles, float), angle),
        "channel": ("channel", np.array(sweep.channels, dtype=object), {"long_name": "receive channel"}),
        "frequency": ("frequency", sweep.bin_indices.astype(np.int64),
                      {"long_name": "rfft bin index k", "units": "1"}),
    }
    for i, name in enumerate(sweep.order_names):
        coords[name] = ("frequency", bins[:, i].astype(np.int64), {"long_name": f"mixing order {name[1]}"})
    coords["frequency_hz"] = ("frequency", sweep.bin_indices / sweep.cycle,
                              {"units": "Hz", "long_name": "frequency k / T"})
    if sweep.directions:
        polar, azimuth = np.asarray(sweep.directions, float).T
        coords["polar"] = ("angle", polar, {"units": "deg", "long_name": "easy-axis polar angle from z"})
        coords["azimuth"] = ("angle", azimuth, {"units": "deg", "long_name": "easy-axis azimuth from x"})
    if o.nz > 1:
        coords["offset_z"] = ("offset_z", np.round(np.linspace(*o.z_T, o.nz) / MT, 12),
                              {"units": "mT", "long_name": "offset field z"})
    coords["offset_y"] = ("offset_y", np.round(np.linspace(*o.y_T, o.ny) / MT, 12),
                          {"units": "mT", "long_name": "offset field y"})
    coords["offset_x"] = ("offset_x", np.round(np.linspace(*o.x_T, o.nx) / MT, 12),
                          {"units": "mT", "long_name": "offset field x"})
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
        names = ("angle", "frequency", "offset_x", "offset_y", "offset_z", "diameter", sweep.parameter.name)
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
        "solver": json.dumps({**sweep.solver.to_json(), "degree": sweep.solver.degree or "auto",
                              "rtol": sweep.solver.rtol or "auto"}),
        "spectrum_convention": SPECTRUM_CONVENTION,
        "particle": json.dumps(dict(sweep.constants)),
        "scanner": json.dumps(sweep.to_dict()["scanner"]),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def system_matrix_dataset(sweep: Sweep, data: np.ndarray, snr: np.ndarray | None, pmap=None) -> xr.Dataset:
    """One angle's rows (channel, frequency, *offset grid) on all bins, as the MDF reader's layout;
    with a position map (:class:`mpisweep.io.mdf.PositionMap`) also the grid's positions."""
    sc, o = sweep.scanner, sweep.offset_grid
    channels, nbins = data.shape[:2]
    cycle = sweep.cycle
    fields = sweep.offsets.reshape(-1, 3)  # x fastest, as MDF stores the grid
    variables = {"system_matrix": (("channel", "frequency", "offset"), data.reshape(channels, nbins, -1))}
    if snr is not None:
        variables["snr"] = (("channel", "frequency"), snr)
    return xr.Dataset(
        variables,
        coords={
            "channel": np.arange(channels),
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
            "calibration_size": np.array([o.nx, o.ny, o.nz]),
            "calibration_order": "xyz",
        },
    )
