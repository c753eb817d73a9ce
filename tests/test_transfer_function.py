"""A measured receive transfer function in the fits (fit.transfer_function): one gain per receive channel and one
delay in place of the paper's free gain per row.

Synthetic rows check the fit itself (gains, delay, file channel and moment-or-rate come back; the map over
entries tells apart rows that free gains cannot); a tiny virtual scanner whose receive chain is a file checks the
fit step end to end.
"""

from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from helpers import steps_before_fit

from mpisweep.errors import ConfigError, MDFError
from mpisweep.fitting.metrics import epsilon_freq, epsilon_global, row_error, transfer_function
from mpisweep.fitting.receive import compare_receive, fit_m1_measured_transfer, fit_weights
from mpisweep.io.receive_chain import TransferTable, receive_chain
from mpisweep.sweep import Sweep

PERIOD = 1 / 25e3
BINS = np.arange(2, 22)


def write_table(path, values, freqs) -> Path:
    """A transfer-function file in the MPIFiles layout: /transferFunction (channel, frequency, re/im)."""
    values = np.atleast_2d(values)
    with h5py.File(path, "w") as h:
        h["frequencies"] = freqs
        h["transferFunction"] = np.stack([values.real, values.imag], axis=-1)
    return Path(path)


def chain(freqs):
    """Three channels unlike each other: a low-pass with a delay, a high-pass, a flat complex gain."""
    return np.stack([np.exp(-freqs / 3e5) * np.exp(-2j * np.pi * freqs * 2e-7),
                     (freqs / 1e5) / (1 + freqs / 1e5) + 0j,
                     np.full(freqs.shape, 1 + 0.5j)])


@pytest.fixture
def table(tmp_path):
    freqs = np.linspace(1e3, 2e6, 400)
    return TransferTable.read(write_table(tmp_path / "tf.h5", chain(freqs), freqs))


def rows(seed=0, shape=(2, 2, BINS.size, 15)):
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape) + 1j * rng.normal(size=shape)


def test_gains_delay_channels_and_moment_come_back_exactly(table):
    phi = rows()
    gain, delay = np.array([2 - 1j, 0.5 + 0.3j]), 1.3e-6
    response = table.response((1, 0), "moment", BINS / PERIOD) * np.exp(-2j * np.pi * BINS / PERIOD * delay)
    S = gain[None, :, None, None] * response[None, :, :, None] * phi
    fits = compare_receive(S, phi, table, BINS, PERIOD)
    assert len(fits) == 3 * 3 * 2  # every file channel per receive channel, moment and rate
    best = fits[0]
    assert (best.channels, best.applied_to) == ((1, 0), "moment")
    assert best.delay == pytest.approx(delay, abs=1e-12)
    np.testing.assert_allclose(best.gain, gain, rtol=1e-9)
    assert best.eps_global < 1e-8 < fits[1].eps_global
    # a delay beyond half a period is the same rows: it is reported within ±T/2
    S_late = S * np.exp(-2j * np.pi * BINS * 0.7)[None, None, :, None]  # 0.7 T later
    late = compare_receive(S_late, phi, table, BINS, PERIOD, channels=(1, 0), applied_to="moment")[0]
    assert late.delay == pytest.approx(delay - 0.3 * PERIOD, abs=1e-12)


def test_the_error_is_the_papers_epsilon_global_of_the_fitted_rows(table):
    """ε_global of the explicit model rows, and never below the free gains' ε (they fit a superset)."""
    phi, noise = rows(1), rows(2)
    S = table.response((2, 2), "rate", BINS / PERIOD)[None, :, :, None] * phi + 0.2 * noise
    used = np.ones((2, BINS.size), bool)
    used[1, :5] = False  # rows left out do not count
    fit = compare_receive(S, phi, table, BINS, PERIOD, rows=used, channels=(2, 2), applied_to="rate")[0]
    shift = np.exp(-2j * np.pi * BINS / PERIOD * fit.delay)
    model = (fit.gain[:, None] * table.response((2, 2), "rate", BINS / PERIOD) * shift)[None, :, :, None] * phi
    explicit = epsilon_global(epsilon_freq(row_error(S, model), rows=used))
    assert fit.eps_global == pytest.approx(float(explicit), rel=1e-10)
    free = epsilon_global(epsilon_freq(row_error(S, transfer_function(S, phi)[..., None] * phi), rows=used))
    assert fit.eps_global > free
    W = fit_weights(S, used)
    assert not W[:, 1, :5].any() and W[:, 0].all()


def test_m1_with_the_file_tells_apart_entries_whose_harmonics_fall_off_differently(table):
    """Two entries whose rows differ only by a factor per harmonic: free gains (eq. 15) fit both exactly,
    the measured transfer function only the right one."""
    phi = rows(3)
    tilt = (1 + 0.05 * BINS) ** 2  # the wrong entry's harmonics fall off differently
    full = np.zeros(phi.shape[:2] + (BINS.max() + 1, phi.shape[-1]), complex)
    right, wrong = full.copy(), full.copy()
    right[..., BINS, :], wrong[..., BINS, :] = phi, phi * tilt[:, None]
    response = table.response((0, 0), "rate", BINS / PERIOD)
    S = full.copy()
    S[..., BINS, :] = 3j * response[None, :, :, None] * phi
    dictionary = np.stack([wrong, right])[:, None]  # (diameter, anisotropy, angle, channel, frequency, offset)
    m1 = fit_m1_measured_transfer(S, dictionary, BINS, PERIOD, table, (0, 0), "rate")
    assert m1.best_index == (1, 0) and m1.fit.eps_global < 1e-8 < m1.eps_global[0, 0]
    np.testing.assert_allclose(m1.fit.gain, [3j, 3j], rtol=1e-9)
    assert m1.eps_global[1, 0] < 1e-3  # the map's delay is on a grid; the best entry's is refined


def test_the_table_is_read_checked_and_named(tmp_path, table):
    freqs = np.linspace(1e3, 2e6, 400)
    np.testing.assert_allclose(table.at(1, [1e5]), [0.5 + 0j], rtol=1e-3)
    np.testing.assert_allclose(table.response((1,), "moment", [1e5]), [table.at(1, [1e5]) / (2j * np.pi * 1e5)])
    with pytest.raises(MDFError, match=r"covers 1000-2e\+06 Hz; the fits evaluate 3e\+06 Hz"):
        table.at(0, [1e5, 3e6])
    with pytest.raises(MDFError, match="channel 3 not among its 3 channels"):
        table.at(3, [1e5])
    # the virtual scanner reads the same file and holds the end values outside it
    np.testing.assert_allclose(receive_chain({"kind": "h5", "path": table.path, "channels": [2, 0]}, [5e5, 3e6]),
                               [table.at(2, [5e5, 2e6]), table.at(0, [5e5, 2e6])])
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as h:
        h["frequencies"] = freqs
    with pytest.raises(MDFError, match="needs /transferFunction"):
        TransferTable.read(bad)
    grids = {"grids": {"diameters": [16, 18], "anisotropies": [300], "angles": [0]}}
    with pytest.raises(ConfigError, match=r"fit.transfer_function.channels': \[0\] names 1 file channels for 2"):
        Sweep.load({**grids, "fit": {"transfer_function": {"path": "tf.h5", "channels": [0]}}})
    with pytest.raises(ConfigError, match="fit.transfer_function.applied_to"):
        Sweep.load({**grids, "fit": {"transfer_function": {"path": "tf.h5", "applied_to": "voltage"}}})
    # off by default, and then not in the resolved config (whose hash the earlier sweeps keep)
    assert "transfer_function" not in Sweep.load(grids).to_dict()["fit"]
    on = Sweep.load({**grids, "fit": {"transfer_function": {"path": "tf.h5", "channels": [1, 0]}}})
    on.write(tmp_path / "config.json")
    assert Sweep.read(tmp_path / "config.json").fit.transfer_function == on.fit.transfer_function


TINY = yaml.safe_load("""
grids: {diameters: [16, 18, 20], anisotropies: [300, 900], angles: [0, 60]}
offsets: {x: {min: -5, max: 5, count: 3}, y: {min: 2, max: 2, count: 1}}
frequencies: {mx: 3, my: 3}
fit: {ranks: ["100%"], snr_threshold: null, fields: {calibrate: false}}
measurement:
  virtual:
    components: [{diameter: 18, anisotropy: 300, weight: 1.0}]
    snr_db: null
    solver: {degree_offset: 0, rtol_factor: 1}
""")


@pytest.mark.slow
def test_a_scanner_whose_receive_chain_is_a_file_is_fitted_with_it(tmp_path):
    """The virtual scanner records through file channels 2 and 0 (on the rate) and 0.6 µs late; the file
    knows nothing of the delay. The fit finds the channels, the rate, the delay and M1's entry."""
    from mpisweep.steps.fit.fit import run_fit

    freqs = np.linspace(1e3, 2e6, 400)
    stated = write_table(tmp_path / "tf.h5", chain(freqs), freqs)
    recorded = write_table(tmp_path / "recorded.h5", chain(freqs) * np.exp(-2j * np.pi * freqs * 6e-7), freqs)
    config = {**TINY, "output": str(tmp_path / "results"),
              "fit": {**TINY["fit"], "transfer_function": {"path": str(stated)}}}
    config["measurement"] = {"virtual": {**TINY["measurement"]["virtual"], "transfer_function": {
        "kind": "h5", "path": str(recorded), "channels": [2, 0]}}}
    sweep = Sweep.load(config)
    _, report, _ = steps_before_fit(sweep)
    lines = []
    summary = run_fit(sweep, report, log=lines.append)["transfer_function"]
    assert summary["status"] == "fitted" and summary["chosen"] == {"channels": [2, 0], "applied_to": "rate"}
    m1 = summary["M1"]
    assert (m1["diameter"], m1["anisotropy"]) == (18.0, 300.0)
    # the recorded chain is interpolated from its table: its phase ramp is linear only to ~5e-5 between points
    assert m1["delay_us"] == pytest.approx(0.6, abs=1e-4) and m1["eps_global"] < 1e-4
    np.testing.assert_allclose(summary["free_over_measured"], 1.0, rtol=1e-4)
    assert any(line.startswith("M1 with the measured transfer function (rate)") for line in lines)
    table = (sweep.layout.fits / "transfer_function.csv").read_text().splitlines()
    assert table[0].startswith("fit,diameter,anisotropy,file_channels,applied_to,delay_us")
    assert len(table) == 1 + 18 + 1 and table[1].split(",")[3:5] == ["2;0", "rate"]
    assert table[-1].startswith("M1,18.0,300.0,2;0,rate")
    # a missing file is named with its key
    gone = Sweep.load({**config, "fit": {**TINY["fit"], "transfer_function": {"path": str(tmp_path / "no.h5")}}})
    with pytest.raises(ConfigError, match=r"fit.transfer_function.path': .*no.h5 not found"):
        run_fit(gone, report, log=lambda m: None)
