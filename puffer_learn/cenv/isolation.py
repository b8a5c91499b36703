"""Crash isolation: a student's env runs in a worker process, so no bug in
its C code (a segfault at step 1,000,000, abort(), exit(0), an endless loop)
can take the notebook kernel down. The crash comes back as EnvCrashError
with what happened and, where known, the env's file:line.

The five buffers (observations, actions, rewards, terminals, truncations)
live in one block of shared memory mapped by both processes, so VecEnv's
numpy arrays are the very memory C writes: the trainer code is unchanged.
One vector step costs one round trip on a socket (a few microseconds), not
one per agent. Packaged envs stay in-process (see vector.make).

    backend = IsolatedBackend(module, header)   # VecEnv's backend for such an env
    worker = Worker(module, header)             # starts puffer_learn/cenv/_worker.py
    worker.call(b"s")                           # one request, one reply
"""
import mmap
import os
import select
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from puffer_learn.cenv.build import SMOKE_FLAGS, EnvCrashError, asan_environment, compile_module
from puffer_learn.cenv.crash_report import crash_report

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
        self.steps = 0       # steps since the last reset: a crash report says at which
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
        if request == b"s":
            self.steps += 1
        elif request[:1] == b"r":
            self.steps = 0
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
        self.last_stderr = stderr
        if timeout is not None:
            raise EnvCrashError(f"{self.header.name} did not finish {doing} within {timeout:.0f} s; its "
                                f"worker process was stopped. Look for a loop that never ends.") from None
        when = f"at step {self.steps}" if op == b"s" else f"during {doing}"
        raise EnvCrashError(crash_report(self.header, when, stderr, code,
                                         then="the env is closed, the kernel is fine")) from None

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


class IsolatedBackend:
    """VecEnv's backend for a student's env: the methods of
    vector.InProcessBackend, each one request to a Worker running the env.
    The buffers are numpy arrays over memory the worker maps too."""

    def __init__(self, module, header, sanitize=False, name=None):
        self.ffi = module.ffi
        self.closed = False
        self.worker = Worker(module, header, sanitize=sanitize, name=name)

    def call(self, request):
        """One request; if the env crashed, this backend is closed and the
        EnvCrashError says what happened."""
        try:
            return self.worker.call(request)
        except EnvCrashError:
            self.closed = True
            raise

    def defaults(self, cfg):
        self.ffi.memmove(cfg, self.call(b"d"), self.ffi.sizeof("Config"))

    def check(self, cfg):
        reply = self.call(b"c" + bytes(self.ffi.buffer(cfg)))
        return reply[4:4 + 255].decode() if struct.unpack("<i", reply[:4])[0] else None

    def spaces(self, cfg, out):
        self.ffi.memmove(out, self.call(b"p" + bytes(self.ffi.buffer(cfg))), self.ffi.sizeof("Spaces"))

    def start(self, cfg, num_envs, seed, threads, shapes, frame_shape):
        # Besides VecEnv's buffers: a frame, and scripted actions to hand back
        # (shaped and typed like the actions buffer).
        actions = next((shape, dtype) for field, shape, dtype in shapes if field == "actions")
        shapes = [*shapes, ("frame", frame_shape, np.uint8), ("scripted", *actions)]
        offsets, total = [], 0
        for _, shape, dtype in shapes:  # each buffer at a multiple of 64 bytes
            offsets.append(total)
            total += -(-int(np.prod(shape)) * np.dtype(dtype).itemsize // 64) * 64
        memory = self.worker.map(max(total, 64))
        arrays = {field: np.frombuffer(memory, dtype, int(np.prod(shape)), offset).reshape(shape)
                  for (field, shape, dtype), offset in zip(shapes, offsets)}
        self.frame, self.scripted_actions = arrays.pop("frame"), arrays.pop("scripted")
        reply = self.call(b"i" + bytes(self.ffi.buffer(cfg)) + struct.pack(
            "<iQiQ7Q", num_envs, seed, threads, total, *offsets))
        return arrays, reply.decode(errors="replace")

    def reset(self, seed):
        self.call(b"r" + struct.pack("<Q", seed))

    def step(self):
        return struct.unpack("<i", self.call(b"s"))[0]

    def read_log(self, out):
        self.ffi.memmove(out, self.call(b"l"), self.ffi.sizeof("Log"))

    def unflagged_ends(self):
        return struct.unpack("<i", self.call(b"u"))[0]

    def scripted(self):
        self.call(b"a")
        return self.scripted_actions.copy()

    def render(self, index, t, frame):
        drawn = struct.unpack("<i", self.call(b"f" + struct.pack("<if", index, t)))[0]
        frame[:] = self.frame
        return drawn

    def close(self):
        """Closes the envs (env_close) and ends the worker; raises
        EnvCrashError if env_close crashed. Closing twice is fine."""
        if not self.closed:
            self.closed = True
            self.worker.close()
