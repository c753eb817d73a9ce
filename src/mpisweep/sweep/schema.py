"""Reading a sweep config: YAML → validated against the JSON schema → defaults filled in.

The schema (``config.schema.yaml`` beside this module, package data) is the one home of every
key, its type, its range and its default; ``workflow/schemas/config.schema.yaml`` links to it
for Snakemake. Errors are :class:`~mpisweep.errors.ConfigError` naming the offending key.
"""

from __future__ import annotations

import copy
import json
import math
import os
from functools import cache
from importlib import resources
from pathlib import Path

from ..errors import ConfigError

SCHEMA_RESOURCE = resources.files(__package__) / "config.schema.yaml"


def load_schema(path=None) -> dict:
    """The schema as a fresh dict (the package's own, or the file at `path`)."""
    return copy.deepcopy(_parse_schema(str(path) if path is not None else None))


@cache
def _parse_schema(path: str | None) -> dict:
    import yaml

    source = Path(path) if path is not None else SCHEMA_RESOURCE
    try:
        return yaml.safe_load(source.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config schema {source} not found") from None


def _unique_key_loader():
    """A YAML SafeLoader that refuses duplicate keys (plain YAML keeps the last one silently)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(f"config key '{key}' appears twice (lines {seen[key] + 1} and "
                                  f"{key_node.start_mark.line + 1}); YAML would keep only the last")
            seen[key] = key_node.start_mark.line
        return loader.construct_mapping(node, deep=deep)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return Loader


def read_yaml(path) -> dict:
    """The raw mapping of a YAML config file (ConfigError naming the file when it is not one)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"config file {path}: not UTF-8 text (byte {err.start}: {err.reason}); save it as "
                          "UTF-8") from None
    except OSError as err:
        raise ConfigError(f"config file {path}: cannot be read ({err.strerror})") from None
    try:
        cfg = yaml.load(text, Loader=_unique_key_loader())  # noqa: S506 - a SafeLoader subclass
    except ConfigError as err:
        raise ConfigError(f"config file {path}: {err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path}: not valid YAML: {' '.join(str(err).split())}") from None
    return {} if cfg is None else cfg


def load(source, schema=None) -> dict:
    """Read a YAML file (or take a dict), validate it and fill in the defaults."""
    cfg = read_yaml(source) if isinstance(source, (str, os.PathLike)) else source
    return validate(cfg, schema)


def _key(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _text_hint(instance) -> str:
    """The hint for a number that YAML read as text (1e-5 has no dot, so YAML 1.1 reads a string)."""
    if not (isinstance(instance, str) and _looks_numeric(instance)):
        return ""
    mantissa, e, exponent = instance.strip().lower().partition("e")
    mantissa += "" if "." in mantissa else ".0"
    exponent = exponent if not exponent or exponent[0] in "+-" else "+" + exponent
    return f"; YAML reads {instance} as text: write it with a dot and a signed exponent ({mantissa}{e}{exponent})"


def _describe_error(err) -> str:
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
            return _describe_error(deepest)
        desc = ((err.schema or {}).get("description") or "").strip()
        return (f"config key '{_key(path)}': {json.dumps(err.instance)} is not valid"
                + (f" (expected {desc})" if desc else "") + _text_hint(err.instance))
    desc = ((err.schema or {}).get("description") or "").strip()
    msg = err.message
    if err.validator == "type":
        msg = (f"{json.dumps(err.instance)} has the wrong type (expected {err.validator_value})"
               + _text_hint(err.instance))
    if err.validator != "type":
        msg += (f" ({desc})" if desc else "") + _text_hint(err.instance)
    return f"config key '{_key(path)}': {msg}"


def _non_finite(instance, path=()):
    """The key path of the first NaN or infinity in a config (JSON schema ranges let NaN through)."""
    if isinstance(instance, float) and not math.isfinite(instance):
        return path
    items = instance.items() if isinstance(instance, dict) else enumerate(instance) if isinstance(
        instance, list) else ()
    for key, value in items:
        found = _non_finite(value, path + (key,))
        if found is not None:
            return found
    return None


def _fill_defaults(instance, schema, root):
    """Recursively insert `default` values of object properties (after validation)."""
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].lstrip("#/").split("/"):
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
    bad = _non_finite(cfg)
    if bad is not None:
        value = cfg
        for key in bad:
            value = value[key]
        raise ConfigError(f"config key '{_key(list(bad))}': {value} is not a finite number")
    validator = jsonschema.validators.validator_for(schema)(schema)
    for _ in range(2):  # validate, fill defaults, validate again (defaults must validate too)
        errors = sorted(validator.iter_errors(cfg), key=lambda e: (list(map(str, e.absolute_path)), e.validator))
        if errors:
            raise ConfigError(_describe_error(jsonschema.exceptions.best_match(errors)))
        _fill_defaults(cfg, schema, schema)
    return cfg


def schema_default(*keys):
    """The schema's default at a key path, e.g. schema_default("scanner", "drive") → [12.59, 13.55]."""
    return with_defaults(None, *keys)


def with_defaults(value, *keys):
    """A copy of `value`, the config at a key path (None: the schema's default there), with every key it lacks at
    the schema's default, at every level (e.g. a section of a config resolved before those keys existed)."""
    root = node = load_schema()
    for key in keys:
        node = node["properties"][key]
    value = copy.deepcopy(node["default"] if value is None else value)
    _fill_defaults(value, node, root)  # an object's default ({}) gets its keys' defaults
    return value
