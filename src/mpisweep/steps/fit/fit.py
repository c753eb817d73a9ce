"""Workflow step `fit`: M0, M0a, M1, M2, M3 against the measured data, the measured transfer function and the field
calibration → tables, summary, models.zarr, model MDFs."""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

from ...fitting import fit_m0, fit_m0a, fit_m1, fit_m2, fit_m3
from ...io.atomic import atomic_path
from ...io.stores import to_zarr
from ...sweep import measured as measurement
from ...sweep.config import Sweep
from .dictionaries import open_fp, open_m0, open_m0a
from .fields import calibrate_fields
from .fit_tables import summary, write_summary, write_tables
from .models import models_dataset, write_model_mdfs
from .transfer import check_transfer_function


def _report_rows(sweep: Sweep, fitted: measurement.Fitted, log) -> None:
    """Log where the noise came from and which rows the fits use; warn of every receive channel left out."""
    if sweep.fit.snr_threshold is None:
        return
    sources = sorted({n.describe() for n in fitted.noise})
    log(f"noise: {'; '.join(sources) if sources else 'none'}")
    if fitted.selection is None:
        log("fit.snr_threshold: the measured files give no noise estimate; every row is fitted")
        return
    for line in fitted.selection.warnings():
        log(f"warning: {line}")
        warnings.warn(line, UserWarning, stacklevel=3)
    log(fitted.selection.summary())


def _rows_summary(sweep: Sweep, selection) -> dict:
    """What the summary says about the row selection."""
    if selection is None:
        return {"snr_threshold": sweep.fit.snr_threshold, "selected": False}
    return {"snr_threshold": selection.threshold, "selected": True,
            "rows_used": int(selection.rows.sum()), "rows_total": int(selection.rows.size),
            "channels_left_out": selection.dead_channels,
            "smallest_snr_used": float(selection.snr[selection.rows].min())}


def run_fit(sweep: Sweep, check_report=None, fp=None, m0=None, outdir=None, log=print, m0a=None) -> dict:
    """Fit M0, M0a (model neel), M1, M2 and M3 and write all outputs; return the summary dict.

    ``fp``, ``m0``, ``m0a``: the dictionary stores (default: their paths in :mod:`mpisweep.sweep.layout`).
    """
    t0 = time.perf_counter()
    outdir = Path(outdir) if outdir is not None else sweep.layout.fits
    if isinstance(check_report, (str, os.PathLike)):
        check_report = json.loads(Path(check_report).read_text())
    fitted = measurement.fitted(sweep, check_report)  # the rows above the SNR (frequencies.select, fit.snr_threshold)
    loaded = len(fitted.bins) if fitted.selection is None else fitted.selection.rows.shape[1]
    if loaded < len(sweep.bins):
        log(f"frequencies.select snr: {loaded} of {len(sweep.bins)} bins reach an SNR of {sweep.snr_band[1]:g}")
    _report_rows(sweep, fitted, log)
    measured, bins, rows, selection = fitted.measured, fitted.bins, fitted.rows, fitted.selection
    log(f"measured: {measured.sizes['angle']} angles × {measured.sizes['channel']} channels × "
        f"{measured.sizes['frequency']} bins × {measured.sizes['offset']} offsets")
    # one dictionary in memory at a time (3 GB each at the paper's size): M0, then M0a, then fp for M1-M3
    r0 = fit_m0(measured, open_m0(sweep, m0), bins, rows=rows)
    log(f"M0: best D = {r0.best_diameter:g} nm, ε_global = {r0.eps_global_best:.6g}")
    p = sweep.parameter
    r0a = None  # M0a, the anisotropic equilibrium, is M0 for the Brownian model (no anisotropy)
    if sweep.model == "neel":
        r0a = fit_m0a(measured, open_m0a(sweep, m0a, log=log)[0], bins, rows=rows)
        log(f"M0a: best (D, K) = ({r0a.best_diameter:g} nm, {r0a.best_anisotropy:g} J/m³), "
            f"ε_global = {r0a.eps_global_best:.6g}")
    dictionary, fp_attrs = open_fp(sweep, fp, log=log)
    r1 = fit_m1(measured, dictionary, bins, rows=rows)
    log(f"M1: best (D, {p.short}) = ({r1.best_diameter:g} nm, {r1.best_anisotropy:g} {p.unit}), "
        f"ε_global = {r1.eps_global_best:.6g}")
    r2 = fit_m2(measured, dictionary, bins, ranks=sweep.fit.ranks, svd=sweep.fit.svd, rows=rows)
    for frac, s, e in zip(r2.rank_fractions, r2.ranks, r2.eps_global):
        log(f"M2: rank {100 * frac:g} % (s = {int(s)}): ε_global = {float(e):.6g}")
    m3 = sweep.fit.m3
    r3 = fit_m3(measured, dictionary, bins, ranks=m3.ranks, l2=m3.l2, max_iter=m3.max_iter, tol=m3.tol, rows=rows)
    for i, row in enumerate(r3.to_table()):
        top = ", ".join(f"({w['diameter']:g}, {w[p.name]:g}) {w['weight']:.3f}" for w in r3.largest_weights(i, 3))
        log(f"M3: rank {100 * row['rank_fraction']:g} % (s = {row['rank']}), λ = {m3.l2:g}: "
            f"ε_global = {row['eps_global']:.6g} after {row['iterations']} iterations"
            f"{'' if row['converged'] else ' (not converged)'}; largest weights {top}")
    at_fitted = {}  # M1's entry and M1's and M3's models at the fitted fields, where the stated ones are off
    fields = calibrate_fields(sweep, measured, dictionary, bins, rows, r1, r3, log, at_fitted)
    transfer = check_transfer_function(sweep, measured, dictionary, bins, rows, r1, log, at_fitted.get("M1"))
    del dictionary

    results = (r0, r0a, r1, r2, r3)
    write_tables(sweep, *results, outdir, fields=fields, transfer=transfer)
    ds = models_dataset(sweep, measured, *results, fitted_fields=at_fitted.get("models"))
    with atomic_path(outdir / sweep.layout.models.name) as tmp:
        to_zarr(ds, tmp)
    model_files = write_model_mdfs(sweep, ds, outdir)
    log(f"model system matrices (MDF): {len(model_files)} files under {outdir / 'mdf'}")

    result = summary(sweep, measured, *results, fp_attrs, time.perf_counter() - t0)
    result["rows"] = _rows_summary(sweep, selection)
    result["fields"] = fields
    result["transfer_function"] = transfer
    sweep.write(outdir / sweep.layout.fit_config.name)  # provenance: what these fits used
    write_summary(outdir / sweep.layout.fit_table("summary").name, result)
    log(f"fits written to {outdir} in {result['wall_time_s']:.1f} s, peak memory {result['peak_rss_gb']:.2f} GB")
    return result
