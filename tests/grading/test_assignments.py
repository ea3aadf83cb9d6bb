"""Every course assignment end to end: release in sync, real sandboxed grading.

Parametrised over every assignment folder in `solutions/`, so a new assignment is
covered as soon as it exists. For each one:

- release sync: `python -m grading release` run on a temporary copy of the course
  reproduces the committed `exercises/<a>/` byte for byte, and nothing of the
  solutions or hidden tests is in it;
- grading: three students graded in one `python -m grading run --workers 2`: the
  solution (every answer cell filled in a copy of the release) gets every
  autograded point, the untouched release gets 0, and the solution with one function
  broken gets a score strictly in between.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import nbformat
import pytest

from .conftest import REPO, grading, read_csv

pytestmark = pytest.mark.slow

SOURCE = REPO / "solutions"
RELEASE = REPO / "exercises"
ASSIGNMENTS = sorted(
    p.name for p in SOURCE.glob("*") if p.is_dir() and any(p.glob("*.ipynb"))
)
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
SOLUTION_LINES = {"### BEGIN SOLUTION", "### END SOLUTION"}


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _blocks(source: str, begin: str, end: str) -> list[str]:
    """The lines between `### BEGIN X` and `### END X` markers."""
    lines, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            lines.append(line)
    return lines


def _public_text(nb) -> str:
    """Source text of a notebook without its solution and hidden-test blocks."""
    kept = []
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if "BEGIN SOLUTION" in line or "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END SOLUTION" in line or "END HIDDEN TESTS" in line:
                inside = False
            elif not inside:
                kept.append(line)
    return "\n".join(kept)


def _points(nb) -> tuple[float, float]:
    """(autograded points, all points) of a source notebook."""
    auto = total = 0.0
    for cell in nb.cells:
        meta = _nbgrader(cell)
        if meta.get("grade"):
            total += float(meta.get("points", 0))
            if not meta.get("solution"):
                auto += float(meta.get("points", 0))
    return auto, total


def _answers(nb) -> dict[str, str]:
    """The solution cells of a source notebook, markers removed, by grade_id."""
    answers = {}
    for cell in nb.cells:
        meta = _nbgrader(cell)
        if meta.get("solution"):
            lines = cell.source.splitlines()
            kept = [ln for ln in lines if ln.strip() not in SOLUTION_LINES]
            answers[meta["grade_id"]] = "\n".join(kept)
    return answers


def _broken(source: str) -> str | None:
    """`source` with the body of its first function replaced by `return None`."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    if not funcs:
        return None
    body = funcs[0].body
    lines = source.splitlines()
    indent = " " * body[0].col_offset
    start, end = body[0].lineno - 1, body[-1].end_lineno
    return "\n".join(lines[:start] + [f"{indent}return None"] + lines[end:])


def _fill(release_nb: Path, answers: dict[str, str]):
    nb = nbformat.read(release_nb, as_version=4)
    for cell in nb.cells:
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def _write(folder: Path, student: str, assignment: str, name: str, nb) -> None:
    path = folder / student / assignment / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A copy of the course (sources and config), released by the real tool."""
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(SOURCE, root / "solutions")
    shutil.copy(REPO / "nbgrader_config.py", root)
    done = grading("--course", str(root), "release")
    assert done.returncode == 0, done.stderr
    return root


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def graded(request, course, tmp_path_factory):
    """One sandboxed run per assignment: solution, untouched release, partial."""
    name = request.param
    base = tmp_path_factory.mktemp(f"grade-{name}")
    subs, out = base / "subs", base / "out"
    broke = None
    for release_nb in sorted((course / "exercises" / name).glob("*.ipynb")):
        source = nbformat.read(SOURCE / name / release_nb.name, as_version=4)
        answers = _answers(source)
        _write(subs, "solution", name, release_nb.name, _fill(release_nb, answers))
        untouched = nbformat.read(release_nb, as_version=4)
        _write(subs, "untouched", name, release_nb.name, untouched)
        partial = dict(answers)
        if broke is None:
            for grade_id, text in answers.items():
                wrong = _broken(text)
                if wrong is not None:
                    partial[grade_id], broke = wrong, grade_id
                    break
        _write(subs, "partial", name, release_nb.name, _fill(release_nb, partial))
    assert broke, f"{name}: no answer cell defines a function to break"
    done = grading("--course", str(course), "run", name, "--submissions", str(subs),
                   "--out", str(out), "--workers", "2")  # fmt: skip
    assert done.returncode == 0, done.stderr
    return name, read_csv(out / f"{name}.csv"), out


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_is_in_sync(course, name):
    fresh = course / "exercises" / name
    committed = RELEASE / name
    assert committed.is_dir(), f"run `python -m grading release {name}`"
    files = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    mine = sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    assert files == mine
    for rel in files:
        assert (fresh / rel).read_bytes() == (committed / rel).read_bytes(), (
            f"exercises/{name}/{rel} is stale: run `python -m grading release {name}`"
        )


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_has_no_solutions_or_hidden_tests(name):
    for path in sorted((RELEASE / name).glob("*.ipynb")):
        text = path.read_text()
        for marker in MARKERS:
            assert marker not in text, (path, marker)
        released = nbformat.read(path, as_version=4)
        released_src = "\n".join(c.source for c in released.cells)
        source = nbformat.read(SOURCE / name / path.name, as_version=4)
        public = _public_text(source)
        hidden = [
            line.strip()
            for cell in source.cells
            for line in _blocks(cell.source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
        ]
        # Lines of hidden tests that are not also public text must not leak.
        leaked = [
            ln
            for ln in hidden
            if len(ln) >= 20 and ln not in public and ln in released_src
        ]
        assert not leaked, (path, leaked[:3])


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_assignment_shape(name):
    """At least 3 autograded parts and one written answer graded by hand."""
    for path in sorted((SOURCE / name).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        tests = [
            c for c in nb.cells if _nbgrader(c).get("grade") and c.cell_type == "code"
        ]
        manual = [
            c
            for c in nb.cells
            if _nbgrader(c).get("grade") and _nbgrader(c).get("solution")
        ]
        assert len(tests) >= 3 and len(manual) >= 1, path
        assert any("BEGIN HIDDEN TESTS" in c.source for c in tests), path
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_solution_gets_every_autograded_point(graded):
    name, rows, _ = graded
    auto, total = _points(_source_nb(name))
    row = rows["solution"]
    assert (row["status"], float(row["score"]), float(row["max_score"])) == (
        "graded",
        auto,
        total,
    ), row


def test_untouched_release_gets_zero(graded):
    name, rows, _ = graded
    row = rows["untouched"]
    assert row["status"] == "graded" and float(row["score"]) == 0.0, row


def test_one_broken_function_gets_partial_credit(graded):
    name, rows, _ = graded
    auto, _ = _points(_source_nb(name))
    row = rows["partial"]
    assert row["status"] == "graded", row
    assert 0.0 < float(row["score"]) < auto, row


def test_feedback_has_no_hidden_tests(graded):
    _, _, out = graded
    pages = sorted((out / "feedback").rglob("*.html"))
    assert len(pages) >= 3
    for page in pages:
        assert "HIDDEN TESTS" not in page.read_text(), page


def _source_nb(name: str):
    """All of an assignment's source notebooks as one (for point totals)."""
    cells = []
    for path in sorted((SOURCE / name).glob("*.ipynb")):
        cells += nbformat.read(path, as_version=4).cells
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    return nb
