"""Checks on a submission before it is autograded (outside the sandbox).

nbgrader silently scores a missing notebook 0, quietly restores edited test cells
and runs the student's code in the same kernel as the hidden tests. These checks
turn each of those into a flag with a reason:

- missing, renamed or unreadable notebooks -> `failed`;
- locked cells (tests) edited or deleted, compared with the release by nbgrader's
  own checksums -> `needs_manual` (nbgrader restores them, so the score is fair);
- student code that tampers with what tests rely on (builtins, exceptions,
  monkeypatched modules, IPython hooks, always-true `__eq__`) -> `needs_manual`.
  This scan is a heuristic: see grading/README.md for what test authors should do.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from IPython.core.inputtransformer2 import TransformerManager
from nbgrader.utils import compute_checksum

PROTECTED = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
} | {
    "isinstance", "len", "abs", "all", "any", "round", "float", "int", "bool",
    "print", "getattr", "hasattr", "setattr", "__import__", "eval", "exec",
    "compile", "repr", "str", "type", "range", "sorted", "zip", "map",
}  # fmt: skip
HOOKS = {
    "get_ipython", "__builtins__", "settrace", "setprofile", "excepthook",
    "displayhook", "meta_path", "path_hooks", "_getframe", "currentframe",
    "get_referrers", "get_objects",
}  # fmt: skip
MODULES = {"builtins", "ctypes", "gc", "inspect"}


@dataclass
class Findings:
    """What the pre-checks found for one student."""

    failed: list[str] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)
    unreadable: list[Path] = field(default_factory=list)


def check_submission(submitted: Path, release: Path) -> Findings:
    """Compares a student's folder with the release folder of the assignment."""
    found = Findings()
    expected = sorted(p.name for p in release.glob("*.ipynb"))
    present = sorted(p.name for p in submitted.glob("*.ipynb"))
    for name in expected:
        if name not in present:
            others = [p for p in present if p not in expected]
            hint = f" (found {', '.join(others)})" if others else ""
            found.failed.append(f"missing notebook {name}{hint}")
            continue
        try:
            nb = nbformat.read(submitted / name, as_version=4)
        except Exception as err:  # nbformat raises several kinds for bad JSON
            found.failed.append(f"unreadable notebook {name}: {type(err).__name__}")
            found.unreadable.append(submitted / name)
            continue
        original = nbformat.read(release / name, as_version=4)
        found.manual += _changed_locked_cells(nb, original, name)
        found.manual += _tampering(nb, name)
    return found


def _changed_locked_cells(nb, original, name: str) -> list[str]:
    cells = {_grade_id(c): c for c in nb.cells if _grade_id(c)}
    edited, deleted = [], []
    for cell in original.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("locked"):
            continue
        theirs = cells.get(meta["grade_id"])
        if theirs is None:
            deleted.append(meta["grade_id"])
        elif compute_checksum(theirs) != compute_checksum(cell):
            edited.append(meta["grade_id"])
    notes = []
    if edited:
        notes.append(f"{name}: locked cells edited (restored): {', '.join(edited)}")
    if deleted:
        notes.append(f"{name}: locked cells deleted (restored): {', '.join(deleted)}")
    return notes


def _grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _tampering(nb, name: str) -> list[str]:
    code = [c for c in nb.cells if c.cell_type == "code"]
    # Modules imported anywhere (e.g. `np` in a locked cell) count as modules.
    imported = set().union(*(_imports(_parse(c.source)) for c in code))
    notes = []
    for cell in code:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("locked"):
            continue
        for finding in scan_code(cell.source, imported):
            notes.append(f"{name}: {finding} in cell {meta.get('grade_id', '?')}")
    return notes


def _parse(source: str) -> ast.AST:
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith("%matpl")]
    try:
        return ast.parse(TransformerManager().transform_cell("\n".join(lines)))
    except SyntaxError:
        return ast.Module(body=[], type_ignores=[])  # it fails on its own when run


def _imports(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])
    return names


def scan_code(source: str, imported: set[str] = frozenset()) -> list[str]:
    """Names the constructs in `source` that can make tests lie (a heuristic)."""
    tree = _parse(source)
    imported = set(imported) | _imports(tree)
    found = []
    for node in ast.walk(tree):
        found += _judge(node, imported)
    return sorted(set(found))


def _judge(node: ast.AST, imported: set[str]) -> list[str]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        mods = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        mods.append(getattr(node, "module", None) or "")
        return [f"imports {m}" for m in mods if m.split(".")[0] in MODULES]
    if isinstance(node, ast.Name) and node.id in HOOKS:
        return [f"uses {node.id}"]
    if isinstance(node, ast.Attribute) and node.attr in HOOKS:
        return [f"uses .{node.attr}"]
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in PROTECTED:
        return [f"redefines {node.name}"]
    if isinstance(node, ast.FunctionDef) and node.name in {"__eq__", "__bool__"}:
        body = [s for s in node.body if not isinstance(s, ast.Expr)]
        if len(body) == 1 and isinstance(body[0], ast.Return):
            value = body[0].value
            if isinstance(value, ast.Constant) and value.value is True:
                return [f"{node.name} always True"]
    targets = []
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    found = []
    for target in targets:
        if isinstance(target, ast.Name) and target.id in PROTECTED:
            found.append(f"redefines {target.id}")
        elif isinstance(target, ast.Attribute):
            base = target
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in imported:
                found.append(f"monkeypatches {ast.unparse(target)}")
            elif target.attr in {"__eq__", "__bool__", "__class__"}:
                found.append(f"assigns {target.attr}")
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "setattr":
        first = node.args[0] if node.args else None
        if isinstance(first, ast.Name) and first.id in imported:
            found.append(f"monkeypatches {first.id} via setattr")
    return found
