"""`scripts/system-packages.sh`: how `make book`/`make test` get their apt packages."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "system-packages.sh"


def _run_without(*commands: str) -> subprocess.CompletedProcess:
    """Runs the script as an ordinary user whose PATH has none of `commands`."""
    # Not pytest's tmp_path: its parent is private to root, unreadable to nobody.
    with tempfile.TemporaryDirectory(prefix="syspkg-") as folder:
        return _run_in(Path(folder), commands)


def _run_in(tmp_path: Path, commands) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("id"), bin_dir / "id")
    copy = tmp_path / "system-packages.sh"
    shutil.copy(SCRIPT, copy)
    tmp_path.chmod(0o755)
    argv = ["/bin/bash", str(copy), *commands]
    if os.geteuid() == 0:  # as root the script would install: drop to nobody
        argv = [
            shutil.which("setpriv"),
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            *argv,
        ]
    return subprocess.run(
        argv, env={"PATH": str(bin_dir)}, capture_output=True, text=True, timeout=30
    )


def test_missing_packages_are_named_with_the_exact_command():
    proc = _run_without("bwrap", "chromium", "npm")
    assert proc.returncode == 1
    assert "Missing system packages: bubblewrap chromium nodejs npm" in proc.stderr
    assert (
        "sudo apt-get install -y -qq --no-install-recommends"
        " bubblewrap chromium nodejs npm"
    ) in proc.stderr


def test_commands_on_path_need_nothing():
    # `make test` has installed all three by the time this runs.
    proc = subprocess.run(
        ["/bin/bash", str(SCRIPT), "bwrap", "chromium", "npm"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and proc.stderr == ""


def test_unknown_command_is_an_error():
    proc = subprocess.run(
        ["/bin/bash", str(SCRIPT), "chromium-browser"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "unknown command 'chromium-browser'" in proc.stderr


def test_make_test_and_book_run_the_step():
    dry_run = subprocess.run(
        ["make", "-n", "-B", "test"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    assert "scripts/system-packages.sh bwrap" in dry_run
    assert "scripts/system-packages.sh npm" in dry_run
    assert "scripts/system-packages.sh chromium" in dry_run
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "apt-get" not in ci
