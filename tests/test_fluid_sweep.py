"""Fluid tracers in the sweep (config model: brown): config, and the whole Snakemake DAG end to end.

The end-to-end run is config/fluid.yaml on a smaller grid: 2 core × 2 hydrodynamic diameters, 5 × 5
offsets, mixing orders up to 4, a two-tracer mixture measured by the virtual scanner at 40 dB (finer
discretisation than the dictionary). M1 must find the dominant tracer and M3 the mixture's weights.
"""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mpisweep.errors import ConfigError
from mpisweep.io.stores import open_zarr
from mpisweep.physics.params import BrownParticle
from mpisweep.sweep import Sweep
from mpisweep.sweep.config import without_foreign_defaults

REPO = Path(__file__).resolve().parents[1]
FLUID = {
    "model": "brown",
    "grids": {"diameters": [18, 22], "hydrodynamic_diameters": [30, 50]},
    "orientation": {"enabled": False},
    "measurement": {"virtual": {"components": [{"diameter": 22, "hydrodynamic_diameter": 30, "weight": 1.0}]}},
}


def test_a_brown_sweep_resolves_to_core_by_hydrodynamic_blocks():
    sweep = Sweep.load(FLUID)
    assert [name for name, _, _ in sweep.blocks] == ["D18_H30", "D18_H50", "D22_H30", "D22_H50"]
    assert sweep.angles == (0.0,)  # the drive frame: a fluid tracer has no easy axis
    particle = sweep.particle(22, 50)
    assert isinstance(particle, BrownParticle)
    assert particle.hydrodynamic_diameter == pytest.approx(50e-9) and particle.viscosity == 1e-3
    assert sweep.to_dict()["model"] == "brown" and Sweep.from_dict(sweep.to_dict()) == sweep
    assert "model" not in Sweep.load(REPO / "config" / "config.yaml").to_dict()  # a Néel sweep's hash is unchanged


@pytest.mark.parametrize("patch,key", [
    ({"grids": {"diameters": [18], "hydrodynamic_diameters": [30], "angles": [0]}}, "grids.angles"),
    ({"grids": {"diameters": [18, 40], "hydrodynamic_diameters": [30, 50]}}, "grids.hydrodynamic_diameters"),
    ({"measurement": {"virtual": {"components": [{"diameter": 22, "anisotropy": 30, "weight": 1}]}}},
     "measurement.virtual.components[0]"),
    ({"orientation": {"enabled": True}}, "orientation.enabled"),
    ({"grids": {"diameters": [18]}}, "grids.hydrodynamic_diameters"),
])
def test_a_brown_config_that_mixes_in_neel_keys_is_refused_naming_the_key(patch, key):
    with pytest.raises(ConfigError, match=re.escape(f"'{key}'")):
        Sweep.load({**FLUID, **patch})


def test_the_neel_defaults_do_not_leak_into_a_brown_sweep():
    default = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    own = yaml.safe_load((REPO / "config" / "fluid.yaml").read_text())
    merged = {**default, **own, "grids": {**default["grids"], **own["grids"]}}
    cleaned = without_foreign_defaults(merged, [own])
    assert set(cleaned["grids"]) == {"diameters", "hydrodynamic_diameters"}
    assert cleaned["orientation"]["enabled"] is False
    assert Sweep.load(cleaned).model == "brown"
    # a Néel-only key the user wrote himself is kept, so the contradiction is reported
    mine = {**own, "grids": {**own["grids"], "angles": [0, 90]}}
    with pytest.raises(ConfigError, match="'grids.angles'"):
        Sweep.load(without_foreign_defaults({**merged, "grids": {**merged["grids"], "angles": [0, 90]}}, [mine]))


@pytest.fixture(scope="module")
def fluid_run(tmp_path_factory, run_workflow):
    work = tmp_path_factory.mktemp("fluid")
    config = yaml.safe_load((REPO / "config" / "fluid.yaml").read_text())
    config.update(output="results", grids={"diameters": [18, 22], "hydrodynamic_diameters": [30, 60]})
    config["measurement"]["virtual"]["components"] = [
        {"diameter": 22, "hydrodynamic_diameter": 30, "weight": 0.7},
        {"diameter": 18, "hydrodynamic_diameter": 60, "weight": 0.3}]
    return work / "results", run_workflow(work, config)


@pytest.mark.workflow
def test_the_fluid_dag_runs_and_names_its_axes(fluid_run):
    results, log = fluid_run
    fp = open_zarr(results / "dictionary" / "fp.zarr")
    assert fp["rows"].dims[:3] == ("diameter", "hydrodynamic_diameter", "angle")
    assert fp["hydrodynamic_diameter"].attrs["units"] == "nm" and fp.sizes["angle"] == 1
    assert sorted(p.name for p in (results / "dictionary" / "markers").iterdir()) == [
        "D18_H30.json", "D18_H60.json", "D22_H30.json", "D22_H60.json"]
    assert not (results / "dictionary" / "m0a.zarr").exists()  # M0a is M0 without anisotropy
    table = pd.read_csv(results / "fits" / "m1_eps_global.csv")
    assert list(table.columns) == ["diameter", "hydrodynamic_diameter", "eps_global", "best"]
    models = open_zarr(results / "fits" / "models.zarr")
    assert models["eps_global_m1"].dims == ("diameter", "hydrodynamic_diameter")
    assert "eps_global_m0a" not in models and "best_m1_hydrodynamic_diameter" in models.attrs
    assert (results / "fits" / "mdf" / "M3" / "0.mdf").is_file()
    assert "M1: best (D, D_h) = (22 nm, 30 nm)" in log


@pytest.mark.workflow
def test_the_fits_recover_the_virtual_fluid_mixture(fluid_run):
    results, _ = fluid_run
    summary = json.loads((results / "fits" / "summary.json").read_text())
    assert summary["M1"]["best_diameter"] == 22 and summary["M1"]["best_hydrodynamic_diameter"] == 30
    assert summary["recovered"]["m1_equals_dominant"]
    for entry in summary["recovered"]["m3_weights_vs_truth"]:
        assert abs(entry["m3_weight"] - entry["true_weight"]) <= 0.05, entry
    assert summary["M1"]["eps_global"] < summary["M0"]["eps_global"]
    assert np.isfinite(summary["M3"][0]["eps_global"])


def test_the_python_fits_take_a_brownian_dictionary_as_it_is_stored():
    """fit_m1/fit_m3 on a (diameter, hydrodynamic_diameter, …) DataArray: its own name in the results."""
    import xarray as xr

    import mpisweep as ms

    drive = ms.Excitation((12.59e-3, 13.55e-3), (102, 96), 2.5e6)
    bins = ms.mixing_bins((102, 96), 2, 2)[:, 2]
    offsets = ms.offset_grid((-5e-3, 5e-3), (-5e-3, 5e-3), 2, 2)
    rows = np.stack([ms.simulate_block(ms.BrownParticle(20e-9, h * 1e-9), drive, [0], offsets, bins).rows
                     for h in (25, 60)])[None]  # (1 diameter, 2 D_h, angle, channel, bin, y, x)
    dims = ("diameter", "hydrodynamic_diameter", "angle", "channel", "frequency", "offset")
    dictionary = xr.DataArray(rows.reshape(rows.shape[:5] + (-1,)), dims=dims,
                              coords={"diameter": [20.0], "hydrodynamic_diameter": [25.0, 60.0], "frequency": bins})
    measured = xr.DataArray(3.0 * rows[0, 1].reshape(1, 2, bins.size, -1),
                            dims=("angle", "channel", "frequency", "offset"), coords={"frequency": bins})
    m1 = ms.fit_m1(measured, dictionary, bins)
    assert m1.parameter == "hydrodynamic_diameter" and m1.best_anisotropy == 60.0 and m1.eps_global_best < 1e-9
    assert set(m1.to_table()[0]) == {"model", "diameter", "hydrodynamic_diameter", "eps_global", "best"}
    m3 = ms.fit_m3(measured, dictionary, bins)
    assert m3.largest_weights(0, 1) == [{"diameter": 20.0, "hydrodynamic_diameter": 60.0, "weight": 1.0}]
