"""The whole Snakemake DAG on a tiny sweep: virtual scanner → MDF → check → shards → fp.zarr → fits.

Grid: 2 diameters × 2 anisotropies × 2 angles × 3 × 3 offsets, evaluation set up to mx = my = 4.
The module's run (fixture `sweep`) is read by every test and changed by none: a test that reruns it with
another measurement works on its own copy, one that moves a file aside puts it back; so the tests pass in
any order.
"""

import json
import re
import shutil
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from helpers import copy_run, run_snakemake

from mpisweep.io.receive_chain import receive_chain
from mpisweep.io.stores import checksum, open_zarr
from mpisweep.steps.dictionary.simulate import read_shard
from mpisweep.sweep.config import digest
from mpisweep.sweep.names import block_name, label

pytestmark = pytest.mark.workflow

REPO = Path(__file__).resolve().parents[1]

TINY = {
    "output": "results",
    "offsets": {"x": {"min": -14.35, "max": 14.35, "count": 3}, "y": {"min": -14.71, "max": 14.71, "count": 3}},
    "grids": {"diameters": [20, 22], "anisotropies": [500, 1100], "angles": [0, 90]},
    "frequencies": {"mx": 4, "my": 4},
    "fit": {"ranks": ["100%", "50%", 1]},
    "measurement": {
        "source": "virtual",
        "virtual": {
            # one on-grid component, no noise, the dictionary's own discretization: exact
            "components": [{"diameter": 22, "anisotropy": 1100, "weight": 1.0}],
            "snr_db": None,
            "seed": 7,
            "transfer_function": {"kind": "analytic", "gain": [1.3, 0.7], "phase": [10.0, -40.0],
                                  "highpass": 30000, "lowpass": 800000, "delay": 2e-7},
            "solver": {"degree_offset": 0, "rtol_factor": 1},
        },
    },
    # an FFP scanner's negative gradients (10 mm pixels): a noise-free phantom at x = −10 mm sits on the
    # pixel (iy 1, ix 2) of the calibration grid at the calibration angle 90°, and on (2, 4) of the
    # M1 matrices' finer 5 × 5 grid; exact rows, so both matrix sets contain its signal as one column
    "orientation": {
        "enabled": True, "models": ["measured", "M1"], "gradient": [-1.435, -1.471],
        "matrices": {"offsets": {"x": {"min": -14.35, "max": 14.35, "count": 5},
                                 "y": {"min": -14.71, "max": 14.71, "count": 5}}},
        "phantoms": {"orientations": [90], "positions": [[-10, 0]], "maps": [], "snr_db": None},
        "reconstruction": {"iterations": 300, "snr_threshold": None, "lambda_rel": 0.01},  # weighting: auto
    },
}
MIXTURE = {
    "components": [{"diameter": 22, "anisotropy": 1100, "weight": 0.6},
                   {"diameter": 20, "anisotropy": 500, "weight": 0.4}],
    "snr_db": 40,
    "solver": {"degree_offset": 4, "rtol_factor": 0.1},
}


def snakemake(workdir, config, *args):
    """Snakemake in `workdir` with `config` and `args`: (exit status, log)."""
    out = run_snakemake(workdir, *args, config=config, timeout=600)
    return out.returncode, out.stdout + out.stderr


def job_counts(log: str) -> dict:
    """The first 'Job stats' table of a Snakemake log as {rule: count}."""
    m = re.search(r"Job stats:\n.*?\n-+\s+-+\n(.*?)\ntotal", log, flags=re.S)
    return {} if m is None else {name: int(n) for name, n in re.findall(r"^(\w+)\s+(\d+)$", m.group(1), flags=re.M)}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, run_workflow):
    """The noise-free run of TINY; read-only for the tests (see the module's docstring)."""
    work = tmp_path_factory.mktemp("sweep")
    start = time.perf_counter()
    log = run_workflow(work, TINY)
    return {"dir": work, "results": work / "results", "log": log, "seconds": time.perf_counter() - start}


def test_whole_dag_writes_all_outputs(sweep):
    res = sweep["results"]
    counts = job_counts(sweep["log"])
    assert counts["simulate"] == 4 and counts["virtual_component"] == 1 and counts["fit"] == 1
    for name in ("m0_eps_global.csv", "m1_eps_global.csv", "m2_eps_global.csv", "m2_weights.csv", "eps_freq.csv",
                 "eps_rows.csv", "summary.json", "config.json"):
        assert (res / "fits" / name).stat().st_size > 0, name
    for name in ("0.mdf", "90.mdf", "calibrations.csv", "truth.json", "check.json"):
        assert (res / "measurement" / name).exists(), name
    assert sorted(p.name for p in (res / "dictionary" / "markers").iterdir()) == [
        "D20_K1100.json", "D20_K500.json", "D22_K1100.json", "D22_K500.json"]
    m1 = pd.read_csv(res / "fits" / "m1_eps_global.csv")
    assert list(m1.columns[:3]) == ["diameter", "anisotropy", "eps_global"] and len(m1) == 4
    rows = pd.read_csv(res / "fits" / "eps_rows.csv")
    assert (set(rows["model"]) == {"M0", "M0a", "M1", "M2", "M3"}
            and {"angle", "channel", "bin", "eps"} <= set(rows.columns))
    freq = pd.read_csv(res / "fits" / "eps_freq.csv")
    assert {"model", "mx", "my", "bin", "eps_freq"} <= set(freq.columns)
    assert len(freq[freq.model == "M1"]) == 22  # (4+1)² - 3 evaluation bins
    if (REPO / "src" / "mpisweep" / "figures").exists():
        assert len(list((res / "figures").glob("*.png"))) >= 6


def test_m1_recovers_exact_single_component_and_transfer_function(sweep):
    res = sweep["results"]
    summary = json.loads((res / "fits" / "summary.json").read_text())
    assert (summary["M1"]["best_diameter"], summary["M1"]["best_anisotropy"]) == (22.0, 1100.0)
    assert summary["M1"]["eps_global"] < 1e-10
    assert summary["recovered"]["m1_equals_dominant"]
    assert summary["M0"]["eps_global"] > 0.05  # Langevin cannot explain Néel relaxation with anisotropy
    assert summary["M2"][0]["eps_global"] < 1e-10
    # transfer function of M1 per (angle, channel, bin) equals the virtual scanner's
    resolved = json.loads((res / "fits" / "config.json").read_text())
    truth = json.loads((res / "measurement" / "truth.json").read_text())
    rows = pd.read_csv(res / "fits" / "eps_rows.csv")
    m1 = rows[rows.model == "M1"]
    cycle = 102 * 16 / 2.5e6
    H = receive_chain(truth["transfer_function"], m1["bin"].to_numpy() / cycle)
    ch = (m1["channel"] == "y").to_numpy().astype(int)
    want = H[ch, np.arange(len(m1))]
    got = m1["transfer_re"].to_numpy() + 1j * m1["transfer_im"].to_numpy()
    assert np.max(np.abs(got - want) / np.abs(want)) < 1e-10
    assert resolved["measurement"]["virtual"]["snr_db"] is None


def test_models_zarr_layout(sweep):
    ds = xr.open_zarr(sweep["results"] / "fits" / "models.zarr")
    rows = ("angle", "channel", "frequency", "offset_y", "offset_x")
    for name in ("measured", "model_m0", "model_m1"):
        assert ds[name].dims == rows and ds[name].dtype == np.complex128
    assert ds["model_m2"].dims == ("rank",) + rows
    assert ds["eps_m0"].dims == ds["eps_m1"].dims == ("angle", "channel", "frequency")
    assert ds["eps_m2"].dims == ("rank", "angle", "channel", "frequency")
    assert ds["eps_global_m0"].dims == ("diameter",)
    assert ds["eps_global_m1"].dims == ("diameter", "anisotropy")
    assert ds["weights_m2"].dims == ("rank", "diameter", "anisotropy")
    assert ds["eps_global_m2"].dims == ("rank",)
    assert ds["rank"].values.tolist() == [1.0, 0.5, 0.25]
    assert ds["frequency"].dtype.kind == "i" and ds["mx"].dtype.kind == "i" and ds["my"].dtype.kind == "i"
    assert (ds["frequency"].values == 16 * ds["mx"].values + 17 * ds["my"].values).all()
    assert list(ds["channel"].values) == ["x", "y"] and ds["angle"].values.tolist() == [0.0, 90.0]
    assert ds["offset_x"].attrs["units"] == "mT" and ds["diameter"].attrs["units"] == "nm"
    assert ds["offset_y"].values == pytest.approx([-14.71, 0, 14.71])
    assert (ds.attrs["best_m0_diameter"] in (20.0, 22.0) and ds.attrs["best_m1_diameter"] == 22.0
            and ds.attrs["best_m1_anisotropy"] == 1100.0)
    np.testing.assert_allclose(ds["model_m1"].values, ds["measured"].values, rtol=0,
                               atol=1e-12 * np.abs(ds["measured"].values).max())


def test_fitted_models_are_written_as_mdf_that_reads_back(sweep):
    from mpisweep.io.mdf import read_system_matrix, to_grid

    fits = sweep["results"] / "fits"
    ds = xr.open_zarr(fits / "models.zarr")
    best = int(np.nanargmin(ds["eps_global_m2"].values))
    for name, model in (("M1", ds["model_m1"]), ("M2", ds["model_m2"].isel(rank=best))):
        for angle in ds["angle"].values:
            path = fits / "mdf" / name / f"{label(float(angle))}.mdf"
            back = to_grid(read_system_matrix(path))
            assert back.attrs["calibration_method"] == "hybrid"
            assert back["frequency_bin"].values.tolist() == ds["frequency"].values.tolist()
            want = model.sel(angle=angle).transpose("channel", "frequency", "offset_y", "offset_x").values
            assert np.array_equal(back["system_matrix"].values, want)


def test_assembled_dictionary_matches_shards_and_measurement_round_trip(sweep):
    res = sweep["results"]
    fp = open_zarr(res / "dictionary" / "fp.zarr")
    resolved = json.loads((res / "fits" / "config.json").read_text())
    assert fp.attrs["config_hash"] == digest(resolved)
    for key in ("package_version", "git_revision", "solver", "spectrum_convention"):
        assert fp.attrs[key]
    for i, d in enumerate(fp["diameter"].values):
        for j, k in enumerate(fp["anisotropy"].values):
            name = block_name(d, k)
            shard = read_shard(res / "dictionary" / "shards" / f"{name}.zarr")
            assert np.array_equal(fp["rows"].isel(diameter=i, anisotropy=j).values, shard["rows"].values)
            marker = json.loads((res / "dictionary" / "markers" / f"{name}.json").read_text())
            assert marker["sha256"] == checksum(shard["rows"].values)
    # the MDF files hold the noise-free measurement = transfer function × dictionary block (22, 1100)
    ds = xr.open_zarr(res / "fits" / "models.zarr")
    block = fp["rows"].sel(diameter=22.0, anisotropy=1100.0).values
    ratio = ds["measured"].values / block
    assert np.allclose(ratio, ratio[..., :1, :1], rtol=1e-9)


def test_orientation_finds_the_noise_free_on_grid_phantom(sweep):
    res = sweep["results"] / "orientation"
    counts = job_counts(sweep["log"])
    assert counts["phantoms"] == 1 and counts["model_matrices"] == 1 and counts["reconstruct"] == 2
    index = pd.read_csv(res / "phantoms" / "measurements.csv")
    assert list(index.columns) == ["experimentNumber", "easyAxisOrientation", "x", "y", "path"]
    assert index.loc[0, "x"] == pytest.approx(-0.010) and index.loc[0, "path"] == "measurements/1.mdf"
    for model, pixel in (("measured", (1, 2)), ("M1", (2, 4))):
        c = xr.open_zarr(res / "reconstructions" / f"{model}.zarr")["c"].isel(measurement=0)
        angle, iy, ix = np.unravel_index(int(np.argmax(c.values)), c.shape)
        assert (float(c["angle"][angle]), iy, ix) == (90.0, *pixel), model
        readout = pd.read_csv(res / "readout" / f"{model}.csv").iloc[0]
        # 0.05 mm on the calibration grid; 0.61 mm (of 5 mm pixels) on the finer grid, whose neighbouring
        # columns are more alike, so that λ spreads the sample and the disc at the edge pulls it inward
        assert readout["position_error_mm"] < (0.1 if model == "measured" else 1.0), readout.to_dict()
        assert abs(readout["angle_error_deg"]) < 1.0, readout.to_dict()
        assert (readout["x_mm"], readout["y_mm"]) == (pytest.approx(-10, abs=1.0), pytest.approx(0, abs=0.01))
    # the calibration files say where each offset is: /calibration/positions, x mirrored
    with h5py.File(sweep["results"] / "measurement" / "90.mdf") as f:
        positions, offsets = f["/calibration/positions"][...], f["/calibration/offsetFields"][...]
    assert np.allclose(offsets[:, :2], [-1.435, -1.471] * positions[:, :2], atol=1e-12)
    assert (sweep["results"] / "orientation" / "matrices" / "M1" / "90.mdf").exists()
    summary = pd.read_csv(res / "summary.csv")
    assert list(summary["model"]) == ["measured", "M1"]
    # the weighting chosen per set on held-out calibration scans; the explicit λ_rel and threshold held
    for model, row in zip(summary["model"], summary.itertuples()):
        scores = pd.read_csv(res / "settings" / f"{model}.csv")
        assert scores["chosen"].sum() == 1 and set(scores["weighting"]) == {"none", "row_norm"}  # no noise
        assert (scores["lambda_rel"] == 0.01).all() and scores["snr_threshold"].isna().all()
        best = scores[scores["chosen"]].iloc[0]
        assert (row.lambda_rel, row.weighting) == (0.01, best["weighting"])
        assert best["angle_mae_deg"] == scores["angle_mae_deg"].min()
    # a readout setting redoes the reconstruction, never the model matrices
    config = json.loads(json.dumps(TINY))
    config["orientation"]["readout"] = {"radius": 1.5}
    rc, log = snakemake(sweep["dir"], config, "-n")
    assert rc == 0 and job_counts(log).get("reconstruct") == 2 and "model_matrices" not in job_counts(log), log[-2000:]
    assert (sweep["results"] / "figures" / "orientation_maps.png").stat().st_size > 0


def _record_config(sweep, tmp_path):
    """TINY reading the fixture's calibration and phantom files as a record (source mdf), no geometry setting."""
    res = sweep["results"]
    config = json.loads(json.dumps(TINY))
    config["output"] = str(tmp_path / "out")
    config["measurement"] = {"source": "mdf", "mdf": {"directory": str(res / "measurement")}}
    config["orientation"] = {"enabled": True, "models": ["measured"],
                             "phantoms": {"source": "mdf", "directory": str(res / "orientation" / "phantoms")},
                             "reconstruction": TINY["orientation"]["reconstruction"]}
    return config


def test_a_record_whose_files_state_negative_gradients_images_without_a_geometry_setting(sweep, tmp_path):
    from mpisweep.errors import ConfigError
    from mpisweep.steps.orientation.reconstruct import reconstruct
    from mpisweep.sweep import Sweep
    from mpisweep.sweep.geometry import calibration_map as position_map

    config = _record_config(sweep, tmp_path)
    record = Sweep.load(config)
    assert np.allclose(position_map(record).gradient, [-1.435, -1.471, 0])
    row = reconstruct(record, "measured", log=lambda m: None)["readout"][0]
    assert row["position_error_mm"] < 0.1 and abs(row["angle_error_deg"]) < 1.0, row
    # a configured geometry that contradicts the files is refused, both maps named
    config["orientation"]["field_of_view"] = [30, 30]
    with pytest.raises(ConfigError) as err:
        position_map(Sweep.load(config))
    text = str(err.value)
    assert "'orientation.field_of_view' [30, 30]" in text and "G = (1.435, 1.471, 0) T/m" in text, text
    assert "0.mdf states offset = centre + G·position, G = (-1.435, -1.471, 0) T/m" in text, text


def test_a_subgrid_of_the_files_offsets_is_read_as_the_configured_grid(sweep, tmp_path):
    from mpisweep.errors import MDFError
    from mpisweep.steps.measurement.check import check
    from mpisweep.sweep import Sweep, measured

    config = _record_config(sweep, tmp_path)
    full = measured.load(Sweep.load(config)).values
    config["offsets"] = {"x": {"min": -14.35, "max": 14.35, "count": 2}, "y": {"min": -14.71, "max": 14.71, "count": 2}}
    config["measurement"]["mdf"]["offset_subgrid"] = True
    corners = Sweep.load(config)
    assert check(corners)["files"][0]["offsets"] == 4
    assert np.array_equal(measured.load(corners).values, full[..., [0, 2, 6, 8]])  # x fastest on the 3 × 3 grid
    config["offsets"]["x"] = {"min": -10, "max": 14.35, "count": 2}
    with pytest.raises(MDFError, match=r"holds no offset at \[-10.0, -14.71\] mT of the configured grid"):
        measured.load(Sweep.load(config))


def test_calibration_files_that_disagree_on_positions_are_refused(sweep, tmp_path):
    from mpisweep.errors import MDFError
    from mpisweep.sweep import Sweep
    from mpisweep.sweep.measured import files_position_map

    data = tmp_path / "record"
    data.mkdir()
    for name in ("0.mdf", "90.mdf", "calibrations.csv"):
        shutil.copy(sweep["results"] / "measurement" / name, data / name)
    config = _record_config(sweep, tmp_path)
    config["measurement"]["mdf"]["directory"] = str(data)
    with h5py.File(data / "90.mdf", "r+") as f:
        f["/calibration/positions"][...] = -f["/calibration/positions"][...]  # the other sign
    with pytest.raises(MDFError, match=r"90.mdf: its positions map onto offsets as .*G = \(1.435, 1.471, 0\).* but "
                                       r".*0.mdf as .*G = \(-1.435, -1.471, 0\)"):
        files_position_map(Sweep.load(config))
    with h5py.File(data / "90.mdf", "r+") as f:
        del f["/calibration/positions"]
    with pytest.raises(MDFError, match=r"90.mdf: no /calibration/positions, while .*0.mdf has them"):
        files_position_map(Sweep.load(config))


def test_rerun_does_nothing_and_a_deleted_marker_recomputes_only_its_block(sweep):
    rc, log = snakemake(sweep["dir"], TINY, "-n")
    assert rc == 0 and "Nothing to be done" in log, log[-2000:]
    # every store is a target: a deleted one is rebuilt (moved aside here, then put back)
    for store, rule in (("fp.zarr", "assemble"), ("m0.zarr", "m0_dictionary"), ("m0a.zarr", "m0a_dictionary")):
        path = sweep["results"] / "dictionary" / store
        path.rename(path.with_name("aside"))
        try:
            rc, log = snakemake(sweep["dir"], TINY, "-n")
        finally:
            path.with_name("aside").rename(path)
        assert rc == 0 and job_counts(log).get(rule) == 1 and "simulate" not in job_counts(log), log[-2000:]
    # a deleted marker (moved aside here, then put back) reruns its block only
    marker = sweep["results"] / "dictionary" / "markers" / "D20_K500.json"
    marker.rename(marker.with_name("aside"))
    try:
        rc, log = snakemake(sweep["dir"], TINY, "-n")
        assert rc == 0, log[-2000:]
        counts = job_counts(log)
        assert counts.get("simulate") == 1 and log.count("rule simulate:") == 1
        assert "output: results/dictionary/markers/D20_K500.json" in log
        assert "virtual_component" not in counts and "check_measurement" not in counts
        # a new grid value adds only its own blocks (shard names come from the parameter values)
        more = json.loads(json.dumps(TINY))
        more["grids"]["anisotropies"] = [500, 800, 1100]
        rc, log = snakemake(sweep["dir"], more, "-n")
    finally:
        marker.with_name("aside").rename(marker)
    assert rc == 0, log[-2000:]
    assert job_counts(log)["simulate"] == 3  # D20_K800, D22_K800 and the deleted D20_K500
    for name in ("D20_K800", "D22_K800", "D20_K500"):
        assert f"output: results/dictionary/markers/{name}.json" in log


def test_mixture_orders_the_models_and_keeps_the_dictionary(sweep, tmp_path):
    work = copy_run(sweep["dir"], tmp_path / "mixture")  # the new measurement rewrites the fits: a copy's
    markers = work / "results" / "dictionary" / "markers"
    before = {p.name: p.stat().st_mtime_ns for p in markers.iterdir()}
    assert len(before) == 4
    config = json.loads(json.dumps(TINY))
    config["measurement"]["virtual"].update(MIXTURE)
    config["orientation"] = {"enabled": False}  # its outputs of the noise-free run stay as they are
    rc, log = snakemake(work, config, "--cores", "2")
    assert rc == 0, log[-4000:]
    counts = job_counts(log)
    assert "simulate" not in counts  # a new measurement does not recompute the dictionary
    assert counts["virtual_component"] == 2 and counts["fit"] == 1
    assert {p.name: p.stat().st_mtime_ns for p in markers.iterdir()} == before
    s = json.loads((work / "results" / "fits" / "summary.json").read_text())
    m0, m1, m2 = s["M0"]["eps_global"], s["M1"]["eps_global"], s["M2"][0]["eps_global"]
    assert m0 > m1 >= m2 > 0, (m0, m1, m2)
    assert s["truth"]["snr_db"] == 40 and s["truth"]["noise_sigma"] > 0
    assert (s["M1"]["best_diameter"], s["M1"]["best_anisotropy"]) == (22.0, 1100.0)
    # M3 (one transfer function per channel and frequency) recovers the mixture itself (measured:
    # 0.575 / 0.419 for 0.6 / 0.4) and fits at least as well as M2 (0.0659 vs 0.0665)
    for row in s["recovered"]["m3_weights_vs_truth"]:
        assert abs(row["m3_weight"] - row["true_weight"]) < 0.05, row
    assert s["M3"][0]["eps_global"] <= m2 + 0.005 and s["M3"][0]["converged"]


def _mdf_config(directory):
    """TINY reading MDF files from directory; orientation off (test_orientation_* covers it)."""
    config = json.loads(json.dumps(TINY))
    config["measurement"] = {"source": "mdf", "mdf": {"directory": str(directory)}}
    config["orientation"] = {"enabled": False}
    return config


def test_zenodo_layout_is_read_and_a_mismatching_file_fails_before_simulation(sweep, tmp_path):
    # Zenodo layout: calibrations.csv with numbered files under calibrations/
    data = tmp_path / "zenodo"
    (data / "calibrations").mkdir(parents=True)
    shutil.copy(sweep["results"] / "measurement" / "0.mdf", data / "calibrations" / "1.mdf")
    shutil.copy(sweep["results"] / "measurement" / "90.mdf", data / "calibrations" / "2.mdf")
    (data / "calibrations.csv").write_text("Number,Angle [deg],Note\n1,0,first\n2,90,second\n")
    work = tmp_path / "work"
    work.mkdir()
    rc, log = snakemake(work, _mdf_config(data), "--cores", "1", "--until", "check_measurement")
    assert rc == 0, log[-3000:]
    report = json.loads((work / "results" / "measurement" / "check.json").read_text())
    assert [Path(f["file"]).name for f in report["files"]] == ["1.mdf", "2.mdf"]

    with h5py.File(data / "calibrations" / "2.mdf", "r+") as f:
        divider = f["/acquisition/drivefield/divider"][...]
        divider[0, 0] = 100
        f["/acquisition/drivefield/divider"][...] = divider
    work2 = tmp_path / "work2"
    work2.mkdir()
    start = time.perf_counter()
    rc, log = snakemake(work2, _mdf_config(data), "--cores", "2")
    assert rc != 0
    assert "2.mdf: /acquisition/drivefield/divider is [100, 96], config expects [102, 96]" in log, log[-3000:]
    assert not (work2 / "results" / "dictionary" / "shards").exists()
    assert not (work2 / "results" / "dictionary" / "markers").exists()
    assert time.perf_counter() - start < 120


def _three_axis(path):
    """Patch a file as the 3-axis scanner writes it: a third, inactive drive channel (divider 99, strength 0)."""
    with h5py.File(path, "r+") as f:
        g = f["/acquisition/drivefield"]
        values = {"divider": np.array([[102], [96], [99]]),
                  "strength": np.concatenate([g["strength"][...], np.zeros((1, 1, 1))], axis=1),
                  "phase": np.zeros((1, 3, 1))}
        waveform = np.concatenate([g["waveform"][...], g["waveform"][...][:1]], axis=0)
        for name in ("divider", "strength", "phase", "waveform"):
            del g[name]
        for name, value in values.items():
            g[name] = value
        g["waveform"] = waveform


def test_the_records_layout_runs_end_to_end_unchanged(sweep, tmp_path):
    """calibrations.csv with the record's header, angles from the y axis, 3 drive channels (z inactive)."""
    data = tmp_path / "record"
    (data / "calibrations").mkdir(parents=True)
    for n, angle in ((1, 0), (2, 90)):
        shutil.copy(sweep["results"] / "measurement" / f"{angle}.mdf", data / "calibrations" / f"{n}.mdf")
        _three_axis(data / "calibrations" / f"{n}.mdf")
    # the record's angle is measured from y: model angle = 90 + CSV angle
    (data / "calibrations.csv").write_text("path,easyAxisOrientation\ncalibrations/1.mdf,90\ncalibrations/2.mdf,0\n")
    work = tmp_path / "work"
    # the dictionary of the virtual run, copied with its times: the same grid is not simulated again
    shutil.copytree(sweep["results"] / "dictionary", work / "results" / "dictionary")
    (work / "results" / "specs").mkdir()
    for name in ("specs/dictionary.json", ".warmup"):
        shutil.copy2(sweep["results"] / name, work / "results" / name)
    config = _mdf_config(data)
    config["measurement"]["mdf"]["angle_offset"] = 90
    rc, log = snakemake(work, config, "--cores", "2")
    assert rc == 0, log[-4000:]
    assert "simulate" not in job_counts(log) and job_counts(log)["fit"] == 1, job_counts(log)
    summary = json.loads((work / "results" / "fits" / "summary.json").read_text())
    assert (summary["M1"]["best_diameter"], summary["M1"]["best_anisotropy"]) == (22.0, 1100.0)
    # the same files and dictionary as the virtual run they were copied from: the same M1 fit
    source = json.loads((sweep["results"] / "fits" / "summary.json").read_text())
    assert summary["M1"]["eps_global"] == pytest.approx(source["M1"]["eps_global"], rel=1e-9, abs=1e-10)
    table = pd.read_csv(work / "results" / "fits" / "angle_conventions.csv")
    assert (table["angle_offset"][0], table["angle_sign"][0]) == (90, 1)

