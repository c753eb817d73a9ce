"""A measured receive transfer function in the fits: one complex gain per receive channel and one delay.

The paper fits a free complex gain per row (eq. 15), which absorbs any receive chain, and with it how the
harmonics fall off. With a measured transfer function H the model row is instead

    S_ϑ,c,k ≈ g_c · H_c(f_k) · q(f_k) · e^(−2πi f_k τ) · Φ_ϑ,c,k,

q = 1 when H applies to the induced signal, i.e. the rate d⟨m⟩/dt that the dictionary rows Φ hold, and
q = 1/(2πi f) when it applies to the moment (H then includes the induction). Per receive channel one
gain g_c, for all angles and frequencies one delay τ. For a given τ the gains are closed-form weighted
least squares with the weights of ε_global (eqs. 20–22), so ε_global is minimised exactly; τ is found on a
grid over one drive period (the rows are periodic) and refined by a bounded scalar search.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize_scalar

from ..io.receive_chain import APPLIED_TO, TransferTable
from .inputs import CHUNK_BYTES, dictionary_inputs, entry_blocks, row_mask, row_weights
from .metrics import epsilon_freq, epsilon_global, row_error
from .results import py_value

#: delay grid points per period of the highest evaluated harmonic (phase step 2π/32 there)
GRID_PER_CYCLE = 32


@dataclass
class ReceiveFit:
    """One way of applying the measured transfer function, fitted: gains, delay and the errors."""

    channels: tuple  # file channel per receive channel
    applied_to: str
    delay: float  # s
    gain: np.ndarray  # (C,) complex
    eps: np.ndarray = field(repr=False)  # (A, C, F) row errors
    eps_freq: np.ndarray = field(repr=False)  # (F,)
    eps_global: float = float("nan")

    def describe(self) -> str:
        chans = ", ".join(str(c) for c in self.channels)
        return (f"file channel{'s' if len(self.channels) > 1 else ''} {chans} on the {self.applied_to}, "
                f"delay {self.delay * 1e6:+.3f} µs: ε_global {self.eps_global:.4g}")

    def to_dict(self) -> dict:
        return {"channels": [int(c) for c in self.channels], "applied_to": self.applied_to,
                "delay_us": self.delay * 1e6, "gain_abs": [float(abs(g)) for g in self.gain],
                "gain_phase_deg": [float(np.degrees(np.angle(g))) for g in self.gain],
                "eps_global": float(self.eps_global)}


def fit_weights(S: np.ndarray, rows=None) -> np.ndarray:
    """(A, C, F) weights W with Σ W·‖S − model‖² = ε_global² (eqs. 20–22): 1/(N ‖S‖∞²) (the square of
    :func:`~mpisweep.fitting.inputs.row_weights`, over N) over the number of rows averaged at the row's frequency
    and the number of frequencies; 0 for rows left out."""
    a, c, f, n = S.shape
    used = np.ones((c, f), bool) if rows is None else np.asarray(rows, bool)
    per_freq = a * used.sum(axis=0)  # rows averaged at each frequency
    scale = np.zeros(f)
    np.divide(1.0, per_freq * f, out=scale, where=per_freq > 0)
    return row_weights(S, rows) ** 2 / n * scale


class _DelaySearch:
    """J(τ) = Σ_c |Σ_k B_c,k e^(2πi f_k τ)|² / D_c for one or many entries, on a grid over one period."""

    def __init__(self, bins, period: float):
        self.bins = np.asarray(bins, float)
        self.period = float(period)
        m = int(GRID_PER_CYCLE * max(1.0, self.bins.max()))
        self.taus = np.arange(m) * self.period / m
        self.phasors = np.exp(2j * np.pi * np.outer(self.bins, self.taus) / self.period)  # (F, M)

    def objective(self, b: np.ndarray, d: np.ndarray, tau: float) -> float:
        """J at one τ for one entry: b (C, F), d (C,)."""
        amp = b @ np.exp(2j * np.pi * self.bins * tau / self.period)
        return float(np.sum(_ratio(np.abs(amp) ** 2, d)))

    def grid(self, b: np.ndarray, d: np.ndarray) -> np.ndarray:
        """J on the τ grid: b (..., C, F), d (..., C) → (..., M)."""
        amp = b @ self.phasors
        return np.sum(_ratio(amp.real**2 + amp.imag**2, d[..., None]), axis=-2)

    def best(self, b: np.ndarray, d: np.ndarray) -> float:
        """τ in [−T/2, T/2) that maximises J for one entry (grid, then a bounded scalar search)."""
        j = self.grid(b, d)
        t0 = self.taus[int(np.argmax(j))]
        step = self.taus[1] - self.taus[0] if self.taus.size > 1 else self.period
        res = minimize_scalar(lambda t: -self.objective(b, d, t), bounds=(t0 - step, t0 + step),
                              method="bounded", options={"xatol": step * 1e-6})
        tau = float(res.x) if -res.fun >= j.max() else float(t0)
        return (tau + self.period / 2) % self.period - self.period / 2


def _ratio(num, den):
    out = np.zeros(np.broadcast_shapes(np.shape(num), np.shape(den)))
    np.divide(num, den, out=out, where=np.broadcast_to(den, out.shape) > 0)
    return out


def _sums(S, phi, W, h):
    """B (…, C, F) = Σ_ϑ W conj(h) ⟨S, Φ⟩ and D (…, C) = Σ_ϑ,k W |h|² ‖Φ‖² for model rows Φ (…, A, C, F, N)."""
    with np.errstate(invalid="ignore", over="ignore"):
        cross = np.vecdot(phi, S)  # Σ conj(Φ) S
        p = np.vecdot(phi, phi).real
    b = np.sum(W * np.conj(h) * cross, axis=-3)
    d = np.sum(W * np.abs(h) ** 2 * p, axis=(-3, -1))
    return b, d


def fit_receive(S, phi, h, bins, period: float, rows=None) -> tuple[float, np.ndarray, np.ndarray]:
    """Delay τ (s), gains g (C,) and row errors (A, C, F) of S ≈ g_c h_c,k e^(−2πi f_k τ) Φ.

    S, phi: (A, C, F, N) measured and model rows; h: (C, F) the transfer function's response (H·q);
    bins: the rfft bins k of the F frequencies, f_k = k / period.
    """
    W = fit_weights(S, rows)
    b, d = _sums(S, phi, W, h)
    search = _DelaySearch(bins, period)
    tau = search.best(b, d)
    shift = np.exp(-2j * np.pi * np.asarray(bins, float) * tau / period)
    gain = _ratio(1.0, d) * np.sum(b * np.conj(shift), axis=-1)  # g_c = Σ_k B_c,k e^(2πi f τ) / D_c
    model = (gain[:, None] * h * shift)[None, :, :, None] * phi
    return tau, gain, row_error(S, model)


def compare_receive(S, phi, table: TransferTable, bins, period: float, rows=None, channels=None,
                    applied_to=None) -> list[ReceiveFit]:
    """Every way of applying `table` to the rows of one model, fitted and sorted best first.

    channels: the file channel per receive channel (None: each file channel for each receive channel);
    applied_to: "moment", "rate" or None (both).
    """
    import itertools

    S = np.asarray(S)
    n_rx = S.shape[1]
    rows = row_mask(rows, n_rx, S.shape[2])
    freqs = np.asarray(bins, float) / period
    assignments = ([tuple(int(c) for c in channels)] if channels is not None
                   else list(itertools.product(range(table.n_channels), repeat=n_rx)))
    fits = []
    for chans in assignments:
        for how in ([applied_to] if applied_to else APPLIED_TO):
            tau, gain, eps = fit_receive(S, phi, table.response(chans, how, freqs), bins, period, rows)
            ef = epsilon_freq(eps, rows=rows)
            fits.append(ReceiveFit(tuple(chans), how, tau, gain, eps, ef, float(epsilon_global(ef))))
    return sorted(fits, key=lambda r: r.eps_global)


@dataclass
class MeasuredTransferM1:
    """M1 with a measured transfer function: ε_global over (D, K) and the best entry's fit."""

    diameters: np.ndarray
    anisotropies: np.ndarray
    parameter: str
    eps_global: np.ndarray  # (nD, nK), the delay on the grid (within a phase step of 2π/32 at the top bin)
    best_index: tuple
    fit: ReceiveFit  # at the best entry, the delay refined

    @property
    def best_diameter(self):
        return py_value(self.diameters[self.best_index[0]])

    @property
    def best_anisotropy(self):
        return py_value(self.anisotropies[self.best_index[1]])


def fit_m1_measured_transfer(measured, dictionary, bins, period: float, table: TransferTable, channels,
                             applied_to: str, rows=None, chunk_bytes: int = CHUNK_BYTES) -> MeasuredTransferM1:
    """M1 (paper eq. 10) with the measured transfer function in place of eq. 15's free gain per row:
    every entry gets its own gains and delay; the best entry by ε_global, its delay refined."""
    k, _, _, dic, S, _, _ = dictionary_inputs(measured, dictionary, bins)
    a, c, f, _ = S.shape
    rows = row_mask(rows, c, f)
    W = fit_weights(S, rows)
    h = table.response(channels, applied_to, k / period)
    s2 = float(np.sum(W * np.vecdot(S, S).real))
    search = _DelaySearch(k, period)
    n_d, n_k = dic.size["diameter"], dic.size["anisotropy"]
    pos = dic.freq_positions(k)
    emap = np.full((n_d, n_k), np.nan)
    for dsl, ksl in entry_blocks(n_d, n_k, 16 * a * c * f * S.shape[-1], chunk_bytes):
        phi = dic.read(diameter=dsl, anisotropy=ksl, frequency=pos)
        b, d = _sums(S, phi, W, h)
        del phi
        with np.errstate(invalid="ignore"):
            emap[dsl, ksl] = np.sqrt(np.maximum(s2 - search.grid(b, d).max(axis=-1), 0.0))
    emap[~np.isfinite(emap)] = np.nan
    if np.isnan(emap).all():
        raise ValueError("dictionary: no (diameter, anisotropy) entry gives a finite error")
    bi, bk = np.unravel_index(int(np.nanargmin(emap)), emap.shape)
    phi = dic.read(diameter=int(bi), anisotropy=int(bk), frequency=pos)
    tau, gain, eps = fit_receive(S, phi, h, k, period, rows)
    ef = epsilon_freq(eps, rows=rows)
    best = ReceiveFit(tuple(channels), applied_to, tau, gain, eps, ef, float(epsilon_global(ef)))
    return MeasuredTransferM1(dic.coord("diameter"), dic.coord("anisotropy"), dic.alias["anisotropy"], emap,
                              (int(bi), int(bk)), best)
