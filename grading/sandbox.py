"""Grader side of the kernel sandbox: policies, kernelspecs, self-test, clean-up.

Each student gets a kernelspec folder of its own (selected through the worker's
JUPYTER_PATH) whose argv runs `_launch.py` with that student's policy file: a
distinct unprivileged uid (as root), its own unix-socket folder and cgroup name.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import random
import shutil
import signal
import subprocess
import sys
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


def _read_only_roots() -> list[str]:
    """What the kernel's interpreter needs: the venv, its base install, sparsekit."""
    roots = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}
    spec = importlib.util.find_spec("sparsekit")
    if spec is not None and spec.submodule_search_locations:
        roots.update(os.path.realpath(p) for p in spec.submodule_search_locations)
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
        self.ro_binds = _read_only_roots()
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
            "path": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "cgroup": f"sk-grading-{self.uid_base}-{slot}",
            "cgroup_record": str(base / "cgroups"),
            "disable_userns": self.disable_userns,
            **self.limits.__dict__,
        }
        policy_path = base / "policy.json"
        policy_path.write_text(json.dumps(policy, indent=1))
        spec_dir = base / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True, exist_ok=True)
        spec = {
            "argv": [sys.executable, "-I", str(self.launcher), str(policy_path)]
            + [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
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
            for path in record.read_text().split():
                _remove_cgroup(Path(path))
        if (base / "ipc-mount").exists():
            ipc = (base / "ipc-mount").read_text()
            _run_quietly(["umount", "-l", ipc])
            (base / "ipc-mount").unlink()

    def self_test(self, workdir: Path) -> str | None:
        """Runs a probe through the launcher; returns a problem or None if sound."""
        slot = 10**5 - 1  # a slot number no student gets
        policy = self.prepare(slot)
        secret = workdir / "secret.txt"
        secret.write_text("hidden")
        cwd = self.run_dir / "probe"
        cwd.mkdir(exist_ok=True)
        (cwd / "data.txt").write_text("visible")
        checks = _PROBE.format(
            secret=str(secret), root=self.root, no_userns=self.disable_userns
        )
        cmd = [sys.executable, "-I", str(self.launcher), str(policy)]
        cmd += [sys.executable, "-c", checks]
        try:
            out = subprocess.run(
                cmd, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
            )
        except subprocess.TimeoutExpired:
            return "the sandbox self-test timed out"
        finally:
            self.cleanup(slot)
        if out.returncode != 0 or "PROBE-OK" not in out.stdout:
            detail = (out.stderr or out.stdout).strip().splitlines()[-3:]
            return "the sandbox self-test failed: " + " | ".join(detail)
        return None


# Runs inside the sandbox: every claim the grader relies on, checked for real.
_PROBE = """
import os, socket, sys
import zmq, ipykernel  # the kernel's own imports must resolve
assert not os.path.exists({secret!r}), "grader files visible"
assert open("data.txt").read() == "visible", "submission files not visible"
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
print("PROBE-OK")
"""


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
