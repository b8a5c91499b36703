"""The worker process that runs a student's env for puffer_learn/cenv/isolation.py.

Run as a plain script (not `-m`), so it starts in ~50 ms without importing
puffer_learn, numpy or torch:

    python _worker.py MODNAME PATH CONTROL_FD MEMORY_FD

It loads the env's compiled module, arms the crash reporter (pl_guard in
envs/vec_crash_guard.h), then answers one request per message on the control
socket (SOCK_SEQPACKET: one send is one message). The five buffers live in
MEMORY_FD, shared with the parent: a step moves no data, only "s" and the
reply. Replies are b"k" + payload; if env code kills this process, the
parent sees the socket close and reports the crash.
"""
import importlib.machinery
import importlib.util
import mmap
import os
import socket
import struct
import sys


def load_module(modname, path):
    loader = importlib.machinery.ExtensionFileLoader(modname, path)
    spec = importlib.util.spec_from_file_location(modname, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def main():
    modname, path, control_fd, memory_fd = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    sock = socket.socket(fileno=control_fd)
    module = load_module(modname, path)
    ffi, lib = module.ffi, module.lib
    lib.pl_guard(1)
    cfg = ffi.new("Config*")
    spaces = ffi.new("Spaces*")
    log = ffi.new("Log*")
    err = ffi.new("char[512]")
    vec, memory, ptr = None, None, {}
    ok = b"k"
    while True:
        msg = sock.recv(65536)
        if not msg:  # the parent closed the socket (or died): leave quietly
            break
        op, payload = msg[:1], msg[1:]
        if op == b"s":
            sock.send(ok + struct.pack("<i", lib.pl_vec_step(vec)))
        elif op == b"d":
            lib.pl_defaults(cfg)
            sock.send(ok + bytes(ffi.buffer(cfg)))
        elif op == b"c":
            ffi.memmove(cfg, payload, ffi.sizeof("Config"))
            bad = lib.pl_check(cfg, err, 512)
            sock.send(ok + struct.pack("<i", bad) + (ffi.string(err) if bad else b""))
        elif op == b"p":
            ffi.memmove(cfg, payload, ffi.sizeof("Config"))
            lib.pl_spaces(cfg, spaces)
            sock.send(ok + bytes(ffi.buffer(spaces)))
        elif op == b"i":
            size = ffi.sizeof("Config")
            ffi.memmove(cfg, payload[:size], size)
            num_envs, seed, threads, total, *offsets = struct.unpack("<iQiQ7Q", payload[size:])
            memory = mmap.mmap(memory_fd, total)
            base = ffi.cast("char*", ffi.from_buffer(memory))
            obs, act, rew, term, trunc, frame, scripted = (base + o for o in offsets)
            ptr = {"frame": ffi.cast("uint8_t*", frame), "scripted": scripted}  # int or float actions
            vec = lib.pl_vec_init(cfg, num_envs, obs, act, ffi.cast("float*", rew),
                                  ffi.cast("uint8_t*", term), ffi.cast("uint8_t*", trunc), seed,
                                  threads, err, 512)
            sock.send(ok + (ffi.string(err) if vec == ffi.NULL else b""))
        elif op == b"r":
            lib.pl_vec_reset(vec, struct.unpack("<Q", payload)[0])
            sock.send(ok)
        elif op == b"l":
            lib.pl_vec_log(vec, log)
            sock.send(ok + bytes(ffi.buffer(log)))
        elif op == b"a":
            lib.pl_vec_scripted(vec, ptr["scripted"])
            sock.send(ok)
        elif op == b"f":
            index, t = struct.unpack("<if", payload)
            sock.send(ok + struct.pack("<i", lib.pl_vec_render(vec, index, ptr["frame"], t)))
        elif op == b"u":
            sock.send(ok + struct.pack("<i", lib.pl_vec_unflagged_ends(vec)))
        elif op == b"x":
            if vec is not None and vec != ffi.NULL:
                lib.pl_vec_close(vec)
            lib.pl_guard(0)  # from here on, exiting is ours, not the env's
            sock.send(ok)
            break
        else:
            sock.send(b"e" + b"unknown request " + op)
    lib.pl_guard(0)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
