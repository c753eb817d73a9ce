"""Variable-order BDF integrator for dc/dt = A(t) c, compiled with numba.

A(t) = Σ_q s_q(t) C_q with s_0 = 1 and s_q = cos(ω_q t + φ_q) (one term per drive
channel); all C_q share one sparsity pattern (CSR) and one band structure.

The method is BDF in the quasi-constant-step form of Shampine & Reichelt
(modified divided differences, as in SciPy's BDF), with the order capped where
the precession modes leave the method's stability sector (the NDF variant of
ode15s has narrower sectors and stalled here).
Because the ODE is linear, the Newton matrix I - c·A(t) is exact at the time it
is factorised (one solve is then the exact step). The banded LU is reused as a
chord iteration, CVODE-style, across step-size changes of up to 30 % (with the
correction scaled by 2/(1 + c/c_lu)), until the field has drifted enough that
convergence slows; step-size increases under 20 % are not made. The mean moment and its
derivative (taken from the right-hand side, not by differencing) are
interpolated onto the requested sample times with the method's own dense output.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..kernel_cache import use_source_keyed_cache
from .banded import band_lu, band_lu_nopivot, band_solve, band_solve_nopivot, band_width

use_source_keyed_cache()  # before the first @njit: a cache keyed by every kernel's source

MAX_ORDER = 5
NEWTON_MAXITER = 4
NEWTON_TOL = 0.3  # chord-iteration tolerance in error-norm units (CVODE-like, not SciPy's 0.01)
MIN_FACTOR = 0.2
MAX_FACTOR = 10.0
KEEP_STEP = 1.2  # step-size increases below this factor are not made
MAX_C_DRIFT = 0.3  # refactorise when c = h/alpha drifted this far from the factorised one
MAX_LU_AGE = 20  # or after this many steps (A(t) drifts with the field)
BLOWUP = 1.0 + 1e-6  # |<m>| beyond this means the truncated operator is unstable

# Status codes returned by integrate().
OK, BLOWN_UP, STEP_TOO_SMALL, SINGULAR = 0, 1, 2, 3
STATUS_TEXT = {
    OK: "ok",
    BLOWN_UP: "|<m>| exceeded 1 + 1e-6 or became non-finite (unstable truncation?)",
    STEP_TOO_SMALL: "step size became too small",
    SINGULAR: "Newton matrix is singular",
}

# Stability sectors of BDF orders 1-5 (degrees from the negative real axis).
BDF_STABILITY_ANGLE = (90.0, 90.0, 86.03, 73.35, 51.84)


def max_stable_order(precession_ratio: float) -> int:
    """Highest BDF order whose stability sector holds the precession modes.

    `precession_ratio` = p1/p2, precession over damping (1/α for Néel rotation, 0 for Brownian
    rotation). Precession with Gilbert damping α puts eigenvalues at atan(1/α) from the
    negative real axis (84.3° for α = 0.1): outside the sectors of NDF3-5 and
    BDF4-5, which then stall or blow up at tight tolerances. Without precession the
    spectrum is real and every order up to 5 is stable.
    """
    import math

    angle = math.degrees(math.atan(precession_ratio))
    order = 1
    for k, sector in enumerate(BDF_STABILITY_ANGLE, start=1):
        if sector > angle + 0.5:
            order = k
    return order


@njit(cache=True)
def _coefficients(t, omega, phase, s):
    s[0] = 1.0
    for q in range(omega.shape[0]):
        s[q + 1] = np.cos(omega[q] * t + phase[q])


@njit(cache=True)
def _combine(vals, s, out):
    for k in range(vals.shape[1]):
        out[k] = s[0] * vals[0, k]
    for q in range(1, vals.shape[0]):
        sq = s[q]
        if sq != 0.0:
            for k in range(vals.shape[1]):
                out[k] += sq * vals[q, k]


@njit(cache=True)
def _matvec(indptr, indices, v, x, y):
    for i in range(indptr.shape[0] - 1):
        acc = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            acc += v[k] * x[indices[k]]
        y[i] = acc


@njit(cache=True)
def _form_newton_matrix(ab, c, v, band_col, band_row, kv):
    """ab ← band storage of I - c·A for the combined values v."""
    ab[:, :] = 0.0
    for k in range(v.shape[0]):
        ab[band_col[k], band_row[k]] -= c * v[k]
    for j in range(ab.shape[0]):
        ab[j, kv] += 1.0


@njit(cache=True)
def factorize_newton_matrix(ab, c, v, band_col, band_row, kl, ku, env, piv, lcol):
    """Band LU of I - c·A for the combined values v: unpivoted first, pivoted if that fails.

    Returns 0 (unpivoted factors), 1 (pivoted: solve with band_solve and piv) or -1 (singular).
    """
    kv = kl + ku
    _form_newton_matrix(ab, c, v, band_col, band_row, kv)
    if band_lu_nopivot(ab, kl, ku, lcol, env) == 0:
        return 0
    _form_newton_matrix(ab, c, v, band_col, band_row, kv)
    return 1 if band_lu(ab, kl, ku, piv, lcol) == 0 else -1


@njit(cache=True)
def _rms(e, scale):
    acc = 0.0
    for i in range(e.shape[0]):
        r = e[i] / scale[i]
        acc += r * r
    return np.sqrt(acc / e.shape[0])


@njit(cache=True)
def _compute_r(order, factor):
    m = np.zeros((order + 1, order + 1))
    m[0, :] = 1.0
    for i in range(1, order + 1):
        for j in range(1, order + 1):
            m[i, j] = (i - 1 - factor * j) / i
    for i in range(1, order + 1):
        for j in range(order + 1):
            m[i, j] *= m[i - 1, j]
    return m


@njit(cache=True)
def _change_d(D, order, factor):
    """Rescale the difference array to a step size multiplied by factor."""
    r = _compute_r(order, factor)
    u = _compute_r(order, 1.0)
    ru = np.zeros_like(r)  # r @ u by hand: at most 6 x 6, cheaper than a BLAS call
    for i in range(order + 1):
        for j in range(order + 1):
            for k in range(order + 1):
                ru[i, j] += r[i, k] * u[k, j]
    rows = D[: order + 1].copy()
    for i in range(order + 1):
        for k in range(D.shape[1]):
            acc = 0.0
            for j in range(order + 1):
                acc += ru[j, i] * rows[j, k]
            D[i, k] = acc


@njit(cache=True)
def _observe(D, order, h, t, ts, obs_idx, w_moment, out_m, out_dm, k):
    """<m> and d<m>/dt at ts in (t - h, t] from the dense-output polynomial of the last step.

    The derivative of the interpolant equals the right-hand side at step ends (that
    is the BDF relation) and is smooth between them. Evaluating W·A(t)·c at an
    interpolated c instead multiplies small errors in the fast components by the
    precession rate (~1e9/s) and is several per cent off.
    """
    for a in range(3):
        out_m[k, a] = 0.0
        out_dm[k, a] = 0.0
    p = 1.0
    dp = 0.0
    for j in range(order + 1):
        if j > 0:
            x = (ts - (t - h * (j - 1))) / (h * j)
            dp = dp * x + p / (h * j)
            p = p * x
        for i in range(obs_idx.shape[0]):
            dij = D[j, obs_idx[i]]
            for a in range(3):
                out_m[k, a] += w_moment[a, i] * dij * p
                out_dm[k, a] += w_moment[a, i] * dij * dp


@njit(cache=True)
def integrate(
    y0, t0, t_end, h0, sample_times,
    indptr, indices, vals, band_col, band_row, kl, ku, env,
    omega, phase, rtol, atol, max_order,
    obs_idx, w_moment,
    out_m, out_dm, stats,
):
    """Integrate from t0 to t_end; fill out_m/out_dm at sample_times (sorted, in (t0, t_end]).

    env is the band's envelope (banded.band_envelope). atol is per component; max_order caps
    the order (see max_stable_order). w_moment (3, S) maps y[obs_idx] to <m>. Returns (status, y(t_end)).
    stats accumulates [steps, rejected steps, LU factorisations, Newton iterations].
    """
    n = y0.shape[0]
    nq = vals.shape[0]
    # BDF coefficients: γ_k = Σ_{j≤k} 1/j, α_k = γ_k, error constants 1/(k+1).
    gam = np.zeros(MAX_ORDER + 1)
    for k in range(1, MAX_ORDER + 1):
        gam[k] = gam[k - 1] + 1.0 / k
    alf = gam
    errc = 1.0 / np.arange(1, MAX_ORDER + 3)
    ab = np.zeros((n, band_width(kl, ku)))
    piv = np.zeros(n, dtype=np.int64)
    lcol = np.zeros(kl + 1)
    s = np.zeros(nq)
    v = np.zeros(vals.shape[1])
    f = np.zeros(n)
    dy = np.zeros(n)
    y = y0.copy()
    y_pred = np.zeros(n)
    y_new = np.zeros(n)
    psi = np.zeros(n)
    d = np.zeros(n)
    slow_last = False  # the last chord iteration needed many solves: refactorise now
    D = np.zeros((MAX_ORDER + 3, n))
    scale = np.empty(n)
    newton_tol = NEWTON_TOL
    n_samples = sample_times.shape[0]
    next_sample = 0
    n_obs = obs_idx.shape[0]

    _coefficients(t0, omega, phase, s)
    _combine(vals, s, v)
    _matvec(indptr, indices, v, y, f)
    h = min(h0, t_end - t0)
    D[0] = y
    for i in range(n):
        D[1, i] = f[i] * h
    order = 1
    n_equal_steps = 0
    t = t0
    lu_valid = False
    pivoted = False
    lu_c = 0.0
    lu_t = 0.0
    steps_since_lu = 0
    min_step = 1e-14 * max(abs(t0), abs(t_end), 1e-9)

    while t < t_end:
        # ---- one step attempt loop
        while True:
            if h < min_step:
                return STEP_TOO_SMALL, y
            t_new = t + h
            if t_new >= t_end - min_step:
                t_new = t_end
                factor = (t_end - t) / h
                if factor != 1.0:
                    _change_d(D, order, factor)
                    h = t_end - t
                    n_equal_steps = 0
                    lu_valid = False
            y_pred[:] = 0.0
            for j in range(order + 1):
                y_pred += D[j]
            for i in range(n):
                scale[i] = atol[i] + rtol * abs(y_pred[i])
            psi[:] = 0.0
            for j in range(1, order + 1):
                psi += D[j] * (gam[j] / alf[order])
            c = h / alf[order]
            _coefficients(t_new, omega, phase, s)
            _combine(vals, s, v)

            converged = False
            n_iter = 0
            for attempt in range(2):
                stale = (not lu_valid or abs(c / lu_c - 1.0) > MAX_C_DRIFT
                         or steps_since_lu >= MAX_LU_AGE or slow_last)
                if stale or attempt == 1:
                    if attempt == 1 and lu_t == t_new and lu_c == c:
                        break  # a fresh factorisation did not help: shrink the step
                    kind = factorize_newton_matrix(ab, c, v, band_col, band_row, kl, ku, env, piv, lcol)
                    if kind < 0:
                        return SINGULAR, y
                    pivoted = kind == 1
                    stats[2] += 1
                    lu_valid = True
                    lu_c = c
                    lu_t = t_new
                    steps_since_lu = 0
                fresh = lu_t == t_new and lu_c == c
                # Chord iteration with a factorisation made for another c: scale the
                # correction by 2/(1 + c/c_lu) (as CVODE does for BDF).
                relax = 1.0 if fresh else 2.0 / (1.0 + c / lu_c)
                y_new[:] = y_pred
                d[:] = 0.0
                dy_norm_old = -1.0
                for k in range(NEWTON_MAXITER):
                    if fresh:
                        # (I - c·A) y_new = y_pred - psi, solved directly: no residual needed.
                        for i in range(n):
                            dy[i] = y_pred[i] - psi[i]
                    else:
                        _matvec(indptr, indices, v, y_new, f)
                        for i in range(n):
                            dy[i] = c * f[i] - psi[i] - d[i]
                    if pivoted:
                        band_solve(ab, kl, ku, piv, dy)
                    else:
                        band_solve_nopivot(ab, kl, ku, dy, env)
                    if fresh:
                        for i in range(n):
                            dy[i] -= y_pred[i]
                    if relax != 1.0:
                        dy *= relax
                    stats[3] += 1
                    dy_norm = _rms(dy, scale)
                    y_new += dy
                    d += dy
                    n_iter = k + 1
                    if fresh or dy_norm == 0.0:
                        # Exact Newton matrix of a linear problem: one solve is the solution.
                        converged = True
                        break
                    if dy_norm_old >= 0.0:
                        rate = dy_norm / dy_norm_old
                        if rate >= 1.0 or rate ** (NEWTON_MAXITER - k) / (1.0 - rate) * dy_norm > newton_tol:
                            break
                        if rate / (1.0 - rate) * dy_norm < newton_tol:
                            converged = True
                            break
                    dy_norm_old = dy_norm
                if converged:
                    break

            if converged:
                slow_last = n_iter >= 3
                safety = 0.9 * (2 * NEWTON_MAXITER + 1) / (2 * NEWTON_MAXITER + n_iter)
                for i in range(n):
                    scale[i] = atol[i] + rtol * abs(y_new[i])
                error_norm = _rms(d, scale) * errc[order]
                if error_norm <= 1.0:
                    break
                factor = max(MIN_FACTOR, safety * error_norm ** (-1.0 / (order + 1)))
            else:
                factor = 0.5
                lu_valid = False
            # Rejected: retry with a smaller step (the factorisation is kept after an
            # error-test failure; the drift test on c decides, as in CVODE).
            h *= factor
            _change_d(D, order, factor)
            n_equal_steps = 0
            stats[1] += 1

        # ---- accepted
        stats[0] += 1
        steps_since_lu += 1
        t = t_new
        y[:] = y_new
        for i in range(n):
            D[order + 2, i] = d[i] - D[order + 1, i]
            D[order + 1, i] = d[i]
        for i in range(order, -1, -1):
            D[i] += D[i + 1]

        # Guard against an unstable truncation before anything is reported.
        mx = 0.0
        for a in range(3):
            acc = 0.0
            for i in range(n_obs):
                acc += w_moment[a, i] * y[obs_idx[i]]
            mx += acc * acc
        if not (np.sqrt(mx) <= BLOWUP):
            return BLOWN_UP, y

        # Dense output on the samples in (t_old, t].
        while next_sample < n_samples and sample_times[next_sample] <= t:
            _observe(D, order, h, t, sample_times[next_sample], obs_idx, w_moment, out_m, out_dm, next_sample)
            next_sample += 1
        if t >= t_end:
            break

        # ---- order and step-size selection (every order+1 equal steps)
        n_equal_steps += 1
        if n_equal_steps < order + 1:
            continue
        error_m_norm = _rms(D[order], scale) * errc[order - 1] if order > 1 else np.inf
        error_p_norm = _rms(D[order + 2], scale) * errc[order + 1] if order < max_order else np.inf
        f_m = error_m_norm ** (-1.0 / order) if error_m_norm > 0 else np.inf
        f_0 = error_norm ** (-1.0 / (order + 1)) if error_norm > 0 else np.inf
        f_p = error_p_norm ** (-1.0 / (order + 2)) if error_p_norm > 0 else np.inf
        delta = 0
        best = f_0
        if f_m > best:
            delta = -1
            best = f_m
        if f_p > best:
            delta = 1
            best = f_p
        factor = min(MAX_FACTOR, safety * best)
        if delta == 0 and factor < KEEP_STEP:
            n_equal_steps = 0
            continue  # keep h and the factorisation
        order += delta
        h *= factor
        _change_d(D, order, factor)
        n_equal_steps = 0

    return OK, y
