"""The fit step's field calibration (``fit.fields``): are the fields the files state the ones the particles saw?

After the fits at the stated fields, the scales of the offset axes and drive channels relative to the first
drive channel are fitted jointly with M3 on a few entries, each simulated at trial scales
(:func:`mpisweep.fitting.fields.fit_fields`), moving to better entries between passes. When the fitted
fields lower M3's ε_global by at least ``fit.fields.min_gain``, the stated fields are declared off: the
neighbours of M1's and M3's entries are simulated at the fitted fields until those entries settle, and M1
and M3 are given again there. Otherwise the stated fields are consistent, and the answers stand.
"""

from __future__ import annotations

import time

import numpy as np

from ...fitting.fields import (
    FieldParameter,
    Mixture,
    field_parameters,
    fit_fields,
    scales,
    single_residual,
)
from ...fitting.weighted import weighted_fit
from ...physics.block import simulate_block
from ...sweep.config import Sweep
from ...sweep.sections.measurement import FieldScale

MAX_ROUNDS = 4  # neighbourhood rounds at the fitted fields
MAX_PASSES = 4  # fits of the scales on the entries the last rounds settled on
MAX_ITER = 4  # iterations of one pass
TOL = 1e-3  # the scales' convergence
MIN_CHANGE = 0.005  # stated fields within this of the fitted ones are consistent, whatever ε does (noise-free data)


class EntrySimulator:
    """Rows (angle, channel, frequency, offset) of one entry at the fitted bins and scaled fields, simulated as
    the dictionary's blocks are (automatic degree, the sweep's tolerance)."""

    def __init__(self, sweep: Sweep, bins: np.ndarray, parameters: tuple[FieldParameter, ...]):
        self.sweep, self.parameters = sweep, parameters
        self.bins = np.asarray(bins)  # rfft bins k
        self.axes = sweep.easy_axes if sweep.directions else sweep.angles
        self.count = 0
        self.seconds = 0.0

    def rows(self, diameter: float, value: float, theta) -> np.ndarray:
        sweep = self.sweep
        offsets, drive = scales(self.parameters, theta, len(sweep.excitation.amplitudes))
        excitation, grid = FieldScale(offsets=offsets, drive=drive).apply(sweep.excitation, sweep.offsets)
        particle = sweep.particle(diameter, value)
        result = simulate_block(particle, excitation, self.axes, grid, self.bins, rtol=sweep.solver_rtol(particle),
                                max_degree=None, channels=sweep.scanner.receive_axes, check=False)
        self.count += 1
        self.seconds += result.wall_time
        return result.rows.reshape(result.rows.shape[:3] + (-1,))


def candidate_entries(r1, r3, best: int, min_weight: float) -> list[tuple[int, int]]:
    """M1's `best` entries by ε_global at the stated fields, then M3's (best rank) with a weight ≥ `min_weight`."""
    shape = r1.eps_global.shape
    order = np.argsort(np.where(np.isfinite(r1.eps_global), r1.eps_global, np.inf), axis=None)
    entries = [tuple(int(i) for i in np.unravel_index(q, shape)) for q in order[:best]]
    weights = np.asarray(r3.weights)[int(np.nanargmin(r3.eps_global))]
    for q in np.argsort(-np.nan_to_num(weights), axis=None):
        entry = tuple(int(i) for i in np.unravel_index(q, shape))
        if weights[entry] >= min_weight and entry not in entries:
            entries.append(entry)
    return entries


def neighbours(entry: tuple[int, int], shape: tuple[int, int]) -> list[tuple[int, int]]:
    """The grid neighbours of an entry (diagonals included)."""
    i, k = entry
    return [(i + di, k + dk) for di in (-1, 0, 1) for dk in (-1, 0, 1)
            if (di or dk) and 0 <= i + di < shape[0] and 0 <= k + dk < shape[1]]


def m1_errors(mixture: Mixture, rows: np.ndarray) -> np.ndarray:
    """M1's ε_global of each entry's rows (J, …): a transfer function per (angle, channel, frequency)."""
    return np.array([mixture.eps(single_residual(mixture, phi)) for phi in rows])


def calibrate_fields(sweep: Sweep, measured, dictionary, bins, rows, r1, r3, log=print) -> dict | None:
    """Fit the field scales (``fit.fields``); the summary's ``fields`` entry, or None when it is off.

    A common scale of all fields is, to the data, nearly the same as a larger or smaller particle moment
    (ξ ∝ M_s V H, paper eq. 4): on a blind set with offsets × 1.07 and drive × 0.96, the truth's two
    entries at the true fields fit with ε_global 0.0413, and five other entries at all fields × 0.83
    with 0.0416. The fit therefore holds the first drive channel at its stated amplitude and fits every
    other scale relative to it (offset axes, further drive channels); a common error of all fields
    shows as a particle diameter off by its cube root (4 % of the fields: 1.3 % of D).

    Passes: the relative scales fitted jointly with M3 on the candidates (M1's best and M3's weighted
    entries at the stated fields); the neighbours of M1's and M3's entries at the fitted scales, predicted
    from the nearest fitted entry's change, name the entries of the next pass, until they no longer
    change. Then the neighbours are simulated at the fitted scales until M1's and M3's entries settle
    (with one more pass when those differ from the entries fitted). The stated fields
    are declared off when the fitted ones lower M3's ε_global below that of the whole dictionary at the
    stated fields by at least ``fit.fields.min_gain`` and some scale is off by at least 0.5 %; M1 and M3
    are then given on the entries simulated at the fitted fields.
    """
    settings = sweep.fit.fields
    if not settings.calibrate:
        return None
    t0 = time.perf_counter()
    parameters = field_parameters(sweep.offsets, sweep.excitation.amplitudes)
    free = np.array([not (q.kind == "drive" and q.axis == 0) for q in parameters])
    if not free.any():
        log("field calibration: one drive channel and no offset axis: a common scale of the fields is a particle "
            "size to the data, so there is nothing to fit")
        return {"status": "off", "reason": "no scale relative to the drive"}
    fit = weighted_fit(measured, dictionary, bins, [1.0], rows)
    mixture = Mixture(fit.S, fit.rho, sweep.fit.m3.l2)
    values = (np.asarray(r1.diameters, float), np.asarray(r1.anisotropies, float))
    shape = r1.eps_global.shape
    finite = {tuple(int(i) for i in e) for e in np.argwhere(np.isfinite(r1.eps_global))}
    simulator = EntrySimulator(sweep, fit.bins, parameters)

    def physical(e):
        return float(values[0][e[0]]), float(values[1][e[1]])

    def stated(e):
        return fit.dic.read(diameter=e[0], anisotropy=e[1], frequency=fit.pos)

    def settle(rows: dict, theta, predict=None) -> int:
        """Add the neighbours of M1's and M3's entries at `theta` to `rows` until those entries settle; the
        rounds run. New rows are simulated, or predicted by `predict(entry)`."""
        for rounds in range(MAX_ROUNDS):
            picks = _picks(mixture, rows, settings.min_weight)
            new = sorted({n for e in picks for n in neighbours(e, shape)} & finite - set(rows))
            if not new:
                return rounds
            if predict is None:
                log(f"field calibration: {len(new)} neighbours simulated at the fitted fields")
            for e in new:
                rows[e] = simulator.rows(*physical(e), theta) if predict is None else predict(e)
        return MAX_ROUNDS

    entries = candidate_entries(r1, r3, settings.candidates, settings.min_weight)
    theta = np.ones(len(parameters))
    exact = {e: stated(e) for e in entries}  # rows at `theta`
    derivatives: dict = {}  # ∂Φ/∂θ of the entries fitted so far
    iterations, passes = 0, 0

    def fit_pass(entries, anchors):
        """Fit the scales on `entries` from their rows at `theta`; the fit and its rows."""
        nonlocal iterations, passes
        log(f"field calibration: {', '.join(q.name for q, f in zip(parameters, free) if f)} relative to the "
            f"stated drive x on {[physical(e) for e in entries]}")
        deriv = np.stack([_nearest(derivatives, e) for e in entries]) if derivatives else None
        ff = fit_fields(mixture, np.stack([anchors[e] for e in entries]),
                        lambda j, th: simulator.rows(*physical(entries[j]), th), parameters, start=theta, free=free,
                        deriv=deriv, bound=settings.max_change, tol=TOL, max_iter=MAX_ITER, log=log)
        derivatives.update(zip(entries, ff.derivatives))
        iterations, passes = iterations + len(ff.history) - 1, passes + 1
        return ff, dict(zip(entries, ff.rows))

    ff, exact = fit_pass(entries, exact)
    theta = ff.theta
    looks_off = ff.eps_fitted <= (1 - settings.min_gain) * ff.eps_start
    while looks_off and passes < MAX_PASSES:
        # which entries fit best at these scales? neighbours predicted from the nearest fitted entry's change
        def predict(e, exact=exact):
            near = min(exact, key=lambda n: abs(n[0] - e[0]) + abs(n[1] - e[1]))
            return stated(e) + (exact[near] - stated(near))

        pool = dict(exact)
        settle(pool, theta, predict)
        picks = sorted(_picks(mixture, pool, settings.min_weight))
        if picks == sorted(entries):
            break
        entries = picks
        for e in entries:
            if e not in exact:
                exact[e] = simulator.rows(*physical(e), theta)
        ff, exact = fit_pass(entries, exact)
        theta = ff.theta
    simulated, rounds = dict(exact), 0
    while looks_off:  # the neighbours simulated at the fitted fields until M1's and M3's entries settle
        rounds += settle(simulated, theta)
        picks = sorted(_picks(mixture, simulated, settings.min_weight))
        if picks == sorted(entries) or passes >= MAX_PASSES + 1:
            break
        entries = picks  # the settled entries differ from the ones fitted: fit once more on them
        ff, refit = fit_pass(entries, simulated)
        moved = np.abs(ff.theta - theta).max() > TOL
        theta = ff.theta
        simulated = refit if moved else simulated | refit
    keys = list(simulated)
    stacked = np.stack([simulated[e] for e in keys])
    e1 = m1_errors(mixture, stacked)
    w, a = mixture.solve(stacked)
    eps3 = mixture.eps(mixture.residual(stacked, w, a))
    best_rank = int(np.nanargmin(r3.eps_global))
    eps_stated = mixture.eps(_model_residual(mixture, np.asarray(r3.model)[best_rank]))
    gain = 1.0 - eps3 / eps_stated if eps_stated > 0 else 0.0
    applied = gain >= settings.min_gain and np.abs(theta - 1).max() >= MIN_CHANGE
    p = sweep.parameter

    def entry(e):
        d, v = physical(e)
        return {"diameter": d, p.name: v}

    result = {
        "status": "calibrated" if applied else "consistent",
        "parameters": [{"name": q.name, "stated": 1.0, "fitted": float(t), "sigma": float(s)}
                       for q, t, s in zip(parameters, theta, ff.sigma)],
        "eps_global_stated": eps_stated, "eps_global_fitted": eps3, "gain": gain,
        "min_gain": settings.min_gain, "converged": ff.converged, "iterations": iterations,
        "M1": entry(keys[int(np.argmin(e1))]) | {"eps_global": float(e1.min())},
        "M3": {"eps_global": eps3, "largest_weights": [entry(keys[j]) | {"weight": float(w[j])}
                                                       for j in np.argsort(-w) if w[j] > 0][:5]},
        "entries_simulated": len(keys), "neighbour_rounds": rounds,
        "simulations": simulator.count, "simulation_core_s": simulator.seconds,
        "wall_time_s": time.perf_counter() - t0,
    }
    _log(result, p, log)
    return result


def _nearest(derivatives: dict, entry: tuple[int, int]) -> np.ndarray:
    """The derivatives of `entry`, or of the nearest entry on the grid that has them (a neighbour's rows change
    with the fields much as its own do)."""
    key = min(derivatives, key=lambda e: abs(e[0] - entry[0]) + abs(e[1] - entry[1]))
    return derivatives[key]


def _model_residual(mixture: Mixture, model: np.ndarray) -> np.ndarray:
    """ρ (S − model) on the rows used, as real numbers."""
    r = (mixture.rho[..., None] * (mixture.S - model))[mixture.used]
    return np.concatenate([r.real.ravel(), r.imag.ravel()])


def _picks(mixture: Mixture, simulated: dict, min_weight: float) -> set:
    """M1's entry and M3's weighted entries among the entries simulated at the fitted fields."""
    keys = list(simulated)
    stacked = np.stack([simulated[e] for e in keys])
    w, _ = mixture.solve(stacked)
    picks = {keys[int(np.argmin(m1_errors(mixture, stacked)))]}
    return picks | {keys[j] for j in np.flatnonzero(w >= min_weight)}


def _log(result: dict, p, log) -> None:
    scales_text = ", ".join(f"{q['name']} × {q['fitted']:.4f} ± {q['sigma']:.4f}" for q in result["parameters"])
    change = (f"M3 ε_global {result['eps_global_stated']:.5g} at the stated fields, "
              f"{result['eps_global_fitted']:.5g} at the fitted ones ({100 * result['gain']:.1f} % lower)")
    if result["status"] == "consistent":
        log(f"field calibration: the stated fields are consistent ({scales_text}; {change}); the answers stand")
        return
    m1 = result["M1"]
    top = ", ".join(f"({w['diameter']:g}, {w[p.name]:g}) {w['weight']:.3f}" for w in result["M3"]["largest_weights"])
    log(f"warning: field calibration: the stated fields are off ({scales_text}; {change})")
    log(f"field calibration: at the fitted fields M1 ({m1['diameter']:g} nm, {m1[p.name]:g} {p.unit}) "
        f"ε_global {m1['eps_global']:.5g}; M3 {top}, ε_global {result['M3']['eps_global']:.5g} "
        f"({result['simulations']} simulations, {result['simulation_core_s']:.0f} core-s)")
