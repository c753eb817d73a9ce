"""Full-band model system matrices from a fit: any angles, every bin from a minimum frequency up.

For a fit model (M1: its best (D, K) with weight 1; M2, M3: the weights of their best rank,
normalized to Σw = 1) the model system matrix is

    S_model(α)_c,k(r) = a_c,k · Σ_q w_q φ_q(α, r)_c,k,

with φ the Fokker–Planck rows simulated with the dictionary's discretization for the (D, K)
entries of non-zero weight only, at the requested angles and on all bins k ≥ min_frequency·T.
The transfer function a_c,k is either fitted from the measured calibration matrices (closed form
per receive channel and bin, shared by all angles: a = Σ conj(Φ)·S / Σ |Φ|² over the calibration
angles and offsets, Φ = Σ_q w_q φ_q) or read from a measured transfer-function file.

Outputs: ``orientation/matrices/<model>.zarr`` (``system_matrix`` (angle, channel, frequency,
offset_y, offset_x), ``transfer_function`` (channel, frequency); entries and weights in the
attributes; every variable checksummed) and ``orientation/matrices/<model>/<angle>.mdf``
(MDF v2.1, readable by MPIReco.jl, the bins ≥ min_frequency as its frequency selection).
"""

from __future__ import annotations

import json
import time

import numpy as np
import xarray as xr

from ...io.atomic import atomic_path
from ...io.mdf import write_system_matrix
from ...io.provenance import package_attrs
from ...io.receive_chain import receive_chain
from ...io.stores import open_zarr, stamp_variables, to_zarr, verify_variables
from ...physics.block import simulate_block
from ...physics.spectra import CHANNELS
from ...sweep.config import Sweep, expand_grid
from ...sweep.coords import system_matrix_dataset
from ...sweep.geometry import calibration_map
from ...sweep.measured import calibration
from ...sweep.names import block_name, label
from ...sweep.progress import printer
from ...sweep.workers import map_over_sweep
from ...units import MT

FIT_MODELS = ("M1", "M2", "M3")
#: weights below this fraction of the largest are treated as zero (NNLS returns exact zeros; this drops round-off)
WEIGHT_CUTOFF = 1e-9


def model_sweep(sweep: Sweep) -> Sweep:
    """The sweep on the model matrices' offset grid (orientation.matrices.offsets; default the calibration's)."""
    from dataclasses import replace

    from ...sweep.sections.scanner import OffsetGrid

    o = sweep.orientation.matrices.offsets
    if o is None:
        return sweep
    return replace(sweep, offset_grid=OffsetGrid.from_config(o, "orientation.matrices.offsets"))


def model_angles(sweep: Sweep) -> tuple[float, ...]:
    """Angles of the model matrices (default: the calibration angles)."""
    given = sweep.orientation.matrices.angles
    return sweep.angles if given is None else expand_grid(given, "orientation.matrices.angles")


def fitted_entries(sweep: Sweep, model: str) -> list[tuple[float, float, float]]:
    """[(D nm, K J/m³, weight)] of a fit model's non-zero weights (Σw = 1), from fits/models.zarr."""
    path = sweep.layout.models
    ds = open_zarr(path)
    if model == "M1":
        return [(float(ds.attrs["best_m1_diameter"]), float(ds.attrs["best_m1_anisotropy"]), 1.0)]
    key = {"M2": "m2", "M3": "m3"}[model]
    v = verify_variables(ds, path, [f"weights_{key}", f"eps_global_{key}"])
    w = v[f"weights_{key}"].values[int(np.nanargmin(v[f"eps_global_{key}"].values))]
    w = np.where(w > WEIGHT_CUTOFF * w.max(), w, 0.0)
    w = w / w.sum()
    D, K = ds["diameter"].values, ds["anisotropy"].values
    return [(float(D[i]), float(K[j]), float(w[i, j])) for i, j in zip(*np.nonzero(w))]


def simulate_entry(sweep: Sweep, diameter: float, anisotropy: float, angles, bins, progress: bool = True) -> np.ndarray:
    """φ (angle, channel, bin, offset_y, offset_x) of one (D, K) with the dictionary's discretization."""
    particle = sweep.particle(diameter, anisotropy)
    res = simulate_block(particle, sweep.excitation, angles, sweep.offsets, bins, degree=sweep.solver.degree,
                         rtol=sweep.solver_rtol(particle), max_degree=sweep.limits.max_degree,
                         progress=printer(f"model entry {block_name(diameter, anisotropy)}") if progress else None)
    return res.rows


def fit_transfer_function(model: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """a (channel, bin) minimizing Σ |S − a·Φ|² over angles and offsets; model, measured (angle, C, K, P)."""
    num = np.einsum("ackp,ackp->ck", model.conj(), measured)
    den = np.einsum("ackp,ackp->ck", model.conj(), model).real
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _simulate_all(sweep: Sweep, points, angles, bins, workers: int, progress: bool) -> dict:
    """φ of every (D, K) in `points` at `angles`; with workers > 1 in that many processes (same values)."""
    tasks = [(d, k, angles, bins, progress) for d, k in points]
    return dict(zip(points, map_over_sweep(simulate_entry, sweep, tasks, workers)))


def synthesize(sweep: Sweep, models=None, progress: bool = True, log=print, workers: int = 1) -> dict:
    """Write the model matrices of every fit model in orientation.models (or `models`); return a summary."""
    wanted = [m for m in (models or sweep.orientation.models) if m in FIT_MODELS]
    bins = sweep.bins_above(sweep.orientation.matrices.min_frequency)
    angles = model_angles(sweep)
    entries = {m: fitted_entries(sweep, m) for m in wanted}
    union = sorted({(d, k) for es in entries.values() for d, k, _ in es})
    cal_angles = tuple(sweep.angles)
    target = model_sweep(sweep)
    pmap = calibration_map(sweep, required=False)  # the MDF files carry positions where the geometry is known
    same = tuple(angles) == cal_angles and target is sweep
    tf_cfg = sweep.orientation.matrices.transfer_function
    start = time.perf_counter()
    rows = _simulate_all(target, union, angles, bins, workers, progress)
    cal_rows = {}
    if tf_cfg.source == "calibration" and not same:
        cal_rows = _simulate_all(sweep, union, cal_angles, bins, workers, progress)
    log(f"simulated {len(union)} (D, K) entries × {len(angles)} angles × "
        f"{target.offsets.shape[0] * target.offsets.shape[1]} "
        f"offsets on {bins.size} bins in {time.perf_counter() - start:.1f} s ({workers} processes)")
    measured = None
    if tf_cfg.source == "calibration":
        measured, _, _ = calibration(sweep, bins)
        measured = measured.reshape(measured.shape[:3] + sweep.offsets.shape[:2])
    summary = {}
    for m in wanted:
        phi = sum(w * rows[(d, k)] for d, k, w in entries[m])
        if tf_cfg.source == "calibration":
            phi_cal = phi if same else sum(w * cal_rows[(d, k)] for d, k, w in entries[m])
            a = fit_transfer_function(phi_cal.reshape(phi_cal.shape[:3] + (-1,)),
                                      measured.reshape(measured.shape[:3] + (-1,)))
        else:
            tf = {"kind": "h5", "path": tf_cfg.path, "channels": list(tf_cfg.channels)}
            a = receive_chain(tf, bins / sweep.cycle)
        sm = phi * a[None, :, :, None, None]
        write_model(target, m, sm, a, bins, angles, entries[m], pmap)
        summary[m] = {"entries": [{"diameter_nm": d, "anisotropy_Jm3": k, "weight": w} for d, k, w in entries[m]]}
        log(f"{m}: {len(entries[m])} entries → {sweep.layout.model_matrices(m)}")
    return summary


def write_model(sweep: Sweep, model: str, sm: np.ndarray, a: np.ndarray, bins, angles, entries, pmap=None) -> None:
    """The zarr store and one MDF file per angle of one model's matrices (with positions given a position map)."""
    lay = sweep.layout
    grid = sweep.offsets
    ds = xr.Dataset(
        {"system_matrix": (("angle", "channel", "frequency", "offset_y", "offset_x"), sm),
         "transfer_function": (("channel", "frequency"), a)},
        coords={"angle": ("angle", np.asarray(angles, float), {"units": "deg"}),
                "channel": np.array(CHANNELS, dtype=object),
                "frequency": ("frequency", np.asarray(bins, np.int64), {"long_name": "rfft bin index k"}),
                "frequency_hz": ("frequency", np.asarray(bins) / sweep.cycle, {"units": "Hz"}),
                "offset_y": ("offset_y", np.round(grid[:, 0, 1] / MT, 12), {"units": "mT"}),
                "offset_x": ("offset_x", np.round(grid[0, :, 0] / MT, 12), {"units": "mT"})},
        attrs={"model": model, "entries": json.dumps([{"diameter_nm": d, "anisotropy_Jm3": k, "weight": w}
                                                      for d, k, w in entries]),
               "transfer_function_source": sweep.orientation.matrices.transfer_function.source,
               "config_hash": sweep.config_hash, **package_attrs()},
    )
    with atomic_path(lay.model_matrices(model), suffix=".zarr") as tmp:
        to_zarr(stamp_variables(ds), tmp)
    nbins = sweep.scanner.samples // 2 + 1
    for i, angle in enumerate(angles):
        full = np.zeros((2, nbins) + grid.shape[:2], complex)
        full[:, bins] = sm[i]
        write_system_matrix(lay.model_matrix_mdf(model, angle), system_matrix_dataset(sweep, full, None, pmap),
                            frequency_bins=bins,
                            experiment={"name": f"mpisweep model {model}, easy axis {label(angle)} deg",
                                        "isSimulation": 1},
                            scanner={"name": "mpisweep model"}, tracer={"name": [f"model {model}"]})


def read_model(sweep: Sweep, model: str) -> xr.Dataset:
    """A model's matrices, every variable verified against its sha256."""
    path = sweep.layout.model_matrices(model)
    return verify_variables(open_zarr(path), path)
