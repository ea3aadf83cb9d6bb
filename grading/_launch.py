"""Kernel launcher: wraps a kernel command in bubblewrap under a sandbox policy.

Usage (this is a kernelspec's argv, jupyter_client fills in the connection file):

    python -I _launch.py POLICY.json python -m ipykernel_launcher -f CONN [args...]

The grader copies this file into the run's scratch folder and runs it by path, so it
imports only the standard library. It runs as the grader's user, in the notebook's
folder (jupyter_client sets the cwd), applies rlimits (and, as root, cgroups), then
replaces itself with `bwrap`: new network/PID/IPC/UTS namespaces, a root assembled
from read-only binds, and tmpfs for every writable place. As root the kernel runs
as the policy's unprivileged uid through `setpriv`; otherwise under `--unshare-user`.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys

# System trees the interpreter and its shared libraries need (read-only).
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/alternatives",
    "/etc/fonts",
)
# Only these variables reach the student's kernel; the grader's environment does not.
PASS_ENV = (
    "NBGRADER_EXECUTION",
    "KERAS_BACKEND",
    "TF_CPP_MIN_LOG_LEVEL",
    "TF_ENABLE_ONEDNN_OPTS",
    "OMP_NUM_THREADS",
)  # not JPY_PARENT_PID: in the PID namespace the parent is pid 1, and ipykernel's
# parent poller would take that for "parent exited" and quit.


def _limits(policy: dict) -> None:
    """Applies rlimits to this process; bwrap and the kernel inherit them."""
    mem = int(policy["memory_bytes"])
    cpu = int(policy["cpu_seconds"])
    nproc = int(policy["nproc"])
    if os.getuid() != 0:
        # RLIMIT_NPROC counts every thread of this uid machine-wide: add our own.
        nproc += _tasks_of_uid(os.getuid())
    # Soft CPU limit sends SIGXCPU; the hard one SIGKILLs a kernel that ignores it.
    settings = {
        resource.RLIMIT_AS: (mem, mem),
        resource.RLIMIT_CPU: (cpu, cpu + 2),
        resource.RLIMIT_FSIZE: (int(policy["file_bytes"]),) * 2,
        resource.RLIMIT_NPROC: (nproc, nproc),
        resource.RLIMIT_NOFILE: (1024, 1024),
        resource.RLIMIT_CORE: (0, 0),
    }
    for which, value in settings.items():
        resource.setrlimit(which, value)


def _tasks_of_uid(uid: int) -> int:
    count = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.stat(f"/proc/{pid}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{pid}/task"))
            except OSError:
                continue
    return count


def _cgroups(policy: dict) -> None:
    """As root: cgroups per kernel for memory, tasks and CPU, where writable.

    Best effort by design: rlimits are the portable floor; cgroups add an RSS cap
    (tmpfs pages included), a pids cap per kernel rather than per uid, and a CPU
    share: one kernel, however many processes it starts (setsid'd or not), weighs
    as one and gets at most `cpu_quota_us` per 100 ms. The grader reads its CPU
    time from them (all processes together) and removes the folders listed in
    `cgroup_record` afterwards. v1 hierarchies first, else the v2 one.
    """
    mem, nproc = policy["memory_bytes"], policy["nproc"]
    cpu = {"cpu.shares": 1024}
    if policy.get("cpu_quota_us"):
        cpu["cpu.cfs_period_us"] = 100_000
        cpu["cpu.cfs_quota_us"] = policy["cpu_quota_us"]
    # The slot's cgroup holds one cgroup per kernel: limits are per kernel.
    name = os.path.join(policy["cgroup"], f"k{os.getpid()}")
    made = []
    for controller, settings in (
        ("memory", {"memory.limit_in_bytes": mem}),
        ("pids", {"pids.max": nproc}),
        ("cpu", cpu),
        ("cpuacct", {}),
    ):
        try:
            own = _own_cgroup(controller)
            path = os.path.join(f"/sys/fs/cgroup/{controller}", own, name)
            made += _join(path, settings)
        except OSError:
            continue
    if not any("/cpu" in p for p in made):
        v2 = {"pids.max": nproc, "memory.max": mem, "cpu.weight": 100}
        if policy.get("cpu_quota_us"):
            v2["cpu.max"] = f"{policy['cpu_quota_us']} 100000"
        for mount in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
            try:
                path = os.path.join(mount, _own_cgroup(""), name)
                made += _join(path, v2, optional=True)
                break
            except OSError:
                continue
    with open(policy["cgroup_record"], "a") as f:
        f.writelines(p + "\n" for p in made)


def _join(path: str, settings: dict, optional: bool = False) -> list[str]:
    """Makes cgroup `path` (in its slot's), applies `settings`, moves this process
    in; returns the folders to remove afterwards, innermost first."""
    slot = os.path.dirname(path)
    if not os.path.isdir(os.path.dirname(slot)):
        raise OSError(f"no cgroup hierarchy at {os.path.dirname(slot)}")
    os.makedirs(path, exist_ok=True)
    try:
        for name, value in settings.items():
            try:
                with open(os.path.join(path, name), "w") as f:
                    f.write(str(value))
            except OSError:
                if not optional:  # v2: a controller may not be enabled here
                    raise
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    except OSError:
        os.rmdir(path)
        raise
    return [path, slot]


def _own_cgroup(controller: str) -> str:
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, names, path = line.rstrip("\n").split(":", 2)
            if controller in names.split(","):  # "" is the v2 line, `0::/path`
                return path.lstrip("/")
    raise OSError(f"no {controller} cgroup")


def _bwrap_args(policy: dict, cwd: str, conn: str) -> list[str]:
    root = os.getuid() == 0
    args = ["bwrap", "--die-with-parent", "--new-session"]
    args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
    args += ["--unshare-cgroup-try"]
    if not root:
        args += ["--unshare-user"]
        if policy.get("disable_userns"):
            # Else the kernel makes a user namespace of its own and mounts tmpfs
            # there: memory no rlimit counts, and as non-root no cgroup caps.
            args += ["--disable-userns"]
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in ETC_FILES:
        args += ["--ro-bind-try", path, path]
    args += ["--ro-bind", policy["passwd"], "/etc/passwd"]
    args += ["--ro-bind", policy["group"], "/etc/group"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    tmp = str(policy["tmpfs_bytes"])
    args += ["--perms", "1777", "--size", tmp, "--tmpfs", "/tmp"]
    made = {"/", "/tmp"}
    # Remounted read-only at the end: with --unshare-user the kernel owns every
    # folder bwrap makes, so / (and /etc, /root...) and /dev would be writable,
    # uncapped tmpfs.
    sealed = ["/", "/dev"]
    for path in policy["ro_binds"]:
        args += _parents(path, made, sealed) + ["--ro-bind", path, path]
    # The notebook folder is a fresh tmpfs with the submission's files bound
    # read-only into it: writes land in memory (size-capped), never on disk.
    args += _parents(cwd, made, sealed)
    args += ["--perms", "1777", "--size", tmp, "--tmpfs", cwd]
    for name in _visible(cwd):
        args += ["--ro-bind", os.path.join(cwd, name), os.path.join(cwd, name)]
    ipc = policy["ipc_dir"]
    args += _parents(ipc, made, sealed) + ["--bind", ipc, ipc]
    args += _parents(conn, made, sealed) + ["--ro-bind", conn, conn]
    for path in sealed:
        args += ["--remount-ro", path]
    args += ["--chdir", cwd, "--hostname", "sandbox"]
    args += ["--clearenv"]
    env = {
        "PATH": policy["path"],
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "MALLOC_ARENA_MAX": "2",  # TF aborts under RLIMIT_AS without it
        "MPLBACKEND": "Agg",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if policy.get("pythonpath"):
        env["PYTHONPATH"] = policy["pythonpath"]  # the grader's sparsekit
    if policy.get("blas_threads"):
        threads = str(policy["blas_threads"])
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = threads
    env.update({k: os.environ[k] for k in PASS_ENV if k in os.environ})
    for key, value in env.items():
        args += ["--setenv", key, value]
    args.append("--")
    if root:
        uid = str(policy["uid"])
        args += ["setpriv", "--reuid", uid, "--regid", uid, "--clear-groups"]
        args += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    return args


def _visible(cwd: str) -> list[str]:
    """Entries of the notebook folder the kernel may see.

    Not the notebooks: nbgrader runs the instructor's copy (hidden tests restored)
    from this folder. Not links or special files: bwrap would follow a link.
    """
    names = []
    with os.scandir(cwd) as entries:
        for entry in entries:
            if entry.name.endswith(".ipynb") or entry.is_symlink():
                continue
            if entry.is_file(follow_symlinks=False) or entry.is_dir(
                follow_symlinks=False
            ):
                names.append(entry.name)
    return sorted(names)


def _parents(path: str, made: set[str], sealed: list[str]) -> list[str]:
    """Mount points' ancestors, made 0755: bwrap would create them 0700 (root's)."""
    args = []
    parts = os.path.dirname(path).split("/")
    for i in range(2, len(parts) + 1):
        folder = "/".join(parts[:i])
        if folder not in made:
            made.add(folder)
            if os.path.dirname(folder) == "/tmp":
                # In the writable /tmp: a tmpfs of its own, sealed read-only later
                # (the kernel owns it under --unshare-user, so chmod would not do).
                args += ["--perms", "0755", "--tmpfs", folder]
                sealed.append(folder)
            else:
                args += ["--perms", "0755", "--dir", folder]
    return args


def main(argv: list[str]) -> None:
    with open(argv[1]) as f:
        policy = json.load(f)
    command = argv[2:]
    cwd = os.getcwd()
    # The connection file is the grader's (mode 0600): hand the kernel its own copy
    # in the kernel's ipc folder, owned by the sandbox uid.
    conn = command[command.index("-f") + 1] if "-f" in command else None
    if conn is not None:
        copy = os.path.join(policy["ipc_dir"], "connection.json")
        shutil.copyfile(conn, copy)
        if os.getuid() == 0:
            os.chown(copy, policy["uid"], policy["uid"])
        os.chmod(copy, 0o400)
        command[command.index("-f") + 1] = conn = copy
    else:
        conn = argv[1]  # self-test: nothing to pass, bind something harmless
    if "launched_record" in policy:  # this pid becomes bwrap's: the grader
        with open(policy["launched_record"], "a") as f:  # watches its tree
            f.write(f"{os.getpid()}\n")
    if os.getuid() == 0:
        _cgroups(policy)
    _limits(policy)
    args = _bwrap_args(policy, cwd, conn) + command
    os.execvp(args[0], args)


if __name__ == "__main__":
    main(sys.argv)
