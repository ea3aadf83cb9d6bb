"""Fixture submissions for the `sk_fixture` assignment, built from its release.

Each student is a dict of solution-cell answers (by nbgrader grade_id) on top of
the correct ones, or a function that writes the submission folder itself. Hostile
answers encode what the sandbox must prevent into the score: e.g. `squares` is
only right if the network was unreachable, so a breach shows up as lost points.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

NAME = "sk_fixture"
SOLUTION = {
    "squares": "def squares(n):\n    return [i * i for i in range(n)]",
    "normalize": "def normalize(x):\n    x = np.asarray(x, dtype=float)\n"
    "    return x / np.linalg.norm(x)",
    "soft_threshold": "def soft_threshold(x, lam):\n"
    "    x = np.asarray(x, dtype=float)\n"
    "    return np.sign(x) * np.maximum(np.abs(x) - lam, 0.0)",
    "explain": "Magnitudes at most `lam` become exactly zero.",
}
WRONG_SQUARES = "def squares(n):\n    return []"
HIDDEN_CANARIES = ("HIDDEN-CANARY", "squares(7)", "np.ones(5)", "[-3.0, 0.25]")


def _before_squares(code: str) -> dict[str, str]:
    """Hostile code that runs before `squares` is defined (so squares scores 0)."""
    return {"squares": code + "\n" + SOLUTION["squares"]}


def _squares_if(condition: str) -> dict[str, str]:
    """`squares` is right only if `condition` holds: a breach costs 2 points."""
    body = (
        f"def squares(n):\n    return [i * i for i in range(n)] if {condition} else []"
    )
    return {"squares": body}


def _leak_probe(paths: list[str]) -> str:
    return (
        "import glob, os\n"
        f"PATHS = {paths!r}\n"
        "def _readable(p):\n"
        "    try:\n        open(p, 'rb').read(1)\n        return True\n"
        "    except OSError:\n        return False\n"
        "FOUND = [p for p in PATHS if _readable(p)]\n"
        "FOUND += glob.glob('/tmp/**/*.db', recursive=True)\n"
        "FOUND += [p for p in glob.glob('/tmp/**/*.ipynb', recursive=True)\n"
        "          if not p.startswith(os.getcwd())]\n"
    )


def _write_probe(paths: list[str]) -> str:
    return (
        f"PATHS = {paths!r}\n"
        "WROTE = []\n"
        "for p in PATHS:\n"
        "    try:\n        open(p, 'a').write('pwned')\n        WROTE.append(p)\n"
        "    except OSError:\n        pass\n"
    )


_NETWORK = (
    "import socket\ntry:\n"
    "    socket.create_connection(('1.1.1.1', 53), timeout=3)\n    NET = True\n"
    "except OSError:\n    NET = False\n"
)
# Writes until refused; more than the sandbox's tmpfs (256 MiB) would be a breach.
_DISK = (
    "try:\n    with open('fill.bin', 'wb') as f:\n        while True:\n"
    "            f.write(b'0' * 2**20)\nexcept OSError:\n    pass\n"
    "BIG = os.path.getsize('fill.bin') > 300 * 2**20\n"
)


_IPC_FILL = (
    "import os, sys\n"
    "IPC = os.path.dirname(sys.argv[sys.argv.index('-f') + 1])\n"
    "try:\n    with open(os.path.join(IPC, 'fill.bin'), 'wb') as f:\n"
    "        for _ in range(8):\n            f.write(b'0' * 2**20)\n"
    "    IPC_BIG = True\nexcept OSError:\n    IPC_BIG = False\n"
)


def hostile(course: Path, out: Path) -> dict[str, dict[str, str]]:
    """The hostile students; `course` and `out` are paths a breach would reach."""
    source = str(course / "solutions" / NAME / f"{NAME}.ipynb")
    relatives = [
        f"../../../solutions/{NAME}/{NAME}.ipynb",
        f"../../../submitted/solution/{NAME}/{NAME}.ipynb",
        f"../solution/{NAME}/{NAME}.ipynb",
        "../../../../gradebook.db",
        "../../../../gb/0.db",
    ]
    class_gradebook = str(out / "course" / "gradebook.db")
    read = _leak_probe([source, *relatives, class_gradebook, "/etc/shadow"])
    write = _write_probe(
        [source, *relatives, class_gradebook, str(out / f"{NAME}.csv")]
    )
    return {
        "h_loop": _before_squares("while True:\n    pass"),
        "h_sigint": _before_squares(
            "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "signal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass"
        ),
        "h_os_exit": _before_squares("import os\nos._exit(3)"),
        "h_sys_exit": _before_squares("import sys\nsys.exit(0)"),
        "h_memory": _before_squares(
            "blocks = []\nwhile True:\n    blocks.append(bytearray(64 * 2**20))"
        ),
        "h_fork": _before_squares(
            "import os\nwhile True:\n    try:\n        os.fork()\n"
            "    except OSError:\n        pass"
        ),
        # squares is right only if no breach worked: network, reads, writes, disk.
        "h_escape": {
            "squares": read
            + write
            + _DISK
            + _NETWORK
            + _squares_if("not (FOUND or WROTE or NET or BIG)")["squares"]
        },
        "h_cheat": {
            "squares": WRONG_SQUARES,
            "normalize": "import builtins\n"
            "builtins.AssertionError = type('AssertionError', (Exception,), {})\n"
            "np.allclose = lambda *a, **k: True\ndef normalize(x):\n    return x",
            "soft_threshold": "np.testing.assert_allclose = lambda *a, **k: None\n"
            "def soft_threshold(x, lam):\n    return x",
        },
        # The socket folder is shared with the grader: it must not take 8 MiB.
        "h_ipc": {"squares": _IPC_FILL + _squares_if("not IPC_BIG")["squares"]},
        # 16 MiB of output (the grader keeps 4 MiB), then a wrong answer: the
        # failing test's error must survive the cut.
        "h_output": {
            "squares": "import sys\nfor _ in range(16):\n    print('x' * 2**20)\n"
            "    sys.stderr.write('e' * 2**10)\n" + WRONG_SQUARES
        },
        # Every later cell emptied by a class-level patch the grader's reset does
        # not undo: only the canary can tell.
        "h_sneaky": {
            "squares": "_ip = eval('get' + '_ipython')()\n"
            "setattr(type(_ip), 'transform_' + 'cell', lambda self, cell: 'pass\\n')\n"
            + WRONG_SQUARES
        },
        "h_transform": {
            "squares": "get_ipython().input_transformers_cleanup.append("
            "lambda lines: ['pass\\n'])\n" + WRONG_SQUARES
        },
    }


def fill(release: Path, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The release notebook with the given solution cells answered."""
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def write(folder: Path, student: str, nb, name: str = f"{NAME}.ipynb") -> Path:
    """Writes `<folder>/<student>/sk_fixture/<name>` (nb may be raw text)."""
    path = folder / student / NAME / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb, str):
        path.write_text(nb)
    else:
        nbformat.write(nb, path)
    return path


def clean_set(release: Path, folder: Path) -> None:
    """solution (7 of 7 autograded points), release (0), partial (3.5)."""
    write(folder, "solution", fill(release, SOLUTION))
    write(folder, "untouched", nbformat.read(release, as_version=4))
    partial = {
        **SOLUTION,
        "normalize": "def normalize(x):\n    return np.asarray(x, dtype=float) / 5.0",
        "soft_threshold": "def soft_threshold(x, lam):\n    return x",
    }
    write(folder, "partial", fill(release, partial))


def hostile_set(release: Path, folder: Path, course: Path, out: Path) -> None:
    """Every hostile case beside the clean ones, in one folder."""
    clean_set(release, folder)
    for student, answers in hostile(course, out).items():
        write(folder, student, fill(release, {**SOLUTION, **answers}))
    edited = fill(release, {**SOLUTION, "squares": WRONG_SQUARES})
    for cell in edited.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_squares":
            cell.source = "assert True"
    write(folder, "t_edited", edited)
    deleted = fill(
        release, {**SOLUTION, "normalize": "def normalize(x):\n    return x"}
    )
    deleted.cells = [
        c
        for c in deleted.cells
        if c.metadata.get("nbgrader", {}).get("grade_id") != "test_normalize"
    ]
    write(folder, "t_deleted", deleted)
    write(folder, "f_corrupt", json.dumps({"cells": "oops"})[:-3])
    write(folder, "f_renamed", fill(release, SOLUTION), name="my_fixture.ipynb")
    (folder / "f_missing" / NAME).mkdir(parents=True)
