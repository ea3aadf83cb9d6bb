"""Command line: `python -m grading release|run|export ...` (see grading/README.md)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console

from .course import REPO_ROOT, InstructorError
from .sandbox import GiB, Limits


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grading", description=__doc__)
    parser.add_argument(
        "--course", type=Path, default=REPO_ROOT, help="course root (default: repo)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rel = sub.add_parser(
        "release", help="solutions/ -> exercises/ (generate_assignment)"
    )
    rel.add_argument("assignments", nargs="*", metavar="ASSIGNMENT")
    run = sub.add_parser("run", help="autograde submissions in a sandbox")
    run.add_argument("assignment", metavar="ASSIGNMENT")
    run.add_argument("--submissions", type=Path, required=True, metavar="PATH")
    run.add_argument("--out", type=Path, required=True, metavar="DIR")
    run.add_argument("--workers", type=int, default=1, metavar="N")
    run.add_argument("--timeout", type=int, default=60, metavar="S", help="per cell")
    run.add_argument(
        "--submission-timeout", type=int, metavar="S", help="whole submission"
    )
    run.add_argument("--memory-mb", type=int, default=4 * GiB >> 20)
    run.add_argument("--cpu-seconds", type=int, help="per kernel (default 10x timeout)")
    run.add_argument("--nproc", type=int, default=Limits.nproc, help="tasks per kernel")
    run.add_argument("--no-sandbox", action="store_true", help="trusted code only")
    run.add_argument("--keep", action="store_true", help="keep the scratch course")
    exp = sub.add_parser(
        "export", help="after manual grading: refresh the CSV and feedback from DIR"
    )
    exp.add_argument("assignment", metavar="ASSIGNMENT")
    exp.add_argument("--out", type=Path, required=True, metavar="DIR")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command; returns 0 when every submission was graded or flagged."""
    args = _parser().parse_args(argv)
    console = Console(stderr=True)
    # nbgrader calls `alembic` (gradebook creation) from PATH.
    os.environ["PATH"] = (
        f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    try:
        if args.command == "release":
            from .release import release

            for name in release(args.course.resolve(), args.assignments):
                console.print(f"released {name}")
            return 0
        if args.command == "export":
            from .export import export

            export(args.course.resolve(), args.out.resolve(), args.assignment, console)
            return 0
        from .run import Options, run

        limits = Limits(
            memory_bytes=args.memory_mb << 20,
            cpu_seconds=args.cpu_seconds or 10 * args.timeout,
            nproc=args.nproc,
            # Parallel kernels share the cores instead of each claiming all.
            blas_threads=max(1, (os.cpu_count() or 1) // max(1, args.workers)),
            # A CPU quota per kernel (cgroups): a student's processes, however
            # many, never take a classmate's cores.
            cpu_cores=max(1, (os.cpu_count() or 1) // max(1, args.workers)),
        )
        run(
            Options(
                assignment=args.assignment,
                submissions=args.submissions.resolve(),
                out=args.out.resolve(),
                course=args.course.resolve(),
                workers=args.workers,
                timeout=args.timeout,
                sandbox=not args.no_sandbox,
                limits=limits,
                submission_timeout=args.submission_timeout,
                keep=args.keep,
            ),
            console,
        )
        return 0
    except InstructorError as err:
        console.print(f"[red]error:[/red] {err}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
