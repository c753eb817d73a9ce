"""Model M2 (paper eqs. 12, 13, 16–18): TSVD-regularised non-negative weights over (D, K)."""

from __future__ import annotations

import numpy as np
import scipy.linalg
from scipy.linalg import blas as _blas

from .inputs import CHUNK_BYTES, as_index
from .metrics import epsilon_freq, epsilon_global, row_error, transfer_function
from .results import FitM2Result
from .weighted import model_rows, truncated_nnls, weighted_fit


def fit_m2(measured, dictionary, bins, ranks=(1.0,), *, svd: str = "complex", rows=None,
           chunk_bytes: int = CHUNK_BYTES, maxiter: int | None = None) -> FitM2Result:
    """Model M2 (paper eqs. 12, 13, 16–18): TSVD-regularised non-negative weights over (D, K).

    Step 1 (eq. 12): Ψ_q = â_q Φ_q for every q = (D, K, ϑ), â_q fitted per (channel, k) as in
    M1. Step 2 (eqs. 16/17): the weighted rows Σ_ϑ Ψ_q (Σ_ϑ = diag 1/‖S_ϑ,k‖∞ per angle,
    channel and k) are stacked over angles, channels, evaluation bins and offsets into the
    columns of M (M rows × J = nD·nK columns), y = stacked Σ_ϑ S_ϑ, and
    min_{w ≥ 0} ‖U_sᴴ M w − U_sᴴ y‖² is solved for each rank s (eq. 18).

    Parameters
    ----------
    measured : array_like or xarray.DataArray
        Complex measured rows (angle, channel, frequency, offset).
    dictionary : array_like or xarray.DataArray
        Complex model rows (diameter, anisotropy, angle, channel, frequency, offset).
    bins : array_like of int
        The evaluation rfft bins.
    ranks : sequence of int or float
        TSVD ranks: counts (int, 1..J) and/or fractions of J = nD·nK (float in (0, 1];
        s = ⌊fraction·J⌋ ≥ 1, which reproduces the paper's Table 1: 100 % → 720, 4 % → 28,
        0.5 % → 3 for J = 720).
    svd : {"complex", "real"}
        "complex" (the paper): SVD of the complex M, then the real-weight problem
        ‖[Re; Im](U_sᴴ M w − U_sᴴ y)‖², i.e. the paper's QP with A = Re(M_sᴴ M_s); "real": SVD of
        the real stacked matrix [Re M; Im M]. Both give the unregularised solution at full rank.
    chunk_bytes : int
        Read the dictionary in blocks of about this size.
    maxiter : int, optional
        Iteration limit of the non-negative least squares (default 50·J).
    rows : numpy.ndarray of bool, optional
        (channel, frequency): the rows the fit uses (None: all); the others get weight 0 in Σ_ϑ, and ε
        averages over the used rows.

    Returns
    -------
    ~mpisweep.fitting.results.FitM2Result
        Weights over (D, K), model rows and errors, one slice per rank.

    Notes
    -----
    Implementation choices (documented here because the paper leaves them open):

    * The SVD is obtained from the Gram matrix G = MᴴM (accumulated block-wise with zherk,
      never forming M): G = V Σ² Vᴴ gives U_sᴴ M = Σ_s V_sᴴ and U_sᴴ y = Σ_s⁻¹ V_sᴴ (Mᴴ y).
      This has the accuracy of the paper's normal-equation QP; singular values below
      √(J·eps)·σ_max are not resolvable this way and are dropped (``effective_ranks``).
    * The non-negative least-squares problem is solved with scipy.optimize.nnls (active set)
      instead of the paper's interior-point QP solver: same convex problem, same minimiser.
    * The model rows are Σ_q w_q Ψ_q with the per-entry transfer functions of step 1; no
      transfer function is refitted after weighting (the paper evaluates eq. 13 as is).
      ε_global of that model equals ‖M w − y‖ / √(N · #rows) (rows with ‖S‖∞ > 0).
    * Measured rows that are identically zero get weight 0 in Σ_ϑ.
    """
    if svd not in ("complex", "real"):
        raise ValueError(f"svd: expected 'complex' or 'real', got {svd!r}")
    fit = weighted_fit(measured, dictionary, bins, ranks, rows)
    dic, S, wrow, pos = fit.dic, fit.S, fit.rho, fit.pos
    n_a, n_c, n_f, n = S.shape
    n_d, n_k = fit.shape
    J = fit.n_entries
    f_per = max(1, int(chunk_bytes) // (16 * J * n))
    fblocks = [slice(f0, min(n_f, f0 + f_per)) for f0 in range(0, n_f, f_per)]

    # pass 1: transfer functions â_q (J, A, C, F) and the Gram matrix G = MᴴM, h = Mᴴy of the
    # weighted rows, block by block over (angle, channel, bins) without forming M
    ahat = np.zeros((J, n_a, n_c, n_f), dtype=np.complex128)
    G = np.zeros((J, J), dtype=np.complex128, order="F")
    h = np.zeros(J, dtype=np.complex128)
    valid = np.ones(J, dtype=bool)
    for ia in range(n_a):
        for ic in range(n_c):
            for fsl in fblocks:
                phi = dic.read(angle=ia, channel=ic, frequency=as_index(pos[fsl])).reshape(J, -1, n)
                ah = transfer_function(S[ia, ic, fsl], phi)  # (J, f); NaN for non-finite rows
                ok = np.isfinite(ah).all(axis=1)
                valid &= ok
                ah[~ok] = 0.0
                ahat[:, ia, ic, fsl] = ah
                with np.errstate(invalid="ignore"):  # 0·inf in excluded entries
                    x = (ah * wrow[ia, ic, fsl])[..., None] * phi  # Σ_ϑ Ψ_q rows
                x[~ok] = 0.0
                x = x.reshape(J, -1)
                y = (S[ia, ic, fsl] * wrow[ia, ic, fsl, None]).ravel()
                G = _blas.zherk(1.0, x.T, beta=1.0, c=G, trans=2, overwrite_c=1)  # G += xᴴx (upper)
                h += np.vecdot(x, y)
    G = np.triu(G) + np.triu(G, 1).conj().T  # zherk fills the upper triangle only
    G[~valid, :] = 0.0
    G[:, ~valid] = 0.0
    h[~valid] = 0.0
    ahat[~valid] = 0.0

    # TSVD via the eigen-decomposition of the Gram matrix
    if svd == "complex":
        lam, V = scipy.linalg.eigh(G)
        hv = h
    else:
        lam, V = scipy.linalg.eigh(G.real)
        hv = h.real
    lam, V = lam[::-1], V[:, ::-1]
    W = np.zeros((len(fit.ranks), J))
    eff = np.zeros(len(fit.ranks), dtype=int)
    for r, rank in enumerate(fit.ranks):
        W[r], eff[r] = truncated_nnls(lam, V, hv, rank, valid, maxiter)

    # pass 2: model system matrices Σ_q w_q Ψ_q per rank, reading only entries with weight > 0
    model = model_rows(fit, W, entry_transfer=ahat, chunk_bytes=chunk_bytes)
    eps = row_error(S, model)
    ef = epsilon_freq(eps, rows=fit.rows)
    return FitM2Result(
        bins=fit.bins, orders=fit.orders, angles=fit.angles, channels=fit.channels,
        diameters=dic.coord("diameter"), anisotropies=dic.coord("anisotropy"), parameter=dic.alias["anisotropy"],
        svd=svd,
        requested=fit.requested, ranks=np.array(fit.ranks), effective_ranks=eff,
        weights=W.reshape(-1, n_d, n_k), model=model, eps=eps, eps_freq=ef,
        eps_global=epsilon_global(ef), singular_values=np.sqrt(np.clip(lam, 0.0, None)),
        excluded=~valid.reshape(n_d, n_k),
    )
