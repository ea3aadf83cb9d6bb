"""How readers reach the course: paired notebooks, Binder files, the Pages workflow."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml
from pip._internal.network.session import PipSession
from pip._internal.req.req_file import parse_requirements

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def _load_notebooks_script():
    spec = importlib.util.spec_from_file_location(
        "notebooks", ROOT / "scripts" / "notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


notebooks = _load_notebooks_script()
CHAPTERS = notebooks.chapters()


def test_every_executable_chapter_is_found():
    names = {page.stem for page in CHAPTERS}
    assert "intro" in names and "17-conclusion" in names
    assert len(CHAPTERS) >= 17


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.stem)
def test_paired_notebook_matches_its_chapter(page):
    pair = page.with_suffix(".ipynb")
    assert pair.is_file(), f"{pair.relative_to(ROOT)} missing: run `make notebooks`"
    stored = nbformat.read(pair, as_version=4)
    nbformat.validate(stored)
    assert notebooks.comparable(stored) == notebooks.comparable(jupytext.read(page)), (
        f"{pair.relative_to(ROOT)} is out of date: run `make notebooks`"
    )
    assert all(not cell.get("outputs") for cell in stored.cells)
    # ids are derived from the cells, so `make notebooks` rewrites nothing
    fresh = notebooks.paired_notebook(page)
    assert [c.id for c in stored.cells] == [c.id for c in fresh.cells]
    assert stored.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.stem)
def test_first_code_cell_installs_the_course_package(page):
    first = next(c for c in jupytext.read(page).cells if c.cell_type == "code")
    assert first.source == notebooks.install_source()
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert f"git+{url.rstrip('/')}@main" in first.source
    assert "remove-cell" in first.metadata.get("tags", [])


def test_install_cell_is_a_no_op_where_sparsekit_imports():
    """The cell's code runs in IPython; here sparsekit imports, so pip never runs."""
    from IPython.core.inputtransformer2 import TransformerManager

    code = TransformerManager().transform_cell(notebooks.install_source())
    calls = []

    class Shell:
        def run_line_magic(self, *args):
            calls.append(args)

    exec(compile(code, "<install cell>", "exec"), {"get_ipython": Shell})
    assert calls == []
    assert "run_line_magic('pip'" in code
    # Where the import fails, the same code calls %pip with the repository spec.
    failing = code.replace("import sparsekit", "import sparsekit_not_installed")
    exec(compile(failing, "<install cell>", "exec"), {"get_ipython": Shell})
    assert len(calls) == 1 and calls[0][0] == "pip"
    assert "sparsekit[notebooks] @ git+" in calls[0][1]


def test_install_cell_rewrite_is_idempotent_and_follows_the_url(monkeypatch):
    text = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    assert notebooks.with_install_cell(text) == text
    real_url = notebooks.repository_url()
    monkeypatch.setattr(notebooks, "repository_url", lambda: "https://example.org/x/y")
    moved = notebooks.with_install_cell(text)
    assert moved.count(notebooks.INSTALL_MARKER) == 1
    assert "git+https://example.org/x/y@main" in moved
    assert moved.replace("https://example.org/x/y", real_url) == text


def test_check_mode_reports_sync():
    assert notebooks.main(["--check"]) == 0


def test_binder_installs_the_pinned_stack_and_sparsekit():
    requirements = ROOT / "binder" / "requirements.txt"
    pinned = {
        str(req.requirement)
        for req in parse_requirements(str(requirements), session=PipSession())
    }
    constraints = {
        line.strip()
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert pinned == constraints
    post_build = ROOT / "binder" / "postBuild"
    assert post_build.stat().st_mode & 0o111
    assert "pip install --no-deps -e ." in post_build.read_text()


def _run_steps() -> list[str]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    return [
        step["run"]
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if "run" in step
    ]


def _check_workflow(path: Path) -> subprocess.CompletedProcess:
    """check-jsonschema against the GitHub-workflow schema it ships (offline)."""
    checker = Path(sys.executable).with_name("check-jsonschema")
    exe = str(checker) if checker.exists() else shutil.which("check-jsonschema")
    return subprocess.run(
        [exe, "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
    )


def test_pages_workflow_is_valid_and_builds_with_the_makefile_only():
    proc = _check_workflow(WORKFLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _run_steps() == ["make book"]
    text = WORKFLOW.read_text()
    assert "actions/upload-pages-artifact" in text and "actions/deploy-pages" in text
    assert "path: _build/html" in text


def test_schema_check_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  build:\n    steps: 3\n")
    assert _check_workflow(broken).returncode != 0


@pytest.mark.parametrize(
    "source", notebooks.assignment_sources(), ids=lambda p: p.parent.name
)
def test_assignments_install_the_course_package_before_keras(source):
    for notebook_path in (
        source,
        ROOT / "exercises" / source.relative_to(ROOT / "solutions"),
    ):
        setup = notebooks._setup_cell(nbformat.read(notebook_path, as_version=4))
        assert notebooks.install_source() in setup.source, notebook_path
        assert setup.source.index(notebooks.INSTALL_MARKER) < setup.source.index(
            "import keras"
        )
        assert setup.metadata["nbgrader"]["locked"] is True


def test_exercises_page_opens_each_release_in_colab():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    org_repo = config["repository"]["url"].rstrip("/").split("github.com/")[1]
    branch = config["repository"]["branch"]
    prefix = f"https://colab.research.google.com/github/{org_repo}/blob/{branch}/"
    page = (ROOT / "book" / "appendix" / "exercises.md").read_text()
    links = re.findall(r"\(https://colab\.research\.google\.com/[^)]+\)", page)
    targets = sorted(link[1:-1].removeprefix(prefix) for link in links)
    released = sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "exercises").glob("*/*.ipynb")
    )
    assert targets == released
