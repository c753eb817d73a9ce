"""The package's import graph: no circle, and every layer imports only the layers below it.

Read from the source with ``ast`` (function-level imports included), so a lazy import cannot
hide a circle. Layers, bottom up: the kernels (physics, fitting, io, orientation, figures,
errors, kernel_cache), the shared machinery (sweep), the stages (steps.*, each importing only the
stages upstream of it), and the entry points (cli, __main__, the package's own __init__).
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "mpisweep"

KERNELS = {"physics", "fitting", "io", "orientation", "figures", "errors", "kernel_cache", "_version", "units"}
# stage → the stages it may import (upstream in the workflow's DAG)
UPSTREAM = {
    "dictionary": set(),
    "measurement": set(),
    "fit": {"dictionary", "measurement"},
    "refine": {"dictionary", "measurement"},
    "orientation": {"dictionary", "measurement", "fit"},
}


def module_name(path: Path) -> str:
    parts = ("mpisweep",) + path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module → the package's modules it imports (``from .x import f`` counts as importing .x)."""
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    graph = {}
    for path in paths:
        name = module_name(path)
        base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = base[: len(base) - node.level + 1]
                    source = ".".join(anchor + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                # `from pkg import module` imports the module (its parent package loads anyway);
                # `from module import name` imports the module
                submodules = [f"{source}.{alias.name}" for alias in node.names if f"{source}.{alias.name}" in modules]
                candidates = submodules if len(submodules) == len(node.names) else [source] + submodules
            elif isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            else:
                continue
            targets.update(c for c in candidates if c in modules and c != name)
        graph[name] = targets
    return graph


def layer(module: str) -> tuple[int, str]:
    """(rank, group): 0 kernel, 1 machinery, 2 stage (group = stage name), 3 entry point."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("cli", "__main__"):
        return 3, parts[-1]
    if parts[1] in KERNELS:
        return 0, parts[1]
    if parts[1] == "sweep":
        return 1, "sweep"
    if parts[1] == "steps":
        return 2, parts[2] if len(parts) > 2 else ""
    raise AssertionError(f"{module}: not placed in a layer; add it to tests/test_layers.py")


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_graph_is_read(graph):
    assert "mpisweep.steps.fit.fit" in graph
    assert "mpisweep.sweep.config" in graph["mpisweep.steps.fit.fit"]
    assert "mpisweep.fitting.weighted" in graph["mpisweep.fitting.m2"]


def test_no_import_circle(graph):
    assert cycles(graph) == []


def test_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_layers_import_only_downwards(graph):
    wrong = []
    for module, targets in graph.items():
        rank, group = layer(module)
        for target in targets:
            target_rank, target_group = layer(target)
            if target_rank > rank:
                wrong.append(f"{module} → {target}")
            elif rank == target_rank == 2 and target_group != group and target_group not in UPSTREAM[group]:
                wrong.append(f"{module} → {target} (stage {target_group} is not upstream of {group})")
    assert wrong == []


def test_every_stage_has_its_rules_file():
    rules = PACKAGE.parents[1] / "workflow" / "rules"
    stages = {p.name for p in (PACKAGE / "steps").iterdir() if (p / "__init__.py").exists()}
    assert stages == set(UPSTREAM)
    for stage in stages:
        assert f"mpisweep.steps.{stage}" in (rules / f"{stage}.smk").read_text()
