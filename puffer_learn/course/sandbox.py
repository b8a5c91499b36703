"""A sandbox for one student notebook: `puffer-learn grade` runs each one here.

As root (CI, a grading server), each notebook runs
  - in its own temporary folder, which the notebook sees as /tmp (its cwd and
    HOME); /var/tmp, /dev/shm and /run/lock are empty and private to it, and
    the course folder is hidden (a mount namespace);
  - with its kernel as the unprivileged user puffer-grader (created if
    missing): the grader's home, the course and the project are not writable;
  - with no network but its own loopback (a network namespace, where the
    kernel talks to the runner);
  - in a process namespace: when its first process ends or is killed at the
    time limit, the kernel kills every process left in it;
  - under a memory cgroup (resident memory, so the AddressSanitizer smoke run
    of a student's env still works: an address-space limit, or RLIMIT_DATA,
    breaks ASan's shadow-memory reservation), and limits on CPU seconds, file
    size, core files and the sandbox user's process count (setrlimit).
Where part of it cannot be set up (not root, no cgroup, no namespaces),
Isolation.missing says what, and `grade` prints it on its first line.
"""
import collections
import json
import os
import pwd
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

USER = "puffer-grader"
NAMESPACES = ["--pid", "--fork", "--kill-child", "--mount-proc", "--net", "--mount", "--propagation", "private"]


@dataclass
class Limits:
    seconds: float = 300.0  # wall time per notebook
    memory_mb: int = 4096
    file_mb: int = 256
    processes: int = 512  # of the sandbox user, threads included

    def describe(self):
        return (f"{self.seconds:g} s, {self.memory_mb} MB memory, CPU {2 * self.seconds:g} s/process, "
                f"files {self.file_mb} MB, {self.processes} processes")


@dataclass
class Isolation:
    """What the sandbox can do on this machine (found once by isolation())."""
    user: tuple = None  # (name, uid, gid): the kernel's user, when we are root
    unshare: list = None  # the unshare flags that worked
    cgroup: Path = None  # the memory cgroup folder that sandboxes are made in
    cgroup_v1: bool = False
    missing: list = field(default_factory=list)

    @property
    def complete(self):
        return not self.missing

    def describe(self):
        parts = [f"user {self.user[0]}" if self.user else "same user"]
        if self.unshare:
            parts.append("no network, own /tmp, own processes")
        parts.append("memory cgroup" if self.cgroup else "no memory limit")
        return ", ".join(parts)


def isolation(limits):
    """Finds out what isolation this machine allows; creates the sandbox user when root."""
    found = Isolation()
    root = os.geteuid() == 0
    if root:
        found.user = _sandbox_user(found.missing)
    else:
        found.missing.append("not root: the kernel runs as you (your files are writable to it) "
                             "and the process-count limit is off; run grade as root for the sandbox user")
    flags = NAMESPACES if root else ["--user", "--map-root-user", *NAMESPACES]
    probe = subprocess.run(["unshare", *flags, "--", "sh", "-c", "mount -t tmpfs tmpfs /mnt"],
                           capture_output=True, text=True) if shutil.which("unshare") else None
    if probe is not None and probe.returncode == 0:
        found.unshare = flags
    else:
        why = probe.stderr.strip().splitlines()[-1] if probe is not None and probe.stderr.strip() else "no unshare"
        found.missing.append(f"no namespaces ({why}): notebooks can reach the network and the shared /tmp, "
                             f"and only their process group (as root: their user's processes) is killed")
    found.cgroup, found.cgroup_v1 = _memory_cgroup(found.missing) if root else (None, False)
    if not root:
        found.missing.append("no memory limit (a memory cgroup needs root)")
    if found.user and found.unshare:
        _probe(found, limits)
    return found


def _sandbox_user(missing):
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        made = subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                               "--shell", "/usr/sbin/nologin", USER], capture_output=True, text=True)
        if made.returncode:
            missing.append(f"cannot create the user {USER}: {made.stderr.strip()}")
            return None
        entry = pwd.getpwnam(USER)
    return (USER, entry.pw_uid, entry.pw_gid)


def _memory_cgroup(missing):
    """(folder to make sandbox cgroups in, cgroup v1?) or (None, False)."""
    v1 = Path("/sys/fs/cgroup/memory")
    if (v1 / "memory.limit_in_bytes").exists():
        parent, is_v1 = v1, True
    else:  # cgroup v2: beside our own cgroup, where the memory controller is delegated
        own = next((line[3:] for line in Path("/proc/self/cgroup").read_text().splitlines()
                    if line.startswith("0::")), "/")
        base = Path("/sys/fs/cgroup") / own.lstrip("/")
        parent, is_v1 = (base if own == "/" else base.parent), False
        controllers = parent / "cgroup.subtree_control"
        if not controllers.exists() or "memory" not in controllers.read_text().split():
            missing.append(f"no memory cgroup (no memory controller delegated at {parent})")
            return None, False
    probe = parent / f"puffer-grade-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as error:
        missing.append(f"no memory cgroup ({error.strerror} creating one in {parent})")
        return None, False
    return parent, is_v1


def _probe(found, limits):
    """Runs a one-cell notebook in the sandbox: the sandbox user must be able to
    run this Python and import the grader (a Python under the grader's home is
    bound into the sandbox: hidden_and_exposed)."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("import os, puffer_learn.course.run_notebook\nprint(os.getuid())")])
    work = make_folder(found)
    try:
        done = run(nbformat.writes(nb), work, found, Limits(seconds=120, memory_mb=limits.memory_mb))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    printed = [o.get("text", "") for r in done.reports if r.get("cell") == 0 for o in r["outputs"]]
    if printed != [f"{found.user[1]}\n"]:
        why = " | ".join(done.stderr.strip().splitlines()[-2:]) or f"it printed {printed}"
        found.missing.append(f"a notebook cannot run as {found.user[0]} in the sandbox ({why}); its kernel "
                             f"runs as {pwd.getpwuid(os.geteuid()).pw_name} instead")
        found.user = None


def make_folder(found):
    """A fresh temporary folder for one notebook, owned by the sandbox user."""
    work = Path(tempfile.mkdtemp(prefix="puffer-grade-"))
    if found.user:
        os.chown(work, found.user[1], found.user[2])
    return work


def needed_paths():
    """What a kernel must read: this Python, its packages and puffer_learn's source."""
    import puffer_learn

    paths = [sys.base_prefix, sys.prefix, Path(sys.executable).resolve().parent.parent,
             Path(puffer_learn.__file__).resolve().parents[1], *(p for p in sys.path if p)]
    return [Path(p).resolve() for p in paths if Path(p).is_dir()]


def outermost(paths):
    paths = set(paths)
    return sorted(p for p in paths if not any(p != q and p.is_relative_to(q) for q in paths))


def hidden_and_exposed(hide):
    """The folders to hide (the course's, and the grader's home) and the paths
    inside them that must stay readable (needed_paths), each list outermost first."""
    keep_visible = Path(tempfile.gettempdir()).resolve()  # the notebooks' own folders live there
    hidden = outermost(p for p in [*map(Path, hide), Path.home().resolve()]
                       if p.is_dir() and not keep_visible.is_relative_to(p))
    exposed = outermost(p for p in needed_paths() if any(p.is_relative_to(h) for h in hidden))
    return hidden, exposed


@dataclass
class Run:
    reports: list  # the runner's JSON lines, parsed
    seconds: float
    timed_out: bool
    out_of_memory: bool
    returncode: int
    stderr: str  # its last lines
    left_behind: int  # processes of the sandbox user still alive after the kill


def run(notebook_text, work, found, limits, hide=()):
    """Runs a notebook (its JSON text) in the folder `work`, sandboxed as
    `found` allows, within `limits`. The folder must already belong to the
    sandbox user. Returns a Run."""
    cgroup = _make_cgroup(found, limits)
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/bin{os.pathsep}/bin",
           "NBGRADER_EXECUTION": "autograde", "MPLBACKEND": "Agg", "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1", "SDL_VIDEODRIVER": "dummy"}
    runner = [sys.executable, "-m", "puffer_learn.course.run_notebook"]
    if found.user:
        runner += ["--user", f"{found.user[1]}:{found.user[2]}"]
    home = "/tmp" if found.unshare else str(work)  # the folder is /tmp inside the namespaces
    if found.unshare:
        hidden, exposed = hidden_and_exposed(hide)
        cmd = ["unshare", *found.unshare, "--", *runner, "--enter", str(work),
               "--hide", *map(str, hidden), "--expose", *map(str, exposed)]
    else:
        cmd = runner
    env.update(HOME=home, TMPDIR=home, PUFFER_LEARN_CACHE=f"{home}/.cache/puffer_learn")

    def limit_child():  # in the child, before exec
        cpu = int(2 * limits.seconds) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb << 20, limits.file_mb << 20))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if found.user:  # counts the sandbox user's processes; root itself is exempt
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
        if cgroup is not None:
            (cgroup / "cgroup.procs").write_text(str(os.getpid()))

    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=work, env=env, start_new_session=True, preexec_fn=limit_child)
    reports, tail = [], collections.deque(maxlen=40)
    threads = [threading.Thread(target=_feed, args=(proc.stdin, notebook_text.encode()), daemon=True),
               threading.Thread(target=_read_lines, args=(proc.stdout, reports, json.loads), daemon=True),
               threading.Thread(target=_read_lines, args=(proc.stderr, tail, None), daemon=True)]
    for thread in threads:
        thread.start()
    try:
        proc.wait(timeout=limits.seconds)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
    seconds = time.monotonic() - start
    left = _kill_all(proc, found, cgroup)
    for thread in threads:
        thread.join(timeout=5)
    out_of_memory = _oom_kills(cgroup, found.cgroup_v1) > 0 if cgroup is not None else False
    if cgroup is not None:
        _remove_cgroup(cgroup)
    return Run(reports, seconds, timed_out, out_of_memory, proc.returncode, "\n".join(tail), left)


def _feed(pipe, data):
    try:
        pipe.write(data)
        pipe.close()
    except (BrokenPipeError, OSError):
        pass  # the runner died first: its report says why


def _read_lines(pipe, into, parse):
    for line in pipe:
        line = line.decode(errors="replace").rstrip("\n")
        if parse is None:
            into.append(line[:500])
            continue
        try:
            into.append(parse(line))
        except ValueError:
            pass  # not a report line


def _make_cgroup(found, limits):
    if found.cgroup is None:
        return None
    folder = found.cgroup / f"puffer-grade-{os.getpid()}-{time.monotonic_ns()}"
    folder.mkdir()
    limit = str(limits.memory_mb << 20)
    if found.cgroup_v1:
        (folder / "memory.limit_in_bytes").write_text(limit)
        if (folder / "memory.memsw.limit_in_bytes").exists():  # no escape into swap
            (folder / "memory.memsw.limit_in_bytes").write_text(limit)
    else:
        (folder / "memory.max").write_text(limit)
        if (folder / "memory.swap.max").exists():
            (folder / "memory.swap.max").write_text("0")
    return folder


def _oom_kills(cgroup, v1):
    text = (cgroup / ("memory.oom_control" if v1 else "memory.events")).read_text()
    counts = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
    if "oom_kill" in counts:
        return int(counts["oom_kill"])
    return int((cgroup / "memory.failcnt").read_text()) if v1 else int(counts.get("oom", 0))


def _remove_cgroup(cgroup):
    for _ in range(50):  # empty once the killed processes are reaped
        try:
            cgroup.rmdir()
            return
        except OSError:
            time.sleep(0.1)


def _kill_all(proc, found, cgroup):
    """Kills the run's process group (and with it the namespace's processes),
    then anything left of the sandbox user or in the cgroup. Returns how many
    processes were still alive a few seconds later."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    deadline = time.monotonic() + 5
    while True:
        left = _leftovers(found, cgroup)
        if not left or time.monotonic() > deadline:
            return len(left)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def _leftovers(found, cgroup):
    pids = set()
    if cgroup is not None and (cgroup / "cgroup.procs").exists():
        pids |= {int(p) for p in (cgroup / "cgroup.procs").read_text().split()}
    if found.user:
        uid = found.user[1]
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and entry.stat().st_uid == uid:
                    pids.add(int(entry.name))
            except OSError:
                pass
    return pids - {os.getpid()}


def processes_of_sandbox_user(found):
    """Pids of the sandbox user's processes (none should live between runs)."""
    return sorted(_leftovers(found, None)) if found.user else []

