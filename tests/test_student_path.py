"""The student guide's set-up, tried as a student without a clone would.

The guide's one install command runs in a fresh virtual environment, with the
repository URL resolved to this checkout (`git+file://` at HEAD, so only committed
files count, as on GitHub); then every released notebook's set-up cell runs in that
environment's kernel, and the Colab path (sparsekit missing, the cell installs it)
runs once.
"""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import notebooks  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "book" / "appendix" / "student-guide.md"
RELEASES = sorted((ROOT / "exercises").glob("*/*.ipynb"))
CHECK_IMPORT = (
    "import sys, sparsekit\n"
    "assert sparsekit.__file__.startswith(sys.prefix), sparsekit.__file__\n"
    "print('sparsekit', sparsekit.__version__, 'from', sparsekit.__file__)"
)


def repository():
    """`(url, branch)` as `_config.yml` names them."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return config["repository"]["url"].rstrip("/"), config["repository"]["branch"]


def guide_install_command() -> list[str]:
    """The guide's `pip install` command, continuation lines joined, as argv."""
    text = GUIDE.read_text(encoding="utf-8").replace("\\\n", " ")
    commands = [line for line in text.splitlines() if "bin/pip install" in line]
    assert len(commands) == 1, "the guide should give exactly one install command"
    return shlex.split(commands[0])


def test_guide_installs_from_the_configured_repository_with_the_pins():
    url, branch = repository()
    argv = guide_install_command()
    org_repo = url.split("github.com/")[1]
    constraints = (
        f"https://raw.githubusercontent.com/{org_repo}/{branch}/constraints.txt"
    )
    assert argv[argv.index("-c") + 1] == constraints
    spec = f"sparsekit[cpu,notebooks] @ git+{url}@{branch}"
    assert spec in argv
    assert {"jupyterlab", "nbgrader"} <= set(argv)
    # The notebooks' own install cell names the same repository and branch.
    assert f"git+{url}@{branch}" in notebooks.install_source()


def local_argv(venv: Path) -> tuple[list[str], str]:
    """The guide's command with its URLs resolved to this checkout."""
    url, branch = repository()
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    argv = guide_install_command()
    argv[0] = str(venv / "bin" / "pip")
    argv[argv.index("-c") + 1] = str(ROOT / "constraints.txt")
    # `file://localhost/` rather than `file:///`: older pips want a host part.
    local = f"git+file://localhost{ROOT}@{head}"
    return [a.replace(f"git+{url}@{branch}", local) for a in argv], local


def clean_env() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env["KERAS_BACKEND"] = "tensorflow"
    return env


def run_cells(venv: Path, sources: list[str], folder: Path, name: str):
    """Executes the cells in a kernel of `venv`; returns the executed notebook."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    path = folder / f"{name}.ipynb"
    nbformat.write(notebook, path)
    done = subprocess.run(
        [str(venv / "bin" / "jupyter"), "nbconvert", "--to", "notebook", "--execute"]
        + ["--ExecutePreprocessor.timeout=300", "--inplace", str(path)],
        cwd=folder,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return nbformat.read(path, as_version=4)


def outputs(notebook) -> str:
    return "".join(
        o.get("text", "") for c in notebook.cells for o in c.get("outputs", [])
    )


@pytest.mark.slow
def test_one_install_step_then_every_release_sets_up(tmp_path):
    venv = tmp_path / "sparse-env"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    argv, local = local_argv(venv)
    install = subprocess.run(
        argv, cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=900
    )
    assert install.returncode == 0, install.stderr[-3000:]

    work = tmp_path / "sparse-exercises"  # a student's folder, far from the repo
    work.mkdir()
    for release in RELEASES:
        setup = notebooks._setup_cell(nbformat.read(release, as_version=4))
        done = run_cells(venv, [setup.source, CHECK_IMPORT], work, release.stem)
        assert f"from {venv}" in outputs(done), release.name

    # Colab: no sparsekit yet, so the set-up cell's %pip install must bring it.
    pip = str(venv / "bin" / "pip")
    subprocess.run([pip, "uninstall", "-y", "sparsekit"], check=True, env=clean_env())
    url, branch = repository()
    setup = notebooks._setup_cell(nbformat.read(RELEASES[0], as_version=4)).source
    assert f"git+{url}@{branch}" in setup
    setup = setup.replace(f"git+{url}@{branch}", local)
    done = run_cells(venv, [setup, CHECK_IMPORT], work, "colab")
    assert f"from {venv}" in outputs(done)
