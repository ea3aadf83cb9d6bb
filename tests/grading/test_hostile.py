"""One sandboxed run with every hostile submission beside the clean ones."""

from __future__ import annotations

import html

import pytest
from nbgrader.api import Gradebook

from . import students
from .conftest import read_csv

# student: (score, status, words the reason must contain)
EXPECTED = {
    "solution": ("7", "graded", ""),
    "untouched": ("0", "graded", ""),
    "partial": ("3.5", "graded", ""),
    "h_loop": ("5", "needs_manual", "timed out"),
    "h_sigint": ("", "failed", "kernel"),
    "h_os_exit": ("", "failed", "kernel died"),
    "h_sys_exit": ("5", "graded", ""),
    "h_escape": ("7", "graded", ""),  # squares is right only if nothing leaked
    "h_ipc": ("7", "graded", ""),  # ... if the socket folder is size-capped
    "h_output": ("5", "graded", "size limit"),  # wrong squares, output capped
    "h_cheat": (None, "needs_manual", "AssertionError"),
    # Input transformers are reset before every test: the honest score, flagged.
    "h_transform": ("5", "needs_manual", "get_ipython"),
    "h_sneaky": ("", "failed", "cannot be trusted"),
    "t_edited": ("5", "needs_manual", "edited"),
    "t_deleted": ("4", "needs_manual", "deleted"),
    "f_corrupt": ("", "failed", "unreadable"),
    "f_renamed": ("", "failed", "my_fixture.ipynb"),
    "f_missing": ("", "failed", "missing notebook"),
}


@pytest.fixture(scope="module")
def rows(hostile_run):
    done, out, _, _, _ = hostile_run
    assert done.returncode == 0, done.stderr
    return read_csv(out / f"{students.NAME}.csv")


def test_every_student_has_a_row(rows):
    assert set(rows) == set(EXPECTED) | {"h_memory", "h_fork"}
    assert all(r["max_score"] == "9" for r in rows.values())


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_outcome(rows, student):
    score, status, reason = EXPECTED[student]
    row = rows[student]
    assert (row["status"], reason in row["reason"]) == (status, True), row
    if score is not None:
        assert row["score"] == score, row


@pytest.mark.parametrize("student", ["h_memory", "h_fork"])
def test_resource_bombs_earn_nothing_extra(rows, student):
    row = rows[student]
    if row["status"] == "failed":
        assert row["score"] == "" and "kernel" in row["reason"]
    else:
        assert float(row["score"]) <= 5


def test_failed_is_never_a_silent_zero(rows):
    for row in rows.values():
        if row["status"] == "failed":
            assert row["score"] == "" and row["reason"]


def test_output_flood_is_cut_before_it_reaches_disk(hostile_run):
    _, out, *_ = hostile_run
    written = [
        out / "course" / "autograded" / "h_output" / students.NAME,
        out / "feedback" / "h_output" / students.NAME,
    ]
    sizes = [p.stat().st_size for folder in written for p in folder.iterdir()]
    assert sizes and max(sizes) < 6 * 2**20, sizes


def test_failed_students_get_a_page_saying_why(hostile_run, rows):
    _, out, *_ = hostile_run
    for student, row in rows.items():
        folder = out / "feedback" / student / students.NAME
        pages = sorted(p.name for p in folder.iterdir())
        if row["status"] == "failed":
            assert pages == ["not-graded.html"], student
            assert html.escape(row["reason"]) in (folder / pages[0]).read_text()
        else:
            assert pages == [f"{students.NAME}.html"], student


def test_class_gradebook_holds_exactly_the_graded_students(hostile_run, rows):
    _, out, *_ = hostile_run
    with Gradebook(f"sqlite:///{out / 'course' / 'gradebook.db'}") as gb:
        scores = {
            s.student.id: f"{s.score:g}"
            for s in gb.find_assignment(students.NAME).submissions
        }
    assert scores == {
        student: row["score"] for student, row in rows.items() if row["score"]
    }


def test_sources_and_fixture_untouched(hostile_run):
    _, _, before, after, _ = hostile_run
    assert before == after


def test_no_cgroups_or_mounts_left_behind(hostile_run):
    *_, left = hostile_run
    assert left == []
