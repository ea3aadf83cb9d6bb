"""From a student's gradebook, logs and pre-checks to one CSV row."""

from __future__ import annotations

import csv
import html
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from .bounded import TRUNCATED
from .canary import extra_results, tampered
from .checks import Findings

COLUMNS = ("student_id", "score", "max_score", "status", "reason")
GRADED, FAILED, NEEDS_MANUAL = "graded", "failed", "needs_manual"
# What nbgrader's log says when it drops a submission, and what we tell the instructor.
FAILURES = (
    ("DeadKernelError", "kernel died (crash, os._exit or a memory/CPU/process limit)"),
    ("Kernel died", "kernel died (crash, os._exit or a memory/CPU/process limit)"),
    ("UnresponsiveKernelError", "kernel stopped responding"),
    ("CellTimeoutError", "a cell timed out and the kernel could not be interrupted"),
    ("TimeoutError", "the kernel timed out"),
)


TAMPERING = (
    "tests cannot be trusted: a check that must fail passed after the student's "
    "code ran (something in the notebook stops errors from being reported)"
)


@dataclass
class Row:
    """One line of `<ASSIGNMENT>.csv`; `score` is None when nothing was graded."""

    student_id: str
    score: float | None
    max_score: float
    status: str
    reason: str

    def cells(self) -> list[str]:
        score = "" if self.score is None else f"{self.score:g}"
        return [self.student_id, score, f"{self.max_score:g}", self.status, self.reason]


def max_score(db_url: str, assignment: str) -> float:
    """The assignment's total points (autograded and manual)."""
    with Gradebook(db_url) as gb:
        return float(gb.find_assignment(assignment).max_score)


def make_row(
    student: str,
    assignment: str,
    db_url: str,
    total: float,
    findings: Findings,
    outcome: dict | None,
    autograded: Path,
) -> Row:
    """Decides status and reason; never reports a score nbgrader did not finish."""
    if findings.failed:
        return Row(student, None, total, FAILED, "; ".join(findings.failed))
    if outcome is None or "autograde" not in outcome:
        reason = (outcome or {}).get("error", "grading process died")
        return Row(student, None, total, FAILED, reason)
    auto = outcome["autograde"]
    if not auto.get("success"):
        return Row(student, None, total, FAILED, _failure(auto))
    if any(tampered(nbformat.read(p, 4)) for p in autograded.glob("*.ipynb")):
        return Row(student, None, total, FAILED, TAMPERING)
    try:
        with Gradebook(db_url) as gb:
            submission = gb.find_submission(assignment, student)
            score = float(submission.score)
            pending = pending_points(submission)
    except MissingEntry:
        return Row(student, None, total, FAILED, "nbgrader stored no grades")
    notes = findings.manual + _timeouts(autograded) + _extra_results(autograded)
    if not outcome.get("feedback", {}).get("success"):
        notes.append("feedback could not be generated")
    status = NEEDS_MANUAL if notes else GRADED
    if pending:
        notes.append(pending_note(pending))
    if _truncated(autograded):
        notes.append("outputs beyond the size limit were dropped (the score stands)")
    notes += findings.notes
    return Row(student, score, total, status, "; ".join(notes))


def pending_points(submission) -> float:
    """Points of the submission's cells nobody has scored yet (written answers)."""
    return sum(
        float(g.max_score)
        for nb in submission.notebooks
        for g in nb.grades
        if g.auto_score is None and g.manual_score is None
    )


def pending_note(points: float) -> str:
    return f"{points:g} points of written answers to grade by hand"


def _failure(auto: dict) -> str:
    text = auto.get("log", "") + auto.get("error", "")
    for needle, reason in FAILURES:
        if needle in text:
            return reason
    lines = [ln for ln in text.splitlines() if ln.startswith("[ERROR]")]
    return "nbgrader failed: " + (lines[0][8:] if lines else "see its log")


def _extra_results(autograded: Path) -> list[str]:
    notes = []
    for path in sorted(autograded.glob("*.ipynb")):
        cells = extra_results(nbformat.read(path, as_version=4))
        if cells:
            notes.append(
                f"{path.name}: code under test showed results of its own in "
                f"{', '.join(cells)} (one result per test counted: the lowest)"
            )
    return notes


def _timeouts(autograded: Path) -> list[str]:
    notes = []
    for path in sorted(autograded.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for index, cell in enumerate(nb.cells):
            for output in cell.get("outputs", []):
                if output.get("ename") == "CellTimeoutError":
                    cell_id = cell.metadata.get("nbgrader", {}).get("grade_id", index)
                    notes.append(f"{path.name}: cell {cell_id} timed out (interrupted)")
                    break
    return notes


def read_csv(path: Path) -> list[Row]:
    """The rows of an earlier run's CSV (none if there is no such file)."""
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [
            Row(
                r["student_id"],
                float(r["score"]) if r["score"] else None,
                float(r["max_score"]),
                r["status"],
                r["reason"],
            )
            for r in csv.DictReader(f)
        ]


def _truncated(autograded: Path) -> bool:
    return any(TRUNCATED in p.read_text() for p in autograded.glob("*.ipynb"))


def write_csv(rows: list[Row], path: Path) -> None:
    """Writes the rows sorted by student id, keeping earlier rows of other students.

    A later run on some students (a late submission, a regrade) replaces their rows
    only: nothing graded before is lost. The file is replaced atomically.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    mine = {row.student_id for row in rows}
    kept = [row for row in read_csv(path) if row.student_id not in mine]
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for row in sorted(rows + kept, key=lambda r: r.student_id):
            writer.writerow(row.cells())
    partial.replace(path)


def write_failure_page(row: Row, assignment: str, folder: Path) -> None:
    """Feedback for a submission that could not be graded: what went wrong."""
    folder.mkdir(parents=True, exist_ok=True)
    title = f"{html.escape(assignment)}: your submission could not be graded"
    (folder / "not-graded.html").write_text(
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{title}</title>"
        f"</head><body><h1>{title}</h1>\n<p>Reason: {html.escape(row.reason)}</p>\n"
        "<p>No score was recorded. Check the notebook with <code>nbgrader "
        "validate</code> (see the course's student guide) and ask your instructor "
        "about resubmitting.</p></body></html>\n"
    )
