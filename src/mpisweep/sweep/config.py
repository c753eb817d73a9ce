"""The typed sweep: a validated config resolved to SI once, as one frozen :class:`Sweep`.

Usable without Snakemake::

    from mpisweep.sweep import Sweep
    sweep = Sweep.load("config/config.yaml")
    sweep.particle(22, 1100), sweep.excitation, sweep.offsets, sweep.bins, sweep.cycle

Each config section is one typed, frozen section (:mod:`mpisweep.sweep.sections`) that converts its
units, checks its keys and writes its JSON form; :class:`Sweep` composes them, checks what spans
sections, and derives what the steps need (the particle of a grid point, the drive, the offsets, the
bins). The defaults are the schema's (:mod:`mpisweep.sweep.schema`), filled in before resolving.

:meth:`Sweep.to_dict` is the *resolved config* (plain JSON): the workflow writes it once per config
hash and every step reads it back with :meth:`Sweep.read`; its hash identifies results. What the
paper's 2D setup does not use stays out of it, so its hash, and every output it identifies, is the
same as before scanners of 1 and 3 channels existed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ..errors import ConfigError
from ..physics.block import offset_grid
from ..physics.distribution import EasyAxisDistribution
from ..physics.excitation import Excitation
from ..physics.params import BrownParticle, Particle
from ..physics.symmetry import easy_axes
from ..units import NM, ORDER_NAMES
from . import cost, schema
from .layout import Layout
from .names import PARAMETERS, ParameterAxis, block_name, label
from .refine import coarse_grid
from .sections.base import freeze
from .sections.cluster import ClusterSettings
from .sections.fit import FitSettings
from .sections.frequencies import Frequencies
from .sections.grids import Grids, direction_vectors, expand_grid
from .sections.measurement import MdfFiles, Measurement, VirtualScanner
from .sections.orientation import Orientation
from .sections.particle import constants
from .sections.refine import RefineSettings
from .sections.scanner import PAPER_RECEIVE, OffsetGrid, Scanner
from .sections.solver import Limits, SolverSettings

__all__ = ["Sweep", "canonical", "digest", "expand_grid", "freeze", "without_foreign_defaults"]


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def digest(obj) -> str:
    """sha256 of the canonical JSON of `obj`."""
    return hashlib.sha256(canonical(obj).encode()).hexdigest()


@dataclass(frozen=True)
class Sweep:
    """One sweep, resolved: everything every workflow step needs, in SI (grid labels in their units)."""

    output: str
    constants: MappingProxyType  # ms (A/m), alpha, temperature (K), gamma (rad/(s·T)) or viscosity (Pa·s)
    scanner: Scanner
    offset_grid: OffsetGrid
    grids: Grids
    frequencies: Frequencies
    solver: SolverSettings
    limits: Limits
    fit: FitSettings
    measurement: Measurement
    orientation: Orientation
    cluster: ClusterSettings
    model: str = "neel"  # particle model: "neel" (immobilised, Néel rotation) or "brown" (fluid, Brownian rotation)
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
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(f"resolved config {path}: not valid JSON ({err})") from None
        except (KeyError, TypeError) as err:
            raise ConfigError(f"resolved config {path}: not a resolved sweep config (missing {err})") from None

    @classmethod
    def from_dict(cls, d: dict) -> "Sweep":
        """The inverse of :meth:`to_dict`: each section reads its own JSON form."""
        scanner = Scanner.from_json(d["scanner"])
        return cls(
            output=str(d["output"]),
            constants=freeze(dict(d["particle"])),
            scanner=scanner,
            offset_grid=OffsetGrid.from_json(d["offsets"]),
            grids=Grids.from_json(d["grids"]),
            frequencies=Frequencies.from_json(d["frequencies"], len(scanner.dividers)),
            solver=SolverSettings.from_json(d["solver"]),
            limits=Limits.from_json(d["limits"]),
            fit=FitSettings.from_json(d["fit"]),
            measurement=Measurement.from_json(d["measurement"]),
            orientation=Orientation.from_json(d["orientation"]),
            cluster=ClusterSettings.from_json(d.get("cluster", {})),
            model=d.get("model", "neel"),
            refine=RefineSettings.from_json(d["refine"]) if "refine" in d else RefineSettings(),
        )

    def to_dict(self) -> dict:
        """The resolved config as plain JSON-ready data (its hash identifies the results)."""
        return ({"model": self.model} if self.model == "brown" else {}) | {
            "output": self.output,
            "particle": dict(self.constants),
            "scanner": self.scanner.to_json(),
            "offsets": self.offset_grid.to_json(),
            "grids": self.grids.to_json(self.model),
            "frequencies": self.frequencies.to_json(),
            "solver": self.solver.to_json(),
            "limits": self.limits.to_json(),
            "fit": self.fit.to_json(),
            "measurement": self.measurement.to_json(),
            "orientation": self.orientation.to_json(),
            "cluster": self.cluster.to_json(),
        } | ({"refine": self.refine.to_json()} if self.refine.enabled else {})

    def write(self, path) -> None:
        """Write the resolved config as JSON (the file every step reads; :meth:`read` reads it back)."""
        from ..io.atomic import write_text

        write_text(path, json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")

    # ---------------------------------------------------------------------- derived
    @cached_property
    def config_hash(self) -> str:
        """sha256 of the canonical resolved config."""
        return digest(self.to_dict())

    @property
    def mixing(self) -> tuple[int, ...]:
        """Highest mixing order per drive channel (0 for an inactive one)."""
        return self.frequencies.mixing

    @property
    def bin_rows(self) -> tuple[tuple[int, ...], ...]:
        """(m_1, …, m_n, k) of the evaluation set, one order per drive channel."""
        return self.frequencies.bin_rows

    @property
    def snr_band(self) -> tuple[float, float] | None:
        """The band of ``frequencies.select: snr``, (lowest frequency in Hz, SNR a bin needs), or None."""
        return self.frequencies.snr_band

    @property
    def layout(self) -> Layout:
        return Layout(self.output)

    @property
    def parameter(self) -> ParameterAxis:
        """The dictionary's second axis beside the diameter (anisotropy K for Néel, hydrodynamic diameter D_h for
        Brown)."""
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
        """Offset fields in T, x varying fastest, shape (ny, nx, 3), or (nz, ny, nx, 3) with several z points
        (the grid the blocks are simulated on)."""
        o = self.offset_grid
        return offset_grid(o.x_T, o.y_T, o.nx, o.ny, o.z_T, o.nz)

    @property
    def offset_dims(self) -> tuple[str, ...]:
        """The offset grid's dimension names, (offset_y, offset_x), with offset_z first on a grid of several z
        points."""
        return ("offset_z", "offset_y", "offset_x") if self.offset_grid.nz > 1 else ("offset_y", "offset_x")

    @property
    def bins(self) -> np.ndarray:
        """The evaluation set as int rows (m_1, …, m_n, k), shape (F, n + 1): one mixing order per drive channel,
        then the rfft bin (2D: (mx, my, k))."""
        return np.asarray(self.bin_rows, dtype=np.int64).reshape(-1, len(self.scanner.dividers) + 1)

    @property
    def bin_indices(self) -> np.ndarray:
        """(F,) rfft bins k of the evaluation set."""
        return self.bins[:, -1]

    @property
    def order_names(self) -> tuple[str, ...]:
        """Names of the mixing-order columns of :attr:`bins` (mx, my, mz, one per drive channel)."""
        return ORDER_NAMES[: len(self.scanner.dividers)]

    @property
    def channels(self) -> tuple[str, ...]:
        """The receive channels by coil axis ("x", "y", "z")."""
        return self.scanner.receive

    @property
    def angles(self) -> tuple[float, ...]:
        """The dictionary's angle coordinate, in-plane easy-axis angles in degrees, or 0, 1, … counting
        :attr:`directions` for 3D easy axes."""
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
    def distribution(self) -> EasyAxisDistribution | None:
        """The easy axes' distribution (grids.easy_axes random or field_aligned: one entry on the angle axis),
        or None for aligned easy axes."""
        return self.grids.distribution

    def simulation_axes(self, indices=None):
        """The easy axes of the angle axis's entries ``indices`` (default all) as
        :func:`~mpisweep.physics.block.simulate_block` takes them: in-plane angles, (A, 3) vectors, or the
        distribution whose average is the one entry."""
        if self.distribution is not None:
            return self.distribution
        indices = list(range(len(self.angles))) if indices is None else list(indices)
        return self.easy_axes[indices] if self.directions else [self.angles[i] for i in indices]

    @property
    def blocks(self) -> list[tuple[str, float, float]]:
        """(name, D in nm, K in J/m³ or D_h in nm) of every dictionary block, diameter-major."""
        symbol = self.parameter.symbol
        return [(block_name(d, p, symbol), d, p) for d in self.grids.diameters_nm for p in self.parameter_values]

    @property
    def source(self) -> str:
        return self.measurement.source

    @property
    def virtual(self) -> VirtualScanner:
        return self.measurement.virtual

    @property
    def mdf(self) -> MdfFiles:
        return self.measurement.mdf

    @property
    def components(self) -> list[tuple[str, dict]]:
        """(name, {diameter, anisotropy or hydrodynamic_diameter, weight}) of the virtual scanner's mixture."""
        p = self.parameter
        return [(block_name(c["diameter"], c[p.name], p.symbol), dict(c)) for c in self.virtual.components]

    def easy_axis_text(self, angle: float) -> str:
        """One entry of the angle axis in words (model and virtual MDF files' /experiment/name)."""
        if self.model != "neel":
            return "Brownian (fluid tracer)"
        if self.distribution is not None:
            return self.distribution.describe()
        if self.directions:
            polar, azimuth = self.directions[int(round(float(angle)))]
            return f"easy axis polar {label(polar)} deg, azimuth {label(azimuth)} deg"
        return f"easy axis {label(float(angle))} deg"

    def solver_rtol(self, particle: Particle | BrownParticle) -> float:
        """The dictionary's rtol for one particle: the configured one or the solver's default."""
        return self.solver.rtol_for(particle)


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
    distributed = any(g.get("easy_axes", "aligned") != "aligned" for g in own_grids)
    if (distributed or any("directions" in g for g in own_grids)) and not any("angles" in g for g in own_grids):
        out["grids"] = {k: v for k, v in out.get("grids", {}).items() if k != "angles"}  # they replace the angles
    if distributed and not any("enabled" in (c.get("orientation") or {}) for c in own):
        out["orientation"] = {**out.get("orientation", {}), "enabled": False}  # no orientation to image
    if out.get("model", "neel") != "brown":
        return out
    out["grids"] = dict(out.get("grids", {}))
    for key in ("anisotropies", "angles"):
        if not any(key in (c.get("grids") or {}) for c in own):
            out["grids"].pop(key, None)
    if not any("enabled" in (c.get("orientation") or {}) for c in own):
        out["orientation"] = {**out.get("orientation", {}), "enabled": False}
    return out


def resolve(cfg: dict) -> Sweep:
    """Validated config (defaults filled, see :mod:`.schema`) → the resolved :class:`Sweep`: each section
    converts and checks itself, then what spans sections is checked here."""
    model = cfg["model"]
    scanner = Scanner.from_config(cfg["scanner"])
    offsets = OffsetGrid.from_config(cfg["offsets"])
    grids = Grids.from_config(cfg["grids"], model)
    frequencies = Frequencies.from_config(cfg["frequencies"], scanner)
    measurement = Measurement.from_config(cfg["measurement"], len(scanner.receive), model)
    orientation = Orientation.from_config(cfg["orientation"])
    n_values = len(grids.hydrodynamic_diameters_nm if model == "brown" else grids.anisotropies_Jm3)
    fit = FitSettings.from_config(cfg["fit"], len(grids.diameters_nm) * n_values, len(scanner.receive))
    if model == "brown" and orientation.enabled:
        raise ConfigError("config key 'orientation.enabled': orientation imaging needs easy axes; "
                          "model brown (a fluid tracer) has none")
    if orientation.enabled:
        unsupported = [(key, what) for key, what, ok in (
            ("offsets.z", "an x-y offset grid at z = 0", offsets.is_planar),
            ("scanner.receive", "receive channels x and y", scanner.receive == PAPER_RECEIVE),
            ("grids.directions", "in-plane easy axes (grids.angles)", not grids.directions_deg),
            ("grids.easy_axes", "aligned easy axes at grids.angles", grids.easy_axes == "aligned")) if not ok]
        if unsupported:
            key, what = unsupported[0]
            raise ConfigError(f"config key '{key}': orientation imaging works on the paper's geometry only ({what}); "
                              "switch orientation.enabled off for this scanner")
    if grids.directions_deg and measurement.source == "mdf":
        raise ConfigError("config key 'grids.directions': measured files are listed with one in-plane angle each "
                          "(measurement.mdf); 3D easy-axis directions work with the virtual scanner only")
    refine = RefineSettings.from_config(cfg["refine"])
    coarse = len(coarse_grid((len(grids.diameters_nm), n_values), refine.coarse_step))
    if refine.enabled and refine.max_blocks is not None and refine.max_blocks < coarse:
        raise ConfigError(f"config key 'refine.max_blocks': {refine.max_blocks} is below the {coarse} blocks of the "
                          f"coarse round (refine.coarse_step {list(refine.coarse_step)}); raise it or the coarse step")
    sweep = Sweep(
        output=str(cfg["output"]),
        constants=constants(cfg["particle"], model),
        scanner=scanner,
        offset_grid=offsets,
        grids=grids,
        frequencies=frequencies,
        solver=SolverSettings.from_config(cfg["solver"]),
        limits=Limits.from_config(cfg["solver"]),
        fit=fit,
        measurement=measurement,
        orientation=orientation,
        cluster=ClusterSettings.from_config(cfg["cluster"]),
        model=model,
        refine=refine,
    )
    cost.check(sweep)
    return sweep
