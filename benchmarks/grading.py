"""Rows: `python -m grading run` against plain nbgrader, and 2 workers against 1.

Both sides grade the same class: copies of one course assignment's solution and
untouched release, `<student>/<ASSIGNMENT>/<notebook>.ipynb`. Each side is a fresh
command-line process, as an instructor would run it, so start-up is counted.
The plain-nbgrader side is one `nbgrader autograde` over the whole class in an
unsandboxed course whose gradebook was made beforehand (untimed); the grading
side does all of its own work: scratch course, pre-checks, sandboxed kernels and
feedback. `nbgrader autograde` + `generate_feedback` is timed too, in the notes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks._timing import NotAvailable, Row, Spec

REPO = Path(__file__).resolve().parent.parent
ASSIGNMENT = "sparse_autoencoder"  # Keras on TensorFlow, like most of the course


def _class(folder: Path, n: int) -> None:
    """`n` students: alternately the solution and the untouched release."""
    sources = (REPO / "solutions" / ASSIGNMENT, REPO / "exercises" / ASSIGNMENT)
    for i in range(n):
        dest = folder / f"student{i:02d}" / ASSIGNMENT
        dest.mkdir(parents=True)
        for nb in sources[i % 2].glob("*.ipynb"):
            shutil.copy(nb, dest / nb.name)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


def _timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        cmd, cwd=cwd, env=_env(), capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        tail = (done.stderr or done.stdout)[-600:]
        raise RuntimeError(f"{' '.join(cmd[:4])} failed: {tail}")
    return seconds


def _plain_course(base: Path, submissions: Path) -> Path:
    """An nbgrader course with the assignment generated and the class submitted."""
    course = base / "plain"
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, course / "source" / ASSIGNMENT)
    shutil.copytree(submissions, course / "submitted")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{course / 'gradebook.db'}'\n"
        "c.ExecutePreprocessor.timeout = 60\n"
    )
    nbgrader = [sys.executable, "-m", "nbgrader"]
    _timed([*nbgrader, "generate_assignment", ASSIGNMENT, "--force"], course)
    return course


def _grading(submissions: Path, out: Path, workers: int) -> list[str]:
    shutil.rmtree(out, ignore_errors=True)
    return [
        sys.executable, "-m", "grading", "run", ASSIGNMENT, "--submissions",
        str(submissions), "--out", str(out), "--workers", str(workers),
    ]  # fmt: skip


@contextmanager
def _graded_class(quick: bool) -> Iterator[tuple[Path, int, int]]:
    """A temporary folder with the class in `subs/`; (folder, students, rounds)."""
    if shutil.which("bwrap") is None:
        raise NotAvailable("bubblewrap is not installed: no sandbox to time")
    n, rounds = (4, 1) if quick else (8, 2)
    with tempfile.TemporaryDirectory(prefix="skbench-") as tmp:
        _class(Path(tmp) / "subs", n)
        yield Path(tmp), n, rounds


def _measure_sandbox(row: Row, quick: bool) -> None:
    with _graded_class(quick) as (base, n, rounds):
        course = _plain_course(base, base / "subs")
        nbgrader = [sys.executable, "-m", "nbgrader"]
        autograde = [*nbgrader, "autograde", ASSIGNMENT, "--force"]
        feedback = [*nbgrader, "generate_feedback", ASSIGNMENT, "--force"]
        ours, plain, plain_feedback = [], [], []
        for r in range(rounds):
            # Alternate which side goes first so neither always follows the other.
            order = ("ours", "plain") if r % 2 == 0 else ("plain", "ours")
            for side in order:
                if side == "ours":
                    cmd = _grading(base / "subs", base / "out", 1)
                    ours.append(_timed(cmd, REPO))
                else:
                    plain.append(_timed(autograde, course))
                    plain_feedback.append(plain[-1] + _timed(feedback, course))
    row.sparsekit, row.baseline = min(ours), min(plain)
    row.notes = {
        "assignment": ASSIGNMENT,
        "students": n,
        "seconds": {"grading_run": ours, "nbgrader_autograde": plain},
        "nbgrader_autograde_plus_feedback_s": min(plain_feedback),
        "ratio_vs_autograde_plus_feedback": min(ours) / min(plain_feedback),
    }


def _machine_ceiling(base: Path) -> float:
    """Speed-up of two plain notebook executions at once over one after the other:
    what the machine itself allows `--workers 2` (SMT siblings share a core)."""
    notebook = REPO / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    cmd = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook"]
    cmd += ["--execute", str(notebook), "--output-dir", str(base / "ceiling")]

    def start(i: int) -> subprocess.Popen:
        return subprocess.Popen(
            [*cmd, "--output", f"run{i}.ipynb"],
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    began = time.perf_counter()
    start(0).wait()
    one = time.perf_counter() - began
    began = time.perf_counter()
    pair = [start(1), start(2)]
    for proc in pair:
        proc.wait()
    return 2 * one / (time.perf_counter() - began)


def _measure_workers(row: Row, quick: bool) -> None:
    with _graded_class(quick) as (base, n, rounds):
        times: dict[int, list[float]] = {1: [], 2: []}
        for r in range(rounds):
            for workers in (2, 1) if r % 2 == 0 else (1, 2):
                cmd = _grading(base / "subs", base / f"out{workers}", workers)
                times[workers].append(_timed(cmd, REPO))
        same = (base / "out1" / f"{ASSIGNMENT}.csv").read_bytes() == (
            base / "out2" / f"{ASSIGNMENT}.csv"
        ).read_bytes()
        ceiling = _machine_ceiling(base)
    row.sparsekit, row.baseline = min(times[2]), min(times[1])
    row.notes = {
        "assignment": ASSIGNMENT,
        "students": n,
        "cpus": os.cpu_count(),
        "seconds": {"workers_2": times[2], "workers_1": times[1]},
        "same_csv": same,
        "two_plain_notebooks_at_once_speedup": ceiling,
    }
    if not same:
        raise RuntimeError("--workers 2 wrote another CSV than --workers 1")


SPECS = [
    Spec(
        "grading-sandbox",
        Row(
            name=f"grading run, sandboxed, 1 worker ({ASSIGNMENT})",
            baseline_name="plain nbgrader autograde",
            kind="time",
            target=1.25,
        ),
        _measure_sandbox,
    ),
    Spec(
        "grading-workers",
        Row(
            name="grading run --workers 2",
            baseline_name="--workers 1",
            kind="speedup",
            target=1.7,
        ),
        _measure_workers,
    ),
]
