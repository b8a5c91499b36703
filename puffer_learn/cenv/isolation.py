"""Crash isolation: a student's env runs in a worker process, so no bug in
its C code (a segfault at step 1,000,000, abort(), exit(0), an endless loop)
can take the notebook kernel down. The crash comes back as EnvCrashError
with what happened and, where known, the env's file:line.

The five buffers (observations, actions, rewards, terminals, truncations)
live in one block of shared memory mapped by both processes, so VecEnv's
numpy arrays are the very memory C writes: the trainer code is unchanged.
One vector step costs one round trip on a socket (a few microseconds), not
one per agent. Packaged envs stay in-process (see vector.make).

    worker = Worker(module, header)         # starts puffer_learn/cenv/_worker.py
    worker.call(b"s")                       # one request, one reply
"""
import mmap
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from puffer_learn.cenv.build import (ENVS_DIR, SMOKE_FLAGS, EnvCrashError, asan_environment, asan_summary,
                                compile_module)

WORKER_SCRIPT = str(Path(__file__).with_name("_worker.py"))
# Seconds one request (a vector step, a reset, env_init of all envs) may take
# before the env counts as stuck in an endless loop. Tests lower it.
CALL_TIMEOUT_S = 60.0
OPS = {b"s": "env_step", b"d": "env_defaults", b"c": "env_check", b"p": "env_spaces",
       b"i": "env_init", b"r": "env_reset", b"l": "reading the log", b"a": "env_scripted",
       b"f": "env_render", b"u": "reading the episode flags", b"x": "env_close"}


def shared_memory(size):
    """A file descriptor of `size` bytes of memory with no name on disk."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("puffer_learn_env", 0)
    else:  # an unlinked temporary file serves the same purpose
        handle = tempfile.TemporaryFile(dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
        fd = os.dup(handle.fileno())
        handle.close()
    os.ftruncate(fd, size)
    return fd


class Worker:
    """One worker process running one compiled env module.

    sanitize=True runs the env's AddressSanitizer build instead (the smoke
    run's, name needed to find it): every step is checked for out-of-bounds
    access and use-after-free, at several times the cost."""

    def __init__(self, module, header, sanitize=False, name=None):
        self.header = Path(header)
        modname, path, env = module.__name__, module.__file__, None
        if sanitize:
            modname, path = compile_module(name or self.header.stem, self.header, SMOKE_FLAGS)
            env = asan_environment()
        self.memory_fd = shared_memory(0)  # sized at init(), once the spaces are known
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, WORKER_SCRIPT, modname, str(path), str(child.fileno()), str(self.memory_fd)],
            pass_fds=(child.fileno(), self.memory_fd), stderr=self.stderr, stdin=subprocess.DEVNULL,
            env=env)
        child.close()
        self.sock = parent
        self.poll = select.poll()
        self.poll.register(parent, select.POLLIN)
        self.memory = None
        self.pending = None  # the request whose reply has not been read yet
        self.lock = threading.Lock()

    def call(self, request, timeout=None):
        """Sends one request; returns the reply's payload. Raises
        EnvCrashError if the worker dies or takes longer than the timeout."""
        with self.lock:  # two threads sharing one env must not interleave requests
            return self._call(request, timeout)

    def _call(self, request, timeout):
        if self.proc is None:
            raise RuntimeError("this env's worker process has stopped; make a new env")
        timeout = CALL_TIMEOUT_S if timeout is None else timeout
        if self.pending is not None:
            # [DESIGN] A KeyboardInterrupt (the notebook's stop button) landed
            # while we waited: that reply is still on its way. Take it first,
            # so replies never get out of step with requests.
            self.receive(self.pending, timeout)
        try:
            self.sock.send(request)
        except OSError:
            self.crashed(request[:1], None)
        self.pending = request[:1]
        reply = self.receive(request[:1], timeout)
        self.pending = None
        return reply

    def receive(self, op, timeout):
        if not self.poll.poll(timeout * 1000):
            self.crashed(op, timeout)
        reply = self.sock.recv(65536)
        self.pending = None
        if not reply:
            self.crashed(op, None)
        if reply[:1] != b"k":
            raise RuntimeError(f"worker: {reply[1:].decode(errors='replace')}")
        return reply[1:]

    def crashed(self, op, timeout):
        """The worker died or hung while doing op: stop it and raise the report."""
        doing = OPS.get(op, "a request")
        if timeout is not None:
            self.proc.kill()
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.stderr.seek(0)
        stderr = self.stderr.read().decode(errors="replace")
        self.stop()
        name = self.header.name
        if timeout is not None:
            raise EnvCrashError(f"{name} did not finish {doing} within {timeout:.0f} s; its worker "
                                f"process was stopped. Look for a loop that never ends.") from None
        if code < 0:
            what = f"crashed with {signal.Signals(-code).name}"
        elif "ERROR: AddressSanitizer" in stderr:
            what = "crashed (AddressSanitizer)"
        elif "PL_CRASH: exit()" in stderr:
            what = f"called exit({code})"
        else:
            what = f"stopped its worker process with exit status {code}"
        where = crash_location(stderr, self.header)
        if "ERROR: AddressSanitizer" in stderr:  # a worker run with ASan preloaded
            where = asan_summary(stderr, self.header)
        self.last_stderr = stderr
        raise EnvCrashError(f"{name} {what} during {doing}; the env is closed, the kernel is "
                            f"fine.{' ' + where if where else ''}") from None

    def map(self, size):
        """Sizes the shared memory and maps it here; returns the mmap."""
        os.ftruncate(self.memory_fd, size)
        self.memory = mmap.mmap(self.memory_fd, size)
        return self.memory

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        self.sock.close()
        self.stderr.close()
        if self.memory_fd is not None:
            os.close(self.memory_fd)
            self.memory_fd = None

    def close(self):
        """Closes the envs (env_close) and ends the worker."""
        if self.proc is None:
            return
        try:
            self.call(b"x")
            self.proc.wait(timeout=10)
        finally:
            self.stop()


def crash_location(stderr, header):
    """'at my_env.h:42 (env_step)' from the stack the worker printed
    (pl_print_stack in vec_binding.h: module.so(+0x1a2b) or
    module.so(symbol+0x10) frames), resolved by addr2line; '' if unknown."""
    frames = re.findall(r"^(\S+?\.so)\((\w*)\+(0x[0-9a-f]+)\)", stderr, re.M)
    if not frames:
        return ""
    library = frames[0][0]
    symbols = {}
    try:
        nm = subprocess.run(["nm", "--defined-only", library], capture_output=True, text=True,
                            timeout=10).stdout
        symbols = {parts[2]: int(parts[0], 16) for parts in (l.split() for l in nm.splitlines())
                   if len(parts) == 3}
        # - 1: a return address points after the call (past the end of the
        # function when the call never returns, e.g. abort()).
        addresses = [hex(symbols.get(sym, 0) + int(off, 16) - 1) for lib, sym, off in frames
                     if lib == library and (not sym or sym in symbols)]
        lines = subprocess.run(["addr2line", "-f", "-i", "-e", library, *addresses],
                               capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return ""
    pairs = list(zip(lines[::2], lines[1::2]))
    for function, place in pairs:
        place = place.split(" (discriminator")[0]
        if Path(place.split(":")[0]).name == header.name:
            return f"It happened at {header.name}:{place.rsplit(':', 1)[-1]} (in {function})."
    for function, place in pairs:  # not in the env's own file: name the first known place
        if not place.startswith("??"):
            return f"It happened at {place.replace(str(ENVS_DIR) + '/', 'envs/')} (in {function})."
    return ""
