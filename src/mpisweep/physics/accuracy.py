"""The accuracy contract on the system-matrix rows: a dynamic range in dB and the tolerance it needs.

A set of rows φ_k (the DFT of d⟨m⟩/dt, paper eq. 8; :func:`mpisweep.spectrum`) *holds* a dynamic
range of R dB when every row whose amplitude is above 10^(−R/20) of the largest row is within 1 %
(complex, relative) of a converged reference. :func:`rtol_for_range` is the integrator tolerance
that holds R dB; :func:`held_range` measures the range a set of rows holds.

The rule rtol = c·s(σ)·10^(−R/20) was measured with ``benchmarks/row_accuracy.py``: the 1D drive
of 5 mT at 25.7 kHz (offset 0 and 3 mT) and the Bruker 2D drive (offsets (0, 0) and (8.61, −5.88)
mT), Néel particles of σ 1.0-14.2 and a Brownian one, rtol 1e-4 … 1e-8 at the automatic degree
against rtol 1e-10 at the degree + 6 (itself within 1.2e-3 of rtol 1e-11, degree + 8, twice the
warm-up). The range held grows by ~20 dB per decade of rtol, and the error per unit rtol grows with
σ by the default rtol's law σ^2.2. The weak 1D drive sets c: its smallest value was 4.2e-3 (Néel
22 nm, 3000 J/m³, 3 mT); on the 2D drive c ≥ 1.9e-2, so there the rule's rtol is 19-400× tighter
than needed. RTOL_PER_AMPLITUDE = 1e-3 keeps a factor 4 below the smallest c; at it all 14 cases held
each of 40, 60 and 80 dB. Truncation at the automatic degree held ≥ 96 dB in every case, so the
degree needs no change for ranges up to 80 dB.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError

#: relative error every row above the range must stay within
ROW_TOLERANCE = 0.01
#: c of rtol = c·s(σ)·10^(−R/20): the smallest measured c (4.2e-3, 1D drive) over a safety factor of 4
RTOL_PER_AMPLITUDE = 1e-3
#: s(σ) is flat below 1.5 and above 15 (1D drive, σ 15.9 and 25.6: c 7.5e-3 and 0.1)
SIGMA_FLOOR, SIGMA_CAP = 1.5, 15.0
#: the loosest tolerance the rule returns (the ⟨m⟩ budget's default for low σ)
LOOSEST_RTOL = 1e-4


def sigma_factor(sigma: float) -> float:
    """s(σ) = (σ/1.5)^−2.2 for σ in [1.5, 15], 1 below, 10^−2.2 above: the growth of the global
    error per unit rtol with the anisotropy barrier (Brownian particles: σ = 0)."""
    return float((min(max(sigma, SIGMA_FLOOR), SIGMA_CAP) / SIGMA_FLOOR) ** -2.2)


def rtol_for_range(range_db: float, sigma: float = 0.0) -> float:
    """The relative tolerance that keeps every row above −`range_db` dB of the largest within 1 %.

    Parameters
    ----------
    range_db : float
        Dynamic range R in dB below the largest row (40 dB: rows down to 1 % of the largest).
    sigma : float
        The particle's anisotropy barrier σ = KV/(k_B T) (0 for a Brownian particle).

    Returns
    -------
    float
        min(1e-4, 1e-3·s(σ)·10^(−R/20)): 1e-5, 1e-6, 1e-7 at 40, 60, 80 dB for σ ≤ 1.5.
    """
    if not (isinstance(range_db, (int, float)) and math.isfinite(range_db) and range_db > 0):
        raise ConfigError(f"dynamic_range_db: must be a positive, finite number of dB, got {range_db!r}")
    return float(min(LOOSEST_RTOL, RTOL_PER_AMPLITUDE * sigma_factor(sigma) * 10.0 ** (-range_db / 20.0)))


def row_errors(rows, reference) -> tuple[np.ndarray, np.ndarray]:
    """Relative amplitude (to the largest reference row) and relative complex error of every row.

    Parameters
    ----------
    rows, reference : array_like
        Complex rows of the same shape (channels × bins, …); leave the DC bin out.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        |φ_ref| / max|φ_ref| and |φ − φ_ref| / |φ_ref| (inf where φ_ref = 0), both flattened.
    """
    rows = np.asarray(rows).ravel()
    reference = np.asarray(reference).ravel()
    if rows.shape != reference.shape:
        raise ValueError(f"rows: shape {rows.shape} does not match the reference's {reference.shape}")
    size = np.abs(reference)
    if not size.max() > 0:
        raise ValueError("reference: every row is zero, so no dynamic range is defined")
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.where(size > 0, np.abs(rows - reference) / size, np.inf)
    return size / size.max(), error


def held_range(rows, reference, tolerance: float = ROW_TOLERANCE) -> float:
    """The dynamic range in dB that `rows` hold against `reference`: every row above it is within
    `tolerance`; inf when every non-zero row is."""
    amplitude, error = row_errors(rows, reference)
    bad = amplitude[error > tolerance]
    return math.inf if bad.size == 0 or bad.max() == 0 else float(-20.0 * np.log10(bad.max()))
