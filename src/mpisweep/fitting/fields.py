"""Field calibration: the scales of the offset and drive fields and the offsets' centre (and, where asked for, how
the drive amplitude and the receive sensitivity vary over the offsets), fitted jointly with M3's weights.

Real scanners apply fields a few per cent off what their files state (Maass et al. 2024 had to fit
gradient scales of 1.05–1.15 to a Bruker scanner's system matrices). The rows Φ_j(θ) of a few
candidate entries depend on the scales θ through the fields the particles see, and θ enters M3's
objective (paper eq. 16 with the shared transfer function of :func:`~mpisweep.fitting.fit_m3`):

    min_{θ, a, w ≥ 0, Σw = 1}  Σ_{ϑck} ρ²_ϑck ‖S_ϑck − a_ck Σ_j w_j Φ_j,ϑck(θ)‖².

Every Φ_j(θ) costs a simulation, so θ is found by a quasi-Newton (chord) iteration on the rows:
forward differences give ∂Φ_j/∂θ_p once (one simulation per entry and scale, one for an offset axis's
scale and centre together; or the caller supplies them, e.g. from a neighbouring entry's last fit); each
iteration fits θ on the linearisation Φ_j(θ_k) + Σ_p ∂Φ_j/∂θ_p (θ_p − θ_k,p), with a and w solved for
every trial θ (variable projection), simulates the entries at the new θ (one simulation per entry) and
corrects the derivatives with Broyden's secant update, until the scales or ε_global stop moving. The
simulations are supplied by the caller, so this module knows nothing of the solver.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

from .m3 import _als, _initial_entry, _Problem
from .metrics import transfer_function

AXES = "xyz"


#: how the drive amplitude and the receive sensitivity vary along an offset axis: the coefficients of ô and ô²
#: (ô = the stated offset over the axis's largest stated offset), fitted where fit.fields asks for them
PROFILES = ("drive slope", "drive curvature", "sensitivity slope", "sensitivity curvature")


@dataclass(frozen=True)
class FieldParameter:
    """One unknown of the field calibration: the scale of an offset axis or of a drive channel, the centre
    of an offset axis (where the field-free point is), or a coefficient of how the drive amplitude or the
    receive sensitivity varies along an offset axis (:data:`PROFILES`). Every θ is 1 at the stated fields: a
    centre's θ moves the offsets along its axis by (θ − 1) × the axis's largest stated offset; a profile's θ − 1
    is its coefficient."""

    kind: str  # "offset", "drive", "centre" or one of PROFILES
    axis: int  # offset axis (0, 1, 2 = x, y, z) or drive channel

    @property
    def name(self) -> str:
        return f"{self.kind} {AXES[self.axis]}"

    @property
    def shift(self) -> bool:
        """Stated 0 (θ − 1 is reported), not a scale stated 1."""
        return self.kind == "centre" or self.kind in PROFILES


def field_parameters(offsets, amplitudes, drive_profile: int = 0, sensitivity: int = 0) -> tuple[FieldParameter, ...]:
    """The unknowns the data can determine: the scale and the centre of every offset axis along which the
    grid varies, the scale of every drive channel with a non-zero amplitude; and, along each such offset axis,
    the drive amplitude's and the receive sensitivity's variation as polynomials of degree `drive_profile` and
    `sensitivity` (0: none; 1: slope; 2: slope and curvature)."""
    flat = np.asarray(offsets, dtype=float).reshape(-1, 3)
    axes = [i for i in range(3) if np.ptp(flat[:, i]) > 0]
    drive = [i for i, a in enumerate(amplitudes) if a > 0]
    profiles = [FieldParameter(kind, i) for i in axes
                for kind, degree in zip(PROFILES, (1, 2, 1, 2))
                if degree <= (drive_profile if kind.startswith("drive") else sensitivity)]
    return tuple([FieldParameter("offset", i) for i in axes] + [FieldParameter("drive", i) for i in drive]
                 + [FieldParameter("centre", i) for i in axes] + profiles)


@dataclass(frozen=True)
class FieldChange:
    """θ as the fields change: offset scale and centre shift (a fraction of the axis's largest stated offset)
    per axis x, y, z; drive scale per channel; per axis x, y, z the (slope, curvature) of the drive amplitude's
    and of the receive sensitivity's relative change over ô."""

    offsets: tuple[float, ...]
    drive: tuple[float, ...]
    centre: tuple[float, ...]
    drive_profile: tuple[tuple[float, float], ...] = ((0.0, 0.0),) * 3
    sensitivity: tuple[tuple[float, float], ...] = ((0.0, 0.0),) * 3


def scales(parameters, theta, n_drive: int) -> FieldChange:
    """θ as a :class:`FieldChange`: scales 1, centres and profiles 0 where θ has no entry."""
    change = {"offset": [1.0, 1.0, 1.0], "drive": [1.0] * n_drive, "centre": [0.0, 0.0, 0.0]}
    profile = {"drive": [[0.0, 0.0] for _ in range(3)], "sensitivity": [[0.0, 0.0] for _ in range(3)]}
    for p, value in zip(parameters, theta):
        if p.kind in PROFILES:
            what, order = p.kind.split()
            profile[what][p.axis][order == "curvature"] = float(value) - 1.0
        else:
            change[p.kind][p.axis] = float(value) - (1.0 if p.kind == "centre" else 0.0)
    return FieldChange(tuple(change["offset"]), tuple(change["drive"]), tuple(change["centre"]),
                       tuple(map(tuple, profile["drive"])), tuple(map(tuple, profile["sensitivity"])))


def normalized_offsets(offsets) -> np.ndarray:
    """ô: the offsets (..., 3) over each axis's largest |offset| (0 along an axis without offsets)."""
    offsets = np.asarray(offsets, dtype=float)
    reach = np.abs(offsets.reshape(-1, 3)).max(axis=0)
    return np.divide(offsets, reach, out=np.zeros_like(offsets), where=reach > 0)


def profile(coefficients, normalized) -> np.ndarray:
    """1 + Σ_axis (slope ô + curvature ô²) at normalized stated offsets ô (..., 3): the relative drive amplitude
    or receive sensitivity there."""
    u = np.asarray(normalized, dtype=float)
    c = np.asarray(coefficients, dtype=float)  # (3, 2)
    return 1.0 + np.sum(c[:, 0] * u + c[:, 1] * u**2, axis=-1)


class Mixture:
    """M3 on a few entries held in memory: for rows Φ (J, angle, channel, frequency, offset), the shared
    transfer function a_ck and the weights w ≥ 0, Σw = 1 (fit_m3's alternating least squares, full rank)."""

    def __init__(self, S: np.ndarray, rho: np.ndarray, l2: float = 0.0):
        self.S, self.rho, self.l2 = S, rho, float(l2)
        self.rho2 = rho**2
        self.s = np.einsum("acf,acf->cf", self.rho2, np.vecdot(S, S).real)
        self.used = rho > 0  # (angle, channel, frequency)
        self.count = int(self.used.sum()) * S.shape[-1]  # measured values in the misfit

    def solve(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(w, a) minimising the weighted misfit for these rows."""
        x = np.concatenate([phi.real, phi.imag], axis=-1)
        R = np.einsum("acf,jacfn,kacfn->cfjk", self.rho2, x, x)
        b = np.einsum("acf,jacfn,acfn->cfj", self.rho2, phi.conj(), self.S)
        J = phi.shape[0]
        problem = _Problem(R, b, self.s, np.ones(J, dtype=bool), self.l2)
        w0 = np.zeros(J)
        w0[_initial_entry(R, b, self.s, problem.valid)] = 1.0
        w, a, *_ = _als(problem, J, w0, max_iter=500, tol=1e-10, scale=1.0)
        return w, a

    def residual(self, phi: np.ndarray, w: np.ndarray, a: np.ndarray) -> np.ndarray:
        """ρ (S − a Σ_j w_j Φ_j) on the rows used, as real numbers."""
        return self.weighted(a[None, :, :, None] * np.tensordot(w, phi, axes=1))

    def weighted(self, model: np.ndarray) -> np.ndarray:
        """ρ (S − model) on the rows used, as real numbers (model: angle, channel, frequency, offset)."""
        r = (self.rho[..., None] * (self.S - model))[self.used]
        return np.concatenate([r.real.ravel(), r.imag.ravel()])

    def eps(self, residual: np.ndarray) -> float:
        """ε_global of a residual (the misfit as M3's iteration log reports it, paper eqs. 20–22)."""
        return float(np.sqrt(np.sum(residual**2) / self.count))


def single_residual(mixture: Mixture, phi: np.ndarray) -> np.ndarray:
    """M1's residual of one entry's rows (angle, channel, frequency, offset): a transfer function per row
    (paper eq. 15), weighted by ρ, on the rows used, as real numbers."""
    return mixture.weighted(transfer_function(mixture.S, phi)[..., None] * phi)


@dataclass
class FieldFit:
    """The fitted scales and the M3 mixture of the candidate entries at them."""

    parameters: tuple[FieldParameter, ...]
    theta: np.ndarray  # fitted scales
    sigma: np.ndarray  # their standard errors (residual-scaled Gauss–Newton covariance)
    eps_start: float  # M3's ε_global on the candidates at the starting scales
    eps_fitted: float  # ... at the fitted ones
    weights: np.ndarray  # (J,) M3 weights at the fitted fields
    rows: np.ndarray  # (J, angle, channel, frequency, offset) the candidates' rows at the fitted fields
    derivatives: np.ndarray  # (J, P_free, …) ∂Φ_j/∂θ_p of the free scales, as the secant updates left them
    simulations: int
    converged: bool
    history: list[dict] = field(default_factory=list)


def fit_fields(mixture: Mixture, rows, simulate: Callable[[int, np.ndarray], np.ndarray], parameters, *,
               start=None, free=None, deriv=None, derived=None, step: float = 0.01, bound: float = 0.25,
               max_iter: int = 8, tol: float = 2e-4, min_descent: float = 1e-3, log=None) -> FieldFit:
    """Fit the scales θ of `parameters` jointly with M3's weights over the candidate entries.

    mixture: the measured rows and their weights; rows (J, angle, channel, frequency, offset): the
    candidates' rows at the scales `start` (default 1, the stated fields); simulate(j, θ): candidate j's
    rows at scales θ; free (P,) bool: the scales fitted (default all; the others keep their `start`);
    deriv (J, P_free, …): starting derivatives ∂Φ_j/∂θ_p of the free scales (default: forward differences
    of step `step`, one simulation per entry and free scale, except where `derived` {p: (q, factor)} says
    ∂Φ/∂θ_p = factor · ∂Φ/∂θ_q over the rows' last (offset) axis, as an offset axis's scale and centre both
    move the field the particles see along that axis). The scales stay within 1 ± `bound`. The iteration
    stops when no scale moves by more than `tol`, when an iterate lowers ε_global by less than `min_descent`
    (a fraction of the lowest so far: on noisy data the steps then only wander along the noise), or after
    `max_iter` iterations; the iterate with the lowest ε_global is returned.
    """
    phi = np.array(rows, dtype=np.complex128)
    J, P = phi.shape[0], len(parameters)
    theta = np.ones(P) if start is None else np.asarray(start, dtype=float).copy()
    free = np.ones(P, dtype=bool) if free is None else np.asarray(free, dtype=bool)
    index = np.flatnonzero(free)
    sims = 0

    def full(u):
        t = theta.copy()
        t[index] = u
        return t

    def true_eps(rows):
        w, a = mixture.solve(rows)
        return mixture.eps(mixture.residual(rows, w, a)), w

    eps0, w = true_eps(phi)
    if deriv is None:
        deriv = np.empty((J, index.size) + phi.shape[1:], dtype=np.complex128)
        derived = derived or {}
        column = {int(p): n for n, p in enumerate(index)}
        copied = {p: (column[q], factor) for p, (q, factor) in derived.items()
                  if p in column and q in column and q not in derived}
        for p, n in column.items():
            if p in copied:
                continue
            trial = theta.copy()
            trial[p] += step
            for j in range(J):
                deriv[j, n] = (simulate(j, trial) - phi[j]) / step
                sims += 1
        for p, (m, factor) in copied.items():
            deriv[:, column[p]] = deriv[:, m] * np.asarray(factor)
    else:
        deriv = np.array(deriv, dtype=np.complex128)
    history, converged, fit = [], False, None
    best, best_fit = (eps0, theta.copy(), phi, w), None
    history.append({"iteration": 0, "theta": theta.tolist(), "eps_global": eps0})
    for it in range(1, max_iter + 1):
        anchor, at = phi, theta[index]

        def residual(u, anchor=anchor, at=at):
            rows = anchor + np.einsum("p,jp...->j...", u - at, deriv)
            w, a = mixture.solve(rows)
            return mixture.residual(rows, w, a)

        fit = least_squares(residual, at, bounds=(1 - bound, 1 + bound), diff_step=1e-4, x_scale=0.05)
        du = fit.x - at
        phi = np.stack([simulate(j, full(fit.x)) for j in range(J)])
        sims += J
        predicted = anchor + np.einsum("p,jp...->j...", du, deriv)
        if np.any(du):  # Broyden's secant update of each entry's derivatives
            deriv += np.einsum("j...,p->jp...", phi - predicted, du / (du @ du))
        eps, w = true_eps(phi)
        theta = full(fit.x)
        history.append({"iteration": it, "theta": theta.tolist(), "eps_global": eps})
        if log is not None:
            log(f"field calibration, iteration {it}: "
                + ", ".join(f"{p.name} {v - 1:+.4f}" if p.shift else f"{p.name} {v:.4f}"
                            for p, v in zip(parameters, theta)) + f"; ε_global {eps:.5g}")
        descended = eps < (1 - min_descent) * best[0]
        if eps < best[0]:
            best, best_fit = (eps, theta.copy(), phi, w), fit
        if np.abs(du).max() <= tol or not descended:
            converged = True
            break
    eps, theta, phi, w = best
    fit = best_fit if best_fit is not None else fit  # the linearisation the returned scales came from
    sigma = np.full(P, np.nan)
    if fit is not None:
        jac = np.asarray(fit.jac)
        dof = max(1, jac.shape[0] - index.size)
        cov = np.linalg.pinv(jac.T @ jac) * (np.sum(fit.fun**2) / dof)
        sigma[index] = np.sqrt(np.clip(np.diag(cov), 0, None))
    return FieldFit(tuple(parameters), theta, sigma, eps0, eps, w, phi, deriv, sims, converged, history)
