"""The position map a calibration states (offset = centre + G·position): broken maps are refused, naming the file."""

import numpy as np
import pytest

from mpisweep.errors import MDFError
from mpisweep.io.mdf.position_map import position_map


def grid():
    """An 11 × 11 FFP calibration: positions in m, offsets in T, gradient (−2, −1, 0) T/m."""
    x, y = np.meshgrid(np.linspace(-0.01, 0.01, 11), np.linspace(-0.01, 0.01, 11))
    positions = np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], axis=1)
    return positions, positions * np.array([-2.0, -1.0, 0.0]) + np.array([0.0, 0.0, 0.0])


def test_a_linear_map_is_read():
    pmap = position_map(*grid())
    assert pmap.gradient == pytest.approx([-2.0, -1.0, 0.0]) and pmap.residual < 1e-15


@pytest.mark.parametrize("which", ["positions", "offsetFields"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_a_non_finite_entry_is_refused_naming_the_file_entry_and_axis(which, value):
    positions, offsets = grid()
    (positions if which == "positions" else offsets)[17, 1] = value
    with pytest.raises(MDFError, match=rf"cal.mdf: /calibration/{which} holds {value} at entry 17, axis y"):
        position_map(positions, offsets, where="cal.mdf")


def test_a_gradient_on_an_axis_the_grid_does_not_span_maps_nothing():
    """orientation.gradient [-1, -1, -1] on an x-y grid: z has one offset, hence one position (the files' own map
    has 0 there, so the two agree instead of contradicting each other)."""
    from mpisweep.sweep import Sweep
    from mpisweep.sweep.geometry import configured_map

    cfg = {"grids": {"diameters": [20], "anisotropies": [1000], "angles": [0]},
           "orientation": {"gradient": [-1.0, -1.0, -1.0]}}
    pmap = configured_map(Sweep.load(cfg))
    assert list(pmap.gradient) == [-1.0, -1.0, 0.0]
