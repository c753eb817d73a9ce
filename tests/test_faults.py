"""Bad input gets a clear error naming the key, file, dataset or argument; nothing is lost.

The catalogue of issue "real data in, nothing silently wrong": the record's own CSV header and
3-channel drive, non-finite / zero / noise-only data, unaffordable or inaccurate truncation
degrees, corrupted stores, bad command-line values, a full disk.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import warnings

import numpy as np
import pytest
import zarr
from helpers import robot_mdf

from mpisweep import cli
from mpisweep.errors import ConfigError, MDFError, StoreError
from mpisweep.io.mdf import check_compatible, describe, read_system_matrix, write_system_matrix
from mpisweep.steps.dictionary.assemble import assemble
from mpisweep.steps.dictionary.m0_dictionary import build_m0
from mpisweep.steps.dictionary.simulate import simulate_shard
from mpisweep.steps.fit.dictionaries import open_fp, open_m0
from mpisweep.steps.measurement.check import check_data
from mpisweep.sweep import Sweep
from mpisweep.sweep.coords import system_matrix_dataset
from mpisweep.sweep.cost import AccuracyWarning
from mpisweep.sweep.measured import expected_fields, read_index

GRID = {"diameters": [16], "anisotropies": [300, 600], "angles": [0]}
TINY = {"grids": GRID, "offsets": {"x": {"min": -4, "max": 4, "count": 2}, "y": {"min": 2, "max": 2, "count": 1}},
        "frequencies": {"mx": 2, "my": 2}, "fit": {"ranks": ["100%"]}}


def synthetic_file(sweep, path, *, value=1.0 + 0.5j, drive_channels=2, snr=None):
    """An MDF file shaped like the configured scanner (optionally with an inactive third drive channel)."""
    nbins = sweep.scanner.samples // 2 + 1
    data = np.full((2, nbins, sweep.offset_grid.ny, sweep.offset_grid.nx), value, dtype=complex)
    ds = system_matrix_dataset(sweep, data, snr)
    if drive_channels == 3:  # a 3-axis scanner: z inactive (divider 99, strength 0)
        ds.attrs["dividers"] = np.array([[102], [96], [99]])
        ds.attrs["drive_strength"] = np.concatenate([ds.attrs["drive_strength"], np.zeros((1, 1, 1))], axis=1)
        ds.attrs["drive_phase"] = np.zeros((1, 3, 1))
        ds.attrs["waveform"] = np.full((3, 1), "sine")
    write_system_matrix(path, ds)
    return path


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    return Sweep.load({**TINY, "output": str(tmp_path_factory.mktemp("faults") / "results")})


# ------------------------------------------------------------------------- the record's layout
def test_the_records_own_csv_header_is_detected(tmp_path):
    (tmp_path / "calibrations").mkdir()
    for n in (1, 2):
        (tmp_path / "calibrations" / f"{n}.mdf").write_bytes(b"")
    (tmp_path / "calibrations.csv").write_text(
        "path,easyAxisOrientation\ncalibrations/1.mdf,0\ncalibrations/2.mdf,15\n")
    rows = read_index(tmp_path, angle_offset=90)
    assert [r["file"].name for r in rows] == ["1.mdf", "2.mdf"]
    assert [r["angle"] for r in rows] == [90.0, 105.0]


def test_an_inactive_third_drive_channel_is_ignored_and_shown(sweep, tmp_path):
    path = synthetic_file(sweep, tmp_path / "3axis.mdf", drive_channels=3)
    ds = read_system_matrix(path)
    check_compatible(ds, expected_fields(sweep), path=path)  # passes: z has zero strength
    assert "channel 3: divider 99" in describe(path) and "(inactive: zero strength)" in describe(path)
    with pytest.raises(MDFError, match=r"divider is \[102, 96\]"):
        check_compatible(ds, {"dividers": [102, 100]}, path=path)


# ----------------------------------------------------------------------------- bad data
@pytest.mark.parametrize("value,message", [
    (complex(np.nan, 0), "/measurement/data has .* NaN or Inf"),
    (0j, "/measurement/data is zero on receive channel 0"),
])
def test_non_finite_or_zero_data_is_named(sweep, tmp_path, value, message):
    path = synthetic_file(sweep, tmp_path / "bad.mdf", value=value)
    with pytest.raises(MDFError, match=message):
        check_data(sweep, read_system_matrix(path), path)


def test_data_without_usable_snr_is_refused(sweep, tmp_path):
    nbins = sweep.scanner.samples // 2 + 1
    path = synthetic_file(sweep, tmp_path / "noise.mdf", snr=np.full((2, nbins), 0.3))
    with pytest.raises(MDFError, match="/calibration/snr is below 1 at every evaluation bin"):
        check_data(sweep, read_system_matrix(path), path)


# --------------------------------------------------------------------------- bad configs
@pytest.mark.parametrize("patch,message", [
    ({"scanner": {"drive": [0, 0]}}, "'scanner.drive': all amplitudes are zero"),
    ({"offsets": {"x": {"min": -3000, "max": 3000, "count": 3}}}, "'solver.max_degree': .* L = 93 for D16_K300"),
    ({"grids": {"diameters": [28], "anisotropies": [9000], "angles": [0]}, "solver": {"degree": 32}},
     "'solver.degree': .* below the automatic degree \\(up to 42"),
    ({"measurement": {"virtual": {"snr_db": -10000}}}, "'measurement.virtual.snr_db': -10000 is less than"),
    ({"solver": {"rtol": 2}}, "'solver.rtol'"),
])
def test_bad_configs_name_the_key(patch, message):
    with pytest.raises(ConfigError, match=message):
        Sweep.load({**TINY, **patch})


def test_a_degree_slightly_below_auto_warns_and_force_runs_anything():
    grids = {"diameters": [28], "anisotropies": [9000], "angles": [0]}
    with pytest.warns(AccuracyWarning, match="solver.degree = 41 is below the automatic degree"):
        Sweep.load({**TINY, "grids": grids, "solver": {"degree": 41}})
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        Sweep.load({**TINY, "grids": grids, "solver": {"degree": 32, "force_degree": True}})
    assert any("estimated truncation error 1.0e+00" in str(w.message) for w in seen)


# ------------------------------------------------------------------------ corrupted stores
@pytest.fixture(scope="module")
def stores(sweep):
    for _, d, k in sweep.blocks:
        simulate_shard(sweep, d, k, progress=False)
    return assemble(sweep), build_m0(sweep)


@pytest.mark.parametrize("store", ["fp", "m0"])
def test_a_corrupted_chunk_is_detected_when_a_store_is_read(sweep, stores, store, tmp_path):
    path = tmp_path / f"{store}.zarr"
    shutil.copytree(stores[0] if store == "fp" else stores[1], path)
    opener = (lambda: open_fp(sweep, path, log=lambda m: None)) if store == "fp" else (lambda: open_m0(sweep, path))
    opener()  # intact: reads fine
    rows = zarr.open_group(path, mode="r+")["rows"]
    bad = rows[...]
    bad.flat[3] = 4.6e306
    rows[...] = bad
    with pytest.raises(StoreError, match=f"{store}.zarr: rows do not match the sha256"):
        opener()


# --------------------------------------------------------------------------- command line
@pytest.mark.parametrize("args,status,message", [
    (["--rtol", "2"], 2, "--rtol: must be in (0, 1)"),
    (["--drive", "nan", "13.55"], 2, "--drive: must be finite"),
    (["--offset", "nan", "0"], 2, "--offset: must be finite"),
    (["--easy-axis", "nan"], 2, "--easy-axis: must be finite"),
    (["--output", "/nonexistent-dir/m.csv"], 2, "--output: cannot write /nonexistent-dir/m.csv"),
    (["--anisotropy", "1100", "--degree", "2"], 2, "--degree 2 is below the automatic choice 11"),
])
def test_bad_moment_arguments_exit_with_one_line(args, status, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["moment", "--diameter", "22", *args])
    assert exc.value.code == status
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("source,delta,message", [
    ("robot", 10, "numSamplingPoints is 162, but /measurement/data holds 152 samples per frame"),
    ("synthetic", 4, "holds 817 frequencies per frame, but /acquisition/receiver/numSamplingPoints = 1636 gives 819"),
])
def test_a_wrong_numsamplingpoints_is_named_not_reported_as_a_shape(sweep, tmp_path, source, delta, message):
    import h5py

    path = tmp_path / "file.mdf"
    if source == "synthetic":
        synthetic_file(sweep, path)
    else:  # laid out like a real robot scan in the time domain (152 samples per frame)
        robot_mdf(path)
    with h5py.File(path, "a") as f:
        key = "/acquisition/receiver/numSamplingPoints"
        v = int(f[key][()])
        del f[key]
        f[key] = v + delta
    with pytest.raises(MDFError, match=re.escape(message)):
        read_system_matrix(path)


def test_mdf_info_on_a_directory(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["mdf-info", str(tmp_path)])
    assert exc.value.code == 2 and "is a directory, not an MDF file" in capsys.readouterr().err


# -------------------------------------------------------------------------------- full disk
WRITE_MDF = """
import sys, numpy as np
from mpisweep.sweep import Sweep
from mpisweep.sweep.coords import system_matrix_dataset
from mpisweep.io.mdf import write_system_matrix
sweep = Sweep.read(sys.argv[1])
data = np.ones((2, sweep.scanner.samples // 2 + 1, 1, 2), complex)
write_system_matrix(sys.argv[2], system_matrix_dataset(sweep, data, None))
"""


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"), reason="needs root to mount a small tmpfs")
def test_a_full_disk_leaves_no_stray_files_and_a_one_line_error(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(disk)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        config = tmp_path / "resolved.json"
        Sweep.load({**TINY, "output": str(disk / "results")}).write(config)
        # h5py itself may crash on ENOSPC, so the MDF writer runs in its own process
        mdf = subprocess.run([sys.executable, "-c", WRITE_MDF, str(config), str(disk / "big.mdf")],
                             capture_output=True, text=True)
        assert mdf.returncode != 0 and "No space left on device" in mdf.stderr
        assert list(disk.iterdir()) == []  # no partial file, no temporary
        out = subprocess.run([sys.executable, "-m", "mpisweep", "m0-dictionary", "--config", str(config)],
                             capture_output=True, text=True)
        assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr[-2000:]
        assert "No space left on device" in out.stderr
        assert [p for p in disk.rglob("*") if ".tmp-" in p.name or p.suffix == ".zarr"] == []
    finally:
        subprocess.run(["umount", str(disk)])


# ------------------------------------------------------------------------ angle convention
def test_check_angles_finds_the_convention_of_the_data(tmp_path, capsys):
    from mpisweep.steps.fit.angles import check_angles
    from mpisweep.steps.measurement.virtual_scanner import simulate_component, virtual_scanner

    cfg = {**TINY, "grids": {"diameters": [16], "anisotropies": [1500], "angles": [0, 60, 120]},
           "measurement": {"virtual": {"components": [{"diameter": 16, "anisotropy": 1500, "weight": 1.0}],
                                       "solver": {"degree_offset": 0, "rtol_factor": 1}}},
           "output": str(tmp_path / "results")}
    sweep = Sweep.load(cfg)
    for name, comp in sweep.components:
        simulate_component(sweep, comp, sweep.layout.component(name), progress=False)
    virtual_scanner(sweep)
    simulate_shard(sweep, 16, 1500, progress=False)
    assemble(sweep)
    rows = check_angles(sweep, log=lambda m: None)
    assert (rows[0]["angle_offset"], rows[0]["angle_sign"]) == (0.0, 1)
    assert rows[1]["eps_global"] > 1.5 * rows[0]["eps_global"]  # 60° and 120° swapped
    assert [r["eps_global"] for r in rows[2:]] == [None, None]  # 90° + CSV angle misses 0°
    config = tmp_path / "resolved.json"
    sweep.write(config)
    assert cli.main(["check-angles", "--config", str(config), "-o", str(tmp_path / "angles.csv")]) == 0
    assert "best: model angle = 0 + CSV angle" in capsys.readouterr().out


# -------------------------------------------------------------------------- output in use
def test_a_second_run_on_the_same_output_is_refused(tmp_path):
    from mpisweep.sweep.in_use import OutputInUse, claim, release

    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / ".in-use").write_text(json.dumps({"host": socket.gethostname(), "pid": holder.pid, "cwd": "/else"}))
        with pytest.raises(OutputInUse, match=rf"output is in use: .* \(PID {holder.pid} on .*, started in /else\)"):
            claim(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    path = claim(tmp_path)  # the holder is gone: its claim is taken over
    assert json.loads(path.read_text())["pid"] == os.getpid()
    release(tmp_path)
    assert not path.exists()


# ------------------------------------------------------------- kill -9 at assemble and fit
@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """A complete tiny sweep (virtual measurement, dictionaries) whose resolved config is on disk."""
    from mpisweep.steps.dictionary.m0a_dictionary import build_m0a
    from mpisweep.steps.measurement.check import check
    from mpisweep.steps.measurement.virtual_scanner import simulate_component, virtual_scanner

    out = tmp_path_factory.mktemp("kill")
    sweep = Sweep.load({**TINY, "output": str(out / "results"), "measurement": {"virtual": {
        "components": [{"diameter": 16, "anisotropy": 600, "weight": 1.0}], "snr_db": 40,
        "solver": {"degree_offset": 0, "rtol_factor": 1}}}})
    for name, comp in sweep.components:
        simulate_component(sweep, comp, sweep.layout.component(name), progress=False)
    virtual_scanner(sweep)
    for _, d, k in sweep.blocks:
        simulate_shard(sweep, d, k, progress=False)
    build_m0(sweep)
    build_m0a(sweep)
    config = out / "resolved.json"
    sweep.write(config)
    from mpisweep.io.atomic import write_json

    write_json(sweep.layout.check, check(sweep))
    return sweep, config


@pytest.mark.slow  # ~20 s: the full suite runs it, the quick tier (under 3 minutes) does not
@pytest.mark.parametrize("step,target", [("assemble", "fp"), ("fit", "models")])
def test_sigkill_at_assemble_or_fit_never_leaves_a_partial_store(full, step, target):
    sweep, config = full
    store = sweep.layout.fp if target == "fp" else sweep.layout.models
    command = [sys.executable, "-m", "mpisweep", step, "--config", str(config)]
    if step == "fit":
        assert subprocess.run([sys.executable, "-m", "mpisweep", "assemble", "--config", str(config)]).returncode == 0
    for delay in (0.5, 1.0, 1.5, 2.0, 3.0):  # wherever the kill lands: before, during or after the write
        shutil.rmtree(store, ignore_errors=True)
        job = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            job.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            job.send_signal(signal.SIGKILL)
            job.wait()
        if store.exists():  # only a complete store ever carries the final name
            if target == "fp":
                open_fp(sweep, store, log=lambda m: None)
            else:
                from mpisweep.io.stores import open_zarr, verify_variables

                verify_variables(open_zarr(store), store)
    done = subprocess.run(command, capture_output=True, text=True)  # the rerun completes
    assert done.returncode == 0, done.stderr[-2000:]
    assert not [p for p in store.parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_a_corrupted_models_store_is_refused_by_the_figures(full, tmp_path, capsys):
    sweep, config = full
    if not sweep.layout.models.exists():
        from mpisweep.steps.dictionary.assemble import assemble as assemble_step
        from mpisweep.steps.fit.fit import run_fit

        assemble_step(sweep)
        run_fit(sweep, log=lambda m: None)
    models = tmp_path / "models.zarr"
    shutil.copytree(sweep.layout.models, models)
    group = zarr.open_group(models, mode="r+")
    eps = group["eps_m1"][...]
    eps.flat[0] += 0.01
    group["eps_m1"][...] = eps
    with pytest.raises(SystemExit) as exc:
        cli.main(["figures", str(models), str(tmp_path / "figures")])
    assert exc.value.code == 1
    assert "models.zarr: variable eps_m1 does not match the sha256" in capsys.readouterr().err


def test_a_stale_snakemake_lock_left_by_a_killed_run_gets_a_hint(tmp_path):
    from mpisweep.sweep.in_use import stale_lock_hint

    (tmp_path / ".snakemake" / "locks").mkdir(parents=True)
    (tmp_path / ".snakemake" / "locks" / "0.input.lock").write_text("")
    out = tmp_path / "results"
    out.mkdir()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (out / ".in-use").write_text(json.dumps({"host": socket.gethostname(), "pid": gone.pid, "cwd": str(tmp_path)}))
    hint = stale_lock_hint(tmp_path, out)
    assert hint and "--unlock" in hint and str(gone.pid) in hint
    (out / ".in-use").write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "cwd": str(tmp_path)}))
    assert stale_lock_hint(tmp_path, out) is None  # a live run holds it: the lock is not stale


# ------------------------------------------------------------- command-line faults (a fault run)
def one_line_error(argv, capsys, status=1) -> str:
    """The stderr of a refused command: exit `status`, one line, no traceback."""
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == status, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("args,message", [
    (["--model", "brown", "--hydrodynamic-diameter", "40", "--easy-axis", "30"],
     "--easy-axis: not a parameter of --model brown (a rigid dipole turning in a fluid)"),
    (["--model", "brown", "--hydrodynamic-diameter", "40", "--easy-axis-vector", "1", "0", "0"],
     "--easy-axis-vector: not a parameter of --model brown"),
    (["--model", "brown", "--hydrodynamic-diameter", "40", "--anisotropy", "0"],
     "--anisotropy: not a parameter of --model brown"),
    (["--model", "fp", "--viscosity", "5"], "--viscosity: not a parameter of --model fp (Néel relaxation"),
    (["--viscosity", "5"], "--viscosity: not a parameter of --model fp"),  # fp is the default model
    (["--hydrodynamic-diameter", "40"], "--hydrodynamic-diameter: not a parameter of --model fp"),
    (["--model", "langevin", "--anisotropy", "1000"], "--anisotropy: not a parameter of --model langevin"),
    (["--model", "equilibrium", "--degree", "10"], "--degree: not a parameter of --model equilibrium"),
    (["--model", "brown", "--hydrodynamic-diameter", "40", "--alpha", "0.1"], "--alpha: not a parameter of --model"),
])
def test_another_models_option_is_refused_naming_option_and_model(args, message, capsys):
    err = one_line_error(["moment", "--diameter", "22", *args, "--output", "-"], capsys, status=2)
    assert message in err and "only --model" in err


@pytest.fixture
def resolved(sweep, tmp_path):
    path = tmp_path / "resolved.json"
    sweep.write(path)
    return str(path)


@pytest.mark.parametrize("content,why", [
    (json.dumps({"round": 0, "blocks": []}), "no level, next, answer, table"),
    ("round 0 finished\n", "Expecting value"),
    (b"\xff\xfe\x00binary", "can't decode"),
])
def test_a_refine_round_file_that_is_none_is_named(resolved, tmp_path, capsys, content, why):
    bad = tmp_path / "round_0.json"
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    for argv in (["refine-round", "--config", resolved, "--round", "1", "--previous", str(bad)],
                 ["refine-table", "--round", str(bad), "--output", str(tmp_path / "rounds.csv")]):
        err = one_line_error(argv, capsys)
        assert f"refine round {bad}: not a round's JSON" in err and why in err, err
    if why != "no level, next, answer, table":  # assemble needs only the blocks
        err = one_line_error(["assemble", "--config", resolved, "--refined", str(bad)], capsys)
        assert f"refine round {bad}: not a round's JSON" in err and why in err, err
    assert not (tmp_path / "rounds.csv").exists()


def test_a_negative_refine_round_is_refused(resolved, capsys):
    assert "--round: must be 0" in one_line_error(["refine-round", "--config", resolved, "--round", "-1"], capsys, 2)


@pytest.mark.parametrize("content", ["output: résultats\n".encode("latin-1"), bytes(range(256))])
def test_check_config_on_a_file_that_is_not_utf8_names_it(tmp_path, capsys, content):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(content)
    err = one_line_error(["check-config", str(path)], capsys)
    assert f"config file {path}: not UTF-8 text" in err


def test_mdf_info_on_dev_null_is_not_an_mdf_file(capsys):
    err = one_line_error(["mdf-info", os.devnull], capsys)
    assert f"{os.devnull}: not an MDF/HDF5 file (a character device" in err and "no such file" not in err
