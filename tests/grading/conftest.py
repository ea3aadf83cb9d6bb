"""Shared, expensive set-up for the grading tests: each grading run happens once.

Everything is real: nbgrader, kernels, bubblewrap. The fixture course is copied to
a temporary folder so `release` and the runs never touch the repository.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from . import students

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "grading"
REPO = Path(__file__).resolve().parents[2]


def grading(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """Runs `python -m grading ARGS` from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "grading", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        **kwargs,
    )


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    with path.open() as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="session")
def course(tmp_path_factory) -> Path:
    """The fixture course, released by `python -m grading release`."""
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(FIXTURE, root, dirs_exist_ok=True)
    done = grading("--course", str(root), "release")
    assert done.returncode == 0, done.stderr
    return root


@pytest.fixture(scope="session")
def release_nb(course) -> Path:
    return course / "exercises" / students.NAME / f"{students.NAME}.ipynb"


@pytest.fixture(scope="session")
def clean_runs(course, release_nb, tmp_path_factory):
    """The clean students graded twice: from an LMS zip serially, from a folder
    with two workers. Returns both output folders."""
    base = tmp_path_factory.mktemp("clean")
    folder = base / "subs"
    students.clean_set(release_nb, folder)
    archive = base / "lms.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for nb in folder.rglob("*.ipynb"):
            zf.write(nb, f"{nb.parts[-3]}_{nb.name}")  # <student>_<notebook>
    outs = []
    for subs, workers in ((archive, "1"), (folder, "2")):
        out = base / f"out{workers}"
        done = grading(
            "--course", str(course), "run", students.NAME, "--submissions",
            str(subs), "--out", str(out), "--workers", workers, "--timeout", "20",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        outs.append(out)
    return outs


@pytest.fixture(scope="session")
def hostile_run(course, release_nb, tmp_path_factory):
    """Every hostile student beside the clean ones, in one sandboxed run."""
    base = tmp_path_factory.mktemp("hostile")
    out = base / "out"
    students.hostile_set(release_nb, base / "subs", course, out)
    before = digest(course / "solutions"), digest(FIXTURE)
    done = grading(
        "--course", str(course), "run", students.NAME, "--submissions",
        str(base / "subs"), "--out", str(out), "--workers", "2", "--timeout", "6",
        "--cpu-seconds", "9", "--memory-mb", "1536", "--nproc", "64", "--keep",
    )  # fmt: skip
    after = digest(course / "solutions"), digest(FIXTURE)
    # This run's cgroups and mounts, from its kept policies: other grading runs
    # may share the machine.
    scratch = Path(re.search(r"scratch course kept in (\S+)", done.stderr)[1])
    policies = [json.loads(p.read_text()) for p in scratch.glob("ks/*/policy.json")]
    left = [
        path
        for policy in policies
        for path in Path("/sys/fs/cgroup").glob(f"*/**/{policy['cgroup']}")
    ]
    mounts = Path("/proc/mounts").read_text()
    left += [p["ipc_dir"] for p in policies if f" {p['ipc_dir']} " in mounts]
    shutil.rmtree(scratch, ignore_errors=True)
    return done, out, before, after, left
