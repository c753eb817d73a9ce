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
``calibrations.csv`` (columns ``file,angle``; the Zenodo layout that measurement.load reads) and
``truth.json`` (components, weights, transfer function, SNR, noise σ, seed). The sweep reads these
files back through :func:`mpisweep.mdf.read_system_matrix`, exactly like measured data.

Transfer functions (``measurement.virtual.transfer_function``):

* ``analytic`` (default): H_c(f) = g_c e^{iφ_c} · (i f/f_hp)/(1 + i f/f_hp) · 1/(1 + i f/f_lp)² ·
  e^{−2πi f τ} — a first-order high-pass, a second-order low-pass and a group delay;
* ``h5``: the measured receive chain in an HDF5 file with /transferFunction (channel, frequency,
  re/im) and /frequencies (Hz), e.g. ../shared/data/transferFunction-PreinstalledUH.h5, linearly
  interpolated in re/im to the bin frequencies (held constant outside the tabulated range);
* ``unity``: H = 1.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np
import xarray as xr

from . import config as cfgmod
from .store import block_degrees as store_degrees
from .store import paths, write_json


def measurement_files(resolved: dict) -> list[tuple[Path, float]]:
    """(MDF path, angle in degrees) the virtual scanner writes, one per configured angle."""
    d = paths(resolved)["measurement"]
    return [(d / f"{cfgmod.label(a)}.mdf", float(a)) for a in resolved["grids"]["angles_deg"]]


def component_path(resolved: dict, name: str) -> Path:
    return paths(resolved)["measurement"] / "components" / f"{name}.npz"


# ----------------------------------------------------------------------- transfer function
def transfer_function(tf: dict, freqs_hz) -> np.ndarray:
    """Complex receive transfer function (2, F) for receive channels x, y at `freqs_hz`."""
    f = np.asarray(freqs_hz, dtype=float)
    kind = tf.get("kind", "analytic")
    if kind == "unity":
        return np.ones((2, f.size), dtype=complex)
    if kind == "analytic":
        s_hp = 1j * f / float(tf["highpass"])
        shape = s_hp / (1 + s_hp) / (1 + 1j * f / float(tf["lowpass"])) ** 2 * np.exp(-2j * np.pi * f * float(tf["delay"]))
        gains = np.asarray(tf["gain"], float) * np.exp(1j * np.radians(np.asarray(tf["phase"], float)))
        return gains[:, None] * shape[None, :]
    if kind == "h5":
        import h5py

        path = Path(tf["path"])
        if not path.exists():
            raise FileNotFoundError(f"measurement.virtual.transfer_function.path: {path} not found")
        with h5py.File(path, "r") as h:
            if "transferFunction" not in h or "frequencies" not in h:
                raise ValueError(f"{path}: needs /transferFunction (channel, frequency, 2) and /frequencies")
            table = np.asarray(h["transferFunction"][...], float)
            ftab = np.asarray(h["frequencies"][...], float).reshape(-1)
        if table.ndim != 3 or table.shape[-1] != 2 or table.shape[1] != ftab.size:
            raise ValueError(f"{path}: /transferFunction has shape {table.shape}, expected (C, {ftab.size}, 2)")
        out = np.empty((2, f.size), dtype=complex)
        for i, ch in enumerate(tf.get("channels", [0, 1])):
            if ch >= table.shape[0]:
                raise ValueError(f"measurement.virtual.transfer_function.channels: {ch} not in the {table.shape[0]} "
                                 f"channels of {path}")
            out[i] = np.interp(f, ftab, table[ch, :, 0]) + 1j * np.interp(f, ftab, table[ch, :, 1])
        return out
    raise ValueError(f"measurement.virtual.transfer_function.kind: unknown kind {kind!r}")


# -------------------------------------------------------------------------- components
def component_settings(resolved: dict, component: dict) -> tuple[np.ndarray | None, float]:
    """(degrees, rtol) of the virtual scanner for one component: the dictionary's settings made finer.

    degrees: None (exactly the dictionary's automatic choice, when degree_offset is 0) or the
    truncation degree per offset (offset_y, offset_x); rtol: the dictionary's × rtol_factor.
    """
    from .solver import auto_degree, default_rtol

    particle = cfgmod.particle(resolved, component["diameter"], component["anisotropy"])
    s, v = resolved["solver"], resolved["measurement"]["virtual"]["solver"]
    base_rtol = s["rtol"] if s["rtol"] is not None else default_rtol(particle.sigma)
    rtol = base_rtol if v["rtol_factor"] == 1 else base_rtol * float(v["rtol_factor"])
    offsets = cfgmod.offset_fields(resolved)
    if int(v["degree_offset"]) == 0:
        return (None if s["degree"] is None else np.full(offsets.shape[:2], int(s["degree"]))), float(rtol)
    excitation = cfgmod.excitation(resolved)
    base = np.array([[s["degree"] or auto_degree(particle, excitation.with_offset(o).max_field()) for o in row]
                     for row in offsets])
    return base + int(v["degree_offset"]), float(rtol)


def simulate_component(resolved: dict, component: dict, output, progress: bool = True) -> dict:
    """Rows of one mixture component at ALL rfft bins (angle, channel, k, offset_y, offset_x) → .npz."""
    from .block import simulate_block

    particle = cfgmod.particle(resolved, component["diameter"], component["anisotropy"])
    excitation = cfgmod.excitation(resolved)
    degrees, rtol = component_settings(resolved, component)
    offsets = cfgmod.offset_fields(resolved)
    angles = resolved["grids"]["angles_deg"]
    bins = np.arange(excitation.samples // 2 + 1)
    res = simulate_block(particle, excitation, angles, offsets, bins, degree=degrees, rtol=rtol, progress=progress)
    rows, degrees = res.rows, store_degrees(res)
    periodicity, steps, wall = res.max_periodicity, res.steps, res.wall_time
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp-{os.getpid()}.npz")
    np.savez(tmp, rows=rows, degrees=degrees, rtol=rtol, max_periodicity=periodicity, steps=steps, wall_time=wall,
             spec_hash=cfgmod.digest(cfgmod.component_spec(resolved, component)))
    os.replace(tmp, output)
    return {"degree": int(np.max(degrees)), "rtol": rtol, "max_periodicity": periodicity, "wall_time": wall}


# ----------------------------------------------------------------------------- scanner
def system_matrix_dataset(resolved: dict, data: np.ndarray, snr: np.ndarray | None) -> xr.Dataset:
    """One angle as the Dataset layout of mpisweep.mdf.read_system_matrix: (channel, frequency, offset)."""
    sc = resolved["scanner"]
    o = resolved["offsets"]
    nbins = data.shape[1]
    cycle = math.lcm(*sc["dividers"]) / sc["base_frequency"]
    fields = cfgmod.offset_fields(resolved).reshape(-1, 3)  # x fastest, as MDF stores the grid
    amps = np.asarray(sc["amplitudes_T"], float).reshape(1, -1, 1)
    phases = np.asarray(sc["phases_rad"], float).reshape(1, -1, 1)
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
        },
        attrs={
            "calibration_method": "hybrid",
            "base_frequency": sc["base_frequency"],
            "dividers": np.asarray(sc["dividers"], np.int64).reshape(-1, 1),
            "drive_strength": amps,
            "drive_phase": phases,
            "waveform": np.full((len(sc["dividers"]), 1), "sine"),
            "cycle": cycle,
            "num_sampling_points": int(sc["samples"]),
            "bandwidth": sc["samples"] / (2 * cycle),
            "unit": "a.u.",
            "num_averages": 1,
            "calibration_size": np.array([o["nx"], o["ny"], 1]),
            "calibration_order": "xyz",
        },
    )


def virtual_scanner(resolved: dict, component_files=None) -> dict:
    """Combine the simulated components into MDF files + calibrations.csv + truth.json; return the truth."""
    from .mdf import write_system_matrix

    virt = resolved["measurement"]["virtual"]
    comps = cfgmod.components(resolved)
    files = component_files or [component_path(resolved, name) for name, _ in comps]
    total = None
    details = []
    for (name, comp), path in zip(comps, files):
        with np.load(path) as z:
            spec = str(z["spec_hash"])
            if spec != cfgmod.digest(cfgmod.component_spec(resolved, comp)):
                raise RuntimeError(f"{path}: simulated for another configuration; delete it to recompute")
            rows = z["rows"]
            details.append({"name": name, "diameter_nm": float(comp["diameter"]), "anisotropy_Jm3": float(comp["anisotropy"]),
                            "weight": float(comp["weight"]), "degree": int(np.max(z["degrees"])), "rtol": float(z["rtol"]),
                            "max_periodicity": float(z["max_periodicity"])})
        total = comp["weight"] * rows if total is None else total + comp["weight"] * rows
    sc = resolved["scanner"]
    cycle = math.lcm(*sc["dividers"]) / sc["base_frequency"]
    nbins = total.shape[2]
    freqs = np.arange(nbins) / cycle
    H = transfer_function(virt["transfer_function"], freqs)  # (2, K)
    signal = total * H[None, :, :, None, None]
    ev = cfgmod.evaluation_bins(resolved)[:, 2]
    rms = float(np.sqrt(np.mean(np.abs(signal[:, :, ev]) ** 2)))
    rng = np.random.default_rng(int(virt["seed"]))
    if virt["snr_db"] is None:
        sigma = 0.0
        measured = signal
    else:
        sigma = rms * 10.0 ** (-float(virt["snr_db"]) / 20.0)
        noise = (rng.standard_normal(signal.shape) + 1j * rng.standard_normal(signal.shape)) * (sigma / math.sqrt(2))
        measured = signal + noise
    outdir = paths(resolved)["measurement"]
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for a, (path, angle) in enumerate(measurement_files(resolved)):
        per_bin = np.sqrt(np.mean(np.abs(signal[a]) ** 2, axis=(-2, -1)))  # (2, K)
        ds = system_matrix_dataset(resolved, measured[a], per_bin / sigma if sigma > 0 else None)
        write_system_matrix(path, ds, experiment={"name": f"virtual scanner, easy axis {cfgmod.label(angle)} deg",
                                                  "isSimulation": 1},
                            tracer={"name": ["virtual mixture"]}, scanner={"name": "mpisweep virtual scanner"})
        written.append({"file": path.name, "angle": angle})
    csv_path = outdir / "calibrations.csv"
    tmp = csv_path.with_name(f".{csv_path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", "angle"])
        w.writeheader()
        for row in written:
            w.writerow({"file": row["file"], "angle": cfgmod.label(row["angle"])})
    os.replace(tmp, csv_path)
    truth = {
        "components": details,
        "weights_normalized": [d["weight"] / sum(c["weight"] for c in details) for d in details],
        "dominant": max(details, key=lambda d: d["weight"]),
        "transfer_function": virt["transfer_function"],
        "snr_db": virt["snr_db"],
        "noise_sigma": sigma,
        "signal_rms": rms,
        "seed": int(virt["seed"]),
        "solver": virt["solver"],
        "files": written,
    }
    write_json(outdir / "truth.json", truth)
    return truth
