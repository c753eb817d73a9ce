"""Any scanner: 1, 2 or 3 drive channels, 1 to 3 receive channels, 3D offset grids, easy axes in 3D.

What is checked: the paper's 2D configs resolve exactly as before (their hashes, hence every output
they identify); spectrometer (config/mps.yaml) and 3D-drive (config/bruker3d.yaml) configs resolve
to the right cycle, evaluation set and symmetry; bad settings are refused naming the key; a block
with 3D easy-axis vectors equals the in-plane one; the real 1D robot file of tests/data passes the
measured-data checks with a matching config; a 3D calibration round-trips through MDF; and two tiny
sweeps (a spectrometer and a 3D drive) run end to end with the fits recovering the virtual truth.
"""

import copy
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import robot_mdf, shared_data

from mpisweep.errors import ConfigError, MDFError
from mpisweep.io.mdf import read_position_map, read_system_matrix, to_grid, write_system_matrix
from mpisweep.io.stores import open_zarr
from mpisweep.physics.block import simulate_block
from mpisweep.physics.excitation import Excitation
from mpisweep.physics.params import Particle
from mpisweep.physics.spectra import lowest_orders, mixing_bins
from mpisweep.physics.symmetry import Mirror, mirror_symmetry, partner_table
from mpisweep.steps.measurement.check import check
from mpisweep.sweep import Sweep, measured
from mpisweep.sweep.config import digest, without_foreign_defaults
from mpisweep.sweep.coords import row_dims, system_matrix_dataset
from mpisweep.sweep.geometry import configured_map
from mpisweep.sweep.specs import dictionary_spec

REPO = Path(__file__).resolve().parents[1]

# sha256 of the resolved configs, pinned so that a change is deliberate (last: the field calibration's
# check rows, fit.fields.angles and offsets), and of their dictionary specs, unchanged since before 1D/3D
# scanners existed (commit 18bc038): every dictionary block these configs identify is reused byte for byte
PAPER_HASHES = {
    "config.yaml": "057a507db88c4d7d21257d28fca7f368371c72bd40abcf65f318f5354b58dece",
    "paper.yaml": "867ecc7649a499624fee2ffc861a5f297a17523be8c543368e0854a5cecf04f7",
    "fluid.yaml": "cb4484e2a43cef749abe7f5e100cb63646620463a756a3ffffa8281207af7392",
    "orientation.yaml": "63f6638c5bc3236d128fd1db26531f2837572e7c72592a0cd01c2b74848441c2",
}
DICTIONARY_HASHES = {
    "config.yaml": "c5cda3d6db5db46668ffcb4d20d2000b1b362f3d7e61578882a4753b34afc878",
    "paper.yaml": "7effa98702310ef5537a4bb8483636fa39a4fc79345b6d87a8b3ed8d6c869cbc",
    "fluid.yaml": "1c5ea2239a60e3bfabd45480cc74ae53110f0471f353cca890db9e6ec87a83b6",
    "orientation.yaml": "7effa98702310ef5537a4bb8483636fa39a4fc79345b6d87a8b3ed8d6c869cbc",
}


def merged(name: str) -> dict:
    """An example config merged over config/config.yaml the way the Snakefile merges it."""
    def merge(a, b):
        for k, v in b.items():
            a[k] = merge(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
        return a

    own = yaml.safe_load((REPO / "config" / name).read_text())
    base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    return without_foreign_defaults(merge(copy.deepcopy(base), own), [own])


@pytest.mark.parametrize("name", sorted(PAPER_HASHES))
def test_the_paper_configs_resolve_as_before(name):
    sweep = Sweep.load(REPO / "config" / name)
    assert sweep.config_hash == PAPER_HASHES[name]
    assert digest(dictionary_spec(sweep)) == DICTIONARY_HASHES[name]
    d = sweep.to_dict()
    assert "receive" not in d["scanner"] and "z_T" not in d["offsets"] and set(d["frequencies"]) == {"mx", "my", "bins"}
    assert sweep.channels == ("x", "y") and sweep.offset_dims == ("offset_y", "offset_x")
    assert Sweep.from_dict(d) == sweep


def test_a_spectrometer_config_resolves_to_harmonics_of_one_drive_channel():
    sweep = Sweep.load(merged("mps.yaml"))
    assert sweep.scanner.dividers == (100,) and sweep.channels == ("x",) and sweep.scanner.samples == 100
    assert sweep.cycle == pytest.approx(40e-6) and sweep.order_names == ("mx",)
    assert sweep.bins.tolist() == [[m, m] for m in range(2, 51)]  # every harmonic from 40 kHz to Nyquist
    assert sweep.snr_band == (40000.0, 5.0)  # the fits keep those the measurement resolves
    assert sweep.offset_grid.shape == (1, 9) and mirror_symmetry(sweep.excitation) == Mirror("y")
    assert Sweep.from_dict(sweep.to_dict()) == sweep


def test_the_3d_bruker_config_resolves_to_its_long_cycle_and_3d_grid():
    sweep = Sweep.load(merged("bruker3d.yaml"))
    assert sweep.scanner.samples == 53856 and sweep.cycle == pytest.approx(53856 / 2.5e6)
    assert sweep.channels == ("x", "y", "z") and sweep.offset_dims == ("offset_z", "offset_y", "offset_x")
    assert sweep.offsets.shape == (3, 3, 3, 3)
    assert sweep.offsets[2, 0, 0].tolist() == pytest.approx([-5e-3, -5e-3, 5e-3])
    m = sweep.bins
    assert (m[:, 3] == 528 * m[:, 0] + 561 * m[:, 1] + 544 * m[:, 2]).all() and len(set(m[:, 3])) == len(m)
    assert mirror_symmetry(sweep.excitation) is None  # (even, odd, even) would need a mirror
    assert sweep.easy_axes[1] == pytest.approx([0.5, 0.5, math.sqrt(0.5)])
    assert sweep.angles == (0.0, 1.0, 2.0) and sweep.directions == ((90.0, 0.0), (45.0, 45.0), (0.0, 0.0))
    assert Sweep.from_dict(sweep.to_dict()) == sweep


def test_an_inactive_channel_does_not_lengthen_the_cycle():
    """The record's 3-axis files: z written with divider 99 and strength 0; the 2D cycle and bins stay."""
    sweep = Sweep.load({"scanner": {"dividers": [102, 96, 99], "drive": [12.59, 13.55, 0]},
                        "grids": {"diameters": [20], "anisotropies": [1000], "angles": [0]},
                        "orientation": {"enabled": False}})
    paper = Sweep.load({"grids": {"diameters": [20], "anisotropies": [1000], "angles": [0]}})
    assert sweep.scanner.samples == 1632 and sweep.cycle == paper.cycle
    assert sweep.bins[:, [0, 1, 3]].tolist() == paper.bins.tolist() and (sweep.bins[:, 2] == 0).all()
    assert mirror_symmetry(sweep.excitation) == Mirror("x")


GRIDS = {"diameters": [20], "anisotropies": [1000]}


@pytest.mark.parametrize("cfg,key", [
    ({"scanner": {"dividers": [102, 96, 99], "drive": [12, 13]}}, "scanner.drive"),
    ({"scanner": {"dividers": [100], "drive": [20], "phases": [0, 0]}}, "scanner.phases"),
    ({"grids": {**GRIDS, "angles": [0], "directions": [[90, 0]]}}, "grids.directions"),
    ({"grids": {**GRIDS, "directions": [[0, 0], [180, 30]]}}, "grids.directions"),
    ({"grids": {**GRIDS, "directions": [[90, 0]]}, "orientation": {"enabled": True}}, "grids.directions"),
    ({"offsets": {"z": {"min": -5, "max": 5, "count": 3}}, "orientation": {"enabled": True}}, "offsets.z"),
    ({"scanner": {"receive": ["x", "y", "z"]}, "measurement": {"virtual": {"transfer_function": {"gain": [1, 2]}}}},
     "measurement.virtual.transfer_function.gain"),
    ({"scanner": {"receive": ["x"]}, "measurement": {"mdf": {"channels": [0, 1]}}}, "measurement.mdf.channels"),
    ({"scanner": {"dividers": [102, 96, 99], "drive": [12, 12, 12]}, "frequencies": {"mx": 40, "my": 40, "mz": 40}},
     "frequencies"),
])
def test_a_scanner_setting_that_does_not_fit_is_refused_naming_the_key(cfg, key):
    cfg = {"grids": {**GRIDS, "angles": [0]}, "orientation": {"enabled": False}, **cfg}
    with pytest.raises(ConfigError, match=re.escape(f"'{key}")):
        Sweep.load(cfg)


def test_a_band_of_bins_is_labelled_with_its_lowest_mixing_orders():
    assert lowest_orders((102, 96), [33, 34, 16, 1, 50]).tolist() == [[1, 1], [0, 2], [1, 0], [-1, -1], [1, 2]]
    assert lowest_orders((100,), [2, 7]).tolist() == [[2], [7]]
    assert lowest_orders((102, 96, 99), [33], cycle=1632, active=[0, 1]).tolist() == [[1, 1, 0]]  # z inactive
    band = Sweep.load({"grids": {**GRIDS, "angles": [0]}, "orientation": {"enabled": False},
                       "frequencies": {"select": "snr"}})
    k = band.bin_indices
    assert k[0] == 18 and k[-1] == 816 and 16 not in k and 17 not in k  # above the drive frequencies
    assert (band.bins[:, 0] * 16 + band.bins[:, 1] * 17 == k)[band.bins[:, 0] >= 0].all()


def test_a_3d_grid_needs_a_3d_position_map():
    cfg = {**merged("bruker3d.yaml"), "orientation": {"enabled": False, "field_of_view": [30, 30]}}
    with pytest.raises(ConfigError, match=re.escape("'orientation.field_of_view': the offset grid spans z")):
        configured_map(Sweep.load(cfg))


def test_mixing_bins_of_one_two_and_three_drive_channels():
    assert mixing_bins((102, 96), 9, 9)[:, 2].tolist() == [16 * a + 17 * b for a in range(10) for b in range(10)
                                                         if a + b > 1]
    assert mixing_bins((100,), 5).tolist() == [[2, 2], [3, 3], [4, 4], [5, 5]]
    three = mixing_bins((102, 96, 99), 2, 2, 2)
    assert three.shape == (27 - 4, 4) and three[-1].tolist() == [2, 2, 2, 2 * (528 + 561 + 544)]
    # an inactive channel (order 0) with the active channels' cycle
    assert mixing_bins((102, 96, 99), 2, 2, 0, cycle=1632).tolist() == [
        [a, b, 0, 16 * a + 17 * b] for a in range(3) for b in range(3) if a + b > 1]


PARTICLE = Particle(20e-9, 3000.0)


def test_easy_axes_given_as_vectors_give_the_in_plane_rows():
    drive = Excitation((12e-3, 13e-3), (20, 24), 2.5e6)
    offsets = np.array([[[2e-3, -1e-3, 0.0]]])
    bins = mixing_bins((20, 24), 3, 3)[:, 2]
    plane = simulate_block(PARTICLE, drive, [30.0], offsets, bins, degree=14, rtol=1e-6, symmetry=False)
    axis = [[math.cos(math.radians(30)), math.sin(math.radians(30)), 0.0]]
    vector = simulate_block(PARTICLE, drive, axis, offsets, bins, degree=14, rtol=1e-6, symmetry=False)
    np.testing.assert_array_equal(vector.rows, plane.rows)


def test_a_spectrometer_block_derives_its_mirror_rows_exactly():
    """1D drive, one period per cycle (odd): the rotation about y maps (ϑ, o) to (180° − ϑ, −o)."""
    drive = Excitation((20e-3,), (100,), 2.5e6)
    offsets = np.array([[[-4e-3, 0, 0], [0, 0, 0], [4e-3, 0, 0]]])
    bins = np.arange(2, 16)
    both = simulate_block(PARTICLE, drive, [30.0, 150.0], offsets, bins, degree=16, rtol=1e-8, channels=(0,))
    assert both.mirror == "y" and both.derived == 3 and both.rows.shape == (2, 1, bins.size, 1, 3)
    direct = simulate_block(PARTICLE, drive, [30.0, 150.0], offsets, bins, degree=16, rtol=1e-8, channels=(0,),
                            symmetry=False)
    scale = np.abs(direct.rows).max()
    assert np.abs(both.rows - direct.rows).max() / scale < 1e-5


def test_3d_easy_axes_pair_up_through_the_rotation():
    # R_x = diag(1, −1, −1) maps the first axis onto the second; the third onto its own negative (one axis)
    axes = np.array([[0.6, 0.8, 0.0], [0.6, -0.8, 0.0], [0.0, 0.6, 0.8]])
    offsets = np.array([[[0.0, 1e-3, 0.0], [0.0, -1e-3, 0.0]]])
    table = partner_table(Mirror("x"), axes, offsets)
    assert table.shape == (3, 1, 2)
    assert table.reshape(3, 2).tolist() == [[3, 2], [1, 0], [5, 4]]


def robot_config(directory, **scanner) -> dict:
    """A config matching a 1-channel robot scan of 9 positions at 25.7 kHz, 5 mT (helpers.robot_mdf, the real
    ../shared/data/systemMatrix.mdf)."""
    return {
        "scanner": {"base_frequency": 1.25e8, "dividers": [4864], "drive": [5], "samples": 152, **scanner},
        "offsets": {"x": {"min": 0, "max": 0, "count": 9}, "y": {"min": 0, "max": 0, "count": 1}},
        "grids": {"diameters": [20], "anisotropies": [1000], "angles": [0]},
        "frequencies": {"mx": 30},
        "orientation": {"enabled": False},
        "measurement": {"source": "mdf", "mdf": {"directory": str(directory)}},
    }


@pytest.fixture(params=["written", "real"])
def robot_dir(request, tmp_path):
    """robot.mdf: the robot scan the tests write, or the real one from ../shared/data (skipped without it)."""
    if request.param == "real":
        shutil.copy(shared_data("systemMatrix.mdf"), tmp_path / "robot.mdf")
    else:
        robot_mdf(tmp_path / "robot.mdf")
    (tmp_path / "calibrations.csv").write_text("file,angle\nrobot.mdf,0\n")
    return tmp_path


def test_the_real_1d_robot_file_passes_the_checks_with_a_matching_config(robot_dir):
    sweep = Sweep.load(robot_config(robot_dir))
    assert sweep.channels == ("x",) and sweep.bins[:3].tolist() == [[2, 2], [3, 3], [4, 4]]
    report = check(sweep)
    assert report["files"][0]["channels"] == 1 and report["files"][0]["offsets"] == 9
    assert "not compared" in report["files"][0]["offset_fields"]  # a robot scan has no offset fields
    rows = measured.load(sweep, report)
    assert rows.shape == (1, 1, 29, 9) and rows["channel"].values.tolist() == ["x"]
    assert np.isfinite(rows.values).all() and np.abs(rows.values).max() > 0


def test_the_1d_robot_file_against_another_drive_is_refused_naming_the_field(robot_dir):
    two = robot_config(robot_dir, dividers=[4864, 4864], drive=[5, 5], receive=["x"])  # same cycle, 2 channels
    two["frequencies"]["my"] = 0
    with pytest.raises(MDFError, match=re.escape("/acquisition/drivefield/divider is [4864], config expects "
                                                 "[4864, 4864]")):
        check(Sweep.load(two))
    with pytest.raises(MDFError, match="/acquisition/drivefield/cycle"):
        check(Sweep.load(robot_config(robot_dir, dividers=[4800], samples=150)))


def test_a_3d_calibration_round_trips_through_mdf(tmp_path):
    sweep = Sweep.load({**merged("bruker3d.yaml"), "frequencies": {"mx": 2, "my": 2, "mz": 2}})
    grid = sweep.offset_grid.shape
    nbins = sweep.scanner.samples // 2 + 1
    rng = np.random.default_rng(3)
    data = rng.standard_normal((3, nbins) + grid) + 1j * rng.standard_normal((3, nbins) + grid)
    path = tmp_path / "3d.mdf"
    pmap = configured_map(sweep)  # field_of_view [30, 30, 30] mm: 0.5 T/m on x, y and z
    assert pmap.gradient.tolist() == pytest.approx([0.5, 0.5, 0.5])
    write_system_matrix(path, system_matrix_dataset(sweep, data, None, pmap))
    back = read_position_map(path)
    assert not back.differs_from(pmap, 5e-3) and back.residual < 1e-12
    ds = read_system_matrix(path)
    assert np.asarray(ds["position"].values)[-1].tolist() == pytest.approx([0.01, 0.01, 0.01])  # the (+, +, +) corner
    assert ds.sizes["channel"] == 3 and ds.attrs["calibration_size"].tolist() == [3, 3, 3]
    from mpisweep.io.mdf import check_compatible

    check_compatible(ds, measured.expected_fields(sweep), path=path)
    cube = to_grid(ds)["system_matrix"]
    assert cube.dims[-3:] == ("offset_z", "offset_y", "offset_x")
    np.testing.assert_allclose(cube.transpose("channel", "frequency", *sweep.offset_dims).values, data, rtol=1e-12)


# ---------------------------------------------------------------------------------- end to end
TINY = {
    "mps": {  # the spectrometer of config/mps.yaml on a 2 × 2 grid
        "grids": {"diameters": [18, 22], "anisotropies": [500, 1500], "angles": {"start": 0, "stop": 90, "step": 15}},
        "offsets": {"x": {"min": -10, "max": 10, "count": 9}, "y": {"min": 0, "max": 0, "count": 1}},
        "components": [{"diameter": 22, "anisotropy": 1500, "weight": 1.0}],
    },
    "bruker3d": {  # a 3D drive with a short cycle (dividers 10, 32, 40: 16, 5, 4 periods), 2 × 2 × 2 offsets
        "scanner": {"dividers": [10, 32, 40], "drive": [12, 12, 12], "phases": [0, 0, 0]},
        "grids": {"diameters": [18, 22], "anisotropies": [1500], "directions": [[90, 0], [45, 45]]},
        "offsets": {k: {"min": -5, "max": 5, "count": 2} for k in "xyz"},
        "frequencies": {"mx": 3, "my": 3, "mz": 3},
        "components": [{"diameter": 22, "anisotropy": 1500, "weight": 1.0}],
    },
}


@pytest.fixture(scope="module", params=sorted(TINY))
def tiny_run(request, tmp_path_factory, run_workflow):
    """config/<name>.yaml on the tiny grid of TINY[name], end to end: (name, results folder, log)."""
    name = request.param
    config = yaml.safe_load((REPO / "config" / f"{name}.yaml").read_text())
    patch = copy.deepcopy(TINY[name])
    config["measurement"]["virtual"]["components"] = patch.pop("components")
    for key, value in patch.items():
        config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    config.update(output="results", fit={"ranks": ["100%"], "m3": {"max_iter": 3000}})
    work = tmp_path_factory.mktemp(name)
    return name, work / "results", run_workflow(work, config)


@pytest.mark.workflow
def test_a_tiny_sweep_of_another_scanner_runs_and_recovers_the_truth(tiny_run):
    name, results, log = tiny_run
    fp = open_zarr(results / "dictionary" / "fp.zarr")
    summary = json.loads((results / "fits" / "summary.json").read_text())
    assert summary["M1"]["best_diameter"] == 22 and summary["M1"]["best_anisotropy"] == 1500
    for entry in summary["recovered"]["m3_weights_vs_truth"]:
        assert abs(entry["m3_weight"] - entry["true_weight"]) <= 0.05, entry
    model = read_system_matrix(results / "fits" / "mdf" / "M1" / "0.mdf")
    if name == "mps":
        assert fp["rows"].dims[2:] == ("angle", "channel", "frequency", "offset_y", "offset_x")
        assert fp["channel"].values.tolist() == ["x"] and "my" not in fp.coords
        assert model.sizes["channel"] == 1 and model.attrs["calibration_size"].tolist() == [9, 1, 1]
        with open(results / "fits" / "eps_freq.csv") as f:
            assert f.readline().strip() == "model,rank_fraction,rank,mx,bin,eps_freq"
        # frequencies.select snr: the dictionary holds harmonics 2 … 50, the fits those the 40 dB measurement resolves
        assert fp.sizes["frequency"] == 49 and 5 <= summary["evaluation_bins"] < 49
        assert f"frequencies.select snr: {summary['evaluation_bins']} of 49 bins reach an SNR of 5" in log
    else:
        sweep = Sweep.read(results / "fits" / "config.json")
        assert fp["rows"].dims[2:] == row_dims(sweep) == ("angle", "channel", "frequency", "offset_z", "offset_y",
                                                          "offset_x")
        assert fp["channel"].values.tolist() == ["x", "y", "z"]
        assert fp["polar"].values.tolist() == [90.0, 45.0] and fp["azimuth"].values.tolist() == [0.0, 45.0]
        assert model.sizes["channel"] == 3 and model.attrs["calibration_size"].tolist() == [2, 2, 2]
        import h5py

        with h5py.File(results / "fits" / "mdf" / "M1" / "0.mdf") as f:
            assert "easy axis polar 90 deg, azimuth 0 deg" in f["experiment/name"][()].decode()
    assert all((results / "figures" / f).stat().st_size > 0 for f in ("rows.png", "eps_freq.png"))
