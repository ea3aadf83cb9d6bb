"""Feedback preprocessor: hides what hidden tests print or raise.

`ClearHiddenTests` removes hidden test *source* only; a failing hidden assert still
shows its line in the traceback, and prints show expected values. This runs before
it (while the markers are still there) and reduces such cells' outputs to the
error's name.
"""

from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from nbformat.v4 import new_output
from traitlets import Bool

MARKER = "BEGIN HIDDEN TESTS"


class RedactHiddenOutputs(Preprocessor):
    """Replaces the outputs of cells with hidden tests by a one-line summary."""

    enabled = Bool(True)  # nbgrader registers preprocessors without enabling them

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict, index: int
    ) -> tuple[NotebookNode, dict]:
        if cell.cell_type != "code" or MARKER not in cell.source:
            return cell, resources
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        cell.outputs = []
        if errors:
            text = f"{errors[0].ename} (details hidden: this cell has hidden tests)\n"
            cell.outputs.append(new_output("stream", name="stderr", text=text))
        return cell, resources
