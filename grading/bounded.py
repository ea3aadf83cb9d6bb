"""nbgrader's `Execute` with a bound on what a submission's outputs may hold.

The kernel is sandboxed, but its outputs are not: nbgrader keeps them in the grader's
memory and writes them into the autograded notebook, the class course and the
feedback. A submission printing gigabytes would fill the instructor's disk. Past
`max_output_bytes` per notebook, new outputs become short markers; what decides a
grade is never dropped: nbgrader scores a test cell 0 on an `error` or any `stderr`
output and reads partial credit from `execute_result`, so those are kept (their
text shortened) and one marker per stream and cell stays in place.
"""

from __future__ import annotations

import json

import nbformat
from nbgrader.preprocessors import Execute
from traitlets import Integer

TRUNCATED = "[grader: output dropped, the notebook's outputs exceeded the limit]"


class BoundedExecute(Execute):
    """`Execute` that caps the size of a notebook's outputs."""

    max_output_bytes = Integer(
        4 << 20, help="Bytes of stream and display output kept per notebook."
    ).tag(config=True)
    max_value_bytes = Integer(
        64 << 10, help="Bytes kept of each error or execute_result."
    ).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._used = 0
        return super().preprocess(nb, resources, km)

    def output(self, outs, msg, display_id, cell_index):
        out = super().output(outs, msg, display_id, cell_index)
        if out is None:
            return None
        if out.output_type in ("error", "execute_result"):
            _shorten(out, self.max_value_bytes)
            return out
        size = len(json.dumps(out))
        if self._used + size <= self.max_output_bytes:
            self._used += size
            return out
        marker = _marker(out)
        previous = outs[-2] if len(outs) > 1 else None
        if display_id is None and _same_marker(previous, marker):
            outs.pop()  # one marker per stream in a row is enough
            return None
        out.clear()
        out.update(nbformat.from_dict(marker))
        return out


def autograde_preprocessors(configured: list | None) -> list:
    """nbgrader's autograde steps (or the course's) with `Execute` bounded."""
    from nbgrader.converters import Autograde

    steps = configured or Autograde.class_traits()["autograde_preprocessors"].default()
    names = ("Execute", "nbgrader.preprocessors.Execute")
    return [
        BoundedExecute if step is Execute or step in names else step for step in steps
    ]


def _marker(out) -> dict:
    if out.output_type == "stream":
        return {"output_type": "stream", "name": out.name, "text": TRUNCATED + "\n"}
    return {
        "output_type": "display_data",
        "data": {"text/plain": TRUNCATED},
        "metadata": {},
    }


def _same_marker(previous, marker: dict) -> bool:
    return previous is not None and dict(previous) == marker


def _shorten(out, limit: int) -> None:
    """Cuts an error's or result's text to `limit` bytes, keeping its kind."""
    if out.output_type == "error":
        out.evalue = out.evalue[:limit]
        kept, total = [], 0
        for line in out.traceback:
            total += len(line)
            if total > limit:
                kept.append(TRUNCATED)
                break
            kept.append(line)
        out.traceback = kept
        return
    for mime, value in list(out.data.items()):
        text = value if isinstance(value, str) else json.dumps(value)
        if len(text) > limit:
            out.data[mime] = text[:limit] if mime.startswith("text/") else TRUNCATED
