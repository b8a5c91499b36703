"""Compile a C env header into a Python extension (cffi), with a cache.

The same path serves packaged envs (``make("target")``) and envs a student
writes (a file path or a source string). Steps:

1. find the header and check it has what ``envs/puffer_env.h`` requires;
2. let cffi write the glue C file for ``header + vec_binding.h``;
3. run gcc ourselves, so a compile error comes back as a readable
   ``file:line: error: ...`` message instead of a setuptools traceback;
4. cache the built module per user, keyed by a hash of sources and flags;
5. for a student's env: first run it in a subprocess built with
   AddressSanitizer (reset + a few thousand random steps under a timeout), so a
   crash, an out-of-bounds write or an endless loop becomes a Python error
   while the notebook kernel stays alive. After that its VecEnvs run in a
   worker process (isolation.py), so a crash at any later step does too.
"""
import collections
import contextlib
import hashlib
import importlib.machinery
import io
import importlib.util
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import cffi

import puffer_learn.envs
from puffer_learn.cenv.crash_report import crash_report

ENVS_DIR = Path(puffer_learn.envs.__file__).parent
# vec_binding.h and the parts it includes (vec_threads.h, vec_core.h, ...), in order.
BINDING_HEADERS = ["vec_binding.h", *re.findall(r'^#include "(vec_\w+\.h)"',
                                                ENVS_DIR.joinpath("vec_binding.h").read_text(), re.M)]
SHARED_HEADERS = ["puffer_env.h", *BINDING_HEADERS, "raylib.h", "raylib_colors.h"]
# -g costs no speed; it lets a crash report name the env's file:line.
FAST_FLAGS = ["-O3", "-g", "-fno-math-errno"]
SMOKE_FLAGS = ["-O1", "-g", "-fsanitize=address", "-fno-omit-frame-pointer"]
REQUIRED_FUNCTIONS = ["env_defaults", "env_check", "env_spaces", "env_init", "env_reset",
                      "env_step", "env_scripted", "env_render", "env_close"]


def binding_cdef():
    """What the binding exports, read from the headers themselves so the two
    cannot drift: struct Spaces from puffer_env.h and every non-static pl_*
    function defined in vec_binding.h's parts (its signature up to the body's `{`).
    Log and Config are added from the env's own header (make_ffi)."""
    spaces = struct_text(strip_comments(ENVS_DIR.joinpath("puffer_env.h").read_text()), "Spaces")
    binding = strip_comments("\n".join(ENVS_DIR.joinpath(h).read_text() for h in BINDING_HEADERS))
    functions = re.findall(r"^((?!static\b)[A-Za-z_][\w \t*]*?\bpl_\w+\s*\([^()]*\))\s*\{",
                           binding, re.M)
    if spaces is None or not functions:
        raise RuntimeError("envs/puffer_env.h or envs/vec_*.h lost struct Spaces or the "
                           "pl_* functions: reinstall puffer_learn")
    return "\n".join([spaces, "typedef struct VecEnv VecEnv;", *(f + ";" for f in functions)])


class CompileError(RuntimeError):
    """The C compiler rejected an env; the message holds its diagnostics."""


class ContractError(ValueError):
    """An env header does not follow envs/puffer_env.h."""


class EnvCrashError(RuntimeError):
    """A student's env crashed, corrupted memory, exited or hung: in its smoke
    run, or later in its worker process (puffer_learn/cenv/isolation.py)."""


# Seconds a user env's smoke run may take before it counts as an endless loop.
SMOKE_TIMEOUT_S = 20.0


def cache_dir():
    root = os.environ.get("PUFFER_LEARN_CACHE") or Path.home() / ".cache" / "puffer_learn"
    path = Path(root) / "build"
    path.mkdir(parents=True, exist_ok=True)
    return path


def packaged_envs():
    """Names of the envs that ship with puffer_learn."""
    return sorted(p.name for p in ENVS_DIR.iterdir() if (p / f"{p.name}.h").is_file())


def locate(env, name=None):
    """Returns (name, header path, packaged?) for an env name, path or source."""
    if not isinstance(env, (str, os.PathLike)):
        raise TypeError(f"env must be a packaged env name, a path to a .h file or C source, "
                        f"got {type(env).__name__}")
    text = str(env)
    if "\n" in text:  # C source handed in as a string (a name or path has no newline)
        name = name or "student_env"
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        folder = cache_dir() / "src" / digest
        folder.mkdir(parents=True, exist_ok=True)
        header = folder / f"{name}.h"
        if not header.exists() or header.read_text() != text:
            header.write_text(text)
        return name, header, False
    if text in packaged_envs():
        return text, ENVS_DIR / text / f"{text}.h", True
    path = Path(text).expanduser()
    if path.suffix == ".h":
        if not path.is_file():
            raise FileNotFoundError(f"env header {path} does not exist")
        return name or path.stem, path.resolve(), False
    raise ValueError(f"unknown env {text!r}: packaged envs are {', '.join(packaged_envs())}; "
                     f"or pass the path of a .h file, or C source as a string")


def env_source(header, seen=None):
    """An env's whole C text: the header with every env header it includes
    (`#include "target/target.h"`: a path next to it or under envs/) pasted
    in place, recursively. The contract checks, the cffi declarations and the
    build caches read this, so an env may take its structs and functions from
    another env's header. The shared headers (puffer_env.h, ...) stay includes."""
    header = Path(header)
    seen = seen if seen is not None else {header.resolve()}

    def paste(match):
        name = match.group(1)
        for path in (header.parent / name, ENVS_DIR / name):
            if name not in SHARED_HEADERS and path.is_file():
                if path.resolve() in seen:  # included twice: its text is in already
                    return ""
                seen.add(path.resolve())
                return env_source(path, seen)
        return match.group(0)
    return re.sub(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)".*$', paste, header.read_text(), flags=re.M)


def strip_comments(source):
    source = re.sub(r"/\*.*?\*/", " ", source, flags=re.S)
    return re.sub(r"//[^\n]*", "", source)


def struct_text(source, name):
    match = re.search(r"typedef\s+struct\s+%s\s*\{(.*?)\}\s*%s\s*;" % (name, name), source, re.S)
    return None if match is None else f"typedef struct {name} {{{match.group(1)}}} {name};"


def check_contract(header, source):
    """Explains, before gcc runs, what a header is missing from the contract."""
    code = strip_comments(source)
    missing = [f"typedef struct {s} {{...}} {s};" for s in ("Log", "Config")
               if struct_text(code, s) is None]
    if "ENV_CONTRACT_FIELDS" not in code:
        missing.append("ENV_CONTRACT_FIELDS at the start of struct Env")
    missing += [f"{fn}(...)" for fn in REQUIRED_FUNCTIONS if not re.search(rf"\b{fn}\s*\(", code)]
    if missing:
        raise ContractError(f"{header.name} does not follow the env contract "
                            f"(envs/puffer_env.h); it is missing: " + "; ".join(missing))
    log = struct_text(code, "Log")
    if not re.search(r"\bn\s*;\s*\}", log):
        raise ContractError(f"{header.name}: the last field of struct Log must be `float n;` "
                            f"(the number of finished episodes)")


def raylib_dir():
    spec = importlib.util.find_spec("raylib")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("raylib is not installed: pip install raylib-software")
    return Path(list(spec.submodule_search_locations)[0])


def raylib_library():
    libs = sorted(raylib_dir().glob("_raylib_cffi*.so"))
    if not libs:
        raise ImportError(f"no _raylib_cffi*.so in {raylib_dir()}: reinstall raylib-software")
    return libs[0]


def compiler():
    cc = os.environ.get("CC", "gcc")
    if shutil.which(cc) is None:
        raise CompileError(f"no C compiler: `{cc}` is not on PATH. Install gcc "
                           f"(Debian/Ubuntu: apt install gcc; macOS: xcode-select --install) "
                           f"or set CC to your compiler.")
    return cc


def make_ffi(header, source):
    code = strip_comments(source)
    ffi = cffi.FFI()
    # Enums with literal values name the choices of int settings (obs_mode="raw").
    enums = "\n".join(re.findall(r"\benum\s*\w*\s*\{[^{}]*\}\s*;", code))
    ffi.cdef("\n".join([enums, struct_text(code, "Log"), struct_text(code, "Config"),
                         binding_cdef()]))
    for field, ctype in ffi.typeof("Log").fields:
        if ctype.type.cname != "float":
            raise ContractError(f"{header.name}: Log.{field} is {ctype.type.cname}; "
                                f"every Log field must be float")
    for field, ctype in ffi.typeof("Config").fields:
        if ctype.type.cname not in ("int", "float"):
            raise ContractError(f"{header.name}: Config.{field} is {ctype.type.cname}; "
                                f"Config fields must be int or float")
    return ffi


def readable(diagnostics, header, glue):
    """Shortens the compiler's paths so errors read `my_env.h:12:5: error: ...`."""
    text = diagnostics.replace(str(header.parent) + "/", "")
    text = text.replace(str(glue), "<binding>").replace(str(ENVS_DIR) + "/", "envs/")
    return text.strip()


def compile_module(name, header, flags):
    """Builds (or finds in the cache) an env's extension module; returns
    (module name, path)."""
    source = env_source(header)
    check_contract(header, source)
    ffi = make_ffi(header, source)
    neighbours = sorted(p.read_text() for p in header.parent.glob("*.h") if p != header)
    return compile_extension(ffi, name, f'#include "{header}"\n#include "vec_binding.h"\n',
                             [source, *neighbours], flags, [header.parent], header)


def compile_extension(ffi, name, source, hash_parts, flags, include_dirs=(), header=None):
    """Compiles cffi's glue for `source` with gcc into a cached extension.

    The cache key covers hash_parts, the shared headers, the flags, the
    raylib library and the Python/cffi versions."""
    key = hashlib.sha256()
    for part in [source, *hash_parts, *(ENVS_DIR.joinpath(h).read_text() for h in SHARED_HEADERS),
                 " ".join(flags), str(raylib_library()), sys.version, cffi.__version__]:
        key.update(part.encode())
    modname = f"_pl_{re.sub(r'[^A-Za-z0-9_]', '_', name)}_{key.hexdigest()[:16]}"
    target = cache_dir() / (modname + sysconfig.get_config_var("EXT_SUFFIX"))
    if target.exists():
        return modname, target
    ffi.set_source(modname, source)
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        glue = Path(tmp) / f"{modname}.c"
        with contextlib.redirect_stdout(io.StringIO()):  # cffi prints "generating ..."
            ffi.emit_c_code(str(glue))
        out = Path(tmp) / target.name
        lib = raylib_library()
        includes = [arg for d in [*include_dirs, ENVS_DIR, raylib_dir(),
                                  sysconfig.get_paths()["include"]] for arg in ("-I", str(d))]
        cmd = [compiler(), "-shared", "-fPIC", "-std=gnu11", *flags,
               "-Werror=implicit-function-declaration", "-Werror=incompatible-pointer-types",
               *includes, str(glue), "-o", str(out),
               str(lib), f"-Wl,-rpath,{lib.parent}", "-lm", "-lpthread"]
        result = subprocess.run(cmd, capture_output=True, text=True)
        where = header or Path(name)
        if result.returncode != 0:
            raise CompileError(f"{where.name} did not compile:\n\n"
                               + readable(result.stderr, where, glue))
        # [CONTRACT] A function declared but never defined links fine into a
        # shared library and fails only at load with "undefined symbol".
        for place, function in re.findall(r"^(\S+?:\d+):\d+: warning: '(\w+)' used but never defined",
                                          readable(result.stderr, where, glue), re.M):
            raise ContractError(f"{place}: {function} is declared but never defined: write its "
                                f"body (see envs/puffer_env.h)")
        os.replace(out, target)  # atomic: a half-written module is never cached
    return modname, target


def load_module(modname, path):
    loader = importlib.machinery.ExtensionFileLoader(modname, str(path))
    spec = importlib.util.spec_from_file_location(modname, str(path), loader=loader)
    try:
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
    except ImportError as e:
        missing = re.search(r"undefined symbol: (\w+)", str(e))
        if missing is None:
            raise
        raise ContractError(f"{missing.group(1)} is declared but never defined in the env's code: "
                            f"a declaration alone is not enough, write its body (see envs/puffer_env.h)") from None
    return module


def smoke_run(name, header, config, steps=2000, timeout=None):
    """Runs a fresh env under AddressSanitizer in a subprocess; raises on trouble.

    [CONTRACT] Passing means the child printed "finished TOKEN" (a fresh
    random token) and exited with status 0: exit(0) inside env code is a crash.
    """
    timeout = SMOKE_TIMEOUT_S if timeout is None else timeout
    modname, path = compile_module(name, header, SMOKE_FLAGS)
    env = asan_environment()
    token = secrets.token_hex(8)
    cmd = [sys.executable, "-m", "puffer_learn.cenv.smoke", modname, str(path), header.name,
           json.dumps(config), str(steps), token]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        raise EnvCrashError(f"{header.name} did not finish {steps} random steps within "
                            f"{timeout:.0f} s: it was stuck {smoke_progress(out)}. Look for a loop "
                            f"that never ends in env_reset or env_step.") from None
    lines = result.stdout.strip().splitlines()
    if result.returncode == 0 and lines and lines[-1] == f"finished {token}":
        return
    relayed = [l for l in lines if l.startswith("PL_ERROR ")]
    if result.returncode == 3 and relayed:  # a contract or memory error, as one line
        _, kind, message = relayed[-1].split(" ", 2)
        error = {"ContractError": ContractError, "MemoryError": MemoryError,
                 "TypeError": TypeError}.get(kind, ValueError)
        raise error(message)
    raise EnvCrashError(crash_report(header, f"{smoke_progress(result.stdout)} in its smoke run",
                                     result.stderr, result.returncode))


def smoke_progress(stdout):
    """When the smoke run stopped: the child prints what it is about to do
    ("at step 3": the 3rd step after its reset) before doing it."""
    lines = stdout.strip().splitlines()
    return lines[-1] if lines else "while loading its module"


def asan_environment():
    """os.environ for a Python process that loads a module built with
    SMOKE_FLAGS: the ASan runtime preloaded (Python itself is not built with it)."""
    # handle_abort: abort() gets ASan's stack (file:line); allocator_may_return_null:
    # a calloc too big returns NULL (the binding reports it) instead of aborting.
    env = dict(os.environ, SDL_VIDEODRIVER="dummy",
               ASAN_OPTIONS="detect_leaks=0:verify_asan_link_order=0:handle_abort=1:"
                            "allocator_may_return_null=1")
    asan = subprocess.run([compiler(), "-print-file-name=libasan.so"],
                          capture_output=True, text=True).stdout.strip()
    if os.path.isabs(asan):
        env["LD_PRELOAD"] = asan
    return env


# What build() returns: enough to make any number of VecEnvs without locating,
# contract-checking or hashing the sources again (make(built, num_envs=...)).
Built = collections.namedtuple("Built", ["name", "packaged", "module", "header"])


def build(env, name=None, config=None):
    """Returns Built(name, packaged?, the loaded cffi module, header path)."""
    name, header, packaged = locate(env, name)
    modname, path = compile_module(name, header, FAST_FLAGS)
    if not packaged and modname not in _smoke_passed:
        smoke_run(name, header, config or {})
        _smoke_passed.add(modname)
    if modname not in sys.modules:
        sys.modules[modname] = load_module(modname, path)
    return Built(name, packaged, sys.modules[modname], header)


_smoke_passed = set()
