"""A check that errors still surface in the student's kernel after their code ran.

nbgrader scores a test cell by whether it shows an error, in the kernel the
student's code has already run in. Code that stops errors from being reported (an
IPython input transformer that empties later cells, a patched `run_cell` or
`showtraceback`, ...) would turn every failing test into full points, and an
obfuscated version gets past the static scan in checks.py. So a cell that must
fail, with a token drawn for this run, is appended after everything else
(`AddCanary`, before execution) and taken out again afterwards (`CheckCanary`, the
last autograde step), which records in the notebook's metadata whether it failed
as it must. It never reaches the feedback, and it earns or costs no points.
"""

from __future__ import annotations

import secrets

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

METADATA_KEY = "sk_grading"
TAMPERED = "tampered"


class AddCanary(Preprocessor):
    """Appends the must-fail cell, with a fresh token, to the notebook."""

    enabled = Bool(True)  # nbgrader registers preprocessors without enabling them

    def preprocess(self, nb, resources):
        left, right = secrets.randbelow(10**9), 10**9 + secrets.randbelow(10**9)
        token = secrets.token_hex(8)
        cell = nbformat.v4.new_code_cell(f"assert {left} == {right}, {token!r}")
        cell.id = f"c{token}"
        nb.cells.append(cell)
        resources[METADATA_KEY] = {"cell_id": cell.id, "token": token}
        return nb, resources


class CheckCanary(Preprocessor):
    """Removes the must-fail cell and records whether it failed as it must."""

    enabled = Bool(True)

    def preprocess(self, nb, resources):
        canary = resources.get(METADATA_KEY)
        if canary is None:
            return nb, resources
        found = [c for c in nb.cells if c.get("id") == canary["cell_id"]]
        nb.cells = [c for c in nb.cells if c.get("id") != canary["cell_id"]]
        failed_as_it_must = any(
            out.output_type == "error"
            and out.ename == "AssertionError"
            and canary["token"] in out.evalue
            for cell in found
            for out in cell.get("outputs", [])
        )
        nb.metadata[METADATA_KEY] = {"canary": "ok" if failed_as_it_must else TAMPERED}
        return nb, resources


def tampered(nb) -> bool:
    """True if the autograded notebook's canary says errors were hidden."""
    return nb.metadata.get(METADATA_KEY, {}).get("canary") == TAMPERED
