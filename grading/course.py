"""The course on disk: where it lives, its assignments, and nbgrader's config for it.

The course's own `nbgrader_config.py` is the single source of settings; the grader
loads it and then pins what its guarantees rest on (feedback without hidden tests,
deleted test cells restored, paths inside the scratch course).
"""

from __future__ import annotations

from pathlib import Path

from traitlets.config import Config, PyFileConfigLoader

from .bounded import BoundedExecute, autograde_preprocessors
from .canary import AddCanary, CheckCanary, GuardedExecute

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE = "solutions"
RELEASE = "exercises"
SOLUTION_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS")


class InstructorError(Exception):
    """A problem on the instructor's side (bad arguments, missing assignment)."""


def assignments(course: Path) -> list[str]:
    """Names of the assignments in `course/solutions/` that hold notebooks."""
    source = course / SOURCE
    if not source.is_dir():
        raise InstructorError(f"no `{SOURCE}/` folder in the course root {course}")
    return sorted(p.name for p in source.iterdir() if any(p.glob("*.ipynb")))


def check_assignment(course: Path, name: str) -> Path:
    """The assignment's source folder; raises InstructorError if there is none."""
    found = assignments(course)
    if name not in found:
        raise InstructorError(
            f"no assignment {name!r} in {course / SOURCE} (found: {', '.join(found)})"
        )
    return course / SOURCE / name


def nbgrader_config(course: Path, root: Path, db_url: str) -> Config:
    """nbgrader config for work on `root` (a scratch course) from `course`'s config.

    Args:
        course: the course whose `nbgrader_config.py` (if any) is loaded.
        root: the course root nbgrader works in (solutions/, exercises/, ...).
        db_url: the gradebook; always outside the repository.
    """
    config = Config()
    if (course / "nbgrader_config.py").exists():
        config.merge(
            PyFileConfigLoader("nbgrader_config.py", str(course)).load_config()
        )
    pinned = Config()
    pinned.CourseDirectory.root = str(root)
    pinned.CourseDirectory.source_directory = SOURCE
    pinned.CourseDirectory.release_directory = RELEASE
    pinned.CourseDirectory.db_url = db_url
    pinned.CourseDirectory.course_id = config.CourseDirectory.get("course_id", "")
    feedback = list(config.GenerateFeedback.get("preprocessors", []))
    if not feedback:
        feedback = [
            "nbgrader.preprocessors.GetGrades",
            "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
        ]
    feedback = [p for p in feedback if "ClearHiddenTests" not in str(p)]
    # Redaction needs the hidden-test markers, so it runs before they are cleared.
    feedback += [
        "grading.redact.RedactHiddenOutputs",
        "nbgrader.preprocessors.ClearHiddenTests",
        "grading.redact.SafeHTML",  # outputs and answers are the student's HTML
    ]
    pinned.GenerateFeedback.preprocessors = feedback
    # Outputs are capped: the grader writes them to disk outside the sandbox.
    # A must-fail cell around them checks that errors still surface (canary.py).
    # Test cells run after a reset of the kernel's hooks, keeping one result each.
    steps = autograde_preprocessors(config.Autograde.get("autograde_preprocessors"))
    steps = [GuardedExecute if s is BoundedExecute else s for s in steps]
    pinned.Autograde.autograde_preprocessors = [AddCanary, *steps, CheckCanary]
    # A deleted test cell is put back and run rather than silently scoring 0.
    pinned.OverwriteCells.add_missing_cells = True
    config.merge(pinned)
    return config
