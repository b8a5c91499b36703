"""How fast is an env, and where does its time go? (lesson 6)

    from puffer_learn.cenv.profiling import bench, gprof
    bench("target")                       # env-only agent-steps/s, random actions
    profile = gprof("slow_target")        # the env as a C program under gprof
    print(profile.table(8))               # the flat profile's top lines
    profile.share("build_background")     # its share of the sampled time

bench() is what `puffer-learn bench` runs. gprof() compiles envs/profile_main.c
(the env, the binding, a loop of random actions; no Python, no raylib) with
gcc's `-pg` instrumentation, runs it, and reads `gprof -b -p`: which function
the program was in at each sampling tick (every 10 ms of CPU time), and how
often each of the env's functions was called. It is linked statically, so
time spent inside libc and libm (malloc, free, sinf) is sampled and named
too; time inside the kernel (system calls) is not: compare `sampled_s` with
`user_s` and `sys_s`. gcc and gprof (GNU binutils) are all it needs.
"""
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from puffer_learn.cenv.build import (BINDING_HEADERS, ENVS_DIR, FAST_FLAGS, CompileError, cache_dir, compiler,
                                     env_source, locate)

# What profile_main.c needs however it is optimized: GNU C11, and only the
# env core (vec_binding.h's PL_CORE_ONLY: no raylib window, no crash reports).
PROGRAM_FLAGS = ["-std=gnu11", "-DPL_CORE_ONLY", "-Wno-attributes"]
# -O2 as a real build, but -fno-inline: an inlined function has no line of its
# own in a profile (its time would show up in its caller). -fno-ipa-cp: no
# ".constprop" clones, whose calls gprof credited to the wrong function.
PROFILE_FLAGS = ["-O2", "-fno-inline", "-fno-ipa-cp", "-g", "-pg", "-static", *PROGRAM_FLAGS]
# For timing: optimized exactly as training builds the env.
TIMING_FLAGS = [*FAST_FLAGS, *PROGRAM_FLAGS]


def timed_steps(step, set_actions, seconds):
    """Calls set_actions(k) (k in 0..63: a row of pre-drawn actions) then step(),
    over and over for `seconds`, after 20 warm-up steps (caches, the branch
    predictor). Returns (steps, elapsed seconds). `bench` and the bench/
    scripts all time env steps with it, so their figures compare."""
    for k in range(20):
        set_actions(k % 64)
        step()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for k in range(64):
            set_actions(k)
            step()
        steps += 64
    return steps, time.perf_counter() - start


def bench(env, num_envs=512, seconds=3.0, threads=1, seed=0, **config):
    """Env-only throughput with random actions: no network in the loop.
    Returns {"env", "num_envs", "num_agents", "threads", "seconds",
    "vector_steps", "agent_steps_per_s"}."""
    from puffer_learn.cenv.vector import make

    vec = make(env, num_envs=num_envs, seed=seed, threads=threads, **config)
    vec.reset()
    rng = np.random.default_rng(seed)
    # A pool of pre-drawn random actions, so drawing them is not what we time.
    pool = np.stack([vec.random_actions(rng) for _ in range(64)])

    def set_actions(k):
        vec.actions[:] = pool[k]
    steps, elapsed = timed_steps(vec.step, set_actions, seconds)
    result = {"env": str(env) if "\n" not in str(env) else "(source)", "num_envs": vec.num_envs,
              "num_agents": vec.num_agents, "threads": threads, "seconds": round(elapsed, 3),
              "vector_steps": steps, "agent_steps_per_s": round(steps * vec.num_agents / elapsed)}
    vec.close()
    return result


@dataclass
class Profile:
    """One gprof run: rows of the flat profile, most self time first, each
    {"name", "percent", "self_s", "calls"} (calls None for functions built
    without -pg, e.g. libc's), the program's own JSON line (`run`) and the
    flat profile's text."""
    rows: list
    run: dict
    text: str
    sampled_s: float = field(init=False)

    def __post_init__(self):
        self.sampled_s = sum(r["self_s"] for r in self.rows)

    @property
    def user_s(self):
        return self.run["user_s"]

    @property
    def sys_s(self):
        return self.run["sys_s"]

    def share(self, pattern):
        """Share (0..1) of the sampled time in functions whose name matches
        the regular expression `pattern` (e.g. "alloc|free")."""
        if not self.sampled_s:
            return 0.0
        return sum(r["self_s"] for r in self.rows if re.search(pattern, r["name"])) / self.sampled_s

    def top(self, n=8):
        return self.rows[:n]

    def table(self, n=8):
        """The flat profile's top n lines, as gprof prints them."""
        lines = ["  %time  self s      calls  function"]
        for r in self.rows[:n]:
            calls = "" if r["calls"] is None else f"{r['calls']:,}"
            lines.append(f"  {r['percent']:5.1f}  {r['self_s']:6.2f}  {calls:>9s}  {r['name']}")
        return "\n".join(lines)


def parse_flat_profile(text):
    """The rows of `gprof -b -p`'s flat profile (see Profile)."""
    rows = []
    for line in text.splitlines():
        # %time  cumulative  self  [calls  self/call  total/call]  name
        m = re.match(r"^\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(?:(\d+)\s+[\d.]+\s+[\d.]+\s+)?(\S.*?)\s*$", line)
        if m:
            rows.append({"name": m.group(5), "percent": float(m.group(1)), "self_s": float(m.group(3)),
                         "calls": None if m.group(4) is None else int(m.group(4))})
    return rows


def compile_profiled(env, name=None, instrument=True):
    """Builds (or finds in the cache) envs/profile_main.c with `env`'s header,
    instrumented for gprof (or, instrument=False, optimized as training runs
    it, for timing); returns the program's path."""
    flags = PROFILE_FLAGS if instrument else TIMING_FLAGS
    if instrument and shutil.which("gprof") is None:
        raise RuntimeError("gprof is not installed: it comes with GNU binutils "
                           "(Debian/Ubuntu: apt install binutils)")
    name, header, _ = locate(env, name)
    driver = ENVS_DIR / "profile_main.c"
    key = hashlib.sha256()
    for part in [env_source(header), driver.read_text(), " ".join(flags),
                 *(ENVS_DIR.joinpath(h).read_text() for h in ("puffer_env.h", *BINDING_HEADERS,
                                                              "web/raylib_canvas.h"))]:
        key.update(part.encode())
    program = cache_dir() / "profile" / f"{re.sub(r'[^A-Za-z0-9_]', '_', name)}_{key.hexdigest()[:16]}"
    if program.exists():
        return program
    program.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=program.parent) as tmp:
        out = f"{tmp}/{program.name}"
        cmd = [compiler(), *flags, f'-DENV_HEADER="{header}"', "-I", str(header.parent),
               "-I", str(ENVS_DIR), str(driver), "-o", out, "-lm", "-lpthread"]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise CompileError(f"{header.name} did not compile for profiling:\n\n"
                               + result.stderr.replace(str(header.parent) + "/", "").strip())
        shutil.move(out, program)
    return program


def run_program(program, steps, num_envs, seed, cwd=None):
    """Runs a built profile_main.c; returns its JSON line as a dict."""
    result = subprocess.run([str(program), "--steps", str(steps), "--num-envs", str(num_envs),
                             "--seed", str(seed)], capture_output=True, text=True, cwd=cwd)
    if result.returncode != 0:
        raise RuntimeError(f"the profiled program failed ({result.returncode}): {result.stderr[-2000:]}")
    run = json.loads(result.stdout.strip().splitlines()[-1])
    run["agent_steps_per_s"] = run["agent_steps"] / run["seconds"]
    return run


def time_steps(env, steps=2000, num_envs=64, seed=1, name=None):
    """Agent-steps/s of `env` stepped by a plain C loop (no Python, no
    profiler): {"seconds", "agent_steps_per_s", ...} of one run."""
    return run_program(compile_profiled(env, name, instrument=False), steps, num_envs, seed)


def gprof(env, steps=4000, num_envs=64, seed=1, name=None):
    """Profiles `env` (a packaged name, a .h path or C source) stepping
    num_envs envs `steps` times with random actions; returns a Profile."""
    program = compile_profiled(env, name)
    with tempfile.TemporaryDirectory() as tmp:  # the program writes gmon.out here
        run = run_program(program, steps, num_envs, seed, cwd=tmp)
        flat = subprocess.run(["gprof", "-b", "-p", str(program), f"{tmp}/gmon.out"],
                              capture_output=True, text=True, check=True).stdout
    return Profile(parse_flat_profile(flat), run, flat)
