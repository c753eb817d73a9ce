"""Input handling shared by the fits: dimension order, evaluation bins, block-wise reads."""

from __future__ import annotations

from typing import Sequence

import numpy as np

MEASURED_DIMS = ("angle", "channel", "frequency", "offset")
DICTIONARY_DIMS = ("diameter", "anisotropy", "angle", "channel", "frequency", "offset")
DICTIONARY_M0_DIMS = ("diameter", "channel", "frequency", "offset")
#: names of a dictionary's second axis: the anisotropy constant K (Néel rotation) or the hydrodynamic
#: diameter D_h (Brownian rotation). The fits index it as "anisotropy" and name it in their results.
SECOND_AXES = ("anisotropy", "hydrodynamic_diameter")

#: Default working-set size for one block of the dictionary (bytes, complex128).
CHUNK_BYTES = 256 * 2**20


class Input:
    """Read access to a numpy array or an xarray DataArray in a fixed dimension order.

    ``alias`` maps a dimension of ``dims`` to the name the DataArray gives it (a Brownian
    dictionary's hydrodynamic_diameter for anisotropy); reads and coordinates use ``dims``' names.
    """

    def __init__(self, x, name: str, dims: tuple[str, ...], alias: dict[str, str] | None = None):
        self.name, self.dims = name, dims
        self.alias = dict(alias or {})
        self.coords: dict[str, np.ndarray] = {}
        if hasattr(x, "dims") and hasattr(x, "isel") and hasattr(x, "transpose"):
            actual = tuple(self.alias.get(d, d) for d in dims)
            if sorted(map(str, x.dims)) != sorted(actual):
                raise ValueError(f"{name}: dims {tuple(x.dims)}, expected {actual}")
            self.da, self.arr = x.transpose(*actual), None
            for d, a in zip(dims, actual):
                if a in x.coords:
                    self.coords[d] = np.asarray(x.coords[a].values)
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
        return as_index(pos)

    def read(self, **index) -> np.ndarray:
        """Block given by integer / slice / integer-array indices per dim, as complex128.

        A view of the input where no conversion or gather is needed: callers must not write to it.
        """
        if self.da is not None:
            out = self.da.isel({self.alias.get(k, k): v for k, v in index.items()}).values
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
    """Validate ``bins``: returns (k, orders) with orders the mixing orders (one column per drive channel:
    mx, my, mz) or None."""
    b = np.asarray(bins)
    orders = None
    if b.ndim == 2 and 2 <= b.shape[1] <= 4:  # rows (m_1, …, m_n, k) of mpisweep.physics.spectra.mixing_bins
        orders, b = b[:, :-1], b[:, -1]
    if b.ndim != 1 or b.size == 0:
        raise ValueError("bins: expected a non-empty 1-D integer array (or (n, 2…4) mixing_bins rows), "
                         f"got shape {b.shape}")
    if not np.issubdtype(b.dtype, np.integer):
        raise ValueError(f"bins: expected integer rfft bin indices, got dtype {b.dtype}")
    if (b < 0).any():
        raise ValueError("bins: negative bin index")
    if np.unique(b).size != b.size:
        raise ValueError("bins: duplicate bin indices")
    return b.astype(np.int64), (None if orders is None else orders.astype(np.int64))


def check_match(meas: Input, dic: Input, dims: Sequence[str]) -> None:
    for d in dims:
        if meas.size[d] != dic.size[d]:
            raise ValueError(
                f"{dic.name}: {dic.size[d]} entries along '{d}' but {meas.name} has {meas.size[d]}"
            )


def measured_rows(meas: Input, bins: np.ndarray):
    """Measured rows S (A, C, F, N) at the evaluation bins (must be finite)."""
    S = meas.read(frequency=meas.freq_positions(bins))
    if not np.isfinite(S).all():
        raise ValueError("measured: contains NaN or inf at the evaluation frequencies")
    return S


def as_index(pos: np.ndarray):
    """Contiguous positions → slice (a view instead of a gather)."""
    if len(pos) >= 1 and np.all(np.diff(pos) == 1):
        return slice(int(pos[0]), int(pos[-1]) + 1)
    return pos



def entry_blocks(n_d: int, n_k: int, entry_bytes: int, chunk_bytes: int):
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


def dictionary_inputs(measured, dictionary, bins):
    k, orders = select_bins(bins)
    meas = Input(measured, "measured", MEASURED_DIMS)
    dic = Input(dictionary, "dictionary", DICTIONARY_DIMS, alias={"anisotropy": second_axis(dictionary)})
    check_match(meas, dic, ("angle", "channel", "offset"))
    S = measured_rows(meas, k)
    angles = meas.coords.get("angle", dic.coord("angle"))
    channels = meas.coords.get("channel", dic.coord("channel"))
    return k, orders, meas, dic, S, angles, channels


def second_axis(dictionary) -> str:
    """The name the dictionary gives its second axis (one of SECOND_AXES; "anisotropy" for a plain array)."""
    return next((d for d in getattr(dictionary, "dims", ()) if d in SECOND_AXES[1:]), "anisotropy")


def row_weights(S: np.ndarray, rows=None) -> np.ndarray:
    """1/‖S_ϑ,c,k‖∞ per measured row (the paper's Σ_ϑ, eq. 16); 0 for rows that are identically zero and
    for the rows a (channel, frequency) mask `rows` leaves out."""
    sinf = np.abs(S).max(axis=-1)
    w = np.zeros_like(sinf)
    np.divide(1.0, sinf, out=w, where=sinf > 0)
    if rows is not None:
        w = np.where(rows, w, 0.0)
    return w


def row_mask(rows, n_channels: int, n_bins: int) -> np.ndarray | None:
    """Check a fit's `rows` argument: None (every row), or a boolean (channel, frequency) mask of the rows
    the fit uses, with at least one row per frequency (a bin without any is left out of `bins` instead)."""
    if rows is None:
        return None
    mask = np.asarray(rows)
    if mask.dtype != bool or mask.shape != (n_channels, n_bins):
        raise ValueError(f"rows: expected a boolean (channel, frequency) mask of shape {(n_channels, n_bins)}, "
                         f"got {mask.dtype} {mask.shape}")
    empty = np.flatnonzero(~mask.any(axis=0))
    if empty.size:
        raise ValueError(f"rows: frequency positions {empty[:5].tolist()} have no row left; leave them out of bins")
    return mask
