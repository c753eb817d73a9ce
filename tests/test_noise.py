"""One noise model per file (mpisweep.io.mdf.noise) and the fits' row selection by SNR (mpisweep.fitting.selection).

The files are written here with known complex Gaussian noise: background frames (a calibration as a
scanner records it), repeated foreground frames (a phantom measurement without background frames), only
/calibration/snr (what the virtual scanner writes), or nothing. The dead-channel case is the fault of a
fault run: a receive channel without signal entered every fit unweighted and moved M3's weights.
"""

import numpy as np
import pytest
from helpers import steps_before_fit

from mpisweep.fitting import fit_m1, fit_m3
from mpisweep.fitting.selection import select_rows
from mpisweep.io.mdf import write_system_matrix
from mpisweep.io.mdf.measurement import write_measurement
from mpisweep.io.mdf.noise import file_noise, rms_snr
from mpisweep.steps.dictionary.m0a_dictionary import m0a_rows
from mpisweep.sweep import Sweep
from mpisweep.sweep.coords import system_matrix_dataset

SIGMA = np.array([0.02, 0.05])  # noise σ of one frame per receive channel


def cplx(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def noise(rng, shape):
    """Complex noise with E|n|² = σ² per channel (the channel axis first)."""
    return cplx(rng, shape) * (SIGMA.reshape((-1,) + (1,) * (len(shape) - 1)) / np.sqrt(2))


@pytest.fixture(scope="module")
def small():
    sweep = Sweep.load({"grids": {"diameters": [22], "anisotropies": [1100], "angles": [0]},
                        "offsets": {"x": {"min": -10, "max": 10, "count": 3},
                                    "y": {"min": -10, "max": 10, "count": 3}}})
    rng = np.random.default_rng(4)
    signal = cplx(rng, (2, 817, 3, 3)) * np.linspace(1.0, 0.0, 817)[None, :, None, None]  # fades out: dead top bins
    return sweep, signal, rng


def test_background_frames_give_the_noise_of_one_frame(small, tmp_path):
    sweep, signal, rng = small
    frames = signal + noise(rng, signal.shape)
    ds = system_matrix_dataset(sweep, frames, None)
    background = 0.3 + 0.1j + noise(rng, (2, 817, 40))  # an empty bore: a constant offset and noise
    write_system_matrix(tmp_path / "c.mdf", ds, background=background)
    found = file_noise(tmp_path / "c.mdf")
    assert (found.source, found.frames) == ("background frames", 40)
    # 39 degrees of freedom per (channel, bin): the mean over the bins is within 2 % of σ
    assert np.allclose(found.sigma.mean(axis=1), SIGMA, rtol=0.02)
    assert found.describe() == "background frames (40 frames)"


def test_repeated_frames_give_the_noise_of_a_measurement_without_background(small, tmp_path):
    sweep, signal, rng = small
    attrs = system_matrix_dataset(sweep, np.zeros((2, 817, 3, 3)), None).attrs
    frames = signal[:, :, 0, 0, None] + noise(rng, (2, 817, 25))
    write_measurement(tmp_path / "m.mdf", frames, None, attrs)
    found = file_noise(tmp_path / "m.mdf", calibration=False)
    assert (found.source, found.frames) == ("repeated frames", 25)
    assert np.allclose(found.sigma.mean(axis=1), SIGMA, rtol=0.02)


def test_the_file_snr_is_the_last_resort_and_round_trips_the_definition(small, tmp_path):
    sweep, signal, rng = small
    sigma = SIGMA[:, None] * np.ones((1, 817))
    snr = rms_snr(signal.reshape(2, 817, -1), sigma)
    write_system_matrix(tmp_path / "v.mdf", system_matrix_dataset(sweep, signal, snr))
    found = file_noise(tmp_path / "v.mdf", bins=np.arange(1, 400))
    assert found.source == "file SNR" and found.frames == 0
    np.testing.assert_allclose(found.sigma, sigma[:, 1:400], rtol=1e-9)
    write_system_matrix(tmp_path / "bare.mdf", system_matrix_dataset(sweep, signal, None))
    bare = file_noise(tmp_path / "bare.mdf")
    assert bare.sigma is None and bare.source == "none" and "no background frames" in bare.describe()


def test_pure_noise_has_an_snr_of_one():
    rng = np.random.default_rng(0)
    rows = noise(rng, (2, 50, 400))
    snr = rms_snr(rows, SIGMA[:, None])
    assert np.abs(snr.mean(axis=1) - 1.0).max() < 0.02
    assert rms_snr(np.zeros((1, 1, 4)), np.zeros((1, 1)))[0, 0] == 0.0


def test_select_rows_leaves_out_a_dead_channel_with_a_warning_that_names_it():
    snr = np.ones((3, 3, 5)) * np.array([50.0, 20.0, 1.1])[None, :, None]
    snr[1, 0, 4] = 1.5  # one file's weak bin on x drops that row only
    snr[:, 1, 4] = 0.9  # and y there: bin 4 keeps no row
    sel = select_rows(snr, 2.0, ("x", "y", "z"))
    assert sel.dead_channels == ["z"] and sel.kept_bins.tolist() == [0, 1, 2, 3]
    assert sel.rows[:2, :4].all() and not sel.rows[2].any()
    (line,) = sel.warnings()
    assert line.startswith("receive channel z: no bin reaches an SNR of 2") and "largest 1.1" in line
    assert "rows with SNR ≥ 2 in every file: 8 of 15" in sel.summary()


def test_fits_refuse_a_mask_of_the_wrong_shape_or_an_empty_bin():
    S = np.ones((1, 2, 3, 4), complex)
    dic = np.ones((1, 1, 1, 2, 3, 4), complex)
    with pytest.raises(ValueError, match=r"rows: expected a boolean \(channel, frequency\) mask of shape \(2, 3\)"):
        fit_m1(S, dic, np.arange(3), rows=np.ones((3, 2), bool))
    with pytest.raises(ValueError, match=r"rows: frequency positions \[1\] have no row left"):
        fit_m1(S, dic, np.arange(3), rows=np.array([[True, False, True], [True, False, True]]))


@pytest.fixture(scope="module")
def dead_channel_set():
    """An anisotropic-equilibrium mixture 0.7 (22, 1100) + 0.3 (20, 2000) at 60 dB on two channels, and a
    third receive channel of pure noise whose dictionary rows are tiny and entry-dependent."""
    sweep = Sweep.load({"grids": {"diameters": [18, 20, 22], "anisotropies": [500, 1100, 2000], "angles": [0, 90]},
                        "offsets": {"x": {"min": -10, "max": 10, "count": 4}, "y": {"min": -10, "max": 10, "count": 4}},
                        "frequencies": {"mx": 4, "my": 4}})
    g = sweep.grids
    dic = np.stack([np.stack([m0a_rows(sweep, d, k) for k in g.anisotropies_Jm3]) for d in g.diameters_nm])
    dic = dic.reshape(dic.shape[:-2] + (-1,))
    rng = np.random.default_rng(3)
    z = 1e-4 * np.abs(dic).max() * cplx(rng, dic.shape[:3] + (1,) + dic.shape[4:])
    dic = np.concatenate([dic, z], axis=3)
    w = np.zeros(dic.shape[:2])
    w[2, 1], w[1, 2] = 0.7, 0.3
    clean = (1 + 0.2j) * np.tensordot(w, dic, axes=2)
    sigma = 1e-3 * np.sqrt(np.mean(np.abs(clean[:, :2]) ** 2))
    S = clean + cplx(rng, clean.shape) * sigma / np.sqrt(2)
    S[:, 2] = cplx(rng, S[:, 2].shape) * sigma / np.sqrt(2)
    return S, dic, w, rms_snr(S, np.full(S.shape[:3], sigma))


def test_a_dead_receive_channel_moves_m3_unless_its_rows_are_left_out(dead_channel_set):
    S, dic, w, snr = dead_channel_set
    sel = select_rows(snr, 2.0, ("x", "y", "z"))
    assert sel.dead_channels == ["z"]
    keep = sel.kept_bins
    bins = np.arange(keep.size)
    blind = fit_m3(S[:, :, keep], dic[:, :, :, :, keep], bins)
    aware = fit_m3(S[:, :, keep], dic[:, :, :, :, keep], bins, rows=sel.rows[:, keep])
    error_blind = np.abs(blind.weights[0] - w).max()
    error_aware = np.abs(aware.weights[0] - w).max()
    assert error_aware <= 0.05 < error_blind  # measured: 0.002 against 0.59
    assert np.all(aware.transfer[0, 2] == 0)  # no transfer function for the rows left out
    m1 = fit_m1(S[:, :, keep], dic[:, :, :, :, keep], bins, rows=sel.rows[:, keep])
    assert m1.best_index == (2, 1)
    # ε averages over the used rows only: the x, y rows alone
    xy = fit_m1(S[:, :2, keep], dic[:, :, :, :2, keep], bins)
    assert m1.eps_global_best == pytest.approx(xy.eps_global_best, rel=1e-12)


def test_without_a_mask_the_fits_are_unchanged_bit_for_bit(dead_channel_set):
    S, dic, _, _ = dead_channel_set
    bins = np.arange(S.shape[2])
    full = np.ones(S.shape[1:3], bool)
    a, b = fit_m3(S, dic, bins), fit_m3(S, dic, bins, rows=full)
    assert np.array_equal(a.weights, b.weights) and np.array_equal(a.eps_global, b.eps_global)
    assert np.array_equal(fit_m1(S, dic, bins).eps_global, fit_m1(S, dic, bins, rows=full).eps_global)


def _steps(tmp_path, **overrides):
    """The workflow's steps up to the fit on a tiny virtual sweep at 40 dB (no Snakemake); returns the sweep,
    the check report and the virtual scanner's truth."""
    virtual = {"components": [{"diameter": 18, "anisotropy": 300, "weight": 1.0}], "snr_db": 40,
               "transfer_function": {"kind": "unity"}, "solver": {"degree_offset": 0, "rtol_factor": 1}}
    virtual.update(overrides.pop("virtual", {}))
    sweep = Sweep.load({
        "output": str(tmp_path / "results"),
        "grids": {"diameters": [16, 18], "anisotropies": [300], "angles": [0, 60]},
        "offsets": {"x": {"min": -4, "max": 4, "count": 2}, "y": {"min": 2, "max": 2, "count": 1}},
        "frequencies": {"mx": 2, "my": 2},
        "fit": {"ranks": ["100%"]},
        "measurement": {"virtual": virtual},
        **overrides,
    })
    truth, report, _ = steps_before_fit(sweep)
    return sweep, report, truth


def test_the_fit_step_leaves_out_a_receive_channel_without_signal_and_says_so(tmp_path, capsys):
    """A 2D drive read by three coils: the z coil sees only the tiny out-of-plane precession, below the noise."""
    from mpisweep import cli
    from mpisweep.steps.fit.fit import run_fit

    sweep, report, _ = _steps(tmp_path, scanner={"receive": ["x", "y", "z"]})
    lines = []
    with pytest.warns(UserWarning, match="receive channel z: no bin reaches an SNR of 2"):
        summary = run_fit(sweep, report, log=lines.append)
    assert any(line.startswith("noise: file SNR") for line in lines)
    assert any(line.startswith("warning: receive channel z") for line in lines)
    rows = summary["rows"]
    assert rows["selected"] and rows["channels_left_out"] == ["z"] and rows["smallest_snr_used"] >= 2
    assert (summary["M1"]["best_diameter"], summary["M1"]["best_anisotropy"]) == (18.0, 300.0)
    capsys.readouterr()
    assert cli.main(["mdf-info", str(sweep.layout.virtual_file(60))]) == 0
    assert "noise (SNR = RMS over the offsets / σ of one frame): /calibration/snr" in capsys.readouterr().out


def test_another_writers_files_give_the_same_noise_from_their_background_frames(tmp_path):
    """measurement.virtual.writer: background frames and /calibration/snr as max over the offsets (the record's
    definition, ~3× the RMS one): the noise comes from the background frames, the SNR definition is mpisweep's."""
    from mpisweep.steps.measurement.virtual_scanner import _written_snr
    from mpisweep.sweep import measured

    sweep, report, truth = _steps(tmp_path, virtual={"writer": {"background_frames": 6, "snr": "max"}})
    entries = measured.index(sweep)
    sigma, found = measured.noise(sweep, sweep.bin_indices, entries)
    assert {n.source for n in found} == {"background frames"} and found[0].frames == 6
    assert np.median(sigma) == pytest.approx(truth["noise_sigma"], rel=0.1)
    rows = measured.load(sweep, report).values
    own, _, _ = _steps(tmp_path / "own")
    clean = measured.load(own, None).values
    # the same signal and noise draw; the background left after subtracting the mean of 6 frames is noise
    assert np.abs(rows - clean).max() < 6 * truth["noise_sigma"] / np.sqrt(6)
    # what the writer put in /calibration/snr: the maximum over the offsets, which the fits do not use
    signal = np.array([[[3.0, 4.0, 0.0, 0.0]]])
    assert _written_snr(signal, 0.5, (-1,), "max")[0, 0] == 8.0
    assert _written_snr(signal, 0.5, (-1,), "rms")[0, 0] == 5.0
    assert _written_snr(signal, 0.5, (-1,), "none") is None and _written_snr(signal, 0.0, (-1,), "rms") is None
