"""Banded LU, with and without partial pivoting (LAPACK's gbtf2/gbtrs), compiled with numba.

Storage is LAPACK's band layout, transposed so that one matrix column is one
contiguous row of ``ab``: ``ab[j, kv + i - j] = M[i, j]`` with ``kv = kl + ku``
and ``kl`` extra rows for the fill-in that pivoting creates, then PADDING zeros
(band_width). Kept in-house (not called through scipy's LAPACK pointers) so
that numba can cache the compiled kernels on disk.

Without pivoting there is no fill-in: U keeps the upper bandwidth ku, which
halves the factorisation and shortens the back substitution by a third. Nor does
anything fill outside the matrix's envelope (each row from its first non-zero
column, each column from its first non-zero row), so the unpivoted kernels take
the envelope (band_envelope) and skip the zeros between it and the band: for the
Fokker-Planck operator in |m| blocks, whose blocks shrink with |m|, a quarter of the
factorisation's work and a third of the solve's (L = 42). Skipped terms are exact zeros, so
the results are bit-identical to the full band's. The
Newton matrices I - c·A of the Fokker-Planck operator factorise stably that way
(measured against pivoted LU: relative solution error ≤ 6e-12 up to σ = 25,
L = 42), so the integrator tries it first; band_lu_nopivot reports a zero,
non-finite or excessively growing pivot, and the caller then pivots.
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

from ..kernel_cache import use_source_keyed_cache

use_source_keyed_cache()  # before the first @njit: a cache keyed by every kernel's source

# Floating-point contraction and reassociation let LLVM vectorise the band loops;
# no-NaN assumptions stay off so non-finite values still propagate.
FAST = {"contract", "reassoc", "arcp", "nsz"}


PADDING = 3  # zero columns after the band, read (never used) by the blocked solve


@njit(cache=True)
def band_width(kl, ku):
    """Row length of the band storage: kl fill rows, the band, and PADDING."""
    return 2 * kl + ku + 1 + PADDING


@njit(cache=True, fastmath=FAST)
def _eliminate(ab, j, kv, km, last, lcol):
    """Rank-1 update of columns j+1..last by pivot column j (multipliers in lcol[:km]).

    lcol is a separate array and the offsets are unsigned, which lets LLVM
    vectorise the update.
    """
    for c in range(j + 1, last + 1):
        row = ab[c]
        off = uint64(kv + j - c + 1)
        u = row[off - 1]
        if u != 0.0:
            for r in range(uint64(km)):
                row[off + r] -= lcol[r] * u


@njit(cache=True, fastmath=FAST)
def band_lu(ab, kl, ku, piv, lcol):
    """Factorise in place; returns 0, or j+1 if the pivot of column j is zero.

    lcol (length ≥ kl) is scratch for the multipliers (see _eliminate).
    """
    n = ab.shape[0]
    kv = kl + ku
    ju = 0
    for j in range(n):
        km = min(kl, n - 1 - j)
        jp = 0
        big = abs(ab[j, kv])
        for r in range(1, km + 1):
            v = abs(ab[j, kv + r])
            if v > big:
                big = v
                jp = r
        piv[j] = j + jp
        if big == 0.0:
            return j + 1
        ju = max(ju, min(j + ku + jp, n - 1))
        if jp != 0:
            for c in range(j, ju + 1):
                r1 = kv + j - c
                r2 = r1 + jp
                tmp = ab[c, r1]
                ab[c, r1] = ab[c, r2]
                ab[c, r2] = tmp
        inv = 1.0 / ab[j, kv]
        for r in range(km):
            x = ab[j, kv + 1 + r] * inv
            ab[j, kv + 1 + r] = x
            lcol[r] = x
        _eliminate(ab, j, kv, km, ju, lcol)
    return 0


@njit(cache=True, fastmath=FAST)
def band_solve(ab, kl, ku, piv, b):
    """Solve M x = b in place with the factors from band_lu."""
    n = ab.shape[0]
    kv = kl + ku
    for j in range(n - 1):
        p = piv[j]
        if p != j:
            tmp = b[j]
            b[j] = b[p]
            b[p] = tmp
        x = b[j]
        if x != 0.0:
            col = ab[j]
            km = uint64(min(kl, n - 1 - j))
            base = uint64(kv + 1)
            first = uint64(j + 1)
            for r in range(km):
                b[first + r] -= col[base + r] * x
    for j in range(n - 1, -1, -1):
        col = ab[j]
        b[j] /= col[kv]
        x = b[j]
        if x != 0.0:
            lo = max(0, j - kv)
            count = uint64(j - lo)
            base = uint64(kv + lo - j)
            first = uint64(lo)
            for i in range(count):
                b[first + i] -= col[base + i] * x


MAX_MULTIPLIER = 1e10  # growth beyond this: refactorise with partial pivoting
BLOCK = 4  # columns per block in band_solve_nopivot (unrolled by hand below)


def band_envelope(n: int, kl: int, ku: int, indptr=None, indices=None) -> np.ndarray:
    """The envelope of an n×n band matrix with CSR pattern (indptr, indices), as (3, n) uint64.

    Row 0: the last row of column j that L can fill (the largest i whose first
    non-zero column is ≤ j); row 1: the last column of row j that U can fill;
    row 2: the first row of column j (U's first entry). Without a pattern: the
    full band.
    """
    j = np.arange(n)
    if indptr is None:
        first_col = np.maximum(j - kl, 0)
        first_row = np.maximum(j - ku, 0)
    else:
        indptr = np.asarray(indptr, dtype=np.int64)
        indices = np.asarray(indices, dtype=np.int64)
        rows = np.repeat(j, np.diff(indptr))
        first_col = j.copy()
        np.minimum.at(first_col, rows, indices)
        first_row = j.copy()
        np.minimum.at(first_row, indices, rows)
        if np.any(j - first_col > kl) or np.any(j - first_row > ku):
            raise ValueError("band_envelope: the pattern reaches outside the band (kl, ku)")
    # The largest i with first_col[i] ≤ j: a running maximum over rows sorted by first_col.
    last_row = np.maximum.accumulate(_last_index_by_start(first_col, n))
    last_col = np.maximum.accumulate(_last_index_by_start(first_row, n))
    return np.stack([np.maximum(last_row, j), np.maximum(last_col, j), first_row]).astype(np.uint64)


def _last_index_by_start(start: np.ndarray, n: int) -> np.ndarray:
    """For each j, the largest index i with start[i] == j (-1 if none)."""
    out = np.full(n, -1, dtype=np.int64)
    np.maximum.at(out, start, np.arange(n))
    return out


@njit(cache=True, fastmath=FAST, error_model="numpy")
def band_lu_nopivot(ab, kl, ku, lcol, env):
    """Factorise in place without row exchanges; 0, or j+1 if column j needs pivoting.

    Returns 1 for bands narrower than the solve's blocks (kl or ku < 3). Same
    storage as band_lu, except that the diagonal holds 1/U[j, j] (the solve
    multiplies instead of dividing); the kl fill rows and the padding stay zero.
    Only the envelope env (band_envelope) is eliminated. After a failed attempt the
    matrix must be rebuilt and factorised with band_lu.
    """
    n = ab.shape[0]
    kv = kl + ku
    if kl < BLOCK - 1 or ku < BLOCK - 1:
        return 1
    for j in range(n):
        km = int(env[0, j]) - j
        pivot = ab[j, kv]
        if not (abs(pivot) > 0.0 and abs(pivot) < np.inf):
            return j + 1
        inv = 1.0 / pivot
        ab[j, kv] = inv
        for r in range(km):
            x = ab[j, kv + 1 + r] * inv
            if not abs(x) <= MAX_MULTIPLIER:
                return j + 1
            ab[j, kv + 1 + r] = x
            lcol[r] = x
        _eliminate(ab, j, kv, km, int(env[1, j]), lcol)
    return 0


@njit(cache=True, error_model="numpy")
def band_solve_nopivot(ab, kl, ku, b, env):
    """Solve M x = b in place with the factors from band_lu_nopivot (same envelope env).

    Columns go in blocks of four: the dependent chain stays inside the block and
    b is read and written once per block instead of once per column, which
    roughly halves the time of this latency-bound sweep. The blocks read up to
    three entries past each column's band: the fill rows and the padding of
    band_width, which are zero. No fastmath here: with contraction allowed, the
    four-term sums were fused differently by a fresh compile and by the cached
    object, and results must be bit-identical from run to run.
    """
    n = ab.shape[0]
    kv = kl + ku
    # Forward: L y = b (unit diagonal).
    j = 0
    while j + BLOCK <= n:
        c0, c1, c2, c3 = ab[j], ab[j + 1], ab[j + 2], ab[j + 3]
        x0 = b[j]
        x1 = b[j + 1] - c0[kv + 1] * x0
        x2 = b[j + 2] - c0[kv + 2] * x0 - c1[kv + 1] * x1
        x3 = b[j + 3] - c0[kv + 3] * x0 - c1[kv + 2] * x1 - c2[kv + 1] * x2
        b[j + 1], b[j + 2], b[j + 3] = x1, x2, x3
        count = uint64(max(0, int(env[0, j + 3]) - (j + 3)))
        first = uint64(j + 4)
        # Unsigned offsets throughout, or numba's negative-index checks defeat vectorisation.
        k0, k1, k2, k3 = uint64(kv + 4), uint64(kv + 3), uint64(kv + 2), uint64(kv + 1)
        for k in range(count):
            b[first + k] -= c0[k0 + k] * x0 + c1[k1 + k] * x1 + c2[k2 + k] * x2 + c3[k3 + k] * x3
        j += BLOCK
    for jj in range(j, n):
        col = ab[jj]
        for r in range(1, int(env[0, jj]) - jj + 1):
            b[jj + r] -= col[kv + r] * b[jj]
    # Backward: U x = y, from the last block up.
    j = n - BLOCK
    while j >= 0:
        c0, c1, c2, c3 = ab[j], ab[j + 1], ab[j + 2], ab[j + 3]
        x3 = b[j + 3] * c3[kv]
        x2 = (b[j + 2] - c3[kv - 1] * x3) * c2[kv]
        x1 = (b[j + 1] - c3[kv - 2] * x3 - c2[kv - 1] * x2) * c1[kv]
        x0 = (b[j] - c3[kv - 3] * x3 - c2[kv - 2] * x2 - c1[kv - 1] * x1) * c0[kv]
        b[j], b[j + 1], b[j + 2], b[j + 3] = x0, x1, x2, x3
        lo = int(min(min(env[2, j], env[2, j + 1]), min(env[2, j + 2], env[2, j + 3])))
        count = uint64(j - lo)
        first = uint64(lo)
        k0 = uint64(kv + lo - j)
        k1, k2, k3 = k0 - uint64(1), k0 - uint64(2), k0 - uint64(3)
        for k in range(count):
            b[first + k] -= c0[k0 + k] * x0 + c1[k1 + k] * x1 + c2[k2 + k] * x2 + c3[k3 + k] * x3
        j -= BLOCK
    for jj in range(j + BLOCK - 1, -1, -1):
        col = ab[jj]
        b[jj] *= col[kv]
        for i in range(int(env[2, jj]), jj):
            b[i] -= col[kv + i - jj] * b[jj]


def to_band(dense: np.ndarray, kl: int, ku: int) -> np.ndarray:
    """Dense matrix → band storage (for tests and small helpers)."""
    n = dense.shape[0]
    ab = np.zeros((n, band_width(kl, ku)))
    kv = kl + ku
    for j in range(n):
        for i in range(max(0, j - ku), min(n, j + kl + 1)):
            ab[j, kv + i - j] = dense[i, j]
    return ab
