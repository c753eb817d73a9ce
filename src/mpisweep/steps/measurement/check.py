"""Workflow step `check-measurement`: every measured file against the configured scanner, before any work.

The files are indexed and read by the shared reader :mod:`mpisweep.sweep.measured` (the fits, the
refine rounds and the orientation stage read them through it too); this step checks what each file
states (drive, sampling, grid, offsets, stored bins), that its evaluation rows hold usable data and,
for orientation imaging, that the position map (the files' own or the configured one) is sound.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ...errors import MDFError
from ...io.mdf import check_compatible
from ...sweep.config import Sweep
from ...sweep.geometry import calibration_map
from ...sweep.measured import expected_fields, index, read_file, receive_channels, tolerance

#: below this SNR (where the file gives one) no evaluation bin carries signal worth fitting
MIN_USABLE_SNR = 1.0


def check_data(sweep: Sweep, ds: xr.Dataset, path) -> None:
    """The evaluation rows of one file are finite, not all zero per channel, and (where the file
    records /calibration/snr) some evaluation bin has an SNR of at least MIN_USABLE_SNR."""
    bins = sweep.bin_indices
    pos = np.searchsorted(ds["frequency_bin"].values, bins) if np.all(np.diff(ds["frequency_bin"].values) > 0) else \
        np.array([int(np.flatnonzero(ds["frequency_bin"].values == k)[0]) for k in bins])
    chans = receive_channels(sweep)
    rows = ds["system_matrix"].transpose("channel", "frequency", "offset").values[chans][:, pos]
    bad = ~np.isfinite(rows)
    if bad.any():
        c, f, o = (int(v) for v in np.argwhere(bad)[0])
        raise MDFError(f"{path}: /measurement/data has {int(bad.sum())} NaN or Inf value(s) at the evaluation bins "
                       f"(first: channel {chans[c]}, bin {int(bins[f])}, offset {o})")
    for i, c in enumerate(chans):
        if not np.any(rows[i]):
            raise MDFError(f"{path}: /measurement/data is zero on receive channel {c} at every evaluation bin")
    if "snr" in ds:
        snr = np.asarray(ds["snr"].transpose("channel", "frequency").values)[chans][:, pos]
        if np.nanmax(snr) < MIN_USABLE_SNR:
            raise MDFError(f"{path}: /calibration/snr is below {MIN_USABLE_SNR:g} at every evaluation bin "
                           f"(largest {np.nanmax(snr):.3g}): nothing to fit")


def check(sweep: Sweep) -> dict:
    """Check every measured file against the configured scanner; MeasurementError/MDFError naming file and field."""
    entries = index(sweep)
    tol = tolerance(sweep)
    bins = sweep.bin_indices
    configured = expected_fields(sweep)
    report = []
    for e in entries:
        ds = read_file(sweep, e["file"])
        expected = dict(configured)
        if "offset_field" not in ds.coords and ds.attrs.get("calibration_method") != "hybrid":
            # a robot calibration moves the sample instead of applying offsets: nothing to compare them with
            expected.pop("offset_fields")
        check_compatible(ds, expected, path=e["file"], rtol=tol)
        stored = set(int(k) for k in ds["frequency_bin"].values)
        missing = [int(k) for k in bins if int(k) not in stored]
        if missing:
            raise MDFError(f"{e['file']}: /measurement/frequencySelection lacks evaluation bin(s) {missing[:8]}")
        check_data(sweep, ds, e["file"])
        report.append({"file": str(e["file"]), "angle": e["angle"], "csv_angle": e["csv_angle"],
                       "channels": int(ds.sizes["channel"]), "offsets": int(ds.sizes["offset"])})
        if "offset_fields" not in expected:
            report[-1]["offset_fields"] = (f"not compared: a {ds.attrs.get('calibration_method', '?')} calibration "
                                           "without /calibration/offsetFields")
    if sweep.orientation.enabled:
        calibration_map(sweep)  # the position map is checked now, not after the fits
    return {
        "source": sweep.source,
        "tolerance": tol,
        "checked_fields": ["/acquisition/drivefield/cycle", "/acquisition/drivefield/baseFrequency",
                           "/acquisition/drivefield/divider", "/acquisition/receiver/numSamplingPoints",
                           "/calibration/size", "/calibration/offsetFields", "/acquisition/receiver/numChannels",
                           "stored evaluation bins", "finite, non-zero data with a usable SNR"],
        "expected": {k: (np.asarray(v).tolist() if not isinstance(v, (int, float)) else v)
                     for k, v in configured.items()},
        "files": report,
    }
