"""Submissions in, `submitted/<student>/<assignment>/` out (in the scratch course).

Two layouts are accepted:

- a folder of `<student>/<ASSIGNMENT>/*.ipynb` (nbgrader's own `submitted/` layout);
- an LMS download: a `.zip` file, or a folder of files and/or zips, handed to
  nbgrader's `zip_collect`. Unless the course's nbgrader_config.py sets
  `FileNameCollectorPlugin.named_regexp`, file names are read as
  `<student>_<notebook>.ipynb` with the released notebook names spelled out, so a
  student id may itself contain `_`; Canvas' `<student>_[late_]<id>_<id>_` prefix
  and `-<n>` resubmission suffix are accepted.

Nobody is dropped silently: a file zip_collect skips (a renamed notebook, a name
that does not parse) becomes a student of its own, flagged by the pre-checks.
Links are never followed (a link to `solutions/` would be copied as the student's
work) and nothing but plain files and folders is copied (a FIFO would hang the
copy): such an entry is left out and its student is refused with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
from copy import deepcopy
from pathlib import Path

from nbgrader.apps import ZipCollectApp
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from .course import InstructorError

# Any name that is a single, non-hidden path component (ids become folder names).
STUDENT_ID = re.compile(r"^[^./\\\x00-\x1f][^/\\\x00-\x1f]{0,127}$")
NOT_STUDENTS = {"__MACOSX"}  # what zip tools add beside the real folders


def zip_regexp(notebooks: list[str]) -> str:
    """`named_regexp` for `<student>_[late_][<id>_<id>_]<notebook>[-<n>].ipynb`.

    zip_collect matches it against the absolute path. Spelling out the notebook
    names lets the (lazy) student id contain `_`.
    """
    names = "|".join(re.escape(Path(nb).stem) for nb in sorted(notebooks))
    return (
        # Not macOS resource forks (`__MACOSX/._name`), which zip tools add.
        r"^(?!.*/__MACOSX/).*/(?P<student_id>[^/.][^/]*?)(?:_late)?(?:_\d+_\d+)?"
        rf"_(?P<file_id>{names})(?:-\d+)?\.ipynb$"
    )


def stage(
    path: Path,
    assignment: str,
    root: Path,
    config: Config,
    refused: dict[str, list[str]] | None = None,
) -> list[str]:
    """Copies the submissions at `path` into `root/submitted`; returns student ids.

    `refused`, if given, gets each student's reasons to fail (links, special files).
    """
    refused = {} if refused is None else refused
    if not path.exists():
        raise InstructorError(f"submissions not found: {path}")
    submitted = root / "submitted"
    if path.is_dir() and any(path.glob(f"*/{assignment}")):
        # Every top-level folder is a student: one without the assignment folder
        # is staged empty and so flagged, not dropped.
        for student_dir in sorted(p for p in path.iterdir() if p.is_dir()):
            if student_dir.name in NOT_STUDENTS or student_dir.name.startswith("."):
                continue
            if not STUDENT_ID.match(student_dir.name):
                raise InstructorError(f"not a usable student id: {student_dir.name!r}")
            dest = submitted / student_dir.name / assignment
            if student_dir.is_symlink():
                dest.mkdir(parents=True)
                refused[student_dir.name] = [_refusal([student_dir.name])]
            elif (student_dir / assignment).is_dir():
                dest.parent.mkdir(parents=True)
                bad = copy_plain(student_dir, dest.parent, only=assignment)
                if bad:
                    refused[student_dir.name] = [_refusal(bad)]
                dest.mkdir(exist_ok=True)
            else:
                dest.mkdir(parents=True)
    elif path.is_dir() or path.suffix == ".zip":
        _zip_collect(path, assignment, root, config, refused)
    else:
        raise InstructorError(
            f"{path}: expected a .zip or a folder (LMS download or "
            f"<student>/{assignment}/*.ipynb)"
        )
    students = sorted(p.name for p in submitted.iterdir()) if submitted.exists() else []
    if not students:
        raise InstructorError(f"no submissions for {assignment!r} found in {path}")
    return students


def copy_plain(src: Path, dest: Path, only: str | None = None) -> list[str]:
    """Copies plain files and folders from `src` into `dest`, following no link.

    Returns the paths (relative to `src`) of what was left out: links and special
    files. `only` limits the copy to one entry of `src`.
    """
    left_out = []
    with os.scandir(src) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if only is not None and entry.name != only:
                continue
            target = dest / entry.name
            if entry.is_symlink():
                left_out.append(entry.name)
            elif entry.is_dir(follow_symlinks=False):
                target.mkdir(exist_ok=True)
                inner = copy_plain(Path(entry.path), target)
                left_out += [f"{entry.name}/{name}" for name in inner]
            elif entry.is_file(follow_symlinks=False):
                shutil.copyfile(entry.path, target, follow_symlinks=False)
            else:
                left_out.append(entry.name)
    return left_out


def _refusal(paths: list[str]) -> str:
    shown = ", ".join(paths[:5]) + (" ..." if len(paths) > 5 else "")
    return f"links or special files are not accepted (nothing was followed): {shown}"


def _zip_collect(
    path: Path,
    assignment: str,
    root: Path,
    config: Config,
    refused: dict[str, list[str]],
) -> None:
    archive = root / "downloaded" / assignment / "archive"
    archive.mkdir(parents=True)
    bad = []
    if path.is_dir():
        bad = copy_plain(path, archive)
    else:
        shutil.copy(path, archive)
    config = deepcopy(config)
    if not config.FileNameCollectorPlugin.get("named_regexp"):
        released = root / "exercises" / assignment
        notebooks = [nb.name for nb in released.glob("*.ipynb")]
        config.FileNameCollectorPlugin.named_regexp = zip_regexp(notebooks)
    app = ZipCollectApp(config=config)
    app.coursedir = CourseDirectory(config=config)
    app.coursedir.assignment_id = assignment
    app.force = True
    app.start()
    # Files zip_collect skipped are staged as their own student, named after the
    # file, so the pre-checks flag them (renamed notebook) instead of losing them.
    regexp = re.compile(app.collector_plugin_inst.named_regexp)
    extracted = root / "downloaded" / assignment / "extracted"
    for file in sorted(extracted.rglob("*.ipynb")):
        if NOT_STUDENTS & set(file.parts) or ".ipynb_checkpoints" in file.parts:
            continue
        match = regexp.match(str(file))
        if match is not None and (root / "submitted" / match["student_id"]).is_dir():
            continue
        student = match["student_id"] if match else file.stem
        if not STUDENT_ID.match(student):
            raise InstructorError(f"not a usable student id: {student!r} ({file})")
        dest = root / "submitted" / student / assignment
        dest.mkdir(parents=True, exist_ok=True)
        if not (dest / file.name).exists():
            shutil.copy(file, dest / file.name)
    # A refused link still names its student (or becomes one, like a stray file).
    for rel in bad:
        match = regexp.match(str(extracted / rel))
        student = match["student_id"] if match else Path(rel).name.split(".")[0]
        if not STUDENT_ID.match(student):
            raise InstructorError(f"not a usable student id: {student!r} ({rel})")
        (root / "submitted" / student / assignment).mkdir(parents=True, exist_ok=True)
        refused.setdefault(student, []).append(_refusal([rel]))
