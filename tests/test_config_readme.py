"""config/README.md documents every key of the schema, and no key the schema lacks."""

import re
from pathlib import Path

from mpisweep.sweep.schema import load_schema

REPO = Path(__file__).resolve().parents[1]


def schema_keys(node, prefix, root):
    if "$ref" in node:
        target = root
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    for name, sub in node.get("properties", {}).items():
        key = f"{prefix}.{name}" if prefix else name
        yield key
        yield from schema_keys(sub, key, root)
    items = node.get("items")
    if isinstance(items, dict) and items.get("properties"):
        yield from schema_keys(items, prefix + "[]", root)


def test_every_schema_key_is_documented():
    schema = load_schema()
    want = set(schema_keys(schema, "", schema))
    table = (REPO / "config" / "README.md").read_text()
    have = set(re.findall(r"^\| `([^`]+)` \|", table, flags=re.M))
    assert want - have == set(), f"undocumented keys: {sorted(want - have)}"
    assert have - want == set(), f"documented keys the schema does not have: {sorted(have - want)}"
