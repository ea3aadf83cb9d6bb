"""Submissions in, `submitted/<student>/<assignment>/` out (in the scratch course).

Two layouts are accepted:

- a folder of `<student>/<ASSIGNMENT>/*.ipynb` (nbgrader's own `submitted/` layout);
- an LMS download: a `.zip` file, or a folder of files and/or zips, handed to
  nbgrader's `zip_collect`. File names must match
  `FileNameCollectorPlugin.named_regexp` (the course's nbgrader_config.py; default
  `<student>_<notebook>.ipynb`, Canvas' `<student>_[late_]<id>_<id>_<notebook>.ipynb`
  works too).

zip_collect skips files whose name is not a released notebook; they are put back
here so the student is flagged (renamed notebook) instead of silently vanishing.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from nbgrader.apps import ZipCollectApp
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from .course import InstructorError

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@\-]*$")


def stage(path: Path, assignment: str, root: Path, config: Config) -> list[str]:
    """Copies the submissions at `path` into `root/submitted`; returns student ids."""
    if not path.exists():
        raise InstructorError(f"submissions not found: {path}")
    submitted = root / "submitted"
    if path.is_dir() and any(path.glob(f"*/{assignment}")):
        # Every top-level folder is a student: one without the assignment folder
        # is staged empty and so flagged, not dropped.
        for student_dir in sorted(p for p in path.iterdir() if p.is_dir()):
            if not STUDENT_ID.match(student_dir.name):
                continue
            dest = submitted / student_dir.name / assignment
            if (student_dir / assignment).is_dir():
                shutil.copytree(student_dir / assignment, dest)
            else:
                dest.mkdir(parents=True)
    elif path.is_dir() or path.suffix == ".zip":
        _zip_collect(path, assignment, root, config)
    else:
        raise InstructorError(
            f"{path}: expected a .zip or a folder (LMS download or "
            f"<student>/{assignment}/*.ipynb)"
        )
    students = sorted(p.name for p in submitted.iterdir()) if submitted.exists() else []
    if not students:
        raise InstructorError(f"no submissions for {assignment!r} found in {path}")
    return students


def _zip_collect(path: Path, assignment: str, root: Path, config: Config) -> None:
    archive = root / "downloaded" / assignment / "archive"
    archive.mkdir(parents=True)
    if path.is_dir():
        shutil.copytree(path, archive, dirs_exist_ok=True)
    else:
        shutil.copy(path, archive)
    app = ZipCollectApp(config=config)
    app.coursedir = CourseDirectory(config=config)
    app.coursedir.assignment_id = assignment
    app.force = True
    app.start()
    # Files zip_collect skipped (not a released notebook name): keep them.
    regexp = re.compile(app.collector_plugin_inst.named_regexp)
    extracted = root / "downloaded" / assignment / "extracted"
    for file in sorted(extracted.rglob("*.ipynb")):
        match = regexp.match(str(file))
        if match is None or not STUDENT_ID.match(match["student_id"]):
            continue
        dest = root / "submitted" / match["student_id"] / assignment
        dest.mkdir(parents=True, exist_ok=True)
        if not (dest / Path(match["file_id"]).name).exists():
            shutil.copy(file, dest / Path(match["file_id"]).name)
