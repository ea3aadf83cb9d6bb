"""The class's nbgrader course, `OUT/course/`: every graded student in one gradebook.

`run` grades each student on a private gradebook copy in a scratch course (see
run.py). As each student finishes, their grades and notebooks are copied here, so
the instructor has one ordinary nbgrader course to open in formgrader for the
written answers, and `python -m grading export` re-reads the scores from it.

Only submissions that were graded are entered: nbgrader would export a failed one
as 0, and a failed regrade removes the student's earlier, now stale, submission.
The autograded notebooks are stored sanitised (redact.SafeHTML): formgrader
renders them as HTML in the instructor's Jupyter origin.
Nothing here is for students: only `OUT/feedback/` is.
"""

from __future__ import annotations

import fcntl
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps import NbGraderAPI

from .course import RELEASE, REPO_ROOT, SOURCE, InstructorError, nbgrader_config
from .redact import sanitize_notebook

COURSE_DIR = "course"
_CONFIG = '''"""The class's nbgrader course, written by `python -m grading run`.

Run `jupyter lab` (or `nbgrader formgrader`) in this folder to grade the written
answers, then `python -m grading export ASSIGNMENT --out ..` from the course
repository to refresh the CSV and the (redacted) feedback.
"""

import os
import sys

c = get_config()  # noqa: F821
here = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = here
c.CourseDirectory.source_directory = "{source}"
c.CourseDirectory.release_directory = "{release}"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(here, "gradebook.db")
c.CourseDirectory.course_id = {course_id!r}
# Feedback from formgrader must hide hidden tests and their tracebacks too.
sys.path.insert(0, {package_parent!r})
c.GenerateFeedback.preprocessors = {feedback!r}
c.OverwriteCells.add_missing_cells = True
'''


class ClassCourse:
    """`out/course`: created on the first run, updated by every later one."""

    def __init__(self, out: Path, course: Path, assignment: str) -> None:
        self.root = out / COURSE_DIR
        self.course, self.assignment = course, assignment
        self.db_url = f"sqlite:///{self.root / 'gradebook.db'}"
        self._lock = threading.Lock()
        self._ready: Future | None = None

    def prepare_in_background(self, source: Path) -> None:
        """Runs `prepare` on a thread of its own: grading need not wait for it
        (nbgrader makes a new gradebook through a slow `alembic` process)."""
        self._ready = ThreadPoolExecutor(max_workers=1).submit(self.prepare, source)

    def _wait(self) -> None:
        if self._ready is not None:
            self._ready.result()  # re-raises prepare's InstructorError

    def config(self):
        return nbgrader_config(self.course, self.root, self.db_url)

    def prepare(self, source: Path) -> None:
        """Copies the assignment's source in and (re)generates it in the gradebook."""
        config = self.config()
        dest = self.root / SOURCE / self.assignment
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(source, dest)
        (self.root / "nbgrader_config.py").write_text(
            _CONFIG.format(
                source=SOURCE,
                release=RELEASE,
                course_id=config.CourseDirectory.course_id,
                package_parent=str(REPO_ROOT),
                feedback=list(config.GenerateFeedback.preprocessors),
            )
        )
        made = NbGraderAPI(config=config).generate_assignment(
            self.assignment, force=True
        )
        if not made.get("success"):
            raise InstructorError(
                f"could not update the class gradebook {self.root / 'gradebook.db'} "
                f"(did the assignment's cells change after grading?):\n"
                f"{made.get('log', '')}{made.get('error', '')}"
            )

    def record(self, student: str, student_db_url: str, scratch_root: Path) -> None:
        """Copies a graded student's submission, grades and comments in."""
        self._wait()
        with self._lock:
            for step in ("submitted", "autograded"):
                dest = self.root / step / student / self.assignment
                shutil.rmtree(dest, ignore_errors=True)
                shutil.copytree(scratch_root / step / student / self.assignment, dest)
            # formgrader renders these in the instructor's Jupyter origin.
            for path in dest.glob("*.ipynb"):
                nb = sanitize_notebook(nbformat.read(path, as_version=4))
                # Replaced, not rewritten: nbgrader leaves the file read-only.
                fresh = path.with_name(path.name + ".partial")
                fresh.write_text(nbformat.writes(nb), encoding="utf-8")
                fresh.chmod(path.stat().st_mode)
                fresh.replace(path)
            with Gradebook(student_db_url) as src, Gradebook(self.db_url) as gb:
                _copy_submission(src, gb, self.assignment, student)

    def forget(self, student: str) -> None:
        """Removes a student's earlier submission (this one failed)."""
        self._wait()
        with self._lock:
            for step in ("submitted", "autograded"):
                shutil.rmtree(
                    self.root / step / student / self.assignment, ignore_errors=True
                )
            with Gradebook(self.db_url) as gb:
                try:
                    gb.remove_submission(self.assignment, student)
                except MissingEntry:
                    pass


@contextmanager
def exclusive(out: Path) -> Iterator[None]:
    """Holds `out/.grading.lock`: one run or export writes to `out` at a time."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".grading.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InstructorError(
                f"another `python -m grading` run or export is writing to {out}; "
                "wait for it to finish"
            ) from None
        yield


def _copy_submission(src: Gradebook, gb: Gradebook, assignment: str, student: str):
    theirs = src.find_submission(assignment, student)
    try:
        gb.remove_submission(assignment, student)
    except MissingEntry:
        pass
    gb.update_or_create_student(student)
    ours = gb.add_submission(assignment, student, timestamp=theirs.timestamp)
    ours.extension = theirs.extension
    notebooks = {nb.name: nb for nb in ours.notebooks}
    for their_nb in theirs.notebooks:
        our_nb = notebooks[their_nb.name]
        our_nb.flagged = their_nb.flagged
        our_nb.late_submission_penalty = their_nb.late_submission_penalty
        _copy_cells(our_nb.grades, their_nb.grades, _GRADE_FIELDS)
        _copy_cells(our_nb.comments, their_nb.comments, _COMMENT_FIELDS)
    gb.db.commit()


_GRADE_FIELDS = ("auto_score", "manual_score", "extra_credit", "needs_manual_grade")
_COMMENT_FIELDS = ("auto_comment", "manual_comment")


def _copy_cells(ours, theirs, fields: tuple[str, ...]) -> None:
    by_name = {cell.name: cell for cell in ours}
    for cell in theirs:
        for name in fields:
            setattr(by_name[cell.name], name, getattr(cell, name))
