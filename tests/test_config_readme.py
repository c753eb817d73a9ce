"""config/README.md documents every key of the schema, no key the schema lacks, and the schema's defaults.

The README has one heading per top-level config section (``## `scanner```, ``### `measurement.mdf```);
a table row's key is relative to the heading above it, so ``| `x.min` |`` under ``## `offsets``` is
``offsets.x.min``. Headings without a key in backticks (``## Top-level keys``) start from the root.
"""

import re
from pathlib import Path

import pytest
import yaml

from mpisweep.sweep.schema import load_schema

REPO = Path(__file__).resolve().parents[1]
README = REPO / "config" / "README.md"
HEADING = re.compile(r"^(#{2,4}) (.*)$")
ROW = re.compile(r"^\| `([^`]+)` \|([^|]*)\|")


def _resolve(node, root):
    if "$ref" not in node:
        return node
    target = root
    for part in node["$ref"].lstrip("#/").split("/"):
        target = target[part]
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}


def schema_nodes(node, prefix, root):
    """(dotted key, schema node) of every property, list items as ``key[].field``."""
    node = _resolve(node, root)
    for name, sub in node.get("properties", {}).items():
        key = f"{prefix}.{name}" if prefix else name
        yield key, _resolve(sub, root)
        yield from schema_nodes(sub, key, root)
    items = node.get("items")
    if isinstance(items, dict) and items.get("properties"):
        yield from schema_nodes(items, prefix + "[]", root)


def readme_entries(text):
    """{dotted key: default cell} of the table rows, and the keys the headings name."""
    rows, headings, prefix = {}, set(), ""
    for line in text.splitlines():
        if m := HEADING.match(line):
            key = re.match(r"`([^`]+)`", m.group(2))
            prefix = key.group(1) if key else ""
            if key:
                headings.add(prefix)
        elif m := ROW.match(line):
            full = f"{prefix}.{m.group(1)}" if prefix else m.group(1)
            assert full not in rows, f"{full} documented twice"
            rows[full] = m.group(2).strip()
    return rows, headings


@pytest.fixture(scope="module")
def documented():
    return readme_entries(README.read_text())


@pytest.fixture(scope="module")
def schema():
    root = load_schema()
    return dict(schema_nodes(root, "", root)), root


def test_every_schema_key_is_documented_and_no_other(documented, schema):
    rows, headings = documented
    want = set(schema[0])
    have = set(rows) | headings
    assert want - have == set(), f"undocumented keys: {sorted(want - have)}"
    assert have - want == set(), f"documented keys the schema does not have: {sorted(have - want)}"


def test_each_top_level_section_has_its_own_heading(documented, schema):
    _, headings = documented
    sections = {k for k, node in schema[0].items() if "." not in k and node.get("type") == "object"}
    assert sections <= headings, f"sections without a heading: {sorted(sections - headings)}"
    assert len(sections) >= 10


def test_documented_defaults_are_the_schema_defaults(documented, schema):
    rows, _ = documented
    checked = 0
    for key, node in schema[0].items():
        cell = rows.get(key, "")
        if "default" not in node or not cell or node.get("type") == "object" and node["default"] == {}:
            continue
        shown = yaml.safe_load(cell.strip("`"))
        assert shown == node["default"], f"{key}: README says {cell}, the schema {node['default']!r}"
        checked += 1
    assert checked >= 60


def test_required_keys_say_so(documented, schema):
    rows, _ = documented
    root = schema[1]
    assert "grids" in root["required"]
    assert rows["grids.diameters"] == "required"
