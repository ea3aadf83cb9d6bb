"""Checks on a submission before it is autograded (outside the sandbox).

nbgrader silently scores a missing notebook 0, quietly restores edited test cells
and runs the student's code in the same kernel as the hidden tests. These checks
turn each of those into a flag with a reason:

- missing, renamed or unreadable notebooks -> `failed`;
- locked cells (tests) edited or deleted, compared with the release by nbgrader's
  own checksums -> `needs_manual` (nbgrader restores them, so the score is fair);
- extra files (a `numpy.py` beside the notebook shadows numpy: the kernel's
  folder is first on `sys.path`) -> moved out of the submission, listed in the
  reason, `needs_manual` if importable;
- student code that tampers with what tests rely on (builtins, exceptions,
  monkeypatched modules however spelled, IPython hooks, always-equal objects,
  calls an answer must not make) -> `needs_manual`. Which cells are the
  student's comes from the release, never from the submission's metadata.
  This scan (scan.py) is a heuristic: see grading/README.md for what test
  authors should do.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.utils import compute_checksum, is_locked

from . import scan
from .scan import scan_trees

# Files Python would import from the kernel's folder (it is first on sys.path).
IMPORTABLE = (".py", ".pyc", ".pyw", ".so", ".pyd", ".pth", ".zip", ".egg")


@dataclass
class Findings:
    """What the pre-checks found for one student."""

    failed: list[str] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)
    unreadable: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # said, status unchanged


def check_submission(
    submitted: Path,
    release: Path,
    set_aside: Path | None = None,
    seconds: float | None = None,
) -> Findings:
    """Compares a student's folder with the release folder of the assignment.

    With `set_aside`, files the release does not have are moved there (out of
    the kernel's folder, so out of its `sys.path`). Never raises for anything in
    the submission: what cannot be checked becomes a `failed` reason, and the
    whole check stops at `seconds`.
    """
    found = Findings()
    try:
        _check(submitted, release, set_aside, seconds, found)
    except Exception as err:  # a submission must never end the class's run
        found.failed.append(f"the pre-check failed ({type(err).__name__})")
    return found


def _check(submitted, release, set_aside, seconds, found: Findings) -> None:
    deadline = None if seconds is None else time.monotonic() + seconds
    expected = sorted(p.name for p in release.glob("*.ipynb"))
    present = sorted(p.name for p in submitted.glob("*.ipynb"))
    if set_aside is not None:
        _set_aside_extras(submitted, release, expected, set_aside, found)
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
        try:
            if problem := _malformed(nb):
                found.failed.append(f"{name}: {problem}")
                continue
            found.manual += _changed_locked_cells(nb, original, name)
            found.manual += _tampering(nb, original, name, deadline)
        except scan.OutOfTime:
            found.failed.append(
                f"{name}: the pre-check ran past {seconds:g}s (the submission limit)"
            )
        except Exception as err:  # one notebook's problem is its own row
            found.failed.append(f"{name}: the pre-check failed ({type(err).__name__})")


def _malformed(nb) -> str | None:
    """What nbgrader cannot handle in the cells' nbgrader metadata, if anything."""
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is None:
            continue
        if not isinstance(meta, dict):
            return f"cell {index}: nbgrader metadata is not a mapping"
        if "grade_id" in meta and not isinstance(meta["grade_id"], str):
            return f"cell {index}: grade_id is not a string"
        if "points" in meta:
            try:
                float(meta["points"])
            except (TypeError, ValueError):
                return f"cell {index}: points is not a number"
        if not isinstance(cell.get("source", ""), str):
            return f"cell {index}: source is not text"
    return None


def _set_aside_extras(submitted, release, expected, dest, found) -> None:
    """Moves files the release lacks (or holds different) out of the folder."""
    extras = []
    # os.walk does not follow links: a link to / must not be walked.
    for folder, dirs, files in os.walk(submitted):
        for name in sorted(files + [d for d in dirs if _is_link(folder, d)]):
            path = Path(folder) / name
            rel = path.relative_to(submitted)
            if len(rel.parts) == 1 and rel.name in expected:
                continue
            ours = release / rel
            if not path.is_symlink() and ours.is_file() and _same(path, ours):
                continue
            extras.append(rel)
    extras.sort()
    for rel in extras:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(submitted / rel), str(target))
    for folder, _, _ in os.walk(submitted, topdown=False):
        if Path(folder) != submitted and not os.listdir(folder):
            os.rmdir(folder)
    if not extras:
        return
    listed = ", ".join(str(r) for r in extras[:5]) + (", ..." * (len(extras) > 5))
    code = [r for r in extras if r.suffix in IMPORTABLE or "__init__" in r.name]
    if code:
        found.manual.append(f"extra files set aside, not run (code: {listed})")
    else:
        found.notes.append(f"extra files set aside, not run: {listed}")


def _is_link(folder: str, name: str) -> bool:
    return os.path.islink(os.path.join(folder, name))


def _same(a: Path, b: Path) -> bool:
    return os.path.getsize(a) == os.path.getsize(b) and a.read_bytes() == b.read_bytes()


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


def _tampering(nb, original, name: str, deadline: float | None) -> list[str]:
    """Scans every cell nbgrader will run as the student's code.

    Cell types, `locked` and grade_ids come from the release: nbgrader restores
    a cell's type from it (a markdown answer cell runs as code), and a `locked`
    flag the student wrote on an answer cell means nothing. Only text that is
    exactly one of the release's locked code cells is the instructor's.
    """
    released = {_grade_id(c): c for c in original.cells if _grade_id(c)}
    instructor = [
        c.source for c in original.cells if c.cell_type == "code" and is_locked(c)
    ]
    rules = scan.instructor_rules(instructor, deadline)
    forbidden = original.metadata.get("sk_grading", {}).get("forbidden", {})
    for cell in original.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution"):
            for tree in _trees_or_none(cell.source):
                for bound, _ in scan.bindings(tree):
                    rules.owned.setdefault(bound, meta["grade_id"])
    theirs = []  # (label, owner grade_id, trees or None, why not)
    for index, cell in enumerate(nb.cells):
        grade_id = _grade_id(cell)
        ours = released.get(grade_id)
        kind = ours.cell_type if ours is not None else cell.cell_type
        if kind != "code" and cell.cell_type != "code":
            continue
        if cell.source in instructor:
            continue
        label = grade_id or f"#{index}"
        owner = (
            grade_id
            if ours is not None and ours.metadata.nbgrader.get("solution")
            else None
        )
        try:
            trees = scan.parse(cell.source, deadline)
        except scan.Unscannable as err:
            theirs.append((label, owner, None, str(err)))
            continue
        theirs.append((label, owner, trees, ""))
        for tree in trees:
            scan.learn(tree, rules, taint=True)
    notes = []
    for label, owner, trees, problem in theirs:
        if trees is None:
            notes.append(f"{name}: cell {label} could not be scanned ({problem})")
            continue
        rule = list(forbidden.get("*", [])) + list(forbidden.get(owner or "", []))
        for finding in scan_trees(trees, rules, rule, owner, deadline):
            notes.append(f"{name}: {finding} in cell {label}")
    return notes


def _trees_or_none(source: str) -> list:
    try:
        return scan.parse(source)
    except scan.Unscannable:
        return []
