"""The layout shows the architecture: a thin handler, one module per concern in genai/, imports one way.

Checked from the sources themselves: each module imports alone in a fresh interpreter, the package's
import graph has no cycle, no function imports from the package to dodge one, nothing imports the
handler, and the sizes stay readable."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(p.stem for p in (ROOT / "genai").glob("*.py") if p.stem != "__init__")
HANDLER_MAX_LINES = 400
MODULE_MAX_LINES = 700


def _tree(name: str) -> ast.Module:
    path = ROOT / "lambda_function.py" if name == "lambda_function" else ROOT / "genai" / f"{name}.py"
    return ast.parse(path.read_text(encoding="utf-8"))


def _package_imports(node: ast.AST) -> set[str]:
    """The genai modules an import statement names (relative `from . import x`, or `from genai.x import`)."""
    if isinstance(node, ast.ImportFrom):
        if node.level == 1:
            return {node.module} if node.module else {alias.name for alias in node.names}
        if node.level == 0 and node.module and (node.module == "genai" or node.module.startswith("genai.")):
            return {node.module.split(".")[1]} if "." in node.module else {alias.name for alias in node.names}
    if isinstance(node, ast.Import):
        return {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("genai.")}
    return set()


def graph() -> dict[str, set[str]]:
    return {name: set().union(*(_package_imports(node) for node in _tree(name).body)) for name in MODULES}


def test_there_is_a_package_beside_the_handler() -> None:
    assert {"understanding", "facts", "dataapi", "model", "limits", "memory", "writes"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_each_module_imports_on_its_own_in_a_fresh_interpreter(name: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run([sys.executable, "-c", f"import genai.{name}"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_import_graph_has_no_cycle() -> None:
    edges = graph()
    assert all(target in edges for targets in edges.values() for target in targets), edges
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        assert name not in visiting, "import cycle: " + " -> ".join([*visiting[visiting.index(name):], name])
        if name in done:
            return
        visiting.append(name)
        for target in sorted(edges[name]):
            visit(target)
        visiting.pop()
        done.add(name)

    for name in MODULES:
        visit(name)


def test_no_function_imports_from_the_package_and_nothing_imports_the_handler() -> None:
    for name in [*MODULES, "lambda_function"]:
        for node in ast.walk(_tree(name)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = [n for body in node.body for n in ast.walk(body)]
                assert not any(_package_imports(n) for n in inner), f"{name}.{node.name} imports the package late"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                named = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert "lambda_function" not in named, f"{name} imports the handler"


def test_the_ground_floor_stands_alone() -> None:
    """Question understanding and the profile table need nothing of the package but the pure text
    modules (textnorm, loanwords), and no AWS."""
    edges = graph()
    for name in ("understanding", "profiles", "log", "textnorm", "loanwords"):
        assert edges[name] <= ({"textnorm", "loanwords"} if name == "understanding" else set()), name
        roots = {a.name.split(".")[0] for n in ast.walk(_tree(name)) if isinstance(n, ast.Import) for a in n.names}
        roots |= {n.module.split(".")[0] for n in ast.walk(_tree(name))
                  if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
        assert not roots & {"boto3", "botocore"}, name


def test_every_module_says_what_it_owns_and_stays_readable() -> None:
    handler = (ROOT / "lambda_function.py").read_text(encoding="utf-8")
    assert len(handler.splitlines()) <= HANDLER_MAX_LINES
    for name in MODULES:
        text = (ROOT / "genai" / f"{name}.py").read_text(encoding="utf-8")
        assert len(text.splitlines()) <= MODULE_MAX_LINES, name
        assert ast.get_docstring(_tree(name)), f"genai/{name}.py has no docstring"
