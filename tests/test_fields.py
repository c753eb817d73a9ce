"""Field calibration (fit.fields): the scales of the stated offset and drive fields, fitted jointly with M3.

A synthetic model checks the fit itself (the chord iteration with Broyden updates and the weights projected
out); a tiny virtual scanner whose fields are off by a few per cent checks the fit step end to end, and the
same scanner with the stated fields checks that nothing changes there.
"""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import steps_before_fit

from mpisweep.errors import ConfigError
from mpisweep.fitting.fields import FieldParameter, Mixture, field_parameters, fit_fields, profile, scales
from mpisweep.fitting.inputs import row_weights
from mpisweep.sweep import Sweep
from mpisweep.sweep.sections.fit import FieldSettings

REPO = Path(__file__).resolve().parents[1]
X = np.linspace(-1.0, 1.0, 9)  # offsets
SIZES = (1.5, 2.5, 4.0)  # three "entries"
PARAMETERS = (FieldParameter("offset", 0), FieldParameter("drive", 0))


def synthetic_rows(size: float, theta, shift: float = 0.0) -> np.ndarray:
    """(angle, channel, frequency, offset) rows of a saturating particle: harmonics f of tanh(size · field)
    over one drive cycle, the field = offset scale · x + shift + drive scale · cos(t), for two 'angles'."""
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    out = np.empty((2, 1, 3, X.size), dtype=complex)
    for a, tilt in enumerate((1.0, 0.6)):
        field = theta[0] * X[:, None] + shift + theta[1] * tilt * np.cos(t)[None, :]
        spectrum = np.fft.rfft(np.tanh(size * field), axis=-1) / t.size
        out[a, 0] = spectrum[:, 1:4].T
    return out


def test_the_scales_and_the_mixture_come_back_from_rows_simulated_at_other_fields():
    truth, weights = np.array([1.06, 0.96]), np.array([0.7, 0.3, 0.0])
    transfer = np.array([[1.5 * np.exp(0.4j), 0.8 * np.exp(-0.9j), 0.5j]])  # (channel, frequency)
    S = transfer[None, :, :, None] * sum(w * synthetic_rows(s, truth) for w, s in zip(weights, SIZES))
    mixture = Mixture(S, row_weights(S))
    stated = np.stack([synthetic_rows(s, np.ones(2)) for s in SIZES])
    calls = []

    def simulate(j, theta):
        calls.append(j)
        return synthetic_rows(SIZES[j], theta)

    fit = fit_fields(mixture, stated, simulate, PARAMETERS, tol=1e-7, max_iter=30)
    assert fit.converged
    np.testing.assert_allclose(fit.theta, truth, atol=5e-5)
    np.testing.assert_allclose(fit.weights, weights, atol=1e-4)
    assert fit.eps_fitted < 1e-6 < fit.eps_start
    assert fit.simulations == len(calls)
    # a scale held fixed keeps its value; the other is fitted relative to it
    held = fit_fields(mixture, stated, simulate, PARAMETERS, start=np.array([1.0, 0.96]), free=[True, False],
                      tol=1e-7, max_iter=30)
    assert held.theta[1] == 0.96 and held.theta[0] == pytest.approx(1.06, abs=5e-5)
    assert np.isnan(held.sigma[1]) and held.sigma[0] >= 0


def test_an_offset_axis_shares_one_simulation_for_the_derivatives_of_its_scale_and_centre():
    # the field seen is θ_s·x + (θ_c − 1)·max|x| + drive: ∂Φ/∂θ_s = (x / max|x|) · ∂Φ/∂θ_c, one simulation for both
    parameters = (FieldParameter("offset", 0), FieldParameter("drive", 0), FieldParameter("centre", 0))

    def rows(size, theta):
        return synthetic_rows(size, (theta[0], theta[1]), shift=theta[2] - 1.0)

    truth = np.array([1.05, 1.0, 1.04])  # the drive held
    S = 0.7 * rows(SIZES[0], truth) + 0.3 * rows(SIZES[1], truth)
    mixture = Mixture(S, row_weights(S))
    stated = np.stack([rows(s, np.ones(3)) for s in SIZES])
    kwargs = dict(start=np.array([1.0, 1.0, 1.0]), free=[True, False, True], tol=1e-7, max_iter=30)
    own = fit_fields(mixture, stated, lambda j, th: rows(SIZES[j], th), parameters, **kwargs)
    shared = fit_fields(mixture, stated, lambda j, th: rows(SIZES[j], th), parameters,
                        derived={0: (2, X / np.abs(X).max())}, **kwargs)
    assert shared.simulations <= own.simulations - len(SIZES)  # one forward difference per entry fewer
    for fit in (own, shared):
        np.testing.assert_allclose(fit.theta, truth, atol=5e-5)
    # on noisy rows the iteration stops at the first iterate that no longer lowers ε_global by 0.1 % and
    # returns the lowest
    noisy = Mixture(S + 2e-3 * np.random.default_rng(3).standard_normal(S.shape), row_weights(S))
    fit = fit_fields(noisy, stated, lambda j, th: rows(SIZES[j], th), parameters, **kwargs)
    eps = [h["eps_global"] for h in fit.history]
    assert all(b < (1 - 1e-3) * min(eps[:n + 1]) for n, b in enumerate(eps[1:-1]))
    assert len(eps) < 31 and fit.eps_fitted == min(eps)
    np.testing.assert_allclose(fit.theta, truth, atol=5e-3)
    # the scale's derivative copied from the centre's is the forward difference within the step's error
    exact = (rows(SIZES[0], [1.001, 1.0, 1.0]) - stated[0]) / 0.001
    copied = (rows(SIZES[0], [1.0, 1.0, 1.001]) - stated[0]) / 0.001 * X / np.abs(X).max()
    np.testing.assert_allclose(copied, exact, atol=2e-3 * np.abs(exact).max())


def test_the_parameters_are_the_axes_the_grid_spans_and_the_driven_channels():
    grid = np.zeros((1, 3, 3))
    grid[0, :, 0] = [-1e-3, 0.0, 1e-3]
    params = field_parameters(grid, (0.012, 0.0))
    assert [p.name for p in params] == ["offset x", "drive x", "centre x"]
    change = scales(params, [1.05, 0.97, 1.2], 2)
    assert (change.offsets, change.drive) == ((1.05, 1.0, 1.0), (0.97, 1.0))
    assert change.centre == pytest.approx((0.2, 0.0, 0.0))


def test_a_spectrometer_without_a_bias_field_has_no_scale_to_fit_and_says_so():
    """One drive channel, one offset: a common scale of the fields is a particle size to the data."""
    from mpisweep.steps.fit.fields import calibrate_fields

    lines = []
    config = yaml.safe_load((REPO / "config" / "mps.yaml").read_text())
    config["offsets"]["x"] = {"min": 0, "max": 0, "count": 1}
    sweep = Sweep.load(config)
    assert calibrate_fields(sweep, None, None, None, None, None, None, log=lines.append) == {
        "status": "off", "reason": "no scale relative to the drive"}
    assert "nothing to fit" in lines[0]


def test_the_settings_are_checked_named_and_read_back(tmp_path):
    grids = {"grids": TINY["grids"]}
    sweep = Sweep.load(grids)
    assert sweep.fit.fields.calibrate and sweep.fit.fields.min_gain == 0.05
    sweep.write(tmp_path / "config.json")
    assert Sweep.read(tmp_path / "config.json").fit.fields == sweep.fit.fields
    with pytest.raises(ConfigError, match=r"fit.fields.min_gain"):
        Sweep.load({**grids, "fit": {"fields": {"min_gain": -0.1}}})


TINY = {
    "grids": {"diameters": [16, 18, 20], "anisotropies": [300, 900], "angles": [0, 60]},
    "offsets": {"x": {"min": -5, "max": 5, "count": 3}, "y": {"min": 2, "max": 2, "count": 1}},
    "frequencies": {"mx": 3, "my": 3},
    "fit": {"ranks": ["100%"], "snr_threshold": None},
    "measurement": {"virtual": {
        "components": [{"diameter": 18, "anisotropy": 300, "weight": 1.0}],
        "snr_db": None, "transfer_function": {"kind": "analytic", "gain": [1.5, 0.5], "phase": [20.0, -30.0]},
        "solver": {"degree_offset": 0, "rtol_factor": 1}}},
}


def _fit(tmp_path, fit=None, **virtual):
    """The steps of a tiny sweep up to the fit (`fit`: its fit section, default TINY's); returns its config, the
    measurement check, the fit's summary and log lines."""
    from mpisweep.steps.fit.fit import run_fit

    config = {**TINY, "output": str(tmp_path / "results"), "fit": fit or TINY["fit"]}
    config["measurement"] = {"virtual": {**TINY["measurement"]["virtual"], **virtual}}
    sweep = Sweep.load(config)
    _, report, _ = steps_before_fit(sweep)
    lines = []
    return config, report, run_fit(sweep, report, log=lines.append), lines


@pytest.mark.slow
def test_a_scanner_whose_fields_are_off_is_calibrated_and_the_answer_given_at_the_fitted_fields(tmp_path):
    """Offsets × 1.06, drive y × 0.96 and the field-free point 0.3 mT off what the files state: the scales
    relative to drive x and the centre come back, fitted on the offset grid's edges (2 of its 3 offsets), and the
    answers at the fitted fields are given on all rows."""
    with pytest.warns(UserWarning, match="field calibration: the stated fields are off"):
        config, report, summary, lines = _fit(tmp_path, fit={**TINY["fit"], "fields": {"offsets": 2}},
                                              field_scale={"offsets": [1.06], "drive": [1.0, 0.96], "centre": [0.3]})
    sweep = Sweep.load(config)
    fields = summary["fields"]
    assert fields["status"] == "calibrated" and fields["gain"] > 0.5
    assert fields["rows"] == {"angles": 2, "offsets": [2, 1], "rows_share": pytest.approx(2 / 3)}
    assert any("on 2 of 2 angles × 2 × 1 of 3 × 1 offsets" in line for line in lines)
    found = {q["name"]: q["fitted"] for q in fields["parameters"]}
    held = [q for q in fields["parameters"] if q["held"]]
    assert [q["name"] for q in held] == ["drive x"] and held[0]["sigma"] is None  # the common scale: a particle size
    assert found["drive x"] == 1.0
    assert found["offset x"] == pytest.approx(1.06, abs=2e-3) and found["drive y"] == pytest.approx(0.96, abs=2e-3)
    assert found["centre x"] == pytest.approx(0.3, abs=0.01)  # mT
    assert (fields["M1"]["diameter"], fields["M1"]["anisotropy"]) == (18.0, 300.0)
    top = fields["M3"]["largest_weights"][0]
    assert (top["diameter"], top["anisotropy"]) == (18.0, 300.0) and top["weight"] > 0.95
    assert any(line.startswith("warning: field calibration: the stated fields are off") for line in lines)
    # the models at the fitted fields go to models.zarr beside those of the dictionary (and to the rows figure)
    import xarray as xr

    models = xr.open_zarr(sweep.layout.models)
    assert models["model_m3_fields"].dims == models["model_m1"].dims
    from mpisweep.fitting import epsilon_freq, epsilon_global, row_error

    S = models["measured"].transpose("angle", "channel", "frequency", ...).values.reshape(2, 2, -1, 3)
    there = models["model_m3_fields"].transpose("angle", "channel", "frequency", ...).values.reshape(S.shape)
    assert float(epsilon_global(epsilon_freq(row_error(S, there)))) < 0.01 < summary["M1"]["eps_global"]
    assert sorted(p.name for p in (sweep.layout.fits / "mdf").iterdir()) == ["M0a", "M1", "M1_fitted", "M2", "M3",
                                                                              "M3_fitted"]
    table = (sweep.layout.fits / "fields.csv").read_text().splitlines()
    assert table[0] == "parameter,unit,stated,fitted,sigma,status" and len(table) == 1 + len(fields["parameters"])
    # with the calibration off the fit trusts the stated fields and says nothing about them
    from mpisweep.steps.fit.fit import run_fit

    off = Sweep.load({**config, "fit": {**TINY["fit"], "fields": {"calibrate": False}}})
    assert run_fit(off, report, log=lambda m: None)["fields"] == {"status": "off"}
    assert not (sweep.layout.fits / "mdf" / "M1_fitted").exists()  # no stale models of the earlier fields
    assert (sweep.layout.fits / "fields.csv").read_text().splitlines() == [table[0]]


def test_the_scales_are_fitted_on_spread_angles_and_an_offset_subgrid_with_its_edges():
    """fit.fields.angles and offsets: 4 of the paper's 12 angles on 5 × 5 of its 11 × 11 offsets (7 % of the rows);
    a grid they cover keeps all rows, and a config resolved before the keys existed fitted on all rows."""
    from mpisweep.steps.fit.fields import CheckRows, spread

    assert spread(11, 5).tolist() == [0, 2, 5, 8, 10] and spread(11, 2).tolist() == [0, 10]
    assert spread(5, 5).tolist() == spread(5, None).tolist() == [0, 1, 2, 3, 4] and spread(1, 5).tolist() == [0]
    paper = Sweep.load({"grids": {**TINY["grids"], "angles": list(range(0, 180, 15))},
                        "offsets": {"x": {"min": -14.35, "max": 14.35, "count": 11},
                                    "y": {"min": -14.71, "max": 14.71, "count": 11}}})
    check = CheckRows.of(paper, 12)
    assert check.angles.tolist() == [0, 3, 6, 9] and not check.full
    assert check.share == pytest.approx(4 * 25 / (12 * 121))
    rows = np.arange(12 * 2 * 3 * 121).reshape(12, 2, 3, 121)
    taken = check.take(rows)
    assert taken.shape == (4, 2, 3, 25) and check.take(rows[..., 0]).shape == (4, 2, 3)
    picked = paper.offsets.reshape(-1, 3)[check.offsets] * 1e3  # mT, x fastest
    assert picked[:5, 0] == pytest.approx([-14.35, -8.61, 0, 8.61, 14.35], abs=1e-9)
    assert picked[::5, 1] == pytest.approx([-14.71, -8.826, 0, 8.826, 14.71], abs=1e-9)
    assert taken[1, 0, 0, 6] == rows[3, 0, 0, 2 * 11 + 2]
    tiny = Sweep.load({"grids": TINY["grids"], "offsets": TINY["offsets"]})
    assert CheckRows.of(tiny, 2).full and CheckRows.of(tiny, 2).take(rows) is rows
    old = FieldSettings.from_mapping({k: v for k, v in tiny.fit.fields.to_json().items()
                                      if k not in ("angles", "offsets")})
    assert (old.angles, old.offsets) == (None, None) and (tiny.fit.fields.angles, tiny.fit.fields.offsets) == (4, 5)


@pytest.mark.slow
def test_stated_fields_that_are_right_are_found_consistent_and_the_answers_stand(tmp_path):
    _, _, summary, lines = _fit(tmp_path)
    fields = summary["fields"]
    assert fields["status"] == "consistent" and fields["neighbour_rounds"] == 0
    for q in fields["parameters"]:
        assert q["fitted"] == pytest.approx(q["stated"], abs=2e-3 if q["unit"] == "" else 0.01), q
    assert (summary["M1"]["best_diameter"], summary["M1"]["best_anisotropy"]) == (18.0, 300.0)
    assert any("the stated fields are consistent" in line and "the answers stand" in line for line in lines)


def test_the_profiles_of_drive_and_sensitivity_are_unknowns_along_each_offset_axis():
    grid = np.zeros((1, 3, 3))
    grid[0, :, 0] = [-1e-3, 0.0, 1e-3]
    params = field_parameters(grid, (0.012, 0.0), drive_profile=2, sensitivity=1)
    assert [p.name for p in params] == ["offset x", "drive x", "centre x", "drive slope x", "drive curvature x",
                                        "sensitivity slope x"]
    change = scales(params, [1, 1, 1, 1.1, 0.95, 1.2], 2)
    assert change.drive_profile[0] == pytest.approx((0.1, -0.05)) and change.sensitivity[0] == pytest.approx((0.2, 0))
    assert change.drive_profile[1:] == ((0, 0), (0, 0)) and change.offsets == (1, 1, 1)
    u = np.array([[-1.0, 0, 0], [0.5, 0, 0]])  # ô along x
    np.testing.assert_allclose(profile(change.drive_profile, u), [1 - 0.1 - 0.05, 1 + 0.05 - 0.0125])


def test_rows_with_a_drive_profile_are_each_offsets_own_drive_and_a_sensitivity_multiplies_them():
    """The calibration's rows at a drive amplitude that varies over the offsets, against simulate_block at each
    offset's own amplitude; a change of the receive sensitivity alone reuses the simulated rows."""
    from mpisweep.physics.block import simulate_block
    from mpisweep.steps.fit.fields import EntrySimulator

    config = yaml.safe_load((REPO / "config" / "mps.yaml").read_text())
    config["offsets"]["x"] = {"min": -6, "max": 6, "count": 3}
    config["fit"]["fields"] = {"drive_profile": 2, "sensitivity": 2}
    sweep = Sweep.load(config)
    params = field_parameters(sweep.offsets, sweep.excitation.amplitudes, 2, 2)
    bins = np.array([3, 5, 7])
    sim = EntrySimulator(sweep, bins, params)
    # offset, drive, centre, drive slope and curvature, sensitivity slope and curvature
    theta = [1.0, 1.0, 1.0, 1.1, 0.95, 1.2, 1.0]
    rows = sim.rows(20.0, 1500.0, theta)
    assert sim.count == 1  # one entry simulated (one solve per offset)
    u = np.array([-1.0, 0.0, 1.0])  # ô
    particle = sweep.particle(20.0, 1500.0)
    for i, ui in enumerate(u):
        amplitude = 1 + 0.1 * ui - 0.05 * ui**2
        drive = replace(sweep.excitation, amplitudes=tuple(a * amplitude for a in sweep.excitation.amplitudes))
        own = simulate_block(particle, drive, sim.axes, sweep.offsets.reshape(-1, 3)[i:i + 1], bins,
                             rtol=sweep.solver_rtol(particle), channels=sweep.scanner.receive_axes)
        np.testing.assert_allclose(rows[..., i], own.rows[..., 0] * (1 + 0.2 * ui), rtol=1e-10)
    other = sim.rows(20.0, 1500.0, theta[:-1] + [0.7])  # sensitivity curvature -0.3: no new solve
    assert sim.count == 1
    np.testing.assert_allclose(other, rows * ((1 + 0.2 * u - 0.3 * u**2) / (1 + 0.2 * u)), rtol=1e-12)


def test_start_scales_stay_within_the_bound_and_are_written_only_when_set(tmp_path):
    grids = {"grids": TINY["grids"]}
    with pytest.raises(ConfigError, match=r"fit.fields.start_scales': 1.4 is outside 1 ± fit.fields.max_change"):
        Sweep.load({**grids, "fit": {"fields": {"start_scales": [1.0, 1.4]}}})
    assert set(Sweep.load(grids).to_dict()["fit"]["fields"]) == {"calibrate", "candidates", "min_weight",
                                                                 "min_gain", "max_change", "angles", "offsets"}
    sweep = Sweep.load({**grids, "fit": {"fields": {"max_change": 0.5, "start_scales": [0.7, 1.0],
                                                    "drive_profile": 1, "sensitivity": 2}}})
    sweep.write(tmp_path / "config.json")
    assert Sweep.read(tmp_path / "config.json").fit.fields == sweep.fit.fields
    assert sweep.fit.fields.start_scales == (0.7, 1.0)


@pytest.mark.slow
def test_profiles_fitted_where_the_coils_are_homogeneous_come_back_zero_and_change_no_answer(tmp_path):
    """The same miscalibrated scanner with drive_profile and sensitivity fitted too: their coefficients stay at 0
    and the scales, M1 and M3 are those of the fit without them."""
    fields = {"drive_profile": 2, "sensitivity": 2}
    with pytest.warns(UserWarning, match="the stated fields are off"):
        _, _, summary, _ = _fit(tmp_path, fit={**TINY["fit"], "fields": fields},
                                field_scale={"offsets": [1.06], "drive": [1.0, 0.96], "centre": [0.3]})
    found = {q["name"]: q["fitted"] for q in summary["fields"]["parameters"]}
    profiles = {name: value for name, value in found.items() if "slope" in name or "curvature" in name}
    assert len(profiles) == 4 and all(abs(v) < 2e-3 for v in profiles.values()), profiles
    assert found["offset x"] == pytest.approx(1.06, abs=2e-3) and found["drive y"] == pytest.approx(0.96, abs=2e-3)
    assert (summary["fields"]["M1"]["diameter"], summary["fields"]["M1"]["anisotropy"]) == (18.0, 300.0)
    assert summary["fields"]["M3"]["largest_weights"][0]["weight"] > 0.95


@pytest.mark.slow
def test_a_drive_and_a_receive_coil_that_vary_over_the_offsets_are_found(tmp_path):
    """The virtual scanner's drive amplitude × (1 + 0.08 ô − 0.05 ô²) and sensitivity × (1 − 0.1 ô − 0.2 ô²) on top
    of the miscalibrated fields: fit.fields.drive_profile and sensitivity find them, the scales and the answers."""
    with pytest.warns(UserWarning, match="the stated fields are off"):
        _, _, summary, _ = _fit(tmp_path, fit={**TINY["fit"], "fields": {"drive_profile": 2, "sensitivity": 2}},
                                field_scale={"offsets": [1.06], "drive": [1.0, 0.96], "centre": [0.3],
                                             "drive_profile": [[0.08, -0.05]], "sensitivity": [[-0.1, -0.2]]})
    fields = summary["fields"]
    found = {q["name"]: q["fitted"] for q in fields["parameters"]}
    truth = {"drive slope x": 0.08, "drive curvature x": -0.05, "sensitivity slope x": -0.1,
             "sensitivity curvature x": -0.2, "offset x": 1.06, "drive y": 0.96, "centre x": 0.3}
    for name, value in truth.items():
        assert found[name] == pytest.approx(value, abs=3e-3), name
    assert (fields["M1"]["diameter"], fields["M1"]["anisotropy"]) == (18.0, 300.0)
    assert fields["M3"]["largest_weights"][0]["weight"] > 0.95 and fields["eps_global_fitted"] < 1e-3


#: an FFP scanner with one drive channel along x and a 2D grid of positions in x-y, stated as the offsets the
#: nominal gradient gives them: the field across the drive (y) is part of the selection field's geometry
FFP_1D_DRIVE = {
    "scanner": {"dividers": [100], "drive": [12], "phases": [0], "samples": None, "receive": ["x"]},
    "offsets": {"x": {"min": -8, "max": 8, "count": 5}, "y": {"min": -6, "max": 6, "count": 3}},
    "grids": {"diameters": [18, 20, 22], "anisotropies": [500, 1500], "angles": [0, 60]},
    "frequencies": {"mx": 12},
    "fit": {"ranks": ["100%"], "snr_threshold": None},
    "orientation": {"enabled": False, "field_of_view": None},
    "measurement": {"virtual": {
        "components": [{"diameter": 20, "anisotropy": 1500, "weight": 1.0}], "snr_db": None,
        "transfer_function": {"gain": [1.0], "phase": [0.0]}, "solver": {"degree_offset": 0, "rtol_factor": 1},
        "field_scale": {"offsets": [1.04, 0.9], "centre": [0.3, -0.5]}}},
}


@pytest.mark.slow
def test_the_across_drive_gradient_and_field_free_point_of_a_2d_position_grid_are_fitted(tmp_path):
    """One drive channel along x and a receive coil along x, positions on a 5 × 3 grid in x-y: the gradient
    along y (across the drive, 10 % weaker than stated) and the field-free point's y come back with those along
    x, from the x signal alone."""
    from mpisweep.steps.fit.fit import run_fit

    sweep = Sweep.load({**FFP_1D_DRIVE, "output": str(tmp_path / "results")})
    _, report, _ = steps_before_fit(sweep)
    with pytest.warns(UserWarning, match="the stated fields are off"):
        summary = run_fit(sweep, report, log=lambda m: None)
    found = {q["name"]: q["fitted"] for q in summary["fields"]["parameters"]}
    assert set(found) == {"offset x", "offset y", "drive x", "centre x", "centre y"}
    assert found["offset x"] == pytest.approx(1.04, abs=2e-3) and found["offset y"] == pytest.approx(0.9, abs=2e-3)
    assert found["centre x"] == pytest.approx(0.3, abs=0.01) and found["centre y"] == pytest.approx(-0.5, abs=0.01)
    m3 = summary["fields"]["M3"]["largest_weights"][0]
    assert (m3["diameter"], m3["anisotropy"], summary["fields"]["M1"]["diameter"]) == (20.0, 1500.0, 20.0)
