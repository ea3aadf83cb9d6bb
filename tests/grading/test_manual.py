"""After `run`: the class course for formgrader, manual grades, `export`, reruns."""

from __future__ import annotations

import fcntl
import shutil

import pytest
from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI
from traitlets.config import PyFileConfigLoader

from . import students
from .conftest import grading, read_csv

CSV = f"{students.NAME}.csv"


@pytest.fixture(scope="module")
def graded(clean_runs, tmp_path_factory):
    """A copy of the serial run's output (the class course must survive a move)."""
    out = tmp_path_factory.mktemp("manual") / "out"
    shutil.copytree(clean_runs[0], out)
    return out


def formgrader_api(course_dir) -> NbGraderAPI:
    """The API formgrader serves, configured from the class course's own file."""
    config = PyFileConfigLoader("nbgrader_config.py", str(course_dir)).load_config()
    return NbGraderAPI(config=config)


def test_formgrader_sees_every_graded_student(graded):
    api = formgrader_api(graded / "course")
    subs = {s["student"]: s for s in api.get_submissions(students.NAME)}
    assert set(subs) == {"solution", "untouched", "partial"}
    assert {s: subs[s]["score"] for s in subs} == {
        "solution": 7,
        "untouched": 0,
        "partial": 3.5,
    }
    # The written answer waits for a human; an untouched one nbgrader scores 0.
    assert {s: subs[s]["needs_manual_grade"] for s in subs} == {
        "solution": True,
        "untouched": False,
        "partial": True,
    }
    notebooks = api.get_notebook_submissions(students.NAME, students.NAME)
    assert {nb["student"] for nb in notebooks} == set(subs)
    for student in subs:  # what formgrader opens to grade
        assert (
            (graded / "course" / "autograded" / student / students.NAME)
            .joinpath(f"{students.NAME}.ipynb")
            .is_file()
        )


@pytest.fixture(scope="module")
def exported(graded):
    """The written answer of `solution` graded by hand (as formgrader stores it),
    then `export`."""
    with Gradebook(f"sqlite:///{graded / 'course' / 'gradebook.db'}") as gb:
        grade = gb.find_grade("explain", students.NAME, students.NAME, "solution")
        grade.manual_score = 2
        comment = gb.find_comment("explain", students.NAME, students.NAME, "solution")
        comment.manual_comment = "MANUAL-COMMENT: well argued"
        gb.db.commit()
    done = grading("export", students.NAME, "--out", str(graded))
    assert done.returncode == 0, done.stderr
    return graded


def test_export_adds_manual_points_and_clears_the_note(exported):
    rows = read_csv(exported / CSV)
    assert (rows["solution"]["score"], rows["solution"]["max_score"]) == ("9", "9")
    assert "written answers" not in rows["solution"]["reason"]
    assert rows["partial"]["score"] == "3.5"
    assert "2 points of written answers" in rows["partial"]["reason"]


def test_export_feedback_has_the_comment_and_no_hidden_tests(exported):
    page = exported / "feedback" / "solution" / students.NAME / f"{students.NAME}.html"
    html = page.read_text()
    assert "MANUAL-COMMENT" in html
    for canary in ("HIDDEN TESTS", *students.HIDDEN_CANARIES):
        assert canary not in html, canary


def test_export_without_a_run_is_an_instructor_error(tmp_path):
    done = grading("export", students.NAME, "--out", str(tmp_path))
    assert done.returncode == 2 and "nothing to export" in done.stderr


def test_a_later_run_on_one_student_keeps_everyone_else(
    exported, course, release_nb, tmp_path
):
    subs = tmp_path / "late"
    students.write(subs, "late_student", students.fill(release_nb, students.SOLUTION))
    done = grading(
        "--course", str(course), "run", students.NAME, "--submissions", str(subs),
        "--out", str(exported), "--timeout", "20",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = read_csv(exported / CSV)
    assert set(rows) == {"solution", "untouched", "partial", "late_student"}
    assert rows["solution"]["score"] == "9"  # the manual grade is not lost
    assert rows["late_student"]["score"] == "7"
    with Gradebook(f"sqlite:///{exported / 'course' / 'gradebook.db'}") as gb:
        assert gb.find_submission(students.NAME, "solution").score == 9
        assert len(gb.find_assignment(students.NAME).submissions) == 4


def test_one_writer_at_a_time(graded):
    with open(graded / ".grading.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a run in progress holds it
        done = grading("export", students.NAME, "--out", str(graded))
    assert done.returncode == 2 and "another" in done.stderr
