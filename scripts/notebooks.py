"""Launchable notebooks for the book's chapters (`make notebooks`).

Colab and Binder cannot open MyST markdown, so every executable chapter
`book/**/X.md` has a paired `X.ipynb` beside it (jupytext, no outputs), which
the theme's launch buttons link instead. The `.md` stays the source: this script
rewrites the pairs from it, and `tests/test_launch.py` fails when they drift.

Every chapter's first code cell installs the course package when it is not
importable (Colab, a bare Binder or JupyterLab); in the book build it is a no-op.
The assignments' locked `setup` cells (in `solutions/`) get the same lines, right
before their first `import keras`; `python -m grading release` then carries them
into `exercises/` (`make notebooks` runs both).

Usage: python scripts/notebooks.py [--check]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
INSTALL_MARKER = "# Opened without the course package (Colab, Binder)?"


def repository_url() -> str:
    """The repository the launch buttons use (`_config.yml`'s `repository.url`)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return config["repository"]["url"].rstrip("/")


def install_source() -> str:
    """The source of the install cell, for the repository `_config.yml` names."""
    spec = f"sparsekit[notebooks] @ git+{repository_url()}@main"
    return (
        f"{INSTALL_MARKER} Install it (a no-op where it is installed).\n"
        "try:\n"
        "    import sparsekit  # noqa: F401\n"
        "except ImportError:\n"
        f'    %pip install --quiet "{spec}"'
    )


def chapters() -> list[Path]:
    """Every page of `_toc.yml` that is an executable notebook (has a kernelspec)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    names = [toc["root"]]
    for part in toc["parts"]:
        names += [chapter["file"] for chapter in part["chapters"]]
    pages = [ROOT / f"{name}.md" for name in names]
    return [page for page in pages if "\nkernelspec:" in page.read_text("utf-8")]


def with_install_cell(text: str) -> str:
    """The chapter's MyST text with the install cell before its first code cell."""
    cell = (
        "```{code-cell} ipython3\n:tags: [remove-cell]\n\n"
        f"{install_source()}\n```\n\n"
    )
    if INSTALL_MARKER in text:  # replace the old one (the URL may have changed)
        start = text.rindex("```{code-cell}", 0, text.index(INSTALL_MARKER))
        end = text.index("```\n", text.index(INSTALL_MARKER)) + len("```\n")
        end += len(text[end:]) - len(text[end:].lstrip("\n"))
        return text[:start] + cell + text[end:]
    first = text.index("```{code-cell}")
    return text[:first] + cell + text[first:]


def assignment_sources() -> list[Path]:
    return sorted((ROOT / "solutions").glob("*/*.ipynb"))


def with_install_lines(setup: str) -> str:
    """An assignment's setup cell with the install lines before `import keras`."""
    if INSTALL_MARKER in setup:
        start = setup.index(INSTALL_MARKER)
        end = setup.index("\n\n", start) + 2
        setup = setup[:start] + setup[end:]
    first_import = setup.index("\nimport keras\n") + 1
    return f"{setup[:first_import]}{install_source()}\n\n{setup[first_import:]}"


def _setup_cell(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return next(
        cell
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "setup"
    )


def paired_notebook(page: Path) -> nbformat.NotebookNode:
    """The notebook jupytext reads from the chapter (what the pair must hold)."""
    notebook = jupytext.read(page)
    notebook.metadata.pop("jupytext", None)
    # Stable cell ids (jupytext draws random ones), so a rewrite changes nothing.
    for index, cell in enumerate(notebook.cells):
        digest = hashlib.sha1(f"{index}\n{cell.source}".encode()).hexdigest()
        cell.id = digest[:12]
    return notebook


def comparable(notebook: nbformat.NotebookNode) -> list[tuple[str, str, tuple]]:
    return [
        (cell.cell_type, cell.source, tuple(cell.metadata.get("tags", ())))
        for cell in notebook.cells
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="only report drift, write nothing"
    )
    args = parser.parse_args(argv)
    stale = []
    for page in chapters():
        text = page.read_text(encoding="utf-8")
        fixed = with_install_cell(text)
        pair = page.with_suffix(".ipynb")
        if args.check:
            in_sync = pair.exists() and comparable(nbformat.read(pair, 4)) == (
                comparable(paired_notebook(page))
            )
            if fixed != text or not in_sync:
                stale.append(page.relative_to(ROOT))
            continue
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")
        nbformat.write(paired_notebook(page), pair)
    for source in assignment_sources():
        notebook = nbformat.read(source, as_version=4)
        setup = _setup_cell(notebook)
        fixed = with_install_lines(setup.source)
        if fixed == setup.source:
            continue
        if args.check:
            stale.append(source.relative_to(ROOT))
        else:
            setup.source = fixed
            nbformat.write(notebook, source)
    for page in stale:
        print(f"out of date: {page} (run `make notebooks`)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
