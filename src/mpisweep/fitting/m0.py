"""Model M0 (paper eq. 7): the equilibrium (Langevin) dictionary, best diameter by ε_global."""

from __future__ import annotations

import numpy as np

from .inputs import (
    CHUNK_BYTES,
    DICTIONARY_M0_DIMS,
    MEASURED_DIMS,
    Input,
    check_match,
    measured_rows,
    row_mask,
    select_bins,
)
from .metrics import epsilon_freq, epsilon_global, row_error, transfer_function
from .results import FitM0Result, py_value


def fit_m0(measured, dictionary_m0, bins, *, rows=None) -> FitM0Result:
    """Model M0 (paper eq. 7): best diameter of the equilibrium dictionary by ε_global.

    For every diameter D and every (angle, channel, k) the transfer function â is fitted in
    closed form (eq. 15) against the angle-independent row Φ_D,k; the diameter with the
    smallest ε_global (eq. 22) wins.

    Parameters
    ----------
    measured : array_like or xarray.DataArray
        Complex measured rows (angle, channel, frequency, offset), ``offset`` the flattened grid.
    dictionary_m0 : array_like or xarray.DataArray
        Complex Langevin rows (diameter, channel, frequency, offset), e.g. ``m0.zarr``'s.
    bins : array_like of int
        The evaluation rfft bins, in the order of the frequency axis.
    rows : numpy.ndarray of bool, optional
        (channel, frequency): the rows the fit uses (None: all); ε_freq and ε_global average over them.

    Returns
    -------
    ~mpisweep.fitting.results.FitM0Result
        ε_global per diameter, the best diameter and its transfer functions and errors.
    """
    k, orders = select_bins(bins)
    meas = Input(measured, "measured", MEASURED_DIMS)
    dic = Input(dictionary_m0, "dictionary_m0", DICTIONARY_M0_DIMS)
    check_match(meas, dic, ("channel", "offset"))
    S = measured_rows(meas, k)  # (A, C, F, N)
    n_d = dic.size["diameter"]
    a, c, f, n = S.shape
    rows = row_mask(rows, c, f)
    per = max(1, CHUNK_BYTES // (16 * a * c * f * n))
    eg = np.empty(n_d)
    pos = dic.freq_positions(k)
    for d0 in range(0, n_d, per):
        phi = dic.read(diameter=slice(d0, min(n_d, d0 + per)), frequency=pos)[:, None]  # (d,1,C,F,N)
        model = transfer_function(S, phi)[..., None] * phi
        e = row_error(S, model)
        e[~np.isfinite(e)] = np.nan
        eg[d0:d0 + per] = epsilon_global(epsilon_freq(e, rows=rows))
    if np.isnan(eg).all():
        raise ValueError("dictionary_m0: no diameter gives a finite error")
    best = int(np.nanargmin(eg))
    phi = dic.read(diameter=best, frequency=pos)  # (C, F, N)
    transfer = transfer_function(S, phi)
    model = transfer[..., None] * phi
    eps = row_error(S, model)
    ef = epsilon_freq(eps, rows=rows)
    diam = dic.coord("diameter")
    return FitM0Result(
        bins=k, orders=orders, angles=meas.coords.get("angle", np.arange(a)),
        channels=meas.coords.get("channel", dic.coord("channel")),
        diameters=diam, eps_global=eg, best_index=best, best_diameter=py_value(diam[best]),
        transfer=transfer, model=model, eps=eps, eps_freq=ef, eps_global_best=float(epsilon_global(ef)),
    )
