"""The real head-scanner system function (../shared/data/realdata/headscanner2018) from import to fit, as the
tutorial runs it: config/headscanner.yaml on the centre line of the original and of the repeat.

What is checked: the raw frames import with their robot positions and background row; the field calibration
(the gradient from several starts, the field-free point, the drive amplitude's and the receive sensitivity's
variation along the line) finds the same geometry in both files, and M3 at the fitted fields reaches the issue's
ε_global of 0.07 (0.2 or more at the stated fields); the measured transfer function is read, fitted and reported.
Skips with one line where ../shared is absent.
"""

import numpy as np
import pytest
import yaml
from helpers import REPO, SHARED_DATA, shared_data, steps_before_fit

from mpisweep.io.raw_frames import Drive, import_raw
from mpisweep.steps.fit.fit import run_fit
from mpisweep.sweep import Sweep

HEAD = "realdata/headscanner2018"
OTHER_LINES = [*range(0, 10), *range(20, 30)]  # the lines at y = -21.2 and -1.2 mm


def fit_centre_line(folder, frames: str, repeat: str, repeat_failed: list[int]) -> dict:
    """Import one file's centre line and fit it with config/headscanner.yaml (a smaller grid); the summary."""
    folder.mkdir()
    import_raw(shared_data(f"{HEAD}/{frames}"), folder / "centre.mdf", Drive(125e6, (4864,), (5e-3,)),
               conversion=(0.00012957305, 0.015548877), averages=1000,
               positions_csv=shared_data(f"{HEAD}/systemMatrixNew_positions.csv"), failed_rows=OTHER_LINES,
               repeat_path=shared_data(f"{HEAD}/{repeat}"), repeat_failed_rows=repeat_failed)
    (folder / "calibrations.csv").write_text("path,easyAxisOrientation\ncentre.mdf,0\n")
    config = yaml.safe_load((REPO / "config" / "headscanner.yaml").read_text())
    config["output"] = str(folder / "results")
    config["grids"].update(diameters=[20, 22, 24, 26], anisotropies=[0])
    config["measurement"]["mdf"]["directory"] = str(folder)
    config["fit"]["transfer_function"]["path"] = str(shared_data("transferFunction-PreinstalledUH.h5"))
    sweep = Sweep.load(config)
    _, report, _ = steps_before_fit(sweep)
    return run_fit(sweep, report, log=lambda m: None)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:field calibration")
def test_the_head_scanner_centre_line_fits_alike_in_the_original_and_the_repeat(tmp_path):
    if not (SHARED_DATA / HEAD).is_dir():
        pytest.skip(f"needs ../shared/data/{HEAD} (real data from another project, not shipped)")
    found = {}
    for name, frames, repeat, failed in (("original", "systemMatrixNew.h5", "test_systemMatrixNew.h5", [29]),
                                         ("repeat", "test_systemMatrixNew.h5", "systemMatrixNew.h5", [])):
        summary = fit_centre_line(tmp_path / name, frames, repeat, failed)
        fields = summary["fields"]
        assert fields["status"] == "calibrated"
        assert fields["M3"]["eps_global"] < 0.07 < 0.2 < fields["eps_global_stated"]  # the target: 0.07
        found[name] = {q["name"]: q["fitted"] for q in fields["parameters"]}
        tf = summary["transfer_function"]
        assert tf["status"] == "fitted" and tf["fields"] == "the fitted fields"
        assert len(tf["candidates"]) == 6 and "M1" not in tf  # 3 file channels × moment, rate; no dictionary scan
        best = tf["candidates"][0]
        assert (best["channels"], best["applied_to"]) == ([0], "rate")
        # at the fitted fields the file explains harmonics 3-9 within 15 % (the free gains over the file's)
        assert np.allclose(tf["free_over_measured"][1:8], 1, atol=0.15)
    original, repeat = found["original"], found["repeat"]
    assert 0.65 < original["offset x"] < 0.75 and 0.25 < original["centre x"] < 0.45  # G ≈ 0.125 T/m; mT
    assert original["sensitivity curvature x"] < -0.2  # the receive coil sees less at the line's ends
    for name, value in original.items():  # the repeat finds the same geometry
        assert repeat[name] == pytest.approx(value, abs=0.02 if name == "offset x" else 0.05), name
