"""nbgrader's `Execute` with bounds on what a submission's outputs may hold and see.

The kernel is sandboxed, but its outputs are not: nbgrader keeps them in the grader's
memory and writes them into the autograded notebook, the class course and the
feedback. A submission printing gigabytes would fill the instructor's disk. Past
`max_output_bytes` or `max_outputs` per notebook (every kind of output counts, and
so do display updates), new outputs become short markers; what decides a grade is
never dropped: nbgrader scores a test cell 0 on an `error` or any `stderr` output
and reads partial credit from `execute_result`, so those keep their place, cut
short, at most one marker of each kind per cell once the notebook is over budget.

Hidden tests run in the student's kernel, so this also keeps their source out of
reach of the student's code where the kernel would hand it over: cells with hidden
tests run without history (not in `In`, `_ih`, `_i*` or the history database), and
once the first of them has started, display updates no longer reach earlier cells
(whose outputs the feedback shows; later ones it hides, see redact.py). Widget
messages are ignored: their state is unbounded and nothing is graded from it.
"""

from __future__ import annotations

import json

import nbformat
from nbformat.v4 import output_from_msg
from nbgrader.preprocessors import Execute
from traitlets import Integer

from .redact import MARKER

TRUNCATED = "[grader: output dropped, the notebook's outputs exceeded the limit]"
_SHORT = 256  # what is left of a grade-deciding output once over budget


class BoundedExecute(Execute):
    """`Execute` that caps the size of a notebook's outputs."""

    max_output_bytes = Integer(
        4 << 20, help="Bytes of output (display updates included) kept per notebook."
    ).tag(config=True)
    max_outputs = Integer(2000, help="Outputs kept per notebook.").tag(config=True)
    max_value_bytes = Integer(
        64 << 10, help="Bytes kept of each error or execute_result."
    ).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._used = self._count = 0
        self._hidden_from: int | None = None
        self._short: dict = {}  # (cell, output type) -> its over-budget output
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        hidden = cell.cell_type == "code" and MARKER in cell.source
        if hidden and self._hidden_from is None:
            self._hidden_from = index
        self._check_assign_resources(resources)
        # Without history the student's code, which the hidden test calls, cannot
        # read the test's source from `In[-1]`, `_ih`, `_i` or the history.
        cell = self.execute_cell(cell, index, store_history=not hidden)
        return cell, self.resources

    def output(self, outs, msg, display_id, cell_index):
        out = super().output(outs, msg, display_id, cell_index)
        if out is None:
            return None
        if out.output_type in ("error", "execute_result"):
            _shorten(out, self.max_value_bytes)
        if self._take(len(json.dumps(out))):
            return out
        if out.output_type in ("error", "execute_result"):
            _shorten(out, _SHORT)
            # Over budget, one result per cell (the latest) and one error suffice.
            key = (cell_index, out.output_type)
            earlier = self._short.get(key)
            if any(o is earlier for o in outs[:-1]):
                if out.output_type == "error":
                    return self._drop(outs, display_id, cell_index)
                outs.remove(earlier)
            self._short[key] = out
            return out
        marker = _marker(out)
        if any(dict(o) == marker for o in outs[:-1]):
            return self._drop(outs, display_id, cell_index)  # one marker per kind
        out.clear()
        out.update(nbformat.from_dict(marker))
        return out

    def _drop(self, outs, display_id, cell_index) -> None:
        """Takes the output just appended back out (and its display id entry)."""
        outs.pop()
        if display_id:
            indices = self._display_id_map.get(display_id, {}).get(cell_index, [])
            if len(outs) in indices:
                indices.remove(len(outs))
        return None

    def _take(self, size: int) -> bool:
        """Charges one output of `size` bytes; False once over a budget."""
        if self._used + size > self.max_output_bytes or self._count >= self.max_outputs:
            return False
        self._used += size
        self._count += 1
        return True

    def _update_display_id(self, display_id, msg):
        """nbclient's display update, charged to the budget, not reaching back
        past the first hidden test once it has started."""
        cells = self._display_id_map.get(display_id, {})
        header = {**msg["header"], "msg_type": "display_data"}
        try:
            out = output_from_msg({**msg, "header": header})
        except ValueError:
            return
        size = len(json.dumps(out))
        for cell_index, indices in cells.items():
            if self._hidden_from is not None and cell_index < self._hidden_from:
                continue
            outputs = self.nb.cells[cell_index].outputs
            for i in indices:
                if i >= len(outputs) or "data" not in outputs[i]:
                    continue
                if self._take(size):
                    outputs[i]["data"], outputs[i]["metadata"] = out.data, out.metadata
                else:
                    outputs[i]["data"] = {"text/plain": TRUNCATED}
                    outputs[i]["metadata"] = {}

    def handle_comm_msg(self, outs, msg, cell_index):
        return None  # no widget state or Output-widget capture: unbounded


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


def _shorten(out, limit: int) -> None:
    """Cuts an error's or result's text to `limit` bytes, keeping its kind."""
    if out.output_type == "error":
        out.ename = out.ename[:limit]
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
    if len(json.dumps(out.get("metadata", {}))) > limit:
        out.metadata = {}
