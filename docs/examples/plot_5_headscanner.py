"""
A real head-scanner system function
===================================

The 2018 head-scanner robot scan (``../shared/data/realdata/headscanner2018``, not shipped with the
project) holds raw ADC frames of a real particle sample at 9 positions along a line through the
field-free point, with a 1D drive of 5 mT at 25.7 kHz. This example imports its centre line with
:func:`mpisweep.io.raw_frames.import_raw`, reads it with :func:`mpisweep.read_system_matrix`, and fits
an isotropic 24 nm Néel particle (K = 0, where the workflow's fits settle) with free gains per row (paper
eq. 15). The positions' fields are unknown, so the gradient and the field-free point are fitted with it,
and so are the drive amplitude and the receive coil's sensitivity along the line, which are not
homogeneous over its 80 mm. Then the scanner's measured transfer function is tried in place of the free
gains with :func:`mpisweep.fitting.receive.compare_receive`.

Top: measured and model rows (hue = phase, brightness = amplitude relative to each measured row's
largest). Bottom: the free gains over the file's (one gain and one delay fitted), harmonic by harmonic:
1 where the file explains the receive chain. The :doc:`tutorial <../tutorial-headscanner>` runs the
same data through the workflow, with the easy axes averaged over directions and a mixture of sizes.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy.interpolate import RegularGridInterpolator
from scipy.optimize import minimize

import mpisweep as ms
from mpisweep.figures.colour import add_colorbar_2d, complex_to_rgb
from mpisweep.fitting import epsilon_freq, epsilon_global, row_error, transfer_function
from mpisweep.fitting.receive import compare_receive
from mpisweep.io.raw_frames import Drive, import_raw
from mpisweep.io.receive_chain import TransferTable

HEAD = Path("shared", "data", "realdata", "headscanner2018")
DATA = next((p / HEAD for p in (Path.cwd(), *Path.cwd().parents) if (p / HEAD).is_dir()), None)
if DATA is None:
    print(f"skipped: the head-scanner data ({HEAD}) are not beside the project")
else:
    # %%
    # Import the centre line (rows 10-19: its background row and 9 positions) with the repeat's noise.
    folder = Path(tempfile.mkdtemp())
    import_raw(DATA / "systemMatrixNew.h5", folder / "centre.mdf", Drive(125e6, (4864,), (5e-3,)),
               conversion=(0.00012957305, 0.015548877), averages=1000,
               positions_csv=DATA / "systemMatrixNew_positions.csv",
               failed_rows=[*range(0, 10), *range(20, 30)],
               repeat_path=DATA / "test_systemMatrixNew.h5", repeat_failed_rows=[29])
    data = ms.read_system_matrix(folder / "centre.mdf")
    bins = np.array([2, 3, 4, 5, 6, 7, 8, 9, 12])  # the harmonics above 40 kHz with an SNR of 5 or more
    S = data["system_matrix"].values[:, bins, :][None]  # (angle, channel, frequency, position)
    x_mm = data["position"].values[:, 0] * 1e3 - 156.0  # about the field-free point's robot position

    # %%
    # Rows of a 24 nm particle, K = 0, on a grid of offsets along the drive and of drive amplitudes, once;
    # then any position → field map by interpolation. Fitted with free gains per row: the offsets G·x + c
    # (gradient, field-free point; ordered as the workflow's grid), the drive amplitude 5 mT·(1 + a1 u + a2 u²)
    # and a receive sensitivity 1 + s1 u + s2 u² along the line (u = x / 40 mm), from a few starting gradients.
    fine = np.linspace(-14e-3, 14e-3, 71)
    amplitudes = np.linspace(3.5e-3, 6.5e-3, 7)
    grid = np.zeros((1, fine.size, 3))
    grid[0, :, 0] = fine
    table_rows = np.stack([
        ms.simulate_block(ms.Particle(24e-9, 0.0), ms.Excitation((a,), (4864,), base_frequency=125e6, samples=152),
                          [0.0], grid, bins, channels=(0,)).rows[0, 0, :, 0, :].T
        for a in amplitudes])  # (amplitude, offset, harmonic)
    parts = [RegularGridInterpolator((amplitudes * 1e3, fine * 1e3), part, method="cubic")
             for part in (table_rows.real, table_rows.imag)]
    u = x_mm / 40.0

    def model(p):
        g, c, a1, a2, s1, s2 = p
        at = np.stack([np.clip(5.0 * (1 + a1 * u + a2 * u**2), 3.5, 6.5), np.clip(g * x_mm + c, -14, 14)], -1)
        rows = (parts[0](at) + 1j * parts[1](at)).T * (1 + s1 * u + s2 * u**2)
        return rows[None, None]  # (angle, channel, harmonic, position)

    def eps(p):
        phi = model(p)
        return float(epsilon_global(epsilon_freq(row_error(S, transfer_function(S, phi)[..., None] * phi))))

    fit = min((minimize(eps, [g, 0.3, 0, 0, 0, 0], method="Nelder-Mead",
                        options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 6000, "maxfev": 6000})
               for g in (0.12, 0.15, 0.18)), key=lambda r: r.fun)
    phi = model(fit.x)
    free = transfer_function(S, phi)
    print(f"gradient {fit.x[0]:.4f} T/m, field-free point {fit.x[1]:+.3f} mT off, drive slope and curvature "
          f"{fit.x[2]:+.3f} {fit.x[3]:+.3f}, sensitivity {fit.x[4]:+.3f} {fit.x[5]:+.3f}: ε_global {fit.fun:.3f}")

    # %%
    # The measured transfer function in place of the free gains: one gain, one delay.
    transfer = TransferTable.read(DATA.parents[1] / "transferFunction-PreinstalledUH.h5")
    period = 4864 / 125e6  # one drive cycle
    ways = compare_receive(S, phi, transfer, bins, period)
    for way in ways[:3]:
        print(way.describe())
    best = ways[0]
    h = transfer.response(best.channels, best.applied_to, bins / period)
    ratio = np.abs(free[0, 0]) / np.abs(best.gain[0] * h[0])

    fig, ax = plt.subplot_mosaic([["measured", "key"], ["model", "key"], ["ratio", "ratio"]], figsize=(7, 8),
                                 width_ratios=[1, 0.07], height_ratios=[1, 1, 1.2], layout="constrained")
    axes = [ax["measured"], ax["model"], ax["ratio"]]
    extent = (x_mm[0] - 5, x_mm[-1] + 5, bins.size - 0.5, -0.5)
    scale = np.abs(S[0, 0]).max(axis=-1, keepdims=True)  # per harmonic, the measured row's largest value
    for panel, rows_shown, title in ((axes[0], S[0, 0], "measured"),
                                     (axes[1], free[0, 0][:, None] * phi[0, 0], "model, free gains per row")):
        panel.imshow(complex_to_rgb(rows_shown, scale), aspect="auto", extent=extent, interpolation="nearest")
        panel.set_yticks(range(bins.size), [str(b) for b in bins])
        panel.set_ylabel("harmonic")
        panel.set_title(title)
    axes[1].set_xlabel("robot x − 156 mm (mm)")
    add_colorbar_2d(ax["key"], orientation="vertical")
    axes[2].semilogy(bins, ratio, "o-")
    axes[2].axhline(1.0, color="0.5", lw=0.8)
    axes[2].set_xlabel("harmonic")
    axes[2].set_ylabel("|free gain| / |file's|")
    axes[2].set_title(f"file channel {best.channels[0]} on the {best.applied_to}: ε_global {best.eps_global:.2f} "
                      f"against {fit.fun:.2f} with free gains")
    plt.show()
