"""A grading worker: `python -m grading.worker`, one per `--workers` slot.

It reads one spec path per line on stdin, autogrades and writes feedback for that
student through nbgrader's API (on the student's own gradebook copy), writes the
result JSON the spec names and answers the spec path on its reply channel. One
process serves many students so nbgrader's import (~2 s) is paid once per worker;
a student whose grading kills or hangs the worker costs only that student: the
grader kills it and starts a fresh one for the next.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from nbgrader.apps import NbGraderAPI

from .course import nbgrader_config


def grade(spec: dict) -> dict:
    """Autogrades and writes feedback for one student; returns nbgrader's logs."""
    # The student's kernelspec (sandbox policy) is found through these variables.
    os.environ.update(spec.get("env", {}))
    config = nbgrader_config(Path(spec["course"]), Path(spec["root"]), spec["db_url"])
    # The most specific trait wins, so pin both the class and its parent.
    config.Execute.timeout = config.ExecutePreprocessor.timeout = spec["timeout"]
    if spec.get("kernel_name"):
        config.Execute.kernel_name = spec["kernel_name"]
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = spec["ipc_ip"]
    api = NbGraderAPI(config=config)
    auto = api.autograde(spec["assignment"], spec["student"], force=True, create=True)
    result = {"autograde": auto}
    if auto.get("success"):
        result["feedback"] = api.generate_feedback(
            spec["assignment"], spec["student"], force=True
        )
    return result


def main() -> int:
    # Replies go to a private copy of stdout, and fd 1 becomes the log, so nothing
    # else in this process or its children can write on the reply channel.
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    for line in sys.stdin:
        spec_path = Path(line.strip())
        spec = json.loads(spec_path.read_text())
        try:
            result = grade(spec)
        except Exception as err:  # one student's error must not end the worker
            result = {"error": f"grading error: {type(err).__name__}: {err}"}
        Path(spec["result"]).write_text(json.dumps(result))
        replies.write(f"{spec_path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
