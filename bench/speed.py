"""The speed figures the course quotes (env steps/s, time to solve target, C
inference), each with its reference measured in the same run, printed as
JSON (one object per row, then a summary line).

    python bench/speed.py                  # env rows + C inference rows
    python bench/speed.py --train 1,2,3,4,5  # + time to solve target per seed

Rows:
  env_1_thread     target, 512 envs x 8 puffers, random actions, one thread,
                   vs PufferLib 3.0's own target env (512 envs x 8 agents,
                   4 goals), alternating A/B --repeats times;
  env_2_threads    the same with --threads 2, vs one thread, alternating;
  train_seed_N     `puffer-learn train target --seed N` (envs/target/train.toml):
                   the process's wall seconds and final ratio, when the logged
                   ratio first reached 0.9, SPS, and cores used (user+sys CPU
                   time / wall time; the machine's load is noted);
  c_inference_*    bench/c_inference.py at batch 1 (lstm on target, entity on
                   asteroids, whose observations have an entity layout), vs
                   torch in the same process.

PufferLib's target is not a dependency. When its compiled binding cannot be
found the env_1_thread row says so and carries no reference. To make it
findable (offline, ~1 s of compiling on 2 cores), build only its target
extension in place from PufferLib 3.0's sdist, with the same flags its
setup.py uses (-O2 -flto -DPLATFORM_DESKTOP, raylib linked statically):

    cd pufferlib-3.0.0          # the unpacked sdist (it ships raylib-5.5_linux_amd64)
    PY=/path/to/your/.venv/bin/python
    gcc -shared -fPIC -O2 -flto -DPLATFORM_DESKTOP \\
        -DNPY_NO_DEPRECATED_API=NPY_1_7_API_VERSION -Wno-implicit-function-declaration \\
        -I$($PY -c 'import numpy; print(numpy.get_include())') \\
        -I$($PY -c 'import sysconfig; print(sysconfig.get_paths()["include"])') \\
        -Iraylib-5.5_linux_amd64/include pufferlib/ocean/target/binding.c \\
        raylib-5.5_linux_amd64/lib/libraylib.a -lm -lpthread -fwrapv -Wl,-Bsymbolic-functions \\
        -o pufferlib/ocean/target/binding$($PY -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
    export PUFFERLIB_SRC=$PWD   # or: a full `pip install --no-build-isolation .` of the sdist

(A full build of the package also works: give its setup.py placeholder
folders for the GitHub downloads (raylib, box2d), use --no-build-isolation,
and hide nvcc from PATH.) This script loads only the binding's .so, not the
pufferlib package (whose __init__ imports more and writes a symlink into the
current folder).
"""
import argparse
import glob
import importlib.machinery
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import puffer_learn
from puffer_learn.cenv.profiling import timed_steps

ROOT = Path(__file__).resolve().parent.parent


def pufferlib_binding():
    """PufferLib 3.0's compiled target binding, or (None, why not)."""
    roots = [os.environ.get("PUFFERLIB_SRC")]
    spec = importlib.util.find_spec("pufferlib")  # finds without importing it
    if spec is not None and spec.submodule_search_locations:
        roots.append(str(Path(list(spec.submodule_search_locations)[0]).parent))
    for root in filter(None, roots):
        found = sorted(glob.glob(f"{root}/pufferlib/ocean/target/binding*.so"))
        if found:
            loader = importlib.machinery.ExtensionFileLoader("binding", found[0])
            module = importlib.util.module_from_spec(
                importlib.util.spec_from_file_location("binding", found[0], loader=loader))
            loader.exec_module(module)
            return module, found[0]
    return None, ("PufferLib 3.0's target binding not found (set PUFFERLIB_SRC to a built "
                  "sdist folder; see this script's docstring)")


def steps_per_second(step, set_actions, agents, seconds):
    """Agent-steps per second of step() with pre-drawn random actions."""
    steps, elapsed = timed_steps(step, set_actions, seconds)
    return steps * agents / elapsed


def ours(num_envs, threads, seconds):
    env = puffer_learn.make("target", num_envs=num_envs, seed=0, threads=threads)
    env.reset()
    pool = np.random.default_rng(0).integers(0, env.num_actions, (64, env.num_agents), dtype=np.int32)
    def set_actions(k):
        env.actions[:] = pool[k]
    try:
        return steps_per_second(env.step, set_actions, env.num_agents, seconds)
    finally:
        env.close()


def theirs(binding, num_envs, seconds, agents=8, goals=4):
    """PufferLib's target exactly as its target.py builds and steps it."""
    n = num_envs * agents
    obs = np.zeros((n, 2 * (agents + goals) + 4), np.float32)
    actions = np.zeros((n, 2), np.int32)  # MultiDiscrete([9, 5])
    rewards, terminals, truncations = np.zeros(n, np.float32), np.zeros(n, np.uint8), np.zeros(n, np.uint8)
    handles = [binding.env_init(obs[i * agents:(i + 1) * agents], actions[i * agents:(i + 1) * agents],
                                rewards[i * agents:(i + 1) * agents], terminals[i * agents:(i + 1) * agents],
                                truncations[i * agents:(i + 1) * agents], 0, width=1080, height=720,
                                num_agents=agents, num_goals=goals) for i in range(num_envs)]
    vec = binding.vectorize(*handles)
    binding.vec_reset(vec, 0)
    pool = np.random.default_rng(0).integers(0, [9, 5], (64, n, 2), dtype=np.int32)
    def set_actions(k):
        actions[:] = pool[k]
    try:
        return steps_per_second(lambda: binding.vec_step(vec), set_actions, n, seconds)
    finally:
        binding.vec_close(vec)


def env_rows(args):
    binding, where = pufferlib_binding()
    one, two, ref = [], [], []
    for _ in range(args.repeats):  # alternate, so load changes hit every column alike
        one.append(ours(args.num_envs, 1, args.seconds))
        if binding is not None:
            ref.append(theirs(binding, args.num_envs, args.seconds))
        two.append(ours(args.num_envs, 2, args.seconds))
    m = lambda xs: [round(x / 1e6, 2) for x in xs]
    row1 = {"row": "env_1_thread", "what": f"puffer-learn target, {args.num_envs} envs, 1 thread",
            "agent_steps_per_s_M": m(one)}
    if binding is None:
        row1["reference"] = None
        row1["note"] = where
    else:
        row1["reference"] = {"what": f"PufferLib 3.0 target ({where})", "agent_steps_per_s_M": m(ref)}
        row1["ratio_median"] = round(float(np.median(one) / np.median(ref)), 3)
    row2 = {"row": "env_2_threads", "what": "the same with 2 threads", "agent_steps_per_s_M": m(two),
            "reference": {"what": "1 thread, same run", "agent_steps_per_s_M": m(one)},
            "ratio_median": round(float(np.median(two) / np.median(one)), 3)}
    return [row1, row2]


def train_row(seed, args):
    """One `puffer-learn train target --seed N` process: its wall time (start,
    build, baseline, training, final evaluation), the training time at which
    the logged ratio first reached 0.9, and the CPU cores it used."""
    cmd = [sys.executable, "-m", "puffer_learn.cli", "train", "target", "--seed", str(seed),
           "--quiet", "--out", args.run_root]
    before, start = os.times(), time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall, after = time.perf_counter() - start, os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    if out.returncode != 0:
        return {"row": f"train_seed_{seed}", "error": out.stderr.strip().splitlines()[-1:]}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    from puffer_learn.training.checkpoints import load_checkpoint  # the CLI prints no metrics; the checkpoint has them
    metrics = load_checkpoint(result["checkpoint"])["metrics"]
    first = next((m for m in metrics if (m["ratio"] or 0) >= 0.9), None)
    return {"row": f"train_seed_{seed}", "wall_s": round(wall, 1), "final_ratio": round(result["ratio"], 3),
            "solved": result["solved"], "train_s": round(result["train_s"], 1),
            "first_ratio_0.9_at_train_s": first and round(first["elapsed_s"], 1),
            "first_ratio_0.9_at_step": first and first["global_step"],
            "agent_steps_per_s": round(result["agent_steps_per_s"]), "cores_used": round(cpu / wall, 2),
            "load_avg_1min": round(os.getloadavg()[0], 1),
            "reference": {"goal": "final ratio >= 0.9 within 30 s wall on 2 cores"}}


def inference_row(policy, env):
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "c_inference.py"), "--policy", policy,
                          "--env", env], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        return {"row": f"c_inference_{policy}", "error": out.stderr.strip().splitlines()[-1:]}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {"row": f"c_inference_{policy}", "env": env, "c_us": result["c_us_per_step"],
            "reference": {"what": "torch, same process, batch 1", "torch_us": result["torch_us_per_step"]},
            "speedup": result["speedup"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-envs", type=int, default=512)
    parser.add_argument("--seconds", type=float, default=2.0, help="per env measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train", default="", help="comma-separated seeds to train (e.g. 1,2,3,4,5)")
    parser.add_argument("--run-root", default="/tmp/puffer_speed_runs")
    parser.add_argument("--skip", default="", help="comma-separated: env,inference")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    def show(row):  # as soon as measured: a later failure loses nothing
        print(json.dumps(row), flush=True)
    if "env" not in skip:
        for row in env_rows(args):
            show(row)
    if "inference" not in skip:
        show(inference_row("lstm", "target"))
        show(inference_row("entity", "asteroids"))
    for seed in filter(None, args.train.split(",")):
        show(train_row(int(seed), args))
    print(json.dumps({"load_avg_1min": os.getloadavg()[0], "cores": os.cpu_count()}))


if __name__ == "__main__":
    main()
