"""The layers, read from the import graph (every `import` in every module of the project, parsed, not run):
the device layer and the checks know no Django; core knows no app and inventory no other app; no app imports
another app's API; module-level imports form no cycle.
(The processes' own imports, torch and NVML kept out of the web process: tests/testbench/test_layering.py.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.database_independent

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("refurb", "core", "inventory", "testbench", "grading", "resale", "workbench")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")
            if "migrations" not in p.parts}


def imports_of(name: str, path: Path, *, top_level_only: bool) -> set[str]:
    """The modules `name` imports (absolute names; relative imports resolved). `top_level_only`: leave out imports
    inside functions, which run when called, not when the module loads."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes, pending = [], list(ast.iter_child_nodes(tree))
    while pending:  # every node, but not the bodies of functions when only load-time imports are asked for
        node = pending.pop()
        nodes.append(node)
        if not (top_level_only and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)):
            pending.extend(ast.iter_child_nodes(node))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


MODULES = project_modules()


def test_the_device_layer_and_the_checks_import_no_django():
    offenders = {name: sorted(i for i in imports_of(name, path, top_level_only=False)
                              if i == "django" or i.startswith(("django.", "rest_framework", "celery")))
                 for name, path in MODULES.items() if name.startswith(("testbench.hardware", "testbench.checks"))}
    assert {k: v for k, v in offenders.items() if v} == {}
    assert any(n.startswith("testbench.checks.") for n in offenders)  # the scan saw them


def test_inventory_imports_no_other_app():
    offenders = {name: sorted(i for i in imports_of(name, path, top_level_only=False)
                              if i.split(".")[0] in ("testbench", "grading", "resale"))
                 for name, path in MODULES.items() if name.split(".")[0] == "inventory"}
    assert {k: v for k, v in offenders.items() if v} == {}


def cycles_in(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each cycle a depth-first search meets, as the list of modules around it. A package and its own modules
    (an __init__ re-exporting them, a module importing a sibling through the package) are not counted: they load in
    one order whichever is imported first."""
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt):] + [nxt]
                pairs = zip(cycle, cycle[1:], strict=False)
                if not all(a.startswith(b + ".") or b.startswith(a + ".") for a, b in pairs):
                    cycles.append(cycle)
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    return cycles


def test_module_level_imports_form_no_cycle():
    graph = {name: {i for i in imports_of(name, path, top_level_only=True) if i in MODULES and i != name}
             for name, path in MODULES.items()}
    assert sum(len(v) for v in graph.values()) > 100  # the graph is the project's, not an empty one
    assert cycles_in(graph) == []


def test_the_cycle_search_finds_a_cycle_and_spares_a_package_with_its_modules():
    assert cycles_in({"a.runs": {"a.dispatch"}, "a.dispatch": {"a.tasks"}, "a.tasks": {"a.runs"}}) == [
        ["a.dispatch", "a.tasks", "a.runs", "a.dispatch"]]
    assert cycles_in({"a.services": {"a.services.runs"}, "a.services.runs": {"a.services"}}) == []


def test_the_scan_finds_imports_it_must():
    # Guards the scanner itself: a relative import, a from-import of a name, and one inside a function.
    runs = MODULES["testbench.services.runs"]
    assert "inventory.services" in imports_of("testbench.services.runs", runs, top_level_only=True)
    assert "testbench.models" in imports_of("testbench.services.runs", runs, top_level_only=True)
    grades = MODULES["grading.services.grades"]
    assert "grading.selectors" in imports_of("grading.services.grades", grades, top_level_only=True)


def test_core_imports_no_app_and_no_app_imports_another_apps_api():
    apps = ("inventory", "testbench", "grading", "resale")
    offenders = []
    for name, path in MODULES.items():
        home = name.split(".")[0]
        for imported in imports_of(name, path, top_level_only=False):
            target = imported.split(".")
            if home == "core" and target[0] in apps:
                offenders.append(f"{name} imports {imported}")
            if home in apps and target[0] in apps and target[0] != home and target[1:2] == ["api"]:
                offenders.append(f"{name} imports {imported}")
    assert offenders == []
    assert any(name.startswith("core.api.") for name in MODULES)  # the scan saw core
