"""`python -m grading run`: sandboxed, parallel autograding of one assignment.

Everything happens in a scratch course under /tmp (short: unix-socket paths must
stay < 108 bytes): the source is copied in, `generate_assignment` builds the master
gradebook, and each student is autograded by one of N worker processes (pool.py)
on its own copy of that gradebook. Copies, not one shared SQLite file: no locking,
a killed worker cannot damage anyone else's grades, and the result of a student
does not depend on who ran beside it, so `--workers N` gives the CSV of a serial
run. Finished students are then copied into the class course `OUT/course/`
(classbook.py), the one gradebook the instructor sees.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.apps import NbGraderAPI
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from .checks import check_submission
from .classbook import ClassCourse, exclusive
from .collect import stage
from .course import RELEASE, SOURCE, InstructorError, check_assignment, nbgrader_config
from .pool import WorkerPool
from .results import FAILED, Row, make_row, max_score, write_csv, write_failure_page
from .sandbox import KERNEL_NAME, Limits, Sandbox, sandbox_problem

PACKAGE_PARENT = Path(__file__).resolve().parent.parent


@dataclass
class Options:
    """What `run` was asked to do."""

    assignment: str
    submissions: Path
    out: Path
    course: Path
    workers: int = 1
    timeout: int = 60
    sandbox: bool = True
    limits: Limits = field(default_factory=Limits)
    submission_timeout: int | None = None  # whole submission; default from timeout
    keep: bool = False


def run(opts: Options, console: Console | None = None) -> list[Row]:
    """Grades every submission; raises InstructorError for instructor-side errors."""
    console = console or Console(stderr=True)
    source = check_assignment(opts.course, opts.assignment)
    if opts.workers < 1 or opts.timeout < 1:
        raise InstructorError("--workers and --timeout must be positive")
    if opts.sandbox and (problem := sandbox_problem()):
        raise InstructorError(f"cannot sandbox student code: {problem}. {_NO_SANDBOX}")
    scratch = Path(tempfile.mkdtemp(prefix="skg-", dir="/tmp"))
    try:
        with exclusive(opts.out):
            return _run(opts, source, scratch, console)
    finally:
        if opts.keep:
            console.print(f"scratch course kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


_NO_SANDBOX = "Pass --no-sandbox to grade without one (trusted submissions only)."


def _run(opts: Options, source: Path, scratch: Path, console: Console) -> list[Row]:
    root = scratch / "c"
    shutil.copytree(source, root / SOURCE / opts.assignment)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(scratch / "jupyter-config"))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(PACKAGE_PARENT)
    pool = WorkerPool(env, PACKAGE_PARENT, scratch / "logs", opts.workers)
    try:
        return _grade_all(opts, source, scratch, root, pool, console)
    finally:
        pool.close()


def _grade_all(opts, source, scratch, root, pool, console) -> list[Row]:
    sandbox = Sandbox(scratch, opts.limits) if opts.sandbox else None
    # The workers (importing nbgrader) and the sandbox probe run in processes of
    # their own while this one builds the scratch and class courses.
    with ThreadPoolExecutor(max_workers=1) as early:
        probe = early.submit(sandbox.self_test, root) if sandbox else None
        db_url = f"sqlite:///{scratch / 'gradebook.db'}"
        config = nbgrader_config(opts.course, root, db_url)
        made = NbGraderAPI(config=config).generate_assignment(opts.assignment)
        if not made.get("success"):
            log = made.get("log", "")
            raise InstructorError(f"generate_assignment failed:\n{log}")
        refused: dict[str, list[str]] = {}  # links, special files (collect.py)
        students = stage(opts.submissions, opts.assignment, root, config, refused)
        classbook = ClassCourse(opts.out, opts.course, opts.assignment)
        classbook.prepare_in_background(source)
        if probe is not None and (problem := probe.result()):
            raise InstructorError(
                f"cannot sandbox student code: {problem}. {_NO_SANDBOX}"
            )
        if sandbox is not None and sandbox.import_problem:
            raise InstructorError(f"refusing to grade: {sandbox.import_problem}")
        if sandbox is not None and sandbox.warning:
            console.print(f"[yellow]warning:[/yellow] {sandbox.warning}")
    total = max_score(db_url, opts.assignment)
    grader = _Grader(opts, root, scratch, sandbox, total, classbook, pool)
    grader.refused = refused
    rows = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task(f"grading {opts.assignment}", total=len(students))
        with ThreadPoolExecutor(max_workers=opts.workers) as threads:
            futures = [
                threads.submit(grader.grade, slot, student)
                for slot, student in enumerate(students)
            ]
            for future in as_completed(futures):
                rows.append(future.result())
                progress.advance(task)
    write_csv(rows, opts.out / f"{opts.assignment}.csv")
    _summary(rows, opts, console)
    return sorted(rows, key=lambda r: r.student_id)


class _Grader:
    """Grades one student per call; safe to call from several threads."""

    def __init__(self, opts, root, scratch, sandbox, total, classbook, pool) -> None:
        self.opts, self.root, self.scratch = opts, root, scratch
        self.sandbox, self.total, self.classbook = sandbox, total, classbook
        self.pool = pool
        self.refused: dict[str, list[str]] = {}
        self.wall = opts.submission_timeout or 10 * opts.timeout + 60

    def grade(self, slot: int, student: str) -> Row:
        a = self.opts.assignment
        started = time.monotonic()
        # Extra files leave the kernel's folder (first on sys.path); the scan
        # counts against the submission's time limit.
        findings = check_submission(
            self.root / "submitted" / student / a,
            self.root / RELEASE / a,
            set_aside=self.scratch / "set-aside" / student,
            seconds=self.wall,
        )
        findings.failed += self.refused.get(student, [])
        db = self.scratch / "gb" / f"{slot}.db"
        db.parent.mkdir(exist_ok=True)
        shutil.copyfile(self.scratch / "gradebook.db", db)
        db_url = f"sqlite:///{db}"
        outcome = None
        if not findings.failed:
            left = self.wall - (time.monotonic() - started)
            outcome = self._autograde(slot, student, db_url, max(left, 1.0))
        row = make_row(
            student,
            a,
            db_url,
            self.total,
            findings,
            outcome,
            self.root / "autograded" / student / a,
        )
        if row.status == FAILED:
            self.classbook.forget(student)
        else:
            self.classbook.record(student, db_url, self.root)
        self._copy_feedback(row)
        return row

    def _autograde(self, slot: int, student: str, db_url: str, wall: float) -> dict:
        work = self.scratch / "w" / str(slot)
        work.mkdir(parents=True)
        spec = {
            "course": str(self.opts.course),
            "root": str(self.root),
            "db_url": db_url,
            "assignment": self.opts.assignment,
            "student": student,
            "timeout": self.opts.timeout,
            "result": str(work / "result.json"),
        }
        if self.sandbox is not None:
            self.sandbox.prepare(slot)
            spec.update(kernel_name=KERNEL_NAME, ipc_ip=self.sandbox.ipc_ip(slot))
            spec["env"] = self.sandbox.kernel_env(slot)
        (work / "spec.json").write_text(json.dumps(spec))
        guard = self.sandbox.cpu_guard(slot) if self.sandbox else nullcontext()
        try:
            with self.pool.worker() as worker, guard:
                problem = worker.ask(work / "spec.json", wall)
        finally:
            if self.sandbox is not None:
                self.sandbox.cleanup(slot)
        if getattr(guard, "exceeded", False):
            seconds = self.opts.limits.cpu_seconds
            return {
                "error": f"used more than {seconds}s of CPU time in one kernel "
                "(all its processes together); it was stopped"
            }
        if problem is not None:
            return {"error": problem}
        return json.loads((work / "result.json").read_text())

    def _copy_feedback(self, row: Row) -> None:
        a = self.opts.assignment
        dest = self.opts.out / "feedback" / row.student_id / a
        shutil.rmtree(dest, ignore_errors=True)  # never leave last run's feedback
        made = self.root / "feedback" / row.student_id / a
        if row.status == FAILED:
            write_failure_page(row, a, dest)
        elif made.is_dir():
            shutil.copytree(made, dest, ignore=shutil.ignore_patterns("timestamp.txt"))


def _summary(rows: list[Row], opts: Options, console: Console) -> None:
    counts = {s: sum(r.status == s for r in rows) for s in ("graded", "needs_manual")}
    counts["failed"] = len(rows) - sum(counts.values())
    table = Table(title=f"{opts.assignment}: {len(rows)} submissions")
    for column in ("student", "score", "status", "reason"):
        table.add_column(column, overflow="fold")
    for row in sorted(rows, key=lambda r: (r.status == "graded", r.student_id)):
        cells = row.cells()
        table.add_row(cells[0], f"{cells[1] or '-'} / {cells[2]}", *cells[3:])
    console.print(table)
    console.print(", ".join(f"{n} {s}" for s, n in counts.items()))
    console.print(f"wrote {opts.out / (opts.assignment + '.csv')}")
