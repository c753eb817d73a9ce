"""The fit step's field calibration (``fit.fields``): are the fields the files state the ones the particles saw?

After the fits at the stated fields, the scales of the offset axes and drive channels relative to the first
drive channel, and the centres of the offset axes (where the field-free point is), are fitted jointly with M3
on a few entries, each simulated at trial fields (:func:`mpisweep.fitting.fields.fit_fields`), moving to better
entries between passes. The scales are fitted on some of the rows (:class:`CheckRows`: ``fit.fields.angles``
evenly spread angles on an offset subgrid of ``fit.fields.offsets`` points per axis), since every trial field is a
simulation of those rows and the scales are the same for all of them. When the fitted
fields lower M3's ε_global by at least ``fit.fields.min_gain``, the stated fields are declared off: the
neighbours of M1's and M3's entries are simulated at the fitted fields until those entries settle, and M1
and M3 are given again there, on all rows. Otherwise the stated fields are consistent, and the answers stand.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from ...errors import ConfigError
from ...fitting.fields import (
    FieldChange,
    FieldParameter,
    Mixture,
    field_parameters,
    fit_fields,
    normalized_offsets,
    profile,
    scales,
    single_residual,
)
from ...fitting.metrics import epsilon_freq, row_error, transfer_function
from ...fitting.weighted import weighted_fit
from ...physics.block import simulate_varying_drive
from ...sweep.config import Sweep
from ...sweep.fidelity import angle_indices
from ...sweep.refine import neighbours
from ...sweep.sections.measurement import FieldScale
from ...units import MT

MAX_ROUNDS = 4  # neighbourhood rounds at the fitted fields
MAX_PASSES = 4  # fits of the scales on the entries the last rounds settled on
MAX_ITER = 4  # iterations of one pass
TOL = 1e-3  # the scales' convergence
CACHED_ROWS = 64  # entries × fields whose rows are kept for a change of the receive sensitivity alone
MIN_CHANGE = 0.005  # stated fields within this of the fitted ones are consistent, whatever ε does (noise-free data)


def spread(n: int, count: int | None) -> np.ndarray:
    """`count` of the indices 0 … n − 1 evenly spread, both ends included (all of them for None or count ≥ n)."""
    if count is None or count >= n:
        return np.arange(n)
    if count == 1:
        return np.array([0])
    return np.array(sorted({round(i * (n - 1) / (count - 1)) for i in range(count)}))


@dataclass(frozen=True)
class CheckRows:
    """The rows the field scales are fitted on: ``fit.fields.angles`` of the angle axis (evenly spread, the first
    included, as the screening's) and, per offset axis, ``fit.fields.offsets`` points evenly spread with the
    edges (which hold most of a scale: the field there changes most with it)."""

    angles: np.ndarray  # indices on the angle axis
    grid: tuple[np.ndarray, ...]  # indices per offset grid dimension ((z,) y, x)
    shape: tuple[int, ...]  # the offset grid's shape
    n_angles: int

    @classmethod
    def of(cls, sweep: Sweep, n_angles: int) -> "CheckRows":
        settings = sweep.fit.fields
        shape = sweep.offsets.shape[:-1]
        angles = np.arange(n_angles) if settings.angles is None else np.array(angle_indices(n_angles, settings.angles))
        return cls(angles, tuple(spread(n, settings.offsets) for n in shape), shape, n_angles)

    @property
    def offsets(self) -> np.ndarray:
        """Flat offset indices (the order of the grid's reshape(-1))."""
        return np.ravel_multi_index(np.ix_(*self.grid), self.shape).ravel()

    @property
    def full(self) -> bool:
        return self.angles.size == self.n_angles and self.offsets.size == int(np.prod(self.shape))

    @property
    def share(self) -> float:
        """These rows as a share of all (angle, offset) rows."""
        return self.angles.size * self.offsets.size / (self.n_angles * int(np.prod(self.shape)))

    def take(self, rows: np.ndarray) -> np.ndarray:
        """Rows (angle, channel, frequency, offset), or weights (angle, channel, frequency), at these rows."""
        if self.full:
            return rows
        rows = np.asarray(rows)[self.angles]
        return rows if rows.ndim == 3 else rows[..., self.offsets]

    def describe(self) -> dict:
        return {"angles": int(self.angles.size), "offsets": [int(g.size) for g in reversed(self.grid)],
                "rows_share": self.share}


class EntrySimulator:
    """Rows (angle, channel, frequency, offset) of one entry at the fitted bins and scaled fields, simulated as
    the dictionary's blocks are (automatic degree, the sweep's tolerance), at the rows `check` names (default
    all).

    A drive amplitude that varies over the offsets makes every offset its own solve; a receive sensitivity that
    varies multiplies the rows, so the rows of the fields alone are kept and reused when only it changes."""

    def __init__(self, sweep: Sweep, bins: np.ndarray, parameters: tuple[FieldParameter, ...],
                 check: CheckRows | None = None):
        self.sweep, self.parameters = sweep, parameters
        self.bins = np.asarray(bins)  # rfft bins k
        grid = np.ix_(*check.grid) if check is not None else ...
        self.axes = sweep.simulation_axes(None if check is None else check.angles)
        self.offsets = sweep.offsets[grid]
        self.reach = offset_reach(sweep)
        self.normalized = normalized_offsets(sweep.offsets)[grid]  # ô: stated offsets over their axis's largest
        self.count = 0
        self.seconds = 0.0
        self._fields: dict = {}  # rows of the fields alone, by (entry, the fields' part of θ)

    def rows(self, diameter: float, value: float, theta) -> np.ndarray:
        change = scales(self.parameters, theta, len(self.sweep.excitation.amplitudes))
        key = (diameter, value, change.offsets, change.drive, change.centre, change.drive_profile)
        if key not in self._fields:
            if len(self._fields) >= CACHED_ROWS:
                self._fields.pop(next(iter(self._fields)))
            self._fields[key] = self._simulate(diameter, value, change)
        sensitivity = profile(change.sensitivity, self.normalized).reshape(-1)
        return self._fields[key] * sensitivity

    def _simulate(self, diameter: float, value: float, change: FieldChange) -> np.ndarray:
        sweep = self.sweep
        seen = FieldScale(offsets=change.offsets, drive=change.drive,  # as the virtual scanner's miscalibration
                          centre=tuple(float(c * r) for c, r in zip(change.centre, self.reach)))
        excitation, grid = seen.apply(sweep.excitation, self.offsets)
        particle = sweep.particle(diameter, value)
        amplitude = profile(change.drive_profile, self.normalized)
        if np.any(amplitude <= 0):
            raise ConfigError("config key 'fit.fields.max_change': the drive profile reached its bound, where the "
                              "drive amplitude vanishes at the largest offsets; lower it")
        result = simulate_varying_drive(particle, excitation, self.axes, grid, amplitude, self.bins,
                                        rtol=sweep.solver_rtol(particle), max_degree=None,
                                        channels=sweep.scanner.receive_axes, check=False)
        self.seconds += result.wall_time
        self.count += 1  # one entry at one set of fields, however many solves
        return result.rows.reshape(result.rows.shape[:3] + (-1,))


def shared_derivatives(parameters, normalized) -> dict[int, tuple[int, np.ndarray]]:
    """{offset scale: (centre, ô)} per offset axis with both: the scale moves the field the particles see by
    ô × the shift that the centre moves it by (ô the stated offset over the axis's largest, `normalized` (…, 3)
    at the rows' offsets), so ∂Φ/∂scale = ô · ∂Φ/∂centre and one simulation gives both derivatives."""
    index = {(q.kind, q.axis): n for n, q in enumerate(parameters)}
    flat = np.asarray(normalized).reshape(-1, 3)
    return {index["offset", a]: (index["centre", a], flat[:, a]) for a in range(3)
            if ("offset", a) in index and ("centre", a) in index}


def offset_reach(sweep: Sweep) -> tuple[float, ...]:
    """The largest stated offset along x, y, z in mT: the unit of a centre's θ (a shift of (θ − 1) × this)."""
    return tuple(float(v) for v in np.abs(sweep.offsets.reshape(-1, 3)).max(axis=0) / MT)


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


def m1_errors(mixture: Mixture, rows: np.ndarray) -> np.ndarray:
    """M1's ε_global of each entry's rows (J, …): a transfer function per (angle, channel, frequency)."""
    return np.array([mixture.eps(single_residual(mixture, phi)) for phi in rows])


def calibrate_fields(sweep: Sweep, measured, dictionary, bins, rows, r1, r3, log=print,
                     at_fitted: dict | None = None) -> dict:
    """Fit the field scales (``fit.fields``); the summary's ``fields`` entry (status "off" when it is off).
    When the stated fields are off, ``at_fitted`` (if a dict is given) gets M1's entry at the fitted fields under
    "M1", ((diameter, second-axis value), its rows (angle, channel, frequency, offset)), and M1's and M3's model
    rows there under "models" ({"m1": …, "m3": …}, transfer functions applied).

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
    (with one more pass when those differ from the entries fitted). The stated fields are declared off
    when the fitted ones lower M3's ε_global below that of the whole dictionary at the stated fields by
    at least ``fit.fields.min_gain`` and some scale is off by at least 0.5 %; M1 and M3 are then given on
    the entries simulated at the fitted fields.
    """
    if not sweep.fit.fields.calibrate:
        return {"status": "off"}
    settings = sweep.fit.fields
    parameters = field_parameters(sweep.offsets, sweep.excitation.amplitudes, settings.drive_profile,
                                  settings.sensitivity)
    free = np.array([not (q.kind == "drive" and q.axis == 0) for q in parameters])
    if not free.any():
        log("field calibration: one drive channel and no offset axis: a common scale of the fields is a particle "
            "size to the data, so there is nothing to fit")
        return {"status": "off", "reason": "no scale relative to the drive"}
    fit = weighted_fit(measured, dictionary, bins, [1.0], rows)
    check = CheckRows.of(sweep, fit.S.shape[0])
    mixture = Mixture(check.take(fit.S), check.take(fit.rho), sweep.fit.m3.l2)
    simulators = [EntrySimulator(sweep, fit.bins, parameters, check)]
    if not check.full:
        simulators.append(EntrySimulator(sweep, fit.bins, parameters))
        d = check.describe()
        log(f"field calibration: the scales are fitted on {d['angles']} of {check.n_angles} angles × "
            f"{' × '.join(map(str, d['offsets']))} of {' × '.join(map(str, reversed(check.shape)))} offsets "
            f"({100 * check.share:.1f} % of the rows; fit.fields.angles, offsets)")
    everywhere = None if check.full else (Mixture(fit.S, fit.rho, sweep.fit.m3.l2), simulators[-1])
    runs = []
    for scale in settings.start_scales:
        if len(settings.start_scales) > 1:
            log(f"field calibration: starting from the offset scales × {scale:g}")
        calibration = _Calibration(sweep, fit, mixture, r1, parameters, free, log, simulators[0], check, everywhere)
        runs.append((calibration.run(r3, scale), calibration))
    best, calibration = min(runs, key=lambda run: run[0]["eps_global_fitted"])
    if len(runs) > 1:
        best["starts"] = [{"offset_scale": scale, "eps_global_fitted": r["eps_global_fitted"]}
                          for scale, (r, _) in zip(settings.start_scales, runs)]
    if best["status"] == "calibrated" and everywhere is not None:
        best |= calibration.on_all_rows(everywhere)
    best |= {"rows": check.describe(), "simulations": sum(s.count for s in simulators),
             "simulation_core_s": sum(s.seconds for s in simulators)}
    _log(best, sweep.parameter, log)
    if at_fitted is not None and best["status"] == "calibrated":
        at_fitted["M1"], at_fitted["models"] = calibration.m1_rows, calibration.models
    return best


class _Calibration:
    """The state of one field calibration: the measured rows, the entries' rows at the current scales, the
    derivatives found so far and the passes run. `mixture` and `simulator` hold the check's rows; `everywhere`
    (mixture, simulator) all rows, where the check holds fewer (None: it holds all)."""

    def __init__(self, sweep: Sweep, fit, mixture: Mixture, r1, parameters, free, log, simulator: EntrySimulator,
                 check: CheckRows, everywhere: tuple[Mixture, EntrySimulator] | None = None):
        self.sweep, self.fit, self.parameters, self.free, self.log = sweep, fit, parameters, free, log
        self.check, self.everywhere = check, everywhere
        self.settings = sweep.fit.fields
        self.mixture = mixture
        self.values = (np.asarray(r1.diameters, float), np.asarray(r1.anisotropies, float))
        self.shape = r1.eps_global.shape
        self.finite = {tuple(int(i) for i in e) for e in np.argwhere(np.isfinite(r1.eps_global))}
        self.simulator = simulator
        self.shared = shared_derivatives(parameters, simulator.normalized)  # derivatives that share a simulation
        self.r1 = r1
        self.theta = np.ones(len(parameters))
        self.derivatives: dict = {}  # ∂Φ/∂θ of the entries fitted so far
        self.m1_rows = None  # M1's entry and its rows at the fitted fields, once summarised
        self.models: dict = {}  # M1's and M3's model rows at the fitted fields, once summarised
        self.simulated: dict = {}  # the entries' rows on the check's rows at the fitted fields, once summarised
        self.iterations = self.passes = 0

    def physical(self, e) -> tuple[float, float]:
        return float(self.values[0][e[0]]), float(self.values[1][e[1]])

    def stated(self, e) -> np.ndarray:
        """An entry's dictionary rows (at the stated fields) on the check's rows."""
        return self.check.take(self.fit.dic.read(diameter=e[0], anisotropy=e[1], frequency=self.fit.pos))

    def picks(self, rows: dict) -> list:
        return sorted(_picks(self.mixture, rows, self.settings.min_weight))

    def settle(self, rows: dict, predict=None) -> tuple[int, list]:
        """Add the neighbours of M1's and M3's entries at the current scales to `rows` until those entries
        settle; the rounds run and the entries. New rows are simulated, or predicted by `predict(entry)`."""
        for rounds in range(MAX_ROUNDS + 1):
            picks = self.picks(rows)
            new = sorted({n for e in picks for n in neighbours(e, self.shape)} & self.finite - set(rows))
            if not new or rounds == MAX_ROUNDS:
                return rounds, picks
            if predict is None:
                self.log(f"field calibration: {len(new)} neighbours simulated at the fitted fields")
            for e in new:
                rows[e] = self.simulator.rows(*self.physical(e), self.theta) if predict is None else predict(e)

    def fit_pass(self, entries: list, anchors: dict):
        """Fit the scales on `entries` from their rows at the current scales; the fit and the rows at its scales."""
        names = ", ".join(q.name for q, f in zip(self.parameters, self.free) if f)
        self.log(f"field calibration: fitting {names} (scales relative to the stated drive x) on "
                 f"{[self.physical(e) for e in entries]}")
        deriv = (np.stack([self.derivatives[_nearest(self.derivatives, e)] for e in entries]) if self.derivatives
                 else None)
        ff = fit_fields(self.mixture, np.stack([anchors[e] for e in entries]),
                        lambda j, th: self.simulator.rows(*self.physical(entries[j]), th), self.parameters,
                        start=self.theta, free=self.free, deriv=deriv, derived=self.shared,
                        bound=self.settings.max_change, tol=TOL, max_iter=MAX_ITER, log=self.log)
        self.derivatives.update(zip(entries, ff.derivatives))
        self.iterations += len(ff.history) - 1
        self.passes += 1
        self.theta = ff.theta
        return ff, dict(zip(entries, ff.rows))

    def run(self, r3, start: float = 1.0) -> dict:
        """Calibrate from the stated fields, or from the offset scales × `start` (then the entries to fit are
        M1's and M3's among the diameters of the candidates' second-axis values, simulated there)."""
        t0 = time.perf_counter()
        entries = candidate_entries(self.r1, r3, self.settings.candidates, self.settings.min_weight)
        if start == 1.0:
            ff, exact = self.fit_pass(entries, {e: self.stated(e) for e in entries})
            looks_off = (ff.eps_fitted <= (1 - self.settings.min_gain) * ff.eps_start
                         and np.abs(self.theta - 1).max() >= MIN_CHANGE)
        else:
            self.theta = np.array([start if q.kind == "offset" else 1.0 for q in self.parameters])
            lines = sorted({(d, e[1]) for e in entries for d in range(self.shape[0])} & self.finite)
            self.log(f"field calibration: {len(lines)} entries simulated at the starting fields")
            there = {e: self.simulator.rows(*self.physical(e), self.theta) for e in lines}
            entries = self.picks(there)
            ff, exact = self.fit_pass(entries, there)
            looks_off = ff.eps_fitted <= (1 - self.settings.min_gain) * _stated_eps(self.mixture, r3, self.check)
        while looks_off and self.passes < MAX_PASSES:
            # which entries fit best at these scales? neighbours predicted from the nearest fitted entry's change
            def predict(e, exact=exact):
                near = _nearest(exact, e)
                return self.stated(e) + (exact[near] - self.stated(near))

            _, picks = self.settle(dict(exact), predict)
            if picks == sorted(entries):
                break
            entries = picks
            for e in entries:
                if e not in exact:
                    exact[e] = self.simulator.rows(*self.physical(e), self.theta)
            ff, exact = self.fit_pass(entries, exact)
        simulated, rounds = dict(exact), 0
        while looks_off:  # the neighbours simulated at the fitted fields until M1's and M3's entries settle
            done, picks = self.settle(simulated)
            rounds += done
            if picks == sorted(entries) or self.passes > MAX_PASSES:
                break
            entries = picks  # they differ from the entries fitted: fit once more on them
            before = self.theta
            ff, refit = self.fit_pass(entries, simulated)
            simulated = refit if np.abs(self.theta - before).max() > TOL else simulated | refit
        return self.summary(simulated, ff, r3) | {"neighbour_rounds": rounds, "wall_time_s": time.perf_counter() - t0}

    def summary(self, simulated: dict, ff, r3) -> dict:
        """The decision, the scales, and M1 and M3 on the entries simulated at the fitted fields (all on the
        check's rows; :meth:`on_all_rows` gives the answers on all rows)."""
        mixture = self.mixture
        self.simulated = simulated
        keys = list(simulated)
        answers = self.answers(mixture, keys, np.stack([simulated[e] for e in keys]))
        eps3 = answers["M3"]["eps_global"]
        eps_stated = _stated_eps(mixture, r3, self.check)
        gain = 1.0 - eps3 / eps_stated if eps_stated > 0 else 0.0
        applied = gain >= self.settings.min_gain and np.abs(self.theta - 1).max() >= MIN_CHANGE
        return {
            "status": "calibrated" if applied else "consistent",
            "parameters": [_reported(q, t, s if f else None, self.simulator.reach)
                           for q, t, s, f in zip(self.parameters, self.theta, ff.sigma, self.free)],
            "eps_global_stated": eps_stated, "eps_global_fitted": eps3, "gain": gain,
            "min_gain": self.settings.min_gain, "converged": ff.converged, "iterations": self.iterations,
            **answers,
            "entries_simulated": len(simulated),
        }

    def on_all_rows(self, everywhere: tuple[Mixture, EntrySimulator]) -> dict:
        """M1 and M3 on all rows, where the check holds fewer: M1's and M3's entries on the check's rows
        simulated again on all rows at the fitted fields."""
        picks = self.picks(self.simulated)
        self.log(f"field calibration: M1's and M3's {len(picks)} entries simulated on all rows at the fitted fields")
        mixture, simulator = everywhere
        return self.answers(mixture, picks, np.stack([simulator.rows(*self.physical(e), self.theta) for e in picks]))

    def answers(self, mixture: Mixture, keys: list, stacked: np.ndarray) -> dict:
        """M1 and M3 (the summary's entries) among the entries `keys` with rows `stacked`; their model rows go to
        ``models`` and M1's rows to ``m1_rows``."""
        p = self.sweep.parameter
        e1 = m1_errors(mixture, stacked)
        m1 = int(np.argmin(e1))
        best = stacked[m1]
        w, a = mixture.solve(stacked)
        self.m1_rows = (self.physical(keys[m1]), best)
        self.models = {"m1": transfer_function(mixture.S, best)[..., None] * best,
                       "m3": a[None, :, :, None] * np.tensordot(w, stacked, axes=1)}

        def entry(e):
            d, v = self.physical(e)
            return {"diameter": d, p.name: v}

        return {"M1": entry(keys[m1]) | {"eps_global": float(e1[m1]),
                                         "eps_freq": _eps_freq(mixture, self.models["m1"])},
                "M3": {"eps_global": mixture.eps(mixture.residual(stacked, w, a)),
                       "largest_weights": [entry(keys[j]) | {"weight": float(w[j])}
                                           for j in np.argsort(-w) if w[j] > 0][:5],
                       "eps_freq": _eps_freq(mixture, self.models["m3"])}}


def _stated_eps(mixture: Mixture, r3, check: CheckRows) -> float:
    """M3's ε_global at the stated fields (its best rank, the whole dictionary) on the check's rows."""
    return mixture.eps(mixture.weighted(check.take(np.asarray(r3.model)[int(np.nanargmin(r3.eps_global))])))


def _eps_freq(mixture: Mixture, model: np.ndarray) -> list[float]:
    """ε per evaluation bin (paper eq. 21) of model rows (angle, channel, frequency, offset) on the rows used."""
    rows = mixture.used.any(axis=0)
    return [float(e) for e in epsilon_freq(row_error(mixture.S, model), rows=rows)]


def _reported(q: FieldParameter, theta: float, sigma: float | None, reach) -> dict:
    """One unknown as the summary gives it: a scale (stated 1), a centre in mT (stated 0), or a profile's
    coefficient (stated 0)."""
    unit = reach[q.axis] if q.kind == "centre" else 1.0
    stated = 0.0 if q.shift else 1.0
    return {"name": q.name, "unit": "mT" if q.kind == "centre" else "", "stated": stated,
            "fitted": stated + (float(theta) - 1.0) * unit, "sigma": None if sigma is None else float(sigma) * unit,
            "held": sigma is None}


def _nearest(entries, entry: tuple[int, int]) -> tuple[int, int]:
    """`entry` itself when among `entries`, else the nearest of them on the grid (a neighbour's rows change with
    the fields much as the entry's own do)."""
    return min(entries, key=lambda e: abs(e[0] - entry[0]) + abs(e[1] - entry[1]))


def _picks(mixture: Mixture, simulated: dict, min_weight: float) -> set:
    """M1's entry and M3's weighted entries among the entries simulated at the fitted fields."""
    keys = list(simulated)
    stacked = np.stack([simulated[e] for e in keys])
    w, _ = mixture.solve(stacked)
    picks = {keys[int(np.argmin(m1_errors(mixture, stacked)))]}
    return picks | {keys[j] for j in np.flatnonzero(w >= min_weight)}


def _log(result: dict, p, log) -> None:
    """Say what the calibration found; warn (log and UserWarning) when the stated fields are off."""
    scales_text = ", ".join(f"{q['name']} × 1 (held)" if q["held"] else
                            f"{q['name']} {q['fitted']:+.3f} ± {q['sigma']:.3f} mT" if q["unit"] == "mT" else
                            f"{q['name']} {q['fitted']:+.4f} ± {q['sigma']:.4f}" if q["stated"] == 0 else
                            f"{q['name']} × {q['fitted']:.4f} ± {q['sigma']:.4f}" for q in result["parameters"])
    change = (f"M3 ε_global {result['eps_global_stated']:.5g} at the stated fields, "
              f"{result['eps_global_fitted']:.5g} at the fitted ones ({100 * result['gain']:.1f} % lower)")
    if result["status"] == "consistent":
        log(f"field calibration: the stated fields are consistent ({scales_text}; {change}); the answers stand")
        return
    m1 = result["M1"]
    top = ", ".join(f"({w['diameter']:g}, {w[p.name]:g}) {w['weight']:.3f}" for w in result["M3"]["largest_weights"])
    warning = f"field calibration: the stated fields are off ({scales_text}; {change})"
    log(f"warning: {warning}")
    warnings.warn(warning, UserWarning, stacklevel=3)
    log(f"field calibration: at the fitted fields M1 ({m1['diameter']:g} nm, {m1[p.name]:g} {p.unit}) "
        f"ε_global {m1['eps_global']:.5g}; M3 {top}, ε_global {result['M3']['eps_global']:.5g} "
        f"({result['simulations']} simulations, {result['simulation_core_s']:.0f} core-s)")
