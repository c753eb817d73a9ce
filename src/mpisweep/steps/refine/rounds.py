"""Workflow step `refine`: one round of a coarse-to-fine sweep (config ``refine``).

Round 0 fits the coarse subgrid (or, with ``refine.screening``, the whole grid at the screening
fidelity, :func:`screening_round`); round r fits the blocks that round r − 1 chose. Each round fits M1,
M2 and M3 on the blocks simulated so far (the others are missing: NaN in the dictionary, left out of
every fit), decides with :func:`mpisweep.sweep.refine.next_entries` and writes
``refine/round_<r>.json``: the blocks it fitted, those it added, the core-seconds they cost (their
markers' wall times), the answer, the next round's blocks and whether the sweep is done (and why);
plus the table of all rounds so far (the workflow writes the last round's as ``refine/rounds.csv``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from ...errors import StoreError
from ...fitting import fit_m1, fit_m2, fit_m3
from ...io.atomic import write_json
from ...sweep import measured as measurement
from ...sweep.config import Sweep
from ...sweep.coords import row_shape
from ...sweep.fidelity import FULL, SCREENING, screening_sweep
from ...sweep.names import block_name
from ...sweep.refine import (
    Answer,
    coarse_grid,
    decide,
    decide_screened,
    heavy_entries,
    read_round,
    screening_candidates,
)
from ..dictionary.simulate import block_marker, read_block, read_marker
from .screening import FilledScreening, screened_names

TABLE_FIELDS = ["round", "fidelity", "blocks_added", "blocks", "core_seconds", "core_seconds_total", "m1_diameter",
                "m1_value", "m1_eps_global", "m3_eps_global", "m3_weights", "stop"]


def entry_names(sweep: Sweep, entries) -> list[str]:
    """Block names of grid entries (i, j), in the sweep's block order."""
    d, p = sweep.grids.diameters_nm, sweep.parameter_values
    names = {block_name(d[i], p[j], sweep.parameter.symbol): (i, j) for i, j in entries}
    return [name for name, _, _ in sweep.blocks if name in names]


def name_entries(sweep: Sweep, names) -> list[tuple[int, int]]:
    """Grid entries (i, j) of block names, in the order given."""
    index = {name: divmod(b, len(sweep.parameter_values)) for b, (name, _, _) in enumerate(sweep.blocks)}
    return [index[n] for n in names]


def round_blocks(sweep: Sweep, previous: dict | None) -> list[str]:
    """The full-fidelity blocks round r fits: the coarse subgrid for round 0 (none after a screening round 0),
    else what round r − 1 chose."""
    if previous is None:
        if sweep.refine.screening is not None:
            return []
        shape = (len(sweep.grids.diameters_nm), len(sweep.parameter_values))
        return entry_names(sweep, coarse_grid(shape, sweep.refine.coarse_step))
    return list(previous["next"])


def partial_dictionary(sweep: Sweep, names, reader=read_block) -> xr.DataArray:
    """The dictionary (diameter, parameter, angle, channel, frequency, offset) with the rows of the named
    blocks (`reader(sweep, name)`: their shards) and NaN everywhere else (the fits leave non-finite entries
    out)."""
    g, p = sweep.grids, sweep.parameter
    shape = row_shape(sweep)
    rows = np.full((len(g.diameters_nm), len(sweep.parameter_values)) + shape[:3] + (int(np.prod(shape[3:])),),
                   np.nan + 0j)
    for name, (i, j) in zip(names, name_entries(sweep, names)):
        block = reader(sweep, name)["rows"].transpose("angle", "channel", "frequency", *sweep.offset_dims)
        rows[i, j] = np.asarray(block.values).reshape(rows.shape[2:])
    return xr.DataArray(rows, dims=("diameter", p.name, "angle", "channel", "frequency", "offset"),
                        coords={"diameter": list(g.diameters_nm), p.name: list(sweep.parameter_values),
                                "frequency": sweep.bin_indices})


@dataclass(frozen=True)
class RoundFit:
    """M1, M2 and M3 of one round: M1's ε_global map, the M2/M3 weights (lowest-ε_global rank; NaN for blocks
    not simulated), M3's ε_global and the answer."""

    eps: np.ndarray
    w2: np.ndarray
    w3: np.ndarray
    m3_eps: float
    answer: Answer


def fit_round(sweep: Sweep, names, reader=read_block) -> RoundFit:
    """Fit the named blocks of `sweep` (a fidelity level) against its measured rows."""
    fitted = measurement.fitted(sweep)  # the rows the fit step uses too
    measured, bins, rows = fitted.measured, fitted.bins, fitted.rows
    dictionary = partial_dictionary(sweep, names, reader)  # the fits read the bins they need by label
    r1 = fit_m1(measured, dictionary, bins, rows=rows)
    r2 = fit_m2(measured, dictionary, bins, ranks=sweep.fit.ranks, svd=sweep.fit.svd, rows=rows)
    m3 = sweep.fit.m3
    r3 = fit_m3(measured, dictionary, bins, ranks=m3.ranks, l2=m3.l2, max_iter=m3.max_iter, tol=m3.tol,
                rows=rows)
    best2, best3 = int(np.nanargmin(r2.eps_global)), int(np.nanargmin(r3.eps_global))
    w2, w3 = r2.shown_weights[best2], r3.shown_weights[best3]
    eps = np.asarray(r1.eps_global, float)
    m3_eps = float(r3.eps_global[best3])
    answer = Answer(tuple(int(v) for v in np.unravel_index(int(np.nanargmin(eps)), eps.shape)), w3, m3_eps)
    return RoundFit(eps, w2, w3, m3_eps, answer)


def mixture_swap(sweep: Sweep, weights: np.ndarray):
    """The swap test of a mixture (``refine.screening.swap_margin``): which grid neighbours of an entry that M3
    weights could take its place. M3 on the screening rows with that entry replaced by the neighbour, the other
    weighted entries kept, must fit within swap_margin of M3 on the weighted entries themselves; a neighbour
    that makes the mixture fit worse is ruled out without a full-fidelity block. None when the setting is off
    or M3 weights fewer than two entries (a single component: the screening ε map of M1 decides)."""
    margin = sweep.refine.screening.swap_margin
    support = heavy_entries([weights], sweep.refine.weight_threshold)
    if margin is None or len(support) < 2:
        return None
    level = screening_sweep(sweep)
    fitted = measurement.fitted(level)
    dictionary = partial_dictionary(level, [n for n, _, _ in level.blocks], FilledScreening(sweep))
    m3 = sweep.fit.m3

    def eps(entries) -> float:
        kept = np.full(dictionary.shape[:2], False)
        kept[tuple(np.transpose(entries))] = True
        r = fit_m3(fitted.measured, dictionary.where(kept[:, :, None, None, None, None]), fitted.bins,
                   ranks=m3.ranks, l2=m3.l2, max_iter=m3.max_iter, tol=m3.tol, rows=fitted.rows)
        return float(np.nanmin(r.eps_global))

    reference = eps(support)

    def swap(seed, entries):
        if seed not in support:
            return None
        others = [e for e in support if e != seed]
        return [e for e in entries if eps(others + [e]) <= (1.0 + margin) * reference]

    return swap


def table_row(sweep: Sweep, index: int, fidelity: str, added, names, seconds: float, fit: RoundFit, stop: str,
              previous: dict | None) -> dict:
    """One row of the rounds table."""
    g = sweep.grids
    i, j = fit.answer.m1
    heavy = sorted(((float(w), (a, b)) for (a, b), w in np.ndenumerate(np.nan_to_num(fit.w3)) if w > 0.01),
                   reverse=True)
    return {
        "round": index, "fidelity": fidelity, "blocks_added": len(added), "blocks": len(names),
        "core_seconds": round(seconds, 3),
        "core_seconds_total": round(seconds + (previous["table"][-1]["core_seconds_total"] if previous else 0.0), 3),
        "m1_diameter": g.diameters_nm[i], "m1_value": sweep.parameter_values[j],
        "m1_eps_global": float(np.nanmin(fit.eps)), "m3_eps_global": fit.m3_eps,
        "m3_weights": "; ".join(f"({g.diameters_nm[a]:g}, {sweep.parameter_values[b]:g}) {w:.3f}"
                                for w, (a, b) in heavy),
        "stop": stop,
    }


def answer_json(sweep: Sweep, fit: RoundFit) -> dict:
    i, j = fit.answer.m1
    return {"m1_index": [i, j], "m1": {"diameter": sweep.grids.diameters_nm[i],
                                         sweep.parameter.name: sweep.parameter_values[j]},
            "m3_weights": np.asarray(fit.w3, float).tolist(), "m2_weights": np.asarray(fit.w2, float).tolist()}


def screening_round(sweep: Sweep, output=None, log=print) -> dict:
    """Round 0 of multi-fidelity rounds: fit the whole grid at the screening fidelity and name the candidates
    the full-fidelity rounds start from (:func:`mpisweep.sweep.refine.screening_candidates`)."""
    t0 = time.perf_counter()
    level = screening_sweep(sweep)
    names = [n for n, _, _ in level.blocks]
    screened = screened_names(sweep)  # the others filled by a spline along the parameter axis
    seconds = float(sum(read_marker(level.layout.marker(n))["wall_time_s"] for n in screened))
    fit = fit_round(level, names, FilledScreening(sweep))
    candidates = screening_candidates(fit.eps, [fit.w3] if sweep.refine.screening.swap_margin is not None
                                      else [fit.w2, fit.w3], sweep.refine)
    nxt = entry_names(sweep, candidates)
    row = table_row(sweep, 0, SCREENING, screened, names, seconds, fit, "", None)
    result = {
        "round": 0, "fidelity": SCREENING, "level": 0, "blocks": [], "added": [], "next": nxt, "done": False,
        "stop": "", "answer": answer_json(sweep, fit), "eps_global_m1": fit.eps.tolist(),
        "screening": {"blocks": len(names), "screened": len(screened), "angles": list(level.angles),
                      "offsets": list(level.offset_grid.shape), "core_seconds": round(seconds, 3),
                      "eps_global_m1": fit.eps.tolist(), "answer": answer_json(sweep, fit)},
        "table": [row], "fit_seconds": time.perf_counter() - t0,
    }
    write_json(Path(output) if output is not None else sweep.layout.refine_round(0), result)
    d, v = row["m1_diameter"], row["m1_value"]
    filled = f", {len(names) - len(screened)} filled by spline" if len(screened) < len(names) else ""
    log(f"refine round 0 (screening: {len(level.angles)} of {len(sweep.angles)} angles, {level.offset_grid.size} of "
        f"{sweep.offset_grid.size} offsets): {len(screened)} blocks ({seconds:.0f} core-s){filled}, M1 ({d:g} nm, "
        f"{v:g} {sweep.parameter.unit}), {len(nxt)} blocks next at full fidelity")
    return result


def refine_round(sweep: Sweep, index: int, previous=None, output=None, log=print) -> dict:
    """Fit round `index` (0: the coarse subgrid, or the screening of the whole grid) and write its JSON
    (default ``layout.refine_round``)."""
    if isinstance(previous, (str, Path)):
        previous = read_round(previous)
    if index == 0 and sweep.refine.screening is not None:
        return screening_round(sweep, output, log)
    t0 = time.perf_counter()
    names = round_blocks(sweep, previous)
    done = set(name_entries(sweep, names))
    added = [n for n in names if previous is None or n not in previous["blocks"]]
    seconds = float(sum(block_marker(sweep, n)["wall_time_s"] for n in added))
    fit = fit_round(sweep, names)
    answer = fit.answer

    previous_answer = None if previous is None else Answer(
        tuple(previous["answer"]["m1_index"]), np.asarray(previous["answer"]["m3_weights"], float),
        float(previous["table"][-1]["m3_eps_global"]))
    if sweep.refine.screening is None:
        before = None if previous is None else (previous["level"], previous_answer)
        decision = decide(fit.eps, [fit.w2, fit.w3], done, sweep.refine, answer, index, before)
    else:  # after the screening round (whose answer is at another fidelity: never compared with)
        eps_screen = np.asarray(previous["screening"]["eps_global_m1"], float)
        decision = decide_screened(fit.eps, [fit.w2, fit.w3], done, eps_screen, sweep.refine, answer, index,
                                   None if previous.get("fidelity") == SCREENING else previous_answer,
                                   swap=mixture_swap(sweep, fit.w3))
    new, level, stop = decision.entries, decision.level, decision.stop
    row = table_row(sweep, index, FULL, added, names, seconds, fit, stop, previous)
    result = {
        "round": index,
        "fidelity": FULL,
        "level": level,  # the lattice the next round's blocks were chosen on: spacing(coarse_step, level)
        "blocks": names,
        "added": added,
        "next": names if stop else entry_names(sweep, done | set(new)),
        "done": bool(stop),
        "stop": stop,
        "answer": answer_json(sweep, fit),
        "eps_global_m1": fit.eps.tolist(),
        "table": (previous["table"] if previous else []) + [row],
        "fit_seconds": time.perf_counter() - t0,
    } | ({"screening": previous["screening"]} if previous and "screening" in previous else {})
    output = Path(output) if output is not None else sweep.layout.refine_round(index)
    write_json(output, result)
    d_best, v_best = row["m1_diameter"], row["m1_value"]
    log(f"refine round {index}: {len(names)} blocks ({len(added)} new, {seconds:.0f} core-s), M1 ({d_best:g} nm, "
        f"{v_best:g} {sweep.parameter.unit}), {'done: ' + stop if stop else f'{len(new)} blocks next'}")
    return result


def screening_table(sweep: Sweep, last: dict) -> tuple[list[dict], list[str]]:
    """M1's ε_global over the whole grid at the screening fidelity, from a multi-fidelity run's last round: rows
    (fidelity, diameter, parameter, eps_global, best) and the field names. StoreError when the run had no
    screening round."""
    if "screening" not in last:
        raise StoreError(f"refine round {last.get('round')}: the rounds had no screening round (refine.screening)")
    eps = np.asarray(last["screening"]["eps_global_m1"], float)
    best = np.unravel_index(int(np.nanargmin(eps)), eps.shape)
    p = sweep.parameter.name
    screened = set(name_entries(sweep, screened_names(sweep)))
    rows = [{"fidelity": SCREENING, "diameter": d, p: v, "eps_global": float(eps[i, j]), "best": (i, j) == best,
             "filled": (i, j) not in screened}
            for i, d in enumerate(sweep.grids.diameters_nm) for j, v in enumerate(sweep.parameter_values)]
    return rows, ["fidelity", "diameter", p, "eps_global", "best", "filled"]
