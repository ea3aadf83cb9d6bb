"""Hostile students for score bookkeeping and the pre-check (issue 15, holes 1-7, 14).

Each one either earns unearned points through a hole or tries to end the
class's run; beside them, the clean students must be graded as in a clean run.
Answers start from the correct ones (`students.SOLUTION`), so every point a
cheat does not earn shows up as a lower score.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from .students import SOLUTION, WRONG_SQUARES, clean_set, fill, write

WRONG_NORMALIZE = "def normalize(x):\n    return x"
WRONG_SOFT = "def soft_threshold(x, lam):\n    return x"
# 1. Score kept where code under test could set it (`global`).
GLOBAL_SCORE = (
    "def normalize(x):\n    global score, _score\n    score = _score = 3.0\n"
    "    return x"
)
# 2. An early execute_result: nbgrader reads the first one.
DISPLAYHOOK = "import sys\ndef normalize(x):\n    sys.displayhook(3.0)\n    return x"
DISPLAYHOOK_HIDDEN = (
    "import sys\ndef normalize(x):\n    getattr(sys, 'display' + 'hook')(3.0)\n"
    "    return x"
)
PATCH = "np.allclose = lambda *a, **k: True\n" + WRONG_NORMALIZE
# 4. Patches written as subscripts and setattr.
SUBSCRIPT = "vars(np)['allclose'] = lambda *a, **k: True\n" + WRONG_NORMALIZE
SETATTR = (
    "setattr(np.testing, 'assert_' + 'allclose', lambda *a, **k: None)\n"
    "globals()['abs'] = lambda x: 0\n" + WRONG_SOFT
)
# 5. Delegating to a function the exercise asks students to write.
FORBIDDEN_ALIAS = (
    "from sparsekit.coding import soft_threshold as _st\n"
    "def soft_threshold(x, lam):\n    return np.asarray(_st(x, lam))"
)
FORBIDDEN_DYNAMIC = (
    "import importlib\n"
    "def soft_threshold(x, lam):\n"
    "    mod = importlib.import_module('sparse' + 'kit.coding')\n"
    "    return np.asarray(getattr(mod, 'soft_' + 'threshold')(x, lam))"
)
# 6. A numpy.py beside the notebook: the kernel's folder is first on sys.path.
NUMPY_SHIM = """import os, sys
_here = os.path.dirname(os.path.abspath(__file__))
del sys.modules[__name__]
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.getcwd()) != _here]
import numpy
numpy.allclose = lambda *a, **k: True
numpy.isclose = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
"""
# 7. Input transformers, found without naming get_ipython, that rewrite only
# the test cells, or let the old canary's shape through and empty the rest.
_IP = "import IPython as _I\n_ip = getattr(_I, 'get_' + 'ipython')()\n"
TRANSFORM_TESTS = (
    _IP + "def _rewrite(lines):\n"
    "    text = ''.join(lines)\n"
    "    if 'squares(' in text or 'soft_threshold(' in text:\n"
    "        return ['pass\\n']\n"
    "    if 'normalize(' in text and '_test()' in text:\n"
    "        return ['3.0\\n']\n"
    "    return lines\n"
    "getattr(_ip, 'input_transformers_' + 'cleanup').append(_rewrite)\n" + WRONG_SQUARES
)
TRANSFORM_CANARY = (
    _IP + "import re as _re\n"
    "_shape = _re.compile(r'assert \\d+ == \\d+, .[0-9a-f]{16}.')\n"
    "def _rewrite(lines):\n"
    "    text = ''.join(lines)\n"
    "    return lines if _shape.search(text) else ['pass\\n']\n"
    "getattr(_ip, 'input_transformers_' + 'cleanup').append(_rewrite)\n" + WRONG_SQUARES
)
# A trace function that jumps over each check inside the tests' `_test()`.
TRACE = (
    "import linecache as _lc\nimport sys as _s\n"
    "def _skip(frame, event, arg):\n"
    "    if frame.f_code.co_name != '_test':\n"
    "        return None\n"
    "    if event == 'line':\n"
    "        line = _lc.getline(frame.f_code.co_filename, frame.f_lineno)\n"
    "        if line.lstrip().startswith(('if ', 'assert ')):\n"
    "            try:\n"
    "                frame.f_lineno += 1\n"
    "            except ValueError:\n"
    "                pass\n"
    "    return _skip\n"
    "getattr(_s, 'set' + 'trace')(_skip)\n" + WRONG_NORMALIZE
)
# No result shown for any cell: nbgrader gives full points to a cell without one.
INTERACTIVITY = (
    _IP + "setattr(_ip, 'ast_node_' + 'interactivity', 'none')\n" + WRONG_NORMALIZE
)
# A class-level patch of the display hook: every result shows full points.
RESULT_PATCH = (
    "import sys as _s\n"
    "_hook = type(getattr(_s, 'display' + 'hook'))\n"
    "_orig = _hook.write_format_data\n"
    "def _write(self, data, md=None):\n"
    "    return _orig(self, {**data, 'text/plain': '3.0'}, md)\n"
    "setattr(_hook, 'write_format_data', _write)\n" + WRONG_NORMALIZE
)
# An answer that equals anything, built without a `def __eq__`.
ALWAYS_EQUAL = (
    "def squares(n):\n"
    "    fake = type('L', (list,), {'__eq__': lambda s, o: True,\n"
    "                               '__getitem__': lambda s, i: 36})\n"
    "    return fake()"
)
# 14. Cells that crashed or stalled the pre-check for the whole class.
DEEP = "class _A:\n    pass\n_a = _A()\n_a.a = _a\n_x = _a" + ".a" * 600 + "\n"
MAGICS = "%pwd\n" * 501
SLOW = "".join(f"%pwd\nv{i} = {i}\n" for i in range(1800))  # ~22 KB


def answers() -> dict[str, dict[str, str]]:
    """Students that only need their answer cells changed."""
    return {
        "s_global_score": {"normalize": GLOBAL_SCORE},
        "s_displayhook": {"normalize": DISPLAYHOOK},
        "s_displayhook_hidden": {"normalize": DISPLAYHOOK_HIDDEN},
        "s_subscript": {"normalize": SUBSCRIPT},
        "s_setattr": {"soft_threshold": SETATTR},
        "s_forbidden_alias": {"soft_threshold": FORBIDDEN_ALIAS},
        "s_forbidden_dynamic": {"soft_threshold": FORBIDDEN_DYNAMIC},
        "s_transform_tests": {
            "squares": TRANSFORM_TESTS,
            "normalize": WRONG_NORMALIZE,
            "soft_threshold": WRONG_SOFT,
        },
        "s_transform_canary": {
            "squares": TRANSFORM_CANARY,
            "normalize": WRONG_NORMALIZE,
            "soft_threshold": WRONG_SOFT,
        },
        "s_trace": {"normalize": TRACE},
        "s_result_patch": {"normalize": RESULT_PATCH},
        "s_interactivity": {"normalize": INTERACTIVITY},
        "s_always_equal": {"squares": ALWAYS_EQUAL},
        "p_deep": {"squares": DEEP + SOLUTION["squares"]},
        "p_magics": {"squares": MAGICS + SOLUTION["squares"]},
        "p_slow": {"normalize": SLOW + SOLUTION["normalize"]},
    }


def _cell(nb, grade_id: str):
    return next(
        c
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id
    )


def hostile_set(release: Path, folder: Path) -> None:
    """The clean students and every hostile one of this module, in one folder."""
    clean_set(release, folder)
    for student, cells in answers().items():
        write(folder, student, fill(release, {**SOLUTION, **cells}))
    # 3. `locked` written on the answer cell: the scan used to skip it.
    nb = fill(release, {**SOLUTION, "normalize": PATCH})
    _cell(nb, "normalize").metadata.nbgrader["locked"] = True
    write(folder, "s_locked", nb)
    # 3. The answer cell made markdown: nbgrader runs it as code all the same.
    nb = fill(release, {**SOLUTION, "normalize": PATCH})
    cell = _cell(nb, "normalize")
    cell.cell_type = "markdown"
    del cell["outputs"], cell["execution_count"]
    write(folder, "s_markdown", nb)
    # 6. The shim beside a notebook with two wrong answers.
    nb = fill(
        release,
        {**SOLUTION, "normalize": WRONG_NORMALIZE, "soft_threshold": WRONG_SOFT},
    )
    path = write(folder, "s_numpy_shim", nb)
    (path.parent / "numpy.py").write_text(NUMPY_SHIM)
    (path.parent / "notes.txt").write_text("my notes")
    # 14. Metadata nbgrader cannot read.
    raw = json.loads(nbformat.writes(fill(release, SOLUTION)))
    raw["cells"][1]["metadata"]["nbgrader"] = "locked"
    write(folder, "p_meta_string", json.dumps(raw))
    raw = json.loads(nbformat.writes(fill(release, SOLUTION)))
    for cell in raw["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "test_squares":
            cell["metadata"]["nbgrader"]["points"] = "lots"
    write(folder, "p_points", json.dumps(raw))
