"""Banded LU with partial pivoting (the LAPACK gbtf2/gbtrs algorithm), compiled with numba.

Storage is LAPACK's band layout, transposed so that one matrix column is one
contiguous row of ``ab``: ``ab[j, kv + i - j] = M[i, j]`` with ``kv = kl + ku``
and ``kl`` extra rows for the fill-in that pivoting creates. Width 2·kl + ku + 1.
Kept in-house (not called through scipy's LAPACK pointers) so that numba can
cache the compiled kernels on disk.
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

# Floating-point contraction and reassociation let LLVM vectorise the band loops;
# no-NaN assumptions stay off so non-finite values still propagate.
FAST = {"contract", "reassoc", "arcp", "nsz"}


def band_width(kl: int, ku: int) -> int:
    return 2 * kl + ku + 1


@njit(cache=True, fastmath=FAST)
def band_lu(ab, kl, ku, piv, lcol):
    """Factorise in place; returns 0, or j+1 if the pivot of column j is zero.

    lcol (length ≥ kl) is scratch for the multipliers: reading them from a
    separate array, with unsigned offsets, lets LLVM vectorise the update.
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
        for c in range(j + 1, ju + 1):
            row = ab[c]
            off = uint64(kv + j - c + 1)
            u = row[off - 1]
            if u != 0.0:
                for r in range(uint64(km)):
                    row[off + r] -= lcol[r] * u
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


def to_band(dense: np.ndarray, kl: int, ku: int) -> np.ndarray:
    """Dense matrix → band storage (for tests and small helpers)."""
    n = dense.shape[0]
    ab = np.zeros((n, band_width(kl, ku)))
    kv = kl + ku
    for j in range(n):
        for i in range(max(0, j - ku), min(n, j + kl + 1)):
            ab[j, kv + i - j] = dense[i, j]
    return ab
