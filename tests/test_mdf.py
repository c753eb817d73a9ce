"""MDF v2 system-matrix reader/writer: a robot scan's time-domain layout, round trips, corrections, errors, CLI.

The time-domain tests run on a file laid out like a real 1D robot calibration that the tests write
(helpers.robot_mdf) and, when ../shared/data is there, on the real file itself (systemMatrix.mdf, a 2018
scanner prototype's, from another project: never copied into this repository).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr
from helpers import robot_mdf, shared_data

from mpisweep import cli
from mpisweep.io.mdf import (
    LAYOUT_ATTRS,
    MDFError,
    check_compatible,
    describe,
    position_map,
    read_system_matrix,
    to_grid,
    write_system_matrix,
)

BASE = 2.5e6
DIVIDERS = np.array([[102], [96]])
CYCLE = math.lcm(102, 96) / BASE
V = 32  # samples per cycle -> L = 17 rfft bins
L = V // 2 + 1


# ---------------------------------------------------------------- helpers


def make_dataset(seed=0, grid=(3, 2, 1), channels=2, snr=False, tf=False) -> xr.Dataset:
    """A synthetic frequency-domain system matrix on a grid of offset fields (x fastest)."""
    rng = np.random.default_rng(seed)
    nx, ny, nz = grid
    O = nx * ny * nz
    S = rng.normal(size=(channels, L, O)) + 1j * rng.normal(size=(channels, L, O))
    ix, iy, iz = np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="ij")
    # flat offset o = ix + nx*(iy + ny*iz): transpose the ij-grid to (z, y, x) before flattening
    fields = np.stack([a.transpose(2, 1, 0).reshape(-1) for a in (ix, iy, iz)], axis=1) * 1e-3 - 1e-3
    ds = xr.Dataset(
        {"system_matrix": (("channel", "frequency", "offset"), S)},
        coords={
            "channel": np.arange(channels),
            "frequency": np.arange(L) / CYCLE,
            "frequency_bin": ("frequency", np.arange(L)),
            "offset": np.arange(O),
            "xyz": np.array(["x", "y", "z"]),
            "offset_field": (("offset", "xyz"), fields),
        },
        attrs={
            "calibration_method": "hybrid",
            "base_frequency": BASE,
            "dividers": DIVIDERS,
            "drive_strength": np.array([[[0.012], [0.012]]]),
            "drive_phase": np.array([[[0.0], [math.pi / 2]]]),
            "waveform": np.array([["sine"], ["sine"]]),
            "cycle": CYCLE,
            "num_sampling_points": V,
            "bandwidth": V / (2 * CYCLE),
            "unit": "V",
            "num_averages": 1,
            "calibration_size": np.array(grid),
        },
    )
    if snr:
        ds["snr"] = (("channel", "frequency"), np.linspace(0.0, 20.0, channels * L).reshape(channels, L))
    if tf:
        ds["transfer_function"] = (("channel", "frequency"),
                                   (1.0 + np.arange(channels * L).reshape(channels, L)) * np.exp(0.3j))
    return ds


def assert_attrs_kept(read: xr.Dataset, source: xr.Dataset):
    for key, value in source.attrs.items():
        assert np.array_equal(np.asarray(read.attrs[key]), np.asarray(value)), key


def physics(ds: xr.Dataset) -> xr.Dataset:
    out = ds.copy()
    out.attrs = {k: v for k, v in ds.attrs.items() if k not in LAYOUT_ATTRS}
    return out


@pytest.fixture(params=["written", "real"])
def robot(request, tmp_path) -> Path:
    """copy.mdf, a 1D robot calibration in the time domain (MDF 2.0, isTransposed): the one the tests write,
    or a copy of the real one from ../shared/data (skipped without it)."""
    path = tmp_path / "copy.mdf"
    if request.param == "real":
        shutil.copy(shared_data("systemMatrix.mdf"), path)
        return path
    return robot_mdf(path)


# ---------------------------------------------------------------- a robot scan in the time domain


def test_robot_file_layout_and_metadata(robot):
    ds = read_system_matrix(robot)
    sm = ds["system_matrix"]
    assert sm.dims == ("channel", "frequency", "offset")
    assert sm.shape == (1, 77, 9)  # 1 channel, 152 samples -> 77 rfft bins, 9 positions
    assert np.iscomplexobj(sm.values)
    assert ds.attrs["mdf_version"] == "2.0"
    assert ds.attrs["calibration_method"] == "robot"
    assert ds.attrs["source_domain"] == "time"
    assert ds.attrs["fast_frame_axis"] is False and ds.attrs["frame_axis_flag"] == "/measurement/isTransposed"
    assert ds.attrs["num_sampling_points"] == 152 and ds.attrs["num_background_frames"] == 0
    assert ds.attrs["base_frequency"] == 125e6
    assert ds.attrs["dividers"].tolist() == [[4864]]
    assert ds.attrs["drive_frequencies"][0, 0] == pytest.approx(125e6 / 4864, rel=1e-12)
    assert ds.attrs["drive_strength"][0, 0, 0] == pytest.approx(5e-3)
    assert ds.attrs["cycle"] == pytest.approx(4864 / 125e6, rel=1e-12)
    assert ds.attrs["calibration_size"].tolist() == [9, 1, 1]
    assert Path(ds.attrs["source_path"]).resolve() == robot.resolve()
    np.testing.assert_allclose(np.diff(ds["frequency"].values), 125e6 / 4864, rtol=1e-12)
    assert ds["frequency_bin"].values.tolist() == list(range(77))
    two = read_system_matrix(robot, frequencies=[2, 1])
    assert two["system_matrix"].shape == (1, 2, 9) and two["frequency_bin"].values.tolist() == [2, 1]
    np.testing.assert_array_equal(two["system_matrix"].values, sm.values[:, [2, 1]])


def test_robot_file_values_are_rfft_of_raw_samples_with_conversion_factor(robot):
    with h5py.File(robot, "r") as f:
        raw = f["measurement/data"][()].astype(float)  # (N, J, C, V): frame axis slow (isTransposed = 0)
        a, b = f["acquisition/receiver/dataConversionFactor"][()][0]
    spectrum = np.fft.rfft(raw[:, 0, 0, :], axis=-1).T  # (K, N)
    plain = read_system_matrix(robot, convert_units=False)
    np.testing.assert_allclose(plain["system_matrix"].values[0], spectrum, rtol=1e-12, atol=1e-9)
    converted = read_system_matrix(robot)["system_matrix"].values[0]
    expect = a * spectrum
    expect[0] += b * 152
    np.testing.assert_allclose(converted, expect, rtol=1e-12, atol=1e-12)


def test_robot_file_fast_frame_axis_copy_reads_the_same(robot, tmp_path):
    original = read_system_matrix(robot)
    for flag in ("isTransposed", "isFastFrameAxis", "isPermuted"):
        path = tmp_path / f"{flag}.mdf"
        shutil.copy(robot, path)
        with h5py.File(path, "r+") as f:
            data = f["measurement/data"][()]
            del f["measurement/data"], f["measurement/isTransposed"]
            f["measurement/data"] = np.moveaxis(data, 0, -1)  # (J, C, V, N)
            f[f"measurement/{flag}"] = np.int8(1)
        ds = read_system_matrix(path)
        assert ds.attrs["fast_frame_axis"] is True
        np.testing.assert_array_equal(ds["system_matrix"].values, original["system_matrix"].values)


def test_frame_axis_flag_inconsistent_with_shape_or_other_flag(robot):
    path = robot
    with h5py.File(path, "r+") as f:
        f["measurement/isTransposed"][()] = np.int8(1)
    with pytest.raises(MDFError, match=r"copy\.mdf: /measurement/data has shape \(9, 1, 1, 152\).*isTransposed = 1"):
        read_system_matrix(path)
    with h5py.File(path, "r+") as f:
        f["measurement/isTransposed"][()] = np.int8(0)
        f["measurement/isFastFrameAxis"] = np.int8(1)
    with pytest.raises(MDFError, match="inconsistent frame-axis flags.*isFastFrameAxis = 1.*isTransposed = 0"):
        read_system_matrix(path)


# ---------------------------------------------------------------- round trips


def test_plain_round_trip_is_exact(tmp_path):
    ds0 = make_dataset()
    path = tmp_path / "plain.mdf"
    write_system_matrix(path, ds0)
    ds = read_system_matrix(path)
    np.testing.assert_array_equal(ds["system_matrix"].values, ds0["system_matrix"].values)
    np.testing.assert_array_equal(ds["offset_field"].values, ds0["offset_field"].values)
    np.testing.assert_array_equal(ds["frequency"].values, ds0["frequency"].values)
    assert_attrs_kept(ds, ds0)
    assert ds.attrs["mdf_version"] == "2.1.0" and ds.attrs["source_domain"] == "frequency"
    with h5py.File(path, "r") as f:
        dset = f["measurement/data"]
        assert dset.shape == (1, 2, L, 6)  # (J, C, K, N): frame axis fast
        htype = dset.id.get_type()  # complex stored as an HDF5 compound {r, i}
        assert isinstance(htype, h5py.h5t.TypeCompoundID)
        assert [htype.get_member_name(i) for i in range(htype.get_nmembers())] == [b"r", b"i"]
        assert f["measurement/isFastFrameAxis"][()] == 1 and f["measurement/isFrequencySelection"][()] == 0
        assert f["calibration/method"][()] == b"hybrid" and f["calibration/size"][()].tolist() == [3, 2, 1]
        for key in ("uuid", "time", "study/uuid", "experiment/isSimulation", "scanner/topology", "tracer/solute",
                    "acquisition/receiver/dataConversionFactor", "measurement/isSparsityTransformed",
                    "measurement/isSpectralLeakageCorrected", "acquisition/drivefield/numChannels"):
            assert key in f, key


def test_round_trip_with_background_permutation_and_frequency_selection(tmp_path):
    truth = read_system_matrix(_written(tmp_path / "truth.mdf", make_dataset(seed=1)))
    S = truth["system_matrix"].values  # (C, L, O = 6)
    rng = np.random.default_rng(2)
    # Acquisition order (0-based): B B f3 f0 f5 B f1 f4 f2 B B -> background blocks at 0.5, 5 and 9.5.
    acq_fg = np.array([3, 6, 8, 2, 7, 4])  # acquisition index of calibration frame f0..f5
    acq_bg = np.array([9, 0, 5, 10, 1])  # stored order of the background frames
    means = {c: rng.normal(size=(2, L)) + 1j * rng.normal(size=(2, L)) for c in (0.5, 5.0, 9.5)}
    dev = rng.normal(size=(2, L))
    block_of = {0: 0.5, 1: 0.5, 5: 5.0, 9: 9.5, 10: 9.5}
    sign = {0: 1, 1: -1, 5: 0, 9: 1, 10: -1}  # deviations average to zero within each block
    bg = np.stack([means[block_of[t]] + sign[t] * dev for t in acq_bg], axis=-1)

    def drift(t):
        lo, hi = (0.5, 5.0) if t <= 5.0 else (5.0, 9.5)
        w = (t - lo) / (hi - lo)
        return (1 - w) * means[lo] + w * means[hi]

    measured = S + np.stack([drift(t) for t in acq_fg], axis=-1)
    raw = truth.copy()
    raw["system_matrix"] = (("channel", "frequency", "offset"), measured)
    selection = [12, 1, 3, 7, 16]
    perm = np.r_[acq_fg, acq_bg] + 1
    for fast in (True, False):
        path = tmp_path / f"bg_{fast}.mdf"
        write_system_matrix(path, raw, background=bg, frame_permutation=perm, frequency_bins=selection,
                            fast_frame_axis=fast)
        with h5py.File(path, "r") as f:
            assert f["measurement/data"].shape == ((1, 2, 5, 11) if fast else (11, 1, 2, 5))
            assert f["measurement/isBackgroundFrame"][()].tolist() == [0] * 6 + [1] * 5
            assert f["measurement/frequencySelection"][()].tolist() == [13, 2, 4, 8, 17]
            assert f["measurement/framePermutation"][()].tolist() == perm.tolist()
            assert f["measurement/isBackgroundCorrected"][()] == 0

        ds = read_system_matrix(path)
        assert ds["frequency_bin"].values.tolist() == selection
        np.testing.assert_allclose(ds["frequency"].values, np.array(selection) / CYCLE, rtol=1e-15)
        np.testing.assert_allclose(ds["system_matrix"].values, S[:, selection], rtol=0, atol=1e-12)
        assert ds["acquisition_frame"].values.tolist() == acq_fg.tolist()
        assert "background" not in ds and ds.attrs["background_corrected"] is True
        assert ds.attrs["num_background_frames"] == 5 and ds.attrs["frame_permutation"] is True
        assert_attrs_kept(ds, make_dataset())  # same metadata as the source dataset
        np.testing.assert_array_equal(ds["offset_field"].values, truth["offset_field"].values)

        rawread = read_system_matrix(path, subtract_background=False)
        np.testing.assert_array_equal(rawread["system_matrix"].values, measured[:, selection])
        np.testing.assert_array_equal(rawread["background"].values, bg[:, selection])
        assert rawread["background_acquisition_frame"].values.tolist() == acq_bg.tolist()
        assert rawread.attrs["background_corrected"] is False

    # The raw read carries everything needed to rewrite the same file content.
    again = tmp_path / "again.mdf"
    write_system_matrix(again, rawread)
    xr.testing.assert_identical(physics(read_system_matrix(again, subtract_background=False)), physics(rawread))
    xr.testing.assert_identical(physics(read_system_matrix(again)), physics(read_system_matrix(path)))


def test_single_background_block_is_subtracted_as_its_mean(tmp_path):
    ds0 = make_dataset(seed=3)
    bg = np.ones((2, L, 2)) * np.array([1.0, 3.0])  # two frames stored last, mean 2
    ds0_raw = ds0.copy()
    ds0_raw["system_matrix"] = ds0["system_matrix"] + 2.0
    ds = read_system_matrix(_written(tmp_path / "one.mdf", ds0_raw, background=bg))
    np.testing.assert_allclose(ds["system_matrix"].values, ds0["system_matrix"].values, atol=1e-14)


def _written(path, ds, **kw):
    write_system_matrix(path, ds, **kw)
    return path


# ---------------------------------------------------------------- transfer function and SNR


def test_transfer_function_correction(tmp_path):
    ds0 = make_dataset(tf=True)
    path = _written(tmp_path / "tf.mdf", ds0)
    plain = read_system_matrix(path)
    np.testing.assert_array_equal(plain["system_matrix"].values, ds0["system_matrix"].values)
    np.testing.assert_array_equal(plain["transfer_function"].values, ds0["transfer_function"].values)
    corrected = read_system_matrix(path, apply_transfer_function=True)
    expect = ds0["system_matrix"].values / ds0["transfer_function"].values[:, :, None]
    np.testing.assert_allclose(corrected["system_matrix"].values, expect, rtol=1e-15)
    assert corrected.attrs["transfer_function_corrected"] is True

    # Already corrected files are not divided twice.
    twice = read_system_matrix(_written(tmp_path / "tf2.mdf", corrected), apply_transfer_function=True)
    np.testing.assert_allclose(twice["system_matrix"].values, expect, rtol=1e-15)

    # A full-length (C, V/2+1) transfer function is indexed by the selected bins.
    sel = [2, 5, 9]
    path3 = _written(tmp_path / "tf3.mdf", ds0, frequency_bins=sel)
    with h5py.File(path3, "r+") as f:
        del f["acquisition/receiver/transferFunction"]
        f["acquisition/receiver/transferFunction"] = ds0["transfer_function"].values
    sub = read_system_matrix(path3, apply_transfer_function=True)
    np.testing.assert_allclose(sub["system_matrix"].values, expect[:, sel], rtol=1e-15)

    with pytest.raises(MDFError, match=r"plain\.mdf: /acquisition/receiver/transferFunction is missing"):
        read_system_matrix(_written(tmp_path / "plain.mdf", make_dataset()), apply_transfer_function=True)


def test_snr_filtering_and_frequency_request(tmp_path):
    ds0 = make_dataset(snr=True)
    path = _written(tmp_path / "snr.mdf", ds0)
    snr = ds0["snr"].values
    ds = read_system_matrix(path, snr_threshold=15.0)
    keep = np.flatnonzero(snr.max(axis=0) >= 15.0)
    assert 0 < keep.size < L
    assert ds["frequency_bin"].values.tolist() == keep.tolist()
    np.testing.assert_array_equal(ds["system_matrix"].values, ds0["system_matrix"].values[:, keep])
    assert (ds["snr"].max("channel") >= 15.0).all()

    some = read_system_matrix(path, frequencies=[16, 3, 10], snr_threshold=15.0)
    assert some["frequency_bin"].values.tolist() == [16, 10]
    with pytest.raises(MDFError, match=r"snr\.mdf: frequency bin\(s\) \[40\] are not stored"):
        read_system_matrix(path, frequencies=[3, 40])
    with pytest.raises(MDFError, match="/calibration/snr is missing"):
        read_system_matrix(_written(tmp_path / "nosnr.mdf", make_dataset()), snr_threshold=1.0)


# ---------------------------------------------------------------- grid


def test_to_grid_orders_offsets_x_fastest(tmp_path):
    ds = read_system_matrix(_written(tmp_path / "g.mdf", make_dataset(grid=(3, 2, 1))))
    g = to_grid(ds)
    assert g["system_matrix"].dims == ("channel", "frequency", "offset_y", "offset_x")
    assert g["system_matrix"].shape == (2, L, 2, 3)
    for iy in range(2):
        for ix in range(3):
            np.testing.assert_array_equal(g["system_matrix"].values[..., iy, ix],
                                          ds["system_matrix"].values[..., ix + 3 * iy])
            assert (g["offset_field"].values[iy, ix].tolist()
                    == pytest.approx([ix * 1e-3 - 1e-3, iy * 1e-3 - 1e-3, -1e-3]))
    g3 = to_grid(read_system_matrix(_written(tmp_path / "g3.mdf", make_dataset(grid=(2, 3, 2)))))
    assert g3["system_matrix"].dims[-3:] == ("offset_z", "offset_y", "offset_x")
    assert g3["offset_field"].values[1, 2, 0].tolist() == pytest.approx([-1e-3, 1e-3, 0.0])
    robot = to_grid(read_system_matrix(robot_mdf(tmp_path / "robot.mdf")))
    assert robot["system_matrix"].shape == (1, 77, 1, 9)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("dataset", ["/acquisition/drivefield/cycle", "/measurement/data", "/calibration/method",
                                     "/measurement/isFourierTransformed", "/version"])
def test_missing_required_dataset_names_file_and_dataset(tmp_path, dataset):
    path = robot_mdf(tmp_path / "copy.mdf")
    with h5py.File(path, "r+") as f:
        del f[dataset]
    with pytest.raises(MDFError, match=f"copy\\.mdf: {dataset} is missing"):
        read_system_matrix(path)


def test_wrong_shapes_and_values_name_the_dataset(tmp_path):
    path = _written(tmp_path / "s.mdf", make_dataset())
    with h5py.File(path, "r+") as f:
        del f["calibration/offsetFields"]
        f["calibration/offsetFields"] = np.zeros((7, 3))
    with pytest.raises(MDFError, match=r"s\.mdf: /calibration/offsetFields has shape \(7, 3\), "
                                       r"expected \(O, 3\) = \(6, 3\)"):
        read_system_matrix(path)

    path = _written(tmp_path / "k.mdf", make_dataset(), frequency_bins=[1, 2, 3])
    with h5py.File(path, "r+") as f:
        del f["measurement/frequencySelection"]
        f["measurement/frequencySelection"] = np.array([2, 3])  # data holds 3 bins
    with pytest.raises(MDFError, match=r"k\.mdf: /measurement/data holds 3 frequencies per frame, "
                                       r"but /measurement/frequencySelection lists 2"):
        read_system_matrix(path)
    with h5py.File(path, "r+") as f:
        del f["measurement/frequencySelection"]
        f["measurement/frequencySelection"] = np.array([2, 3, 99])
    with pytest.raises(MDFError, match="/measurement/frequencySelection must hold distinct 1-based indices"):
        read_system_matrix(path)

    path = _written(tmp_path / "p.mdf", make_dataset(), frame_permutation=[1, 2, 3, 4, 6, 5])
    with h5py.File(path, "r+") as f:
        f["measurement/framePermutation"][()] = [1, 1, 3, 4, 6, 5]
    with pytest.raises(MDFError, match="/measurement/framePermutation must be a permutation of 1..6"):
        read_system_matrix(path)

    bad = tmp_path / "text.mdf"
    bad.write_text("not hdf5")
    with pytest.raises(MDFError, match=r"text\.mdf: not a readable MDF/HDF5 file"):
        read_system_matrix(bad)


def test_check_compatible_names_file_and_field():
    ds = make_dataset()
    ok = {"cycle": CYCLE, "dividers": [102, 96], "num_sampling_points": V, "grid_size": (3, 2),
          "offset_fields": ds["offset_field"].values, "base_frequency": BASE}
    check_compatible(ds, ok, path="calibrations/3.mdf")
    with pytest.raises(MDFError) as err:
        check_compatible(ds, {**ok, "dividers": [100, 96]}, path="calibrations/3.mdf")
    assert str(err.value) == ("calibrations/3.mdf: /acquisition/drivefield/divider is [102, 96], "
                              "config expects [100, 96]")
    with pytest.raises(MDFError, match=r"calibrations/3\.mdf: /calibration/size is \[3, 2, 1\], "
                                       r"config expects \[4, 2, 1\]"):
        check_compatible(ds, {"grid_size": (4, 2)}, path="calibrations/3.mdf")
    with pytest.raises(MDFError, match="/acquisition/drivefield/cycle is"):
        check_compatible(ds, {"cycle": CYCLE * 1.001}, path="x.mdf")
    with pytest.raises(MDFError, match="/acquisition/receiver/numSamplingPoints is 32, config expects 64"):
        check_compatible(ds, {"num_sampling_points": 64}, path="x.mdf")
    shifted = ds["offset_field"].values[:, :2] + np.array([1e-4, 0.0])
    with pytest.raises(MDFError, match="/calibration/offsetFields is .* mT at offset 0"):
        check_compatible(ds, {"offset_fields": shifted}, path="x.mdf")
    with pytest.raises(MDFError, match=r"x\.mdf: /calibration/size \[4, 2, 1\] has 8 points but there are 6"):
        bad = ds.copy()
        bad.attrs = {**ds.attrs, "calibration_size": np.array([4, 2, 1]), "source_path": "x.mdf"}
        to_grid(bad)


# ---------------------------------------------------------------- describe and CLI


def test_describe_mentions_key_facts(robot, tmp_path):
    text = describe(robot)
    for part in ("version 2.0", "robot", "9 x 1 x 1", "1 channel", "77 bins", "samples per cycle 152",
                 "cycle 38.912 µs", "base frequency 125 MHz", "divider 4864 -> 25.699 kHz", "strength 5 mT",
                 "Fourier transformed: no", "fast frame axis: no (from isTransposed)", "background frames: 0",
                 "frequency selection: no", "frame permutation: no", "transfer function: absent", "SNR: absent"):
        assert part in text, part
    path = _written(tmp_path / "d.mdf", make_dataset(snr=True, tf=True), background=np.zeros((2, L, 3)),
                    frame_permutation=[2, 3, 4, 5, 6, 7, 1, 8, 9], frequency_bins=[1, 2, 3, 4])
    text = describe(path)
    for part in ("version 2.1.0", "hybrid", "3 x 2 x 1", "6 calibration frames + 3 background frames",
                 "divider 102 -> 24.5098 kHz", "divider 96 -> 26.0417 kHz", "strength 12 mT",
                 "fast frame axis: yes (from isFastFrameAxis)", "frequency selection: yes (4 of 17 bins)",
                 "frame permutation: yes", "transfer function: present", "SNR: present"):
        assert part in text, part


def test_cli_mdf_info(tmp_path, capsys):
    assert cli.main(["mdf-info", str(robot_mdf(tmp_path / "robot.mdf"))]) == 0
    out = capsys.readouterr().out
    assert "version 2.0" in out and "77 bins" in out
    bad = tmp_path / "broken.mdf"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["mdf-info", str(bad)])
    assert exit_info.value.code == 1  # a bad file is a domain error
    assert "broken.mdf" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["mdf-info", str(tmp_path / "absent.mdf")])
    assert exit_info.value.code == 2  # a missing path is a usage error
    assert "absent.mdf: no such file" in capsys.readouterr().err
    incomplete = tmp_path / "incomplete.mdf"
    with h5py.File(incomplete, "w") as f:
        f["version"] = "2.1.0"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["mdf-info", str(incomplete)])
    assert exit_info.value.code == 1
    assert "incomplete.mdf: /calibration/method is missing" in capsys.readouterr().err


# ---------------------------------------------------------------- the file's own position map


@pytest.mark.parametrize("gradient", [(-1.0, -1.0, 0.0), (1.0, 0.5, 0.0)])
def test_the_position_map_is_read_with_its_signs(tmp_path, gradient):
    """offset = centre + G·position, G signed per axis (an FFP scanner's x and y gradients are negative)."""
    ds = make_dataset()
    fields = ds["offset_field"].values
    centre = np.array([0.2e-3, -0.1e-3, 0.0])
    g = np.asarray(gradient)
    positions = np.where(g != 0, (fields - centre) / np.where(g != 0, g, 1.0), 0.0)
    pmap = position_map(positions, fields)
    np.testing.assert_allclose(pmap.gradient, g, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(pmap.centre[:2], centre[:2], atol=1e-15)
    np.testing.assert_allclose(pmap.offset(positions), fields, atol=1e-15)
    text = describe(_written(tmp_path / "p.mdf", ds, positions=positions))
    assert f"position map: offset = centre + G·position, G = ({g[0]:.4g}, {g[1]:.4g}, 0) T/m" in text


def test_a_position_map_that_is_not_linear_is_named():
    ds = make_dataset()
    fields = ds["offset_field"].values
    positions = fields.copy()
    positions[0, 0] += 0.3e-3  # one robot position off the grid
    with pytest.raises(MDFError, match=r"cal\.mdf: /calibration/offsetFields are not a per-axis linear map"):
        position_map(positions, fields, where="cal.mdf")
    with pytest.raises(MDFError, match="do not describe the same grid"):
        position_map(positions[:-1], fields)
