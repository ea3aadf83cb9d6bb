"""`python -m grading release` on the fixture course."""

from __future__ import annotations

import nbformat

from . import students
from .conftest import grading


def test_release_strips_solutions_and_hidden_tests(course, release_nb):
    text = release_nb.read_text()
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", *students.HIDDEN_CANARIES):
        assert marker not in text
    nb = nbformat.read(release_nb, as_version=4)
    answers = [c.source for c in nb.cells if "YOUR" in c.source]
    assert len(answers) == 4  # three code answers and the written one


def test_release_leaves_no_gradebook(course):
    assert not list(course.rglob("gradebook.db"))


def test_release_unknown_assignment_is_an_instructor_error(course):
    done = grading("--course", str(course), "release", "nope")
    assert done.returncode == 2
    assert "no assignment 'nope'" in done.stderr
