"""The typed sweep: a validated config resolved to SI once, as one frozen :class:`Sweep`.

Usable without Snakemake::

    from mpisweep.sweep import Sweep
    sweep = Sweep.load("config/config.yaml")
    sweep.particle(22, 1100), sweep.excitation, sweep.offsets, sweep.bins, sweep.cycle

The YAML speaks the field's units (nm, J/m³, degrees, mT, Hz); :func:`resolve` converts fields,
phases and particle constants to SI. The grid values stay in their coordinate units
(``diameters_nm``, ``anisotropies_Jm3``, ``angles_deg``) because they also label the dictionary
coordinates and the shard names; :meth:`Sweep.particle` converts one (D, K) to SI.

:meth:`Sweep.to_dict` is the *resolved config* (plain JSON): the workflow writes it once per
config hash and every step reads it back with :meth:`Sweep.read`; its hash identifies results.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ..errors import ConfigError
from ..fitting.ranks import parse_rank
from ..physics.block import offset_grid
from ..physics.excitation import Excitation
from ..physics.params import BrownParticle, Particle
from ..physics.spectra import mixing_bins
from . import cost, schema
from .layout import Layout
from .names import PARAMETERS, ParameterAxis, block_name

MT = 1e-3  # tesla per millitesla
NM = 1e-9  # metre per nanometre


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def digest(obj) -> str:
    """sha256 of the canonical JSON of `obj`."""
    return hashlib.sha256(canonical(obj).encode()).hexdigest()


def freeze(obj):
    """Nested dicts/lists → read-only mappings/tuples (the measurement settings stay as the schema gives them)."""
    if isinstance(obj, dict):
        return MappingProxyType({k: freeze(v) for k, v in obj.items()})
    if isinstance(obj, list):
        return tuple(freeze(v) for v in obj)
    return obj


def thaw(obj):
    if isinstance(obj, MappingProxyType):
        return {k: thaw(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return [thaw(v) for v in obj]
    return obj


# ------------------------------------------------------------------------------- parts
@dataclass(frozen=True)
class Scanner:
    base_frequency: float  # Hz
    dividers: tuple[int, ...]
    amplitudes_T: tuple[float, ...]
    phases_rad: tuple[float, ...]
    samples: int  # per cycle


@dataclass(frozen=True)
class OffsetGrid:
    x_T: tuple[float, float]  # (min, max)
    y_T: tuple[float, float]
    nx: int
    ny: int


@dataclass(frozen=True)
class Grids:
    diameters_nm: tuple[float, ...]
    anisotropies_Jm3: tuple[float, ...]  # Néel; () for Brown
    angles_deg: tuple[float, ...]  # Néel; Brown: (0.0,), the drive frame (a fluid tracer has no easy axis)
    hydrodynamic_diameters_nm: tuple[float, ...] = ()  # Brown


@dataclass(frozen=True)
class SolverSettings:
    degree: int | None  # None = automatic
    rtol: float | None  # None = automatic


@dataclass(frozen=True)
class M3Settings:
    ranks: tuple  # TSVD ranks of the w-step, as written in the config ("100%" or counts)
    rank_fractions: tuple[float, ...]
    l2: float  # L2 (Tikhonov) parameter λ ≥ 0
    max_iter: int
    tol: float  # largest weight change (Σw = 1) of an iteration at convergence


@dataclass(frozen=True)
class Limits:
    """Bounds checked before any work (they do not change a row, so they are not in the dictionary spec)."""

    max_degree: int
    force_degree: bool


@dataclass(frozen=True)
class ClusterSettings:
    """Sizing of the simulate jobs for a batch cluster (the job plan of cost.plan_jobs; no row depends on it)."""

    max_job_minutes: int = 240
    safety_factor: float = 2.0


@dataclass(frozen=True)
class FitSettings:
    ranks: tuple  # as written in the config ("5%" or counts)
    rank_fractions: tuple[float, ...]
    svd: str
    max_memory_gb: float
    m3: M3Settings


# --------------------------------------------------------------------------------- Sweep
@dataclass(frozen=True)
class Sweep:
    """One sweep, resolved: everything every workflow step needs, in SI (grid labels in their units)."""

    output: str
    constants: MappingProxyType  # ms (A/m), alpha, temperature (K), gamma (rad/(s·T))
    scanner: Scanner
    offset_grid: OffsetGrid
    grids: Grids
    mixing: tuple[int, int]  # (mx, my): highest mixing orders of the evaluation set
    bin_rows: tuple[tuple[int, int, int], ...]  # (mx, my, k) of the evaluation set
    solver: SolverSettings
    limits: Limits
    fit: FitSettings
    measurement: MappingProxyType  # source, virtual {...}, mdf {...} as the schema defines them
    orientation: MappingProxyType  # enabled, models, matrices, phantoms, reconstruction, readout (the schema)
    cluster: ClusterSettings  # sizing of the simulate jobs for a cluster (cost.plan_jobs)
    model: str = "neel"  # particle model: "neel" (immobilised, Néel rotation) or "brown" (fluid, Brownian rotation)

    # ----------------------------------------------------------------- construction
    @classmethod
    def load(cls, path_or_dict, schema_path=None) -> "Sweep":
        """A YAML config file (or a dict of its keys): validated, defaults filled, resolved."""
        return resolve(schema.load(path_or_dict, schema_path))

    @classmethod
    def read(cls, path) -> "Sweep":
        """A resolved config JSON (written by :meth:`write`) or, for any other suffix, a YAML config."""
        path = Path(path)
        if path.suffix != ".json":
            return cls.load(path)
        if not path.is_file():
            raise ConfigError(f"resolved config {path} not found")
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except json.JSONDecodeError as err:
            raise ConfigError(f"resolved config {path}: not valid JSON ({err})") from None
        except (KeyError, TypeError) as err:
            raise ConfigError(f"resolved config {path}: not a resolved sweep config (missing {err})") from None

    @classmethod
    def from_dict(cls, d: dict) -> "Sweep":
        sc, o, g, fr, s, f = d["scanner"], d["offsets"], d["grids"], d["frequencies"], d["solver"], d["fit"]
        return cls(
            output=str(d["output"]),
            constants=freeze(dict(d["particle"])),
            scanner=Scanner(float(sc["base_frequency"]), tuple(sc["dividers"]), tuple(sc["amplitudes_T"]),
                            tuple(sc["phases_rad"]), int(sc["samples"])),
            offset_grid=OffsetGrid(tuple(o["x_T"]), tuple(o["y_T"]), int(o["nx"]), int(o["ny"])),
            grids=Grids(tuple(g["diameters_nm"]), tuple(g.get("anisotropies_Jm3", ())), tuple(g["angles_deg"]),
                        tuple(g.get("hydrodynamic_diameters_nm", ()))),
            mixing=(int(fr["mx"]), int(fr["my"])),
            bin_rows=tuple(tuple(int(v) for v in row) for row in fr["bins"]),
            solver=SolverSettings(s["degree"], s["rtol"]),
            limits=Limits(int(d["limits"]["max_degree"]), bool(d["limits"]["force_degree"])),
            fit=FitSettings(tuple(f["ranks"]), tuple(f["rank_fractions"]), f["svd"], float(f["max_memory_gb"]),
                            M3Settings(tuple(f["m3"]["ranks"]), tuple(f["m3"]["rank_fractions"]), float(f["m3"]["l2"]),
                                       int(f["m3"]["max_iter"]), float(f["m3"]["tol"]))),
            measurement=freeze(d["measurement"]),
            orientation=freeze(d.get("orientation", {"enabled": False})),
            cluster=ClusterSettings(**d.get("cluster", {})),
            model=d.get("model", "neel"),
        )

    def to_dict(self) -> dict:
        """The resolved config as plain JSON-ready data (its hash identifies the results)."""
        sc, o, g, m3 = self.scanner, self.offset_grid, self.grids, self.fit.m3
        if self.model == "brown":  # keys only a Brownian sweep has: a Néel sweep's dict (and hash) is unchanged
            grids = {"diameters_nm": list(g.diameters_nm),
                     "hydrodynamic_diameters_nm": list(g.hydrodynamic_diameters_nm), "angles_deg": list(g.angles_deg)}
            model = {"model": self.model}
        else:
            grids = {"diameters_nm": list(g.diameters_nm), "anisotropies_Jm3": list(g.anisotropies_Jm3),
                     "angles_deg": list(g.angles_deg)}
            model = {}
        return model | {
            "output": self.output,
            "particle": dict(self.constants),
            "scanner": {"base_frequency": sc.base_frequency, "dividers": list(sc.dividers),
                        "amplitudes_T": list(sc.amplitudes_T), "phases_rad": list(sc.phases_rad),
                        "samples": sc.samples},
            "offsets": {"x_T": list(o.x_T), "y_T": list(o.y_T), "nx": o.nx, "ny": o.ny},
            "grids": grids,
            "frequencies": {"mx": self.mixing[0], "my": self.mixing[1], "bins": [list(r) for r in self.bin_rows]},
            "solver": {"degree": self.solver.degree, "rtol": self.solver.rtol},
            "limits": {"max_degree": self.limits.max_degree, "force_degree": self.limits.force_degree},
            "fit": {"ranks": list(self.fit.ranks), "rank_fractions": list(self.fit.rank_fractions),
                    "svd": self.fit.svd, "max_memory_gb": self.fit.max_memory_gb,
                    "m3": {"ranks": list(m3.ranks), "rank_fractions": list(m3.rank_fractions), "l2": m3.l2,
                           "max_iter": m3.max_iter, "tol": m3.tol}},
            "measurement": thaw(self.measurement),
            "orientation": thaw(self.orientation),
            "cluster": {"max_job_minutes": self.cluster.max_job_minutes,
                        "safety_factor": self.cluster.safety_factor},
        }

    def write(self, path) -> None:
        from ..io.atomic import write_text

        write_text(path, json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")

    # ---------------------------------------------------------------------- derived
    @cached_property
    def config_hash(self) -> str:
        """sha256 of the canonical resolved config."""
        return digest(self.to_dict())

    @property
    def layout(self) -> Layout:
        return Layout(self.output)

    @property
    def parameter(self) -> ParameterAxis:
        """The dictionary's second axis: anisotropy K (Néel) or hydrodynamic diameter D_h (Brown)."""
        return PARAMETERS[self.model]

    @property
    def parameter_values(self) -> tuple[float, ...]:
        """The grid of the second axis, in its unit (J/m³ or nm)."""
        g = self.grids
        return g.hydrodynamic_diameters_nm if self.model == "brown" else g.anisotropies_Jm3

    def particle(self, diameter_nm: float, value: float) -> Particle | BrownParticle:
        """The particle of one grid point (D in nm, K in J/m³ or D_h in nm), in SI."""
        c = self.constants
        if self.model == "brown":
            return BrownParticle(float(diameter_nm) * NM, float(value) * NM, viscosity=c["viscosity"], ms=c["ms"],
                                 temperature=c["temperature"])
        return Particle(float(diameter_nm) * NM, float(value), ms=c["ms"], alpha=c["alpha"],
                        temperature=c["temperature"], gamma=c["gamma"])

    @cached_property
    def excitation(self) -> Excitation:
        """The drive field without offset."""
        s = self.scanner
        return Excitation(s.amplitudes_T, s.dividers, s.base_frequency, phases=s.phases_rad, samples=s.samples)

    @property
    def cycle(self) -> float:
        """Drive cycle T in s."""
        return self.excitation.period

    def bins_above(self, min_frequency: float) -> np.ndarray:
        """The rfft bins of one drive cycle at or above min_frequency (Hz)."""
        f = np.arange(self.scanner.samples // 2 + 1) / self.cycle
        return np.flatnonzero(f >= float(min_frequency))

    @property
    def offsets(self) -> np.ndarray:
        """(ny, nx, 3) offset fields in T, x fastest (the grid the blocks are simulated on)."""
        o = self.offset_grid
        return offset_grid(o.x_T, o.y_T, o.nx, o.ny)

    @property
    def bins(self) -> np.ndarray:
        """(F, 3) int rows (mx, my, k) of the evaluation set."""
        return np.asarray(self.bin_rows, dtype=np.int64).reshape(-1, 3)

    @property
    def angles(self) -> tuple[float, ...]:
        return self.grids.angles_deg

    @property
    def blocks(self) -> list[tuple[str, float, float]]:
        """(name, D in nm, K in J/m³ or D_h in nm) of every dictionary block, diameter-major."""
        symbol = self.parameter.symbol
        return [(block_name(d, p, symbol), d, p) for d in self.grids.diameters_nm for p in self.parameter_values]

    @property
    def source(self) -> str:
        return self.measurement["source"]

    @property
    def virtual(self):
        return self.measurement["virtual"]

    @property
    def mdf(self):
        return self.measurement["mdf"]

    @property
    def components(self) -> list[tuple[str, dict]]:
        """(name, {diameter, anisotropy or hydrodynamic_diameter, weight}) of the virtual scanner's mixture."""
        p = self.parameter
        return [(block_name(c["diameter"], c[p.name], p.symbol), dict(c)) for c in self.virtual["components"]]

    def solver_rtol(self, particle: Particle) -> float:
        """The dictionary's rtol for one particle: the configured one or the solver's default."""
        from ..physics.solver import particle_rtol

        return self.solver.rtol if self.solver.rtol is not None else particle_rtol(particle)


# ------------------------------------------------------------------------------ resolve
def without_foreign_defaults(merged: dict, own: list[dict]) -> dict:
    """The workflow's config without what only the default config gave it and the user's files replace.

    Snakemake merges each --configfile over config/config.yaml. The default's position map
    (orientation.gradient or field_of_view, one setting given two ways) describes its virtual
    scanner: it is dropped when the user's own config files (``own``, as read) give the other key,
    or read measured files (measurement.source: mdf), whose /calibration/positions then say where
    each offset is. For a Brownian sweep
    the default's easy-axis grids (grids.anisotropies, grids.angles) and orientation imaging do not
    apply to a fluid tracer: they are dropped (orientation switched off) unless the user's own files
    set them, so that a contradiction is still reported.
    """
    out = dict(merged)
    geometry = ("gradient", "field_of_view")
    given = [k for k in geometry if any(k in (c.get("orientation") or {}) for c in own)]
    measured = any((c.get("measurement") or {}).get("source") == "mdf" for c in own)
    if (given or measured) and "orientation" in out:
        out["orientation"] = {k: v for k, v in out["orientation"].items() if k in given or k not in geometry}
    if out.get("model", "neel") != "brown":
        return out
    out["grids"] = dict(out.get("grids", {}))
    for key in ("anisotropies", "angles"):
        if not any(key in (c.get("grids") or {}) for c in own):
            out["grids"].pop(key, None)
    if not any("enabled" in (c.get("orientation") or {}) for c in own):
        out["orientation"] = {**out.get("orientation", {}), "enabled": False}
    return out


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
        dup = sorted({v for v in values if values.count(v) > 1})
        raise ConfigError(f"config key '{key}': duplicate values {dup}")
    return tuple(uniq)


def _grids(g: dict, model: str) -> Grids:
    own = {"neel": ("anisotropies", "angles"), "brown": ("hydrodynamic_diameters",)}[model]
    for key in ("anisotropies", "angles", "hydrodynamic_diameters"):
        if key in own and key not in g:
            raise ConfigError(f"config key 'grids.{key}': required for model {model}")
        if key not in own and key in g:
            raise ConfigError(f"config key 'grids.{key}': not a grid of model {model} (its grids: diameters, "
                              f"{', '.join(own)})")
    if model == "brown":
        return _brown_grids(g)
    grids = Grids(expand_grid(g["diameters"], "grids.diameters"), expand_grid(g["anisotropies"], "grids.anisotropies"),
                  expand_grid(g["angles"], "grids.angles"))
    if grids.diameters_nm[0] <= 0:
        raise ConfigError(f"config key 'grids.diameters': diameters must be > 0 nm, got {grids.diameters_nm[0]:g}")
    if grids.anisotropies_Jm3[0] < 0:
        raise ConfigError(f"config key 'grids.anisotropies': must be ≥ 0 J/m³, got {grids.anisotropies_Jm3[0]:g}")
    mod = sorted(round(a % 180.0, 9) % 180.0 for a in grids.angles_deg)
    if len(set(mod)) != len(mod):
        raise ConfigError("config key 'grids.angles': two angles describe the same easy axis (equal modulo 180°): "
                          f"{list(grids.angles_deg)}")
    return grids


def _brown_grids(g: dict) -> Grids:
    """Core × hydrodynamic diameters; one 'angle', the drive frame (no easy axis in a fluid)."""
    diameters = expand_grid(g["diameters"], "grids.diameters")
    hydro = expand_grid(g["hydrodynamic_diameters"], "grids.hydrodynamic_diameters")
    if diameters[0] <= 0:
        raise ConfigError(f"config key 'grids.diameters': diameters must be > 0 nm, got {diameters[0]:g}")
    if hydro[0] < diameters[-1]:
        raise ConfigError(f"config key 'grids.hydrodynamic_diameters': {hydro[0]:g} nm is below the largest core "
                          f"diameter {diameters[-1]:g} nm (the hydrodynamic diameter includes the core)")
    return Grids(diameters, (), (0.0,), hydro)


def _bins(fr: dict, dividers: list[int], samples: int) -> np.ndarray:
    rows = mixing_bins(dividers, int(fr["mx"]), int(fr["my"]))
    if rows.shape[0] == 0:
        raise ConfigError("config key 'frequencies': the evaluation set is empty (raise mx or my)")
    kmax = int(rows[:, 2].max())
    if kmax > samples // 2:
        raise ConfigError(
            f"config key 'frequencies': bin k = {kmax} (mx = {fr['mx']}, my = {fr['my']}) is above the "
            f"Nyquist bin {samples // 2} of scanner.samples = {samples}; lower mx/my or raise samples")
    if len(set(rows[:, 2].tolist())) != rows.shape[0]:
        raise ConfigError(f"config key 'frequencies': mixing orders up to ({fr['mx']}, {fr['my']}) give "
                          f"colliding bins for dividers {dividers}; lower mx/my")
    return rows


def _rank_fractions(ranks: list, n_entries: int, key: str = "fit.ranks") -> list[float]:
    fractions = []
    for i, r in enumerate(ranks):
        spec = parse_rank(r)
        f = spec / n_entries if isinstance(spec, int) else spec
        if not 0 < f <= 1:
            raise ConfigError(f"config key '{key}[{i}]': {r!r} is not within (0 %, 100 %] of the "
                              f"{n_entries} dictionary entries")
        fractions.append(f)
    if len(set(fractions)) != len(fractions):
        raise ConfigError(f"config key '{key}': duplicate ranks {ranks}")
    return fractions


def _check_measurement(meas: dict, model: str) -> None:
    seen = set()
    axis = PARAMETERS[model]
    for i, c in enumerate(meas["virtual"]["components"]):
        key = f"measurement.virtual.components[{i}]"
        other = next(a for m, a in PARAMETERS.items() if m != model)
        if axis.name not in c or other.name in c:
            raise ConfigError(f"config key '{key}': model {model} gives each component a diameter, "
                              f"{axis.name} ({axis.unit}) and weight")
        if model == "brown" and c[axis.name] < c["diameter"]:
            raise ConfigError(f"config key '{key}.{axis.name}': {c[axis.name]:g} nm is below its diameter "
                              f"{c['diameter']:g} nm")
        name = block_name(c["diameter"], c[axis.name], axis.symbol)
        if name in seen:
            raise ConfigError(f"config key '{key}': ({c['diameter']:g} nm, {c[axis.name]:g} {axis.unit}) "
                              "is listed twice")
        seen.add(name)
    if meas["virtual"]["transfer_function"]["kind"] == "h5" and "path" not in meas["virtual"]["transfer_function"]:
        raise ConfigError("config key 'measurement.virtual.transfer_function.path': required for kind h5")
    if meas["source"] == "mdf" and not meas["mdf"].get("directory"):
        raise ConfigError("config key 'measurement.mdf.directory': required for measurement.source mdf")


def _check_orientation(o: dict) -> None:
    """The orientation grids expand (errors name the key) before any work."""
    if o["matrices"]["angles"] is not None:
        expand_grid(o["matrices"]["angles"], "orientation.matrices.angles")
    expand_grid(o["phantoms"]["orientations"], "orientation.phantoms.orientations")
    if o["enabled"] and o["phantoms"]["source"] == "mdf" and not o["phantoms"].get("directory"):
        raise ConfigError("config key 'orientation.phantoms.directory': required for orientation.phantoms.source mdf")


def resolve(cfg: dict) -> Sweep:
    """Validated config (defaults filled, see :mod:`.schema`) → the resolved :class:`Sweep`."""
    sc, off = cfg["scanner"], cfg["offsets"]
    model = cfg["model"]
    dividers = [int(d) for d in sc["dividers"]]
    samples = math.lcm(*dividers) if sc["samples"] is None else int(sc["samples"])
    grids = _grids(cfg["grids"], model)
    n_entries = len(grids.diameters_nm) * len(grids.hydrodynamic_diameters_nm if model == "brown"
                                              else grids.anisotropies_Jm3)
    rows = _bins(cfg["frequencies"], dividers, samples)
    if not any(float(a) > 0 for a in sc["drive"]):
        raise ConfigError(f"config key 'scanner.drive': all amplitudes are zero ({sc['drive']}): nothing drives the "
                          "particles, so the rows would be numerical noise")
    for axis in ("x", "y"):
        if off[axis]["max"] < off[axis]["min"]:
            raise ConfigError(f"config key 'offsets.{axis}.max': {off[axis]['max']:g} "
                              f"is below min {off[axis]['min']:g}")
    ranks = list(cfg["fit"]["ranks"])
    fractions = _rank_fractions(ranks, n_entries)
    m3 = cfg["fit"]["m3"]
    m3_ranks = list(m3["ranks"])
    m3_fractions = _rank_fractions(m3_ranks, n_entries, "fit.m3.ranks")
    _check_measurement(cfg["measurement"], model)
    _check_orientation(cfg["orientation"])
    if model == "brown" and cfg["orientation"]["enabled"]:
        raise ConfigError("config key 'orientation.enabled': orientation imaging needs easy axes; "
                          "model brown (a fluid tracer) has none")
    solver = cfg["solver"]
    constants = ("ms", "temperature", "viscosity") if model == "brown" else ("ms", "alpha", "temperature", "gamma")
    sweep = Sweep(
        output=str(cfg["output"]),
        constants=freeze({k: float(cfg["particle"][k]) for k in constants}),
        scanner=Scanner(float(sc["base_frequency"]), tuple(dividers), tuple(float(a) * MT for a in sc["drive"]),
                        tuple(math.radians(float(a)) for a in sc["phases"]), samples),
        offset_grid=OffsetGrid((float(off["x"]["min"]) * MT, float(off["x"]["max"]) * MT),
                               (float(off["y"]["min"]) * MT, float(off["y"]["max"]) * MT),
                               int(off["x"]["count"]), int(off["y"]["count"])),
        grids=grids,
        mixing=(int(cfg["frequencies"]["mx"]), int(cfg["frequencies"]["my"])),
        bin_rows=tuple(tuple(int(v) for v in r) for r in rows.tolist()),
        solver=SolverSettings(None if solver["degree"] == "auto" else int(solver["degree"]),
                              None if solver["rtol"] == "auto" else float(solver["rtol"])),
        limits=Limits(int(solver["max_degree"]), bool(solver["force_degree"])),
        fit=FitSettings(tuple(ranks), tuple(fractions), cfg["fit"]["svd"], float(cfg["fit"]["max_memory_gb"]),
                        M3Settings(tuple(m3_ranks), tuple(m3_fractions), float(m3["l2"]), int(m3["max_iter"]),
                                   float(m3["tol"]))),
        measurement=freeze(cfg["measurement"]),
        orientation=freeze(cfg["orientation"]),
        cluster=ClusterSettings(int(cfg["cluster"]["max_job_minutes"]), float(cfg["cluster"]["safety_factor"])),
        model=model,
    )
    cost.check(sweep)
    return sweep
