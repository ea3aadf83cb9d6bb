"""How submissions are read: LMS file names, student ids, nothing dropped."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from grading.collect import stage, zip_regexp
from grading.course import InstructorError, nbgrader_config

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("name", "student", "notebook"),
    [
        ("alice_k_winners.ipynb", "alice", "k_winners"),
        ("mary_ann_k_winners.ipynb", "mary_ann", "k_winners"),
        ("smith_j_12345_67890_k_winners.ipynb", "smith_j", "k_winners"),
        ("bob_late_12346_67891_k_winners.ipynb", "bob", "k_winners"),
        ("bob_12346_67891_k_winners-1.ipynb", "bob", "k_winners"),
        ("x_extra.ipynb", "x", "extra"),
    ],
)
def test_file_names(name, student, notebook):
    match = re.match(zip_regexp(["k_winners.ipynb", "extra.ipynb"]), f"/d/{name}")
    assert match is not None, name
    assert (match["student_id"], match["file_id"]) == (student, notebook)


@pytest.mark.parametrize("name", ["alice_my_work.ipynb", "k_winners.ipynb"])
def test_names_without_a_released_notebook_do_not_parse(name):
    assert re.match(zip_regexp(["k_winners.ipynb"]), f"/d/{name}") is None


def _course(tmp_path: Path) -> tuple[Path, object]:
    root = tmp_path / "course"
    released = root / "exercises" / "k_winners"
    released.mkdir(parents=True)
    (released / "k_winners.ipynb").write_text("{}")
    config = nbgrader_config(REPO, root, f"sqlite:///{tmp_path / 'gb.db'}")
    return root, config


def test_lms_zip_keeps_every_file_as_a_student(tmp_path):
    root, config = _course(tmp_path)
    archive = tmp_path / "lms.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in (
            "mary_ann_k_winners.ipynb",
            "bob_late_1_2_k_winners.ipynb",
            "carol_my_notebook.ipynb",  # renamed: flagged later, never dropped
            "__MACOSX/._mary_ann_k_winners.ipynb",
        ):
            zf.writestr(name, "{}")
    found = stage(archive, "k_winners", root, config)
    assert found == ["bob", "carol_my_notebook", "mary_ann"]
    submitted = root / "submitted"
    assert (submitted / "mary_ann" / "k_winners" / "k_winners.ipynb").is_file()
    assert (submitted / "bob" / "k_winners" / "k_winners.ipynb").is_file()
    carol = submitted / "carol_my_notebook" / "k_winners"
    assert [p.name for p in carol.iterdir()] == ["carol_my_notebook.ipynb"]


def test_folder_layout_takes_ids_with_underscores(tmp_path):
    root, config = _course(tmp_path)
    subs = tmp_path / "subs"
    for student in ("mary_ann", "o'brien", "no_notebook"):
        (subs / student / "k_winners").mkdir(parents=True)
    (subs / "mary_ann" / "k_winners" / "k_winners.ipynb").write_text("{}")
    (subs / ".ipynb_checkpoints").mkdir()
    found = stage(subs, "k_winners", root, config)
    assert found == ["mary_ann", "no_notebook", "o'brien"]


def test_missing_or_empty_submissions_are_instructor_errors(tmp_path):
    root, config = _course(tmp_path)
    with pytest.raises(InstructorError, match="submissions not found"):
        stage(tmp_path / "absent", "k_winners", root, config)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InstructorError, match="expected a .zip or a folder"):
        stage(tmp_path / "notes.txt", "k_winners", root, config)
