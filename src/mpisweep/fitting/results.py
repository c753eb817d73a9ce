"""Result classes of the fits M0, M0a, M1, M2, M3: best-fit fields and their tidy tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..units import ORDER_NAMES
from .ranks import parse_rank


def py_value(v):
    """numpy scalar → plain Python value (for JSON)."""
    if isinstance(v, np.generic):
        return v.item()
    return v



@dataclass
class _Common:
    bins: np.ndarray  # (F,) rfft bins of the evaluation set
    orders: np.ndarray | None  # (F, n) mixing orders (mx[, my[, mz]]), one per drive channel, or None
    angles: np.ndarray  # (A,) angle coordinate (or index)
    channels: np.ndarray  # (C,) channel coordinate (or index)

    def _freq_cols(self, i: int) -> dict:
        row = {"bin": int(self.bins[i])}
        if self.orders is not None:
            row.update({name: int(m) for name, m in zip(ORDER_NAMES, self.orders[i])})
        return row

    def _freq_rows(self, eps_freq: np.ndarray, extra: dict) -> list[dict]:
        return [{**extra, **self._freq_cols(i), "eps_freq": float(e)} for i, e in enumerate(eps_freq)]

    def _row_rows(self, eps: np.ndarray, extra: dict, transfer: np.ndarray | None) -> list[dict]:
        rows = []
        for a, ang in enumerate(self.angles):
            for c, ch in enumerate(self.channels):
                for f in range(len(self.bins)):
                    r = {**extra, "angle": py_value(ang), "channel": py_value(ch), **self._freq_cols(f),
                         "eps": float(eps[a, c, f])}
                    if transfer is not None:
                        t = transfer[a, c, f]
                        r["transfer_re"], r["transfer_im"] = float(t.real), float(t.imag)
                    rows.append(r)
        return rows


@dataclass
class _BestFit(_Common):
    """What M0 and M1 report at their best entry: transfer functions, model, row errors."""

    transfer: np.ndarray = field(default=None, repr=False)
    model: np.ndarray = field(default=None, repr=False)
    eps: np.ndarray = field(default=None, repr=False)
    eps_freq: np.ndarray = field(default=None, repr=False)
    eps_global_best: float = float("nan")

    def freq_table(self) -> list[dict]:
        """Tidy rows: ε_freq per evaluation bin of the fitted model (M0, M1)."""
        return self._freq_rows(self.eps_freq, {"model": self.MODEL})

    def row_table(self) -> list[dict]:
        """Tidy rows: ε and â per (angle, channel, bin) of the fitted model (M0, M1)."""
        return self._row_rows(self.eps, {"model": self.MODEL}, self.transfer)


@dataclass
class FitM0Result(_BestFit):
    """Equilibrium (Langevin) model M0: one diameter, a transfer function per (angle, channel, k).

    Shapes: A angles, C receive channels, F evaluation bins, N offsets, nD diameters.

    Attributes
    ----------
    bins : numpy.ndarray
        (F,) the evaluation rfft bins.
    orders : numpy.ndarray or None
        (F, n) their mixing orders (mx[, my[, mz]]), one column per drive channel.
    angles : numpy.ndarray
        (A,) the angle coordinate (degrees) or index.
    channels : numpy.ndarray
        (C,) the receive-channel coordinate or index.
    diameters : numpy.ndarray
        (nD,) the dictionary's diameters (nm as stored).
    eps_global : numpy.ndarray
        (nD,) ε_global per diameter (paper eq. 22).
    best_index : int
        Index of the best diameter; ``best_diameter`` is its value.
    best_diameter : float
        The best diameter.
    transfer : numpy.ndarray
        (A, C, F) complex transfer functions â at the best diameter (eq. 15).
    model : numpy.ndarray
        (A, C, F, N) complex model rows â·Φ_D.
    eps : numpy.ndarray
        (A, C, F) row errors; ``eps_freq`` (F,) per bin (eqs. 20–21).
    eps_freq : numpy.ndarray
        (F,) error per evaluation bin.
    eps_global_best : float
        ε_global of ``model``.
    """

    MODEL = "M0"
    diameters: np.ndarray = field(default=None)
    eps_global: np.ndarray = field(default=None)
    best_index: int = 0
    best_diameter: Any = None

    def to_table(self) -> list[dict]:
        """Tidy rows: one per diameter with its ε_global."""
        return [
            {"model": "M0", "diameter": py_value(d), "eps_global": float(e), "best": i == self.best_index}
            for i, (d, e) in enumerate(zip(self.diameters, self.eps_global))
        ]

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return {
            "model": "M0",
            "best_index": int(self.best_index),
            "best_diameter": py_value(self.best_diameter),
            "eps_global": float(self.eps_global_best),
            "bins": self.bins.tolist(),
            "eps_freq": [float(e) for e in self.eps_freq],
            "scan": self.to_table(),
        }


@dataclass
class FitM1Result(_BestFit):
    """Monodisperse model M1: one (D, K), a transfer function per (angle, channel, k).

    Shapes: A angles, C receive channels, F evaluation bins, N offsets, nD × nK entries.

    Attributes
    ----------
    bins : numpy.ndarray
        (F,) the evaluation rfft bins.
    orders : numpy.ndarray or None
        (F, n) their mixing orders (mx[, my[, mz]]), one column per drive channel.
    angles : numpy.ndarray
        (A,) the angle coordinate (degrees) or index.
    channels : numpy.ndarray
        (C,) the receive-channel coordinate or index.
    diameters : numpy.ndarray
        (nD,) the dictionary's diameters (nm as stored).
    anisotropies : numpy.ndarray
        (nK,) its second axis: K in J/m³, or D_h in nm for a Brownian dictionary.
    parameter : str
        The second axis' name, ``"anisotropy"`` or ``"hydrodynamic_diameter"``.
    eps_global : numpy.ndarray
        (nD, nK) ε_global map (closed-form residual; values below ~1e-7 are at the rounding floor
        of ‖S‖² − |⟨S,Φ⟩|²/‖Φ‖²; NaN for entries not simulated).
    best_index : tuple of int
        (iD, iK) of the minimum (the first in C order on ties).
    best_diameter, best_anisotropy : float
        The best entry's values.
    transfer : numpy.ndarray
        (A, C, F) complex transfer functions at the best entry (eq. 15).
    model : numpy.ndarray
        (A, C, F, N) complex model rows of the best entry.
    eps : numpy.ndarray
        (A, C, F) row errors.
    eps_freq : numpy.ndarray
        (F,) error per evaluation bin.
    eps_global_best : float
        ε_global recomputed from the explicit residual at the best entry.
    """

    MODEL = "M1"
    diameters: np.ndarray = field(default=None)
    anisotropies: np.ndarray = field(default=None)  # second axis: K (J/m³), or D_h (nm) of a Brownian dictionary
    parameter: str = "anisotropy"  # the second axis' name (mpisweep.fitting.inputs.SECOND_AXES)
    eps_global: np.ndarray = field(default=None, repr=False)
    best_index: tuple = (0, 0)
    best_diameter: Any = None
    best_anisotropy: Any = None

    def to_table(self) -> list[dict]:
        """Tidy rows: one per (diameter, anisotropy) with its ε_global (the second axis under its own name)."""
        rows = []
        for i, d in enumerate(self.diameters):
            for j, k in enumerate(self.anisotropies):
                e = self.eps_global[i, j]
                rows.append({
                    "model": self.MODEL, "diameter": py_value(d), self.parameter: py_value(k),
                    "eps_global": float(e), "best": (i, j) == tuple(self.best_index),
                })
        return rows

    def to_dict(self) -> dict:
        return {
            "model": self.MODEL,
            "best_index": [int(i) for i in self.best_index],
            "best_diameter": py_value(self.best_diameter),
            f"best_{self.parameter}": py_value(self.best_anisotropy),
            "eps_global": float(self.eps_global_best),
            "bins": self.bins.tolist(),
            "eps_freq": [float(e) for e in self.eps_freq],
        }


@dataclass
class FitM0aResult(FitM1Result):
    """Anisotropic-equilibrium model M0a: the fields of :class:`FitM1Result`, fitted like M1 (best
    (D, K), a transfer function per (angle, channel, k)) on the static Boltzmann dictionary."""

    MODEL = "M0a"


class _RankedWeights:
    """What M2 and M3 share: weights (R, nD, nK) per requested rank, and their tidy tables."""

    @property
    def n_entries(self) -> int:
        return len(self.diameters) * len(self.anisotropies)

    @property
    def rank_fractions(self) -> list[float]:
        """Each requested rank as a fraction of J (a count s as s / J)."""
        specs = [parse_rank(r) for r in self.requested]
        return [s / self.n_entries if isinstance(s, int) else s for s in specs]

    def _rank_cols(self, r: int) -> dict:
        return {"model": self.MODEL, "rank": int(self.ranks[r]), "rank_fraction": self.rank_fractions[r]}

    @property
    def shown_weights(self) -> np.ndarray:
        """The weights (R, nD, nK) with NaN for the excluded entries (a dictionary's missing blocks: not
        simulated, so neither weight 0 nor any other value)."""
        w = np.asarray(self.weights, float)
        return w if self.excluded is None else np.where(self.excluded[None], np.nan, w)

    def weights_table(self) -> list[dict]:
        """Tidy rows: one per (rank, diameter, anisotropy) with its weight (paper Fig. 4); NaN (an empty
        cell) for an excluded entry."""
        rows = []
        shown = self.shown_weights
        for r in range(len(self.ranks)):
            for i, d in enumerate(self.diameters):
                for j, k in enumerate(self.anisotropies):
                    w = float(shown[r, i, j])
                    rows.append({**self._rank_cols(r), "diameter": float(d), self.parameter: float(k),
                                 "weight": None if np.isnan(w) else w})
        return rows

    def largest_weights(self, r: int, n: int = 5) -> list[dict]:
        """The n largest non-zero weights of rank r, largest first."""
        w = self.weights[r]
        order = zip(*np.unravel_index(np.argsort(w, axis=None)[::-1][:n], w.shape))
        return [{"diameter": float(self.diameters[a]), self.parameter: float(self.anisotropies[b]),
                 "weight": float(w[a, b])}
                for a, b in order if w[a, b] > 0]

    def freq_table(self) -> list[dict]:
        rows = []
        for r in range(len(self.ranks)):
            rows += self._freq_rows(self.eps_freq[r], self._rank_cols(r))
        return rows


@dataclass
class FitM2Result(_RankedWeights, _Common):
    """Polydisperse model M2 (TSVD-regularised non-negative weights), one slice per rank.

    Shapes: R ranks, A angles, C receive channels, F evaluation bins, N offsets, nD × nK = J entries.

    Attributes
    ----------
    bins : numpy.ndarray
        (F,) the evaluation rfft bins.
    orders : numpy.ndarray or None
        (F, n) their mixing orders (mx[, my[, mz]]), one column per drive channel.
    angles : numpy.ndarray
        (A,) the angle coordinate (degrees) or index.
    channels : numpy.ndarray
        (C,) the receive-channel coordinate or index.
    diameters, anisotropies : numpy.ndarray
        (nD,), (nK,) the dictionary's axes (the second is D_h for a Brownian dictionary).
    parameter : str
        The second axis' name.
    svd : str
        ``"complex"`` or ``"real"``.
    requested : list
        The rank specs as given (counts or fractions of J).
    ranks : numpy.ndarray
        (R,) the number s of singular values kept.
    effective_ranks : numpy.ndarray
        (R,) s actually used (capped at the number of resolvable singular values).
    weights : numpy.ndarray
        (R, nD, nK) weights ≥ 0.
    model : numpy.ndarray
        (R, A, C, F, N) complex model rows Σ_q w_q Ψ_q.
    eps : numpy.ndarray
        (R, A, C, F) row errors.
    eps_freq : numpy.ndarray
        (R, F) error per bin.
    eps_global : numpy.ndarray
        (R,) ε_global per rank.
    singular_values : numpy.ndarray
        (J,) of the weighted stacked matrix M, descending.
    excluded : numpy.ndarray
        (nD, nK) entries left out (non-finite dictionary values, e.g. blocks not simulated).
    """

    diameters: np.ndarray = field(default=None)
    anisotropies: np.ndarray = field(default=None)  # second axis: K (J/m³), or D_h (nm) of a Brownian dictionary
    parameter: str = "anisotropy"  # the second axis' name (mpisweep.fitting.inputs.SECOND_AXES)
    svd: str = "complex"
    requested: list = field(default_factory=list)
    ranks: np.ndarray = field(default=None)
    effective_ranks: np.ndarray = field(default=None)
    weights: np.ndarray = field(default=None, repr=False)
    model: np.ndarray = field(default=None, repr=False)
    eps: np.ndarray = field(default=None, repr=False)
    eps_freq: np.ndarray = field(default=None, repr=False)
    eps_global: np.ndarray = field(default=None)
    singular_values: np.ndarray = field(default=None, repr=False)
    excluded: np.ndarray = field(default=None, repr=False)

    MODEL = "M2"

    def to_table(self) -> list[dict]:
        """Tidy rows: one per rank (paper Table 1)."""
        return [
            {
                **self._rank_cols(r), "svd": self.svd, "requested": py_value(self.requested[r]),
                "rank_percent": 100.0 * int(self.ranks[r]) / self.n_entries,
                "effective_rank": int(self.effective_ranks[r]), "eps_global": float(self.eps_global[r]),
                "n_nonzero": int(np.count_nonzero(self.weights[r])), "weight_sum": float(self.weights[r].sum()),
            }
            for r in range(len(self.ranks))
        ]

    def row_table(self) -> list[dict]:
        rows = []
        for r in range(len(self.ranks)):
            rows += self._row_rows(self.eps[r], self._rank_cols(r), None)
        return rows

    def to_dict(self) -> dict:
        return {
            "model": "M2",
            "svd": self.svd,
            "bins": self.bins.tolist(),
            "ranks": self.to_table(),
            "singular_values": [float(s) for s in self.singular_values],
            "excluded": int(np.count_nonzero(self.excluded)),
        }


@dataclass
class FitM3Result(_RankedWeights, _Common):
    """Model M3: one transfer function per (channel, k) shared by all entries and angles, weights
    w ≥ 0 over (D, K) with Σw = 1; one solution per TSVD rank (all with the same L2 parameter).

    Shapes: R ranks, A angles, C receive channels, F evaluation bins, N offsets, nD × nK = J entries.

    Attributes
    ----------
    bins : numpy.ndarray
        (F,) the evaluation rfft bins.
    orders : numpy.ndarray or None
        (F, n) their mixing orders (mx[, my[, mz]]), one column per drive channel.
    angles : numpy.ndarray
        (A,) the angle coordinate (degrees) or index.
    channels : numpy.ndarray
        (C,) the receive-channel coordinate or index.
    diameters, anisotropies : numpy.ndarray
        (nD,), (nK,) the dictionary's axes (the second is D_h for a Brownian dictionary).
    parameter : str
        The second axis' name.
    requested, ranks, effective_ranks
        As :class:`FitM2Result` (the effective rank of the last w-step).
    l2 : float
        The L2 parameter λ.
    tol : float
        The weight-change tolerance.
    weights : numpy.ndarray
        (R, nD, nK) weights ≥ 0 with Σw = 1.
    transfer : numpy.ndarray
        (R, C, F) the shared complex transfer function a_ck.
    model : numpy.ndarray
        (R, A, C, F, N) complex model rows a_ck Σ_q w_q Φ_q.
    eps : numpy.ndarray
        (R, A, C, F) row errors.
    eps_freq : numpy.ndarray
        (R, F) error per bin.
    eps_global : numpy.ndarray
        (R,) ε_global per rank.
    iterations : numpy.ndarray
        (R,) alternating steps taken.
    converged : numpy.ndarray
        (R,) whether the weights settled within ``tol``.
    history : list
        Per rank, one dict per iteration (iteration, objective, misfit, eps_global, weight_change).
    initial_index : tuple of int
        (iD, iK) of the starting entry.
    excluded : numpy.ndarray
        (nD, nK) entries left out (non-finite dictionary values).
    """

    diameters: np.ndarray = field(default=None)
    anisotropies: np.ndarray = field(default=None)  # second axis: K (J/m³), or D_h (nm) of a Brownian dictionary
    parameter: str = "anisotropy"  # the second axis' name (mpisweep.fitting.inputs.SECOND_AXES)
    requested: list = field(default_factory=list)
    ranks: np.ndarray = field(default=None)
    effective_ranks: np.ndarray = field(default=None)
    l2: float = 0.0
    tol: float = 0.0
    weights: np.ndarray = field(default=None, repr=False)
    transfer: np.ndarray = field(default=None, repr=False)
    model: np.ndarray = field(default=None, repr=False)
    eps: np.ndarray = field(default=None, repr=False)
    eps_freq: np.ndarray = field(default=None, repr=False)
    eps_global: np.ndarray = field(default=None)
    iterations: np.ndarray = field(default=None)
    converged: np.ndarray = field(default=None)
    history: list = field(default_factory=list, repr=False)
    initial_index: tuple = (0, 0)
    excluded: np.ndarray = field(default=None, repr=False)

    MODEL = "M3"

    @property
    def best(self) -> int:
        """Position of the rank with the lowest ε_global (ties: the first)."""
        return int(np.nanargmin(self.eps_global))

    def to_table(self) -> list[dict]:
        """Tidy rows: one per rank."""
        return [
            {
                **self._rank_cols(r), "requested": py_value(self.requested[r]),
                "rank_percent": 100.0 * int(self.ranks[r]) / self.n_entries,
                "effective_rank": int(self.effective_ranks[r]), "l2": self.l2,
                "eps_global": float(self.eps_global[r]),
                "n_nonzero": int(np.count_nonzero(self.weights[r])), "weight_sum": float(self.weights[r].sum()),
                "iterations": int(self.iterations[r]), "converged": bool(self.converged[r]),
            }
            for r in range(len(self.ranks))
        ]

    def iteration_table(self) -> list[dict]:
        """Tidy rows: the iteration log, one per (rank, iteration)."""
        rows = []
        for r, hist in enumerate(self.history):
            for h in hist:
                rows.append({**self._rank_cols(r), "iteration": int(h["iteration"]), "objective": float(h["objective"]),
                             "misfit": float(h["misfit"]), "eps_global": float(h["eps_global"]),
                             "weight_change": float(h["weight_change"])})
        return rows

    def row_table(self) -> list[dict]:
        """Tidy rows per (rank, angle, channel, bin): ε and the shared a_ck (equal for every angle)."""
        rows = []
        for r in range(len(self.ranks)):
            transfer = np.broadcast_to(self.transfer[r][None], self.eps[r].shape)
            rows += self._row_rows(self.eps[r], self._rank_cols(r), transfer)
        return rows

    def to_dict(self) -> dict:
        return {
            "model": "M3",
            "l2": self.l2,
            "tol": self.tol,
            "bins": self.bins.tolist(),
            "initial_index": [int(i) for i in self.initial_index],
            "ranks": self.to_table(),
            "excluded": int(np.count_nonzero(self.excluded)),
        }
