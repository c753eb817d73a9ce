"""The fit step of the sweep: M0, M1, M2 against the measured data; tables, summary and models.zarr.

Outputs under ``<output>/fits/``:

* ``m0_eps_global.csv``  diameter (nm), eps_global, best
* ``m1_eps_global.csv``  diameter (nm), anisotropy (J/m³), eps_global, best
* ``m2_eps_global.csv``  rank_fraction, rank, effective_rank, eps_global, n_nonzero, weight_sum (paper Table 1)
* ``m2_weights.csv``     rank_fraction, rank, diameter, anisotropy, weight
* ``eps_freq.csv``       model, rank_fraction (M2 only), mx, my, bin, eps_freq
* ``eps_rows.csv``       model, rank_fraction (M2 only), angle, channel, mx, my, bin, eps, transfer_re, transfer_im
  (the fitted transfer function â of M0/M1 per row)
* ``summary.json``       ε_global and best parameters per model, M2 per rank, virtual-scanner truth
* ``models.zarr``        the Dataset the figures read (layout in :func:`models_dataset`)
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

import numpy as np
import xarray as xr

from . import __version__
from . import config as cfgmod
from . import measurement, store
from .fitting import DICTIONARY_DIMS, DICTIONARY_M0_DIMS, fit_m0, fit_m1, fit_m2


class _Values:
    def __init__(self, values):
        self.values = values


class FlatOffsetView:
    """Read-only view of a lazily opened (…, offset_y, offset_x) DataArray as (…, offset).

    Duck-types the small part of the DataArray API that :mod:`mpisweep.fitting` uses (dims,
    coords, dtype, shape, transpose, isel(...).values), so the fits read the Zarr dictionary
    block by block instead of loading it whole.
    """

    def __init__(self, da: xr.DataArray):
        lead = [d for d in da.dims if d not in ("offset_y", "offset_x")]
        self._da = da.transpose(*lead, "offset_y", "offset_x")
        self.dims = tuple(lead) + ("offset",)
        self.coords = {d: da.coords[d] for d in lead if d in da.coords}
        self.dtype = da.dtype
        self.shape = tuple(da.sizes[d] for d in lead) + (da.sizes["offset_y"] * da.sizes["offset_x"],)

    def transpose(self, *dims):
        if dims[-1] != "offset":
            raise ValueError("FlatOffsetView: 'offset' must stay last")
        return FlatOffsetView(self._da.transpose(*dims[:-1], "offset_y", "offset_x"))

    def isel(self, indexers):
        if "offset" in indexers:
            raise NotImplementedError("FlatOffsetView: indexing along 'offset'")
        sub = self._da.isel(indexers)
        values = np.asarray(sub.values)
        return _Values(values.reshape(values.shape[:-2] + (-1,)))


def _flat(da: xr.DataArray, dims) -> xr.DataArray:
    """In-memory (…, offset_y, offset_x) → (…, offset) with the fitting module's dimension order."""
    lead = [d for d in dims if d != "offset"]
    arr = da.transpose(*lead, "offset_y", "offset_x")
    values = np.asarray(arr.values)
    return xr.DataArray(values.reshape(values.shape[:-2] + (-1,)), dims=tuple(lead) + ("offset",),
                        coords={d: arr.coords[d].values for d in lead if d in arr.coords})


def _check_store(ds: xr.Dataset, resolved: dict, path, dims_from_grid=("diameter", "anisotropy")) -> None:
    coords = {**store.grid_coords(resolved), **store.row_coords(resolved)}
    for name in ("angle", "frequency", "offset_x", "offset_y") + tuple(dims_from_grid):
        if name not in ds.coords:
            continue
        a, b = np.asarray(ds[name].values, float), np.asarray(coords[name].values, float)
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-9, atol=1e-12):
            raise store.StoreError(f"{path}: coordinate {name} {a.tolist()[:6]} does not match the config "
                                   f"{b.tolist()[:6]}; rerun the workflow")


def _rank_spec(r):
    """Config rank ("5%" or count) → fitting.fit_m2 rank (fraction float or count int)."""
    if isinstance(r, str):
        return float(r.strip().rstrip("%").strip()) / 100.0
    return int(r)


def _write_csv(path: Path, rows: list[dict], fields: list[str]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in fields})
    os.replace(tmp, path)


def _grid(values: np.ndarray, resolved: dict) -> np.ndarray:
    """(…, offset) → (…, offset_y, offset_x)."""
    o = resolved["offsets"]
    return values.reshape(values.shape[:-1] + (o["ny"], o["nx"]))


def models_dataset(resolved: dict, measured: xr.DataArray, r0, r1, r2) -> xr.Dataset:
    """The models Dataset (results/fits/models.zarr) the figures read.

    Variables: measured, model_m0, model_m1 (angle, channel, frequency, offset_y, offset_x)
    complex; model_m2 (rank, …) complex; eps_m0, eps_m1 (angle, channel, frequency); eps_m2
    (rank, angle, channel, frequency); eps_global_m0 (diameter); eps_global_m1 (diameter,
    anisotropy); weights_m2 (rank, diameter, anisotropy); eps_global_m2 (rank). Coordinates:
    angle (deg), channel ("x", "y"), frequency (rfft bin k, int) with mx, my (int) and
    frequency_hz, offset_x / offset_y (mT), diameter (nm), anisotropy (J/m³), rank (requested
    fraction of the full rank). Attrs: best_m0_diameter, best_m1_diameter, best_m1_anisotropy.
    """
    rows = ("angle", "channel", "frequency", "offset_y", "offset_x")
    eps = ("angle", "channel", "frequency")
    coords = {**store.grid_coords(resolved), **store.row_coords(resolved)}
    coords["rank"] = xr.Variable("rank", np.asarray(resolved["fit"]["rank_fractions"], float),
                                 {"long_name": "requested TSVD rank as a fraction of the full rank"})
    coords["rank_count"] = xr.Variable("rank", np.asarray(r2.ranks, np.int64), {"long_name": "singular values kept"})
    S = np.asarray(measured.transpose("angle", "channel", "frequency", "offset").values)
    ds = xr.Dataset(
        {
            "measured": (rows, _grid(S, resolved)),
            "model_m0": (rows, _grid(np.asarray(r0.model), resolved)),
            "model_m1": (rows, _grid(np.asarray(r1.model), resolved)),
            "model_m2": (("rank",) + rows, _grid(np.asarray(r2.model), resolved)),
            "eps_m0": (eps, np.asarray(r0.eps, float)),
            "eps_m1": (eps, np.asarray(r1.eps, float)),
            "eps_m2": (("rank",) + eps, np.asarray(r2.eps, float)),
            "eps_global_m0": (("diameter",), np.asarray(r0.eps_global, float)),
            "eps_global_m1": (("diameter", "anisotropy"), np.asarray(r1.eps_global, float)),
            "weights_m2": (("rank", "diameter", "anisotropy"), np.asarray(r2.weights, float)),
            "eps_global_m2": (("rank",), np.asarray(r2.eps_global, float)),
        },
        coords=coords,
        attrs={
            "best_m0_diameter": float(r0.best_diameter),
            "best_m1_diameter": float(r1.best_diameter),
            "best_m1_anisotropy": float(r1.best_anisotropy),
            "eps_global_best_m0": float(r0.eps_global_best),
            "eps_global_best_m1": float(r1.eps_global_best),
            "config_hash": cfgmod.config_hash(resolved),
            "package_version": __version__,
            "git_revision": store.git_revision(),
            "measured_files": measured.attrs.get("files", "[]"),
            "spectrum_convention": store.SPECTRUM_CONVENTION,
        },
    )
    for name in ("measured", "model_m0", "model_m1", "model_m2"):
        ds[name].attrs["long_name"] = {"measured": "measured system-matrix rows"}.get(name, f"model {name[-2:].upper()} rows")
    for name in ("eps_m0", "eps_m1", "eps_m2"):
        ds[name].attrs["long_name"] = "row NRMSE ε = ‖S − model‖₂ / (√N ‖S‖∞)"
    return ds


def write_model_mdfs(resolved: dict, models: xr.Dataset, outdir: Path) -> list[Path]:
    """The fitted M1 and M2 (rank with the lowest ε_global) system matrices as MDF v2.1, one file per angle.

    They include the fitted transfer functions, so they can stand in for the measured system
    matrices in MPI reconstruction software (e.g. MPIReco.jl). Only the evaluation bins are
    stored (/measurement/frequencySelection).
    """
    from .mdf import write_system_matrix
    from .scanner import system_matrix_dataset

    nbins = int(resolved["scanner"]["samples"]) // 2 + 1
    bins = models["frequency"].values.astype(int)
    best_rank = int(np.nanargmin(models["eps_global_m2"].values))
    chosen = {"M1": models["model_m1"], "M2": models["model_m2"].isel(rank=best_rank)}
    written = []
    for name, model in chosen.items():
        folder = outdir / "mdf" / name
        folder.mkdir(parents=True, exist_ok=True)
        for angle in models["angle"].values:
            rows = model.sel(angle=angle).transpose("channel", "frequency", "offset_y", "offset_x").values
            full = np.zeros((rows.shape[0], nbins) + rows.shape[2:], dtype=complex)
            full[:, bins] = rows
            path = folder / f"{cfgmod.label(float(angle))}.mdf"
            ds = system_matrix_dataset(resolved, full, None)
            write_system_matrix(path, ds, frequency_bins=bins,
                                experiment={"name": f"mpisweep model {name}, easy axis {cfgmod.label(float(angle))} deg",
                                            "isSimulation": 1},
                                scanner={"name": "mpisweep model"}, tracer={"name": [f"model {name}"]})
            written.append(path)
    return written


def run_fit(resolved: dict, check_report=None, fp=None, m0=None, outdir=None, log=print) -> dict:
    """Fit M0, M1 and M2 and write all outputs; return the summary dict."""
    t0 = time.perf_counter()
    p = store.paths(resolved)
    fp = Path(fp) if fp is not None else p["fp"]
    m0 = Path(m0) if m0 is not None else p["m0"]
    outdir = Path(outdir) if outdir is not None else p["fits"]
    if isinstance(check_report, (str, os.PathLike)):
        check_report = json.loads(Path(check_report).read_text())
    bins = cfgmod.evaluation_bins(resolved)

    measured = measurement.load(resolved, check_report)
    log(f"measured: {measured.sizes['angle']} angles × {measured.sizes['channel']} channels × "
        f"{measured.sizes['frequency']} bins × {measured.sizes['offset']} offsets")

    fpds = store.open_zarr(fp)
    _check_store(fpds, resolved, fp)
    nbytes = fpds["rows"].size * 16
    if nbytes <= resolved["fit"]["max_memory_gb"] * 2**30:
        dictionary = _flat(fpds["rows"], DICTIONARY_DIMS)
    else:
        log(f"dictionary {nbytes / 2**30:.1f} GiB > fit.max_memory_gb: reading it block-wise from {fp}")
        dictionary = FlatOffsetView(fpds["rows"])
    m0ds = store.open_zarr(m0)
    _check_store(m0ds, resolved, m0, dims_from_grid=("diameter",))
    dictionary_m0 = _flat(m0ds["rows"], DICTIONARY_M0_DIMS)

    r0 = fit_m0(measured, dictionary_m0, bins)
    log(f"M0: best D = {r0.best_diameter:g} nm, ε_global = {r0.eps_global_best:.6g}")
    r1 = fit_m1(measured, dictionary, bins)
    log(f"M1: best (D, K) = ({r1.best_diameter:g} nm, {r1.best_anisotropy:g} J/m³), ε_global = {r1.eps_global_best:.6g}")
    ranks = [_rank_spec(r) for r in resolved["fit"]["ranks"]]
    r2 = fit_m2(measured, dictionary, bins, ranks=ranks, svd=resolved["fit"]["svd"])
    for frac, s, e in zip(resolved["fit"]["rank_fractions"], r2.ranks, r2.eps_global):
        log(f"M2: rank {100 * frac:g} % (s = {int(s)}): ε_global = {float(e):.6g}")

    outdir.mkdir(parents=True, exist_ok=True)
    fr = resolved["fit"]["rank_fractions"]
    _write_csv(outdir / "m0_eps_global.csv", r0.to_table(), ["diameter", "eps_global", "best"])
    _write_csv(outdir / "m1_eps_global.csv", r1.to_table(), ["diameter", "anisotropy", "eps_global", "best"])
    rank_rows = [{**row, "rank_fraction": fr[i]} for i, row in enumerate(r2.to_table())]
    _write_csv(outdir / "m2_eps_global.csv", rank_rows,
               ["rank_fraction", "rank", "effective_rank", "eps_global", "n_nonzero", "weight_sum"])
    wrows = []
    for i, s in enumerate(r2.ranks):
        for a, d in enumerate(r2.diameters):
            for b, k in enumerate(r2.anisotropies):
                wrows.append({"rank_fraction": fr[i], "rank": int(s), "diameter": float(d), "anisotropy": float(k),
                              "weight": float(r2.weights[i, a, b])})
    _write_csv(outdir / "m2_weights.csv", wrows, ["rank_fraction", "rank", "diameter", "anisotropy", "weight"])
    m2_freq, m2_rows = [], []
    for i, rank in enumerate(r2.ranks):
        extra = {"model": "M2", "rank": int(rank), "rank_fraction": fr[i]}
        m2_freq += r2._freq_rows(r2.eps_freq[i], extra)
        m2_rows += r2._row_rows(r2.eps[i], extra, None)
    _write_csv(outdir / "eps_freq.csv", r0.freq_table() + r1.freq_table() + m2_freq,
               ["model", "rank_fraction", "rank", "mx", "my", "bin", "eps_freq"])
    _write_csv(outdir / "eps_rows.csv", r0.row_table() + r1.row_table() + m2_rows,
               ["model", "rank_fraction", "rank", "angle", "channel", "mx", "my", "bin", "eps", "transfer_re", "transfer_im"])

    ds = models_dataset(resolved, measured, r0, r1, r2)
    with store.atomic_directory(outdir / "models.zarr") as tmp:
        store.to_zarr(ds, tmp)
    model_files = write_model_mdfs(resolved, ds, outdir)
    log(f"model system matrices (MDF): {len(model_files)} files under {outdir / 'mdf'}")

    truth = None
    if resolved["measurement"]["source"] == "virtual":
        tpath = p["measurement"] / "truth.json"
        if tpath.exists():
            truth = json.loads(tpath.read_text())
    summary = {
        "M0": {"eps_global": float(r0.eps_global_best), "best_diameter": float(r0.best_diameter)},
        "M1": {"eps_global": float(r1.eps_global_best), "best_diameter": float(r1.best_diameter),
               "best_anisotropy": float(r1.best_anisotropy)},
        "M2": [
            {"rank_fraction": fr[i], "rank": int(s), "effective_rank": int(r2.effective_ranks[i]),
             "eps_global": float(r2.eps_global[i]), "n_nonzero": int(np.count_nonzero(r2.weights[i])),
             "largest_weights": [
                 {"diameter": float(r2.diameters[a]), "anisotropy": float(r2.anisotropies[b]),
                  "weight": float(r2.weights[i, a, b])}
                 for a, b in zip(*np.unravel_index(np.argsort(r2.weights[i], axis=None)[::-1][:5], r2.weights[i].shape))
                 if r2.weights[i, a, b] > 0]}
            for i, s in enumerate(r2.ranks)
        ],
        "units": {"diameter": "nm", "anisotropy": "J/m^3"},
        "evaluation_bins": int(bins.shape[0]),
        "measurement": {"source": resolved["measurement"]["source"], "files": json.loads(measured.attrs["files"])},
        "truth": truth,
        "config_hash": cfgmod.config_hash(resolved),
        "dictionary_config_hash": fpds.attrs.get("config_hash"),
        "package_version": __version__,
        "git_revision": store.git_revision(),
        "wall_time_s": time.perf_counter() - t0,
    }
    if truth is not None:
        dom = truth["dominant"]
        summary["recovered"] = {
            "true_dominant": [dom["diameter_nm"], dom["anisotropy_Jm3"]],
            "m1": [float(r1.best_diameter), float(r1.best_anisotropy)],
            "m1_equals_dominant": bool(np.isclose(r1.best_diameter, dom["diameter_nm"])
                                       and np.isclose(r1.best_anisotropy, dom["anisotropy_Jm3"])),
        }
    cfgmod.write_resolved(resolved, outdir / "config.json")  # provenance: what these fits used
    store.write_json(outdir / "summary.json", summary)
    log(f"fits written to {outdir} in {summary['wall_time_s']:.1f} s")
    return summary
