"""`python -m grading release`: solutions/ -> exercises/ with nbgrader."""

from __future__ import annotations

import tempfile
from pathlib import Path

from nbgrader.apps import NbGraderAPI

from .course import (
    RELEASE,
    SOLUTION_MARKERS,
    InstructorError,
    assignments,
    check_assignment,
    nbgrader_config,
)


def release(course: Path, names: list[str] | None = None) -> list[str]:
    """Generates the release of `names` (default: all); returns the names done.

    The gradebook nbgrader insists on is a throwaway outside the course, so the
    working tree never gains a `gradebook.db`.
    """
    names = names or assignments(course)
    for name in names:
        check_assignment(course, name)
    with tempfile.TemporaryDirectory(prefix="skg-release-") as tmp:
        config = nbgrader_config(course, course, f"sqlite:///{tmp}/gradebook.db")
        api = NbGraderAPI(config=config)
        for name in names:
            result = api.generate_assignment(name, force=True, create=True)
            if not result.get("success"):
                log = (result.get("log", "") + result.get("error", "")).strip()
                tail = "\n".join(log.splitlines()[-8:])
                raise InstructorError(f"generate_assignment {name} failed:\n{tail}")
    leaks = find_leaks(course / RELEASE, names)
    if leaks:
        raise InstructorError("solution text left in the release: " + ", ".join(leaks))
    return names


def find_leaks(release_dir: Path, names: list[str]) -> list[str]:
    """Files of the released assignments that still contain solution markers."""
    leaks = []
    for name in names:
        for path in sorted((release_dir / name).rglob("*")):
            if not path.is_file():
                continue
            text = path.read_text(errors="ignore")
            for marker in SOLUTION_MARKERS:
                if marker in text:
                    leaks.append(f"{path.relative_to(release_dir)} ({marker})")
    return leaks
