"""Issue 15, holes 1-7 and 14: score bookkeeping and the pre-check.

One sandboxed `python -m grading run` with every hostile student of
hostile_scoring.py beside the clean ones, plus fast checks of the pre-check on
its own (no kernel).
"""

from __future__ import annotations

import time

import nbformat
import pytest

from grading.checks import check_submission

from . import hostile_scoring as hs
from . import students
from .conftest import REPO, grading, read_csv

# student: (score or None when only the flag matters, status, words of the reason)
EXPECTED = {
    # 1. `global score` from the function under test: normalize earns nothing.
    "s_global_score": ("4", "graded", ""),
    # 2. Its own execute_result is ignored; the test's last result counts.
    "s_displayhook": ("4", "needs_manual", "results of its own"),
    "s_displayhook_hidden": ("4", "needs_manual", "results of its own"),
    # 3. `locked` on the answer cell, or the cell made markdown: still scanned.
    "s_locked": (None, "needs_manual", "monkeypatches np.allclose in cell normalize"),
    "s_markdown": (None, "needs_manual", "monkeypatches np.allclose in cell normalize"),
    # 4. Subscripted and setattr patches.
    "s_subscript": (None, "needs_manual", "writes into vars(np)"),
    "s_setattr": (None, "needs_manual", "monkeypatches np.testing via setattr"),
    # 5. Delegating to the library function the exercise asks for.
    "s_forbidden_alias": (None, "needs_manual", "uses sparsekit (not allowed"),
    "s_forbidden_dynamic": (None, "needs_manual", "import"),
    # 6. numpy.py set aside: real numpy, honest score (squares only).
    "s_numpy_shim": ("2", "needs_manual", "extra files set aside, not run (code"),
    # 7. Transformers and trace hooks are reset before every test: honest scores.
    "s_transform_tests": ("0", "needs_manual", "getattr with a computed name"),
    "s_transform_canary": ("0", "needs_manual", "getattr with a computed name"),
    "s_trace": ("4", "needs_manual", "getattr with a computed name"),
    "s_interactivity": ("4", "needs_manual", "getattr with a computed name"),
    # ... and what a reset cannot undo is caught by the canaries.
    "s_result_patch": ("", "failed", "cannot be trusted"),
    # Found while here: answers that compare equal to anything.
    "s_always_equal": (None, "needs_manual", "defines __eq__"),
    # 14. Each is that student's row, never the end of the run.
    "p_deep": ("7", "graded", ""),
    "p_meta_string": ("", "failed", "nbgrader metadata is not a mapping"),
    "p_points": ("", "failed", "points is not a number"),
}
CLEAN = ("solution", "untouched", "partial")


@pytest.fixture(scope="module")
def scoring_run(course, release_nb, tmp_path_factory):
    base = tmp_path_factory.mktemp("scoring")
    hs.hostile_set(release_nb, base / "subs")
    out = base / "out"
    done = grading(
        "--course", str(course), "run", students.NAME, "--submissions",
        str(base / "subs"), "--out", str(out), "--workers", "2", "--timeout", "20",
        "--memory-mb", "3072",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out, read_csv(out / f"{students.NAME}.csv")


def test_every_student_has_a_row(scoring_run):
    _, rows = scoring_run
    assert set(rows) == set(EXPECTED) | set(CLEAN) | {"p_slow", "p_magics"}


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_hostile_scores_only_what_it_earns(scoring_run, student):
    _, rows = scoring_run
    score, status, reason = EXPECTED[student]
    row = rows[student]
    assert (row["status"], reason in row["reason"]) == (status, True), row
    if score is not None:
        assert row["score"] == score, row


@pytest.mark.parametrize("student", ["p_slow", "p_magics"])
def test_magic_heavy_cells_are_graded_within_the_limits(scoring_run, student):
    """501 `%pwd` lines, and a 22 KB cell of magics: the pre-check is quick and
    IPython itself cannot run them (in time): the answer there earns nothing."""
    _, rows = scoring_run
    row = rows[student]
    assert row["status"] != "failed" and row["score"] in ("4", "5"), row
    assert row["score"] == {"p_slow": "4", "p_magics": "5"}[student], row
    assert "pre-check" not in row["reason"], row


def test_classmates_are_graded_as_in_a_clean_run(scoring_run, clean_runs):
    _, rows = scoring_run
    clean = read_csv(clean_runs[1] / f"{students.NAME}.csv")
    assert {s: rows[s] for s in CLEAN} == {s: clean[s] for s in CLEAN}


def test_no_result_of_the_guards_reaches_feedback(scoring_run):
    out, rows = scoring_run
    for student in ("solution", "s_transform_canary", "s_displayhook"):
        page = out / "feedback" / student / students.NAME / f"{students.NAME}.html"
        text = page.read_text()
        assert "HIDDEN-CANARY" not in text and "_sk_it2" not in text, student


def _release_with(tmp_path, assignment: str, cells: dict[str, str]):
    release = REPO / "exercises" / assignment
    nb = nbformat.read(release / f"{assignment}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in cells:
            cell.source = cells[cell.metadata.nbgrader.grade_id]
    nbformat.write(nb, tmp_path / f"{assignment}.ipynb")
    return release


@pytest.mark.parametrize(
    "code",
    [
        "from sparsekit.metrics import hoyer as h\ndef hoyer(x):\n    return h(x)",
        "def hoyer(x):\n    return getattr(sk.metrics, 'hoy' + 'er')(x)",
        "import sparsekit.metrics as m\ndef hoyer(x):\n    return m.hoyer(x)",
        "import importlib\ndef hoyer(x):\n"
        "    return importlib.import_module('sparsekit.' + 'metrics').hoyer(x)",
        "def hoyer(x):\n    return __import__('sparsekit').metrics.hoyer(x)",
        "f = sk.metrics\ndef hoyer(x):\n    return f.hoyer(x)",
        "def hoyer(x):\n    return vars(sk.metrics)['hoyer'](x)",
    ],
)
def test_forbidden_calls_are_seen_however_spelled(tmp_path, code):
    release = _release_with(tmp_path, "sparsity_metrics", {"hoyer": code})
    found = check_submission(tmp_path, release)
    assert not found.failed and any("cell hoyer" in m for m in found.manual), found


def test_delegating_through_a_helper_in_another_cell_is_seen(tmp_path):
    # The helper sits in an answer where sparsekit is allowed (k_winners part 2).
    cells = {
        "topk_layer": "def _helper(x, k):\n    return sk.ops.topk_mask(x, k)",
        "topk_mask": "def topk_mask(x, k):\n    return _helper(x, k)",
    }
    found = check_submission(tmp_path, _release_with(tmp_path, "k_winners", cells))
    assert any("in cell topk_mask" in m for m in found.manual), found


def test_an_answer_redefined_in_another_cell_is_seen(tmp_path):
    cells = {"topk_layer": "topk_mask = lambda x, k: sk.ops.topk_mask(x, k)"}
    found = check_submission(tmp_path, _release_with(tmp_path, "k_winners", cells))
    assert any("redefines topk_mask" in m for m in found.manual), found


def test_the_solutions_raise_no_flag(tmp_path):
    for source in sorted((REPO / "solutions").glob("*/*.ipynb")):
        answers = {
            c.metadata.nbgrader.grade_id: c.source
            for c in nbformat.read(source, as_version=4).cells
            if c.metadata.get("nbgrader", {}).get("solution")
        }
        folder = tmp_path / source.parent.name
        folder.mkdir()
        release = _release_with(folder, source.parent.name, answers)
        found = check_submission(folder, release, folder / "aside", seconds=60)
        assert (found.failed, found.manual) == ([], []), source.name


def test_precheck_is_linear_and_bounded(tmp_path, release_nb):
    """4x the cell that took ~92 s (IPython's transform is magics x lines)."""
    nb = students.fill(release_nb, {"squares": hs.SLOW * 4})
    folder = students.write(tmp_path, "p", nb).parent
    started = time.monotonic()
    found = check_submission(folder, release_nb.parent, seconds=60)
    assert time.monotonic() - started < 5 and not found.failed, found
    found = check_submission(folder, release_nb.parent, seconds=0)
    assert found.failed and "ran past" in found.failed[0], found


WRONG_GINI = "    return np.zeros(np.asarray(x).shape[0])"
REAL = {
    "broken": f"def gini(x):\n{WRONG_GINI}",
    # The course's own test cells: the score is a local of `_test()`.
    "global_score": f"def gini(x):\n    global _score\n    _score = 99.0\n{WRONG_GINI}",
    "displayhook": "import sys as _s\ndef gini(x):\n"
    f"    getattr(_s, 'display' + 'hook')(2.0)\n{WRONG_GINI}",
}


@pytest.mark.slow
def test_course_test_cells_keep_the_score_out_of_reach(tmp_path):
    """sparsity_metrics, graded for real: each cheat scores as the plain wrong
    gini does, while the solution keeps every autograded point."""
    name = "sparsity_metrics"
    source = nbformat.read(REPO / "solutions" / name / f"{name}.ipynb", as_version=4)
    answers = {
        c.metadata.nbgrader.grade_id: c.source
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    release = REPO / "exercises" / name / f"{name}.ipynb"
    for student, gini in {"solution": answers["gini"], **REAL}.items():
        nb = nbformat.read(release, as_version=4)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in answers:
                cell.source = gini if grade_id == "gini" else answers[grade_id]
        path = tmp_path / "subs" / student / name / f"{name}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    out = tmp_path / "out"
    done = grading(
        "run", name, "--submissions", str(tmp_path / "subs"), "--out", str(out),
        "--workers", "2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = read_csv(out / f"{name}.csv")
    assert rows["solution"]["status"] == "graded", rows["solution"]
    broken = float(rows["broken"]["score"])
    assert broken < float(rows["solution"]["score"]), rows
    for student in ("global_score", "displayhook"):
        assert float(rows[student]["score"]) == broken, rows[student]
    assert rows["global_score"]["status"] == "graded", rows["global_score"]
    assert "results of its own" in rows["displayhook"]["reason"], rows["displayhook"]


def test_extra_files_leave_the_folder_and_links_are_not_walked(tmp_path, release_nb):
    folder = students.write(tmp_path, "x", students.fill(release_nb, {})).parent
    (folder / "pkg").mkdir()
    (folder / "pkg" / "__init__.py").write_text("")
    (folder / "data.csv").write_text("1,2")
    (folder / "root").symlink_to("/")
    aside = tmp_path / "aside"
    found = check_submission(folder, release_nb.parent, set_aside=aside, seconds=10)
    assert sorted(p.name for p in folder.iterdir()) == [release_nb.name]
    assert (aside / "pkg" / "__init__.py").exists() and (aside / "root").is_symlink()
    assert any("pkg/__init__.py" in m for m in found.manual), found


@pytest.mark.parametrize(
    "test_source",
    ['"""A test\nover two lines"""\nassert f() == 1', "# a test\n%time x = f()\nx"],
)
def test_canaries_look_like_tests_and_always_run(test_source):
    from grading.canary import METADATA_KEY, AddCanary

    nb = nbformat.v4.new_notebook()
    answer = nbformat.v4.new_code_cell("def f():\n    return 1")
    answer.metadata["nbgrader"] = {"solution": True, "grade_id": "f"}
    test = nbformat.v4.new_code_cell(test_source)
    test.metadata["nbgrader"] = {"grade": True, "grade_id": "t", "points": 1}
    nb.cells = [answer, test]
    nb, resources = AddCanary().preprocess(nb, {})
    state = resources[METADATA_KEY]
    added = {c.id: c.source for c in nb.cells[1:] if c is not test}
    assert set(added) == {state["cell_id"], state["result_id"]}
    assert nb.cells[0] is answer  # never before the student's code
    for source in added.values():
        compile(source, "<canary>", "exec")
    assert added[state["cell_id"]].startswith(test_source.splitlines()[0]) == (
        test_source.startswith("#")
    )
