"""The config's ``frequencies`` section: the evaluation set (the rfft bins the dictionary holds).

Either the mixing orders k = Σ m_i·C/d_i of the active drive channels up to mx, my, mz, or
(``select: snr``) every bin from min_frequency to Nyquist, each labelled with its lowest mixing
orders, of which the fits use those whose measured SNR reaches snr_threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ...errors import ConfigError
from ...physics.spectra import lowest_orders, mixing_bins
from ...units import ORDER_NAMES
from .scanner import Scanner


@dataclass(frozen=True)
class Frequencies:
    """The evaluation set: one row (m_1, …, m_n, k) per bin, n the number of drive channels."""

    mixing: tuple[int, ...]  # highest mixing order per drive channel (0 for an inactive one)
    bin_rows: tuple[tuple[int, ...], ...]
    # select snr: (the band's lowest frequency in Hz, the SNR a bin needs in the fits); None with mixing orders
    snr_band: tuple[float, float] | None = None

    @classmethod
    def from_config(cls, fr: Mapping, scanner: Scanner) -> "Frequencies":
        snr_band = None
        if fr["select"] == "snr":
            rows, snr_band = _band(fr, scanner)
        else:
            rows = _mixing_rows(fr, scanner)
        return cls(tuple(int(v) for v in rows[:, :-1].max(axis=0)),
                   tuple(tuple(int(v) for v in r) for r in rows.tolist()), snr_band)

    @classmethod
    def from_json(cls, fr: Mapping, n_channels: int) -> "Frequencies":
        return cls(tuple(int(fr[name]) for name in ORDER_NAMES[:n_channels]),
                   tuple(tuple(int(v) for v in row) for row in fr["bins"]),
                   (float(fr["min_frequency"]), float(fr["snr_threshold"])) if fr.get("select") == "snr" else None)

    def to_json(self) -> dict:
        band = {} if self.snr_band is None else {
            "select": "snr", "min_frequency": self.snr_band[0], "snr_threshold": self.snr_band[1]}
        return dict(zip(ORDER_NAMES, self.mixing)) | {"bins": [list(r) for r in self.bin_rows]} | band


def _mixing_rows(fr: Mapping, scanner: Scanner) -> np.ndarray:
    """The mixing orders of the active drive channels (an inactive channel's order is 0)."""
    names = ORDER_NAMES[: len(scanner.dividers)]
    highest = [int(fr[n]) if i in scanner.active else 0 for i, n in enumerate(names)]
    given = ", ".join(f"{n} = {m}" for n, m in zip(names, highest))
    rows = mixing_bins(scanner.dividers, *highest, cycle=scanner.cycle)
    if rows.shape[0] == 0:
        raise ConfigError(f"config key 'frequencies': the evaluation set is empty ({given}); raise {'/'.join(names)}")
    kmax = int(rows[:, -1].max())
    samples = scanner.samples
    if kmax > samples // 2:
        raise ConfigError(
            f"config key 'frequencies': bin k = {kmax} ({given}) is above the Nyquist bin {samples // 2} of "
            f"scanner.samples = {samples}; lower {'/'.join(names)} or raise samples")
    if len(set(rows[:, -1].tolist())) != rows.shape[0]:
        raise ConfigError(f"config key 'frequencies': mixing orders up to ({given}) give colliding bins for "
                          f"dividers {list(scanner.dividers)}; lower {'/'.join(names)}")
    return rows


def _band(fr: Mapping, scanner: Scanner) -> tuple[np.ndarray, tuple[float, float]]:
    """select snr: every bin from min_frequency to Nyquist but the DC bin and the drive frequencies,
    labelled with their lowest mixing orders (−1 where none)."""
    cycle = scanner.cycle
    periods = [cycle // d for d in scanner.active_dividers]
    period_s = cycle / scanner.base_frequency
    lowest = (max(periods) + 1) / period_s if fr["min_frequency"] is None else float(fr["min_frequency"])
    threshold = float(fr["snr_threshold"])
    k = np.arange(scanner.samples // 2 + 1)
    k = k[(k / period_s >= lowest) & (k > 0) & ~np.isin(k, periods)]
    if k.size == 0:
        raise ConfigError(f"config key 'frequencies.min_frequency': {lowest:g} Hz is above the Nyquist frequency "
                          f"{scanner.samples / 2 / period_s:g} Hz of scanner.samples = {scanner.samples}")
    orders = lowest_orders(scanner.dividers, k, cycle=cycle, active=list(scanner.active))
    return np.column_stack([orders, k]), (float(lowest), threshold)
