"""The sandbox as an ordinary user: bubblewrap's `--unshare-user`, no setpriv/cgroups.

`python -m grading run` really runs as a non-root uid here, so `_launch.py` and
`sandbox.py` take their non-root path. Run as root (CI), the test drops to `UID`
with `setpriv`, inside an outer bubblewrap (a mount namespace only) where folders
that uid cannot enter on the way to the interpreter (e.g. `/root`, mode 0700, above
a pyenv Python) are replaced by a 0755 tmpfs with just the needed paths bound back.
Run as an ordinary user, the command runs as that user, unchanged.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from . import students, students_isolation
from .conftest import REPO, digest, read_csv

UID = 65534  # `nobody` on Debian: an account, as a laptop user has one
BASE_ARGS = ["--workers", "2", "--timeout", "6", "--cpu-seconds", "9"]
BASE_ARGS += ["--memory-mb", "1536", "--nproc", "64"]


def _bwrap_has(option: str) -> bool:
    out = subprocess.run(["bwrap", "--help"], capture_output=True, text=True)
    return option in out.stdout


def _identity(uid: int, nested_userns: bool) -> dict[str, str]:
    """`squares` is right only if the kernel runs as `uid` in a user namespace of
    its own, without capabilities, and can(not) make nested user namespaces."""
    code = (
        "import os, subprocess\n"
        "STATUS = dict(l.split(':', 1) for l in open('/proc/self/status'))\n"
        "MAP = open('/proc/self/uid_map').read().split()\n"
        "try:\n"
        "    done = subprocess.run(['unshare', '-U', 'true'], capture_output=True)\n"
        "    NESTED = done.returncode == 0\n"
        "except OSError:\n"
        "    NESTED = None\n"
        f"OK = (os.getuid(), os.geteuid()) == ({uid}, {uid})\n"
        f"OK = OK and MAP[0] == '{uid}' and MAP[2:] == ['1']\n"
        "OK = OK and int(STATUS['CapEff'], 16) == 0\n"
        f"OK = OK and NESTED is {nested_userns}\n"
        "def squares(n):\n    return [i * i for i in range(n)] if OK else []"
    )
    return {"squares": code}


def _needed_paths() -> list[str]:
    """What the grader and its kernels read: interpreter, venv, repository."""
    paths = {sys.base_prefix, sys.prefix, str(REPO), os.path.dirname(sys.executable)}
    found = sorted({os.path.realpath(p) for p in paths})
    return [p for p in found if not any(p.startswith(o + os.sep) for o in found)]


def _can_enter(path: str, uid: int, gid: int) -> bool:
    st = os.stat(path)
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _masks(uid: int, gid: int) -> list[str]:
    """bwrap arguments: each folder `uid` cannot enter on the way to a needed path
    becomes a 0755 tmpfs, with the needed paths below it bound back read-only."""
    args: list[str] = []
    masked: set[str] = set()
    for path in _needed_paths():
        parts = path.split("/")
        ancestors = ["/".join(parts[:i]) for i in range(2, len(parts))]
        top = next((a for a in ancestors if not _can_enter(a, uid, gid)), None)
        if top is None:
            continue
        if top not in masked:
            masked.add(top)
            args += ["--perms", "0755", "--tmpfs", top]
        for folder in ancestors[ancestors.index(top) + 1 :]:
            if folder not in masked:
                masked.add(folder)
                args += ["--perms", "0755", "--dir", folder]
        args += ["--ro-bind", path, path]
    return args


def _as_user() -> tuple[list[str], int, int, dict[str, str]]:
    """The command prefix that runs as a non-root uid, that uid and gid, its env."""
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed: no sandbox, as root or not")
    env = dict(os.environ)
    if os.getuid() != 0:
        prefix, uid, gid = [], os.getuid(), os.getgid()
    else:
        if shutil.which("setpriv") is None:
            pytest.skip("root without setpriv: cannot switch to a non-root uid")
        uid = UID
        try:
            name, gid = pwd.getpwuid(uid).pw_name, pwd.getpwuid(uid).pw_gid
        except KeyError:
            name, gid = "student", uid
        prefix = ["bwrap", "--die-with-parent", "--dev-bind", "/", "/"]
        prefix += _masks(uid, gid) + ["--", "setpriv", f"--reuid={uid}"]
        prefix += [f"--regid={gid}", "--clear-groups", "--inh-caps=-all"]
        env.update(USER=name, LOGNAME=name)
        for key in list(env):
            if key.startswith(("XDG_", "JUPYTER_", "IPYTHON")) or key == "TMPDIR":
                del env[key]
    check = prefix + ["bwrap", "--unshare-user", "--ro-bind", "/", "/", "true"]
    done = subprocess.run(check, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        pytest.skip(
            f"uid {uid} cannot make a user namespace with bwrap, so the non-root "
            f"sandbox cannot work here: {done.stderr.strip()}"
        )
    return prefix, uid, gid, env


@pytest.fixture(scope="module")
def unprivileged_run(course, release_nb):
    """Clean and a few hostile students, graded by `python -m grading` as non-root."""
    prefix, uid, gid, env = _as_user()
    # Under /tmp, not pytest's tmp folder: that one is 0700 and owned by root.
    base = Path(tempfile.mkdtemp(prefix="sk-unpriv-", dir="/tmp"))
    try:
        own_course, subs, out = base / "course", base / "subs", base / "out"
        shutil.copytree(course, own_course)
        students.clean_set(release_nb, subs)
        hostile = students.hostile(own_course, out)
        nested = not _bwrap_has("--disable-userns")  # bubblewrap < 0.8 allows them
        picked = {k: hostile[k] for k in ("h_escape", "h_os_exit", "h_fork")}
        picked["u_identity"] = _identity(uid, nested)
        # No cgroups here: its CPU time is summed over its process tree instead.
        picked["a_setsid"] = students_isolation.hostile()["a_setsid"]
        for student, answers in picked.items():
            nb = students.fill(release_nb, {**students.SOLUTION, **answers})
            students.write(subs, student, nb)
        (base / "home").mkdir()
        env["HOME"] = str(base / "home")
        if os.getuid() == 0:
            for path in [base, *base.rglob("*")]:
                os.lchown(path, uid, gid)
        before = digest(own_course)
        cmd = prefix + [sys.executable, "-m", "grading", "--course", str(own_course)]
        cmd += ["run", students.NAME, "--submissions", str(subs), "--out", str(out)]
        done = subprocess.run(
            cmd + BASE_ARGS,
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        yield done, uid, out, before, digest(own_course)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def rows(unprivileged_run):
    done, _, out, _, _ = unprivileged_run
    assert "cannot sandbox" not in done.stderr, done.stderr  # the self-probe passed
    assert done.returncode == 0, done.stderr
    return read_csv(out / f"{students.NAME}.csv")


def test_self_probe_passes_and_the_grader_is_not_root(unprivileged_run, rows):
    _, uid, out, _, _ = unprivileged_run
    assert uid != 0
    assert (out / f"{students.NAME}.csv").stat().st_uid == uid


def test_clean_scores_match_the_root_run(rows):
    got = {s: (rows[s]["score"], rows[s]["max_score"], rows[s]["status"]) for s in rows}
    assert {s: got[s] for s in ("solution", "untouched", "partial")} == {
        "solution": ("7", "9", "graded"),
        "untouched": ("0", "9", "graded"),
        "partial": ("3.5", "9", "graded"),
    }


@pytest.mark.parametrize(
    "student, score, status, reason",
    [
        # Right only if nothing leaked: solutions, other students, gradebook,
        # the output CSV, network, disk (what test_hostile expects as root).
        ("h_escape", "7", "graded", ""),
        ("h_os_exit", "", "failed", "kernel died"),
        # Own user namespace, the grader's uid, no capabilities.
        ("u_identity", "7", "graded", ""),
        # 16 setsid'd busy children: over the CPU limit all together.
        ("a_setsid", "", "failed", "CPU time"),
    ],
)
def test_hostile(rows, student, score, status, reason):
    row = rows[student]
    assert (row["score"], row["status"]) == (score, status), row
    assert reason in row["reason"], row


def test_warns_that_kernels_get_no_cpu_share(unprivileged_run, rows):
    done, *_ = unprivileged_run
    assert "no CPU cgroup per kernel" in " ".join(done.stderr.split())


def test_fork_bomb_earns_nothing_extra(rows):
    row = rows["h_fork"]
    if row["status"] == "failed":
        assert row["score"] == "" and "kernel" in row["reason"]
    else:
        assert float(row["score"]) <= 5


def test_course_untouched(unprivileged_run):
    _, _, _, before, after = unprivileged_run
    assert before == after
