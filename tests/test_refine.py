"""Coarse-to-fine dictionaries (config refine): the round decisions, fits on an incomplete grid, and a
refined Snakemake run end to end (checkpoint rounds, the rounds table, missing blocks as NaN, a later
full-grid run that simulates only the blocks the rounds left out, on its own copy of the refined run)."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import copy_run

from mpisweep.errors import ConfigError
from mpisweep.io.stores import open_zarr
from mpisweep.sweep import Sweep
from mpisweep.sweep.refine import (
    Answer,
    RefineSettings,
    coarse_grid,
    coarse_indices,
    local_minima,
    neighbours,
    next_entries,
    seeds,
    spacing,
    stop_reason,
)

REPO = Path(__file__).resolve().parents[1]


def test_the_coarse_grid_keeps_the_edges():
    assert coarse_indices(8, 2) == [0, 2, 4, 6, 7] and coarse_indices(10, 3) == [0, 3, 6, 9]
    assert coarse_indices(1, 2) == [0]
    assert coarse_grid((3, 4), 2) == {(i, j) for i in (0, 2) for j in (0, 2, 3)}
    assert sorted(neighbours((0, 0), (3, 3))) == [(0, 1), (1, 0), (1, 1)] and len(neighbours((1, 1), (3, 3))) == 8


def bowl(shape, centre, done):
    """An ε map with one minimum at `centre`, NaN where not simulated."""
    i, j = np.indices(shape)
    eps = 0.01 + 0.002 * ((i - centre[0]) ** 2 + (j - centre[1]) ** 2)
    mask = np.ones(shape, bool)
    for e in done:
        mask[e] = False
    return np.where(mask, np.nan, eps)


def test_a_round_adds_the_neighbours_of_the_best_entry_and_of_heavy_weights():
    shape, done = (8, 10), coarse_grid((8, 10), 2)
    eps = bowl(shape, (3, 5), done)
    weights = np.zeros(shape)
    weights[2, 4], weights[6, 9] = 0.9, 0.1  # a second component far away
    s = seeds(eps, [weights], done, RefineSettings())
    assert s[0] in {(2, 4), (4, 4), (2, 6), (4, 6)} and (6, 9) in s
    new = next_entries(eps, [weights], done, RefineSettings())
    assert set(new).isdisjoint(done) and (3, 5) in new and (5, 8) in new  # around the best and around (6, 9)
    assert next_entries(eps, [weights], done, RefineSettings(max_blocks=len(done) + 3)) == new[:3]


def test_local_minima_within_the_margin_are_refined_too():
    shape = (5, 5)
    done = coarse_grid(shape, 2)
    eps = bowl(shape, (0, 0), done)
    eps[4, 4] = eps[0, 0] * 1.03  # a second valley, 3 % above the best
    assert set(local_minima(eps, done, 2)) == {(0, 0), (4, 4)}
    assert (3, 3) in next_entries(eps, [], done, RefineSettings(margin=0.05))
    assert (3, 3) not in next_entries(eps, [], done, RefineSettings(margin=0.01))


def test_the_answer_stops_changing_within_the_tolerance():
    w = np.array([[0.7, np.nan], [0.3, 0.0]])
    assert Answer((0, 0), w).same_as(Answer((0, 0), w + 0.01), 0.02)
    assert not Answer((0, 0), w).same_as(Answer((0, 0), w + 0.03), 0.02)
    assert not Answer((0, 0), w).same_as(Answer((1, 0), w), 0.02) and not Answer((0, 0), w).same_as(None, 0.02)


def test_the_rounds_stop_when_m3_no_longer_fits_better():
    """Weights that move between K neighbours the noise cannot resolve (the paper run's rounds 4-7) never pass
    the weight tolerance; M3's ε_global, flat to 0.1 %, stops the rounds instead."""
    w, moved = np.array([[0.5, 0.1], [0.4, 0.0]]), np.array([[0.3, 0.3], [0.4, 0.0]])
    before, after = Answer((0, 0), w, 0.023823), Answer((0, 0), moved, 0.023792)
    assert not after.same_as(before, 0.02) and after.stalled_since(before, 0.005)
    assert not after.stalled_since(before, 0.001)  # 0.13 % is more than 0.1 %
    assert not Answer((0, 0), moved, 0.0218).stalled_since(before, 0.005)  # 8 % better: go on
    assert not Answer((1, 0), moved, 0.023792).stalled_since(before, 0.005)  # M1 moved
    assert not after.stalled_since(Answer((0, 0), w), 0.005) and not after.stalled_since(None, 0.005)
    settings = RefineSettings(enabled=True, max_rounds=20)
    assert stop_reason([(1, 1)], False, after, before, True, 3, settings).startswith("fit no longer improving")
    assert stop_reason([(1, 1)], False, after, before, False, 3, settings) == ""  # coarser lattices go on
    assert stop_reason([(1, 1)], False, after, before, True, 3, RefineSettings(enabled=True, eps_tolerance=0)) == ""


def test_refine_settings_resolve_and_stay_out_of_a_plain_sweeps_hash():
    base = {"grids": {"diameters": [18, 20, 22], "anisotropies": [500, 1000, 2000], "angles": [0]},
            "orientation": {"enabled": False}}
    assert "refine" not in Sweep.load(base).to_dict()
    sweep = Sweep.load({**base, "refine": {"enabled": True, "coarse_step": [1, 2]}})
    assert sweep.refine.enabled and sweep.refine.coarse_step == (1, 2)
    assert Sweep.from_dict(json.loads(json.dumps(sweep.to_dict()))) == sweep
    assert Sweep.load({**base, "refine": {"enabled": True}}).refine.coarse_step == (2, 2)
    with pytest.raises(ConfigError, match=re.escape("refine.coarse_step")):
        Sweep.load({**base, "refine": {"enabled": True, "coarse_step": 0}})


def test_the_lattice_halves_every_round():
    assert [spacing((8, 2), r) for r in range(4)] == [(4, 1), (2, 1), (1, 1), (1, 1)]
    assert sorted(neighbours((4, 4), (9, 9), (2, 1)))[:3] == [(2, 3), (2, 4), (2, 5)]


# ----------------------------------------------------------------------------------- end to end
GRID = {"diameters": [16, 18, 20, 22, 24], "anisotropies": [300, 800, 1500, 2500], "angles": [0, 90]}
TINY = {
    "output": "results",
    "grids": GRID,
    "offsets": {"x": {"min": -10, "max": 10, "count": 3}, "y": {"min": -10, "max": 10, "count": 3}},
    "frequencies": {"mx": 4, "my": 4},
    "fit": {"ranks": ["100%"]},
    "orientation": {"enabled": False},
    "measurement": {"virtual": {"components": [{"diameter": 20, "anisotropy": 800, "weight": 1.0}]}},
}


@pytest.fixture(scope="module")
def refined(tmp_path_factory, run_workflow):
    work = tmp_path_factory.mktemp("refine")
    log = run_workflow(work, {**TINY, "refine": {"enabled": True, "coarse_step": 2, "weight_threshold": 0.25}})
    return work, log


@pytest.mark.workflow
def test_a_refined_sweep_finds_the_truth_with_part_of_the_grid(refined):
    work, log = refined
    results = work / "results"
    table = pd.read_csv(results / "refine" / "rounds.csv")
    assert table["round"].tolist() == list(range(len(table))) and len(table) >= 2
    assert table["blocks"].iloc[0] == 9  # diameters 16, 20, 24 × anisotropies 300, 1500, 2500
    assert (table["m1_diameter"].iloc[-1], table["m1_value"].iloc[-1]) == (20, 800)
    assert table["stop"].iloc[-1] and table["core_seconds_total"].iloc[-1] == pytest.approx(table["core_seconds"].sum())
    simulated = sorted(p.stem for p in (results / "dictionary" / "markers").iterdir())
    assert len(simulated) == table["blocks"].iloc[-1] < 20
    fp = open_zarr(results / "dictionary" / "fp.zarr")
    missing = json.loads(fp.attrs["missing_blocks"])
    assert len(missing) == 20 - len(simulated) and set(missing).isdisjoint(simulated)
    rows = fp["rows"].values
    finite = np.isfinite(rows).all(axis=tuple(range(2, rows.ndim)))
    assert finite.sum() == len(simulated) and np.isnan(rows[~finite]).all()  # missing: NaN, never zeros
    m0a = open_zarr(results / "dictionary" / "m0a.zarr")  # M0a over the same entries as M1
    assert sorted(json.loads(m0a.attrs["missing_blocks"])) == sorted(missing)
    assert (np.isfinite(m0a["rows"].values).all(axis=tuple(range(2, rows.ndim))) == finite).all()
    summary = json.loads((results / "fits" / "summary.json").read_text())
    assert (summary["M1"]["best_diameter"], summary["M1"]["best_anisotropy"]) == (20, 800)
    eps = pd.read_csv(results / "fits" / "m1_eps_global.csv")
    assert eps["eps_global"].isna().sum() == len(missing)  # shown as missing in the ε map
    assert pd.read_csv(results / "fits" / "m0a_eps_global.csv")["eps_global"].isna().sum() == len(missing)
    weights = pd.read_csv(results / "fits" / "m3_weights.csv")
    assert weights["weight"].isna().sum() == len(missing)  # missing entries have no weight, not weight 0
    heaviest = weights.loc[weights["weight"].idxmax()]
    assert (heaviest.diameter, heaviest.anisotropy) == (20, 800)
    assert "refine round 0: 9 blocks" in log


@pytest.mark.workflow
def test_a_later_full_grid_run_simulates_only_the_blocks_left_out(refined, run_workflow, tmp_path):
    work = copy_run(refined[0], tmp_path / "full")  # the refined run stays as it is for the other tests
    before = {p.name: p.stat().st_mtime_ns for p in (work / "results" / "dictionary" / "markers").iterdir()}
    log = run_workflow(work, TINY)
    after = {p.name: p.stat().st_mtime_ns for p in (work / "results" / "dictionary" / "markers").iterdir()}
    assert len(after) == 20 and all(after[n] == t for n, t in before.items())  # every refined block reused
    assert len(re.findall(r"\(Rule: simulate\)", log)) == 20 - len(before)
