"""Workflow step `refine`: one round of a coarse-to-fine sweep (config ``refine``).

Round 0 fits the coarse subgrid; round r fits the blocks that round r − 1 chose. Each round fits M1,
M2 and M3 on the blocks simulated so far (the others are missing: NaN in the dictionary, left out of
every fit), decides with :func:`mpisweep.sweep.refine.next_entries` and writes
``refine/round_<r>.json``: the blocks it fitted, those it added, the core-seconds they cost (their
markers' wall times), the answer, the next round's blocks and whether the sweep is done (and why);
plus the table of all rounds so far (the workflow writes the last round's as ``refine/rounds.csv``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import xarray as xr

from ...fitting import fit_m1, fit_m2, fit_m3
from ...io.atomic import write_json
from ...sweep import measured as measurement
from ...sweep.config import Sweep
from ...sweep.coords import row_shape
from ...sweep.names import block_name
from ...sweep.refine import Answer, coarse_grid, decide, read_round
from ..dictionary.simulate import block_marker, read_block

TABLE_FIELDS = ["round", "blocks_added", "blocks", "core_seconds", "core_seconds_total", "m1_diameter", "m1_value",
                "m1_eps_global", "m3_eps_global", "m3_weights", "stop"]


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
    """The blocks round r fits: the coarse subgrid for round 0, else what round r − 1 chose."""
    if previous is None:
        shape = (len(sweep.grids.diameters_nm), len(sweep.parameter_values))
        return entry_names(sweep, coarse_grid(shape, sweep.refine.coarse_step))
    return list(previous["next"])


def partial_dictionary(sweep: Sweep, names) -> xr.DataArray:
    """The dictionary (diameter, parameter, angle, channel, frequency, offset) with the rows of the named
    blocks and NaN everywhere else (the fits leave non-finite entries out)."""
    g, p = sweep.grids, sweep.parameter
    shape = row_shape(sweep)
    rows = np.full((len(g.diameters_nm), len(sweep.parameter_values)) + shape[:3] + (int(np.prod(shape[3:])),),
                   np.nan + 0j)
    for name, (i, j) in zip(names, name_entries(sweep, names)):
        block = read_block(sweep, name)["rows"].transpose("angle", "channel", "frequency", *sweep.offset_dims)
        rows[i, j] = np.asarray(block.values).reshape(rows.shape[2:])
    return xr.DataArray(rows, dims=("diameter", p.name, "angle", "channel", "frequency", "offset"),
                        coords={"diameter": list(g.diameters_nm), p.name: list(sweep.parameter_values),
                                "frequency": sweep.bin_indices})


def refine_round(sweep: Sweep, index: int, previous=None, output=None, log=print) -> dict:
    """Fit round `index` (0: the coarse subgrid) and write its JSON (default ``layout.refine_round``)."""
    t0 = time.perf_counter()
    if isinstance(previous, (str, Path)):
        previous = read_round(previous)
    names = round_blocks(sweep, previous)
    done = set(name_entries(sweep, names))
    added = [n for n in names if previous is None or n not in previous["blocks"]]
    seconds = float(sum(block_marker(sweep, n)["wall_time_s"] for n in added))

    fitted = measurement.fitted(sweep)  # the rows the fit step uses too
    measured, bins, rows = fitted.measured, fitted.bins, fitted.rows
    dictionary = partial_dictionary(sweep, names)  # the fits read the bins they need by label
    r1 = fit_m1(measured, dictionary, bins, rows=rows)
    r2 = fit_m2(measured, dictionary, bins, ranks=sweep.fit.ranks, svd=sweep.fit.svd, rows=rows)
    m3 = sweep.fit.m3
    r3 = fit_m3(measured, dictionary, bins, ranks=m3.ranks, l2=m3.l2, max_iter=m3.max_iter, tol=m3.tol,
                rows=rows)
    best2, best3 = int(np.nanargmin(r2.eps_global)), int(np.nanargmin(r3.eps_global))
    w2, w3 = r2.shown_weights[best2], r3.shown_weights[best3]  # NaN for the blocks not simulated
    eps = np.asarray(r1.eps_global, float)  # NaN for the blocks not simulated
    answer = Answer(tuple(int(v) for v in np.unravel_index(int(np.nanargmin(eps)), eps.shape)), w3)

    before = None if previous is None else (previous["level"], Answer(
        tuple(previous["answer"]["m1_index"]), np.asarray(previous["answer"]["m3_weights"], float)))
    decision = decide(eps, [w2, w3], done, sweep.refine, answer, index, before)
    new, level, stop = decision.entries, decision.level, decision.stop
    g, p = sweep.grids, sweep.parameter
    d_best, v_best = g.diameters_nm[answer.m1[0]], sweep.parameter_values[answer.m1[1]]
    heavy = sorted(((float(w), (i, j)) for (i, j), w in np.ndenumerate(np.nan_to_num(w3)) if w > 0.01), reverse=True)
    row = {
        "round": index, "blocks_added": len(added), "blocks": len(names), "core_seconds": round(seconds, 3),
        "core_seconds_total": round(seconds + (previous["table"][-1]["core_seconds_total"] if previous else 0.0), 3),
        "m1_diameter": d_best, "m1_value": v_best, "m1_eps_global": float(np.nanmin(eps)),
        "m3_eps_global": float(r3.eps_global[best3]),
        "m3_weights": "; ".join(f"({g.diameters_nm[i]:g}, {sweep.parameter_values[j]:g}) {w:.3f}"
                                for w, (i, j) in heavy),
        "stop": stop,
    }
    result = {
        "round": index,
        "level": level,  # the lattice the next round's blocks were chosen on: spacing(coarse_step, level)
        "blocks": names,
        "added": added,
        "next": names if stop else entry_names(sweep, done | set(new)),
        "done": bool(stop),
        "stop": stop,
        "answer": {"m1_index": list(answer.m1), "m1": {"diameter": d_best, p.name: v_best},
                   "m3_weights": np.asarray(w3, float).tolist(), "m2_weights": np.asarray(w2, float).tolist()},
        "eps_global_m1": eps.tolist(),
        "table": (previous["table"] if previous else []) + [row],
        "fit_seconds": time.perf_counter() - t0,
    }
    output = Path(output) if output is not None else sweep.layout.refine_round(index)
    write_json(output, result)
    log(f"refine round {index}: {len(names)} blocks ({len(added)} new, {seconds:.0f} core-s), M1 ({d_best:g} nm, "
        f"{v_best:g} {p.unit}), {'done: ' + stop if stop else f'{len(new)} blocks next'}")
    return result
