"""The standalone program: env + policy compiled together, no Python.

    export("target", "runs/target-1/model.pt", "demo/")   # -> demo/target_demo
    export_policy("target", policy, {}, "demo/")          # the same from a torch policy
    run_demo("demo/target_demo", episodes=10)             # its JSON result
"""
import json
import shlex
import subprocess
import sysconfig
from pathlib import Path

from puffer_learn.cenv import build
from puffer_learn.cenv.vector import make
from puffer_learn.export.weights import (ARCH, C_POLICY_FLAGS, WeightFileError, policy_outputs, read_weights,
                                         write_weights)
from puffer_learn.training.checkpoints import load_checkpoint, policy_from_checkpoint
from puffer_learn.training.errors import check_finite_state_dict


# ---- The standalone program ---------------------------------------------------
def config_header(env_name, vec, env_config):
    """C source: the env settings the policy was trained with, and the names of
    the env's Log fields (for the demo's JSON line)."""
    lines = [f"// Written by puffer-learn export for {env_name}: the settings of training.",
             f'#define ENV_NAME "{env_name}"',
             "static void demo_config(Config* c) {", "    env_defaults(c);"]
    for key, value in vec.config.items():
        if key in env_config:
            lines.append(f"    c->{key} = {value!r};")
    fields = ", ".join(f'"{f}"' for f in vec._log_fields)
    lines += ["}", f"static const char* LOG_FIELDS[] = {{{fields}}};", ""]
    return "\n".join(lines)


def compile_demo(env_name, header, config_path, out):
    """gcc: the env header + vec_binding.h + puffernet.h + demo_play.h + demo.c -> one program.

    raylib comes from the raylib wheel's library, which also references a few
    Python C-API symbols (it doubles as a Python module). We link libpython
    only to satisfy those; the program never starts Python."""
    lib = build.raylib_library()
    libdir = sysconfig.get_config_var("LIBDIR")
    pylib = f"python{sysconfig.get_config_var('LDVERSION')}"
    cmd = [build.compiler(), *C_POLICY_FLAGS, "-std=gnu11", f'-DENV_HEADER="{header}"',
           f'-DDEMO_CONFIG="{config_path}"', "-I", str(build.ENVS_DIR), "-I", str(build.raylib_dir()),
           str(build.ENVS_DIR / "demo.c"), "-o", str(out), str(lib), f"-Wl,-rpath,{lib.parent}",
           f"-L{libdir}", f"-l{pylib}", f"-Wl,-rpath,{libdir}", "-lm", "-lpthread"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise build.CompileError(f"the {env_name} demo did not compile:\n"
                                 f"{shlex.join(cmd)}\n\n{result.stderr.strip()}")
    return out


def export(env, checkpoint, out_dir, web=False, native=True):
    """Writes OUT/ENV_demo.bin (weights), OUT/ENV_config.h and compiles
    OUT/ENV_demo. With web=True also OUT/ENV.wasm, OUT/player.js and
    OUT/index.html: the same game live in a page (puffer_learn/web.py);
    native=False skips the native program (the docs site needs only the page).
    Returns a dict of the paths."""
    data = load_checkpoint(checkpoint)
    check_finite_state_dict(data["model"], f"checkpoint {checkpoint}")
    return export_policy(env, policy_from_checkpoint(data), dict(data["config"].get("env", {})), out_dir,
                         web=web, native=native)


def export_policy(env, policy, env_config, out_dir, web=False, native=True):
    """export() for a torch policy in hand (e.g. one built for a test) and the
    env settings it plays with; the same files, the same dict."""
    built = build.build(env)
    name, header = built.name, built.header
    vec = make(built, num_envs=1, **env_config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    program = out_dir / f"{name}_demo"
    weights = out_dir / f"{name}_demo.bin"
    read_back = write_weights(policy, weights, obs_dtype=vec.obs_dtype.name)
    if vec.continuous and read_back["num_actions"] != policy_outputs(vec):
        raise WeightFileError(f"the policy outputs {read_back['num_actions']} numbers but {name}'s "
                              f"{vec.num_actions} continuous actions need {policy_outputs(vec)} (a mean "
                              f"and a log std each)")
    read_weights(weights, vec.obs_size, policy_outputs(vec))  # what we wrote must read back
    config_path = out_dir / f"{name}_config.h"
    config_path.write_text(config_header(name, vec, env_config))
    if native:
        compile_demo(name, header, config_path.resolve(), program)
    vec.close()
    result = {"program": str(program) if native else None, "weights": str(weights), "config": str(config_path),
              "arch": [k for k, v in ARCH.items() if v == read_back["arch"]][0]}
    if web:
        from puffer_learn.export import web as web_build  # zig is needed only here
        wasm = web_build.compile_wasm(name, header, config_path, out_dir / f"{name}.wasm")
        page = web_build.write_page(out_dir, name, weights)
        result.update(wasm=str(wasm), wasm_bytes=wasm.stat().st_size, page=str(page))
    return result


def run_demo(program, episodes=10, seed=0, argmax=False, frames=None, weights=None):
    """Runs the exported program; returns its JSON result."""
    cmd = [str(program), "--episodes", str(episodes), "--seed", str(seed)]
    if argmax:
        cmd.append("--argmax")
    if frames:
        Path(frames).mkdir(parents=True, exist_ok=True)
        cmd += ["--frames", str(frames)]
    if weights:
        cmd += ["--weights", str(weights)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{program} failed: {result.stderr.strip()}")
    return json.loads(result.stdout.strip().splitlines()[-1])
