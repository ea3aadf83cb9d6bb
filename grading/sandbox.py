"""Grader side of the kernel sandbox: policies, kernelspecs, self-test, clean-up.

Each student gets a kernelspec folder of its own (selected through the worker's
JUPYTER_PATH) whose argv runs `_launch.py` with that student's policy file: a
distinct unprivileged uid (as root), its own unix-socket folder and cgroup name.
"""

from __future__ import annotations

import json
import os
import pwd
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

KERNEL_NAME = "sk-sandbox"
UID_BASE = 2_000_000  # far above any account on the machine: no /etc/passwd edits
GiB = 1 << 30
IPC_TMPFS = "1m"  # sockets and the connection file: a few KiB


@dataclass(frozen=True)
class Limits:
    """Resource limits for one student's kernel."""

    memory_bytes: int = 4 * GiB  # RLIMIT_AS and the memory cgroup; TF needs >= 2 GiB
    cpu_seconds: int = 600
    file_bytes: int = 256 << 20
    tmpfs_bytes: int = 256 << 20
    nproc: int = 512  # threads count too: TF starts dozens
    cpu_cores: float = 0  # CPU quota per kernel (cgroups; 0: none, share only)
    # BLAS threads per kernel (0: library default). One thread per core in each of
    # N parallel kernels made small numpy products 10-25x slower here.
    blas_threads: int = 0


def sandbox_problem() -> str | None:
    """Returns why no sandbox can be made here, or None if bubblewrap is usable."""
    if sys.platform != "linux":
        return "the sandbox needs Linux namespaces"
    for tool in ("bwrap", "setpriv") if os.getuid() == 0 else ("bwrap",):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (Debian: apt-get install -y bubblewrap)"
    return None


# The venv's interpreter by its real path: a venv reached through a link (a
# worktree's `.venv`) is bound at its real place, so the link is not there.
KERNEL_PYTHON = os.path.join(
    os.path.realpath(sys.prefix), "bin", os.path.basename(sys.executable)
)
if not os.path.exists(KERNEL_PYTHON):
    KERNEL_PYTHON = sys.executable
WORKING_COPY = Path(__file__).resolve().parent.parent / "sparsekit"
_FIND = (
    "import importlib.util, os\n"
    "s = importlib.util.find_spec('sparsekit')\n"
    "print(os.path.realpath(s.submodule_search_locations[0]) if s else '')\n"
)


def kernel_sparsekit() -> str | None:
    """Where a kernel's `import sparsekit` leads: run as a kernel is, in an empty
    folder with a cleared environment (the grader's own sys.path, which holds
    the repository, is not the kernel's)."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONNOUSERSITE": "1"}
    with tempfile.TemporaryDirectory() as empty:
        done = subprocess.run(
            [KERNEL_PYTHON, "-c", _FIND],
            cwd=empty,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    return done.stdout.strip() or None


def _read_only_roots(sparsekit: str | None) -> list[str]:
    """What the kernel's interpreter needs: the venv, its base install, sparsekit."""
    roots = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}
    if sparsekit:
        roots.add(sparsekit)
    # Drop roots nested in another root: one bind covers them.
    ordered = sorted(roots)
    return [r for r in ordered if not any(r.startswith(o + os.sep) for o in ordered)]


class Sandbox:
    """Builds per-student kernelspecs under `run_dir` (short path: unix sockets)."""

    def __init__(self, run_dir: Path, limits: Limits) -> None:
        self.run_dir = run_dir
        self.limits = limits
        self.root = os.getuid() == 0
        self.uid_base = UID_BASE + random.randrange(0, 1_000_000, 1000)
        self.launcher = run_dir / "launch.py"
        shutil.copyfile(Path(__file__).with_name("_launch.py"), self.launcher)
        self.launcher.chmod(0o644)
        # Kernels import this checkout's sparsekit (the one the grader and the
        # assignment were made with), not whatever the venv has installed.
        if (WORKING_COPY / "__init__.py").exists():
            self.sparsekit: str | None = str(WORKING_COPY)
        else:
            self.sparsekit = kernel_sparsekit()
        self.ro_binds = _read_only_roots(self.sparsekit)
        self.import_problem: str | None = None  # set by self_test
        self.cpu_accounted = False  # set by self_test: CPU cgroups work here
        self.warning: str | None = None  # set by self_test
        # Older bubblewrap (< 0.8) lacks the option: nested user namespaces stay.
        self.disable_userns = not self.root and _bwrap_has("--disable-userns")

    def kernel_env(self, slot: int) -> dict[str, str]:
        """Environment for the worker that grades the student in `slot`."""
        base = self.run_dir / "ks" / str(slot)
        return {"JUPYTER_PATH": str(base), "JUPYTER_RUNTIME_DIR": str(base / "rt")}

    def ipc_ip(self, slot: int) -> str:
        """`KernelManager.ip` for ipc transport: sockets become `<ip>-<port>`."""
        return str(self.run_dir / "ipc" / str(slot) / "k")

    def prepare(self, slot: int) -> Path:
        """Writes the policy and kernelspec for `slot`; returns the policy path."""
        uid = self.uid_base + slot if self.root else os.getuid()
        if self.root and _uid_taken(uid):
            raise RuntimeError(
                f"uid {uid} belongs to an account; rerun to pick another"
            )
        base = self.run_dir / "ks" / str(slot)
        ipc = self.run_dir / "ipc" / str(slot)
        for folder in (base / "rt", ipc):
            folder.mkdir(parents=True, exist_ok=True)
        os.chmod(ipc, 0o700)
        if self.root:
            os.chown(ipc, uid, uid)
            # The kernel must write its sockets where the grader sees them; a tiny
            # tmpfs there keeps it from filling the grader's disk through them.
            options = f"size={IPC_TMPFS},nr_inodes=64,mode=0700,uid={uid},gid={uid}"
            mount = ["mount", "-t", "tmpfs", "-o", options, "sk-ipc", str(ipc)]
            if _run_quietly(mount):
                (base / "ipc-mount").write_text(str(ipc))
        (base / "passwd").write_text(f"student:x:{uid}:{uid}::/tmp:/bin/sh\n")
        (base / "group").write_text(f"student:x:{uid}:\n")
        policy = {
            "uid": uid,
            "ipc_dir": str(ipc),
            "passwd": str(base / "passwd"),
            "group": str(base / "group"),
            "ro_binds": self.ro_binds,
            "path": f"{Path(KERNEL_PYTHON).parent}:/usr/local/bin:/usr/bin:/bin",
            "cgroup": f"sk-grading-{self.uid_base}-{slot}",
            "cgroup_record": str(base / "cgroups"),
            "launched_record": str(base / "launched"),  # bwrap's pid, per kernel
            "disable_userns": self.disable_userns,
            "cpu_quota_us": int(self.limits.cpu_cores * 100_000),
            # Only the sparsekit bind is visible in that folder in the sandbox.
            "pythonpath": os.path.dirname(self.sparsekit) if self.sparsekit else "",
            **self.limits.__dict__,
        }
        policy_path = base / "policy.json"
        policy_path.write_text(json.dumps(policy, indent=1))
        spec_dir = base / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True, exist_ok=True)
        spec = {
            "argv": [sys.executable, "-I", str(self.launcher), str(policy_path)]
            + [KERNEL_PYTHON, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (grading sandbox)",
            "language": "python",
            # SIGINT to the process group would hit bwrap: interrupt by message.
            "interrupt_mode": "message",
        }
        (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
        return policy_path

    def cleanup(self, slot: int) -> None:
        """Kills what is left in the slot's cgroups, removes them, unmounts its ipc."""
        base = self.run_dir / "ks" / str(slot)
        record = base / "cgroups"
        if record.exists():
            paths = set(record.read_text().split())
            for path in sorted(paths, key=lambda p: -p.count("/")):  # inner first
                _remove_cgroup(Path(path))
        (base / "launched").unlink(missing_ok=True)
        if (base / "ipc-mount").exists():
            ipc = (base / "ipc-mount").read_text()
            _run_quietly(["umount", "-l", ipc])
            (base / "ipc-mount").unlink()

    def cpu_guard(self, slot: int) -> CpuGuard:
        """Watches the slot's kernels' CPU time; see CpuGuard."""
        base = self.run_dir / "ks" / str(slot)
        return CpuGuard(base / "cgroups", base / "launched", self.limits.cpu_seconds)

    def self_test(self, workdir: Path) -> str | None:
        """Runs a probe through the launcher; returns a problem or None if sound."""
        slot = 10**5 - 1  # a slot number no student gets
        policy = self.prepare(slot)
        secret = workdir / "secret.txt"
        secret.write_text("hidden")
        cwd = self.run_dir / "probe"
        cwd.mkdir(exist_ok=True)
        (cwd / "data.txt").write_text("visible")
        (cwd / "graded.ipynb").write_text("{}")  # nbgrader's copy: hidden tests
        link = cwd / "link.txt"
        if not link.is_symlink():
            link.symlink_to(secret)
        checks = _PROBE.format(
            secret=str(secret), root=self.root, no_userns=self.disable_userns
        )
        cmd = [sys.executable, "-I", str(self.launcher), str(policy)]
        cmd += [KERNEL_PYTHON, "-c", checks]
        try:
            out = subprocess.run(
                cmd, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
            )
        except subprocess.TimeoutExpired:
            return "the sandbox self-test timed out"
        finally:
            record = self.run_dir / "ks" / str(slot) / "cgroups"
            made = record.read_text().split() if record.exists() else []
            self.cpu_accounted = any(_usage_file(Path(p)) for p in made)
            self.cleanup(slot)
        if out.returncode != 0 or "PROBE-OK" not in out.stdout:
            detail = (out.stderr or out.stdout).strip().splitlines()[-3:]
            return "the sandbox self-test failed: " + " | ".join(detail)
        found = re.search(r"^SPARSEKIT=(.*)$", out.stdout, re.M)[1].strip()
        self.import_problem = sparsekit_problem(found, self.sparsekit)
        if not self.cpu_accounted:
            self.warning = (
                "no CPU cgroup per kernel here (needs root and a writable cgroup "
                "hierarchy): a submission's processes share the CPU with its "
                "classmates' (its CPU time limit still counts all of them)"
            )
        return None


# Runs inside the sandbox: every claim the grader relies on, checked for real.
_PROBE = """
import os, socket, sys
import zmq, ipykernel  # the kernel's own imports must resolve
assert not os.path.exists({secret!r}), "grader files visible"
assert open("data.txt").read() == "visible", "submission files not visible"
assert not os.path.exists("graded.ipynb"), "the graded notebook is visible"
assert not os.path.exists("link.txt"), "links in the notebook folder followed"
open("scratch.txt", "w").write("x")  # the notebook folder is writable
try:
    open("data.txt", "w")
    raise AssertionError("submission files writable")
except OSError:
    pass
if {root}:
    assert os.getuid() != 0 and os.geteuid() != 0, "kernel runs as root"
try:
    open("/probe.txt", "w")  # as non-root the kernel owns / (a bwrap tmpfs)
    raise AssertionError("/ writable")
except OSError:
    pass
if {no_userns}:  # unshare(CLONE_NEWUSER) must fail
    import ctypes
    assert ctypes.CDLL(None).unshare(0x10000000) != 0, "nested user namespaces"
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    raise AssertionError("network reachable")
except OSError:
    pass
assert os.getpid() < 10, "no PID namespace"
import importlib.util  # exactly as a kernel's `import sparsekit` resolves
spec = importlib.util.find_spec("sparsekit")
where = ""  # an unreadable package is found as an empty namespace package
if spec is not None and spec.origin and os.access(spec.origin, os.R_OK):
    where = os.path.dirname(os.path.realpath(spec.origin))
print("SPARSEKIT=" + where)
print("PROBE-OK")
"""


def sparsekit_problem(found: str, mounted: str | None) -> str | None:
    """Why a kernel would not run the sparsekit the grader chose, if it would not.

    `found`: where the probe's kernel imports it from ("" if nowhere).
    """
    if mounted is None:
        return None  # no checkout beside the tool and none installed: not needed
    if not found:
        return (
            f"a kernel cannot import sparsekit from {mounted} (is it readable by "
            "other users?): every test using it would fail"
        )
    if found != mounted:
        return (
            f"a kernel imports sparsekit from {found}, not from {mounted}: "
            "students would be graded against another version"
        )
    return None


class CpuGuard:
    """While grading one student, polls the CPU time of each of its kernels'
    cgroups, all processes together (setsid'd ones too: RLIMIT_CPU counts each
    alone), and kills the kernel's processes once it exceeds `limit` seconds.

    `with guard:`; afterwards `guard.exceeded` says whether it had to. Where no
    cgroup could be made (not root), it sums the CPU times in /proc of each
    kernel's process tree instead (below its `bwrap`, whose pid the launcher
    records): setsid'd children stay in that tree; reaped ones count in their
    reaper's `cutime`.
    """

    def __init__(
        self, record: Path, launched: Path, limit: float, every: float = 0.2
    ) -> None:
        self.record, self.launched = record, launched
        self.limit, self.every = limit, every
        self.exceeded = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> CpuGuard:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(self.every):
            paths = [Path(p) for p in _words(self.record)]
            paths = [p for p in paths if _usage_file(p)]
            for path in paths:
                used = _cpu_seconds(path)
                if used is not None and used > self.limit:
                    self.exceeded = True
                    _kill_all(path)
            if paths:
                continue
            launched = [int(pid) for pid in _words(self.launched)]
            if launched:
                tree = _process_table()
                for pid in launched:
                    below = _descendants(tree, pid)
                    if sum(tree[p][1] for p in below) > self.limit:
                        self.exceeded = True
                        for p in below:
                            _kill(p)


def _words(path: Path) -> list[str]:
    try:
        return path.read_text().split()
    except OSError:
        return []


def _process_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds of it and its reaped children)."""
    tick = os.sysconf("SC_CLK_TCK")
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        # After the command: state, ppid, ..., utime stime cutime cstime (12-15).
        times = sum(int(t) for t in fields[11:15]) / tick
        table[int(name)] = (int(fields[1]), times)
    return table


def _descendants(table: dict[int, tuple[int, float]], root: int) -> list[int]:
    if root not in table:
        return []
    try:
        with open(f"/proc/{root}/cmdline", "rb") as f:
            if not f.read().startswith(b"bwrap"):
                return []  # that kernel is gone and its pid reused
    except OSError:
        return []
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _usage_file(path: Path) -> Path | None:
    for name in ("cpuacct.usage", "cpu.stat"):
        if (path / name).exists() and path.name.startswith("k"):
            return path / name
    return None


def _cpu_seconds(path: Path) -> float | None:
    """CPU time of every process that was ever in kernel cgroup `path`."""
    usage = _usage_file(path)
    try:
        text = usage.read_text() if usage else None
    except OSError:
        return None
    if text is None:
        return None
    if usage.name == "cpuacct.usage":
        return int(text) / 1e9
    fields = dict(line.split() for line in text.splitlines() if line.strip())
    return int(fields["usage_usec"]) / 1e6 if "usage_usec" in fields else None


def _kill_all(path: Path) -> None:
    try:
        (path / "cgroup.kill").write_text("1")  # v2: all at once, forks included
        return
    except OSError:
        pass
    try:
        pids = (path / "cgroup.procs").read_text().split()
    except OSError:
        return
    for pid in pids:
        _kill(int(pid))


def _bwrap_has(option: str) -> bool:
    """Whether the installed bubblewrap knows `option` (per `bwrap --help`)."""
    try:
        out = subprocess.run(
            ["bwrap", "--help"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return option in out.stdout


def _run_quietly(cmd: list[str]) -> bool:
    """Runs a system tool; False if it failed or is not installed."""
    try:
        done = subprocess.run(cmd, capture_output=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _uid_taken(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def _remove_cgroup(path: Path) -> None:
    for _ in range(50):
        try:
            pids = (path / "cgroup.procs").read_text().split()
        except OSError:
            return
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
        try:
            path.rmdir()
            return
        except OSError:
            time.sleep(0.1)
