"""
Orientation imaging on a tiny grid
==================================

One system matrix per easy-axis angle, side by side, A = [S_0° S_45° S_90° S_135°], and a
non-negative reconstruction c = (c_0°; …; c_135°) give one image per contrast channel (Möddel et
al. 2021). The sample's position is the maximum of Σ_l c_l and its easy-axis angle is read from the
channel weights (:func:`mpisweep.read_out`), without ground truth.

Here the four system matrices are rows of a 22 nm, 1100 J/m³ particle on a 4 × 4 offset grid
(one pixel per offset) at the bins from 80 kHz up to bin 250 (:func:`mpisweep.simulate_block`).
The phantoms are delta samples at angles off that 45° grid, simulated at their pixel's offset,
with noise at 40 dB; :func:`mpisweep.kaczmarz_batch` reconstructs them all at once (the
regularised Kaczmarz with c ← max(Re c, 0) after each sweep).
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import hsv_to_rgb

import mpisweep as ms
from mpisweep.orientation.readout import orientation_map, orientation_model

particle = ms.Particle(22e-9, 1100.0)
drive = ms.Excitation((12.59e-3, 13.55e-3), (102, 96), 2.5e6)
angles = np.array([0.0, 45.0, 90.0, 135.0])
offsets = ms.offset_grid((-9e-3, 9e-3), (-9e-3, 9e-3), 4, 4)  # pixel (iy, ix) ↔ offset
bins = np.arange(53, 251)  # 53 · 1.53 kHz ≈ 81 kHz

calibration = ms.simulate_block(particle, drive, angles, offsets, bins).rows  # (angle, channel, bin, 4, 4)
L, P = angles.size, 16
A = calibration.reshape(L, 2 * bins.size, P).transpose(1, 0, 2).reshape(2 * bins.size, L * P)  # column l·P + p

# %%
# Three single-sample phantoms and one with all three samples.
samples = [((1, 1), 30.0), ((2, 3), 100.0), ((3, 0), 160.0)]  # (pixel (y, x), easy-axis angle)
rng = np.random.default_rng(3)
signals = []
for (iy, ix), theta in samples:
    rows = ms.simulate_block(particle, drive, [theta], offsets[iy:iy + 1, ix:ix + 1], bins).rows
    signals.append(rows.reshape(-1))  # (channel, bin) as A's rows
U = np.stack(signals + [sum(signals)], axis=1)
sigma = np.sqrt(np.mean(np.abs(U) ** 2, axis=0)) * 10 ** (-40 / 20)
U = U + sigma / np.sqrt(2) * (rng.standard_normal(U.shape) + 1j * rng.standard_normal(U.shape))

lam = 1e-2 * np.sum(np.abs(A) ** 2) / A.shape[1]  # λ = λ_rel ‖A‖²_F / columns
C = ms.kaczmarz_batch(A, U, lam, 1000)  # (L·P, 4) non-negative
c_single = ms.kaczmarz(A, U[:, 0], lam, 1000)
print(f"A: {A.shape[0]} rows × {A.shape[1]} columns; batch vs single: "
      f"{np.max(np.abs(C[:, 0] - c_single)) / c_single.max():.1e}")

readouts = []
for b, ((iy, ix), theta) in enumerate(samples):
    r = ms.read_out(C[:, b].reshape(L, 4, 4), angles, radius=1.0)
    readouts.append(r)
    err = (r.angle_deg - theta + 90) % 180 - 90
    print(f"sample at pixel ({iy}, {ix}), {theta:5.1f}°: found at ({r.position_yx[0]:.2f}, "
          f"{r.position_yx[1]:.2f}), θ̂ = {r.angle_deg:5.1f}° (error {err:+.1f}°)")

# %%
# Left: the three-sample phantom's map, hue = easy-axis angle on a cyclic scale of period 180°
# (the doubled-angle mean of the channels per pixel), brightness = concentration Σ_l c_l. Right:
# the channel weights of the first sample and the fitted w(α) = p1 (cos²(π(α − p2)/180))^p3.
theta_map, conc = orientation_map(C[:, 3].reshape(L, 4, 4), angles)
rgb = hsv_to_rgb(np.stack([theta_map / 180.0, np.ones_like(conc), conc / conc.max()], axis=-1))

fig, (ax_map, ax_key, ax_w) = plt.subplots(1, 3, figsize=(10, 3.8), width_ratios=[1, 0.12, 1.1],
                                           layout="constrained")
ax_map.imshow(rgb, origin="lower")
for (iy, ix), theta in samples:
    ax_map.text(ix, iy - 0.3, f"truth {theta:.0f}°", color="w", fontsize=8, ha="center")
ax_map.set_xticks(range(4))
ax_map.set_yticks(range(4))
ax_map.set_xlabel("pixel x (offset)")
ax_map.set_ylabel("pixel y (offset)")
ax_map.set_title("three samples: angle (hue) and concentration")

key = np.linspace(0.0, 180.0, 181)
ax_key.imshow(hsv_to_rgb(np.stack([key / 180, np.ones_like(key), np.ones_like(key)], -1))[:, None],
              origin="lower", aspect="auto", extent=(0, 1, 0, 180))
ax_key.set_xticks([])
ax_key.set_yticks([0, 45, 90, 135, 180])
ax_key.set_ylabel("easy-axis angle (°), period 180°")

r = readouts[0]
alpha = np.linspace(0, 180, 181)
ax_w.plot(angles, r.weights, "ko", label="channel weights (disc sums)")
ax_w.plot(alpha, orientation_model(alpha, *r.parameters), "C3", label=f"fit: θ̂ = {r.angle_deg:.1f}°")
ax_w.axvline(samples[0][1], color="0.5", ls=":", label=f"truth {samples[0][1]:.0f}°")
ax_w.set_xlabel("contrast channel α (°)")
ax_w.set_ylabel("weight")
ax_w.set_xticks(angles)
ax_w.legend(fontsize=8)
plt.show()
