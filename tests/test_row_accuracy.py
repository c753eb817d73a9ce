"""The accuracy contract on the rows: at rtol_for_range(R) every row above −R dB is within 1 %."""

import math

import numpy as np
import pytest

from mpisweep.errors import MpisweepError
from mpisweep.physics.accuracy import held_range, row_errors, rtol_for_range, sigma_factor
from mpisweep.physics.excitation import Excitation
from mpisweep.physics.params import Particle
from mpisweep.physics.solver import auto_degree, solve
from mpisweep.physics.spectra import spectrum

# The head-scanner file's 1D drive (5 mT, 125 MHz/4864 ≈ 25.7 kHz, 152 samples) with a 3 mT offset:
# the case where the default tolerance loses harmonics 8-11 (rows at −50 to −95 dB).
PARTICLE = Particle(20e-9, 1000.0)
DRIVE = Excitation((5e-3,), (4864,), 125e6, offset=(3e-3, 0.0, 0.0), samples=152)


def rows(**options):
    result = solve(PARTICLE, DRIVE, (1.0, 0.0, 0.0), check=False, **options)
    return spectrum(result.rate, (0,))[:, 1:]


@pytest.fixture(scope="module")
def reference():
    return rows(degree=auto_degree(PARTICLE, DRIVE.max_field()) + 6, rtol=1e-10)


def test_rows_hold_60_db_at_the_rule(reference):
    amplitude, _ = row_errors(reference, reference)
    assert np.sum(amplitude > 1e-3) >= 8  # the contract covers many harmonics, not just the first
    assert held_range(rows(rtol=rtol_for_range(60.0, PARTICLE.sigma)), reference) >= 60.0


def test_a_loose_tolerance_breaks_the_contract(reference):
    # rtol 1e-4 (this particle's default for ⟨m⟩) leaves a harmonic above −60 dB more than 1 % off
    assert held_range(rows(rtol=1e-4), reference) < 60.0


def test_held_range_reads_the_largest_failing_row():
    ref = np.array([1.0, 1e-2, 1e-4j, 1e-6])
    assert held_range(ref, ref) == math.inf
    off = ref * np.array([1.0, 1.0, 1.05, 2.0])  # the −80 dB row 5 % off, the −120 dB row 100 %
    assert held_range(off, ref) == pytest.approx(80.0)
    assert held_range(off, ref, tolerance=0.1) == pytest.approx(120.0)


def test_rule_tightens_with_range_and_barrier():
    assert rtol_for_range(60.0) == pytest.approx(rtol_for_range(40.0) / 10)
    assert rtol_for_range(80.0, sigma=9.0) < rtol_for_range(80.0, sigma=1.0)
    assert sigma_factor(0.0) == sigma_factor(1.5) == 1.0
    assert rtol_for_range(1.0) == 1e-4  # never looser than the ⟨m⟩ default of low σ
    for bad in (0.0, -20.0, math.nan, math.inf):
        with pytest.raises(MpisweepError, match="dynamic_range_db"):
            rtol_for_range(bad)
