"""`python -m grading run` on well-behaved submissions, and instructor errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import students
from .conftest import grading, read_csv


def test_scores_of_clean_submissions(clean_runs):
    rows = read_csv(clean_runs[0] / f"{students.NAME}.csv")
    got = {s: (r["score"], r["max_score"], r["status"]) for s, r in rows.items()}
    assert got == {
        "solution": ("7", "9", "graded"),
        "untouched": ("0", "9", "graded"),
        "partial": ("3.5", "9", "graded"),
    }
    assert "written answers" in rows["solution"]["reason"]


def test_two_workers_and_folder_input_give_the_serial_zip_csv(clean_runs):
    serial, parallel = (out / f"{students.NAME}.csv" for out in clean_runs)
    assert serial.read_text() == parallel.read_text()


def test_feedback_has_no_hidden_tests(clean_runs):
    pages = sorted((clean_runs[1] / "feedback").rglob("*.html"))
    assert [p.relative_to(clean_runs[1]).parts[1] for p in pages] == [
        "partial",
        "solution",
        "untouched",
    ]
    for page in pages:
        html = page.read_text()
        assert "soft_threshold" in html  # the visible tests are there
        for canary in ("HIDDEN TESTS", *students.HIDDEN_CANARIES):
            assert canary not in html, (page, canary)


def test_missing_assignment_and_submissions(course, tmp_path):
    done = grading("--course", str(course), "run", "nope", "--submissions",
                   str(tmp_path), "--out", str(tmp_path / "o"))  # fmt: skip
    assert done.returncode == 2 and "no assignment 'nope'" in done.stderr
    done = grading("--course", str(course), "run", students.NAME, "--submissions",
                   str(tmp_path / "absent"), "--out", str(tmp_path / "o"))  # fmt: skip
    assert done.returncode == 2 and "submissions not found" in done.stderr


def test_refuses_without_sandbox_unless_told(course, tmp_path):
    env = dict(os.environ, PATH=str(Path(sys.executable).parent))  # no bwrap here
    done = grading("--course", str(course), "run", students.NAME, "--submissions",
                   str(tmp_path), "--out", str(tmp_path / "o"), env=env)  # fmt: skip
    assert done.returncode == 2
    assert "bwrap" in done.stderr and "--no-sandbox" in done.stderr
