"""Orientation imaging: Kaczmarz against a direct reference, readout, geometry, measurement files, phantoms,
model matrices."""

import json

import numpy as np
import pytest

import mpisweep.orientation.kaczmarz as kaczmarz_module
from mpisweep.errors import ConfigError, MeasurementError, MpisweepError
from mpisweep.io.mdf.measurement import read_measurement, write_measurement
from mpisweep.orientation.kaczmarz import (
    kaczmarz,
    kaczmarz_batch,
    kaczmarz_parallel,
    reference_solution,
    regularization,
)
from mpisweep.orientation.readout import (
    channel_weights,
    doubled_angle_mean,
    fit_angle,
    locate,
    orientation_map,
    orientation_model,
    read_out,
    wrap_angle,
)
from mpisweep.orientation.system import noise_sigma, row_weights, select_rows, stack
from mpisweep.physics.block import simulate_block
from mpisweep.steps.orientation.image_grid import ImageGrid, position_to_offset
from mpisweep.steps.orientation.model_matrices import fit_transfer_function
from mpisweep.steps.orientation.phantoms import phantom_index, plan, positions_mm
from mpisweep.sweep import Sweep
from mpisweep.sweep.coords import system_matrix_dataset
from mpisweep.sweep.geometry import configured_map

CALIBRATION = np.arange(0.0, 180.0, 15.0)


def random_system(m, n, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, n)) + 1j * rng.standard_normal((m, n)), rng


# ------------------------------------------------------------------------------- Kaczmarz
def test_batched_kaczmarz_is_the_row_by_row_iteration():
    A, rng = random_system(40, 60)
    U = rng.standard_normal((40, 5)) + 1j * rng.standard_normal((40, 5))
    lam = regularization(A, 1e-2)
    rows = np.stack([kaczmarz(A, U[:, b], lam, 300) for b in range(5)], axis=1)
    assert np.max(np.abs(kaczmarz_batch(A, U, lam, 300) - rows)) < 1e-12 * np.max(rows)
    assert np.max(np.abs(kaczmarz_batch(A, U, lam, 300, single=True) - rows)) < 1e-5 * np.max(rows)
    assert rows.min() >= 0
    # split over two worker processes: the same iteration per column, and the processes kept for the next call
    assert np.max(np.abs(kaczmarz_parallel(A, U, lam, 300, workers=2) - rows)) < 1e-12 * np.max(rows)
    pool = kaczmarz_module._POOLS[2]
    assert np.max(np.abs(kaczmarz_parallel(A, U[:, ::-1], lam, 300, workers=2) - rows[:, ::-1])) < 1e-12 * np.max(rows)
    assert kaczmarz_module._POOLS[2] is pool


def test_kaczmarz_in_this_process_uses_one_blas_thread(monkeypatch):
    # more BLAS threads only wait on each other over the small products (18x slower measured on 2 cores)
    from threadpoolctl import threadpool_info

    seen = []

    def batch(*args):
        seen.append([pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"])
        return kaczmarz_batch(*args)

    monkeypatch.setattr(kaczmarz_module, "kaczmarz_batch", batch)
    A, rng = random_system(20, 30)
    U = rng.standard_normal((20, 3)) + 1j * rng.standard_normal((20, 3))
    lam = regularization(A, 1e-2)
    direct = kaczmarz_module.kaczmarz_parallel(A, U, lam, 50, workers=1)
    assert np.array_equal(direct, kaczmarz_batch(A, U, lam, 50))
    assert len(seen) == 1 and seen[0] and all(threads == 1 for threads in seen[0])


@pytest.mark.parametrize("real", [True, False])
def test_kaczmarz_converges_to_the_tikhonov_solution_where_no_constraint_is_active(real):
    A, rng = random_system(80, 30)
    A = A.real.astype(complex) if real else A
    u = A @ (1 + rng.random(30))
    lam = regularization(A, 1e-2)
    ref = reference_solution(A, u, lam)
    assert ref.min() > 0.5  # interior: no bound active
    assert np.max(np.abs(kaczmarz(A, u, lam, 2000) - ref)) < 1e-10 * ref.max()


def test_kaczmarz_with_active_constraints_stays_close_to_the_constrained_minimizer():
    # the projected iteration's fixed point is a non-negative solution of the augmented system, not
    # exactly the constrained least-squares minimizer: measured 2e-3 relative here; same peak
    A, rng = random_system(40, 60)
    truth = np.zeros(60)
    truth[[3, 17, 40]] = [1.0, 0.5, 2.0]
    u = A @ truth + 0.05 * (rng.standard_normal(40) + 1j * rng.standard_normal(40))
    lam = regularization(A, 1e-2)
    ref = reference_solution(A, u, lam)
    c = kaczmarz(A, u, lam, 3000)
    assert np.max(np.abs(c - ref)) < 1e-2 * ref.max()
    assert np.argsort(c)[-3:].tolist() == np.argsort(ref)[-3:].tolist()


def test_noise_free_on_grid_phantom_returns_its_pixel_and_contrast_channel():
    # 18 nm: a weaker anisotropy (σ 0.8) than the paper's 22 nm (σ 1.5), so angles differ less, at 1/6 the cost
    sweep = Sweep.load({"grids": {"diameters": [18], "anisotropies": [1100], "angles": [0, 60, 120]},
                        "offsets": {"x": {"min": -10, "max": 10, "count": 3},
                                    "y": {"min": -10, "max": 10, "count": 3}}})
    bins = np.arange(53, 400)
    res = simulate_block(sweep.particle(18, 1100), sweep.excitation, sweep.angles, sweep.offsets, bins)
    sm = res.rows.reshape(3, 2, bins.size, 9)  # (angle, channel, bin, pixel)
    channel, k = np.repeat([0, 1], bins.size), np.tile(np.arange(bins.size), 2)
    A = stack(sm, channel, k)
    for angle, pixel in ((1, 4), (2, 7), (0, 2)):
        u = sm[angle, channel, k, pixel]
        c = kaczmarz(A, u, regularization(A, 1e-3), 500).reshape(3, 9)
        assert np.unravel_index(int(np.argmax(c)), c.shape) == (angle, pixel)


# -------------------------------------------------------------------------------- rows
def test_rows_need_the_snr_in_every_contrast_and_the_minimum_frequency():
    freqs = np.arange(6) * 40e3
    snr = np.full((2, 2, 6), 10.0)
    snr[1, 0, 3] = 4.0  # one contrast below the threshold on channel x, bin 3
    ch, k = select_rows(snr, freqs, 80e3, 5.0)
    assert list(zip(ch.tolist(), k.tolist())) == [(0, 2), (0, 4), (0, 5), (1, 2), (1, 3), (1, 4), (1, 5)]
    with pytest.raises(MpisweepError, match="snr_threshold"):
        select_rows(snr, freqs, 1e9, 5.0)
    with pytest.raises(MpisweepError, match="calibration/snr"):
        select_rows(None, freqs, 80e3, 5.0)
    A, _ = random_system(4, 3)
    assert np.allclose(np.linalg.norm(A * row_weights(A, "row_norm")[:, None], axis=1), 1.0)
    # whitening: noise σ per row = RMS of the calibration row / its SNR (mean over angles)
    cal = np.ones((2, 2, 6, 4)) * 3.0
    sigma = noise_sigma(cal, snr)[[0, 1], [2, 3]]
    assert np.allclose(sigma, [3.0 / 10.0, 3.0 / 10.0]) and np.allclose(row_weights(A[:2], "whitening", sigma), 10 / 3)
    with pytest.raises(MpisweepError, match="weighting"):
        row_weights(A, "bogus")


# ----------------------------------------------------------------------------- readout
@pytest.mark.parametrize("theta", [0.0, 7.3, 44.9, 88.0, 131.2, 172.4, 179.9])
def test_readout_recovers_a_known_angle_from_channel_weights(theta):
    w = orientation_model(CALIBRATION, 2.0, theta, 3.0)
    angle, p = fit_angle(w, CALIBRATION)
    assert abs(wrap_angle(angle - theta)) < 0.1 and p[2] == pytest.approx(3.0, rel=1e-3)


def test_readout_locates_a_blob_and_reads_its_angle_without_the_truth():
    yy, xx = np.indices((11, 11))
    blob = np.exp(-((yy - 6.3) ** 2 + (xx - 3.6) ** 2) / 0.8)
    c = orientation_model(CALIBRATION, 1.0, 123.0, 2.0)[:, None, None] * blob[None]
    r = read_out(c, CALIBRATION, radius=2.0)
    assert np.hypot(*(r.position_yx - [6.3, 3.6])) < 0.15
    assert abs(wrap_angle(r.angle_deg - 123.0)) < 0.1
    assert channel_weights(c, r.position_yx, 2.0).shape == (12,)
    assert locate(c, 2.0).tolist() == r.position_yx.tolist()
    theta, conc = orientation_map(c, CALIBRATION)
    assert abs(wrap_angle(theta[6, 4] - 123.0)) < 1e-6 and conc.shape == (11, 11)


def test_doubled_angle_mean_and_wrap_are_axial():
    assert doubled_angle_mean([1, 1], [170, 10]) == pytest.approx(0.0, abs=1e-9) or \
        doubled_angle_mean([1, 1], [170, 10]) == pytest.approx(180.0)
    assert wrap_angle(179.0 - 1.0) == pytest.approx(-2.0)
    assert wrap_angle(-95.0) == pytest.approx(85.0)


# ---------------------------------------------------------------------------- geometry
def _sweep_with(**orientation):
    return Sweep.load({"grids": {"diameters": [22], "anisotropies": [1100], "angles": [0]},
                       "orientation": orientation})


def test_field_of_view_is_a_positive_gradient_and_positions_offsets_and_pixels_agree():
    sweep = _sweep_with(field_of_view=[30, 30])
    pmap = configured_map(sweep)
    grid = ImageGrid.of_sweep(sweep)
    # 11 pixels of 2.727 mm: pixel 5 is position 0, the offset grid's centre; pixel 10 the last offset
    assert np.allclose(pmap.gradient, [14.35e-3 / 5 / (30e-3 / 11), 14.71e-3 / 5 / (30e-3 / 11), 0])
    assert np.allclose(grid.pixels(pmap, [0.0, 0.0]), [5.0, 5.0], atol=1e-12)
    assert np.allclose(grid.pixel_size_mm(pmap), [30 / 11, 30 / 11])
    assert position_to_offset(pmap, [5 * 30 / 11, 0])[0] * 1e3 == pytest.approx(14.35)
    xy = np.array([[1.3, -4.2], [-7.0, 8.5]])
    assert np.allclose(grid.positions_mm(pmap, grid.pixels(pmap, xy)), xy)


@pytest.mark.parametrize("sign", [1, -1])
def test_a_signed_gradient_maps_positions_onto_mirrored_pixels(sign):
    g = sign * 14.35e-3 / 5 / (30e-3 / 11)
    sweep = _sweep_with(gradient=[g, g])
    pmap, grid = configured_map(sweep), ImageGrid.of_sweep(sweep)
    # +x lies at the high-offset edge for a positive gradient and at the low-offset edge for a negative one
    ix = grid.pixels(pmap, [5 * 30 / 11, 0.0])[1]
    assert ix == pytest.approx(10.0 if sign > 0 else 0.0, abs=1e-9)
    xy = np.array([[1.3, -4.2], [-7.0, 8.5]])
    assert np.allclose(grid.positions_mm(pmap, grid.pixels(pmap, xy)), xy)
    # a finer grid of the same span: twice the pixels per mm, the same positions
    fine = ImageGrid(np.linspace(grid.x_T[0], grid.x_T[-1], 21), np.linspace(grid.y_T[0], grid.y_T[-1], 21))
    assert np.allclose(fine.pixel_size_mm(pmap), grid.pixel_size_mm(pmap) / 2)
    assert np.allclose(fine.positions_mm(pmap, fine.pixels(pmap, xy)), xy)
    assert grid.contains(grid.pixels(pmap, [14.9, 0.0])) and not grid.contains(grid.pixels(pmap, [15.1, 0.0]))


def test_phantoms_outside_the_calibrated_region_are_named():
    from mpisweep.steps.orientation.image_grid import outside

    sweep = _sweep_with(gradient=[-1.0, -1.0])  # 11 pixels of 2.87 × 2.942 mm: the region reaches ±15.8 mm in x
    phantoms = [{"number": 1, "samples": [{"x": 15.0, "y": 0.0}]},
                {"number": 2, "samples": [{"x": 0.0, "y": 0.0}, {"x": -16.5, "y": 2.0}]}]
    assert outside(sweep, configured_map(sweep), phantoms) == ["phantom 2 at (-16.5, 2) mm"]


def test_the_readout_disc_is_in_pixels_of_the_image_or_in_mm():
    from mpisweep.steps.orientation.reconstruct import readout_radius

    sweep = _sweep_with(gradient=[-1.0, -1.0], readout={"radius_mm": 5.812})
    pmap, grid = configured_map(sweep), ImageGrid.of_sweep(sweep)  # pixels 2.87 × 2.942 mm
    fine = ImageGrid(np.linspace(grid.x_T[0], grid.x_T[-1], 21), np.linspace(grid.y_T[0], grid.y_T[-1], 21))
    assert readout_radius(sweep, pmap, grid) == pytest.approx(2.0)
    assert readout_radius(sweep, pmap, fine) == pytest.approx(4.0)
    assert readout_radius(_sweep_with(gradient=[-1.0, -1.0]), pmap, fine) == 2.0


def test_gradient_and_field_of_view_that_disagree_are_refused():
    with pytest.raises(ConfigError, match=r"orientation.gradient' \[-1.0, -1.0\] T/m and 'orientation.field_of_view'"):
        configured_map(_sweep_with(gradient=[-1.0, -1.0], field_of_view=[30, 30]))
    assert configured_map(_sweep_with()) is None


def test_the_default_configs_geometry_gives_way_to_the_users_and_to_measured_files():
    from mpisweep.sweep.config import without_foreign_defaults

    merged = {"orientation": {"enabled": True, "field_of_view": [30, 30], "gradient": [-1, -1]}}
    assert without_foreign_defaults(merged, [{"orientation": {"gradient": [-1, -1]}}])["orientation"] == {
        "enabled": True, "gradient": [-1, -1]}
    merged = {"orientation": {"enabled": True, "field_of_view": [30, 30]}, "measurement": {"source": "mdf"}}
    assert without_foreign_defaults(merged, [{"measurement": {"source": "mdf"}}])["orientation"] == {"enabled": True}
    # the user's own field_of_view stays, also with measured files (then it must agree with them)
    own = {"measurement": {"source": "mdf"}, "orientation": {"field_of_view": [30, 30]}}
    assert without_foreign_defaults(merged, [own])["orientation"]["field_of_view"] == [30, 30]


# ---------------------------------------------------------------------- measurement files
def test_measurement_file_round_trip_subtracts_the_background(tmp_path):
    sweep = Sweep.load({"grids": {"diameters": [22], "anisotropies": [1100], "angles": [0]}})
    attrs = system_matrix_dataset(sweep, np.zeros((2, 817, 11, 11)), None).attrs
    rng = np.random.default_rng(0)
    signal = rng.standard_normal((2, 817)) + 1j * rng.standard_normal((2, 817))
    background = 3.0 + 1j
    frames = signal[..., None] + background + 0.0 * rng.standard_normal((2, 817, 2))
    write_measurement(tmp_path / "m.mdf", frames, np.full((2, 817, 3), background), attrs)
    u = read_measurement(tmp_path / "m.mdf")
    assert u.dims == ("channel", "frequency") and np.allclose(u.values, signal, atol=1e-12)
    assert u.attrs["calibration_method"] == "" and u.attrs["frames"] == 2


def test_phantom_index_reads_the_records_layout_and_names_a_bad_column(tmp_path):
    (tmp_path / "measurements" / "a").mkdir(parents=True)
    for n in (1, 2):
        (tmp_path / "measurements" / "a" / f"{n}.mdf").write_bytes(b"")
    csv = "experimentNumber,easyAxisOrientation,x,y,path\n1,7.5,0.001,-0.002,measurements/a/1.mdf\n" \
          "2,97.5,0.0,0.0027,measurements/a/2.mdf\n"
    (tmp_path / "measurements.csv").write_text(csv)
    cfg = {"grids": {"diameters": [22], "anisotropies": [1100], "angles": [0]},
           "measurement": {"source": "mdf", "mdf": {"directory": str(tmp_path), "angle_offset": 90, "angle_sign": -1}},
           "orientation": {"enabled": True, "phantoms": {"source": "mdf", "directory": str(tmp_path)}}}
    rows = phantom_index(Sweep.load(cfg))
    assert [r["samples"][0]["angle"] for r in rows] == [82.5, 172.5]  # 90 − CSV angle
    assert rows[0]["samples"][0]["x"] == pytest.approx(1.0) and rows[1]["samples"][0]["y"] == pytest.approx(2.7)
    (tmp_path / "measurements.csv").write_text(csv.replace(",x,", ",xpos,"))
    with pytest.raises(MeasurementError, match="no column 'x'"):
        phantom_index(Sweep.load(cfg))


def test_phantom_plan_covers_every_orientation_at_every_position():
    sweep = Sweep.load({"grids": {"diameters": [22], "anisotropies": [1100], "angles": [0]},
                        "orientation": {"phantoms": {"orientations": {"start": 2.5, "stop": 7.5, "step": 5},
                                                     "positions": {"count": 4, "radius": 5},
                                                     "maps": [[{"x": 0, "y": 0, "angle": 10},
                                                               {"x": 3, "y": 3, "angle": 100}]]}}})
    p = plan(sweep)
    assert len(p) == 2 * 4 + 1 and p[-1]["kind"] == "map" and len(p[-1]["samples"]) == 2
    assert {s["samples"][0]["angle"] for s in p[:-1]} == {2.5, 7.5}
    assert np.all(np.hypot(*positions_mm(sweep).T) <= 5)
    json.dumps(p)
    # cross: false puts one phantom at each random position, the orientations in turn
    one_each = Sweep.load({"grids": {"diameters": [22], "anisotropies": [1100], "angles": [0]},
                           "orientation": {"phantoms": {"orientations": [10, 100],
                                                        "positions": {"count": 5, "radius": 5, "cross": False}}}})
    singles = plan(one_each)
    assert [q["samples"][0]["angle"] for q in singles] == [10, 100, 10, 100, 10]
    assert len({(q["samples"][0]["x"], q["samples"][0]["y"]) for q in singles}) == 5


# -------------------------------------------------------------------------- model matrices
def test_transfer_function_fit_is_exact_for_a_scaled_model():
    rng = np.random.default_rng(3)
    phi = rng.standard_normal((3, 2, 5, 7)) + 1j * rng.standard_normal((3, 2, 5, 7))
    a = rng.standard_normal((2, 5)) + 1j * rng.standard_normal((2, 5))
    assert np.allclose(fit_transfer_function(phi, a[None, :, :, None] * phi), a, rtol=1e-12)


def test_phantom_signals_are_the_same_in_worker_processes():
    from mpisweep.steps.orientation.phantoms import noise_free_signals

    # the dictionary's discretisation for the phantoms (not the virtual scanner's finer one): the same
    # comparison of serial and worker runs at a quarter of the cost
    virtual = {"components": [{"diameter": 20, "anisotropy": 500, "weight": 1}],
               "solver": {"degree_offset": 0, "rtol_factor": 1}}
    sweep = Sweep.load({"grids": {"diameters": [20], "anisotropies": [500], "angles": [0]},
                        "measurement": {"virtual": virtual},
                        "orientation": {"phantoms": {"orientations": [10, 100], "positions": [[0, 0], [2, -3]]},
                                        "gradient": [-1, -1]}})
    phantoms, pmap = plan(sweep), configured_map(sweep)
    serial = noise_free_signals(sweep, phantoms, pmap, progress=False)
    assert np.array_equal(noise_free_signals(sweep, phantoms, pmap, progress=False, workers=2), serial)
    assert serial.shape == (4, 2, 817) and np.all(np.abs(serial[:, :, 5]) > 0)


def test_model_matrices_on_a_finer_grid_agree_with_the_calibration_grid_where_they_meet():
    from mpisweep.steps.orientation.model_matrices import model_sweep, simulate_entry

    cfg = {"grids": {"diameters": [20], "anisotropies": [500], "angles": [30]},
           "offsets": {"x": {"min": -4, "max": 4, "count": 2}, "y": {"min": 2, "max": 2, "count": 1}}}
    coarse = Sweep.load(cfg)
    fine = model_sweep(Sweep.load({**cfg, "orientation": {"matrices": {"offsets": {
        "x": {"min": -4, "max": 4, "count": 3}, "y": {"min": 2, "max": 2, "count": 1}}}}}))
    assert fine.offsets.shape == (1, 3, 3) and model_sweep(coarse) is coarse
    bins = np.arange(53, 120)
    a = simulate_entry(coarse, 20, 500, [30.0], bins, progress=False)
    b = simulate_entry(fine, 20, 500, [30.0], bins, progress=False)
    assert np.allclose(b[..., [0, 2]], a, rtol=1e-12, atol=0)
    assert not np.allclose(b[..., 1], a[..., 0])  # the new offset is a new row


def test_phantom_noise_estimate_recovers_the_noise_and_the_snr_of_each_row(tmp_path):
    from mpisweep.steps.orientation.noise import phantom_noise

    sweep = Sweep.load({"grids": {"diameters": [22], "anisotropies": [1100], "angles": [0]}})
    attrs = system_matrix_dataset(sweep, np.zeros((2, 817, 11, 11)), None).attrs
    rng = np.random.default_rng(5)
    sigma, F, E, n = 0.5, 2, 3, 60
    amplitude = np.zeros((2, 817))
    amplitude[:, 100:200] = 10.0  # SNR 10 / (σ·√(1/F + 1/E)) on these rows, 0 elsewhere
    background = rng.standard_normal((2, 817)) * 3.0

    def noise(*shape):
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * sigma / np.sqrt(2)

    files = []
    for i in range(n):
        u = amplitude * np.exp(2j * np.pi * rng.random((2, 817)))
        path = tmp_path / f"{i}.mdf"
        frames = (u + background)[..., None] + noise(2, 817, F)
        write_measurement(path, frames, background[..., None] + noise(2, 817, E), attrs)
        files.append(path)
    snr, sigma_u = phantom_noise(files, np.arange(50, 250), [0, 1])
    expected_u = sigma * np.sqrt(1 / F + 1 / E)
    assert np.allclose(np.median(sigma_u), expected_u, rtol=0.05)
    assert np.median(snr[:, 50:150]) == pytest.approx(10.0 / expected_u, rel=0.1)
    assert np.median(snr[:, :50]) < 0.5  # pure noise reads as no signal


def test_phantoms_without_background_frames_take_their_noise_from_the_repeated_frames(tmp_path):
    from mpisweep.steps.orientation.noise import phantom_noise

    sweep = Sweep.load({"grids": {"diameters": [22], "anisotropies": [1100], "angles": [0]}})
    attrs = system_matrix_dataset(sweep, np.zeros((2, 817, 11, 11)), None).attrs
    rng = np.random.default_rng(6)
    sigma, F, n = 0.5, 20, 30
    files = []
    for i in range(n):
        u = np.zeros((2, 817), complex)
        u[:, 100:200] = 4.0 * np.exp(2j * np.pi * rng.random((2, 100)))
        noise = rng.standard_normal((2, 817, F)) + 1j * rng.standard_normal((2, 817, F))
        frames = u[..., None] + noise * sigma / np.sqrt(2)
        write_measurement(tmp_path / f"{i}.mdf", frames, None, attrs)
        files.append(tmp_path / f"{i}.mdf")
    snr, sigma_u = phantom_noise(files, np.arange(50, 250), [0, 1])
    expected_u = sigma / np.sqrt(F)
    assert np.median(sigma_u) == pytest.approx(expected_u, rel=0.05)
    assert np.median(snr[:, 50:150]) == pytest.approx(4.0 / expected_u, rel=0.1)
    quiet = tmp_path / "quiet.mdf"
    write_measurement(quiet, np.repeat(frames[..., :1], 3, axis=-1), None, attrs)
    with pytest.raises(MeasurementError, match="quiet.mdf …: the phantom files carry no noise"):
        phantom_noise([quiet], np.arange(50, 250), [0, 1])
    single = tmp_path / "single.mdf"
    write_measurement(single, frames[..., :1], None, attrs)
    with pytest.raises(MeasurementError, match="single.mdf: neither background frames"):
        phantom_noise([single], np.arange(50, 250), [0, 1])


def test_phantoms_without_background_frames_are_stored_corrected_and_give_their_noise_by_repeats(tmp_path,
                                                                                                  monkeypatch):
    from mpisweep.io.mdf import read_system_matrix
    from mpisweep.steps.orientation import phantoms
    from mpisweep.steps.orientation.noise import phantom_noise
    from mpisweep.steps.orientation.phantoms import noise_free_signals, simulate_phantoms

    monkeypatch.setattr(phantoms, "calibration_map", configured_map)  # no calibration files: the configured map

    sweep = Sweep.load({"output": str(tmp_path), "grids": {"diameters": [20], "anisotropies": [500], "angles": [0]},
                        "offsets": {"x": {"min": -10, "max": 10, "count": 3}, "y": {"min": -10, "max": 10, "count": 3}},
                        "orientation": {"enabled": True, "field_of_view": [30, 30],
                                        "phantoms": {"orientations": [10, 80], "positions": [[0, 0], [4, -3]],
                                                     "maps": [], "frames": 8, "background_frames": 0,
                                                     "snr_db": 30}}})
    truth = simulate_phantoms(sweep, progress=False, log=lambda m: None)
    assert truth["background_frames"] == 0 and truth["background_rms"] == 0.0
    files = [sweep.layout.phantom_file(p["number"]) for p in truth["phantoms"]]
    ds = read_system_matrix(files[0], subtract_background=False, calibration=False)
    assert "background" not in ds and ds.sizes["offset"] == 8
    # the spectrum is the signal (no background to subtract), within the noise of 8 frames
    bins = sweep.bin_indices
    clean = noise_free_signals(sweep, truth["phantoms"], configured_map(sweep), progress=False)[:, :, bins]
    u = np.stack([read_measurement(f, frequencies=bins).values[[0, 1]] for f in files])
    sigma = truth["noise_sigma"]
    assert np.sqrt(np.mean(np.abs(u - clean) ** 2)) == pytest.approx(sigma / np.sqrt(8), rel=0.25)
    # and the phantoms' own noise comes from their repeated frames: σ_u = σ / √F
    _, sigma_u = phantom_noise(files, bins, [0, 1])
    assert np.sqrt(np.mean(sigma_u ** 2)) == pytest.approx(sigma / np.sqrt(8), rel=0.2)
