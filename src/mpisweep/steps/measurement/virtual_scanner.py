"""Virtual scanner: synthetic measured system matrices (MDF files) from a known particle mixture.

For every configured easy-axis angle ϑ, receive channel c and rfft bin k the virtual measurement is

    S_ϑ,c,k(r) = H_c(f_k) · Σ_j w_j φ_(D_j, K_j, ϑ),c,k(r) + n,

with φ the Fokker–Planck rows (spectra convention) of mixture component j, H a complex receive
transfer function and n complex Gaussian noise (E|n|² = σ², σ = 10^(−SNR/20) · RMS of the noise-free
signal over all angles, channels, evaluation bins and offsets). The components are simulated with
a finer discretization than the dictionary (truncation degree + ``degree_offset``, rtol ×
``rtol_factor``) so that fitting the dictionary to it is not an inverse crime; with 0 and 1 the
discretization equals the dictionary's exactly.

Outputs (``<output>/measurement/``): ``<angle>.mdf`` per angle (MDF v2.1, frequency domain, all
V/2+1 bins, hybrid calibration with /calibration/offsetFields, /calibration/size, /calibration/snr),
``calibrations.csv`` (columns ``file,angle``; the record layout that :mod:`.measurement` reads) and
``truth.json`` (components, weights, transfer function, SNR, noise σ, seed). The sweep reads these
files back through :func:`mpisweep.io.mdf.read_system_matrix`, exactly like measured data.

Transfer functions (``measurement.virtual.transfer_function``):

* ``analytic`` (default): H_c(f) = g_c e^{iφ_c} · (i f/f_hp)/(1 + i f/f_hp) · 1/(1 + i f/f_lp)² ·
  e^{−2πi f τ} — a first-order high-pass, a second-order low-pass and a group delay;
* ``h5``: the measured receive chain in an HDF5 file with /transferFunction (channel, frequency,
  re/im) and /frequencies (Hz), e.g. a scanner's transferFunction-PreinstalledUH.h5, linearly
  interpolated in re/im to the bin frequencies (held constant outside the tabulated range);
* ``unity``: H = 1.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ...errors import StoreError
from ...fitting.fields import normalized_offsets, profile
from ...io.atomic import atomic_path, write_csv, write_json
from ...io.mdf import write_system_matrix
from ...io.receive_chain import receive_chain
from ...physics.block import simulate_varying_drive
from ...physics.solver import auto_degree
from ...sweep.config import Sweep, digest
from ...sweep.coords import system_matrix_dataset
from ...sweep.geometry import configured_map
from ...sweep.names import label
from ...sweep.progress import printer
from ...sweep.sections.base import dump
from ...sweep.specs import component_spec


def measurement_files(sweep: Sweep) -> list[tuple[Path, float]]:
    """(MDF path, angle in degrees) the virtual scanner writes, one per configured angle."""
    return [(sweep.layout.virtual_file(a), float(a)) for a in sweep.angles]


# -------------------------------------------------------------------------- components
def component_settings(sweep: Sweep, component: dict, offsets: np.ndarray | None = None
                       ) -> tuple[np.ndarray | None, float]:
    """(degrees, rtol) of the virtual scanner for one component: the dictionary's settings made finer.

    offsets: (rows, columns, 3) fields in T (default the calibration grid, sweep.offsets).
    degrees: None (exactly the dictionary's automatic choice, when degree_offset is 0) or the
    truncation degree per offset; rtol: the dictionary's × rtol_factor.
    """
    particle = sweep.particle(component["diameter"], component[sweep.parameter.name])
    v = sweep.virtual.solver
    base_rtol = sweep.solver_rtol(particle)
    rtol = base_rtol if v.rtol_factor == 1 else base_rtol * float(v.rtol_factor)
    offsets = sweep.offsets if offsets is None else offsets
    degree = sweep.solver.degree
    if int(v.degree_offset) == 0:
        return (None if degree is None else np.full(offsets.shape[:-1], int(degree))), float(rtol)
    base = np.array([degree or auto_degree(particle, sweep.excitation.with_offset(o).max_field())
                     for o in offsets.reshape(-1, 3)]).reshape(offsets.shape[:-1])
    return base + int(v.degree_offset), float(rtol)


def simulate_component(sweep: Sweep, component: dict, output, progress: bool = True) -> dict:
    """Rows of one mixture component at ALL rfft bins (angle, channel, k, *offset grid) → .npz."""
    particle = sweep.particle(component["diameter"], component[sweep.parameter.name])
    degrees, rtol = component_settings(sweep, component)
    bins = np.arange(sweep.scanner.samples // 2 + 1)
    # max_degree=None: a finer discretisation (L + degree_offset) of fields the config check has limited
    axes = sweep.simulation_axes()
    finer = int(sweep.virtual.solver.degree_offset) != 0 or sweep.virtual.solver.rtol_factor != 1
    if sweep.distribution is not None and finer:  # random easy axes: a finer quadrature too
        axes = sweep.distribution.finer(sweep.excitation, sweep.offsets, particle.sigma)
    excitation, offsets = sweep.excitation, sweep.offsets
    amplitude, sensitivity = 1.0, 1.0
    if (scale := sweep.virtual.field_scale) is not None:  # a miscalibrated scanner: the files state the nominal fields
        excitation, offsets = scale.apply(excitation, offsets)
        drive_profile, sensitivity_profile = scale.profiles()
        stated = normalized_offsets(sweep.offsets)  # the coils' profiles follow the stated offsets
        amplitude, sensitivity = profile(drive_profile, stated), profile(sensitivity_profile, stated)
    res = simulate_varying_drive(particle, excitation, axes, offsets, amplitude, bins, degree=degrees, rtol=rtol,
                                 progress=printer(particle.describe()) if progress else None, max_degree=None,
                                 channels=sweep.scanner.receive_axes)
    degrees = res.degrees
    with atomic_path(output, suffix=".npz") as tmp:
        np.savez(tmp, rows=res.rows * sensitivity, degrees=degrees, rtol=rtol, max_periodicity=res.max_periodicity,
                 steps=res.steps, wall_time=res.wall_time, spec_hash=digest(component_spec(sweep, component)))
    return {"degree": int(np.max(degrees)), "rtol": rtol, "max_periodicity": res.max_periodicity,
            "wall_time": res.wall_time}


# ----------------------------------------------------------------------------- scanner
def _mixture(sweep: Sweep, component_files):
    """Σ_j w_j φ_j over the components, and what each one was simulated with."""
    total, details = None, []
    for (name, comp), path in zip(sweep.components, component_files):
        with np.load(path) as z:
            if str(z["spec_hash"]) != digest(component_spec(sweep, comp)):
                raise StoreError(f"{path}: simulated for another configuration; delete it to recompute")
            rows = z["rows"]
            details.append({"name": name, "diameter_nm": float(comp["diameter"]),
                            sweep.parameter.value_key: float(comp[sweep.parameter.name]),
                            "weight": float(comp["weight"]),
                            "degree": int(np.max(z["degrees"])), "rtol": float(z["rtol"]),
                            "max_periodicity": float(z["max_periodicity"])})
        total = comp["weight"] * rows if total is None else total + comp["weight"] * rows
    return total, details


def _with_background(frames: np.ndarray, count: int, rms: float, sigma: float, rng):
    """The calibration frames plus a constant background spectrum (channel, k), and `count` empty-bore frames
    (channel, k, frame) of that background plus noise σ, as a scanner records them (measurement.virtual.writer)."""
    n_c, n_k = frames.shape[:2]
    level = 0.3 * rms * (1.0 + rng.random((n_c, n_k)))
    background = level * np.exp(2j * np.pi * rng.random((n_c, n_k)))
    shape = (n_c, n_k, count)
    noise = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * (sigma / math.sqrt(2))
    shaped = background.reshape(background.shape + (1,) * (frames.ndim - 2))
    return frames + shaped, background[..., None] + noise


def _written_snr(signal: np.ndarray, sigma: float, grid_axes, definition: str):
    """/calibration/snr per (channel, k) as the writer defines it: RMS or maximum over the offsets / σ; None when
    there is no noise or the writer writes none."""
    if sigma <= 0 or definition == "none":
        return None
    amplitude = np.abs(signal)
    level = amplitude.max(axis=grid_axes) if definition == "max" else np.sqrt(np.mean(amplitude ** 2, axis=grid_axes))
    return level / sigma


def noise_free_calibration(sweep: Sweep, component_files=None) -> tuple[np.ndarray, list[dict]]:
    """The virtual scanner's calibration before noise: H · Σ_j w_j φ_j, (angle, channel, bin, offsets…) on every
    rfft bin, and what each component was simulated with."""
    files = component_files or [sweep.layout.component(name) for name, _ in sweep.components]
    total, details = _mixture(sweep, files)
    freqs = np.arange(total.shape[2]) / sweep.cycle
    H = receive_chain(dump(sweep.virtual.transfer_function), freqs, len(sweep.channels))  # (channel, K)
    return total * H.reshape(H.shape + (1,) * len(sweep.offset_grid.shape)), details


def virtual_scanner(sweep: Sweep, component_files=None) -> dict:
    """Combine the simulated components into MDF files + calibrations.csv + truth.json; return the truth."""
    virt = sweep.virtual
    signal, details = noise_free_calibration(sweep, component_files)
    rms = float(np.sqrt(np.mean(np.abs(signal[:, :, sweep.bin_indices]) ** 2)))
    rng = np.random.default_rng(int(virt.seed))
    if virt.snr_db is None:
        sigma = 0.0
        measured = signal
    else:
        sigma = rms * 10.0 ** (-float(virt.snr_db) / 20.0)
        noise = (rng.standard_normal(signal.shape) + 1j * rng.standard_normal(signal.shape)) * (sigma / math.sqrt(2))
        measured = signal + noise
    written = []
    pmap = configured_map(sweep)  # the files carry /calibration/positions when the config states a geometry
    writer = virt.writer
    grid_axes = tuple(range(-len(sweep.offset_grid.shape), 0))
    for a, (path, angle) in enumerate(measurement_files(sweep)):
        frames, background = measured[a], None
        if writer is not None and writer.background_frames > 0:
            frames, background = _with_background(frames, writer.background_frames, rms, sigma, rng)
        snr = _written_snr(signal[a], sigma, grid_axes, "rms" if writer is None else writer.snr)
        ds = system_matrix_dataset(sweep, frames, snr, pmap)
        axis = sweep.easy_axis_text(angle)
        write_system_matrix(path, ds, background=background,
                            experiment={"name": f"virtual scanner, {axis}", "isSimulation": 1},
                            tracer={"name": ["virtual mixture"]}, scanner={"name": "mpisweep virtual scanner"})
        written.append({"file": path.name, "angle": angle})
    write_csv(sweep.layout.virtual_index, [{"file": w["file"], "angle": label(w["angle"])} for w in written],
              ["file", "angle"])
    truth = {
        "components": details,
        "weights_normalized": [d["weight"] / sum(c["weight"] for c in details) for d in details],
        "dominant": max(details, key=lambda d: d["weight"]),
        "transfer_function": dump(virt.transfer_function),
        "snr_db": virt.snr_db,
        "noise_sigma": sigma,
        "signal_rms": rms,
        "seed": int(virt.seed),
        "solver": dump(virt.solver),
        "files": written,
    }
    write_json(sweep.layout.truth, truth)
    return truth
