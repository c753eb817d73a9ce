"""What every config section shares: typed construction from the validated mapping and its JSON form.

A section is a frozen dataclass whose field names are the config's keys. :func:`build` makes one
from the mapping that :func:`mpisweep.sweep.schema.validate` returns (defaults already filled from
the schema, the only home of defaults), recursing into fields typed as sections; values whose shape
the schema leaves open (grid specs, position lists) stay as read-only JSON (tuples and mappings).
:func:`dump` is the inverse: the section's JSON form, which the resolved config and its hash use.
A field declared with :func:`optional` is a key the schema gives no default: left out when unset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field, fields, is_dataclass
from functools import cache
from types import MappingProxyType, UnionType
from typing import get_args, get_type_hints

from ...errors import ConfigError


def optional():
    """A field for a key without a schema default: None when the config leaves it out (and left out of JSON)."""
    return field(default=None, metadata={"optional": True})


def freeze(obj):
    """Nested dicts/lists → read-only mappings/tuples."""
    if isinstance(obj, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in obj.items()})
    if isinstance(obj, (list, tuple)):
        return tuple(freeze(v) for v in obj)
    return obj


def thaw(obj):
    """The inverse of :func:`freeze`: plain dicts and lists (JSON-ready)."""
    if isinstance(obj, Mapping):
        return {k: thaw(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return [thaw(v) for v in obj]
    return obj


@cache
def _hints(cls) -> dict:
    return get_type_hints(cls)


def build(cls, data, key: str):
    """The section `cls` from its config (or JSON) mapping; ConfigError naming `key` on a missing or unknown key."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"config key '{key}': expected a mapping of keys, got {type(data).__name__}")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"config key '{key}.{unknown[0]}': unknown key (allowed here: {', '.join(sorted(names))})")
    hints = _hints(cls)
    values = {}
    for f in fields(cls):
        if f.name not in data:
            if f.metadata.get("optional"):
                continue
            raise ConfigError(f"config key '{key}.{f.name}': required but missing")
        sub, value = _section_type(hints[f.name]), data[f.name]
        values[f.name] = build(sub, value, f"{key}.{f.name}") if sub and value is not None else freeze(value)
    return cls(**values)


def _section_type(hint):
    """The section type of a field typed `Section` or `Section | None`; None for plain values."""
    if is_dataclass(hint):
        return hint
    if isinstance(hint, UnionType):
        return next((t for t in get_args(hint) if is_dataclass(t)), None)
    return None


def dump(section) -> dict:
    """The JSON form of a section made by :func:`build` (the config's keys; optional keys left unset are left out)."""
    out = {}
    for f in fields(section):
        value = getattr(section, f.name)
        if value is None and f.metadata.get("optional"):
            continue
        out[f.name] = dump(value) if is_dataclass(value) else thaw(value)
    return out
