"""A student's C functions, compiled and called from a notebook, safely.

    fn = compile_c(SOURCE, "void linear(const float* W, const float* b, const float* x, float* y, int n_in, int n_out);")
    y = np.zeros(3, np.float32)
    fn.linear(W, b, x, y, 5, 3)        # numpy arrays in, written in place

The same path as envs (puffer_learn/cenv/build.py): gcc run by us, so a compile
error reads `my_code.c:4:5: error: ...` with the student's own line; a crash
does not kill the kernel. Every call runs in a child process built with
AddressSanitizer (like a student env's smoke run), so a segfault, an
out-of-bounds read or write, or an endless loop comes back as EnvCrashError
naming the line. Arrays are copied to the child and the written ones back,
so this is for checks on small inputs, not for speed.
"""
import hashlib
import pickle
import re
import subprocess
import sys
from pathlib import Path

import cffi
import numpy as np

from puffer_learn.cenv import build
from puffer_learn.cenv.crash_report import asan_summary

CALL_TIMEOUT_S = 20.0
CHILD = r"""
import importlib.machinery, importlib.util, pickle, sys
import numpy as np  # not puffer_learn: a child per call must start fast
modname, path, calls = pickle.load(sys.stdin.buffer)
loader = importlib.machinery.ExtensionFileLoader(modname, path)
module = importlib.util.module_from_spec(importlib.util.spec_from_file_location(modname, path, loader=loader))
loader.exec_module(module)
lib, ffi = module.lib, module.ffi
results = []
for name, args in calls:
    cargs = [ffi.from_buffer(ffi.typeof(getattr(lib, name)).args[i].cname, a)
             if isinstance(a, np.ndarray) else a for i, a in enumerate(args)]
    out = getattr(lib, name)(*cargs)
    results.append((out, [a for a in args if isinstance(a, np.ndarray)]))
sys.stdout.flush()
pickle.dump(results, sys.stdout.buffer)
"""


class StudentC:
    """Compiled C functions; each attribute call runs in an ASan child."""

    def __init__(self, modname, path, names, code):
        self._modname, self._path, self._names, self._code = modname, path, names, code
        self.filename = code.name

    def call_many(self, calls):
        """[(function name, args)] -> [(return value, [arrays after the call])], in one child."""
        payload = pickle.dumps((self._modname, str(self._path), calls))
        try:
            result = subprocess.run([sys.executable, "-c", CHILD], input=payload, capture_output=True,
                                    env=build.asan_environment(), timeout=CALL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise build.EnvCrashError(f"{self.filename}: a call did not return within "
                                      f"{CALL_TIMEOUT_S:.0f} s: look for a loop that never ends") from None
        if result.returncode != 0:
            stderr = result.stderr.decode(errors="replace")
            report = asan_summary(stderr, self._code)
            raise build.EnvCrashError(f"{self.filename} crashed (exit status {result.returncode}).\n"
                                      + (report or stderr.strip()[-1500:]))
        return pickle.loads(result.stdout)

    def __getattr__(self, name):
        if name.startswith("_") or name not in self._names:
            raise AttributeError(f"{self.filename} declares no function {name!r}; it has "
                                 f"{', '.join(self._names)}")

        def call(*args):
            arrays = [a for a in args if isinstance(a, np.ndarray)]
            for a in arrays:
                if not a.flags.c_contiguous:
                    raise ValueError(f"{name}: pass contiguous arrays (np.ascontiguousarray)")
            out, after = self.call_many([(name, list(args))])[0]
            for a, b in zip(arrays, after):
                a[...] = b  # what C wrote, back into the caller's arrays
            return out
        return call


def compile_c(source, declarations, filename="my_code.c"):
    """Compiles `source` (C functions) declared by `declarations` (their
    prototypes, C syntax) with gcc and AddressSanitizer; returns StudentC.
    A compile error raises build.CompileError with filename:line."""
    names = re.findall(r"(\w+)\s*\([^;]*\)\s*;", declarations)
    if not names:
        raise ValueError("declarations must hold C prototypes such as "
                         "'void relu(float* x, int n);'")
    folder = build.cache_dir() / "student_c" / hashlib.sha256(source.encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    code = folder / filename
    code.write_text(source)
    ffi = cffi.FFI()
    ffi.cdef(declarations)
    modname, path = build.compile_extension(ffi, Path(filename).stem, f'#include <math.h>\n#include <stdint.h>\n#include "{code}"\n', [source],
                                            build.SMOKE_FLAGS, [folder], header=code)
    return StudentC(modname, path, names, code)
