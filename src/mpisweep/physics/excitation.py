"""Applied field: a Lissajous drive field plus a static offset field, in tesla (µ0·H).

B(t) = offset + Σ_i a_i cos(2π f_i t + φ_i),  f_i = f_B / divider_i,

with drive channel i pointing along axis i (x, y, z). One drive cycle lasts
T = lcm(dividers of the active channels)/f_B and is sampled at t_k = k·T/samples. A channel of zero
amplitude is inactive, as a 3-axis scanner writes its unused z channel (divider 99, strength 0):
it adds nothing to the field and does not lengthen the cycle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# The Bruker preclinical scanner (paper §2.4).
BRUKER_BASE_FREQUENCY = 2.5e6
BRUKER_DIVIDERS = (102, 96)
BRUKER_DRIVE = (12.59e-3, 13.55e-3)


@dataclass(frozen=True)
class Excitation:
    """The applied field: a drive of 1–3 channels plus a static offset field, in SI units.

    B(t) = offset + Σ_i a_i cos(2π f_B/d_i · t + φ_i), drive channel i along axis i (x, y, z).

    Parameters
    ----------
    amplitudes : tuple of float
        Drive amplitudes a_i, in T (µ0·H), one per channel; 0 marks an inactive channel.
    dividers : tuple of int
        Dividers d_i of the base frequency, one per channel.
    base_frequency : float
        Base frequency f_B, in Hz (default 2.5 MHz, the Bruker scanner's).
    phases : tuple of float, optional
        Drive phases φ_i, in rad (default all 0).
    offset : tuple of float
        Static offset field (x, y, z) or (x, y), in T.
    samples : int, optional
        Samples per drive cycle (default the lcm of the active channels' dividers: 1632 for the
        Bruker 2D drive).

    Raises
    ------
    ValueError
        Inconsistent lengths or non-positive dividers, base frequency or samples.
    """

    amplitudes: tuple[float, ...]
    dividers: tuple[int, ...]
    base_frequency: float = BRUKER_BASE_FREQUENCY
    phases: tuple[float, ...] | None = None
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    samples: int | None = None

    def __post_init__(self):
        amps = tuple(float(a) for a in self.amplitudes)
        divs = tuple(int(d) for d in self.dividers)
        if not 1 <= len(amps) <= 3:
            raise ValueError(f"drive: need 1 to 3 drive amplitudes, got {len(amps)}")
        if len(divs) != len(amps):
            raise ValueError(f"dividers: need one divider per drive channel ({len(amps)}), got {len(divs)}")
        if any(d <= 0 for d in divs):
            raise ValueError(f"dividers: must be positive integers, got {divs}")
        if not (self.base_frequency > 0 and math.isfinite(self.base_frequency)):
            raise ValueError(f"base_frequency: must be positive, got {self.base_frequency}")
        phases = (0.0,) * len(amps) if self.phases is None else tuple(float(p) for p in self.phases)
        if len(phases) != len(amps):
            raise ValueError(f"phases: need one phase per drive channel ({len(amps)}), got {len(phases)}")
        offset = tuple(float(o) for o in self.offset)
        if len(offset) == 2:
            offset = offset + (0.0,)
        if len(offset) != 3:
            raise ValueError(f"offset: need 2 or 3 components, got {len(offset)}")
        active = [d for a, d in zip(amps, divs) if a != 0.0] or list(divs)
        samples = math.lcm(*active) if self.samples is None else int(self.samples)
        if samples <= 0:
            raise ValueError(f"samples: must be a positive integer, got {self.samples}")
        object.__setattr__(self, "amplitudes", amps)
        object.__setattr__(self, "dividers", divs)
        object.__setattr__(self, "phases", phases)
        object.__setattr__(self, "offset", offset)
        object.__setattr__(self, "samples", samples)

    @classmethod
    def bruker(cls, offset=(0.0, 0.0, 0.0), samples=None) -> "Excitation":
        """The Bruker preclinical scanner's 2D drive (paper §2.4): 12.59 and 13.55 mT at
        2.5 MHz/102 and 2.5 MHz/96, with an offset field in T."""
        return cls(BRUKER_DRIVE, BRUKER_DIVIDERS, BRUKER_BASE_FREQUENCY, offset=offset, samples=samples)

    def with_offset(self, offset) -> "Excitation":
        """The same drive with another static offset field (x, y, z) or (x, y), in T."""
        return Excitation(self.amplitudes, self.dividers, self.base_frequency, self.phases, offset, self.samples)

    @property
    def frequencies(self) -> np.ndarray:
        """Drive frequencies f_B/d_i of the channels, in Hz."""
        return self.base_frequency / np.asarray(self.dividers, dtype=float)

    @property
    def active(self) -> tuple[int, ...]:
        """Indices of the channels with nonzero amplitude (all of them when every amplitude is zero)."""
        on = tuple(i for i, a in enumerate(self.amplitudes) if a != 0.0)
        return on or tuple(range(len(self.amplitudes)))

    @property
    def cycle_samples(self) -> int:
        """Base-frequency periods per drive cycle, the lcm of the active channels' dividers."""
        return math.lcm(*(self.dividers[i] for i in self.active))

    @property
    def period(self) -> float:
        """Duration T of one drive cycle, in s (652.8 µs for the Bruker 2D drive)."""
        return self.cycle_samples / self.base_frequency

    @property
    def times(self) -> np.ndarray:
        """Sample times t_k = k·T/samples of one cycle, in s, k = 0 … samples − 1."""
        return np.arange(self.samples) * (self.period / self.samples)

    @property
    def drive_vectors(self) -> np.ndarray:
        """Drive amplitude vectors a_i, in T, shape (channels, 3): channel i along axis i."""
        vecs = np.zeros((len(self.amplitudes), 3))
        for i, a in enumerate(self.amplitudes):
            vecs[i, i] = a
        return vecs

    def field(self, t) -> np.ndarray:
        """B(t) in tesla, shape t.shape + (3,)."""
        t = np.asarray(t, dtype=float)
        phase = 2 * np.pi * self.frequencies * t[..., None] + np.asarray(self.phases)
        return np.asarray(self.offset) + np.cos(phase) @ self.drive_vectors

    def field_rate(self, t) -> np.ndarray:
        """dB/dt in T/s, shape t.shape + (3,)."""
        t = np.asarray(t, dtype=float)
        w = 2 * np.pi * self.frequencies
        phase = w * t[..., None] + np.asarray(self.phases)
        return (-w * np.sin(phase)) @ self.drive_vectors

    def max_field(self) -> float:
        """Largest |B| along the trajectory (dense sampling of one cycle)."""
        n = max(4 * self.samples, 4096)
        t = np.arange(n) * (self.period / n)
        return float(np.max(np.linalg.norm(self.field(t), axis=-1)))
