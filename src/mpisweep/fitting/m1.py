"""Model M1 (paper eqs. 10, 14, 15): the monodisperse Néel dictionary, best (D, K) by ε_global."""

from __future__ import annotations

import numpy as np

from .inputs import CHUNK_BYTES, dictionary_inputs, entry_blocks, row_mask
from .metrics import epsilon_freq, epsilon_global, row_error, transfer_function
from .results import FitM1Result, py_value


def fit_m1(measured, dictionary, bins, *, rows=None, chunk_bytes: int = CHUNK_BYTES) -> FitM1Result:
    """Model M1 (paper eqs. 10, 14, 15): best monodisperse (D, K) by ε_global.

    For every entry (D, K) and every (angle ϑ, channel, k) the transfer function is fitted
    in closed form against Φ_(D,K,ϑ),k (so â depends on the angle, as in the paper); the
    residual is evaluated as ‖S‖² − |⟨S,Φ⟩|²/‖Φ‖² without forming the model rows, which
    makes one pass over the dictionary with two vector dot products per row. The dictionary
    is read in blocks of about ``chunk_bytes`` (diameter, then anisotropy slices). The best
    entry is then re-evaluated with explicit residuals.

    Parameters
    ----------
    measured : array_like or xarray.DataArray
        Complex measured rows (angle, channel, frequency, offset), ``offset`` the flattened grid.
    dictionary : array_like or xarray.DataArray
        Complex model rows (diameter, anisotropy, angle, channel, frequency, offset); a Brownian
        dictionary has ``hydrodynamic_diameter`` as its second axis. Entries with NaN (blocks never
        simulated) are never selected.
    bins : array_like of int
        The evaluation rfft bins, in the order of the frequency axis.
    rows : numpy.ndarray of bool, optional
        (channel, frequency): the rows the fit uses (None: all); ε averages over them.
    chunk_bytes : int
        Read the dictionary in blocks of about this size.

    Returns
    -------
    ~mpisweep.fitting.results.FitM1Result
        The ε_global map over (D, K), the best entry, its transfer functions, model rows and errors.
    """
    k, orders, meas, dic, S, angles, channels = dictionary_inputs(measured, dictionary, bins)
    a, c, f, n = S.shape
    rows = row_mask(rows, c, f)
    used = np.ones((c, f), bool) if rows is None else rows
    s2 = np.vecdot(S, S).real
    sinf = np.abs(S).max(axis=-1)
    inv = np.zeros_like(sinf)
    np.divide(1.0, n * sinf**2, out=inv, where=sinf > 0)  # zero measured rows: ε = 0
    inv[:, ~used] = 0.0  # rows left out
    n_d, n_k = dic.size["diameter"], dic.size["anisotropy"]
    pos = dic.freq_positions(k)
    emap = np.empty((n_d, n_k))
    for dsl, ksl in entry_blocks(n_d, n_k, 16 * a * c * f * n, chunk_bytes):
        phi = dic.read(diameter=dsl, anisotropy=ksl, frequency=pos)  # (d, k, A, C, F, N)
        with np.errstate(invalid="ignore", over="ignore"):  # non-finite entries → NaN
            cross = np.vecdot(phi, S)  # Σ conj(Φ) S
            p = np.vecdot(phi, phi).real
            del phi
            q = np.zeros_like(p)
            np.divide(cross.real**2 + cross.imag**2, p, out=q, where=p != 0)
            e2 = np.maximum(s2 - q, 0.0) * inv
        emap[dsl, ksl] = np.sqrt(e2.sum(axis=(-3, -2, -1)) / (a * used.sum()))
    emap[~np.isfinite(emap)] = np.nan
    if np.isnan(emap).all():
        raise ValueError("dictionary: no (diameter, anisotropy) entry gives a finite error")
    bi, bk = np.unravel_index(int(np.nanargmin(emap)), emap.shape)
    phi = dic.read(diameter=int(bi), anisotropy=int(bk), frequency=pos)  # (A, C, F, N)
    transfer = transfer_function(S, phi)
    model = transfer[..., None] * phi
    eps = row_error(S, model)
    ef = epsilon_freq(eps, rows=rows)
    diam, anis = dic.coord("diameter"), dic.coord("anisotropy")
    return FitM1Result(
        bins=k, orders=orders, angles=angles, channels=channels,
        diameters=diam, anisotropies=anis, parameter=dic.alias["anisotropy"], eps_global=emap,
        best_index=(int(bi), int(bk)),
        best_diameter=py_value(diam[bi]), best_anisotropy=py_value(anis[bk]),
        transfer=transfer, model=model, eps=eps, eps_freq=ef, eps_global_best=float(epsilon_global(ef)),
    )
