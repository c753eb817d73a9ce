"""Regularized non-negative Kaczmarz for A c = u, as in RegularizedLeastSquares.jl.

The augmented system [A  √λ·I] (c; v) = u is swept row by row: for row i with s_i = A[i],

    τ = Σ_n s_in c_n,   α = (u_i − τ − √λ v_i) / (‖s_i‖² + λ),   c ← c + α·conj(s_i),   v_i ← v_i + α√λ,

and after every sweep c ← max(Re c, 0). λ = λ_rel · ‖A‖²_F / (number of columns).

:func:`kaczmarz` is that loop (numba, one measurement). :func:`kaczmarz_batch` runs the same
iteration for many measurements at once: within one sweep, τ_i = (A c₀)_i + Σ_{j<i} G_ij α_j with
G = A Aᴴ, so the sweep's α solve one lower-triangular system (diag(‖s_i‖² + λ) + strict lower
part of G) α = u − A c₀ − √λ v, and c ← max(c₀ + Re(Aᴴ α), 0). That is the identical arithmetic
in matrix products (BLAS 3 over the batch) instead of rank-one updates.

The iteration's fixed point is a non-negative solution of the augmented system. Where no
constraint is active it is the Tikhonov solution argmin ‖A c − u‖² + λ‖c‖² (c real);
where constraints are active it is a nearby feasible point, not exactly the constrained minimizer
that :func:`reference_solution` computes (tests bound the difference).
"""

from __future__ import annotations

import atexit
import sys
from collections.abc import Callable

import numba
import numpy as np
from scipy.linalg import solve_triangular
from threadpoolctl import threadpool_limits

from ..kernel_cache import use_source_keyed_cache

use_source_keyed_cache()  # before the first @njit: a cache keyed by every kernel's source


def regularization(A: np.ndarray, lambda_rel: float) -> float:
    """λ = λ_rel · ‖A‖²_F / (number of columns)."""
    return float(lambda_rel) * float(np.sum(np.abs(A) ** 2)) / A.shape[1]


@numba.njit(cache=True)
def _sweeps(A, u, lam, sweeps, c, v):
    M, N = A.shape
    sq = np.sqrt(lam)
    denom = np.empty(M)
    for i in range(M):
        s = 0.0
        for n in range(N):
            s += A[i, n].real ** 2 + A[i, n].imag ** 2
        denom[i] = s + lam
    for _ in range(sweeps):
        for i in range(M):
            tau = 0j
            for n in range(N):
                tau += A[i, n] * c[n]
            alpha = (u[i] - tau - sq * v[i]) / denom[i]
            for n in range(N):
                c[n] += alpha * np.conj(A[i, n])
            v[i] += alpha * sq
        for n in range(N):
            c[n] = max(c[n].real, 0.0)


def kaczmarz(A: np.ndarray, u: np.ndarray, lam: float, sweeps: int) -> np.ndarray:
    """Solve A c ≈ u for a non-negative real c with the regularised Kaczmarz method, from c = 0.

    Parameters
    ----------
    A : numpy.ndarray
        Complex system matrix (M, N): M frequency rows, N pixels (× contrasts).
    u : numpy.ndarray
        Complex measurement (M,).
    lam : float
        Tikhonov parameter λ (absolute; λ_rel·‖A‖²_F/N in the workflow).
    sweeps : int
        Sweeps over all rows.

    Returns
    -------
    numpy.ndarray
        c (N,), real and ≥ 0.
    """
    A = np.ascontiguousarray(A, dtype=np.complex128)
    u = np.ascontiguousarray(u, dtype=np.complex128)
    c = np.zeros(A.shape[1], np.complex128)
    v = np.zeros(A.shape[0], np.complex128)
    _sweeps(A, u, float(lam), int(sweeps), c, v)
    return c.real.copy()


@numba.njit(cache=True)
def _residual(U, AC, V, sq, out):
    """out = U − (AC[:M] + i·AC[M:]) − √λ·V (the right-hand side of one sweep)."""
    M, B = U.shape
    for i in range(M):
        for b in range(B):
            out[i, b] = U[i, b] - (AC[i, b] + 1j * AC[M + i, b]) - sq * V[i, b]


@numba.njit(cache=True)
def _project(C, X, C_low):
    """C ← max(C + X, 0) in float64 and its copy in the products' precision."""
    N, B = C.shape
    for n in range(N):
        for b in range(B):
            v = C[n, b] + X[n, b]
            v = v if v > 0.0 else 0.0
            C[n, b] = v
            C_low[n, b] = v


def kaczmarz_batch(A: np.ndarray, U: np.ndarray, lam: float, sweeps: int, single: bool = False,
                   progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """:func:`~mpisweep.kaczmarz` for many measurements at once, as matrix products.

    Parameters
    ----------
    A : numpy.ndarray
        Complex system matrix (M, N).
    U : numpy.ndarray
        Complex measurements (M, B), one per column.
    lam : float
        Tikhonov parameter λ (absolute).
    sweeps : int
        Sweeps over all rows.
    single : bool
        The products with A and the triangular solve in float32 / complex64 (about 2× faster;
        c still accumulates in float64; ~1e-7 relative difference to double precision).
    progress : callable, optional
        ``progress(done, total)`` after every sweep.

    Returns
    -------
    numpy.ndarray
        C (N, B), real and ≥ 0.
    """
    A = np.asarray(A, dtype=np.complex128)
    U = np.asarray(U, dtype=np.complex128).reshape(A.shape[0], -1)
    M, N = A.shape
    real, cplx = (np.float32, np.complex64) if single else (np.float64, np.complex128)
    stacked = np.ascontiguousarray(np.vstack([A.real, A.imag]), dtype=real)  # A c = top + i·bottom for real c
    stacked_t = np.ascontiguousarray(stacked.T)
    sweep_matrix = np.tril(A @ A.conj().T, -1)
    sweep_matrix[np.diag_indices(M)] = np.sum(np.abs(A) ** 2, axis=1) + lam
    sweep_matrix = np.asfortranarray(sweep_matrix, dtype=cplx)
    sq = np.sqrt(lam)
    B = U.shape[1]
    U = U.astype(cplx)
    C = np.zeros((N, B))
    C_low = np.zeros((N, B), dtype=real)
    V = np.zeros((M, B), dtype=cplx)
    rhs = np.empty((M, B), dtype=cplx)
    parts = np.empty((2 * M, B), dtype=real)
    for it in range(int(sweeps)):
        _residual(U, stacked @ C_low, V, cplx(sq).real, rhs)
        alpha = solve_triangular(sweep_matrix, rhs, lower=True, check_finite=False, overwrite_b=True)
        V += cplx(sq) * alpha
        parts[:M], parts[M:] = alpha.real, alpha.imag
        _project(C, stacked_t @ parts, C_low)
        if progress is not None:
            progress(it + 1, int(sweeps))
    return C


def _print_progress(done: int, total: int) -> None:
    if done % max(1, total // 10) == 0:
        print(f"  sweep {done}/{total} (first of the parallel batches)", file=sys.stderr, flush=True)


def _batch_one_thread(*args) -> np.ndarray:
    """:func:`kaczmarz_batch` with one BLAS thread (in this process or a worker): the products are small, and
    more threads only wait on each other."""
    with threadpool_limits(1, user_api="blas"):
        return kaczmarz_batch(*args)


_POOLS: dict = {}  # workers → the process pool kept between calls


def _pool(workers: int):
    """A pool of `workers` spawned processes, kept for the next call: spawning them costs about a second,
    as much as reconstructing a few scans, and a settings search reconstructs hundreds of times."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    if workers not in _POOLS:
        _POOLS[workers] = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    return _POOLS[workers]


def _shut_pools() -> None:
    """Stop the kept processes (at exit, before the interpreter tears down the modules they use)."""
    while _POOLS:
        _POOLS.popitem()[1].shutdown(wait=True)


atexit.register(_shut_pools)


def kaczmarz_parallel(A: np.ndarray, U: np.ndarray, lam: float, sweeps: int, single: bool = False,
                      workers: int = 1, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """:func:`kaczmarz_batch` with the measurements split over `workers` processes, each with one BLAS thread.

    The columns are independent, so this is the same iteration. One BLAS thread per process: the
    products are small, and more threads only wait on each other (measured on 2 idle cores, 12 columns
    of a 100 × 1331 system: 9.5 s per 1000 sweeps with 2 threads, 0.53 s with one). One worker, or fewer
    than two columns per worker, runs in this process, limited to one BLAS thread as well. The processes
    are spawned once and reused by later calls.
    """
    from concurrent.futures.process import BrokenProcessPool

    U = np.asarray(U).reshape(np.shape(A)[0], -1)
    if workers <= 1 or U.shape[1] < 2 * workers:
        return _batch_one_thread(A, U, lam, sweeps, single, progress)
    chunks = np.array_split(np.arange(U.shape[1]), workers)
    try:
        pool = _pool(workers)
        futures = [pool.submit(_batch_one_thread, A, U[:, c], lam, sweeps, single,
                               _print_progress if i == 0 and progress is not None else None)
                   for i, c in enumerate(chunks)]
        return np.concatenate([f.result() for f in futures], axis=1)
    except BrokenProcessPool:
        _POOLS.pop(workers).shutdown(wait=False)  # a worker died: the next call spawns a new pool
        raise


def reference_solution(A: np.ndarray, u: np.ndarray, lam: float) -> np.ndarray:
    """argmin ‖A c − u‖² + λ‖c‖² over real c ≥ 0 (scipy's bounded-variable least squares, real-stacked)."""
    from scipy.optimize import lsq_linear

    N = A.shape[1]
    system = np.vstack([A.real, A.imag, np.sqrt(lam) * np.eye(N)])
    rhs = np.concatenate([np.real(u), np.imag(u), np.zeros(N)])
    return lsq_linear(system, rhs, bounds=(0.0, np.inf), method="bvls", tol=1e-14).x
