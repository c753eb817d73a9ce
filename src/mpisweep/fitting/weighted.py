"""What M2 and M3 share: the set-up of a weighted fit, the truncated NNLS and the model rows.

Both models find non-negative weights w over the J = nD·nK dictionary entries (paper eqs. 16–18),
regularised by keeping the s largest eigenpairs of a Gram matrix (TSVD), and both build their model
rows Σ_q w_q (transfer · Φ_q) from the entries with a non-zero weight only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from .inputs import CHUNK_BYTES, Input, as_index, dictionary_inputs, row_mask, row_weights
from .ranks import rank_counts, rank_list


@dataclass(frozen=True)
class WeightedFit:
    """The inputs of one M2/M3 fit, in the fits' fixed dimension order."""

    bins: np.ndarray  # evaluation bins k
    orders: np.ndarray  # their mixing orders
    dic: Input  # the dictionary (diameter, anisotropy, angle, channel, frequency, offset)
    S: np.ndarray  # measured rows (angle, channel, frequency, offset)
    angles: np.ndarray
    channels: np.ndarray
    requested: list  # the rank specs as given
    ranks: list[int]  # the rank specs as counts s
    rho: np.ndarray  # 1/‖S_ϑck‖∞ per measured row (paper eq. 16's Σ_ϑ); 0 for rows left out
    rows: np.ndarray | None  # (channel, frequency) mask of the rows used (None: all)
    pos: np.ndarray  # positions of the bins on the dictionary's frequency axis

    @property
    def shape(self) -> tuple[int, int]:
        """(nD, nK) of the dictionary grid."""
        return self.dic.size["diameter"], self.dic.size["anisotropy"]

    @property
    def n_entries(self) -> int:
        """J = nD · nK."""
        n_d, n_k = self.shape
        return n_d * n_k


def weighted_fit(measured, dictionary, bins, ranks, rows=None) -> WeightedFit:
    """Check and arrange a weighted fit's inputs; ranks become counts of the J entries; rows left out by the
    (channel, frequency) mask `rows` get ρ = 0."""
    k, orders, _, dic, S, angles, channels = dictionary_inputs(measured, dictionary, bins)
    rows = row_mask(rows, S.shape[1], S.shape[2])
    J = dic.size["diameter"] * dic.size["anisotropy"]
    pos = dic.freq_positions(k)
    pos = np.arange(pos.start, pos.stop) if isinstance(pos, slice) else pos
    return WeightedFit(bins=k, orders=orders, dic=dic, S=S, angles=angles, channels=channels,
                       requested=rank_list(ranks), ranks=rank_counts(ranks, J), rho=row_weights(S, rows), rows=rows,
                       pos=pos)


def truncated_nnls(lam, V, rhs, rank: int, valid, maxiter: int | None = None, n_entries: int | None = None):
    """min_{w ≥ 0} ‖Λ_s^½ V_sᴴ w − Λ_s^-½ V_sᴴ rhs‖² on the s largest eigenpairs of a Gram matrix.

    ``lam``, ``V``: its eigenvalues (descending) and eigenvectors. Eigenvalues at or below
    λ_max·J·eps are not resolvable and are dropped, so s ≤ ``rank``; J is ``n_entries`` (the grid's
    entries, when the Gram matrix is that of its finite ones only) or V's size. A complex problem is
    solved for real weights by stacking real and imaginary parts (paper eq. 18). Entries not
    ``valid`` get 0. Returns (w, s); w = 0 when no eigenvalue is resolvable.
    """
    J = V.shape[0]
    tol = lam[0] * (n_entries or J) * np.finfo(float).eps if lam[0] > 0 else np.inf
    se = min(rank, int(np.count_nonzero(lam > tol)))
    if se == 0:
        return np.zeros(J), 0
    sq = np.sqrt(lam[:se])
    Vs = V[:, :se].conj().T if np.iscomplexobj(V) else V[:, :se].T  # (s, J)
    B = sq[:, None] * Vs
    b = (Vs @ rhs) / sq
    if np.iscomplexobj(B):
        B, b = np.vstack([B.real, B.imag]), np.concatenate([b.real, b.imag])
    w, _ = nnls(B, b, maxiter=maxiter if maxiter is not None else 50 * J)
    w[~valid] = 0.0
    return w, se


def model_rows(fit: WeightedFit, W: np.ndarray, entry_transfer=None, chunk_bytes: int = CHUNK_BYTES):
    """Σ_q W[r, q] · (entry_transfer[q] ·) Φ_q per rank r: (R, angle, channel, frequency, offset).

    Reads only the entries with a non-zero weight in some rank, a few at a time.
    ``entry_transfer`` (J, angle, channel, frequency): M2's per-entry â_q; None for M3.
    """
    n_a, n_c, n_f, n = fit.S.shape
    n_k = fit.shape[1]
    model = np.zeros((W.shape[0], n_a, n_c, n_f, n), dtype=np.complex128)
    support = np.flatnonzero((W != 0).any(axis=0))
    per = max(1, int(chunk_bytes) // (16 * n_a * n_c * n_f * n))
    fpos = as_index(fit.pos)
    for g0 in range(0, len(support), per):
        group = support[g0:g0 + per]
        phi = np.stack([fit.dic.read(diameter=int(j // n_k), anisotropy=int(j % n_k), frequency=fpos)
                        for j in group])
        if entry_transfer is not None:
            phi = entry_transfer[group][..., None] * phi
        model += np.tensordot(W[:, group].astype(np.complex128), phi, axes=(1, 0))
    return model
