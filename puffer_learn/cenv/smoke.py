"""Subprocess half of build.smoke_run: reset, random steps, one log read and
one frame. Before each it prints what it is about to do ("at step 3"), so
the parent can say when things went wrong.
Run as: python -m puffer_learn.cenv.smoke MODNAME PATH NAME CONFIG_JSON STEPS TOKEN

[CONTRACT] The run counts as passed only if its last line is
"finished TOKEN" (TOKEN is random, from the parent): an env that calls
exit(0) inside env_step ends the process with status 0 but never prints it.
A contract error found here (bad sizes, an episode end with no flag) is
printed as one line "PL_ERROR <class> <message>" for the parent to re-raise.
"""
import json
import sys

import numpy as np

from puffer_learn.cenv.build import ContractError, load_module
from puffer_learn.cenv.vector import VecEnv


def fail(lib, error):
    if lib is not None:
        lib.pl_guard(0)  # leaving is ours now, not the env's
    message = " ".join(str(error).split("\n"))
    print(f"PL_ERROR {type(error).__name__} {message}", flush=True)
    sys.exit(3)


def main():
    modname, path, name, config = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    steps, token = int(sys.argv[5]), sys.argv[6]
    try:
        module = load_module(modname, path)
    except ContractError as e:
        fail(None, e)
    lib = module.lib
    lib.pl_guard(1)  # from here, exit() or a signal prints the env's stack
    print("while making its envs", flush=True)
    try:
        env = VecEnv(module, name, num_envs=4, seed=0, **config)
    except (ContractError, MemoryError, ValueError, TypeError) as e:
        fail(lib, e)
    print("during env_reset", flush=True)
    env.reset()
    rng = np.random.default_rng(0)
    for t in range(steps):
        print(f"at step {t + 1}", flush=True)
        env.step(env.random_actions(rng))
    unflagged = env.unflagged_ends()
    if unflagged:
        fail(lib, ContractError(
            f"{name}: env_step returned 1 (episode over) {unflagged} times in {steps} steps without "
            f"setting any terminal or truncation flag; before returning 1 set env->terminals[i] = 1 "
            f"(a real end) or env->truncations[i] = 1 (cut off by a time limit) for its agents"))
    print("while reading its log", flush=True)
    env.log()
    print("during env_render", flush=True)
    env.render(0)
    print("during env_close", flush=True)
    env.close()
    lib.pl_guard(0)
    print(f"finished {token}", flush=True)


if __name__ == "__main__":
    main()
