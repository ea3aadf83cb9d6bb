"""One student, one process: `python -m grading.worker SPEC.json RESULT.json`.

The grader starts this per student (in parallel for disjoint students), each with
its own copy of the gradebook, so a crash or kill affects one submission only.
Autograde and feedback run through nbgrader's own API in this process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from nbgrader.apps import NbGraderAPI

from .course import nbgrader_config


def grade(spec: dict) -> dict:
    """Autogrades and writes feedback for one student; returns nbgrader's logs."""
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


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[1]).read_text())
    Path(argv[2]).write_text(json.dumps(grade(spec)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
