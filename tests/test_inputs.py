"""Physics inputs: derived particle quantities, the Lissajous field, validation messages."""

import math

import numpy as np
import pytest

from mpisweep.physics.excitation import Excitation
from mpisweep.physics.params import KB, Particle


def test_particle_derived_quantities():
    p = Particle(22e-9, 1100.0)
    volume = math.pi * (22e-9) ** 3 / 6
    assert p.volume == pytest.approx(volume, rel=1e-15)
    assert p.moment == pytest.approx(474_000 * volume)
    assert p.sigma == pytest.approx(1100 * volume / (KB * 293))
    g = 1.75e11 / 1.01
    assert p.tau == pytest.approx(volume * 474_000 / (2 * KB * 293 * g * 0.1))
    p1, p2, p3, p4 = p.p
    assert (p1, p2) == pytest.approx((g, 0.1 * g)) and p3 == pytest.approx(2 * g * 1100 / 474_000)
    assert p4 == pytest.approx(0.1 * p3)


@pytest.mark.parametrize("field,value", [("diameter", -1e-9), ("anisotropy", -1.0), ("ms", 0.0),
                                         ("alpha", float("nan")), ("temperature", -3.0)])
def test_particle_rejects_unphysical_values(field, value):
    kwargs = {"diameter": 20e-9, field: value}
    with pytest.raises(ValueError, match=field):
        Particle(**kwargs)


def test_bruker_lissajous_cycle():
    ex = Excitation.bruker(offset=(5e-3, -3e-3))
    assert ex.period == pytest.approx(652.8e-6)
    assert ex.samples == 1632
    np.testing.assert_allclose(ex.frequencies, [2.5e6 / 102, 2.5e6 / 96])
    np.testing.assert_allclose(ex.field(0.0), [12.59e-3 + 5e-3, 13.55e-3 - 3e-3, 0.0])
    t = ex.times[:50]
    h = 1e-10
    np.testing.assert_allclose(ex.field_rate(t), (ex.field(t + h) - ex.field(t - h)) / (2 * h), rtol=1e-5, atol=1e-3)
    assert ex.max_field() == pytest.approx(math.hypot(17.59e-3, 16.55e-3), rel=1e-3)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"amplitudes": (1e-3, 1e-3), "dividers": (102,)}, "dividers"),
        ({"amplitudes": (1e-3,), "dividers": (0,)}, "dividers"),
        ({"amplitudes": (1e-3,), "dividers": (10,), "samples": 0}, "samples"),
        ({"amplitudes": (1e-3,), "dividers": (10,), "offset": (1.0,)}, "offset"),
        ({"amplitudes": (1e-3,), "dividers": (10,), "base_frequency": -1.0}, "base_frequency"),
        ({"amplitudes": (1e-3,), "dividers": (10,), "phases": (0.0, 1.0)}, "phases"),
    ],
)
def test_excitation_rejects_bad_values_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Excitation(**kwargs)
