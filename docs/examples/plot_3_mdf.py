"""
Writing and reading an MDF system matrix
========================================

:func:`mpisweep.write_system_matrix` writes a system matrix as an MDF v2.1 file and
:func:`mpisweep.read_system_matrix` reads any MDF v2 system matrix, measured or simulated, into an
xarray Dataset whose complex ``system_matrix`` has the dimensions (channel, frequency, offset).

Here the rows of one particle (22 nm, 1100 J/m³, easy axis at 30°) on a 5 × 5 grid of offset
fields are simulated with :func:`mpisweep.simulate_block`, written with the drive and grid
attributes the reader returns, and read back: the file holds the same numbers. Measured
calibrations, such as the files of the Zenodo record 5336271, are read the same way;
``mpisweep mdf-info FILE`` prints what a file holds.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

import mpisweep as ms
from mpisweep.figures.colour import add_colorbar_2d, complex_to_rgb

drive = ms.Excitation.bruker()  # 12.59 / 13.55 mT at 2.5 MHz / 102 and / 96; 1632 samples per cycle
offsets = ms.offset_grid((-14.35e-3, 14.35e-3), (-14.71e-3, 14.71e-3), 5, 5)  # (5, 5, 3) in T
bins = np.arange(1, 300)  # the rfft bins to simulate and store, up to 457 kHz
block = ms.simulate_block(ms.Particle(22e-9, 1100.0), drive, [30.0], offsets, bins)

# the reader's layout: (channel, frequency, offset) on all samples//2 + 1 bins, offsets x fastest
nbins = drive.samples // 2 + 1
full = np.zeros((2, nbins, 25), complex)
full[:, bins] = block.rows[0].reshape(2, bins.size, 25)
dataset = xr.Dataset(
    {"system_matrix": (("channel", "frequency", "offset"), full)},
    coords={"frequency": np.arange(nbins) / drive.period, "frequency_bin": ("frequency", np.arange(nbins)),
            "offset_field": (("offset", "xyz"), offsets.reshape(-1, 3))},
    attrs={"calibration_method": "hybrid", "base_frequency": drive.base_frequency,
           "dividers": np.array(drive.dividers).reshape(-1, 1),
           "drive_strength": np.array(drive.amplitudes).reshape(1, -1, 1),
           "drive_phase": np.zeros((1, 2, 1)), "waveform": np.full((2, 1), "sine"), "cycle": drive.period,
           "num_sampling_points": drive.samples, "bandwidth": drive.samples / (2 * drive.period),
           "unit": "a.u.", "num_averages": 1, "calibration_size": np.array([5, 5, 1]), "calibration_order": "xyz"},
)

with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "system_matrix.mdf"
    ms.write_system_matrix(path, dataset, frequency_bins=bins)  # stores only these bins (frequencySelection)
    ds = ms.read_system_matrix(path)

S = ds["system_matrix"]
print(S.dims, S.shape)
print("largest difference to the simulated rows:", float(np.abs(S.values - full[:, bins]).max()))
for key in ("mdf_version", "calibration_method", "base_frequency", "dividers", "drive_strength", "cycle",
            "calibration_size"):
    print(f"{key:20s} {np.asarray(ds.attrs[key]).tolist()}")

# %%
# Left: the magnitude of the rows φ_k of channel x at each of the 25 offsets; the mixing frequencies of the
# two drive channels stand out. Right: three rows as images over the offset grid, hue = phase and
# brightness = amplitude, each scaled to its own maximum.
f_khz = ds["frequency"].values / 1e3
rows = S.values[0]  # channel x: (frequency, offset)
fig = plt.figure(figsize=(10, 3.8), layout="constrained")
left, right = fig.subfigures(1, 2, width_ratios=[1.2, 1])
ax_s = left.subplots()
for p in range(rows.shape[1]):
    ax_s.semilogy(f_khz, np.abs(rows[:, p]), lw=0.6, color=plt.cm.viridis(p / 24))
ax_s.set_xlabel("frequency (kHz)")
ax_s.set_ylabel("|φ_k| (1/s)")
ax_s.set_title("channel x, 25 offsets (colour: offset)")

shown = [33, 49, 82]  # bins k = 16 mx + 17 my: (mx, my) = (1, 1), (2, 1), (3, 2)
axes = right.subplots(1, len(shown) + 1, width_ratios=[1] * len(shown) + [0.25])
for ax, k in zip(axes, shown):
    i = int(np.flatnonzero(ds["frequency_bin"].values == k)[0])
    image = rows[i].reshape(5, 5)  # (offset_y, offset_x)
    ax.imshow(complex_to_rgb(image), origin="lower", extent=(-14.35, 14.35, -14.71, 14.71))
    ax.set_title(f"k = {k}", fontsize=9)
    ax.set_xlabel("x (mT)", fontsize=8)
    ax.tick_params(labelsize=7)
axes[0].set_ylabel("y (mT)", fontsize=8)
add_colorbar_2d(axes[-1], orientation="vertical", amp_label="|S|/max")
plt.show()
