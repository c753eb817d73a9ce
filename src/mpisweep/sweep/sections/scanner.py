"""The config's ``scanner`` and ``offsets`` sections: the drive field and the static offset grid, in SI.

The YAML gives amplitudes and offsets in mT and phases in degrees; they are converted here, once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ...errors import ConfigError
from ...units import AXES, MT

PAPER_RECEIVE = ("x", "y")  # the paper's receive coils: left out of the JSON form (its hash is unchanged)


@dataclass(frozen=True)
class Scanner:
    """``scanner``: 1–3 drive channels along x, y, z (amplitude 0 = inactive) and the receive coils."""

    base_frequency: float  # Hz
    dividers: tuple[int, ...]  # one per drive channel, along x, y, z in this order
    amplitudes_T: tuple[float, ...]  # 0 = an inactive channel
    phases_rad: tuple[float, ...]
    samples: int  # per cycle
    receive: tuple[str, ...] = PAPER_RECEIVE  # receive channels by coil axis

    @classmethod
    def from_config(cls, sc: Mapping) -> "Scanner":
        dividers = [int(d) for d in sc["dividers"]]
        n = len(dividers)
        phases = [0.0] * n if sc["phases"] is None else [float(p) for p in sc["phases"]]
        for key, values in (("drive", sc["drive"]), ("phases", phases)):
            if len(values) != n:
                raise ConfigError(f"config key 'scanner.{key}': {len(values)} value(s) {list(values)} for {n} drive "
                                  f"channel(s) (scanner.dividers {dividers}); give one per channel")
        if not any(float(a) > 0 for a in sc["drive"]):
            raise ConfigError(f"config key 'scanner.drive': all amplitudes are zero ({sc['drive']}): nothing drives "
                              "the particles, so the rows would be numerical noise")
        cycle = math.lcm(*(d for d, a in zip(dividers, sc["drive"]) if float(a) > 0))
        samples = cycle if sc["samples"] is None else int(sc["samples"])
        receive = tuple(AXES[:n]) if sc["receive"] is None else tuple(sc["receive"])
        return cls(float(sc["base_frequency"]), tuple(dividers), tuple(float(a) * MT for a in sc["drive"]),
                   tuple(math.radians(p) for p in phases), samples, receive)

    @classmethod
    def from_json(cls, sc: Mapping) -> "Scanner":
        return cls(float(sc["base_frequency"]), tuple(sc["dividers"]), tuple(sc["amplitudes_T"]),
                   tuple(sc["phases_rad"]), int(sc["samples"]), tuple(sc.get("receive", PAPER_RECEIVE)))

    def to_json(self) -> dict:
        receive = {} if self.receive == PAPER_RECEIVE else {"receive": list(self.receive)}
        return {"base_frequency": self.base_frequency, "dividers": list(self.dividers),
                "amplitudes_T": list(self.amplitudes_T), "phases_rad": list(self.phases_rad),
                "samples": self.samples} | receive

    @property
    def active(self) -> tuple[int, ...]:
        """Indices of the driven channels (amplitude > 0)."""
        return tuple(i for i, a in enumerate(self.amplitudes_T) if a > 0)

    @property
    def active_dividers(self) -> tuple[int, ...]:
        return tuple(self.dividers[i] for i in self.active)

    @property
    def cycle(self) -> int:
        """Base-frequency periods per drive cycle: lcm of the active channels' dividers."""
        return math.lcm(*self.active_dividers)

    @property
    def receive_axes(self) -> tuple[int, ...]:
        """The receive channels' axes as indices 0, 1, 2 (x, y, z)."""
        return tuple(AXES.index(c) for c in self.receive)


@dataclass(frozen=True)
class OffsetGrid:
    """``offsets``: the hybrid system matrix's static offset fields, x fastest, in T."""

    x_T: tuple[float, float]  # (min, max)
    y_T: tuple[float, float]
    nx: int
    ny: int
    z_T: tuple[float, float] = (0.0, 0.0)
    nz: int = 1

    @classmethod
    def from_config(cls, off: Mapping, key: str = "offsets") -> "OffsetGrid":
        """{x, y[, z]: {min, max, count}} in mT → the grid in T (ConfigError naming the axis)."""
        for axis in ("x", "y", "z"):
            if axis not in off:
                continue
            lo, hi = float(off[axis]["min"]), float(off[axis]["max"])
            if hi < lo:
                raise ConfigError(f"config key '{key}.{axis}.max': {hi:g} is below min {lo:g}")
        z = off.get("z", {"min": 0, "max": 0, "count": 1})
        return cls((float(off["x"]["min"]) * MT, float(off["x"]["max"]) * MT),
                   (float(off["y"]["min"]) * MT, float(off["y"]["max"]) * MT),
                   int(off["x"]["count"]), int(off["y"]["count"]),
                   (float(z["min"]) * MT, float(z["max"]) * MT), int(z["count"]))

    @classmethod
    def from_json(cls, o: Mapping) -> "OffsetGrid":
        return cls(tuple(o["x_T"]), tuple(o["y_T"]), int(o["nx"]), int(o["ny"]),
                   tuple(o.get("z_T", (0.0, 0.0))), int(o.get("nz", 1)))

    def to_json(self) -> dict:
        z = {} if self.is_planar else {"z_T": list(self.z_T), "nz": self.nz}
        return {"x_T": list(self.x_T), "y_T": list(self.y_T), "nx": self.nx, "ny": self.ny} | z

    @property
    def shape(self) -> tuple[int, ...]:
        """The grid's array shape: (ny, nx), or (nz, ny, nx) with a z axis of more than one point."""
        return (self.nz, self.ny, self.nx) if self.nz > 1 else (self.ny, self.nx)

    @property
    def size(self) -> int:
        return self.nx * self.ny * self.nz

    @property
    def is_planar(self) -> bool:
        """One z point at z = 0: the paper's 2D grid."""
        return self.nz == 1 and self.z_T == (0.0, 0.0)
