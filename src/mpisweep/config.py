"""Sweep configuration: load, validate (JSON schema), fill defaults, resolve to SI, expand grids.

Usable without Snakemake::

    from mpisweep import config
    resolved = config.resolve(config.load("config/config.yaml"))

The YAML speaks the field's units (nm, J/m³, degrees, mT, Hz); :func:`resolve` converts fields,
phases and particle constants to SI once and returns a plain JSON-ready dict (the *resolved
config*) that every workflow step reads. The grid values stay in their coordinate units
(``diameters_nm``, ``anisotropies_Jm3``, ``angles_deg``) because they are also the labels of the
dictionary coordinates and of the shard names; :func:`particle` converts one (D, K) to SI.

Resolved layout (all keys always present)::

    output                      str
    particle   ms (A/m), alpha, temperature (K), gamma (rad/(s·T))
    scanner    base_frequency (Hz), dividers [dx, dy], amplitudes_T [ax, ay], phases_rad, samples
    offsets    x_T [min, max], y_T [min, max], nx, ny
    grids      diameters_nm, anisotropies_Jm3, angles_deg      (sorted, unique)
    frequencies mx, my, bins [[mx, my, k], ...]               (the evaluation set)
    solver     degree (int | None = auto), rtol (float | None = auto)
    fit        ranks (["5%", 3, ...] as given), rank_fractions, svd, max_memory_gb
    measurement source, virtual {...}, mdf {...}               (see the schema)
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np

MT = 1e-3  # tesla per millitesla
NM = 1e-9  # metre per nanometre

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """An invalid configuration; the message names the offending key."""


# ----------------------------------------------------------------------------- loading
def load_schema(path=None) -> dict:
    import yaml

    path = Path(path) if path is not None else SCHEMA_PATH
    if not path.exists():
        raise ConfigError(f"config schema {path} not found (pass schema=... explicitly)")
    with open(path) as f:
        return yaml.safe_load(f)


def load(source, schema=None) -> dict:
    """Read a YAML file (or take a dict), validate it and fill in the defaults."""
    import yaml

    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise ConfigError(f"config file {path} not found")
        with open(path) as f:
            try:
                cfg = yaml.safe_load(f)
            except yaml.YAMLError as err:
                raise ConfigError(f"config file {path}: not valid YAML: {err}") from None
        if cfg is None:
            cfg = {}
    else:
        cfg = source
    return validate(cfg, schema)


def _key(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _describe_error(err, schema) -> str:
    """A readable message naming the key of a jsonschema ValidationError."""
    path = list(err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = sorted((err.schema or {}).get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed))
        if extra:
            key = _key(path + [extra[0]])
            return f"config key '{key}': unknown key (allowed here: {', '.join(allowed)})"
    if err.validator == "required":
        missing = [r for r in err.validator_value if r not in (err.instance or {})]
        if missing:
            return f"config key '{_key(path + [missing[0]])}': required but missing"
    if err.validator == "oneOf" and err.context:
        # report the branch whose error lies deepest (e.g. the bad list item, not "not an object")
        deepest = max(err.context, key=lambda e: (len(list(e.absolute_path)), e.validator != "type"))
        if len(list(deepest.absolute_path)) > len(path):
            return _describe_error(deepest, schema)
        desc = (err.schema or {}).get("description")
        return (f"config key '{_key(path)}': {json.dumps(err.instance)} is not valid"
                + (f" (expected {desc})" if desc else ""))
    desc = (err.schema or {}).get("description")
    msg = err.message
    if err.validator == "type":
        msg = f"{json.dumps(err.instance)} has the wrong type (expected {err.validator_value})"
        if isinstance(err.instance, str) and _looks_numeric(err.instance):
            msg += f"; YAML reads {err.instance} as text: write it with a dot and a signed exponent (e.g. 2.5e+6)"
    return f"config key '{_key(path)}': {msg}" + (f" ({desc})" if desc and err.validator != "type" else "")


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _fill_defaults(instance, schema, root):
    """Recursively insert `default` values of object properties (after validation)."""
    if "$ref" in schema:
        ref = schema["$ref"]
        target = root
        for part in ref.lstrip("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    if isinstance(instance, dict):
        for name, sub in schema.get("properties", {}).items():
            if name not in instance and "default" in sub:
                instance[name] = copy.deepcopy(sub["default"])
            if name in instance:
                _fill_defaults(instance[name], sub, root)
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for item in instance:
            _fill_defaults(item, schema["items"], root)


def validate(cfg, schema=None) -> dict:
    """Validate against the JSON schema and return a deep copy with all defaults filled in.

    Raises ConfigError naming the first offending key (e.g. ``config key 'grids.diameters[0]':
    -14 is less than or equal to the minimum of 0``).
    """
    import jsonschema

    schema = load_schema(schema) if not isinstance(schema, dict) else schema
    if not isinstance(cfg, dict):
        raise ConfigError(f"config: expected a mapping of keys, got {type(cfg).__name__}")
    cfg = copy.deepcopy(dict(cfg))
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema)
    for _ in range(2):  # validate, fill defaults, validate again (defaults must validate too)
        errors = sorted(validator.iter_errors(cfg), key=lambda e: (list(map(str, e.absolute_path)), e.validator))
        if errors:
            best = jsonschema.exceptions.best_match(errors)
            raise ConfigError(_describe_error(best, schema))
        _fill_defaults(cfg, schema, schema)
    return cfg


# ---------------------------------------------------------------------------- resolving
def expand_grid(spec, key: str) -> list[float]:
    """A grid given as a list or {start, stop, step} → sorted unique floats (ConfigError naming `key`)."""
    if isinstance(spec, dict):
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
    return uniq


def label(x: float) -> str:
    """Stable text for a grid value: 22 → '22', 22.5 → '22.5', 1e-3 → '0.001'."""
    x = float(x)
    if x.is_integer():
        return str(int(x))
    text = np.format_float_positional(round(x, 9), trim="-")
    return text


def block_name(d_nm: float, k: float) -> str:
    """Shard / marker name of one dictionary block, from the parameter values: D22_K1100."""
    return f"D{label(d_nm)}_K{label(k)}"


def _rank_fraction(r, n_entries: int) -> float:
    if isinstance(r, str):
        return float(r.strip().rstrip("%").strip()) / 100.0
    return int(r) / n_entries


def resolve(cfg: dict) -> dict:
    """Validated config (defaults filled) → resolved SI config (see the module docstring)."""
    from .spectra import mixing_bins

    p, sc, off, g = cfg["particle"], cfg["scanner"], cfg["offsets"], cfg["grids"]
    dividers = [int(d) for d in sc["dividers"]]
    samples = math.lcm(*dividers) if sc.get("samples") is None else int(sc["samples"])
    grids = {
        "diameters_nm": expand_grid(g["diameters"], "grids.diameters"),
        "anisotropies_Jm3": expand_grid(g["anisotropies"], "grids.anisotropies"),
        "angles_deg": expand_grid(g["angles"], "grids.angles"),
    }
    if grids["diameters_nm"][0] <= 0:
        raise ConfigError(f"config key 'grids.diameters': diameters must be > 0 nm, got {grids['diameters_nm'][0]:g}")
    if grids["anisotropies_Jm3"][0] < 0:
        raise ConfigError(f"config key 'grids.anisotropies': must be ≥ 0 J/m³, got {grids['anisotropies_Jm3'][0]:g}")
    mod = sorted(round(a % 180.0, 9) % 180.0 for a in grids["angles_deg"])
    if len(set(mod)) != len(mod):
        raise ConfigError("config key 'grids.angles': two angles describe the same easy axis (equal modulo 180°): "
                          f"{grids['angles_deg']}")
    fr = cfg["frequencies"]
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
    for axis in ("x", "y"):
        a = off[axis]
        if a["max"] < a["min"]:
            raise ConfigError(f"config key 'offsets.{axis}.max': {a['max']:g} is below min {a['min']:g}")
    solver = cfg["solver"]
    n_entries = len(grids["diameters_nm"]) * len(grids["anisotropies_Jm3"])
    ranks = list(cfg["fit"]["ranks"])
    fractions = []
    for i, r in enumerate(ranks):
        f = _rank_fraction(r, n_entries)
        if not 0 < f <= 1:
            raise ConfigError(f"config key 'fit.ranks[{i}]': {r!r} is not within (0 %, 100 %] of the "
                              f"{n_entries} dictionary entries")
        fractions.append(f)
    if len(set(fractions)) != len(fractions):
        raise ConfigError(f"config key 'fit.ranks': duplicate ranks {ranks}")

    meas = copy.deepcopy(cfg["measurement"])
    virt = meas["virtual"]
    seen = set()
    for i, c in enumerate(virt["components"]):
        name = block_name(c["diameter"], c["anisotropy"])
        if name in seen:
            raise ConfigError(f"config key 'measurement.virtual.components[{i}]': ({c['diameter']:g} nm, "
                              f"{c['anisotropy']:g} J/m³) is listed twice")
        seen.add(name)
    tf = virt["transfer_function"]
    if tf["kind"] == "h5" and "path" not in tf:
        raise ConfigError("config key 'measurement.virtual.transfer_function.path': required for kind h5")
    if meas["source"] == "mdf" and not meas.get("mdf", {}).get("directory"):
        raise ConfigError("config key 'measurement.mdf.directory': required for measurement.source mdf")

    return {
        "output": str(cfg["output"]),
        "particle": {k: float(p[k]) for k in ("ms", "alpha", "temperature", "gamma")},
        "scanner": {
            "base_frequency": float(sc["base_frequency"]),
            "dividers": dividers,
            "amplitudes_T": [float(a) * MT for a in sc["drive"]],
            "phases_rad": [math.radians(float(a)) for a in sc["phases"]],
            "samples": samples,
        },
        "offsets": {
            "x_T": [float(off["x"]["min"]) * MT, float(off["x"]["max"]) * MT],
            "y_T": [float(off["y"]["min"]) * MT, float(off["y"]["max"]) * MT],
            "nx": int(off["x"]["count"]),
            "ny": int(off["y"]["count"]),
        },
        "grids": grids,
        "frequencies": {"mx": int(fr["mx"]), "my": int(fr["my"]), "bins": rows.tolist()},
        "solver": {
            "degree": None if solver["degree"] == "auto" else int(solver["degree"]),
            "rtol": None if solver["rtol"] == "auto" else float(solver["rtol"]),
        },
        "fit": {
            "ranks": ranks,
            "rank_fractions": fractions,
            "svd": cfg["fit"]["svd"],
            "max_memory_gb": float(cfg["fit"]["max_memory_gb"]),
        },
        "measurement": meas,
    }


def resolve_file(path, schema=None) -> dict:
    return resolve(load(path, schema))


# ------------------------------------------------------------------------------ hashes
def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def digest(obj) -> str:
    return hashlib.sha256(canonical(obj).encode()).hexdigest()


def config_hash(resolved: dict) -> str:
    """sha256 of the canonical JSON of the resolved config."""
    return digest(resolved)


def dictionary_spec(resolved: dict) -> dict:
    """Everything that determines one dictionary block except its (D, K) — the shards' identity."""
    return {k: resolved[k] for k in ("particle", "scanner", "offsets", "solver")} | {
        "angles_deg": resolved["grids"]["angles_deg"],
        "bins": resolved["frequencies"]["bins"],
    }


def component_spec(resolved: dict, component: dict) -> dict:
    """Everything that determines the virtual scanner's rows of one mixture component."""
    spec = {k: resolved[k] for k in ("particle", "scanner", "offsets", "solver")}
    spec["angles_deg"] = resolved["grids"]["angles_deg"]
    spec["virtual_solver"] = resolved["measurement"]["virtual"]["solver"]
    spec["component"] = {"diameter": float(component["diameter"]), "anisotropy": float(component["anisotropy"])}
    return spec


# ---------------------------------------------------------------------------- accessors
def blocks(resolved: dict) -> list[tuple[str, float, float]]:
    """(name, D in nm, K in J/m³) of every dictionary block, diameter-major."""
    g = resolved["grids"]
    return [(block_name(d, k), d, k) for d in g["diameters_nm"] for k in g["anisotropies_Jm3"]]


def components(resolved: dict) -> list[tuple[str, dict]]:
    return [(block_name(c["diameter"], c["anisotropy"]), c) for c in resolved["measurement"]["virtual"]["components"]]


def particle(resolved: dict, diameter_nm: float, anisotropy: float):
    from .params import Particle

    p = resolved["particle"]
    return Particle(float(diameter_nm) * NM, float(anisotropy), ms=p["ms"], alpha=p["alpha"],
                    temperature=p["temperature"], gamma=p["gamma"])


def excitation(resolved: dict):
    from .excitation import Excitation

    s = resolved["scanner"]
    return Excitation(tuple(s["amplitudes_T"]), tuple(s["dividers"]), s["base_frequency"],
                      phases=tuple(s["phases_rad"]), samples=s["samples"])


def offset_fields(resolved: dict) -> np.ndarray:
    """(ny, nx, 3) offsets in T, x fastest."""
    from .block import offset_grid

    o = resolved["offsets"]
    return offset_grid(o["x_T"], o["y_T"], o["nx"], o["ny"])


def evaluation_bins(resolved: dict) -> np.ndarray:
    """(F, 3) int rows (mx, my, k) of the evaluation set."""
    return np.asarray(resolved["frequencies"]["bins"], dtype=np.int64).reshape(-1, 3)


def read_resolved(path) -> dict:
    with open(path) as f:
        return json.load(f)


def write_resolved(resolved: dict, path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    tmp.write_text(json.dumps(resolved, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
