"""Long-lived `grading.worker` processes, one per `--workers` slot.

A grading thread borrows an idle worker and hands it one student at a time. A
worker that overruns the submission's time limit, or dies, is killed with its
whole process group and replaced by a fresh one for the next student.
"""

from __future__ import annotations

import os
import queue
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class WorkerProcess:
    """One `python -m grading.worker` process, started on first use."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.env, self.cwd, self.log = env, cwd, log
        self.proc: subprocess.Popen | None = None

    def ask(self, spec: Path, timeout: float) -> str | None:
        """Sends `spec`; returns None when answered, else why there is no answer."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        try:
            self.proc.stdin.write(f"{spec}\n")
            self.proc.stdin.flush()
        except OSError:
            self.stop()
            return "grading process died"
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if not ready:
                continue
            reply = self.proc.stdout.readline()
            if reply.strip() == str(spec):
                return None
            code = self.proc.poll()
            self.stop()
            return f"grading process died (exit {code})"
        self.stop()
        return f"exceeded {timeout:g}s for the whole submission"

    def start(self) -> None:
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "grading.worker"],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                start_new_session=True,  # one killpg ends it and its helpers
            )

    def stop(self) -> None:
        """Ends the process now (its kernels die with it: --die-with-parent)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None

    def close(self) -> None:
        """Lets an idle worker finish (stdin closed), killing it if it lingers."""
        if self.proc is None:
            return
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
            self.proc = None
        except subprocess.TimeoutExpired:
            self.stop()


class WorkerPool:
    """`size` workers, started at once so their imports overlap the grader's set-up.

    `with pool.worker() as w:` lends an idle one to the calling thread.
    """

    def __init__(self, env: dict[str, str], cwd: Path, logs: Path, size: int) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        self._all = [
            WorkerProcess(env, cwd, logs / f"worker-{i}.log") for i in range(size)
        ]
        self._idle: queue.SimpleQueue[WorkerProcess] = queue.SimpleQueue()
        for worker in self._all:
            worker.start()
            self._idle.put(worker)

    @contextmanager
    def worker(self) -> Iterator[WorkerProcess]:
        worker = self._idle.get()
        try:
            yield worker
        finally:
            self._idle.put(worker)

    def close(self) -> None:
        for worker in self._all:
            worker.close()
