"""
Reading a measured MDF file
===========================

:func:`mpisweep.read_system_matrix` reads any MDF v2 system matrix (measured, or written by the
sweep) into an xarray Dataset whose complex ``system_matrix`` has the dimensions (channel,
frequency, offset). The file here is ``tests/data/systemMatrix.mdf``: a real, measured 1D robot
system matrix of a 2018 scanner prototype (MDF 2.0, stored in the time domain with the older flag
``isTransposed``; 9 positions, one receive channel, 152 samples, drive 125 MHz / 4864 ≈ 25.7 kHz
at 5 mT). Its signal is mostly noise and feed-through: a format fixture, not physics. The reader
Fourier transforms it (77 rfft bins) and applies the file's data-conversion factor.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import mpisweep as ms
from mpisweep.figures.colour import add_colorbar_2d, complex_to_rgb


def repository_file(relative):
    """The file `relative` of the repository (the gallery runs in docs/examples/)."""
    here = Path(globals().get("__file__", "plot_3_mdf.py")).resolve().parent
    for folder in (here, *here.parents):
        if (folder / relative).is_file():
            return folder / relative
    raise FileNotFoundError(relative)


ds = ms.read_system_matrix(repository_file("tests/data/systemMatrix.mdf"))
S = ds["system_matrix"]
print(S.dims, S.shape)
for key in ("mdf_version", "calibration_method", "source_domain", "frame_axis_flag", "num_sampling_points",
            "base_frequency", "dividers", "drive_strength", "cycle", "calibration_size"):
    print(f"{key:20s} {np.asarray(ds.attrs[key]).tolist()}")

# %%
# Left: the spectrum of each position (magnitude, log scale); the drive frequency (bin 1,
# 25.7 kHz, mostly feed-through) stands out, the rest is close to the noise. Right: the rows as an
# image over (bin, position), hue = phase and brightness = amplitude, each row (bin) scaled to its
# own maximum.
f_khz = ds["frequency"].values / 1e3
rows = S.values[0]  # (frequency, offset)
fig, (ax_s, ax_r, ax_key) = plt.subplots(1, 3, figsize=(10, 3.8), width_ratios=[1.3, 1, 0.12],
                                         layout="constrained")
for p in range(rows.shape[1]):
    ax_s.semilogy(f_khz[1:], np.abs(rows[1:, p]), lw=0.7, color=plt.cm.viridis(p / 8))
ax_s.set_xlabel("frequency (kHz)")
ax_s.set_ylabel("|S| (V)")
ax_s.set_title(f"{rows.shape[1]} robot positions (colour: position)")

upto = 40
ax_r.imshow(complex_to_rgb(rows[1:upto], normalize="row", row_ndim=1), origin="lower", aspect="auto",
            extent=(0.5, rows.shape[1] + 0.5, 0.5, upto - 0.5), interpolation="nearest")
ax_r.set_xlabel("position")
ax_r.set_ylabel("rfft bin k")
ax_r.set_title("rows, per-row brightness")
add_colorbar_2d(ax_key, orientation="vertical", amp_label="|S|/max")
plt.show()
