"""Model M3, the "natural extension of M2" of the paper's §4 (Discussion and Outlook): one transfer
function per receive channel and frequency, shared by all dictionary entries and angles, fitted jointly
with non-negative weights over (D, K)."""

from __future__ import annotations

import numpy as np
import scipy.linalg

from .inputs import CHUNK_BYTES, as_index
from .metrics import epsilon_freq, epsilon_global, row_error
from .results import FitM3Result
from .weighted import model_rows, truncated_nnls, weighted_fit


def normal_equations(S, dic, pos, rho, chunk_bytes: int = CHUNK_BYTES):
    """The one pass over the dictionary: R (C, F, J, J), b (C, F, J), s (C, F), valid (J,).

    With ρ_ϑck = 1/‖S_ϑck‖∞ (paper eq. 16's Σ_ϑ) and Φ_ϑck the (N × J) matrix of dictionary rows:
    R_ck = Σ_ϑ ρ² Re(Φᴴ Φ) (real: the weights are real), b_ck = Σ_ϑ ρ² Φᴴ S, s_ck = Σ_ϑ ρ² ‖S‖².
    Entries with a non-finite value anywhere are marked invalid and get zero rows and columns.
    """
    n_a, n_c, n_f, n = S.shape
    J = dic.size["diameter"] * dic.size["anisotropy"]
    f_per = max(1, int(chunk_bytes) // (16 * J * n))
    R = np.zeros((n_c, n_f, J, J))
    b = np.zeros((n_c, n_f, J), dtype=np.complex128)
    valid = np.ones(J, dtype=bool)
    rho2 = rho**2
    s = np.einsum("acf,acf->cf", rho2, np.vecdot(S, S).real)
    for ia in range(n_a):
        for ic in range(n_c):
            for f0 in range(0, n_f, f_per):
                fsl = slice(f0, min(n_f, f0 + f_per))
                phi = dic.read(angle=ia, channel=ic, frequency=as_index(pos[fsl])).reshape(J, -1, n)
                ok = np.isfinite(phi).all(axis=(1, 2))
                valid &= ok
                phi = np.where(ok[:, None, None], phi, 0.0)
                x = np.concatenate([phi.real, phi.imag], axis=-1).transpose(1, 0, 2)  # (f, J, 2N)
                R[ic, fsl] += rho2[ia, ic, fsl, None, None] * (x @ x.transpose(0, 2, 1))
                b[ic, fsl] += rho2[ia, ic, fsl, None] * np.vecdot(phi, S[ia, ic, fsl]).T
    R[:, :, ~valid, :] = 0.0
    R[:, :, :, ~valid] = 0.0
    b[:, :, ~valid] = 0.0
    return R, b, s, valid


class _Problem:
    """min over a (C, F) complex and w ≥ 0 (Σw = 1) of
    Σ_ck [s − 2 Re(ā wᵀb) + |a|² (wᵀRw + λ τ ‖w‖²)], τ_ck = tr R_ck / J.

    R and b may be those of the grid's finite entries only (a refined sweep's few simulated blocks):
    the others have zero rows and columns, so leaving them out changes nothing but the cost, which
    falls with the square of the entries. J stays the grid's (``n_entries``) in τ, in the
    regularisation and in the eigenvalue cut-off of the w-step.
    """

    def __init__(self, R, b, s, valid, l2: float, n_entries: int | None = None):
        self.R, self.b, self.s, self.valid, self.l2 = R, b, s, valid, float(l2)
        self.J = int(n_entries or R.shape[-1])
        self.tau = np.trace(R, axis1=-2, axis2=-1) / self.J  # (C, F)

    def transfer(self, w):
        """a-step: the closed-form a_ck for fixed w (0 where the model row is zero)."""
        den = (self.R @ w) @ w + self.l2 * self.tau * (w @ w)
        a = np.zeros(den.shape, dtype=np.complex128)
        np.divide(self.b @ w, den, out=a, where=den > 0)
        return a

    def objective(self, w, a) -> tuple[float, float]:
        """(data misfit Σ ρ²‖S − a Σ w Φ‖², penalty)."""
        quad = (self.R @ w) @ w
        fit = self.s - 2 * (a.conj() * (self.b @ w)).real + np.abs(a) ** 2 * quad
        return float(fit.sum()), float((self.l2 * np.abs(a) ** 2 * self.tau).sum() * (w @ w))

    def weights(self, a, rank: int):
        """w-step: min_{w ≥ 0} wᵀ Q w − 2 pᵀ w for fixed a, Q = Σ_ck |a|² R_ck + λ (tr Q / J) I,
        p = Σ_ck Re(ā b_ck), as NNLS ‖Λ_s^½ V_sᵀ w − Λ_s^-½ V_sᵀ p‖² on the s largest
        eigenpairs of Q (TSVD, as M2). Returns (w, effective rank)."""
        a2 = np.abs(a) ** 2
        Q = np.einsum("cf,cfjk->jk", a2, self.R)
        p = np.einsum("cf,cfj->j", a.conj(), self.b).real
        if self.l2 > 0:
            Q[np.diag_indices(Q.shape[0])] += self.l2 * np.trace(Q) / self.J
        lam, V = scipy.linalg.eigh(Q)
        return truncated_nnls(lam[::-1], V[:, ::-1], p, rank, self.valid, n_entries=self.J)


def _initial_entry(R, b, s, valid) -> int:
    """The single entry with the smallest misfit under a shared transfer function: Σ_ck s − |b|²/R_qq."""
    d = np.einsum("cfjj->cfj", R)
    gain = np.zeros_like(d)
    np.divide(np.abs(b) ** 2, d, out=gain, where=d > 0)
    misfit = (s[..., None] - gain).sum(axis=(0, 1))
    misfit[~valid] = np.inf
    return int(np.argmin(misfit))


def _als(problem: _Problem, rank: int, w0, max_iter: int, tol: float, scale: float):
    """Alternating least squares from w0; returns w, a, effective rank, iterations, converged, log."""
    w = w0
    a = problem.transfer(w)
    fit, pen = problem.objective(w, a)
    history = [{"iteration": 0, "objective": fit + pen, "misfit": fit, "eps_global": np.sqrt(max(fit, 0) * scale),
                "weight_change": np.nan}]
    se, converged, it = 0, False, 0
    for it in range(1, max_iter + 1):
        wn, se = problem.weights(a, rank)
        total = wn.sum()
        if not total > 0:  # no entry explains the data with this a: keep the last iterate
            break
        wn /= total  # gauge Σw = 1 (the a-step below absorbs the scale)
        a = problem.transfer(wn)
        change = float(np.abs(wn - w).max())
        w = wn
        fit, pen = problem.objective(w, a)
        history.append({"iteration": it, "objective": fit + pen, "misfit": fit,
                        "eps_global": np.sqrt(max(fit, 0) * scale), "weight_change": change})
        if change <= tol:
            converged = True
            break
    return w, a, se, it, converged, history


def fit_m3(measured, dictionary, bins, ranks=(1.0,), *, l2: float = 0.0, max_iter: int = 500,
           tol: float = 1e-10, rows=None, chunk_bytes: int = CHUNK_BYTES) -> FitM3Result:
    """Model M3: a_ck shared by all entries and angles, weights w ≥ 0 over (D, K) with Σw = 1.

    Objective (the paper's weighted least squares, eqs. 16/17, with the shared transfer function
    its §4 proposes instead of M2's per-entry â_q):

        min_{a, w ≥ 0, Σw = 1}  Σ_{ϑ,c,k} ρ²_ϑck ‖S_ϑck − a_ck Σ_q w_q Φ_q,ϑck‖² + λ Σ_ck |a_ck|² τ_ck ‖w‖²

    with ρ = 1/‖S_ϑck‖∞, so the misfit is N·#rows·ε_global² of the model (eqs. 20–22), and
    τ_ck = tr(R_ck)/J the mean squared weighted column norm (λ = ``l2`` is dimensionless and the
    penalty is invariant under the gauge a → a/t, w → t w).

    Algorithm: alternating least squares on precomputed normal equations. One pass over the
    dictionary gives R_ck = Σ_ϑ ρ² Re(Φᴴ Φ) (J × J), b_ck = Σ_ϑ ρ² Φᴴ S and s_ck per (channel, k);
    no iteration reads the dictionary again. a-step: for fixed w, a_ck = wᵀb_ck / (wᵀR_ck w +
    λ τ_ck ‖w‖²) in closed form. w-step: for fixed a, a non-negative least squares on
    Q = Σ_ck |a_ck|² R_ck + λ (tr Q / J) I and p = Σ_ck Re(ā_ck b_ck), truncated to the s largest
    eigenpairs of Q for a TSVD rank s (as M2); then the gauge Σw = 1 (misfit and penalty are
    gauge invariant). Without truncation each step minimises the objective exactly, so it never
    increases; with a rank s < J the w-step minimises a truncated quadratic that changes with a, so
    the decrease is not guaranteed (the log shows it). Start: the single entry with the
    smallest misfit under a shared transfer function. Stop: the largest weight change of an
    iteration ≤ ``tol``, or ``max_iter`` iterations (``converged`` False). Each rank is fitted
    from the same start; the iteration log is in ``history``.

    Why ALS rather than variable projection: both steps are exact (closed form; a convex NNLS),
    the NNLS identifies the zero weights exactly, every iteration costs O(C·F·J²) on the normal
    equations (J: the finite entries; a refined sweep iterates on its simulated blocks only), and
    TSVD fits the w-step as in M2.

    Parameters
    ----------
    measured : array_like or xarray.DataArray
        Complex measured rows (angle, channel, frequency, offset).
    dictionary : array_like or xarray.DataArray
        Complex model rows (diameter, anisotropy, angle, channel, frequency, offset).
    bins : array_like of int
        The evaluation rfft bins.
    ranks : sequence of int or float
        TSVD ranks of the weight step, as :func:`~mpisweep.fit_m2` (counts, fractions of J).
    l2 : float
        L2 parameter λ ≥ 0, relative to the mean squared column norm (0: none).
    max_iter : int
        Most alternating iterations per rank.
    tol : float
        Stop when no weight changes by more than this in an iteration.
    rows : numpy.ndarray of bool, optional
        (channel, frequency): the rows the fit uses (None: all); the others get ρ = 0 and no transfer
        function (a = 0), and ε averages over the used rows.
    chunk_bytes : int
        Read the dictionary in blocks of about this size.

    Returns
    -------
    ~mpisweep.fitting.results.FitM3Result
        Weights over (D, K) with Σw = 1, the shared transfer function, model rows and errors, one
        solution per rank.
    """
    if not l2 >= 0:
        raise ValueError(f"l2: must be ≥ 0, got {l2}")
    if int(max_iter) < 1:
        raise ValueError(f"max_iter: must be ≥ 1, got {max_iter}")
    fit = weighted_fit(measured, dictionary, bins, ranks, rows)
    n_a, n_c, n_f, n = fit.S.shape
    n_d, n_k = fit.shape
    J = fit.n_entries
    svals = fit.ranks

    R, b, s, valid = normal_equations(fit.S, fit.dic, fit.pos, fit.rho, chunk_bytes)
    if not valid.any():
        raise ValueError("dictionary: no (diameter, anisotropy) entry is finite")
    # the ALS on the finite entries only (all of them for a full grid: no copy)
    kept = np.flatnonzero(valid)
    if kept.size < J:
        R, b = R[:, :, kept[:, None], kept], b[:, :, kept]
    problem = _Problem(R, b, s, np.ones(kept.size, dtype=bool), l2, n_entries=J)
    start_kept = _initial_entry(R, b, s, problem.valid)
    start = int(kept[start_kept])
    w0 = np.zeros(kept.size)
    w0[start_kept] = 1.0
    used_rows = n_c * n_f if fit.rows is None else int(fit.rows.sum())
    scale = 1.0 / (n * n_a * used_rows)  # misfit → ε_global²

    nr = len(svals)
    W = np.zeros((nr, J))
    A = np.zeros((nr, n_c, n_f), dtype=np.complex128)
    eff, iters, conv, hist = np.zeros(nr, int), np.zeros(nr, int), np.zeros(nr, bool), []
    for r, rank in enumerate(svals):
        W[r, kept], A[r], eff[r], iters[r], conv[r], h = _als(problem, rank, w0, int(max_iter), float(tol), scale)
        hist.append(h)

    # model rows a_ck Σ_q w_q Φ_q, reading only the entries with a weight
    model = model_rows(fit, W, chunk_bytes=chunk_bytes)
    model *= A[:, None, :, :, None]
    eps = row_error(fit.S, model)
    ef = epsilon_freq(eps, rows=fit.rows)
    return FitM3Result(
        bins=fit.bins, orders=fit.orders, angles=fit.angles, channels=fit.channels,
        diameters=fit.dic.coord("diameter"), anisotropies=fit.dic.coord("anisotropy"),
        parameter=fit.dic.alias["anisotropy"],
        requested=fit.requested, ranks=np.array(svals), effective_ranks=eff, l2=float(l2), tol=float(tol),
        weights=W.reshape(-1, n_d, n_k), transfer=A, model=model, eps=eps, eps_freq=ef,
        eps_global=epsilon_global(ef), iterations=iters, converged=conv, history=hist,
        initial_index=tuple(int(i) for i in np.unravel_index(start, (n_d, n_k))),
        excluded=~valid.reshape(n_d, n_k),
    )
