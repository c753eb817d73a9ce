"""The config's ``grids`` section: the dictionary's (D, K or D_h, easy axis) grid, in the field's units.

Grid values stay in their coordinate units (nm, J/m³, degrees) because they also label the
dictionary's coordinates and the shards' names; :meth:`mpisweep.sweep.Sweep.particle` converts
one grid point to SI.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ...errors import ConfigError
from ...physics.distribution import DISTRIBUTIONS, EasyAxisDistribution


def expand_grid(spec, key: str) -> tuple[float, ...]:
    """A grid given as a list or {start, stop, step} → sorted unique floats (ConfigError naming `key`)."""
    if isinstance(spec, Mapping):
        start, stop, step = (float(spec[k]) for k in ("start", "stop", "step"))
        if stop < start:
            raise ConfigError(f"config key '{key}.stop': {stop:g} is below start {start:g}")
        n = (stop - start) / step
        if abs(n - round(n)) > 1e-6 * max(1.0, abs(n)):
            raise ConfigError(f"config key '{key}.step': {step:g} does not divide stop - start = {stop - start:g}")
        values = [round(start + i * step, 10) for i in range(int(round(n)) + 1)]
    else:
        values = [float(v) for v in spec]
    if any(not math.isfinite(v) for v in values):
        raise ConfigError(f"config key '{key}': values must be finite, got {values}")
    uniq = sorted(set(values))
    if len(uniq) != len(values):
        dup = sorted(v for v, n in Counter(values).items() if n > 1)
        raise ConfigError(f"config key '{key}': duplicate values {dup[:10]}")
    return tuple(uniq)


#: most (D, K or D_h) blocks a sweep plans: the paper grid has 720, and each block is hundreds of solves
MAX_BLOCKS = 100_000


def direction_vectors(directions) -> np.ndarray:
    """(A, 3) unit vectors of (polar from z, azimuth from x) pairs in degrees."""
    polar, azimuth = np.radians(np.asarray(directions, float)).reshape(-1, 2).T
    return np.stack([np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)], axis=1)


@dataclass(frozen=True)
class Grids:
    """``grids``: core diameters (nm) × anisotropies (J/m³, Néel) or hydrodynamic diameters (nm, Brown) × easy axes."""

    diameters_nm: tuple[float, ...]
    anisotropies_Jm3: tuple[float, ...]  # Néel; () for Brown
    angles_deg: tuple[float, ...]  # Néel: in-plane angles, or 0, 1, … counting directions_deg; Brown: (0.0,)
    hydrodynamic_diameters_nm: tuple[float, ...] = ()  # Brown
    directions_deg: tuple[tuple[float, float], ...] = ()  # Néel easy axes in 3D: (polar, azimuth) pairs
    easy_axes: str = "aligned"  # or a distribution: random, field_aligned (one entry on the angle axis)
    quadrature: int | None = None  # random: Lebedev degree; None = the rule of physics.distribution

    @classmethod
    def from_config(cls, g: Mapping, model: str) -> "Grids":
        own = {"neel": ("anisotropies", "angles"), "brown": ("hydrodynamic_diameters",)}[model]
        easy = g.get("easy_axes", "aligned")
        quadrature = g.get("quadrature", "auto")
        if easy != "aligned" and model != "neel":
            raise ConfigError(f"config key 'grids.easy_axes': {easy} easy axes need model neel; model {model} has "
                              "no easy axis")
        if quadrature != "auto" and easy != "random":
            raise ConfigError(f"config key 'grids.quadrature': a direction quadrature is for grids.easy_axes: random, "
                              f"not {easy}")
        if easy in DISTRIBUTIONS:
            own = ("anisotropies",)
            for key in ("angles", "directions"):
                if key in g:
                    raise ConfigError(f"config key 'grids.{key}': grids.easy_axes is {easy}, so the easy axes are "
                                      "not a grid; leave this key out, or set grids.easy_axes: aligned")
            quadrature = None if quadrature == "auto" else int(quadrature)
            try:
                EasyAxisDistribution(easy, quadrature)
            except ValueError as err:
                raise ConfigError(f"config key 'grids.quadrature': {err}") from None
        elif model == "neel" and "directions" in g:
            if "angles" in g:
                raise ConfigError("config key 'grids.directions': give the easy axes either as grids.angles "
                                  "(in-plane) or as grids.directions (3D), not both")
            own = ("anisotropies", "directions")
        for key in ("anisotropies", "angles", "directions", "hydrodynamic_diameters"):
            if key in own and key not in g:
                raise ConfigError(f"config key 'grids.{key}': required for model {model}")
            if key not in own and key in g:
                raise ConfigError(f"config key 'grids.{key}': not a grid of model {model} (its grids: diameters, "
                                  f"{', '.join(own)})")
        diameters = expand_grid(g["diameters"], "grids.diameters")
        if diameters[0] <= 0:
            raise ConfigError(f"config key 'grids.diameters': diameters must be > 0 nm, got {diameters[0]:g}")
        second = "hydrodynamic_diameters" if model == "brown" else "anisotropies"
        n_second = len(expand_grid(g[second], f"grids.{second}"))
        if len(diameters) * n_second > MAX_BLOCKS:
            raise ConfigError(f"config key 'grids.diameters': {len(diameters)} diameters × {n_second} {second} = "
                              f"{len(diameters) * n_second} blocks, more than the {MAX_BLOCKS} a sweep plans; "
                              "coarsen the grids or split the sweep")
        if model == "brown":  # one 'angle', the drive frame (no easy axis in a fluid)
            hydro = expand_grid(g["hydrodynamic_diameters"], "grids.hydrodynamic_diameters")
            if hydro[0] < diameters[-1]:
                raise ConfigError(f"config key 'grids.hydrodynamic_diameters': {hydro[0]:g} nm is below the largest "
                                  f"core diameter {diameters[-1]:g} nm (the hydrodynamic diameter includes the core)")
            return cls(diameters, (), (0.0,), hydro)
        if easy in DISTRIBUTIONS:
            directions, angles = (), (0.0,)
        elif "directions" in g:
            directions = _directions(g["directions"])
            angles = tuple(float(i) for i in range(len(directions)))
        else:
            directions, angles = (), expand_grid(g["angles"], "grids.angles")
        anisotropies = expand_grid(g["anisotropies"], "grids.anisotropies")
        if anisotropies[0] < 0:
            raise ConfigError(f"config key 'grids.anisotropies': must be ≥ 0 J/m³, got {anisotropies[0]:g}")
        mod = sorted(round(a % 180.0, 9) % 180.0 for a in angles)
        if not directions and len(set(mod)) != len(mod):
            raise ConfigError("config key 'grids.angles': two angles describe the same easy axis (equal modulo "
                              f"180°): {list(angles)}")
        return cls(diameters, anisotropies, angles, (), directions, easy, quadrature if easy == "random" else None)

    @classmethod
    def from_json(cls, g: Mapping) -> "Grids":
        directions = tuple(tuple(float(v) for v in p) for p in g.get("directions_deg", ()))
        return cls(tuple(g["diameters_nm"]), tuple(g.get("anisotropies_Jm3", ())),
                   tuple(g.get("angles_deg", (float(i) for i in range(len(directions))))),
                   tuple(g.get("hydrodynamic_diameters_nm", ())), directions,
                   g.get("easy_axes", "aligned"), g.get("quadrature"))

    @property
    def distribution(self) -> EasyAxisDistribution | None:
        """The easy axes' distribution (random, field_aligned), or None for aligned easy axes."""
        return None if self.easy_axes == "aligned" else EasyAxisDistribution(self.easy_axes, self.quadrature)

    def to_json(self, model: str) -> dict:
        """Only the keys of `model` (a Néel sweep's dict, and hash, holds no Brownian key, and vice versa)."""
        if model == "brown":
            return {"diameters_nm": list(self.diameters_nm),
                    "hydrodynamic_diameters_nm": list(self.hydrodynamic_diameters_nm),
                    "angles_deg": list(self.angles_deg)}
        out = {"diameters_nm": list(self.diameters_nm), "anisotropies_Jm3": list(self.anisotropies_Jm3)}
        if self.easy_axes != "aligned":  # aligned sweeps keep the dict, and hash, they had before distributions
            return out | {"angles_deg": list(self.angles_deg), "easy_axes": self.easy_axes,
                          "quadrature": self.quadrature}
        return out | ({"directions_deg": [list(p) for p in self.directions_deg]} if self.directions_deg
                      else {"angles_deg": list(self.angles_deg)})


def _directions(spec) -> tuple[tuple[float, float], ...]:
    """grids.directions → (polar, azimuth) pairs in degrees; two pairs on one uniaxial axis (±n) are refused."""
    if isinstance(spec, Mapping):
        polar = expand_grid(spec["polar"], "grids.directions.polar")
        azimuth = expand_grid(spec["azimuth"], "grids.directions.azimuth")
        pairs = [(p, a) for p in polar for a in azimuth if not (p % 180.0 == 0.0 and a != azimuth[0])]
    else:
        pairs = [(float(p), float(a)) for p, a in spec]
    if any(not (math.isfinite(p) and math.isfinite(a)) for p, a in pairs):
        raise ConfigError(f"config key 'grids.directions': values must be finite, got {pairs}")
    n = direction_vectors(pairs)
    same = np.abs(np.abs(n @ n.T) - 1.0) < 1e-12
    np.fill_diagonal(same, False)
    if same.any():
        i, j = (int(v) for v in np.argwhere(same)[0])
        raise ConfigError(f"config key 'grids.directions': {list(pairs[i])} and {list(pairs[j])} (polar, azimuth in "
                          "degrees) are the same easy axis (n and −n describe one uniaxial particle)")
    return tuple(pairs)
