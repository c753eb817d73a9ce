"""
A small dictionary and an M1 fit
================================

Four dictionary entries (D, K) ∈ {20, 22 nm} × {1100, 2000 J/m³}, each a block of system-matrix
rows over two easy-axis angles and a 3 × 3 grid of offset fields, made with
:func:`mpisweep.simulate_block` at a few evaluation bins. A "measurement" is mixed from it:
0.7 × (22 nm, 1100 J/m³) + 0.3 × (20 nm, 2000 J/m³) (the default sweep's truth), times a complex
transfer function per channel and bin, plus complex noise at 40 dB. Model M1
(:func:`mpisweep.fit_m1`) fits one entry with a closed-form transfer function per angle, channel and
bin, and reports ε_global for every entry; M3 (:func:`mpisweep.fit_m3`) fits non-negative weights
with one shared transfer function.
"""

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

import mpisweep as ms
from mpisweep.figures.colour import add_colorbar_2d, complex_to_rgb

drive = ms.Excitation((12.59e-3, 13.55e-3), (102, 96), 2.5e6)
diameters, anisotropies, angles = [20, 22], [1100, 2000], [0, 90]
offsets = ms.offset_grid((-10e-3, 10e-3), (-10e-3, 10e-3), 3, 3)  # (ny, nx, 3) in T
orders = ms.mixing_bins((102, 96), 3, 3)  # (mx, my, k) rows: k = 16·mx + 17·my for mx, my ≤ 3
bins = orders[:, 2]  # 13 bins (without the DC bin and the drive frequencies)

rows = np.empty((2, 2, 2, 2, bins.size, 9), complex)  # (D, K, angle, channel, bin, offset)
for i, d in enumerate(diameters):
    for j, k in enumerate(anisotropies):
        block = ms.simulate_block(ms.Particle(d * 1e-9, k), drive, angles, offsets, bins)
        rows[i, j] = block.rows.reshape(2, 2, bins.size, 9)
        print(f"D = {d} nm, K = {k} J/m³: L = {block.degrees.min()}–{block.degrees.max()}, "
              f"{block.solves} rows solved, {block.derived} derived by mirror symmetry")

dims = ("angle", "channel", "frequency", "offset")
dictionary = xr.DataArray(rows, dims=("diameter", "anisotropy") + dims,
                          coords={"diameter": diameters, "anisotropy": anisotropies, "frequency": bins})

# %%
# The measurement: the mixture, a transfer function a(channel, k) (gain, phase lag, delay) and noise.
rng = np.random.default_rng(1)
mixture = 0.7 * rows[1, 0] + 0.3 * rows[0, 1]  # (angle, channel, bin, offset)
f_hz = bins * 2.5e6 / 1632  # bin k is k / cycle, cycle = lcm(102, 96) / 2.5 MHz
transfer = np.array([1.0, 0.8])[:, None] * np.exp(-2j * np.pi * f_hz * 2e-7 + 1j * np.radians([0, 25])[:, None])
signal = transfer[None, :, :, None] * mixture
sigma = np.sqrt(np.mean(np.abs(signal) ** 2)) * 10 ** (-40 / 20)
noise = sigma / np.sqrt(2) * (rng.standard_normal(signal.shape) + 1j * rng.standard_normal(signal.shape))
measured = xr.DataArray(signal + noise, dims=dims, coords={"frequency": bins})

m1 = ms.fit_m1(measured, dictionary, bins)
m3 = ms.fit_m3(measured, dictionary, bins)
print(f"M1: best ({m1.best_diameter} nm, {m1.best_anisotropy} J/m³), ε_global = {m1.eps_global_best:.4f}")
print("M3 weights (D, K):", {(d, k): round(float(m3.weights[0, i, j]), 3)
                             for i, d in enumerate(diameters) for j, k in enumerate(anisotropies)})

# %%
# Left: ε_global of M1 over (D, K), the minimum marked. Right: measured and M1 model rows at
# three mixing orders (angle 0°, channel x) over the 3 × 3 offset grid, hue = phase,
# brightness = amplitude, on one scale per bin (the largest amplitude of the measurement).
fig = plt.figure(figsize=(10, 4), layout="constrained")
grid = fig.add_gridspec(2, 5, width_ratios=[1.6, 1, 1, 1, 0.25], height_ratios=[1, 1])
ax = fig.add_subplot(grid[:, 0])
image = ax.imshow(m1.eps_global, origin="lower", cmap="viridis")
ax.set_xticks(range(2), [f"{k}" for k in anisotropies])
ax.set_yticks(range(2), [f"{d}" for d in diameters])
ax.set_xlabel("K (J/m³)")
ax.set_ylabel("D (nm)")
bi, bk = m1.best_index
ax.plot(bk, bi, "r*", ms=14)
for i in range(2):
    for j in range(2):
        ax.text(j, i - 0.3, f"{m1.eps_global[i, j]:.3f}", ha="center", color="w", fontsize=9)
fig.colorbar(image, ax=ax, label="ε_global (M1)", shrink=0.8)
ax.set_title("M1: ε_global over (D, K)")

S = measured.values[0, 0]  # (bin, offset) at angle 0°, channel x
model = m1.model[0, 0]
for col, f in enumerate([0, 4, 9]):
    scale = np.abs(S[f]).max()
    for row, (data, name) in enumerate([(S, "measured"), (model, "M1 model")]):
        a = fig.add_subplot(grid[row, 1 + col])
        a.imshow(complex_to_rgb(data[f].reshape(3, 3), normalize=scale), origin="lower")
        a.set_xticks([])
        a.set_yticks([])
        if row == 0:
            a.set_title(f"(mx, my) = ({orders[f, 0]}, {orders[f, 1]})", fontsize=9)
        if col == 0:
            a.set_ylabel(name, fontsize=9)
add_colorbar_2d(fig.add_subplot(grid[:, 4]), orientation="vertical", amp_label="|S|/max")
plt.show()
