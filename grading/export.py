"""`python -m grading export ASSIGNMENT --out DIR`: grades and feedback after
manual grading.

After `run`, the instructor grades the written answers in formgrader, in the class
course `DIR/course/` (see classbook.py). This re-reads every graded student's
score from that gradebook, regenerates their feedback there (hidden tests
redacted, as in `run`) and rewrites `DIR/<ASSIGNMENT>.csv`. No student code runs:
feedback is made from the already autograded notebooks. Failed rows are kept as
they are; `needs_manual` stays until a new run clears its reason.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps import NbGraderAPI
from rich.console import Console

from .classbook import COURSE_DIR, ClassCourse, exclusive
from .course import InstructorError
from .results import FAILED, Row, pending_note, pending_points, read_csv, write_csv

_PENDING = re.compile(r"^[\d.]+ points of written answers to grade by hand$")


def export(course: Path, out: Path, assignment: str, console: Console) -> list[Row]:
    """Refreshes `out/<assignment>.csv` and `out/feedback/` from the class course."""
    csv_path = out / f"{assignment}.csv"
    classbook = ClassCourse(out, course, assignment)
    if not csv_path.exists() or not (classbook.root / "gradebook.db").exists():
        raise InstructorError(
            f"nothing to export in {out}: expected {csv_path.name} and "
            f"{COURSE_DIR}/gradebook.db from `python -m grading run {assignment} "
            f"--out {out}`"
        )
    api = NbGraderAPI(config=classbook.config())
    rows = []
    with exclusive(out), Gradebook(classbook.db_url) as gb:
        for row in read_csv(csv_path):
            if row.status != FAILED:
                row = _refresh(row, gb, assignment)
                _feedback(api, classbook.root, out, assignment, row.student_id)
            rows.append(row)
        write_csv(rows, csv_path)
    waiting = sum(bool(_pending_part(r.reason)) for r in rows)
    console.print(
        f"exported {len(rows)} students to {csv_path}; "
        f"{waiting} still have written answers to grade"
    )
    return rows


def _refresh(row: Row, gb: Gradebook, assignment: str) -> Row:
    try:
        submission = gb.find_submission(assignment, row.student_id)
    except MissingEntry:
        return Row(
            row.student_id,
            None,
            row.max_score,
            FAILED,
            "not in the class gradebook (was it removed?); grade it again",
        )
    notes = [n for n in row.reason.split("; ") if n and not _PENDING.match(n)]
    if pending := pending_points(submission):
        notes.append(pending_note(pending))
    score = float(submission.score)
    return Row(row.student_id, score, row.max_score, row.status, "; ".join(notes))


def _pending_part(reason: str) -> bool:
    return any(_PENDING.match(n) for n in reason.split("; "))


def _feedback(api, root: Path, out: Path, assignment: str, student: str) -> None:
    made = api.generate_feedback(assignment, student, force=True)
    if not made.get("success"):
        raise InstructorError(
            f"feedback for {student} failed:\n{made.get('log', '')}"
            f"{made.get('error', '')}"
        )
    dest = out / "feedback" / student / assignment
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(
        root / "feedback" / student / assignment,
        dest,
        ignore=shutil.ignore_patterns("timestamp.txt"),
    )
