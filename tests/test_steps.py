"""Every workflow step runs and is correct without Snakemake: virtual scanner → measurement check
and load → simulate → assemble → M0 → fit, on a tiny noise-free sweep, plus the spectra convention and
the measured receive chain (a table the test writes, and a real one from ../shared/data when there).
"""

import json

import numpy as np
import pytest
from helpers import shared_data, steps_before_fit

from mpisweep.errors import MDFError, MeasurementError, StoreError
from mpisweep.io.mdf import read_system_matrix
from mpisweep.io.receive_chain import receive_chain
from mpisweep.physics.spectra import mixing_bins, spectrum
from mpisweep.steps.fit.fit import run_fit
from mpisweep.steps.measurement.virtual_scanner import virtual_scanner
from mpisweep.sweep import Sweep
from mpisweep.sweep import measured as measurement

TINY = {
    "grids": {"diameters": [16, 18], "anisotropies": [300], "angles": [0, 60]},
    "offsets": {"x": {"min": -4, "max": 4, "count": 2}, "y": {"min": 2, "max": 2, "count": 1}},
    "frequencies": {"mx": 2, "my": 2},
    "fit": {"ranks": ["100%", 1]},
    "measurement": {"virtual": {
        "components": [{"diameter": 18, "anisotropy": 300, "weight": 2.0}],
        "snr_db": None, "transfer_function": {"kind": "analytic", "gain": [1.5, 0.5], "phase": [20.0, -30.0]},
        "solver": {"degree_offset": 0, "rtol_factor": 1}}},
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """All steps in workflow order; returns the sweep and what the steps returned."""
    out = tmp_path_factory.mktemp("steps")
    sweep = Sweep.load({**TINY, "output": str(out / "results")})
    truth, report, markers = steps_before_fit(sweep)
    summary = run_fit(sweep, report, log=lambda msg: None)
    return sweep, truth, report, markers, summary


def test_spectrum_convention_picks_the_drive_bins():
    n = 1632
    t = np.arange(n) / n
    rate = np.stack([np.cos(2 * np.pi * 16 * t), 2 * np.sin(2 * np.pi * 17 * t), np.zeros(n)], axis=1)
    phi = spectrum(rate)
    assert phi.shape == (2, n // 2 + 1)
    np.testing.assert_allclose(phi[0, 16], 0.5, atol=1e-12)
    np.testing.assert_allclose(phi[1, 17], -1j, atol=1e-12)
    assert np.abs(phi).sum() == pytest.approx(1.5, rel=1e-10)
    rows = mixing_bins((102, 96), 2, 2)
    assert rows[:, 2].tolist() == [34, 33, 50, 32, 49, 66]


def test_virtual_scanner_writes_mdf_files_that_read_back(run):
    sweep, truth, _, _, _ = run
    assert [f["file"] for f in truth["files"]] == ["0.mdf", "60.mdf"]
    ds = read_system_matrix(sweep.layout.virtual_file(60))
    assert ds.attrs["calibration_method"] == "hybrid" and ds.sizes["frequency"] == sweep.scanner.samples // 2 + 1
    np.testing.assert_allclose(ds["offset_field"].values, sweep.offsets.reshape(-1, 3))
    assert sweep.layout.virtual_index.read_text().splitlines() == ["file,angle", "0.mdf,0", "60.mdf,60"]


def test_measurement_check_and_load(run):
    sweep, _, report, _, _ = run
    assert [f["angle"] for f in report["files"]] == [0.0, 60.0] and report["source"] == "virtual"
    measured = measurement.load(sweep, report)
    assert measured.dims == ("angle", "channel", "frequency", "offset")
    assert measured.shape == (2, 2, sweep.bins.shape[0], 2)
    assert measured["frequency"].values.tolist() == sweep.bins[:, 2].tolist()


def test_measured_rows_are_transfer_function_times_the_component(run):
    sweep, truth, report, _, _ = run
    measured = measurement.load(sweep, report).values
    with np.load(sweep.layout.component("D18_K300")) as z:
        rows = z["rows"][:, :, sweep.bins[:, 2]].reshape(measured.shape)
    H = receive_chain(truth["transfer_function"], sweep.bins[:, 2] / sweep.cycle)
    np.testing.assert_allclose(measured, 2.0 * H[None, :, :, None] * rows, rtol=1e-12, atol=0)


def test_fit_step_recovers_the_component_exactly(run):
    sweep, _, _, _, summary = run
    assert (summary["M1"]["best_diameter"], summary["M1"]["best_anisotropy"]) == (18.0, 300.0)
    assert summary["M1"]["eps_global"] < 1e-10 and summary["M2"][0]["eps_global"] < 1e-10
    assert summary["recovered"]["m1_equals_dominant"]
    assert summary["M3"][0]["eps_global"] < 1e-10 and summary["M0a"]["eps_global"] > summary["M1"]["eps_global"]
    assert summary["recovered"]["m3_weights_vs_truth"][0]["m3_weight"] == pytest.approx(1.0, abs=1e-8)
    for path in sweep.layout.fit_tables.values():
        assert path.stat().st_size > 0, path
    assert json.loads(sweep.layout.fit_config.read_text()) == sweep.to_dict()
    assert sweep.layout.model_mdf("M1", 60).exists() and sweep.layout.models.exists()
    assert sweep.layout.model_mdf("M0a", 60).exists() and sweep.layout.model_mdf("M3", 60).exists()


def test_a_missing_measured_file_and_a_stale_component_are_named(run, tmp_path):
    sweep, _, _, _, _ = run
    other = Sweep.load({**TINY, "grids": {**TINY["grids"], "angles": [0, 30]}, "output": sweep.output})
    with pytest.raises(MeasurementError, match="no file for the configured angle 30°"):
        measurement.index(other)
    stale = Sweep.load({**TINY, "output": sweep.output, "particle": {"alpha": 0.2}})
    with pytest.raises(StoreError, match="simulated for another configuration"):
        virtual_scanner(stale)


def _table_file(path, table, freqs):
    import h5py

    with h5py.File(path, "w") as f:
        f["transferFunction"] = np.stack([table.real, table.imag], axis=-1)
        f["frequencies"] = freqs
    return path


def test_a_measured_transfer_function_table_is_interpolated_per_channel(tmp_path):
    """kind h5: /transferFunction (channel, frequency, re/im) over /frequencies, linear between the rows."""
    rng = np.random.default_rng(4)
    freqs = np.linspace(1e4, 1.5e6, 50)
    table = rng.normal(size=(3, 50)) + 1j * rng.normal(size=(3, 50))
    path = _table_file(tmp_path / "tf.h5", table, freqs)
    settings = {"kind": "h5", "path": str(path), "channels": [2, 0]}
    np.testing.assert_array_equal(receive_chain(settings, freqs), table[[2, 0]])
    mid = (freqs[:-1] + freqs[1:]) / 2
    np.testing.assert_allclose(receive_chain(settings, mid), (table[[2, 0], :-1] + table[[2, 0], 1:]) / 2, rtol=1e-12)
    with pytest.raises(MDFError, match="tf.h5: transfer function channel 3 not among its 3 channels"):
        receive_chain({**settings, "channels": [3, 0]}, freqs)
    with pytest.raises(MDFError, match=r"bad.h5: /transferFunction has shape \(3, 49, 2\)"):
        receive_chain({**settings, "path": str(_table_file(tmp_path / "bad.h5", table[:, 1:], freqs))}, freqs)
    with pytest.raises(MDFError, match="absent.h5: not found"):
        receive_chain({**settings, "path": str(tmp_path / "absent.h5")}, freqs)


def test_the_real_transfer_function_file_reads_as_a_table():
    """A scanner's measured receive chain (2018 head scanner, ../shared/data): 3 channels, 10 kHz to 1.5 MHz."""
    import h5py

    path = shared_data("transferFunction-PreinstalledUH.h5")
    with h5py.File(path) as f:
        table, freqs = f["transferFunction"][...], f["frequencies"][...].reshape(-1)
    assert table.shape == (3, 1600, 2) and freqs.min() == pytest.approx(1e4, rel=0.01)
    assert freqs.max() == pytest.approx(1.5e6, rel=0.01)
    H = receive_chain({"kind": "h5", "path": str(path), "channels": [0, 1, 2]}, freqs, channels=3)
    np.testing.assert_array_equal(H, table[..., 0] + 1j * table[..., 1])
    assert np.isfinite(H).all() and (np.abs(H) > 0).any(axis=1).all()
