"""The house's shape, checked: floors without cycles, imports at the top, one vocabulary
that loads without Flask, one role table behind every API route, modules of a screen
or two. See docs/architecture.md."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("requests_desk", "reports")

# Modules allowed past LONG_MODULE lines, each with the reason docs/architecture.md gives.
LONG_MODULE = 400
LONG_ALLOWED = {
    "requests_desk/workflow.py": "the transition table and its rules read best as one page",
}


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function?) for every import of our own modules."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            inside |= {id(sub) for sub in ast.walk(node) if sub is not node}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from pkg import sub` imports the submodule; `from mod import name` the module
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in MODULES else module for a in node.names]
        else:
            continue
        for target in targets:
            if target in MODULES:
                found.append((target, node.lineno, id(node) in inside))
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w, _, _ in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or any(t == v for t, _, _ in GRAPH[v]):
                out.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in GRAPH:
        if v not in index:
            visit(v)
    return out


def test_the_walk_sees_the_known_edges():
    """The walker is not blind: it finds imports we know are there."""
    edges = {(a, b) for a, imports in GRAPH.items() for b, _, _ in imports}
    assert ("requests_desk.workflow", "requests_desk.services.history") in edges
    assert ("requests_desk.staff.views", "requests_desk.staff.forms") in edges  # from . import forms
    assert ("reports.wording", "requests_desk.vocabulary") in edges
    assert len(MODULES) > 60


def test_no_import_cycle():
    assert _cycles() == []


def test_a_cycle_would_be_found(monkeypatch):
    """The check fails on a cycle: add one edge back from a low floor to a high one."""
    monkeypatch.setitem(GRAPH, "requests_desk.models",
                        GRAPH["requests_desk.models"] + [("requests_desk.workflow", 1, True)])
    assert any("requests_desk.workflow" in c and "requests_desk.models" in c for c in _cycles())


def test_our_modules_are_imported_at_the_top():
    """No function-level import of our own modules: such imports exist to dodge a cycle."""
    late = [f"{MODULES[a].relative_to(ROOT)}:{line} imports {b}"
            for a, imports in GRAPH.items() for b, line, inside in imports if inside]
    assert late == []


def test_reports_read_only_the_vocabulary_of_the_desk():
    desk = {b for a, imports in GRAPH.items() if a.startswith("reports")
            for b, _, _ in imports if b.startswith("requests_desk")}
    assert desk <= {"requests_desk.vocabulary"}


def test_the_vocabulary_and_reports_load_without_flask():
    code = ("import sys, reports.render, reports.wording, requests_desk.vocabulary; "
            "assert 'flask' not in sys.modules, 'flask was imported'")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_modules_stay_a_screen_or_two():
    long = {str(p.relative_to(ROOT)): n for p in MODULES.values()
            if (n := len(p.read_text().splitlines())) > LONG_MODULE}
    assert set(long) <= set(LONG_ALLOWED), long


def test_every_api_route_has_a_row_in_the_role_table(app):
    from requests_desk import access
    from requests_desk.api.blueprint import ENDPOINT_PERMISSIONS, PUBLIC_ENDPOINTS

    api = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("api.")}
    assert api == set(ENDPOINT_PERMISSIONS) | PUBLIC_ENDPOINTS
    assert not set(ENDPOINT_PERMISSIONS) & PUBLIC_ENDPOINTS
    assert PUBLIC_ENDPOINTS == {"api.openapi"}  # only the API's description is anonymous
    for permission in ENDPOINT_PERMISSIONS.values():
        assert access.roles_for(permission)


@pytest.mark.parametrize("table", ["PROCESS_TERMS", "OUTCOME_TERMS", "ACTION_TERMS"])
def test_every_code_has_words(table):
    from requests_desk import vocabulary

    for term in getattr(vocabulary, table):
        assert term.label and term.short and term.public and term.customer


def test_the_vocabulary_covers_the_rule_table_and_the_workflow():
    from requests_desk import vocabulary, workflow
    from requests_desk.rules import DEFAULT_RULES

    assert {r.code for r in DEFAULT_RULES.process_types} == set(vocabulary.PROCESS_TYPES)
    assert set(workflow.ACTIONS) <= set(vocabulary.ACTION_TERMS.codes)
    assert all(vocabulary.ACTION_TERMS[t.action].history for t in workflow.TRANSITIONS)
