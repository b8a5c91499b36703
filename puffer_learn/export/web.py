"""The trained agent as a web page: env + policy compiled to WebAssembly.

    compile_wasm("target", header, config_h, "demo/target.wasm")   # zig cc, cached
    write_page("demo/", "target", "target_demo.bin")                # player.js + index.html
    run_wasm("demo/target.wasm", "demo/target_demo.bin", episodes=10)  # the JSON line, via wasmtime

envs/web/web_main.c is the page's twin of envs/demo.c (same seeding, same env
loop, same JSON line); envs/web/raylib_canvas.h forwards the env's raylib draw
calls to wasm imports that envs/web/player.js draws on a Canvas 2D context.

Compiler: `zig cc` from the `ziglang` Python package (pip install ziglang; the
first build compiles wasi-libc into zig's cache, ~1 min; later ones ~1 s).
Fallback: Debian's clang + lld + wasi-libc + libclang-rt-dev-wasm32
(apt install clang lld wasi-libc libclang-rt-dev-wasm32), used when ziglang
is not installed. No emscripten: nothing is downloaded at build time.
"""
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from puffer_learn.cenv import build

WEB_DIR = build.ENVS_DIR / "web"
# -O2 -s: small modules. [CONTRACT] never -ffast-math or -march=native here:
# they change float results, and the page must play the native demo's game.
WASM_FLAGS = ["-mexec-model=reactor", "-O2", "-s", "-std=gnu11", "-DPL_CORE_ONLY",
              "-Werror=implicit-function-declaration"]
WASI_SYSROOT = Path("/usr/share/wasi-sysroot")  # Debian's wasi-libc
# The raylib calls raylib_canvas.h forwards to the canvas (and player.js draws).
SHIM_CALLS = ["ClearBackground", "DrawCircleV", "DrawLineEx", "DrawRectangle", "DrawTriangle",
              "DrawTriangleLines", "DrawPolyLines", "DrawText", "TextFormat"]
SOURCES = ["web/web_main.c", "web/raylib_canvas.h", "raylib_colors.h", "demo_play.h", "puffernet.h",
           "puffer_env.h", *build.BINDING_HEADERS]
PAGE_FILES = ["player.js"]


def wasm_compiler():
    """The command that compiles C to wasm32-wasi: zig cc (pip) or Debian clang."""
    if importlib.util.find_spec("ziglang") is not None:
        return [sys.executable, "-m", "ziglang", "cc", "-target", "wasm32-wasi"]
    if shutil.which("clang") and (WASI_SYSROOT / "include").is_dir():
        return ["clang", "--target=wasm32-wasi", f"--sysroot={WASI_SYSROOT}"]
    raise build.CompileError("no WebAssembly compiler: pip install ziglang (or pip install "
                             "'puffer_learn[docs]'); or install Debian's clang, lld, wasi-libc and "
                             "libclang-rt-dev-wasm32")


def raylib_names():
    """Every function raylib declares (from the wheel's header), to tell a
    raylib call the page cannot draw from any other undeclared function."""
    try:
        text = (build.raylib_dir() / "raylib.h.modified").read_text()
    except (ImportError, OSError):
        return set()
    return set(re.findall(r"\b([A-Z]\w+)\s*\(", text))


def explain(name, diagnostics):
    """A raylib call the shim lacks, as one line naming it; else the diagnostics."""
    calls = re.findall(r"(\S+?:\d+):\d+: error: (?:call to undeclared function|implicit declaration of "
                       r"function) '(\w+)'", diagnostics)
    raylib = raylib_names()
    for place, function in calls:
        if function in raylib or re.match(r"(Draw|Clear|Text|Measure|Get|Set|Load|Image)", function):
            return (f"{place}: {name} calls raylib's {function}, which the web page cannot draw: "
                    f"envs/web/raylib_canvas.h forwards only {', '.join(SHIM_CALLS)}; draw with those, "
                    f"or add {function} to envs/web/raylib_canvas.h and envs/web/player.js")
    return f"{name} did not compile to WebAssembly:\n\n{diagnostics}"


def compile_wasm(name, header, config_path, out):
    """env header + web_main.c + the demo's config header -> out (a .wasm file).

    Cached per user by a hash of every source, the flags and the compiler, as
    the native builds are (puffer_learn/cenv/build.py)."""
    header, config_path, out = Path(header).resolve(), Path(config_path).resolve(), Path(out)
    cc = wasm_compiler()
    neighbours = sorted(p.read_text() for p in header.parent.glob("*.h") if p != header)
    key = hashlib.sha256()
    for part in [*(build.ENVS_DIR.joinpath(s).read_text() for s in SOURCES), build.env_source(header),
                 *neighbours, config_path.read_text(), " ".join(cc[1:] + WASM_FLAGS),
                 zig_version() if "ziglang" in cc else "clang"]:
        key.update(part.encode())
    cached = build.cache_dir() / "wasm" / f"{re.sub(r'[^A-Za-z0-9_]', '_', name)}_{key.hexdigest()[:16]}.wasm"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        cmd = [*cc, *WASM_FLAGS, f'-DENV_HEADER="{header}"', f'-DDEMO_CONFIG="{config_path}"',
               "-I", str(header.parent), "-I", str(build.ENVS_DIR), str(WEB_DIR / "web_main.c"),
               "-o", str(tmp)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise build.CompileError(explain(name, build.readable(result.stderr, header, WEB_DIR / "web_main.c")))
        os.replace(tmp, cached)  # atomic: a half-written module is never cached
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached, out)
    return out


def zig_version():
    from importlib.metadata import version
    return version("ziglang")


def page_html(name, weights):
    """index.html: the player on a page of its own (reads ?seed=&episodes=&argmax=)."""
    template = (WEB_DIR / "index.html").read_text()
    return template.replace("{{ENV}}", name).replace("{{WASM}}", f"{name}.wasm").replace("{{WEIGHTS}}", weights)


def write_page(out_dir, name, weights):
    """Copies player.js and writes index.html into out_dir; returns the page's path."""
    out_dir = Path(out_dir)
    for f in PAGE_FILES:
        shutil.copyfile(WEB_DIR / f, out_dir / f)
    page = out_dir / "index.html"
    page.write_text(page_html(name, Path(weights).name))
    return page


# ---- Running the module outside a browser (parity tests, lessons) --------------
def run_wasm(wasm, weights, episodes=10, seed=0, argmax=False, render=True, max_ticks=10_000_000):
    """Plays the module under wasmtime as the page does (init, then step and
    render each tick until `episodes` episodes finished); returns its JSON line
    (the native demo's, see envs/web/web_main.c) with "ticks" and "draw_calls"
    added. Raises RuntimeError with the module's message if it refuses the weights."""
    import wasmtime

    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    module = wasmtime.Module.from_file(engine, str(wasm))
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    store.set_wasi(wasmtime.WasiConfig())
    draws = [0]

    def draw(*args):
        draws[0] += 1
    for imp in module.imports:
        if imp.module == "draw":
            linker.define_func("draw", imp.name, imp.type, draw)
    ex = linker.instantiate(store, module).exports(store)
    memory = ex["memory"]

    def c_string(ptr):
        data = memory.read(store, ptr, min(ptr + 4096, memory.data_len(store)))
        return bytes(data).split(b"\0", 1)[0].decode()
    ex["_initialize"](store)
    data = Path(weights).read_bytes()
    ptr = ex["pl_web_malloc"](store, len(data))
    memory.write(store, data, ptr)
    if ex["pl_web_init"](store, ptr, len(data), float(seed), int(bool(argmax)), episodes):
        raise RuntimeError(c_string(ex["pl_web_error"](store)))
    ticks = 0
    while not ex["pl_web_done"](store) and ticks < max_ticks:
        if ex["pl_web_step"](store) < 0:  # the policy's action was NaN or inf
            raise RuntimeError(c_string(ex["pl_web_error"](store)))
        if render:
            ex["pl_web_render"](store)
        ticks += 1
    result = json.loads(c_string(ex["pl_web_result"](store)))
    result.update(ticks=ticks, draw_calls=draws[0])
    return result
