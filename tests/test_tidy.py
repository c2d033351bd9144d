"""The tests' own tidiness: a test module imports helpers from helper modules, never from another
test module (whose tests would then run twice, and whose fixtures leak), and a helper is written
once (two copies drift apart: two load generators behaved differently, issue 55)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("tests", "bench", "lab")
MIN_STATEMENTS = 3  # smaller functions may be alike by chance


def _modules() -> dict[Path, ast.Module]:
    files = sorted(p for folder in SCANNED for p in (ROOT / folder).rglob("*.py"))
    return {p.relative_to(ROOT): ast.parse(p.read_text(), str(p)) for p in files}


def _shape(function: ast.FunctionDef) -> str:
    """A function's body with its docstring left out and its arguments renamed by position."""
    names = {a.arg: f"arg{n}" for n, a in enumerate(function.args.args)}
    body = function.body[1:] if ast.get_docstring(function) else function.body
    module = ast.Module(body=body, type_ignores=[])
    for node in ast.walk(module):
        if isinstance(node, ast.Name) and node.id in names:
            node.id = names[node.id]
    return ast.dump(module, annotate_fields=False)


def test_no_test_module_imports_from_another() -> None:
    found = [
        f"{path}: from {node.module} import ..."
        for path, tree in _modules().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("test_")
    ]
    assert not found, "move what they share into a helper module:\n" + "\n".join(found)


def test_no_helper_is_written_twice() -> None:
    seen: dict[str, list[str]] = defaultdict(list)
    for path, tree in _modules().items():
        if path.name.startswith("test_"):  # a test module's own small helpers are its business
            continue
        for node in tree.body:
            if (
                isinstance(node, ast.FunctionDef)
                and not node.decorator_list  # fixtures: alike in shape, other files
                and len(node.body) >= MIN_STATEMENTS - 1
            ):
                seen[_shape(node)].append(f"{path}:{node.lineno} {node.name}")
    copies = [places for places in seen.values() if len(places) > 1]
    assert not copies, "the same function in several places (keep one):\n" + "\n".join(
        " = ".join(places) for places in copies
    )
