"""Issue 15, holes 8-13 and the sparsekit probe: one sandboxed run with every
isolation hostile beside honest students, plus runs from copies of the checkout.

Each hostile scores only its honest score; honest classmates graded in the same
run score as in a clean run (test_run.py's numbers).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter

from . import students, students_isolation
from .conftest import REPO, grading, read_csv

ARGS = ["--workers", "2", "--timeout", "6", "--cpu-seconds", "6"]
ARGS += ["--memory-mb", "1536", "--nproc", "64", "--keep"]
LINKS = "links or special files are not accepted"


def _cpu_cgroups() -> str | None:
    """Why this machine cannot give a kernel a CPU cgroup, or None if it can."""
    if os.getuid() != 0:
        return "not root: no cgroups are made"
    for folder in ("/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/unified"):
        probe = Path(folder) / f"sk-test-{os.getpid()}"
        try:
            probe.mkdir()
            probe.rmdir()
            return None
        except OSError:
            continue
    if (Path("/sys/fs/cgroup") / "cgroup.controllers").exists():
        return None if os.access("/sys/fs/cgroup", os.W_OK) else "cgroup2 read-only"
    return "no writable cgroup hierarchy"


# student: (score, status, words the reason must contain)
EXPECTED = {
    "solution": ("7", "graded", ""),
    "untouched": ("0", "graded", ""),
    "partial": ("3.5", "graded", ""),
    "b_solution": ("7", "graded", ""),  # beside the CPU hog
    "b_untouched": ("0", "graded", ""),
    "i_notebook": ("7", "graded", ""),  # 8: no hidden tests in its folder
    # 9: not in In/_ih/_i/history (its computed getattr into IPython is flagged)
    "i_history": ("7", "needs_manual", "getattr with a computed name"),
    "i_exfiltrate": ("5", "graded", ""),  # 9: its raise costs soft_threshold
    "l_notebook": ("", "failed", LINKS),  # 10
    "l_folder": ("", "failed", LINKS),
    "l_student": ("", "failed", LINKS),
    "l_fifo": ("", "failed", LINKS),
    "i_xss": ("7", "graded", ""),  # 11: sanitised, scored as it is
    # 12: wrong squares, outputs cut; its computed getattr also asks for a look
    "i_flood": ("5", "needs_manual", "size limit"),
    "a_setsid": ("", "failed", "CPU time"),  # 13
    # the kernel imports this checkout's sparsekit (7 only then); its
    # __import__ is flagged by the scan, which is right for a dynamic import
    "i_sparsekit": ("7", "needs_manual", "import"),
}


@pytest.fixture(scope="module")
def isolation_run(course, release_nb, tmp_path_factory):
    base = tmp_path_factory.mktemp("isolation")
    out = base / "out"
    students_isolation.write_set(release_nb, base / "subs", course)
    done = grading(
        "--course", str(course), "run", students.NAME, "--submissions",
        str(base / "subs"), "--out", str(out), *ARGS,
    )  # fmt: skip
    scratch = Path(re.search(r"scratch course kept in (\S+)", done.stderr)[1])
    policies = [json.loads(p.read_text()) for p in scratch.glob("ks/*/policy.json")]
    left = [
        path
        for policy in policies
        for path in Path("/sys/fs/cgroup").glob(f"*/**/{policy['cgroup']}")
    ]
    shutil.rmtree(scratch, ignore_errors=True)
    return done, out, left


@pytest.fixture(scope="module")
def rows(isolation_run):
    done, out, _ = isolation_run
    assert done.returncode == 0, done.stderr
    return read_csv(out / f"{students.NAME}.csv")


def _feedback(out: Path, student: str) -> str:
    folder = out / "feedback" / student / students.NAME
    return "".join(p.read_text() for p in sorted(folder.iterdir()))


def _course_nb(out: Path, student: str) -> nbformat.NotebookNode:
    path = out / "course" / "autograded" / student / students.NAME
    return nbformat.read(path / f"{students.NAME}.ipynb", as_version=4)


def _cell(nb, grade_id: str):
    return next(
        c
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id
    )


def test_every_student_has_a_row(rows):
    assert set(rows) == set(EXPECTED)


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_outcome(rows, student):
    if student == "a_setsid" and (why := _cpu_cgroups()):
        pytest.skip(f"no CPU cgroups on this machine ({why})")
    score, status, reason = EXPECTED[student]
    row = rows[student]
    assert (row["score"], row["status"]) == (score, status), row
    assert reason in row["reason"], row


def test_no_cgroup_warning_where_cgroups_work(isolation_run):
    done, _, _ = isolation_run
    assert ("no CPU cgroup" in done.stderr) == (_cpu_cgroups() is not None)


def test_feedback_never_shows_hidden_tests(isolation_run, rows):
    _, out, _ = isolation_run
    for student in rows:
        page = _feedback(out, student)
        for canary in ("HIDDEN TESTS", *students.HIDDEN_CANARIES):
            assert canary not in page, (student, canary)


def test_exfiltration_worked_in_the_kernel_but_not_in_feedback(isolation_run):
    """The calling frame's source is readable in the kernel (no sandbox can stop
    that): the instructor's copy shows it was stolen, the student's does not."""
    _, out, _ = isolation_run
    nb = _course_nb(out, "i_exfiltrate")
    shown = json.dumps(_cell(nb, "normalize").outputs)
    assert "HIDDEN-CANARY-squares" in shown
    errors = [o for o in _cell(nb, "test_soft_threshold").outputs if "ename" in o]
    assert errors and errors[0].ename.startswith("Leak_")
    page = _feedback(out, "i_exfiltrate")
    assert "HIDDEN-CANARY" not in page
    assert "An error (details hidden" in page  # not the student's Leak_... name


def test_hidden_cells_are_not_in_history_nor_reach_back(isolation_run):
    _, out, _ = isolation_run
    nb = _course_nb(out, "i_history")
    printed = json.dumps(_cell(nb, "normalize").outputs)
    assert "def squares" in printed  # it did read the history: its own cell
    assert "HIDDEN" not in printed and "squares(0)" not in printed
    # The update sent from inside the hidden test did not reach the earlier cell.
    early = _cell(nb, "squares").outputs
    assert [o.data["text/plain"] for o in early] == ["'placeholder'"]


def test_kernel_folder_holds_no_notebook(isolation_run):
    _, out, _ = isolation_run
    printed = json.dumps(_cell(_course_nb(out, "i_notebook"), "squares").outputs)
    assert "FOLDER" in printed and ".ipynb" not in printed


class _Threats(HTMLParser):
    """Markup that would run script: script elements that are not the page
    template's own, event-handler attributes, `javascript:` URLs, SVG."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self._in_script = tag == "script"
        if tag in ("svg", "iframe", "object", "embed"):
            self.found.append(tag)
        for name, value in attrs:
            url = (value or "").replace(" ", "").lower()
            if name.startswith("on") or url.startswith(("javascript:", "vbscript:")):
                self.found.append(f"<{tag} {name}={value}>")

    def handle_data(self, data):
        if self._in_script and ("alert(" in data or "xss" in data):
            self.found.append(f"<script>{data[:80]}")

    def handle_endtag(self, tag):
        self._in_script = False


def _threats(html: str) -> list[str]:
    parser = _Threats()
    parser.feed(html)
    return parser.found


def test_feedback_and_formgrader_pages_are_sanitised(isolation_run):
    _, out, _ = isolation_run
    page = _feedback(out, "i_xss")
    # What formgrader renders: the autograded notebook stored in the class course.
    nb = _course_nb(out, "i_xss")
    formgrader, _ = HTMLExporter().from_notebook_node(nb)
    assert _threats(page) == [] and _threats(formgrader) == []
    assert "xss-script" in page  # shown, as text
    assert "javascript" in _cell(nb, "explain").source  # kept for the grader...
    assert "shown as plain text" in _cell(nb, "explain").source  # ...as text


def test_the_threat_check_sees_unsanitised_pages(isolation_run):
    """The same notebook rendered without the grader's sanitising is unsafe."""
    _, out, _ = isolation_run
    path = out / "course" / "submitted" / "i_xss" / students.NAME
    nb = nbformat.read(path / f"{students.NAME}.ipynb", as_version=4)
    nb.cells[-1].source = "\n\n".join(students_isolation.XSS)
    html, _ = HTMLExporter().from_notebook_node(nb)
    assert len(_threats(html)) >= 3


def test_output_flood_is_bounded(isolation_run):
    _, out, _ = isolation_run
    written = [
        out / "course" / "autograded" / "i_flood" / students.NAME,
        out / "feedback" / "i_flood" / students.NAME,
    ]
    sizes = [p.stat().st_size for folder in written for p in folder.iterdir()]
    assert sizes and max(sizes) < 6 * 2**20, sizes
    nb = _course_nb(out, "i_flood")
    assert len(_cell(nb, "squares").outputs) < 2100
    assert "widgets" not in nb.metadata


def test_no_cgroups_left_behind(isolation_run):
    *_, left = isolation_run
    assert left == []


def _checkout_copy(readable: bool) -> Path:
    """grading/ and sparsekit/ copied to a folder of their own under /tmp, the
    sparsekit copy changed so it differs from the installed one."""
    base = Path(tempfile.mkdtemp(prefix="sk-copy-", dir="/tmp"))
    base.chmod(0o755)
    for name in ("grading", "sparsekit"):
        shutil.copytree(
            REPO / name, base / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    with (base / "sparsekit" / "__init__.py").open("a") as f:
        f.write("\nGRADED_FROM_COPY = True\n")
    if not readable:
        (base / "sparsekit").chmod(0o700)
    return base


def _run_from(checkout: Path, course: Path, subs: Path, out: Path):
    return subprocess.run(
        [sys.executable, "-m", "grading", "--course", str(course), "run",
         students.NAME, "--submissions", str(subs), "--out", str(out), *ARGS[:-1]],
        cwd=checkout, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def test_kernels_import_the_checkout_being_graded_with(course, release_nb, tmp_path):
    """The installed sparsekit differs from this copy: kernels import the copy."""
    checkout = _checkout_copy(readable=True)
    try:
        subs = tmp_path / "subs"
        students.write(subs, "solution", students.fill(release_nb, students.SOLUTION))
        check = students_isolation.sparsekit_check(checkout / "sparsekit")
        nb = students.fill(release_nb, {**students.SOLUTION, **check})
        students.write(subs, "i_copy", nb)
        done = _run_from(checkout, course, subs, tmp_path / "out")
    finally:
        shutil.rmtree(checkout, ignore_errors=True)
    assert done.returncode == 0, done.stderr
    rows = read_csv(tmp_path / "out" / f"{students.NAME}.csv")
    got = {s: (r["score"], r["status"]) for s, r in rows.items()}
    # i_copy's squares is right only where kernels import the copy (7 points);
    # its dynamic __import__ is flagged, as the scan flags every one
    assert got == {"solution": ("7", "graded"), "i_copy": ("7", "needs_manual")}


@pytest.mark.skipif(os.getuid() != 0, reason="as the grader's own uid it is readable")
def test_refuses_when_kernels_cannot_import_the_checkout(course, release_nb, tmp_path):
    checkout = _checkout_copy(readable=False)
    try:
        subs = tmp_path / "subs"
        students.write(subs, "solution", students.fill(release_nb, students.SOLUTION))
        done = _run_from(checkout, course, subs, tmp_path / "out")
    finally:
        shutil.rmtree(checkout, ignore_errors=True)
    assert done.returncode == 2, done.stderr
    message = " ".join(done.stderr.split())
    assert "refusing to grade: a kernel cannot import sparsekit" in message
    assert not (tmp_path / "out" / f"{students.NAME}.csv").exists()
