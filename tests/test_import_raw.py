"""`mpisweep import-raw`: raw time-domain frames + a positions CSV → an MDF system matrix the project reads.

Synthetic frames with known harmonics, background and Gaussian noise check the contract (bins, background
subtraction, grid order, conversion, drive attributes, noise); the real 2018 head-scanner files from
../shared/data check it on a measured particle response (skipped without them).
"""

import csv

import h5py
import numpy as np
import pytest
from helpers import robot_mdf, shared_data

from mpisweep import read_system_matrix
from mpisweep.cli import main
from mpisweep.io.mdf.noise import file_noise
from mpisweep.io.raw_frames import grid_order, split_unit

V = 64  # samples per frame
BASE, DIVIDER = 125e6, 4864
A, B = 1e-4, 0.015  # V per count, V offset
NOISE = 1e-3  # V per sample: σ_k = NOISE·√V for every rfft bin k
DC = 0.02  # V, the receive chain's offset
FEEDTHROUGH = {1: (1.0, 0.3), 3: (0.05, -1.0)}  # bin: (amplitude V, phase), in every frame
HARMONICS = {2: (0.02, 0.5), 3: (0.03, 1.2), 5: (0.01, -0.4)}  # the particle's, scaled by the position
XS, YS, Z = (10.0, 20.0, 30.0), (-5.0, 5.0), 71.0  # mm
BLOCK = 200  # background frames per block
DRIVE = ["--base-frequency", str(BASE), "--dividers", str(DIVIDER), "--drive", "5", "--conversion", str(A), str(B),
         "--averages", "1000"]


def scale(x, y):
    return 1 + 0.5 * XS.index(x) + 0.25 * YS.index(y)


def frame(rng, x=None, y=None):
    """One drive cycle in V: offset, feedthrough, the particle's harmonics at (x, y) (none for background), noise."""
    n = np.arange(V)
    p = np.full(V, DC) + rng.normal(0, NOISE, V)
    for k, (amp, phase) in FEEDTHROUGH.items():
        p += amp * np.cos(2 * np.pi * k * n / V + phase)
    if x is not None:
        for k, (amp, phase) in HARMONICS.items():
            p += scale(x, y) * amp * np.cos(2 * np.pi * k * n / V + phase)
    return p


def expected(x, y, k):
    """The background-subtracted unnormalised rfft bin k of the particle's signal at (x, y)."""
    amp, phase = HARMONICS.get(k, (0.0, 0.0))
    return V / 2 * scale(x, y) * amp * np.exp(1j * phase)


def write_scan(tmp_path, seed=1, blocks=True):
    """A snake scan (y = −5: x ascending, y = 5: x descending) between blocks of background frames (or single
    background frames), one failed try before the repeat of (20, −5); counts in /matrix, positions in a CSV."""
    rng = np.random.default_rng(seed)
    nbg = BLOCK if blocks else 1
    rows = [("bg", None, None)] * nbg + [("fg", 10.0, -5.0), ("failed", 20.0, -5.0), ("fg", 20.0, -5.0),
                                         ("fg", 30.0, -5.0)]
    rows += [("bg", None, None)] * nbg + [("fg", x, 5.0) for x in XS[::-1]] + [("bg", None, None)] * nbg
    frames = np.stack([frame(rng, x, y) for _, x, y in rows])
    failed = [i for i, r in enumerate(rows) if r[0] == "failed"]
    frames[failed] = 1e6  # a frame with the ADC saturated
    path = tmp_path / f"scan{seed}.h5"
    with h5py.File(path, "w") as f:
        f["matrix"] = (frames - B) / A
    table = tmp_path / f"scan{seed}.csv"
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["row", "x [mm]", "y [mm]", "z [mm]", "is_background"])
        for i, (kind, x, y) in enumerate(rows):
            w.writerow([i, "" if x is None else x, "" if y is None else y, Z, int(kind == "bg")])
    return path, table, failed


def run_import(capsys, *args):
    assert main(["import-raw", *DRIVE, *map(str, args)]) == 0
    return capsys.readouterr().out


def refused(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main(["import-raw", *DRIVE, *map(str, args)])
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("mpisweep import-raw: error: "), err
    return exc.value.code, err


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scan")
    path, table, failed = write_scan(tmp)
    out = tmp / "scan.mdf"
    assert main(["import-raw", str(path), "--positions", str(table), "--failed", *map(str, failed), "-o", str(out),
                 *DRIVE]) == 0
    return out


def test_the_imported_file_reads_back_background_subtracted_on_the_grid(scan):
    ds = read_system_matrix(scan)
    assert ds.sizes == {"channel": 1, "frequency": V // 2 + 1, "offset": 6, "xyz": 3}
    assert np.array_equal(ds["frequency_bin"], np.arange(V // 2 + 1))
    assert np.allclose(ds["frequency"][1], BASE / DIVIDER)
    assert ds.attrs["source_domain"] == "frequency" and ds.attrs["calibration_method"] == "robot"
    assert ds.attrs["base_frequency"] == BASE and ds.attrs["dividers"].tolist() == [[DIVIDER]]
    assert np.allclose(ds.attrs["drive_strength"], 5e-3) and ds.attrs["num_averages"] == 1000
    assert ds.attrs["unit"] == "V" and ds.attrs["num_sampling_points"] == V
    assert ds.attrs["calibration_size"].tolist() == [3, 2, 1] and ds.attrs["num_background_frames"] == 3 * BLOCK
    assert ds.attrs["background_corrected"]
    # stored in MDF's grid order (x fastest, ascending), though acquired as a snake
    grid = [(x, y) for y in YS for x in XS]
    assert np.allclose(ds["position"].values, [(x * 1e-3, y * 1e-3, Z * 1e-3) for x, y in grid])
    sigma = NOISE * np.sqrt(V) * np.sqrt(1 + 1 / BLOCK)  # one frame minus its interpolated background
    for o, (x, y) in enumerate(grid):
        want = np.array([expected(x, y, k) for k in range(V // 2 + 1)])
        got = ds["system_matrix"].values[0, :, o]
        assert np.abs(got - want).max() < 5 * sigma, (x, y)  # bins 1 and 3 carry 30× and 4× the signal as background


def test_the_conversion_is_applied_before_the_transform(scan):
    raw = read_system_matrix(scan, subtract_background=False)
    dc = raw["background"].values[0, 0].real / V  # the mean sample of each background frame, in V
    assert abs(dc.mean() - DC) < 5 * NOISE / np.sqrt(dc.size * V)
    feed = raw["background"].values[0, 1].mean()
    amp, phase = FEEDTHROUGH[1]
    assert np.isclose(feed, V / 2 * amp * np.exp(1j * phase), rtol=1e-3)


def test_noise_from_the_background_blocks(scan):
    noise = file_noise(scan)
    assert noise.source == "background frames" and noise.frames == 3 * BLOCK
    ratio = noise.sigma[0] / (NOISE * np.sqrt(V))
    assert np.all(np.abs(ratio - 1) < 0.08)  # 597 degrees of freedom per bin: a 2 % spread
    assert abs(np.sqrt(np.mean(ratio**2)) - 1) < 0.015


def test_the_summary(tmp_path, capsys):
    path, table, failed = write_scan(tmp_path)
    out = run_import(capsys, path, "--positions", table, "--failed", *failed, "-o", tmp_path / "s.mdf")
    assert f"6 calibration, {3 * BLOCK} background" in out and f"1 failed (rows {failed[0]})" in out
    assert "3x2x1 grid (x fastest); x 10..30 mm, y -5..5 mm, z 71 mm" in out
    assert f"noise: {3 * BLOCK} background frames in adjacent blocks" in out
    snr = {int(line.split()[0]): float(line.split()[2]) for line in out.splitlines()[-10:]}
    assert sorted(snr) == list(range(1, 11))
    assert snr[3] > 100 and snr[1] < 3 and snr[4] < 3  # a harmonic of the particle; noise only (≈ 1)


def test_same_spectra_as_the_reader_gives_a_time_domain_mdf(tmp_path, capsys):
    """The import stores what the reader makes of the same frames in a time-domain MDF (rfft, a·x + b)."""
    mdf = robot_mdf(tmp_path / "robot.mdf")
    with h5py.File(mdf) as f:
        counts = f["measurement/data"][:, 0, 0, :]
        a, b = f["acquisition/receiver/dataConversionFactor"][0]
    with h5py.File(tmp_path / "raw.h5", "w") as f:
        f["frames"] = counts
    assert main(["import-raw", str(tmp_path / "raw.h5"), "--dataset", "frames", "-o", str(tmp_path / "i.mdf"),
                 "--base-frequency", "125e6", "--dividers", "4864", "--drive", "5", "--conversion", str(a),
                 str(b)]) == 0
    want, got = read_system_matrix(mdf), read_system_matrix(tmp_path / "i.mdf")
    assert want.attrs["source_domain"] == "time" and got.attrs["source_domain"] == "frequency"
    assert np.allclose(got["frequency"], want["frequency"], rtol=1e-12)
    assert np.allclose(got["system_matrix"], want["system_matrix"], rtol=1e-12, atol=1e-12)


def test_channels_each_with_their_conversion(tmp_path, capsys):
    rng = np.random.default_rng(3)
    counts = rng.normal(size=(4, 2, 16))
    with h5py.File(tmp_path / "raw.h5", "w") as f:
        f["matrix"] = counts
    run_import(capsys, tmp_path / "raw.h5", "-o", tmp_path / "c.mdf", "--conversion", 2, 1, 3, -1)
    ds = read_system_matrix(tmp_path / "c.mdf")
    for c, (a, b) in enumerate([(2, 1), (3, -1)]):
        want = np.fft.rfft(a * counts[:, c] + b, axis=-1).T
        assert np.allclose(ds["system_matrix"].values[c], want)


def test_noise_from_a_repeat_or_else_the_spread_of_single_background_frames(tmp_path, capsys):
    path, table, failed = write_scan(tmp_path, seed=1, blocks=False)
    repeat, _, _ = write_scan(tmp_path, seed=2, blocks=False)
    base = [path, "--positions", table, "--failed", *failed]
    out = run_import(capsys, *base, "--repeat", repeat, "--repeat-failed", *failed, "-o", tmp_path / "r.mdf")
    assert "difference from --repeat" in out and "over 9 frames" in out
    noise = file_noise(tmp_path / "r.mdf")
    assert noise.source == "file SNR"  # the import stored it as /calibration/snr
    ratio = noise.sigma[0] / (NOISE * np.sqrt(V))
    assert abs(np.sqrt(np.mean(ratio**2)) - 1) < 0.1  # 9 frames × 33 bins
    out = run_import(capsys, *base, "-o", tmp_path / "s.mdf")
    assert "spread of the 3 background frames" in out
    ratio = file_noise(tmp_path / "s.mdf").sigma[0] / (NOISE * np.sqrt(V))
    assert abs(np.sqrt(np.mean(ratio**2)) - 1) < 0.2  # 2 degrees of freedom × 33 bins


@pytest.mark.parametrize("case, message", [
    ("dataset", "no dataset '/nope' (datasets: /matrix)"),
    ("rows", f"4 data rows, but the frames dataset has {3 * BLOCK + 7} frames"),
    ("column", "no column 'x_cm' for x (columns: row, x [mm], y [mm], z [mm], is_background)"),
    ("unit", "column 'x' states no unit"),
    ("failed", "failed frames: rows [9999] are outside"),
    ("key", "--columns: unknown key 'w'"),
])
def test_errors_name_the_file_and_the_dataset_column_or_value(tmp_path, capsys, case, message):
    path, table, _ = write_scan(tmp_path)
    args = [path, "--positions", table, "-o", tmp_path / "e.mdf"]
    if case == "dataset":
        args += ["--dataset", "/nope"]
    elif case == "rows":
        table.write_text("\n".join(table.read_text().splitlines()[:5]) + "\n")
    elif case == "column":
        args += ["--columns", "x=x_cm"]
    elif case == "unit":
        table.write_text(table.read_text().replace("x [mm]", "x", 1))
    elif case == "failed":
        args += ["--failed", "9999"]
    else:
        args += ["--columns", "w=x"]
    code, err = refused(capsys, *args)
    assert message in err
    assert code == (2 if case == "key" else 1)
    named = {"dataset": path, "rows": table, "column": table, "unit": table}
    assert str(named.get(case, "")) in err
    assert not (tmp_path / "e.mdf").exists()


def test_header_units_and_grid_order():
    assert split_unit("x_mm") == ("x", "mm") and split_unit("Y [mm]") == ("y", "mm")
    assert split_unit("z (m)") == ("z", "m") and split_unit("is_background") == ("isbackground", None)
    order, size = grid_order(np.array([[2, 0, 0], [1, 0, 0], [1, 1, 0], [2, 1, 0]]) * 1e-3)
    assert size == (2, 2, 1) and order.tolist() == [1, 0, 2, 3]
    order, size = grid_order(np.array([[1, 0, 0], [2, 0, 0], [1, 1, 0]]) * 1e-3)
    assert size is None and order.tolist() == [0, 1, 2]


# ------------------------------------------------------------------ the real 2018 head-scanner files
HEAD = "realdata/headscanner2018"
HEAD_DRIVE = ["--base-frequency", "125e6", "--dividers", "4864", "--drive", "5",
              "--conversion", "0.00012957305", "0.015548877", "--averages", "1000"]


def import_head(tmp_path, name, *extra):
    frames = shared_data(f"{HEAD}/{name}")
    table = shared_data(f"{HEAD}/systemMatrixNew_positions.csv")
    out = tmp_path / f"{frames.stem}.mdf"
    assert main(["import-raw", str(frames), "--positions", str(table), "-o", str(out), *HEAD_DRIVE, *extra]) == 0
    return out


def line(ds, y_mm):
    """|S| (bin, x) on the robot line y = y_mm, and its x in m."""
    on = np.isclose(ds["position"].values[:, 1], y_mm * 1e-3)
    return np.abs(ds["system_matrix"].values[0][:, on]), ds["position"].values[on, 0]


def test_head_scanner_even_harmonics_vanish_and_the_third_peaks_at_the_ffp(tmp_path, capsys):
    out = import_head(tmp_path, "systemMatrixNew.h5")
    ds = read_system_matrix(out)
    assert ds.sizes["offset"] == 27 and ds.attrs["calibration_size"].tolist() == [9, 3, 1]
    assert ds.attrs["num_background_frames"] == 3 and np.allclose(ds["frequency"][1], 125e6 / 4864)
    s, x = line(ds, -11.2)
    ffp = 0.156
    assert np.isclose(x[np.argmin(s[2])], ffp) and np.isclose(x[np.argmax(s[3])], ffp)
    near = np.abs(x - ffp) <= 0.0201  # bin 4 also falls off far from the FFP: its dip lies between two peaks
    assert np.isclose(x[near][np.argmin(s[4][near])], ffp)
    third = [line(ds, y)[0][3].max() for y in (-21.2, -11.2, -1.2)]
    assert np.argmax(third) == 1  # the centre line is the strongest
    noise = file_noise(out, np.arange(1, 11))
    assert noise.source == "file SNR" and np.all(noise.sigma > 0)  # the three single background frames' spread


def relative_difference(a, b):
    """RMS over the positions of |a − b| / RMS of |a|, per bin (a, b: (bin, position))."""
    return np.sqrt(np.mean(np.abs(a - b) ** 2, axis=1) / np.mean(np.abs(a) ** 2, axis=1))


def test_head_scanner_repeat_agrees_on_the_centre_line_except_the_failed_frame(tmp_path, capsys):
    first = read_system_matrix(import_head(tmp_path, "systemMatrixNew.h5"))["system_matrix"].values[0]
    full = import_head(tmp_path / "all", "test_systemMatrixNew.h5")
    kept = read_system_matrix(import_head(tmp_path, "test_systemMatrixNew.h5", "--failed", "29"))
    assert kept.sizes["offset"] == 26 and "calibration_size" not in kept.attrs  # 9 x 3 less one: no full grid
    repeat = read_system_matrix(full)["system_matrix"].values[0]  # stored as the 9 x 3 grid, like `first`
    bins = np.arange(2, 11)
    lines = [slice(0, 9), slice(9, 18), slice(18, 27)]
    # the centre line agrees within 1.5 % (bin 2) to 10 % (bin 10) of its RMS
    assert np.all(relative_difference(first[bins, lines[1]], repeat[bins, lines[1]]) < 0.12)
    # the repeat's outer lines repeat the centre line, not the outer lines the CSV states (a robot that did not
    # step in y): each is far closer to the first file's centre line than to its own line
    for outer in (0, 2):
        good = slice(lines[outer].start, lines[outer].stop - (outer == 2))  # without the failed frame 29
        n = good.stop - good.start
        to_centre = relative_difference(first[bins, 9:9 + n], repeat[bins, good])
        to_own = relative_difference(first[bins, good], repeat[bins, good])
        assert np.all(to_centre < 0.5 * to_own), outer
    # frame by frame against the centre line: every frame within 0.6 of the row RMS, the failed one off by more than 1.5
    rms = np.sqrt(np.mean(np.abs(first[bins, lines[1]]) ** 2, axis=1))
    worst = [np.max(np.abs(repeat[bins, o] - first[bins, 9 + o % 9]) / rms) for o in range(27)]
    assert worst[26] > 1.5 and max(worst[:26]) < 0.6
