"""Subprocess half of build.smoke_run: reset, random steps, one log read and
one frame, printing progress so the parent can say where things went wrong.
Run as: python -m puffer_learn.smoke MODNAME PATH CONFIG_JSON STEPS"""
import json
import sys

import numpy as np

from puffer_learn.build import load_module
from puffer_learn.vector import VecEnv


def main():
    modname, path, config, steps = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
    module = load_module(modname, path)
    env = VecEnv(module, "smoke", num_envs=4, seed=0, **config)
    print("reset", flush=True)
    env.reset()
    rng = np.random.default_rng(0)
    for t in range(steps):
        if t % 100 == 0:
            print(f"step {t}", flush=True)
        env.step(rng.integers(0, env.num_actions, env.num_agents, dtype=np.int32))
    print("log", flush=True)
    env.log()
    print("render", flush=True)
    env.render(0)
    print("close", flush=True)
    env.close()
    print("ok", flush=True)


if __name__ == "__main__":
    main()
