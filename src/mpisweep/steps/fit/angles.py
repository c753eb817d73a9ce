"""Which angle convention do the measured files use? Let the data say.

The paper measures its easy-axis angle from the scanner's y axis and does not state the sense of
rotation. For every candidate mapping model angle = offset + sign · CSV angle (offset 0° or 90°,
sign ±1) the measured files are assigned to the configured angles and M1 is fitted; the mapping
with the smallest ε_global is the convention of the data. Mappings that do not give every
configured angle exactly one file are reported as such.
"""

from __future__ import annotations

from dataclasses import replace

from ...errors import MeasurementError
from ...fitting import fit_m1
from ...sweep import measured as measurement
from ...sweep.config import Sweep
from ...sweep.sections.measurement import Columns
from .dictionaries import open_fp

CANDIDATES = ((0.0, 1), (0.0, -1), (90.0, 1), (90.0, -1))


def with_mapping(sweep: Sweep, angle_offset: float, angle_sign: int) -> Sweep:
    """The same sweep reading its measured files under another angle mapping."""
    meas = sweep.measurement
    mdf = replace(meas.mdf, angle_offset=float(angle_offset), angle_sign=int(angle_sign))
    if meas.source == "virtual":  # the virtual scanner's CSV holds model angles: read it as measured data
        mdf = replace(mdf, directory=str(sweep.layout.measurement), csv="calibrations.csv",
                      columns=Columns(file="file", angle="angle"), channels=(0, 1), tolerance=1e-6)
    return replace(sweep, measurement=replace(meas, source="mdf", mdf=mdf))


def check_angles(sweep: Sweep, fp=None, log=print) -> list[dict]:
    """One row per candidate mapping: angle_offset, angle_sign, eps_global (None: does not cover the grid),
    best (D, K) of M1, and the note; sorted best first."""
    dictionary, _ = open_fp(sweep, fp, log=log)
    rows = []
    for offset, sign in CANDIDATES:
        variant = with_mapping(sweep, offset, sign)
        row = {"angle_offset": offset, "angle_sign": sign}
        try:
            measured = measurement.load(variant)
        except MeasurementError as err:
            rows.append({**row, "eps_global": None, "note": str(err).split(": ", 1)[-1]})
            continue
        fit = fit_m1(measured, dictionary, sweep.bins)
        rows.append({**row, "eps_global": float(fit.eps_global_best), "best_diameter": float(fit.best_diameter),
                     "best_anisotropy": float(fit.best_anisotropy), "note": ""})
    rows.sort(key=lambda r: (r["eps_global"] is None, r["eps_global"] or 0.0))
    return rows
