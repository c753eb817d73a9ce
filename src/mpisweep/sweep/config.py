"""The typed sweep: a validated config resolved to SI once, as one frozen :class:`Sweep`.

Usable without Snakemake::

    from mpisweep.sweep import Sweep
    sweep = Sweep.load("config/config.yaml")
    sweep.particle(22, 1100), sweep.excitation, sweep.offsets, sweep.bins, sweep.cycle

Any scanner: 1 to 3 drive channels (a spectrometer, the paper's 2D drive, a 3D drive), 1 to 3
receive channels, offset grids over x, y and z, easy axes as in-plane angles or 3D directions.
What the paper's 2D setup does not use stays out of :meth:`Sweep.to_dict`, so its config hash, and
every output it identifies, is the same as before these generalisations.

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
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ..errors import ConfigError
from ..fitting.ranks import parse_rank
from ..physics.block import offset_grid
from ..physics.excitation import Excitation
from ..physics.params import BrownParticle, Particle
from ..physics.spectra import lowest_orders, mixing_bins
from ..physics.symmetry import easy_axes
from . import cost, schema
from .layout import Layout
from .names import PARAMETERS, ParameterAxis, block_name, label
from .refine import RefineSettings
from .refine import steps as refine_steps

ORDER_NAMES = ("mx", "my", "mz")  # mixing-order columns, one per drive channel
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
AXES = ("x", "y", "z")
PAPER_RECEIVE = ("x", "y")


@dataclass(frozen=True)
class Scanner:
    base_frequency: float  # Hz
    dividers: tuple[int, ...]  # one per drive channel, along x, y, z in this order
    amplitudes_T: tuple[float, ...]  # 0 = an inactive channel
    phases_rad: tuple[float, ...]
    samples: int  # per cycle
    receive: tuple[str, ...] = PAPER_RECEIVE  # receive channels by coil axis

    @property
    def receive_axes(self) -> tuple[int, ...]:
        """The receive channels' axes as indices 0, 1, 2 (x, y, z)."""
        return tuple(AXES.index(c) for c in self.receive)


@dataclass(frozen=True)
class OffsetGrid:
    x_T: tuple[float, float]  # (min, max)
    y_T: tuple[float, float]
    nx: int
    ny: int
    z_T: tuple[float, float] = (0.0, 0.0)
    nz: int = 1

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


@dataclass(frozen=True)
class Grids:
    diameters_nm: tuple[float, ...]
    anisotropies_Jm3: tuple[float, ...]  # Néel; () for Brown
    angles_deg: tuple[float, ...]  # Néel: in-plane angles, or 0, 1, … counting directions_deg; Brown: (0.0,)
    hydrodynamic_diameters_nm: tuple[float, ...] = ()  # Brown
    directions_deg: tuple[tuple[float, float], ...] = ()  # Néel easy axes in 3D: (polar, azimuth) pairs


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
    mixing: tuple[int, ...]  # highest mixing order per drive channel (0 for an inactive one)
    bin_rows: tuple[tuple[int, ...], ...]  # (m_1, …, m_n, k) of the evaluation set, one order per drive channel
    solver: SolverSettings
    limits: Limits
    fit: FitSettings
    measurement: MappingProxyType  # source, virtual {...}, mdf {...} as the schema defines them
    orientation: MappingProxyType  # enabled, models, matrices, phantoms, reconstruction, readout (the schema)
    cluster: ClusterSettings  # sizing of the simulate jobs for a cluster (cost.plan_jobs)
    model: str = "neel"  # particle model: "neel" (immobilised, Néel rotation) or "brown" (fluid, Brownian rotation)
    # frequencies.select snr: the band's lowest frequency (Hz) and the measured SNR a bin needs in the fits;
    # None with the mixing-order set
    snr_band: tuple[float, float] | None = None
    refine: RefineSettings = RefineSettings()  # coarse-to-fine rounds (off: the whole grid)

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
        directions = tuple(tuple(float(v) for v in p) for p in g.get("directions_deg", ()))
        return cls(
            output=str(d["output"]),
            constants=freeze(dict(d["particle"])),
            scanner=Scanner(float(sc["base_frequency"]), tuple(sc["dividers"]), tuple(sc["amplitudes_T"]),
                            tuple(sc["phases_rad"]), int(sc["samples"]), tuple(sc.get("receive", PAPER_RECEIVE))),
            offset_grid=OffsetGrid(tuple(o["x_T"]), tuple(o["y_T"]), int(o["nx"]), int(o["ny"]),
                                   tuple(o.get("z_T", (0.0, 0.0))), int(o.get("nz", 1))),
            grids=Grids(tuple(g["diameters_nm"]), tuple(g.get("anisotropies_Jm3", ())),
                        tuple(g.get("angles_deg", (float(i) for i in range(len(directions))))),
                        tuple(g.get("hydrodynamic_diameters_nm", ())), directions),
            mixing=tuple(int(fr[name]) for name in ORDER_NAMES[:len(sc["dividers"])]),
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
            snr_band=(float(fr["min_frequency"]), float(fr["snr_threshold"])) if fr.get("select") == "snr" else None,
            refine=RefineSettings(**{**d["refine"], "coarse_step": refine_steps(d["refine"]["coarse_step"])})
            if "refine" in d else RefineSettings(),
        )

    def to_dict(self) -> dict:
        """The resolved config as plain JSON-ready data (its hash identifies the results)."""
        sc, o, g, m3 = self.scanner, self.offset_grid, self.grids, self.fit.m3
        if self.model == "brown":  # keys only a Brownian sweep has: a Néel sweep's dict (and hash) is unchanged
            grids = {"diameters_nm": list(g.diameters_nm),
                     "hydrodynamic_diameters_nm": list(g.hydrodynamic_diameters_nm), "angles_deg": list(g.angles_deg)}
            model = {"model": self.model}
        else:
            grids = {"diameters_nm": list(g.diameters_nm), "anisotropies_Jm3": list(g.anisotropies_Jm3)}
            grids |= ({"directions_deg": [list(p) for p in g.directions_deg]} if g.directions_deg
                      else {"angles_deg": list(g.angles_deg)})
            model = {}
        # keys the paper's 2D scanner does not use are left out, so its dict (and hash) is unchanged
        receive = {} if sc.receive == PAPER_RECEIVE else {"receive": list(sc.receive)}
        z = {} if o.is_planar else {"z_T": list(o.z_T), "nz": o.nz}
        return model | {
            "output": self.output,
            "particle": dict(self.constants),
            "scanner": {"base_frequency": sc.base_frequency, "dividers": list(sc.dividers),
                        "amplitudes_T": list(sc.amplitudes_T), "phases_rad": list(sc.phases_rad),
                        "samples": sc.samples} | receive,
            "offsets": {"x_T": list(o.x_T), "y_T": list(o.y_T), "nx": o.nx, "ny": o.ny} | z,
            "grids": grids,
            "frequencies": dict(zip(ORDER_NAMES, self.mixing)) | {"bins": [list(r) for r in self.bin_rows]} | (
                {} if self.snr_band is None else
                {"select": "snr", "min_frequency": self.snr_band[0], "snr_threshold": self.snr_band[1]}),
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
        } | ({"refine": asdict(self.refine)} if self.refine.enabled else {})

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
        """Offset fields in T, x fastest: (ny, nx, 3), or (nz, ny, nx, 3) on a grid with several z points
        (the grid the blocks are simulated on; see OffsetGrid.shape)."""
        o = self.offset_grid
        return offset_grid(o.x_T, o.y_T, o.nx, o.ny, o.z_T, o.nz)

    @property
    def offset_dims(self) -> tuple[str, ...]:
        """The offset grid's dimensions: (offset_y, offset_x), with offset_z first on a grid of several z points."""
        return ("offset_z", "offset_y", "offset_x") if self.offset_grid.nz > 1 else ("offset_y", "offset_x")

    @property
    def bins(self) -> np.ndarray:
        """(F, n + 1) int rows (m_1, …, m_n, k) of the evaluation set: one mixing order per drive channel, then
        the rfft bin (2D: (mx, my, k))."""
        return np.asarray(self.bin_rows, dtype=np.int64).reshape(-1, len(self.scanner.dividers) + 1)

    @property
    def bin_indices(self) -> np.ndarray:
        """(F,) rfft bins k of the evaluation set."""
        return self.bins[:, -1]

    @property
    def order_names(self) -> tuple[str, ...]:
        """Names of the mixing-order columns of :attr:`bins`: mx, my, mz, one per drive channel."""
        return ORDER_NAMES[: len(self.scanner.dividers)]

    @property
    def channels(self) -> tuple[str, ...]:
        """The receive channels by coil axis ("x", "y", "z")."""
        return self.scanner.receive

    @property
    def angles(self) -> tuple[float, ...]:
        """The dictionary's angle coordinate: in-plane easy-axis angles (deg), or 0, 1, … counting
        :attr:`directions` when the easy axes are given in 3D."""
        return self.grids.angles_deg

    @property
    def directions(self) -> tuple[tuple[float, float], ...]:
        """(polar, azimuth) in degrees of each easy axis given in 3D; () for in-plane angles."""
        return self.grids.directions_deg

    @property
    def easy_axes(self) -> np.ndarray:
        """(A, 3) easy-axis unit vectors, one per entry of the angle axis."""
        return direction_vectors(self.directions) if self.directions else easy_axes(self.angles)

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

    def easy_axis_text(self, angle: float) -> str:
        """One entry of the angle axis in words (model and virtual MDF files' /experiment/name)."""
        if self.model != "neel":
            return "Brownian (fluid tracer)"
        if self.directions:
            polar, azimuth = self.directions[int(round(float(angle)))]
            return f"easy axis polar {label(polar)} deg, azimuth {label(azimuth)} deg"
        return f"easy axis {label(float(angle))} deg"

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
    own_grids = [c.get("grids") or {} for c in own]
    if any("directions" in g for g in own_grids) and not any("angles" in g for g in own_grids):
        out["grids"] = {k: v for k, v in out.get("grids", {}).items() if k != "angles"}  # 3D easy axes replace them
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
    if model == "neel" and "directions" in g:
        if "angles" in g:
            raise ConfigError("config key 'grids.directions': give the easy axes either as grids.angles (in-plane) "
                              "or as grids.directions (3D), not both")
        own = ("anisotropies", "directions")
    for key in ("anisotropies", "angles", "directions", "hydrodynamic_diameters"):
        if key in own and key not in g:
            raise ConfigError(f"config key 'grids.{key}': required for model {model}")
        if key not in own and key in g:
            raise ConfigError(f"config key 'grids.{key}': not a grid of model {model} (its grids: diameters, "
                              f"{', '.join(own)})")
    if model == "brown":
        return _brown_grids(g)
    if "directions" in g:
        directions = _directions(g["directions"])
        angles = tuple(float(i) for i in range(len(directions)))
    else:
        directions, angles = (), expand_grid(g["angles"], "grids.angles")
    grids = Grids(expand_grid(g["diameters"], "grids.diameters"), expand_grid(g["anisotropies"], "grids.anisotropies"),
                  angles, (), directions)
    if grids.diameters_nm[0] <= 0:
        raise ConfigError(f"config key 'grids.diameters': diameters must be > 0 nm, got {grids.diameters_nm[0]:g}")
    if grids.anisotropies_Jm3[0] < 0:
        raise ConfigError(f"config key 'grids.anisotropies': must be ≥ 0 J/m³, got {grids.anisotropies_Jm3[0]:g}")
    mod = sorted(round(a % 180.0, 9) % 180.0 for a in grids.angles_deg)
    if not directions and len(set(mod)) != len(mod):
        raise ConfigError("config key 'grids.angles': two angles describe the same easy axis (equal modulo 180°): "
                          f"{list(grids.angles_deg)}")
    return grids


def direction_vectors(directions) -> np.ndarray:
    """(A, 3) unit vectors of (polar from z, azimuth from x) pairs in degrees."""
    polar, azimuth = np.radians(np.asarray(directions, float)).reshape(-1, 2).T
    return np.stack([np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)], axis=1)


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


def _bins(fr: dict, scanner: Scanner, cycle: int) -> np.ndarray:
    """The evaluation set: mixing orders of the active drive channels (an inactive channel's order is 0)."""
    names = ORDER_NAMES[: len(scanner.dividers)]
    highest = [int(fr[n]) if a > 0 else 0 for n, a in zip(names, scanner.amplitudes_T)]
    given = ", ".join(f"{n} = {m}" for n, m in zip(names, highest))
    rows = mixing_bins(scanner.dividers, *highest, cycle=cycle)
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


def _band(fr: dict, scanner: Scanner, cycle: int) -> tuple[np.ndarray, tuple[float, float]]:
    """frequencies.select snr: every bin from min_frequency to Nyquist but the DC bin and the drive frequencies,
    labelled with their lowest mixing orders (−1 where none)."""
    periods = [cycle // d for d, a in zip(scanner.dividers, scanner.amplitudes_T) if a > 0]
    period_s = cycle / scanner.base_frequency
    lowest = (max(periods) + 1) / period_s if fr["min_frequency"] is None else float(fr["min_frequency"])
    k = np.arange(scanner.samples // 2 + 1)
    k = k[(k / period_s >= lowest) & (k > 0) & ~np.isin(k, periods)]
    if k.size == 0:
        raise ConfigError(f"config key 'frequencies.min_frequency': {lowest:g} Hz is above the Nyquist frequency "
                          f"{scanner.samples / 2 / period_s:g} Hz of scanner.samples = {scanner.samples}")
    active = [i for i, a in enumerate(scanner.amplitudes_T) if a > 0]
    orders = lowest_orders(scanner.dividers, k, cycle=cycle, active=active)
    return np.column_stack([orders, k]), (float(lowest), float(fr["snr_threshold"]))


def _scanner(sc: dict) -> tuple[Scanner, int]:
    """scanner.* → Scanner and the cycle in base-frequency periods (lcm of the active channels' dividers)."""
    dividers = [int(d) for d in sc["dividers"]]
    n = len(dividers)
    phases = [0.0] * n if sc["phases"] is None else [float(p) for p in sc["phases"]]
    for key, values in (("drive", sc["drive"]), ("phases", phases)):
        if len(values) != n:
            raise ConfigError(f"config key 'scanner.{key}': {len(values)} value(s) {list(values)} for {n} drive "
                              f"channel(s) (scanner.dividers {dividers}); give one per channel")
    if not any(float(a) > 0 for a in sc["drive"]):
        raise ConfigError(f"config key 'scanner.drive': all amplitudes are zero ({sc['drive']}): nothing drives the "
                          "particles, so the rows would be numerical noise")
    cycle = math.lcm(*(d for d, a in zip(dividers, sc["drive"]) if float(a) > 0))
    samples = cycle if sc["samples"] is None else int(sc["samples"])
    receive = tuple(AXES[:n]) if sc["receive"] is None else tuple(sc["receive"])
    return Scanner(float(sc["base_frequency"]), tuple(dividers), tuple(float(a) * MT for a in sc["drive"]),
                   tuple(math.radians(p) for p in phases), samples, receive), cycle


DEFAULT_GAINS = (1.0, 0.8, 0.9)  # analytic transfer function of the virtual scanner, per receive channel
DEFAULT_PHASES_DEG = (0.0, 25.0, -15.0)


def _per_channel(meas: dict, n: int) -> dict:
    """Fill the per-receive-channel settings left null (gains, phases, file channels) for `n` channels and
    check the given ones have one value per channel (the paper's two channels resolve as before)."""
    meas = {**meas, "virtual": {**meas["virtual"]}, "mdf": {**meas["mdf"]}}
    tf = meas["virtual"]["transfer_function"] = {**meas["virtual"]["transfer_function"]}
    for key, default in (("gain", DEFAULT_GAINS), ("phase", DEFAULT_PHASES_DEG), ("channels", range(3))):
        tf[key] = list(default)[:n] if tf.get(key) is None else list(tf[key])
        if len(tf[key]) < n:
            raise ConfigError(f"config key 'measurement.virtual.transfer_function.{key}': {tf[key]} has "
                              f"{len(tf[key])} value(s) for {n} receive channels (scanner.receive)")
    channels = meas["mdf"].get("channels")
    meas["mdf"]["channels"] = list(range(n)) if channels is None else list(channels)
    if len(meas["mdf"]["channels"]) != n:
        raise ConfigError(f"config key 'measurement.mdf.channels': {channels} names {len(channels)} file channel(s) "
                          f"for {n} receive channels (scanner.receive)")
    return meas


def _refine(r: dict) -> RefineSettings:
    return RefineSettings(**{**r, "coarse_step": refine_steps(r["coarse_step"])})


def resolve(cfg: dict) -> Sweep:
    """Validated config (defaults filled, see :mod:`.schema`) → the resolved :class:`Sweep`."""
    off = cfg["offsets"]
    model = cfg["model"]
    scanner, cycle = _scanner(cfg["scanner"])
    grids = _grids(cfg["grids"], model)
    n_entries = len(grids.diameters_nm) * len(grids.hydrodynamic_diameters_nm if model == "brown"
                                              else grids.anisotropies_Jm3)
    fr = cfg["frequencies"]
    snr_band = None
    if fr["select"] == "snr":
        rows, snr_band = _band(fr, scanner, cycle)
    else:
        rows = _bins(fr, scanner, cycle)
    measurement = _per_channel(cfg["measurement"], len(scanner.receive))
    for axis in ("x", "y", "z"):
        if off[axis]["max"] < off[axis]["min"]:
            raise ConfigError(f"config key 'offsets.{axis}.max': {off[axis]['max']:g} "
                              f"is below min {off[axis]['min']:g}")
    ranks = list(cfg["fit"]["ranks"])
    fractions = _rank_fractions(ranks, n_entries)
    m3 = cfg["fit"]["m3"]
    m3_ranks = list(m3["ranks"])
    m3_fractions = _rank_fractions(m3_ranks, n_entries, "fit.m3.ranks")
    _check_measurement(measurement, model)
    _check_orientation(cfg["orientation"])
    if model == "brown" and cfg["orientation"]["enabled"]:
        raise ConfigError("config key 'orientation.enabled': orientation imaging needs easy axes; "
                          "model brown (a fluid tracer) has none")
    planar = off["z"]["count"] == 1 and off["z"]["min"] == 0 and off["z"]["max"] == 0
    if cfg["orientation"]["enabled"] and not (planar and scanner.receive == PAPER_RECEIVE and not grids.directions_deg):
        raise ConfigError("config key 'orientation.enabled': orientation imaging works on the paper's geometry "
                          "(in-plane grids.angles, an x-y offset grid, receive channels x and y); switch it off "
                          "for this scanner")
    if grids.directions_deg and measurement["source"] == "mdf":
        raise ConfigError("config key 'grids.directions': measured files are listed with one in-plane angle each "
                          "(measurement.mdf); 3D easy-axis directions work with the virtual scanner only")
    solver = cfg["solver"]
    constants = ("ms", "temperature", "viscosity") if model == "brown" else ("ms", "alpha", "temperature", "gamma")
    sweep = Sweep(
        output=str(cfg["output"]),
        constants=freeze({k: float(cfg["particle"][k]) for k in constants}),
        scanner=scanner,
        offset_grid=OffsetGrid((float(off["x"]["min"]) * MT, float(off["x"]["max"]) * MT),
                               (float(off["y"]["min"]) * MT, float(off["y"]["max"]) * MT),
                               int(off["x"]["count"]), int(off["y"]["count"]),
                               (float(off["z"]["min"]) * MT, float(off["z"]["max"]) * MT), int(off["z"]["count"])),
        grids=grids,
        mixing=tuple(int(v) for v in rows[:, :-1].max(axis=0)),
        bin_rows=tuple(tuple(int(v) for v in r) for r in rows.tolist()),
        solver=SolverSettings(None if solver["degree"] == "auto" else int(solver["degree"]),
                              None if solver["rtol"] == "auto" else float(solver["rtol"])),
        limits=Limits(int(solver["max_degree"]), bool(solver["force_degree"])),
        fit=FitSettings(tuple(ranks), tuple(fractions), cfg["fit"]["svd"], float(cfg["fit"]["max_memory_gb"]),
                        M3Settings(tuple(m3_ranks), tuple(m3_fractions), float(m3["l2"]), int(m3["max_iter"]),
                                   float(m3["tol"]))),
        measurement=freeze(measurement),
        orientation=freeze(cfg["orientation"]),
        cluster=ClusterSettings(int(cfg["cluster"]["max_job_minutes"]), float(cfg["cluster"]["safety_factor"])),
        model=model,
        snr_band=snr_band,
        refine=_refine(cfg["refine"]),
    )
    cost.check(sweep)
    return sweep
