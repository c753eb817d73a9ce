"""Model M0a: the anisotropic-equilibrium dictionary, fitted like M1 (best (D, K) by ε_global)."""

from __future__ import annotations

from dataclasses import fields

from .inputs import CHUNK_BYTES
from .m1 import fit_m1
from .results import FitM0aResult


def fit_m0a(measured, dictionary_m0a, bins, *, rows=None, chunk_bytes: int = CHUNK_BYTES) -> FitM0aResult:
    """Model M0a: best (D, K) of the static Boltzmann-equilibrium dictionary by ε_global (eq. 22).

    The rows are those of the stationary solution f ∝ exp(ξ h·m + σ (n·m)²) of the Fokker–Planck
    eq. 4, followed instantaneously (no relaxation); the fit is that of M1 (eqs. 14, 15: a closed-form
    transfer function per angle, channel and k, see :func:`mpisweep.fitting.fit_m1`) on this
    dictionary, in the same (diameter, anisotropy, angle, channel, frequency, offset) layout.

    Parameters
    ----------
    measured : array_like or xarray.DataArray
        Complex measured rows (angle, channel, frequency, offset).
    dictionary_m0a : array_like or xarray.DataArray
        Complex equilibrium rows (diameter, anisotropy, angle, channel, frequency, offset), e.g.
        ``m0a.zarr``'s.
    bins : array_like of int
        The evaluation rfft bins.
    rows : numpy.ndarray of bool, optional
        (channel, frequency): the rows the fit uses (None: all).
    chunk_bytes : int
        Read the dictionary in blocks of about this size.

    Returns
    -------
    ~mpisweep.fitting.results.FitM0aResult
        As :class:`~mpisweep.fitting.results.FitM1Result`.
    """
    r = fit_m1(measured, dictionary_m0a, bins, rows=rows, chunk_bytes=chunk_bytes)
    return FitM0aResult(**{f.name: getattr(r, f.name) for f in fields(r)})
