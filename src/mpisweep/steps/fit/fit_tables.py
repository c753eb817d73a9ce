"""The fit step's tidy tables and summary under ``fits/`` (file names in :mod:`mpisweep.sweep.layout`).

* ``m0_eps_global.csv``  diameter (nm), eps_global, best
* ``m0a_eps_global.csv`` diameter (nm), anisotropy (J/m³), eps_global, best (M0a, as M1)
* ``m1_eps_global.csv``  diameter (nm), anisotropy (J/m³), eps_global, best (model brown: the column
  hydrodynamic_diameter (nm) instead of anisotropy, here and in the weight tables; no M0a)
* ``m2_eps_global.csv``  rank_fraction, rank, effective_rank, eps_global, n_nonzero, weight_sum (paper Table 1)
* ``m2_weights.csv``     rank_fraction, rank, diameter, anisotropy, weight
* ``m3_eps_global.csv``  rank_fraction, rank, effective_rank, l2, eps_global, n_nonzero, weight_sum, iterations,
  converged
* ``m3_weights.csv``     rank_fraction, rank, diameter, anisotropy, weight (Σ = 1 per rank)
* ``m3_iterations.csv``  rank_fraction, rank, iteration, objective, misfit, eps_global, weight_change (the
  iteration log of the alternating least squares)
* ``eps_freq.csv``       model, rank_fraction (M2, M3 only), mx, my, bin, eps_freq (the mixing orders: one column
  per drive channel, mx alone for a spectrometer, mx, my, mz for a 3D drive)
* ``eps_rows.csv``       model, rank_fraction (M2, M3 only), angle, channel, mx, my, bin, eps, transfer_re,
  transfer_im (the fitted transfer function â of M0/M0a/M1 per row; M3's shared a_ck, equal for all angles)
* ``fields.csv``         parameter, stated, fitted, sigma, status (the field calibration, ``fit.fields``: the scale
  of each offset axis and drive channel; no rows when it is off)
* ``transfer_function.csv`` fit, diameter, anisotropy, file_channels, applied_to, delay_us, gain_abs,
  gain_phase_deg, eps_global, eps_global_free (the measured transfer function, ``fit.transfer_function``: each
  way of applying it at M1's entry, then M1 over the dictionary with the best; no rows without a file)
* ``summary.json``       ε_global and best parameters per model, M2 and M3 per rank, virtual-scanner truth,
  wall time and peak memory (RSS) of the fit step
"""

from __future__ import annotations

import json

import numpy as np

from ...io.atomic import write_csv, write_json
from ...io.provenance import package_attrs
from ...sweep.config import Sweep
from .transfer import transfer_rows

FIELDS = {
    "m0": ["diameter", "eps_global", "best"],
    "m1": ["diameter", "anisotropy", "eps_global", "best"],
    "m2": ["rank_fraction", "rank", "effective_rank", "eps_global", "n_nonzero", "weight_sum"],
    "weights": ["rank_fraction", "rank", "diameter", "anisotropy", "weight"],
    "m0a": ["diameter", "anisotropy", "eps_global", "best"],
    "m3": ["rank_fraction", "rank", "effective_rank", "l2", "eps_global", "n_nonzero", "weight_sum", "iterations",
           "converged"],
    "m3_weights": ["rank_fraction", "rank", "diameter", "anisotropy", "weight"],
    "m3_iterations": ["rank_fraction", "rank", "iteration", "objective", "misfit", "eps_global", "weight_change"],
    "eps_freq": ["model", "rank_fraction", "rank", "mx", "my", "bin", "eps_freq"],
    "fields": ["parameter", "unit", "stated", "fitted", "sigma", "status"],
    "transfer_function": ["fit", "diameter", "anisotropy", "file_channels", "applied_to", "delay_us", "gain_abs",
                          "gain_phase_deg", "eps_global", "eps_global_free"],
    "eps_rows": ["model", "rank_fraction", "rank", "angle", "channel", "mx", "my", "bin", "eps", "transfer_re",
                 "transfer_im"],
}


def write_tables(sweep: Sweep, r0, r0a, r1, r2, r3, outdir, fields: dict, transfer: dict | None = None) -> None:
    """The CSV tables of the fits M0, M0a (not for model brown: ``r0a`` None), M1, M2, M3, of the field
    calibration (`fields`: :func:`~mpisweep.steps.fit.fields.calibrate_fields`'s summary; no rows when it is off)
    and of the measured transfer function (`transfer`: :func:`~mpisweep.steps.fit.transfer.check_transfer_function`'s
    summary; no rows without one)."""
    fits = [r for r in (r0, r0a, r1, r2, r3) if r is not None]
    orders = list(sweep.order_names)  # the mixing-order columns: mx, my for the paper's 2D drive
    rows = {
        "m0": r0.to_table(),
        "m0a": r0a.to_table() if r0a is not None else None,
        "m1": r1.to_table(),
        "m2": r2.to_table(),
        "weights": r2.weights_table(),
        "m3": r3.to_table(),
        "m3_weights": r3.weights_table(),
        "m3_iterations": r3.iteration_table(),
        "eps_freq": [row for r in fits for row in r.freq_table()],
        "eps_rows": [row for r in fits for row in r.row_table()],
        "fields": [{"parameter": q["name"], "unit": q.get("unit", ""), "stated": q["stated"], "fitted": q["fitted"],
                    "sigma": q["sigma"], "status": fields["status"]} for q in fields.get("parameters", [])],
        "transfer_function": transfer_rows(transfer or {}, sweep.parameter.name),
    }
    name = sweep.parameter.name  # the second axis: anisotropy, or hydrodynamic_diameter (model brown)
    for key, table in rows.items():
        if table is not None:
            fields = [name if f == "anisotropy" else f for f in FIELDS[key]]
            if "mx" in fields:
                fields[fields.index("mx"):fields.index("my") + 1] = orders
            write_csv(outdir / sweep.layout.fit_table(key).name, table, fields)


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far, in GB (10⁹ bytes)."""
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / 1e9 if sys.platform == "darwin" else rss * 1024 / 1e9


def read_truth(sweep: Sweep) -> dict | None:
    """The virtual scanner's ground truth, when the measurement is virtual."""
    if sweep.source != "virtual" or not sweep.layout.truth.exists():
        return None
    return json.loads(sweep.layout.truth.read_text())


def summary(sweep: Sweep, measured, r0, r0a, r1, r2, r3, dictionary_attrs: dict, wall_time_s: float) -> dict:
    """summary.json: ε_global and best parameters per model, M2 and M3 per rank, the truth when known.

    With a virtual measurement, ``recovered`` also compares M3's weights (best rank) with the true
    mixture weights normalised to Σ = 1 (``m3_weights_vs_truth``; entries off the grid get NaN).
    """
    truth = read_truth(sweep)
    p = sweep.parameter
    out = {
        "M0": {"eps_global": float(r0.eps_global_best), "best_diameter": float(r0.best_diameter)},
        "M0a": {"eps_global": float(r0a.eps_global_best), "best_diameter": float(r0a.best_diameter),
                "best_anisotropy": float(r0a.best_anisotropy)} if r0a is not None else None,
        "M1": {"eps_global": float(r1.eps_global_best), "best_diameter": float(r1.best_diameter),
               f"best_{p.name}": float(r1.best_anisotropy)},
        "M2": [{"rank_fraction": row["rank_fraction"], "rank": row["rank"], "effective_rank": row["effective_rank"],
                "eps_global": row["eps_global"], "n_nonzero": row["n_nonzero"],
                "largest_weights": r2.largest_weights(i)}
               for i, row in enumerate(r2.to_table())],
        "M3": [{"rank_fraction": row["rank_fraction"], "rank": row["rank"], "effective_rank": row["effective_rank"],
                "l2": row["l2"], "eps_global": row["eps_global"], "n_nonzero": row["n_nonzero"],
                "iterations": row["iterations"], "converged": row["converged"],
                "largest_weights": r3.largest_weights(i)}
               for i, row in enumerate(r3.to_table())],
        "units": {"diameter": "nm", p.name: p.unit},
        "evaluation_bins": int(measured.sizes["frequency"]),
        "measurement": {"source": sweep.source, "files": json.loads(measured.attrs["files"])},
        "truth": truth,
        "config_hash": sweep.config_hash,
        "dictionary_config_hash": dictionary_attrs.get("config_hash"),
        **package_attrs(),
        "wall_time_s": wall_time_s,
        "peak_rss_gb": peak_rss_gb(),
    }
    if truth is not None:
        dom = truth["dominant"]
        out["recovered"] = {
            "true_dominant": [dom["diameter_nm"], dom[p.value_key]],
            "m1": [float(r1.best_diameter), float(r1.best_anisotropy)],
            "m1_equals_dominant": bool(np.isclose(r1.best_diameter, dom["diameter_nm"])
                                       and np.isclose(r1.best_anisotropy, dom[p.value_key])),
            "m3_weights_vs_truth": _m3_vs_truth(sweep, r3),
        }
    if r0a is None:
        del out["M0a"]
    return out


def _m3_vs_truth(sweep: Sweep, r3) -> list[dict]:
    """Per true mixture component: its weight (Σ = 1) and M3's weight there (best rank)."""
    comps = [c for _, c in sweep.components]
    total = sum(float(c["weight"]) for c in comps)
    w = r3.weights[r3.best]
    d, k = np.asarray(r3.diameters, float), np.asarray(r3.anisotropies, float)
    out = []
    name = sweep.parameter.name
    for c in comps:
        i, j = np.flatnonzero(np.isclose(d, c["diameter"])), np.flatnonzero(np.isclose(k, c[name]))
        got = float(w[i[0], j[0]]) if i.size and j.size else float("nan")
        out.append({"diameter": float(c["diameter"]), name: float(c[name]),
                    "true_weight": float(c["weight"]) / total, "m3_weight": got})
    return out


def write_summary(path, summary_dict: dict) -> None:
    write_json(path, summary_dict)
