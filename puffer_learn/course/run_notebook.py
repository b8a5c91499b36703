"""Runs one notebook for `puffer-learn grade`, inside its sandbox (sandbox.py).

    python -m puffer_learn.course.run_notebook [--user UID:GID]
        [--enter WORK --hide FOLDER... --expose PATH...] < notebook.ipynb

Executes the notebook read from stdin in a fresh kernel, in the current
folder, and reports on stdout, one JSON line per executed code cell
({"cell": index, "outputs": [...], "execution_count": n}), then
{"finished": true} or {"kernel_died": "..."}. The grader scores what it
read, so a cell that never reports (the run was killed) scores nothing.

--enter: first set up the sandbox (enter_sandbox), as root in fresh mount
and network namespaces. With --user the runner stays root and only the
kernel runs as UID:GID, so no student code can touch the runner or what it
reports. The kernel talks to the runner over the namespace's own loopback:
the sandbox has no other network. Root never follows a path the student
controls: the connection file is made fresh before any student code runs.
"""
import argparse
import fcntl
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager

CONNECTION_FILE = ".kernel.json"
PRIVATE = ["/var/tmp", "/dev/shm", "/run/lock"]  # world-writable: an empty tmpfs each


def mount(*args):
    done = subprocess.run(["mount", *map(str, args)], capture_output=True, text=True)
    if done.returncode:
        raise OSError(f"mount {' '.join(map(str, args))}: {done.stderr.strip()}")


def enter_sandbox(work, hide, expose):
    """As root in fresh mount and network namespaces: each folder in `hide`
    becomes an empty tmpfs only root may write, except the paths in `expose`
    inside them (this Python, the package), bound back read-only; the
    notebook's folder `work` becomes /tmp, the world-writable folders empty
    and private; the loopback comes up."""
    stage = Path(tempfile.mkdtemp(dir=work))  # fresh and root's: nothing of the student's is followed
    staged = []
    for k, path in enumerate(expose):  # reachable through `stage` while their folder is hidden
        (stage / str(k)).mkdir()
        mount("--bind", path, stage / str(k))
        staged.append((stage / str(k), Path(path)))
    for folder in hide:
        mount("-t", "tmpfs", "-o", "size=1m,mode=755", "tmpfs", folder)
    for source, path in staged:
        path.mkdir(parents=True, exist_ok=True)  # inside the hiding tmpfs
        mount("--bind", source, path)
        mount("-o", "remount,bind,ro", path)
        subprocess.run(["umount", "-l", str(source)], check=True)
        source.rmdir()
    stage.rmdir()
    mount("--bind", work, "/tmp")
    for folder in PRIVATE:
        if os.path.isdir(folder):
            mount("-t", "tmpfs", "-o", "size=64m,mode=1777", "tmpfs", folder)
    os.chdir("/tmp")
    loopback_up()


def loopback_up():
    """`ip link set lo up`, without needing iproute2: the kernel's ports live there."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack("16sH14s", fcntl.ioctl(s, siocgifflags, struct.pack("16sH14s", b"lo", 0, b"")))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sH14s", b"lo", flags | iff_up, b""))


class SandboxKernel(AsyncKernelManager):
    """This Python's IPython kernel; with a user ("UID:GID"), started as that
    user (setpriv), with the connection file (just written) handed to it.
    Its spec is built here, not looked up: the lookup would make ~/.ipython as root."""
    user = None

    @property
    def kernel_spec(self):
        return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                          display_name="Python 3", language="python", name="python3")

    def format_kernel_cmd(self, extra_arguments=None):
        kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", self.connection_file]
        if self.user is None:
            return kernel
        uid, gid = (int(x) for x in self.user.split(":"))
        os.chown(self.connection_file, uid, gid)
        return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--", *kernel]


def death(km):
    """How the kernel process ended, in words."""
    process = getattr(km.provisioner, "process", None)
    code = process.poll() if process is not None else None
    if code is None:
        return "the kernel stopped answering"
    if code < 0:
        return f"the kernel died ({signal.Signals(-code).name})"
    return f"the kernel exited with status {code}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--user", help="UID:GID the kernel runs as")
    parser.add_argument("--enter", metavar="WORK", help="set up the sandbox around this folder first")
    parser.add_argument("--hide", nargs="*", default=[])
    parser.add_argument("--expose", nargs="*", default=[])
    args = parser.parse_args(argv)
    # nbformat's validator imports jsonschema, whose optional IRI format check builds
    # a grammar for 2 s at import; running a notebook never needs it.
    sys.modules.setdefault("rfc3987_syntax", None)
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    report_to = os.fdopen(os.dup(1), "w")  # the report channel, ours alone
    os.dup2(2, 1)  # anything else writing to stdout (the kernel's C code) lands on stderr
    if args.enter:
        enter_sandbox(args.enter, args.hide, args.expose)
    nb = nbformat.reads(sys.stdin.read(), as_version=4)

    def report(**line):
        report_to.write(json.dumps(line) + "\n")
        report_to.flush()

    connection_file = os.path.abspath(CONNECTION_FILE)
    if os.path.lexists(connection_file):  # the submission's own file of that name (or a link): never written through
        os.unlink(connection_file)
    km = SandboxKernel(connection_file=connection_file)
    km.user = args.user
    client = NotebookClient(
        nb, km=km, timeout=None, allow_errors=True, resources={"metadata": {"path": os.getcwd()}},
        on_cell_executed=lambda cell, cell_index, execute_reply: report(
            cell=cell_index, outputs=cell.outputs, execution_count=cell.execution_count))
    try:
        client.execute()
    except DeadKernelError:
        report(kernel_died=death(km))
    except Exception as error:  # the kernel never came up (a broken .ipython folder in the submission, ...)
        report(kernel_died=f"the kernel failed: {type(error).__name__}: {error}"[:300])
    else:
        report(finished=True)


if __name__ == "__main__":
    main()
