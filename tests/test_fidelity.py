"""Multi-fidelity rounds (config refine.screening): the screening level as a sweep of its own, the candidates
its fit names, screening blocks that resume and are checked, and a multi-fidelity Snakemake run end to end."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from mpisweep.errors import ConfigError, StoreError
from mpisweep.sweep import Sweep
from mpisweep.sweep.config import digest
from mpisweep.sweep.fidelity import angle_indices, rows_share, screening_sweep
from mpisweep.sweep.refine import Answer, RefineSettings, decide_screened, screening_candidates
from mpisweep.sweep.sections.refine import ScreeningSettings
from mpisweep.sweep.specs import all_specs, dictionary_spec

GRID = {"diameters": [16, 18, 20, 22, 24], "anisotropies": [300, 800, 1500, 2500], "angles": [0, 90]}
TINY = {
    "output": "results",
    "grids": GRID,
    "offsets": {"x": {"min": -10, "max": 10, "count": 5}, "y": {"min": -10, "max": 10, "count": 5}},
    "frequencies": {"mx": 4, "my": 4},
    "fit": {"ranks": ["100%"]},
    "orientation": {"enabled": False},
    "measurement": {"virtual": {"components": [{"diameter": 20, "anisotropy": 800, "weight": 1.0}]}},
}
SCREENING = {"enabled": True, "screening": {"angles": 1, "offsets": 3}}


def tiny(tmp_path, refine=SCREENING, **over) -> Sweep:
    return Sweep.load({**TINY, "output": str(tmp_path / "results"), "refine": refine, **over})


def test_angles_are_spread_evenly_and_offsets_are_points_of_the_grid(tmp_path):
    assert angle_indices(12, 2) == (0, 6) and angle_indices(12, 3) == (0, 4, 8) and angle_indices(4, 1) == (0,)
    assert angle_indices(2, 5) == (0, 1)  # never more than there are
    sweep = tiny(tmp_path)
    level = screening_sweep(sweep)
    assert level.angles == (0.0,) and level.offset_grid.shape == (3, 3)
    np.testing.assert_allclose(level.offsets[1, :, 0], [-0.01, 0.0, 0.01])  # every second of 5, edges included
    assert set(map(tuple, level.offsets.reshape(-1, 3))) <= set(map(tuple, sweep.offsets.reshape(-1, 3)))
    assert rows_share(sweep) == pytest.approx(9 / 50)
    with pytest.raises(ConfigError, match=r"'refine.screening.offsets': 4 offsets are not points of the 5 of "
                                          r"offsets.x .*use one of \[2, 3, 5\]"):
        screening_sweep(tiny(tmp_path, {"enabled": True, "screening": {"offsets": 4}}))


def test_the_screening_level_is_stored_apart_and_reads_the_measured_files_as_a_subgrid(tmp_path):
    sweep = tiny(tmp_path)
    level = screening_sweep(sweep)
    assert level.layout.root == sweep.layout.root / "screening"
    assert digest(dictionary_spec(level)) != digest(dictionary_spec(sweep))  # never mistaken for full blocks
    assert all_specs(sweep)["screening"] == dictionary_spec(level)
    assert "screening" not in all_specs(tiny(tmp_path, {"enabled": True}))
    assert level.source == "mdf" and level.mdf.offset_subgrid
    assert level.mdf.directory == str(sweep.layout.measurement) and not level.refine.enabled
    # a refined sweep without screening keeps its resolved form (and hash)
    assert "screening" not in tiny(tmp_path, {"enabled": True}).to_dict()["refine"]
    assert Sweep.from_dict(sweep.to_dict()).refine == sweep.refine


def test_the_screening_fit_sends_the_best_entry_the_weights_and_what_it_cannot_rule_out_to_full_fidelity():
    i, j = np.indices((8, 10))
    # spread (median − best) 0.026: side neighbours 0.08 of it above the best, diagonal ones 0.15
    eps = 0.01 + 0.002 * ((i - 3) ** 2 + (j - 5) ** 2)
    weights = np.zeros((8, 10))
    weights[3, 5], weights[7, 9] = 0.8, 0.2
    settings = RefineSettings(enabled=True, screening=ScreeningSettings(angles=1, offsets=3, margin=0.1))
    out = screening_candidates(eps, [weights], settings)
    assert out[:2] == [(3, 5), (7, 9)] and set(out[2:]) == {(2, 5), (4, 5), (3, 4), (3, 6)}
    wide = RefineSettings(enabled=True, screening=ScreeningSettings(angles=1, offsets=3, margin=0.25))
    assert len(screening_candidates(eps, [weights], wide)) == 10  # the diagonal ones too
    assert screening_candidates(eps, [weights], RefineSettings(enabled=True, max_blocks=3, screening=settings.screening)
                                ) == out[:3]


def test_full_rounds_add_only_neighbours_the_screening_cannot_rule_out():
    i, j = np.indices((8, 10))
    screen = 0.01 + 0.002 * ((i - 3) ** 2 + (j - 5) ** 2)
    settings = RefineSettings(enabled=True, screening=ScreeningSettings(angles=1, offsets=3, margin=0.1))
    done = {(3, 5), (2, 5), (4, 5), (3, 4), (3, 6)}
    full = np.full((8, 10), np.nan)
    for e in done:
        full[e] = screen[e]
    weights = np.where(np.isnan(full), np.nan, 0.0)
    weights[3, 5] = 1.0
    answer = Answer((3, 5), weights)
    first = decide_screened(full, [weights], done, screen, settings, answer, 1, None)
    assert first.entries == [] and first.stop == "no new blocks"
    full[3, 5] = 0.02  # at full fidelity (2, 5) is the best: its plausible neighbours are added
    second = decide_screened(full, [weights], done, screen, settings, Answer((2, 5), weights), 1, None)
    limit = screen[2, 5] + 0.1 * (np.median(screen) - screen.min())
    assert second.entries and all(e not in done and screen[e] <= limit for e in second.entries)
    assert (1, 5) not in second.entries  # 0.24 of the spread above (2, 5): ruled out
    assert second.stop == ""


def test_a_mixture_swaps_neighbours_in_for_weighted_entries():
    """With a swap test the seeds are M1's entry and M3's weighted entries (not M2's); the test decides where it
    applies and the screening ε map of M1 where it returns None."""
    i, j = np.indices((8, 10))
    screen = 0.01 + 0.002 * ((i - 3) ** 2 + (j - 5) ** 2)
    settings = RefineSettings(enabled=True, screening=ScreeningSettings(angles=1, offsets=3, margin=0.1,
                                                                        swap_margin=0.1))
    done = {(3, 5), (6, 1)}
    full = np.where(np.isin(i * 10 + j, [35, 61]), screen, np.nan)
    w3 = np.where(np.isnan(full), np.nan, 0.0)
    w3[3, 5], w3[6, 1] = 0.6, 0.4
    w2 = np.where(np.isnan(full), np.nan, 0.0)
    w2[0, 9] = 1.0  # an M2 weight on an entry M3 does not need: no seed
    asked = []

    def swap(seed, entries):
        asked.append(seed)
        return [(5, 1)] if seed == (6, 1) else None  # (3, 5), M1's entry, falls back to the ε map

    decision = decide_screened(full, [w2, w3], done, screen, settings, Answer((3, 5), w3), 1, None, swap=swap)
    assert asked == [(3, 5), (6, 1)]
    assert (5, 1) in decision.entries and not {(5, 0), (7, 2), (6, 0)} & set(decision.entries)
    assert not {(1, 8), (0, 8), (1, 9)} & set(decision.entries)  # M2's seed is gone
    assert {(2, 5), (4, 5), (3, 4), (3, 6)} <= set(decision.entries)  # M1's entry: the ε map decides


@pytest.mark.slow  # two virtual components and 20 screening blocks
def test_the_swap_test_rules_out_neighbours_that_fit_the_mixture_worse(tmp_path):
    from mpisweep.steps.measurement.virtual_scanner import simulate_component, virtual_scanner
    from mpisweep.steps.refine.rounds import mixture_swap
    from mpisweep.steps.refine.screening import screen_chunk

    truth = [{"diameter": 18, "anisotropy": 800, "weight": 0.5}, {"diameter": 22, "anisotropy": 2500, "weight": 0.5}]
    sweep = tiny(tmp_path, {"enabled": True, "screening": {"angles": 1, "offsets": 3, "swap_margin": 0.1}},
                 measurement={"virtual": {"components": truth}})
    for name, comp in sweep.components:
        simulate_component(sweep, comp, sweep.layout.component(name), progress=False)
    virtual_scanner(sweep)
    for d in GRID["diameters"]:
        screen_chunk(sweep, d, log=lambda m: None)
    weights = np.zeros((5, 4))
    weights[1, 1] = weights[3, 3] = 0.5  # the truth's entries
    swap = mixture_swap(sweep, weights)
    near = [(0, 1), (2, 1), (1, 0), (1, 2), (0, 0), (2, 2)]
    kept = swap((1, 1), near)
    assert set(kept) < set(near)  # swapped in, some neighbours fit the mixture worse: ruled out
    assert swap((1, 1), [(1, 1)]) == [(1, 1)]  # the entry itself: M3's own ε
    assert swap((0, 0), near) is None  # not a weighted entry: the ε map decides
    single = np.zeros((5, 4))
    single[1, 1] = 1.0
    assert mixture_swap(sweep, single) is None
    off = tiny(tmp_path, {"enabled": True, "screening": {"angles": 1, "offsets": 3}},
               measurement={"virtual": {"components": truth}})
    assert mixture_swap(off, weights) is None


def test_a_screening_block_of_another_level_or_changed_rows_is_refused(tmp_path):
    from mpisweep.steps.refine.screening import read_screened, screen_chunk

    sweep = tiny(tmp_path, **{"grids": {**GRID, "diameters": [20], "anisotropies": [800]}})
    record = screen_chunk(sweep, 20, log=lambda m: None)
    assert record["blocks"] == ["D20_K800"] and record["fidelity"] == "screening"
    level = screening_sweep(sweep)
    marker = json.loads(level.layout.marker("D20_K800").read_text())
    assert marker["fidelity"] == "screening" and marker["shape"][0] == 1
    mtime = level.layout.marker("D20_K800").stat().st_mtime_ns
    screen_chunk(sweep, 20, log=lambda m: None)  # finished blocks are kept
    assert level.layout.marker("D20_K800").stat().st_mtime_ns == mtime
    assert read_screened(level, "D20_K800")["rows"].shape[0] == 1
    other = screening_sweep(tiny(tmp_path, {"enabled": True, "screening": {"angles": 2, "offsets": 3}},
                                 grids={**GRID, "diameters": [20], "anisotropies": [800]}))
    with pytest.raises(StoreError, match="not a block of this screening level"):
        read_screened(other, "D20_K800")
    marker["sha256"] = "0" * 64
    level.layout.marker("D20_K800").write_text(json.dumps(marker))
    with pytest.raises(StoreError, match="rows do not match the sha256"):
        read_screened(level, "D20_K800")


def test_every_second_value_is_screened_and_the_rest_filled_by_a_spline_along_k(tmp_path):
    """refine.screening.every: 2 simulates 600, 800, 1000 J/m³ and fills 700 and 900 by a spline in K; a filled
    block is far closer to the directly screened block than its screened neighbours are."""
    from mpisweep.steps.refine.screening import FilledScreening, read_screened, screen_chunk, screened_names

    grids = {**GRID, "diameters": [20], "anisotropies": [600, 700, 800, 900, 1000]}
    sparse = tiny(tmp_path, {"enabled": True, "screening": {"angles": 1, "offsets": 3, "every": 2}}, grids=grids)
    assert screened_names(sparse) == ["D20_K600", "D20_K800", "D20_K1000"]
    assert all_specs(sparse)["screening"]["every"] == 2  # the screen jobs rerun when it changes
    record = screen_chunk(sparse, 20, log=lambda m: None)
    level = screening_sweep(sparse)
    assert record["blocks"] == screened_names(sparse)
    assert sorted(p.stem for p in level.layout.markers.iterdir()) == sorted(screened_names(sparse))
    screen_chunk(tiny(tmp_path, {"enabled": True, "screening": {"angles": 1, "offsets": 3}}, grids=grids), 20,
                 log=lambda m: None)  # every block, directly: the reference
    reader = FilledScreening(sparse)
    np.testing.assert_array_equal(reader(level, "D20_K800")["rows"].values,
                                  read_screened(level, "D20_K800")["rows"].values)
    for name, neighbour in (("D20_K700", "D20_K600"), ("D20_K900", "D20_K1000")):
        direct = read_screened(level, name)["rows"].values
        filled = reader(level, name)["rows"]
        assert filled.dims == read_screened(level, name)["rows"].dims
        error = np.linalg.norm(filled.values - direct) / np.linalg.norm(direct)
        step = np.linalg.norm(read_screened(level, neighbour)["rows"].values - direct) / np.linalg.norm(direct)
        assert error < 0.1 * step, (name, error, step)


# ----------------------------------------------------------------------------------- end to end
@pytest.mark.workflow
def test_multi_fidelity_rounds_find_the_truth_with_few_full_blocks(tmp_path, run_workflow):
    log = run_workflow(tmp_path, {**TINY, "refine": SCREENING})
    results = tmp_path / "results"
    table = pd.read_csv(results / "refine" / "rounds.csv")
    assert table["fidelity"].tolist()[0] == "screening" and set(table["fidelity"][1:]) == {"full"}
    assert table["blocks_added"].iloc[0] == 20 and table["blocks"].iloc[0] == 20  # the whole grid, screened
    assert (table["m1_diameter"].iloc[-1], table["m1_value"].iloc[-1]) == (20, 800)
    full = sorted(p.stem for p in (results / "dictionary" / "markers").iterdir())
    assert len(full) == table["blocks"].iloc[-1] < 20
    screened = list((results / "screening" / "dictionary" / "markers").iterdir())
    assert len(screened) == 20 and {json.loads(p.read_text())["fidelity"] for p in screened} == {"screening"}
    eps = pd.read_csv(results / "refine" / "screening_m1_eps_global.csv")
    assert len(eps) == 20 and set(eps["fidelity"]) == {"screening"} and eps["eps_global"].notna().all()
    summary = json.loads((results / "fits" / "summary.json").read_text())
    assert (summary["M1"]["best_diameter"], summary["M1"]["best_anisotropy"]) == (20, 800)
    assert re.search(r"refine round 0 \(screening: 1 of 2 angles, 9 of 25 offsets\): 20 blocks", log)
    assert table["core_seconds_total"].iloc[-1] == pytest.approx(table["core_seconds"].sum())
