"""Fit step: a measured receive transfer function (``fit.transfer_function``) checked against the data.

M1's entry (at the fitted fields where the field calibration found the stated ones off) is fitted again with
the file's transfer function (one gain per receive channel and one delay instead of eq. 15's free gain per row),
for every file channel and both ways of applying it unless the config names them; where the stated fields hold,
M1 is then repeated over the dictionary with the best way. How far the free gains stray
from the file's, harmonic by harmonic, shows what the receive chain leaves unexplained.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import ConfigError
from ...fitting.inputs import dictionary_inputs
from ...fitting.metrics import epsilon_freq, epsilon_global, row_error, transfer_function
from ...fitting.receive import compare_receive, fit_m1_measured_transfer
from ...fitting.results import py_value
from ...io.receive_chain import TransferTable
from ...sweep.config import Sweep


def check_transfer_function(sweep: Sweep, measured, dictionary, bins, rows, r1, log, at_fitted=None) -> dict:
    """The summary of the check (``{"status": "off"}`` without a file); logs what it finds.

    at_fitted: M1's entry and rows at the fitted fields, ((D, value), rows), where the field calibration found
    the stated fields off: the ways of applying the file are then compared there, and M1 over the dictionary
    (whose rows are at the stated fields) is left out: at fields the particles did not see, the file would only
    measure how far off those are."""
    settings = sweep.fit.transfer_function
    if not settings.path:
        return {"status": "off"}
    path = Path(settings.path)
    if not path.is_file():
        raise ConfigError(f"config key 'fit.transfer_function.path': {path} not found")
    table = TransferTable.read(path)
    k, _, _, dic, S, _, _ = dictionary_inputs(measured, dictionary, bins)
    if at_fitted is None:
        where, (diameter, value) = "the stated fields", (r1.best_diameter, r1.best_anisotropy)
        phi = dic.read(diameter=r1.best_index[0], anisotropy=r1.best_index[1], frequency=dic.freq_positions(k))
    else:
        where, ((diameter, value), phi) = "the fitted fields", at_fitted
    free = transfer_function(S, phi)
    free_eps = float(epsilon_global(epsilon_freq(row_error(S, free[..., None] * phi), rows=rows)))
    how = None if settings.applied_to == "auto" else settings.applied_to
    fits = compare_receive(S, phi, table, k, sweep.cycle, rows, settings.channels, how)
    chosen = fits[0]
    p = sweep.parameter
    log(f"transfer function {path}: at M1's entry at {where}, (D, {p.short}) = ({diameter:g} nm, "
        f"{value:g} {p.unit}), free gains ε_global {free_eps:.4g}")
    for f in fits:
        log(f"  {f.describe()}")
    entry = {"diameter": py_value(diameter), p.name: py_value(value)}
    result = {
        "status": "fitted", "path": str(path), "fields": where,
        "candidates": [{**entry, **f.to_dict(), "eps_global_free": free_eps} for f in fits],
        "chosen": {"channels": list(chosen.channels), "applied_to": chosen.applied_to},
        "free_over_measured": _free_over_measured(free, chosen, table, k, sweep.cycle),
        "bins": [int(b) for b in k],
    }
    if at_fitted is not None:
        log("M1 over the dictionary with the measured transfer function: left out, the dictionary is at the "
            "stated fields, which are off")
        return result
    m1 = fit_m1_measured_transfer(measured, dictionary, bins, sweep.cycle, table, chosen.channels,
                                  chosen.applied_to, rows)
    free_there = float(r1.eps_global[m1.best_index])
    log(f"M1 with the measured transfer function ({chosen.applied_to}): best (D, {p.short}) = "
        f"({m1.best_diameter:g} nm, {m1.best_anisotropy:g} {p.unit}), ε_global = {m1.fit.eps_global:.6g} "
        f"(free gains there {free_there:.4g}), delay {m1.fit.delay * 1e6:+.3f} µs")
    return result | {"M1": {"diameter": m1.best_diameter, p.name: m1.best_anisotropy, **m1.fit.to_dict(),
                            "eps_global_free": free_there, "eps_freq": [float(e) for e in m1.fit.eps_freq]}}


def _free_over_measured(free, chosen, table: TransferTable, bins, period: float) -> list[float]:
    """Per evaluation bin, the median over angles and channels of |free gain| / |fitted measured gain| at M1's
    entry: 1 where the file explains the receive chain, a trend over the harmonics where it does not."""
    h = table.response(chosen.channels, chosen.applied_to, np.asarray(bins, float) / period)
    fitted = np.abs(chosen.gain[:, None] * h)  # (C, F)
    ratio = np.full(free.shape, np.nan)
    np.divide(np.abs(free), fitted[None], out=ratio, where=fitted[None] > 0)
    return [float(v) for v in np.nanmedian(ratio, axis=(0, 1))]


def transfer_rows(check: dict, parameter: str) -> list[dict]:
    """The rows of fits/transfer_function.csv: each way tried at M1's entry, then M1 over the dictionary (where the
    stated fields hold)."""
    if check.get("status") != "fitted":
        return []

    def row(fit: str, r: dict) -> dict:
        return {"fit": fit, "diameter": r["diameter"], "anisotropy": r[parameter],
                "file_channels": ";".join(str(c) for c in r["channels"]), "applied_to": r["applied_to"],
                "delay_us": r["delay_us"], "gain_abs": ";".join(f"{g:.6g}" for g in r["gain_abs"]),
                "gain_phase_deg": ";".join(f"{g:.2f}" for g in r["gain_phase_deg"]),
                "eps_global": r["eps_global"], "eps_global_free": r["eps_global_free"]}

    return [row("M1 entry", r) for r in check["candidates"]] + ([row("M1", check["M1"])] if "M1" in check else [])
