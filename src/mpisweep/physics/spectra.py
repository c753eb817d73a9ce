"""System-matrix rows from one cycle of d<m>/dt.

Convention (fixed, documented): φ_k = (1/N) Σ_n d<m_c>/dt(t_n) · exp(-2πi k n / N),
k = 0 … N/2 (numpy.fft.rfft / N), in 1/s, receive channels c = x, y. The physical
signal is ∝ -µ0·m0·d<m>/dt; the sign and all scale factors are absorbed by the
fitted complex transfer function, so only this convention has to stay fixed.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

CHANNELS = ("x", "y")


def spectrum(rate: np.ndarray, channels=2) -> np.ndarray:
    """System-matrix rows φ_k: the rfft of d⟨m⟩/dt per receive channel, divided by the samples.

    Parameters
    ----------
    rate : numpy.ndarray
        (samples, 3) d⟨m⟩/dt over one cycle, in 1/s (:attr:`SolveResult.rate
        <mpisweep.physics.solver.SolveResult.rate>`).
    channels : int or sequence of int
        The receive channels' axes (0, 1, 2 = x, y, z), or a count n (the first n axes).

    Returns
    -------
    numpy.ndarray
        Complex (channels, samples//2 + 1), in 1/s; bin k is the frequency k/T.
    """
    rate = np.asarray(rate, dtype=float)
    axes = list(range(channels)) if isinstance(channels, (int, np.integer)) else [int(c) for c in channels]
    if rate.ndim != 2 or rate.shape[1] <= max(axes):
        raise ValueError(f"rate: expected shape (samples, 3), got {rate.shape}")
    return np.fft.rfft(rate[:, axes].T, axis=-1) / rate.shape[0]


def mixing_bins(dividers, *max_orders: int, cycle: int | None = None) -> np.ndarray:
    """The evaluation set: the rfft bins k(m) = Σ_i m_i·C/d_i of the mixing orders m_i.

    For the Bruker cycle (102, 96) this is k = 16·mx + 17·my (paper §2.3); a spectrometer's
    single channel gives its harmonics k = m. The DC bin (all orders 0) and the drive frequencies
    (one order 1, the others 0) are left out.

    Parameters
    ----------
    dividers : sequence of int
        The drive channels' dividers d_i.
    *max_orders : int
        One highest order per drive channel (0 for an inactive one).
    cycle : int, optional
        Base-frequency periods per drive cycle C (default lcm(dividers); pass the active channels'
        lcm when one is inactive).

    Returns
    -------
    numpy.ndarray
        int rows (m_1, …, m_n, k), the first channel's order varying slowest; the bins are the
        last column, ``mixing_bins(...)[:, -1]``.
    """
    dividers = [int(d) for d in dividers]
    if len(max_orders) != len(dividers):
        raise ValueError(f"mixing_bins: one highest order per divider ({len(dividers)}), got {len(max_orders)}")
    cycle = math.lcm(*dividers) if cycle is None else int(cycle)
    periods = [cycle // d for d in dividers]
    rows = [
        orders + (sum(m * p for m, p in zip(orders, periods)),)
        for orders in itertools.product(*(range(int(m) + 1) for m in max_orders))
        if sum(orders) > 1
    ]
    return np.array(rows, dtype=int).reshape(-1, len(dividers) + 1)


def lowest_orders(dividers, bins, cycle: int | None = None, active=None, max_total: int = 64) -> np.ndarray:
    """Label rfft bins with mixing orders: for each k the non-negative orders m (one per drive channel, 0
    for the inactive ones) with Σ m_i·C/d_i = k and the smallest total order Σ m_i (≤ max_total), or −1s
    where none exists. A spectrometer's bin k is harmonic k; the 2D Bruker bins k = 16 mx + 17 my."""
    dividers = [int(d) for d in dividers]
    cycle = math.lcm(*dividers) if cycle is None else int(cycle)
    active = range(len(dividers)) if active is None else list(active)
    periods = {i: cycle // dividers[i] for i in active}
    out = np.full((len(bins), len(dividers)), -1, dtype=int)
    for row, k in enumerate(np.asarray(bins, dtype=int)):
        best = None
        for orders in itertools.product(*(range(min(max_total, k // periods[i]) + 1) for i in list(active)[:-1])):
            rest = k - sum(m * periods[i] for m, i in zip(orders, active))
            last = list(active)[-1]
            if rest < 0 or rest % periods[last]:
                continue
            m = orders + (rest // periods[last],)
            if sum(m) <= max_total and (best is None or sum(m) < sum(best)):
                best = m
        if best is not None:
            out[row] = 0
            out[row, list(active)] = best
    return out
