"""Model fits M0, M1, M2 of Albers et al. 2022 (paper §2.2, eqs. 7–18; error measure §2.3).

Data layout (fixed; numpy arrays or xarray DataArrays with these dimension names):

* ``measured``      (angle, channel, frequency, offset)                       complex
* ``dictionary``    (diameter, anisotropy, angle, channel, frequency, offset) complex  (M1, M2)
* ``dictionary_m0`` (diameter, channel, frequency, offset)                    complex  (M0)

``offset`` is the flattened offset grid (N = ny·nx); its order, the angle order and the
channel order must agree between the measured data and the dictionary (only their lengths
are checked: coordinate units may legitimately differ, e.g. T vs mT or rad vs degree).
DataArrays may have their dimensions in any order; they are transposed by name.

Evaluation frequencies: ``bins`` is an integer array of 0-based rfft bin indices, or the
(mx, my, k) rows returned by :func:`mpisweep.spectra.mixing_bins` (then mx, my are kept for
the tables). Selection rule, applied to each input separately:

* DataArray with an *integer* ``frequency`` coordinate: the bins are looked up by label
  (so a dictionary stored only at the evaluation bins works);
* anything else: the bins are positions along the frequency axis (full rfft layout).

All fits use the closed-form transfer function of :func:`mpisweep.metrics.transfer_function`
and the error measures of :mod:`mpisweep.metrics`. Dictionary entries containing NaN/inf
(e.g. a failed solve) are never selected: they get ε_global = NaN in M0/M1 maps and weight 0
in M2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import scipy.linalg
from scipy.linalg import blas as _blas
from scipy.optimize import nnls

from .metrics import epsilon_freq, epsilon_global, row_error, transfer_function

__all__ = [
    "fit_m0",
    "fit_m1",
    "fit_m2",
    "FitM0Result",
    "FitM1Result",
    "FitM2Result",
    "select_bins",
    "MEASURED_DIMS",
    "DICTIONARY_DIMS",
    "DICTIONARY_M0_DIMS",
]

MEASURED_DIMS = ("angle", "channel", "frequency", "offset")
DICTIONARY_DIMS = ("diameter", "anisotropy", "angle", "channel", "frequency", "offset")
DICTIONARY_M0_DIMS = ("diameter", "channel", "frequency", "offset")

#: Default working-set size for one block of the dictionary (bytes, complex128).
CHUNK_BYTES = 256 * 2**20


# ----------------------------------------------------------------------------- inputs
class _Input:
    """Read access to a numpy array or an xarray DataArray in a fixed dimension order."""

    def __init__(self, x, name: str, dims: tuple[str, ...]):
        self.name, self.dims = name, dims
        self.coords: dict[str, np.ndarray] = {}
        if hasattr(x, "dims") and hasattr(x, "isel") and hasattr(x, "transpose"):
            if sorted(map(str, x.dims)) != sorted(dims):
                raise ValueError(f"{name}: dims {tuple(x.dims)}, expected {dims}")
            self.da, self.arr = x.transpose(*dims), None
            for d in dims:
                if d in x.coords:
                    self.coords[d] = np.asarray(x.coords[d].values)
        else:
            a = x if isinstance(x, np.ndarray) else np.asarray(x)
            if a.ndim != len(dims):
                raise ValueError(f"{name}: expected {len(dims)} axes {dims}, got shape {a.shape}")
            self.da, self.arr = None, a
        dtype = self.da.dtype if self.da is not None else self.arr.dtype
        if not np.issubdtype(dtype, np.number):
            raise ValueError(f"{name}: expected a numeric (complex) array, got dtype {dtype}")
        self.shape = tuple(int(s) for s in (self.da.shape if self.da is not None else self.arr.shape))
        self.size = dict(zip(dims, self.shape))

    def coord(self, dim: str) -> np.ndarray:
        return self.coords.get(dim, np.arange(self.size[dim]))

    def freq_positions(self, bins: np.ndarray) -> np.ndarray | slice:
        """Positions of ``bins`` along the frequency axis (label lookup or positional)."""
        n = self.size["frequency"]
        c = self.coords.get("frequency")
        if c is not None and np.issubdtype(c.dtype, np.integer):
            where = {int(v): i for i, v in enumerate(c)}
            missing = [int(b) for b in bins if int(b) not in where]
            if missing:
                raise ValueError(f"bins: {missing[:5]} not in the frequency coordinate of {self.name}")
            pos = np.array([where[int(b)] for b in bins], dtype=np.intp)
        else:
            if bins.max() >= n:
                raise ValueError(f"bins: bin {int(bins.max())} outside the {n} frequencies of {self.name}")
            pos = bins.astype(np.intp)
        return _as_index(pos)

    def read(self, **index) -> np.ndarray:
        """Block given by integer / slice / integer-array indices per dim, as complex128.

        A view of the input where no conversion or gather is needed: callers must not write to it.
        """
        if self.da is not None:
            out = self.da.isel({k: v for k, v in index.items()}).values
            return np.asarray(out, dtype=np.complex128)
        basic, fancy_dim, fancy = [], None, None
        for d in self.dims:
            v = index.get(d, slice(None))
            if isinstance(v, np.ndarray):
                fancy_dim, fancy = d, v
                v = slice(None)
            basic.append(v)
        block = self.arr[tuple(basic)]
        if fancy is not None:
            kept = [d for d, v in zip(self.dims, basic) if isinstance(v, slice)]
            block = np.take(block, fancy, axis=kept.index(fancy_dim))
        return np.asarray(block, dtype=np.complex128)


def select_bins(bins) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate ``bins``: returns (k, orders) with orders the (mx, my) pairs or None."""
    b = np.asarray(bins)
    orders = None
    if b.ndim == 2 and b.shape[1] == 3:  # rows of mpisweep.spectra.mixing_bins
        orders, b = b[:, :2], b[:, 2]
    if b.ndim != 1 or b.size == 0:
        raise ValueError(f"bins: expected a non-empty 1-D integer array (or (n, 3) mixing_bins rows), got shape {b.shape}")
    if not np.issubdtype(b.dtype, np.integer):
        raise ValueError(f"bins: expected integer rfft bin indices, got dtype {b.dtype}")
    if (b < 0).any():
        raise ValueError("bins: negative bin index")
    if np.unique(b).size != b.size:
        raise ValueError("bins: duplicate bin indices")
    return b.astype(np.int64), (None if orders is None else orders.astype(np.int64))


def _check_match(meas: _Input, dic: _Input, dims: Sequence[str]) -> None:
    for d in dims:
        if meas.size[d] != dic.size[d]:
            raise ValueError(
                f"{dic.name}: {dic.size[d]} entries along '{d}' but {meas.name} has {meas.size[d]}"
            )


def _measured_rows(meas: _Input, bins: np.ndarray):
    """Measured rows S (A, C, F, N) at the evaluation bins (must be finite)."""
    S = meas.read(frequency=meas.freq_positions(bins))
    if not np.isfinite(S).all():
        raise ValueError("measured: contains NaN or inf at the evaluation frequencies")
    return S


def _as_index(pos: np.ndarray):
    """Contiguous positions → slice (a view instead of a gather)."""
    if len(pos) >= 1 and np.all(np.diff(pos) == 1):
        return slice(int(pos[0]), int(pos[-1]) + 1)
    return pos


def _py(v):
    """numpy scalar → plain Python value (for JSON)."""
    if isinstance(v, np.generic):
        return v.item()
    return v


def _blocks(n_d: int, n_k: int, entry_bytes: int, chunk_bytes: int):
    """(diameter slice, anisotropy slice) blocks of at most ~chunk_bytes each."""
    per = max(1, int(chunk_bytes) // max(1, int(entry_bytes)))
    if per >= n_k:
        nd = max(1, per // n_k)
        for d0 in range(0, n_d, nd):
            yield slice(d0, min(n_d, d0 + nd)), slice(0, n_k)
    else:
        for d in range(n_d):
            for k0 in range(0, n_k, per):
                yield slice(d, d + 1), slice(k0, min(n_k, k0 + per))


# ---------------------------------------------------------------------------- results
@dataclass
class _Common:
    bins: np.ndarray  # (F,) rfft bins of the evaluation set
    orders: np.ndarray | None  # (F, 2) mixing orders (mx, my) or None
    angles: np.ndarray  # (A,) angle coordinate (or index)
    channels: np.ndarray  # (C,) channel coordinate (or index)

    def _freq_cols(self, i: int) -> dict:
        row = {"bin": int(self.bins[i])}
        if self.orders is not None:
            row["mx"], row["my"] = int(self.orders[i, 0]), int(self.orders[i, 1])
        return row

    def _freq_rows(self, eps_freq: np.ndarray, extra: dict) -> list[dict]:
        return [{**extra, **self._freq_cols(i), "eps_freq": float(e)} for i, e in enumerate(eps_freq)]

    def _row_rows(self, eps: np.ndarray, extra: dict, transfer: np.ndarray | None) -> list[dict]:
        rows = []
        for a, ang in enumerate(self.angles):
            for c, ch in enumerate(self.channels):
                for f in range(len(self.bins)):
                    r = {**extra, "angle": _py(ang), "channel": _py(ch), **self._freq_cols(f), "eps": float(eps[a, c, f])}
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

    eps_global : (nD,) ε_global per diameter.  best_index / best_diameter : the minimiser.
    transfer : (A, C, F) fitted â at the best diameter.  model : (A, C, F, N) â·Φ_D.
    eps : (A, C, F) row errors, eps_freq : (F,), eps_global_best : ε_global of ``model``.
    """

    MODEL = "M0"
    diameters: np.ndarray = field(default=None)
    eps_global: np.ndarray = field(default=None)
    best_index: int = 0
    best_diameter: Any = None

    def to_table(self) -> list[dict]:
        """Tidy rows: one per diameter with its ε_global."""
        return [
            {"model": "M0", "diameter": _py(d), "eps_global": float(e), "best": i == self.best_index}
            for i, (d, e) in enumerate(zip(self.diameters, self.eps_global))
        ]

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return {
            "model": "M0",
            "best_index": int(self.best_index),
            "best_diameter": _py(self.best_diameter),
            "eps_global": float(self.eps_global_best),
            "bins": self.bins.tolist(),
            "eps_freq": [float(e) for e in self.eps_freq],
            "scan": self.to_table(),
        }


@dataclass
class FitM1Result(_BestFit):
    """Monodisperse Néel model M1: one (D, K), a transfer function per (angle, channel, k).

    eps_global : (nD, nK) ε_global map (closed-form residual; values below ~1e-7 are at the
    rounding floor of ‖S‖² − |⟨S,Φ⟩|²/‖Φ‖²).  best_index : (iD, iK) of the minimum (first in
    C order on ties).  transfer : (A, C, F).  model : (A, C, F, N).  eps : (A, C, F), eps_freq :
    (F,), eps_global_best : recomputed from the explicit residual at the best entry.
    """

    MODEL = "M1"
    diameters: np.ndarray = field(default=None)
    anisotropies: np.ndarray = field(default=None)
    eps_global: np.ndarray = field(default=None, repr=False)
    best_index: tuple = (0, 0)
    best_diameter: Any = None
    best_anisotropy: Any = None

    def to_table(self) -> list[dict]:
        """Tidy rows: one per (diameter, anisotropy) with its ε_global."""
        rows = []
        for i, d in enumerate(self.diameters):
            for j, k in enumerate(self.anisotropies):
                e = self.eps_global[i, j]
                rows.append({
                    "model": "M1", "diameter": _py(d), "anisotropy": _py(k),
                    "eps_global": float(e), "best": (i, j) == tuple(self.best_index),
                })
        return rows

    def to_dict(self) -> dict:
        return {
            "model": "M1",
            "best_index": [int(i) for i in self.best_index],
            "best_diameter": _py(self.best_diameter),
            "best_anisotropy": _py(self.best_anisotropy),
            "eps_global": float(self.eps_global_best),
            "bins": self.bins.tolist(),
            "eps_freq": [float(e) for e in self.eps_freq],
        }


@dataclass
class FitM2Result(_Common):
    """Polydisperse model M2 (TSVD-regularised non-negative weights), one slice per rank.

    ranks : (R,) number s of singular values kept; requested : the rank specs as given;
    effective_ranks : (R,) s actually used (s capped at the number of resolvable singular
    values); weights : (R, nD, nK) ≥ 0; model : (R, A, C, F, N) Σ_q w_q Ψ_q; eps : (R, A, C, F);
    eps_freq : (R, F); eps_global : (R,); singular_values : (J,) of the weighted stacked matrix M
    (descending); excluded : (nD, nK) entries left out (non-finite dictionary values).
    """

    diameters: np.ndarray = field(default=None)
    anisotropies: np.ndarray = field(default=None)
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

    @property
    def n_entries(self) -> int:
        return len(self.diameters) * len(self.anisotropies)

    def to_table(self) -> list[dict]:
        """Tidy rows: one per rank (paper Table 1)."""
        return [
            {
                "model": "M2", "svd": self.svd, "requested": _py(req), "rank": int(s),
                "rank_percent": 100.0 * int(s) / self.n_entries, "effective_rank": int(se),
                "eps_global": float(e), "n_nonzero": int(np.count_nonzero(w)), "weight_sum": float(w.sum()),
            }
            for req, s, se, e, w in zip(self.requested, self.ranks, self.effective_ranks, self.eps_global, self.weights)
        ]

    def weights_table(self) -> list[dict]:
        """Tidy rows: one per (rank, diameter, anisotropy) with its weight (paper Fig. 4)."""
        rows = []
        for r, s in enumerate(self.ranks):
            for i, d in enumerate(self.diameters):
                for j, k in enumerate(self.anisotropies):
                    rows.append({"model": "M2", "rank": int(s), "diameter": _py(d), "anisotropy": _py(k),
                                 "weight": float(self.weights[r, i, j])})
        return rows

    def freq_table(self) -> list[dict]:
        rows = []
        for r, s in enumerate(self.ranks):
            rows += self._freq_rows(self.eps_freq[r], {"model": "M2", "rank": int(s)})
        return rows

    def row_table(self) -> list[dict]:
        rows = []
        for r, s in enumerate(self.ranks):
            rows += self._row_rows(self.eps[r], {"model": "M2", "rank": int(s)}, None)
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


# ------------------------------------------------------------------------------- fits
def fit_m0(measured, dictionary_m0, bins) -> FitM0Result:
    """Model M0 (paper eq. 7): best diameter of the equilibrium dictionary by ε_global.

    For every diameter D and every (angle, channel, k) the transfer function â is fitted in
    closed form (eq. 15) against the angle-independent row Φ_D,k; the diameter with the
    smallest ε_global (eq. 22) wins.

    measured : (angle, channel, frequency, offset); dictionary_m0 : (diameter, channel,
    frequency, offset); bins : evaluation rfft bins (see module docstring).
    """
    k, orders = select_bins(bins)
    meas = _Input(measured, "measured", MEASURED_DIMS)
    dic = _Input(dictionary_m0, "dictionary_m0", DICTIONARY_M0_DIMS)
    _check_match(meas, dic, ("channel", "offset"))
    S = _measured_rows(meas, k)  # (A, C, F, N)
    n_d = dic.size["diameter"]
    a, c, f, n = S.shape
    per = max(1, CHUNK_BYTES // (16 * a * c * f * n))
    eg = np.empty(n_d)
    pos = dic.freq_positions(k)
    for d0 in range(0, n_d, per):
        phi = dic.read(diameter=slice(d0, min(n_d, d0 + per)), frequency=pos)[:, None]  # (d,1,C,F,N)
        model = transfer_function(S, phi)[..., None] * phi
        e = row_error(S, model)
        e[~np.isfinite(e)] = np.nan
        eg[d0:d0 + per] = epsilon_global(epsilon_freq(e))
    if np.isnan(eg).all():
        raise ValueError("dictionary_m0: no diameter gives a finite error")
    best = int(np.nanargmin(eg))
    phi = dic.read(diameter=best, frequency=pos)  # (C, F, N)
    transfer = transfer_function(S, phi)
    model = transfer[..., None] * phi
    eps = row_error(S, model)
    ef = epsilon_freq(eps)
    diam = dic.coord("diameter")
    return FitM0Result(
        bins=k, orders=orders, angles=meas.coords.get("angle", np.arange(a)), channels=meas.coords.get("channel", dic.coord("channel")),
        diameters=diam, eps_global=eg, best_index=best, best_diameter=_py(diam[best]),
        transfer=transfer, model=model, eps=eps, eps_freq=ef, eps_global_best=float(epsilon_global(ef)),
    )


def _dict_inputs(measured, dictionary, bins):
    k, orders = select_bins(bins)
    meas = _Input(measured, "measured", MEASURED_DIMS)
    dic = _Input(dictionary, "dictionary", DICTIONARY_DIMS)
    _check_match(meas, dic, ("angle", "channel", "offset"))
    S = _measured_rows(meas, k)
    angles = meas.coords.get("angle", dic.coord("angle"))
    channels = meas.coords.get("channel", dic.coord("channel"))
    return k, orders, meas, dic, S, angles, channels


def fit_m1(measured, dictionary, bins, *, chunk_bytes: int = CHUNK_BYTES) -> FitM1Result:
    """Model M1 (paper eqs. 10, 14, 15): best monodisperse (D, K) by ε_global.

    For every entry (D, K) and every (angle ϑ, channel, k) the transfer function is fitted
    in closed form against Φ_(D,K,ϑ),k (so â depends on the angle, as in the paper); the
    residual is evaluated as ‖S‖² − |⟨S,Φ⟩|²/‖Φ‖² without forming the model rows, which
    makes one pass over the dictionary with two vector dot products per row. The dictionary
    is read in blocks of about ``chunk_bytes`` (diameter, then anisotropy slices). The best
    entry is then re-evaluated with explicit residuals.

    measured : (angle, channel, frequency, offset); dictionary : (diameter, anisotropy,
    angle, channel, frequency, offset); bins : evaluation rfft bins.
    """
    k, orders, meas, dic, S, angles, channels = _dict_inputs(measured, dictionary, bins)
    a, c, f, n = S.shape
    s2 = np.vecdot(S, S).real
    sinf = np.abs(S).max(axis=-1)
    inv = np.zeros_like(sinf)
    np.divide(1.0, n * sinf**2, out=inv, where=sinf > 0)  # zero measured rows: ε = 0
    n_d, n_k = dic.size["diameter"], dic.size["anisotropy"]
    pos = dic.freq_positions(k)
    emap = np.empty((n_d, n_k))
    for dsl, ksl in _blocks(n_d, n_k, 16 * a * c * f * n, chunk_bytes):
        phi = dic.read(diameter=dsl, anisotropy=ksl, frequency=pos)  # (d, k, A, C, F, N)
        with np.errstate(invalid="ignore", over="ignore"):  # non-finite entries → NaN
            cross = np.vecdot(phi, S)  # Σ conj(Φ) S
            p = np.vecdot(phi, phi).real
            del phi
            q = np.zeros_like(p)
            np.divide(cross.real**2 + cross.imag**2, p, out=q, where=p != 0)
            e2 = np.maximum(s2 - q, 0.0) * inv
        emap[dsl, ksl] = np.sqrt(e2.mean(axis=(-3, -2, -1)))
    emap[~np.isfinite(emap)] = np.nan
    if np.isnan(emap).all():
        raise ValueError("dictionary: no (diameter, anisotropy) entry gives a finite error")
    bi, bk = np.unravel_index(int(np.nanargmin(emap)), emap.shape)
    phi = dic.read(diameter=int(bi), anisotropy=int(bk), frequency=pos)  # (A, C, F, N)
    transfer = transfer_function(S, phi)
    model = transfer[..., None] * phi
    eps = row_error(S, model)
    ef = epsilon_freq(eps)
    diam, anis = dic.coord("diameter"), dic.coord("anisotropy")
    return FitM1Result(
        bins=k, orders=orders, angles=angles, channels=channels,
        diameters=diam, anisotropies=anis, eps_global=emap, best_index=(int(bi), int(bk)),
        best_diameter=_py(diam[bi]), best_anisotropy=_py(anis[bk]),
        transfer=transfer, model=model, eps=eps, eps_freq=ef, eps_global_best=float(epsilon_global(ef)),
    )


def _parse_ranks(ranks, n_cols: int) -> list[int]:
    """Rank specs → counts s. int: a count; float in (0, 1]: fraction of J = n_cols."""
    if isinstance(ranks, (int, float, np.integer, np.floating)):
        ranks = [ranks]
    ranks = list(ranks)
    if not ranks:
        raise ValueError("ranks: empty")
    out = []
    for r in ranks:
        if isinstance(r, (bool, np.bool_)):
            raise ValueError(f"ranks: {r!r} is not a count or a fraction")
        if isinstance(r, (int, np.integer)):
            if not 1 <= r <= n_cols:
                raise ValueError(f"ranks: count {r} outside 1..{n_cols}")
            out.append(int(r))
        elif isinstance(r, (float, np.floating)):
            if not 0.0 < r <= 1.0:
                raise ValueError(f"ranks: fraction {r} outside (0, 1]")
            # floor, as in the paper's Table 1 (4 % of 720 → 28, 0.5 % → 3)
            out.append(max(1, min(n_cols, math.floor(r * n_cols + 1e-9))))
        else:
            raise ValueError(f"ranks: {r!r} is not a count (int) or a fraction (float)")
    return out


def fit_m2(measured, dictionary, bins, ranks=(1.0,), *, svd: str = "complex",
           chunk_bytes: int = CHUNK_BYTES, maxiter: int | None = None) -> FitM2Result:
    """Model M2 (paper eqs. 12, 13, 16–18): TSVD-regularised non-negative weights over (D, K).

    Step 1 (eq. 12): Ψ_q = â_q Φ_q for every q = (D, K, ϑ), â_q fitted per (channel, k) as in
    M1. Step 2 (eqs. 16/17): the weighted rows Σ_ϑ Ψ_q (Σ_ϑ = diag 1/‖S_ϑ,k‖∞ per angle,
    channel and k) are stacked over angles, channels, evaluation bins and offsets into the
    columns of M (M rows × J = nD·nK columns), y = stacked Σ_ϑ S_ϑ, and
    min_{w ≥ 0} ‖U_sᴴ M w − U_sᴴ y‖² is solved for each rank s (eq. 18).

    ranks : counts (int, 1..J) and/or fractions of J (float in (0, 1]; s = ⌊fraction·J⌋ ≥ 1, which
        reproduces the paper's Table 1: 100 % → 720, 4 % → 28, 0.5 % → 3 for J = 720).
    svd : "complex" (default, the paper: SVD of the complex M, then the real-weight problem
        ‖[Re; Im](U_sᴴ M w − U_sᴴ y)‖², i.e. the paper's QP with A = Re(M_sᴴ M_s)) or "real"
        (SVD of the real stacked matrix [Re M; Im M]). Both give the unregularised solution at
        full rank.

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
    k, orders, meas, dic, S, angles, channels = _dict_inputs(measured, dictionary, bins)
    n_a, n_c, n_f, n = S.shape
    n_d, n_k = dic.size["diameter"], dic.size["anisotropy"]
    J = n_d * n_k
    svals_req = _parse_ranks(ranks, J)
    requested = list(ranks) if not isinstance(ranks, (int, float, np.integer, np.floating)) else [ranks]
    sinf = np.abs(S).max(axis=-1)
    wrow = np.zeros_like(sinf)
    np.divide(1.0, sinf, out=wrow, where=sinf > 0)
    pos = dic.freq_positions(k)
    pos = np.arange(pos.start, pos.stop) if isinstance(pos, slice) else pos
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
                phi = dic.read(angle=ia, channel=ic, frequency=_as_index(pos[fsl])).reshape(J, -1, n)
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
    sv = np.sqrt(np.clip(lam, 0.0, None))
    tol = lam[0] * J * np.finfo(float).eps if lam[0] > 0 else np.inf
    n_pos = int(np.count_nonzero(lam > tol))
    W = np.zeros((len(svals_req), J))
    eff = np.zeros(len(svals_req), dtype=int)
    for r, s in enumerate(svals_req):
        se = min(s, n_pos)
        eff[r] = se
        if se == 0:
            continue
        Vs = V[:, :se].conj().T  # (s, J)
        B = sv[:se, None] * Vs
        b = (Vs @ hv) / sv[:se]
        if svd == "complex":
            B, b = np.vstack([B.real, B.imag]), np.concatenate([b.real, b.imag])
        w, _ = nnls(B, b, maxiter=maxiter if maxiter is not None else 50 * J)
        w[~valid] = 0.0
        W[r] = w

    # pass 2: model system matrices Σ_q w_q Ψ_q per rank, reading only entries with weight > 0
    model = np.zeros((len(svals_req), n_a, n_c, n_f, n), dtype=np.complex128)
    support = np.flatnonzero((W != 0).any(axis=0))
    per = max(1, int(chunk_bytes) // (16 * n_a * n_c * n_f * n))
    fpos = _as_index(pos)
    for g0 in range(0, len(support), per):
        group = support[g0:g0 + per]
        phi = np.stack([dic.read(diameter=int(j // n_k), anisotropy=int(j % n_k), frequency=fpos) for j in group])
        psi = ahat[group][..., None] * phi  # (g, A, C, F, N)
        model += np.tensordot(W[:, group].astype(np.complex128), psi, axes=(1, 0))
    eps = row_error(S, model)
    ef = epsilon_freq(eps)
    return FitM2Result(
        bins=k, orders=orders, angles=angles, channels=channels,
        diameters=dic.coord("diameter"), anisotropies=dic.coord("anisotropy"), svd=svd,
        requested=requested, ranks=np.array(svals_req), effective_ranks=eff,
        weights=W.reshape(-1, n_d, n_k), model=model, eps=eps, eps_freq=ef,
        eps_global=epsilon_global(ef), singular_values=sv, excluded=~valid.reshape(n_d, n_k),
    )
