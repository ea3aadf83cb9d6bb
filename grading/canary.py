"""Guards around the tests, which run in the kernel the student's code ran in.

nbgrader scores a test cell by its outputs: the first `error` or stderr means 0,
the first `execute_result` is the partial score. Student code called by the test
can print a result of its own (`sys.displayhook(points)`), or, from an earlier
cell, install an IPython input transformer or trace hook that rewrites the tests
(even obfuscated, past the static scan). So, around execution:

- `AddCanary` (before execution) puts two cells among the test cells at random
  places, in the shape of one of them (its first line, then the check): one must
  fail with a token drawn for this run, one must show a number drawn for it;
- `GuardedExecute` (nbgrader's `Execute`, output-bounded) first resets the
  kernel's hooks before every test cell and the canary: input and AST
  transformers, trace/profile functions, cell-event callbacks from the student's
  code, instance overrides of the shell's run methods. The reset is sent as a
  user expression of a silent request, which no input transformer sees, and it
  must answer a hash of a fresh nonce: if it does not, the kernel was tampered
  with. After a test cell it keeps one result: none if the cell does not end in
  an expression, else the lowest score shown (code under test can display a
  result of its own before or after the test's);
- `CheckCanary` (the last autograde step) removes the canaries and records in
  the notebook's metadata whether they behaved, whether every reset answered,
  and which test cells showed extra results.

The canaries never reach the feedback and earns or costs no points. What runs in
the student's kernel can, in principle, defeat all of this (a patched
`user_expressions`...): the scan flags the ways in, and these checks turn the
known attacks into a `failed` row instead of unearned points.
"""

from __future__ import annotations

import ast
import hashlib
import random
import secrets

import nbformat
from nbclient.util import run_sync
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from .bounded import BoundedExecute

METADATA_KEY = "sk_grading"
TAMPERED = "tampered"

# Runs in the kernel through `user_expressions`: no input transformer sees it.
_RESET = r"""
import hashlib, importlib.util, os, sys, threading
import IPython.core.inputtransformer2 as _it2
ip = get_ipython()
sys.settrace(None)
sys.setprofile(None)
threading.settrace(None)
threading.setprofile(None)
# A private copy from disk: class-level patches of the loaded module stay out.
spec = importlib.util.spec_from_file_location("_sk_it2", _it2.__file__)
fresh = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fresh)
# The trait insists on the loaded class: set its value directly.
ip._trait_values["input_transformer_manager"] = fresh.TransformerManager()
ip.input_transformers_post = []
ip.ast_transformers = []
ip.ast_node_interactivity = "last_expr"  # "none" would hide every partial score
ip.autocall = 0
for name in ("run_cell", "run_cell_async", "transform_cell", "transform_ast",
             "run_ast_nodes", "run_code", "showtraceback", "should_run_async",
             "showsyntaxerror", "_run_cell"):
    ip.__dict__.pop(name, None)
sys.displayhook = ip.displayhook
trusted = tuple(os.path.realpath(p) + os.sep for p in {sys.prefix, sys.base_prefix})
def _origin(cb):
    func = getattr(cb, "__func__", cb)
    code = getattr(func, "__code__", None)
    code = code or getattr(getattr(type(cb), "__call__", None), "__code__", None)
    return os.path.realpath(code.co_filename) if code else ""
for callbacks in ip.events.callbacks.values():
    for cb in list(callbacks):
        if not _origin(cb).startswith(trusted):  # defined in the notebook
            callbacks.remove(cb)
result = hashlib.sha256(NONCE.encode()).hexdigest()[:16]
"""


def _reset_expression(nonce: str) -> str:
    source = f"NONCE = {nonce!r}\n{_RESET}"
    return (
        "(lambda g: (__import__('builtins').exec("
        f"{source!r}, g), g['result'])[1])"
        "({'get_ipython': __import__('IPython').get_ipython})"
    )


def _is_test(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade"))


def _state(resources) -> dict:
    return resources.setdefault(METADATA_KEY, {})


class AddCanary(Preprocessor):
    """Puts two cells shaped like tests among the test cells: one that must fail
    with a fresh token, one whose result must be a fresh number."""

    enabled = Bool(True)  # nbgrader registers preprocessors without enabling them

    def preprocess(self, nb, resources):
        rng = random.SystemRandom()
        left, right = rng.randrange(10**9), 10**9 + rng.randrange(10**9)
        token = secrets.token_hex(8)
        value = float(rng.randrange(1, 10**6)) / 64
        answers = [
            i
            for i, c in enumerate(nb.cells)
            if c.get("cell_type") == "code"
            and c.get("metadata", {}).get("nbgrader", {}).get("solution")
        ]
        after = answers[-1] + 1 if answers else 0
        tests = [i for i, c in enumerate(nb.cells) if _is_test(c) and i >= after]
        tests = tests or [i for i, c in enumerate(nb.cells) if _is_test(c)]
        bodies = {
            f"c{token}": [f"assert {left} == {right}, {token!r}"],
            f"r{token}": ["def _test():", f"    return {value!r}", "", "", "_test()"],
        }
        start = tests[0] if tests else len(nb.cells)
        for cell_id, body in bodies.items():
            model = [""]
            if tests:
                model = nb.cells[rng.choice(tests)].source.splitlines() or [""]
            head = model[:1] if _one_line_comment(model[0]) else []
            rest = model[len(head) :] if cell_id[0] == "c" else []
            if not _compiles("\n".join(head + body + rest)):
                rest = []  # IPython syntax in the test: the check alone
            cell = nbformat.v4.new_code_cell("\n".join(head + body + rest))
            cell.id = cell_id
            nb.cells.insert(rng.randint(start, len(nb.cells)), cell)
        resources[METADATA_KEY] = {
            "cell_id": f"c{token}",
            "result_id": f"r{token}",
            "token": token,
            "value": value,
            "resets_failed": 0,
            "extra_results": [],
        }
        return nb, resources


def _one_line_comment(line: str) -> bool:
    text = line.strip()
    return text.startswith("#") or (text.startswith('"""') and _compiles(text))


def _compiles(source: str) -> bool:
    try:
        compile(source, "<canary>", "exec")
    except (SyntaxError, ValueError, RecursionError):
        return False
    return True


class GuardedExecute(BoundedExecute):
    """`Execute` that resets the kernel's hooks before each test (see above)."""

    async def async_execute_cell(
        self, cell, cell_index, execution_count=None, store_history=True
    ):
        state = _state(self.resources)
        ours = (state.get("cell_id"), state.get("result_id"))
        guarded = _is_test(cell) or cell.get("id") in ours
        if guarded and cell.source.strip():
            await self._reset(cell, state)
        cell = await super().async_execute_cell(
            cell, cell_index, execution_count, store_history
        )
        if _is_test(cell):
            _one_result(cell, state)
        return cell

    # nbclient binds the sync wrapper to its own coroutine: rebind it to ours.
    execute_cell = run_sync(async_execute_cell)

    async def _reset(self, cell, state: dict) -> None:
        nonce = secrets.token_hex(16)
        want = hashlib.sha256(nonce.encode()).hexdigest()[:16]
        msg_id = self.kc.execute(
            "",
            silent=True,
            store_history=False,
            user_expressions={"sk": _reset_expression(nonce)},
        )
        reply = await self.async_wait_for_reply(msg_id, cell)
        content = (reply or {}).get("content", {})
        answer = content.get("user_expressions", {}).get("sk", {})
        text = answer.get("data", {}).get("text/plain", "")
        if answer.get("status") != "ok" or text != repr(want):
            state["resets_failed"] = state.get("resets_failed", 0) + 1


def _one_result(cell, state: dict) -> None:
    """Keeps one result per test cell, none if the cell ends in no expression.

    With more than one, which is the test's own cannot be told (a callback of
    the student's can display after it): the lowest score shown counts.
    """
    results = [o for o in cell.outputs if o.get("output_type") == "execute_result"]
    if len(results) <= (1 if _ends_in_expression(cell.source) else 0):
        return
    keep = []
    if _ends_in_expression(cell.source):
        scores = [(_as_float(o), i) for i, o in enumerate(results)]
        scores = [s for s in scores if s[0] is not None]
        keep = [results[min(scores)[1]]] if scores else results[-1:]
    cell.outputs = [
        o
        for o in cell.outputs
        if o.get("output_type") != "execute_result" or any(o is k for k in keep)
    ]
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "?")
    state.setdefault("extra_results", []).append(grade_id)


def _as_float(output) -> float | None:
    text = output.get("data", {}).get("text/plain", "")
    try:
        return float("".join(text) if isinstance(text, list) else text)
    except ValueError:
        return None


def _ends_in_expression(source: str) -> bool:
    try:
        body = ast.parse(source).body
    except (SyntaxError, RecursionError, ValueError):
        return True  # IPython syntax: nbgrader's own rule (first result) stands
    return bool(body) and isinstance(body[-1], ast.Expr)


class CheckCanary(Preprocessor):
    """Removes the canaries and records what the guards saw."""

    enabled = Bool(True)

    def preprocess(self, nb, resources):
        canary = resources.get(METADATA_KEY)
        if canary is None:
            return nb, resources
        ours = (canary["cell_id"], canary.get("result_id"))
        found = [c for c in nb.cells if c.get("id") == canary["cell_id"]]
        counted = [c for c in nb.cells if c.get("id") == canary.get("result_id")]
        nb.cells = [c for c in nb.cells if c.get("id") not in ours]
        failed_as_it_must = any(
            out.output_type == "error"
            and out.ename == "AssertionError"
            and canary["token"] in out.evalue
            for cell in found
            for out in cell.get("outputs", [])
        )
        shown = [
            out.get("data", {}).get("text/plain")
            for cell in counted
            for out in cell.get("outputs", [])
            if out.output_type == "execute_result"
        ]
        failed_as_it_must &= shown == [repr(canary["value"])]
        honest = failed_as_it_must and not canary.get("resets_failed")
        # Replaces whatever the submission wrote under this key.
        nb.metadata[METADATA_KEY] = {
            "canary": "ok" if honest else TAMPERED,
            "extra_results": list(canary.get("extra_results", [])),
        }
        return nb, resources


def tampered(nb) -> bool:
    """True if the autograded notebook's canary says errors were hidden."""
    return nb.metadata.get(METADATA_KEY, {}).get("canary") == TAMPERED


def extra_results(nb) -> list[str]:
    """Test cells whose extra results (from code under test) were ignored."""
    return list(nb.metadata.get(METADATA_KEY, {}).get("extra_results", []))
