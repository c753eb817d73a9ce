"""Transfer-function fit and error measures of Albers et al. 2022 (paper eqs. 15, 20–22).

Conventions (shared with :mod:`mpisweep.fitting`):

* A *row* is one system-matrix row over the N offsets (the last axis of every array).
* The complex inner product is ⟨S, Φ⟩ = Σ_ν S_ν · conj(Φ_ν) (paper eq. 15).
* All functions broadcast over the leading axes and never emit NaN/divide warnings:
  zero rows are handled explicitly (see each docstring); NaN input propagates as NaN.
"""

from __future__ import annotations

import numpy as np

__all__ = ["transfer_function", "row_error", "epsilon_freq", "epsilon_global"]


def _rows(x, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim < 1 or a.shape[-1] == 0:
        raise ValueError(f"{name}: expected an array with a non-empty last (offset) axis, got shape {a.shape}")
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"{name}: expected a numeric array, got dtype {a.dtype}")
    return a


def _check_pair(a: np.ndarray, b: np.ndarray, na: str, nb: str) -> tuple[int, ...]:
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"{nb}: last (offset) axis has {b.shape[-1]} entries but {na} has {a.shape[-1]}"
        )
    try:
        return np.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    except ValueError:
        raise ValueError(
            f"{na} {a.shape} and {nb} {b.shape}: leading axes do not broadcast"
        ) from None


def transfer_function(S, Phi) -> np.ndarray:
    """Closed-form complex least-squares transfer function per row (paper eq. 15).

    â = argmin_a ‖S − a·Φ‖₂ = Σ_ν S_ν conj(Φ_ν) / Σ_ν |Φ_ν|², taken over the last axis.

    Parameters
    ----------
    S : array (..., N)
        Measured rows.
    Phi : array (..., N)
        Dictionary rows; leading axes broadcast against those of ``S``.

    Returns
    -------
    complex array with the broadcast leading shape. A dictionary row that is identically
    zero gets â = 0 (its model row is zero whatever â is); a row containing NaN gives NaN.
    """
    S = _rows(S, "S")
    Phi = _rows(Phi, "Phi")
    shape = _check_pair(S, Phi, "S", "Phi")
    with np.errstate(invalid="ignore", over="ignore"):  # inf/NaN input → NaN output, quietly
        num = np.vecdot(Phi, S).astype(np.complex128, copy=False)  # Σ conj(Φ)·S
        den = np.vecdot(Phi, Phi).real  # Σ |Φ|²
        out = np.zeros(shape, dtype=np.complex128)
        np.divide(num, den, out=out, where=den != 0)
    return out


def row_error(S, model) -> np.ndarray:
    """Per-row NRMSE ε = ‖S − model‖₂ / (√N · ‖S‖∞) over the last axis (paper eq. 20).

    Parameters
    ----------
    S : array (..., N)
        Measured (calibration) rows; the normalisation uses these.
    model : array (..., N)
        Model rows; leading axes broadcast against those of ``S``.

    Returns
    -------
    float array with the broadcast leading shape. A measured row that is identically zero
    has no scale: ε = 0 if the model row is zero as well, +inf otherwise (no warning).
    """
    S = _rows(S, "S")
    model = _rows(model, "model")
    shape = _check_pair(S, model, "S", "model")
    n = S.shape[-1]
    with np.errstate(invalid="ignore", over="ignore"):
        diff = S - model
        num = np.sqrt(np.vecdot(diff, diff).real)
    num = np.broadcast_to(num, shape)
    den = np.broadcast_to(np.sqrt(n) * np.abs(S).max(axis=-1), shape)
    out = np.where(num == 0, 0.0, np.where(np.isnan(num), np.nan, np.inf))
    np.divide(num, den, out=out, where=den > 0)
    return out


def epsilon_freq(eps, axis=(-3, -2), rows=None) -> np.ndarray:
    """Per-frequency NRMSE: root mean square of ε over angles and receive channels (eq. 21).

    ``eps`` has (..., angle, channel, frequency) layout by default; ``axis`` names the axes
    that are averaged. The paper writes eq. 21 for one channel and adds that "the quadratic
    sums have been additionally performed along the receive channel dimension"; we read this
    as a *mean* over the |P_angle|·|channels| squares (a plain RMS), so that ε_freq of a
    one-channel and of a two-channel system are on the same scale. ``rows``: a boolean
    (channel, frequency) mask of the rows the fit uses (None: all); the mean is over those (with the
    default ``axis`` only), NaN at a frequency without any.
    """
    e = np.asarray(eps, dtype=float)
    if rows is not None:
        used = np.broadcast_to(np.asarray(rows, bool), e.shape[-2:])
        count = e.shape[-3] * used.sum(axis=0)
        total = np.where(used, np.square(e), 0.0).sum(axis=(-3, -2))
        out = np.full(total.shape, np.nan)
        np.divide(total, count, out=out, where=np.broadcast_to(count, total.shape) > 0)
        return np.sqrt(out)
    try:
        return np.sqrt(np.mean(np.square(e), axis=axis))
    except np.exceptions.AxisError:
        raise ValueError(
            f"eps: shape {e.shape} has no axes {axis} (expected (..., angle, channel, frequency))"
        ) from None


def epsilon_global(eps_freq, axis=-1) -> np.ndarray:
    """Global NRMSE: root mean square of ε_freq over the evaluation frequency set (eq. 22).

    ``eps_freq`` holds the values for the evaluation frequencies only (last axis by default).
    Returns a float (0-d array) for 1-D input.
    """
    e = np.asarray(eps_freq, dtype=float)
    if e.ndim == 0 or e.size == 0:
        raise ValueError(f"eps_freq: expected a non-empty array with a frequency axis, got shape {e.shape}")
    try:
        return np.sqrt(np.mean(np.square(e), axis=axis))
    except np.exceptions.AxisError:
        raise ValueError(f"eps_freq: shape {e.shape} has no axis {axis}") from None
