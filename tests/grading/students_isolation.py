"""Hostile students for issue 15's isolation holes (8-13, the sparsekit probe).

Like students.py: each is a dict of solution-cell answers (by grade_id) on top of
the correct ones, or is written by a function of its own. A breach costs points
wherever it can (the answer is right only if the breach failed); what cannot be
scored (a leak into feedback, a flood on disk) is checked by the tests.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import students
from .students import SOLUTION, WRONG_SQUARES, _squares_if

# Looks for any readable file holding hidden tests in the places a kernel could
# reach (its folder, /tmp, the repository's folders bound into the sandbox).
_NOTEBOOK_LEAK = (
    "import os\n"
    "SEEN = sorted(os.listdir('.'))\n"
    "print('FOLDER', SEEN)\n"
    "LEAK = []\n"
    # Spelt apart: this cell's own source is in IPython's history database.
    "NEEDLES = [b'HIDDEN' + b' TESTS', b'HIDDEN-' + b'CANARY']\n"
    "for top in [os.getcwd(), '/tmp', '/work', '/root', '/home', '/opt', '/srv']:\n"
    "    for base, dirs, files in os.walk(top):\n"
    "        dirs[:] = [d for d in dirs if d not in ('site-packages', '.venv')]\n"
    "        for name in files:\n"
    "            try:\n"
    "                text = open(os.path.join(base, name), 'rb').read(2**20)\n"
    "            except OSError:\n"
    "                continue\n"
    "            if any(n in text for n in NEEDLES):\n"
    "                LEAK.append(os.path.join(base, name))\n"
    "                print(text.decode(errors='replace'))\n"
    "LEAK += [n for n in SEEN if n.endswith('.ipynb')]\n"
)

# Reads the running hidden cell's source where IPython keeps inputs, and tries to
# carry it into an earlier output (display update) and later ones (a print).
_HISTORY = (
    "import sys\n"
    "from IPython.display import display\n"
    "HANDLE = display('placeholder', display_id=True)\n"
    "SEEN = []\n"
    "def _inputs():\n"
    "    ns = globals()\n"
    "    texts = [str(ns.get(k)) for k in list(ns) if k.startswith(('_i', 'In'))]\n"
    "    ip = getattr(sys.modules['IPython'], 'get_' + 'ipython')()\n"
    "    hm = ip.history_manager\n"
    "    texts += [str(hm.input_hist_raw), str(hm.input_hist_parsed)]\n"
    "    texts.append(str(list(hm.get_range(raw=True))))\n"
    "    texts.append(str(list(hm.get_tail(50, raw=True))))\n"
    "    return '\\n'.join(texts)\n"
    "def squares(n):\n"
    "    if n == 7:\n"
    "        SEEN.append(_inputs())\n"
    "        HANDLE.update('UPDATED:' + SEEN[-1])\n"
    "        display('AGAIN:' + SEEN[-1], display_id=HANDLE.display_id)\n"
    "    return [i * i for i in range(n)]\n"
)

# What the kernel cannot hide (the calling frame's source via linecache) is
# stolen, then shown: printed by a later cell, raised as an exception named by
# the student (soft_threshold fails: 2 points lost, honestly).
_EXFILTRATE = (
    "import traceback\n"
    "STOLEN = []\n"
    "def squares(n):\n"
    "    if n == 7:\n"
    "        STOLEN.append(''.join(f.line or '' for f in traceback.extract_stack()))\n"
    "    return [i * i for i in range(n)]\n"
)
_EXFILTRATE_LATER = (
    "print('STOLEN', STOLEN)\n"
    "from IPython.display import display, Markdown\n"
    "display(Markdown('```\\n' + ''.join(STOLEN) + '\\n```'))\n" + SOLUTION["normalize"]
)
_EXFILTRATE_RAISE = (
    "def soft_threshold(x, lam):\n"
    "    text = ''.join(STOLEN).replace('\\n', ' ')\n"
    "    name = 'Leak_' + ''.join(c if c.isalnum() else '_' for c in text)\n"
    "    raise type(name[:200], (Exception,), {})(text)\n"
)

XSS = (
    "<script>alert('xss-script')</script><img src=x onerror=alert('xss-img')>",
    "[click](javascript:alert('xss-link'))",
)
_XSS_CODE = (
    "from IPython.display import HTML, Markdown, display\n"
    f"display(HTML({XSS[0]!r} + '<b onmouseover=alert(1)>b</b>'))\n"
    f"display(Markdown({XSS[1]!r}))\n"
    "display({'text/html': '<svg onload=alert(2)>', 'application/javascript':"
    " 'alert(3)', 'text/plain': 'x'}, raw=True,"
    " metadata={'text/html': {'width': '1 onerror=alert(4)'}})\n"
    f"print({XSS[0]!r})\n" + SOLUTION["squares"]
)

# 40 outputs sharing one display id, each update 1 MiB (40 MiB per update);
# 200 results of 60 KiB (under the per-result cap); 3000 tiny displays (under
# the byte cap, not the count cap); widget state of 16 MiB; wrong squares.
_FLOOD = (
    "import sys\n"
    "from IPython.display import display\n"
    "from ipykernel.comm import Comm\n"
    "h = display('x', display_id=True)\n"
    "for _ in range(39):\n"
    "    display('x', display_id=h.display_id)\n"
    "for _ in range(3):\n"
    "    h.update('u' * 2**20)\n"
    "hook = getattr(sys, 'display' + 'hook')\n"
    "for i in range(200):\n"
    "    hook(str(i) * 60000)\n"
    "for i in range(3000):\n"
    "    display(i)\n"
    "for i in range(16):\n"
    "    Comm(target_name='jupyter.widget', data={'state': {'_model_name': 'M',"
    " 'v': 'w' * 2**20}, 'buffer_paths': []})\n" + WRONG_SQUARES
)

# 16 busy children, each in a session of its own, then a notebook that keeps
# running (sleeps, no CPU of its own): without a CPU share per kernel they take
# both cores from the classmates graded beside it.
_SETSID = (
    "import os, time\n"
    "for _ in range(16):\n"
    "    if os.fork() == 0:\n"
    "        os.setsid()\n"
    "        while True:\n"
    "            pass\n" + SOLUTION["squares"]
)
_SLEEP = "import time\ntime.sleep(5)\n"


def sparsekit_check(package: Path) -> dict[str, str]:
    """`squares` is right only if a kernel's `import sparsekit` finds `package`."""
    condition = (
        "__import__('importlib.util').util.find_spec('sparsekit').origin == "
        f"{str(package / '__init__.py')!r}"
    )
    return _squares_if(condition)


def hostile() -> dict[str, dict[str, str]]:
    """Hostile students written as answers; see `write_set` for the others."""
    repo = Path(__file__).resolve().parents[2]
    return {
        "i_notebook": {"squares": _NOTEBOOK_LEAK + _squares_if("not LEAK")["squares"]},
        "i_history": {
            "squares": _HISTORY,
            "normalize": "print(SEEN)\nLEAKED = any('HIDDEN' in s for s in SEEN)\n"
            "def normalize(x):\n    x = np.asarray(x, dtype=float)\n"
            "    return x if LEAKED else x / np.linalg.norm(x)",
        },
        "i_exfiltrate": {
            "squares": _EXFILTRATE,
            "normalize": _EXFILTRATE_LATER,
            "soft_threshold": _EXFILTRATE_RAISE,
        },
        "i_xss": {"squares": _XSS_CODE, "explain": XSS[0] + "\n\n" + XSS[1]},
        "i_flood": {"squares": _FLOOD},
        "i_sparsekit": sparsekit_check(repo / "sparsekit"),
        "a_setsid": {
            "squares": _SETSID + "\n" + _SLEEP,
            "normalize": _SLEEP + SOLUTION["normalize"],
            "soft_threshold": _SLEEP + SOLUTION["soft_threshold"],
        },
    }


def write_set(release: Path, folder: Path, course: Path) -> None:
    """Clean students, copies of two of them graded beside the CPU hog (`b_*`
    sort right after `a_setsid`), and every isolation hostile."""
    students.clean_set(release, folder)
    right = students.fill(release, SOLUTION)
    # Honest work that needs its share of a core (~0.6 s here) within the 6 s
    # cell limit: starved beside the hog, it would time out.
    busy = "_WORK = sum(i * i for i in range(10**7))\n" + SOLUTION["normalize"]
    students.write(
        folder, "b_solution", students.fill(release, {**SOLUTION, "normalize": busy})
    )
    students.write(folder, "b_untouched", students.fill(release, {}))
    for student, answers in hostile().items():
        students.write(folder, student, students.fill(release, {**SOLUTION, **answers}))
    solution_nb = course / "solutions" / students.NAME / f"{students.NAME}.ipynb"
    # The notebook is a link to the instructor's solution: followed, it scores 7.
    linked = folder / "l_notebook" / students.NAME / f"{students.NAME}.ipynb"
    linked.parent.mkdir(parents=True)
    linked.symlink_to(solution_nb)
    # An honest notebook beside a link to solutions/.
    students.write(folder, "l_folder", right)
    (folder / "l_folder" / students.NAME / "answers").symlink_to(course / "solutions")
    # The student's folder itself is a link (to a folder holding the solutions).
    (folder / "l_student").symlink_to(course / "solutions", target_is_directory=True)
    # A FIFO would hang a copy that opens it.
    students.write(folder, "l_fifo", right)
    os.mkfifo(folder / "l_fifo" / students.NAME / "pipe")
