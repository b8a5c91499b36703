"""The cost of crash isolation: a user copy of target (its source passed as a
string, so puffer_learn treats it as a student's env) stepped in-process and
in its worker process, alternating A/B/A/B so machine load hits both alike.
Also the cost of the binding's actions check (pl_vec_step refuses
out-of-range actions), against a build of the same source without it.

    python bench/isolation.py [--num-envs 512] [--rounds 6] [--seconds 1.5]

Last stdout line: JSON with the medians (agent-steps/s) and the ratios.
"""
import argparse
import json
import statistics
import sys

import numpy as np

import puffer_learn
from puffer_learn.cenv.build import ENVS_DIR, build
from puffer_learn.cenv.profiling import timed_steps


def steps_per_second(env, seconds):
    """Agent-steps per second with random actions, as `puffer-learn bench`."""
    pool = np.random.default_rng(0).integers(0, env.num_actions, (64, env.num_agents), dtype=np.int32)

    def set_actions(k):
        env.actions[:] = pool[k]
    steps, elapsed = timed_steps(env.step, set_actions, seconds)
    return steps * env.num_agents / elapsed


def alternate(envs, rounds, seconds):
    """{label: [agent-steps/s per round]}, the envs taking turns each round."""
    results = {label: [] for label in envs}
    for _ in range(rounds):
        for label, env in envs.items():
            results[label].append(steps_per_second(env, seconds))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=1.5)
    args = parser.parse_args()

    source = (ENVS_DIR / "target" / "target.h").read_text()
    built = build(source, name="user_target")  # a student's env: smoke-run, not packaged
    assert not built.packaged
    envs = {"in_process": puffer_learn.make(built, num_envs=args.num_envs, seed=0, isolate=False),
            "isolated": puffer_learn.make(built, num_envs=args.num_envs, seed=0)}
    # The same source without the actions check: the check is one loop at the
    # top of pl_vec_step; -DPL_NO_ACTION_CHECK removes it (see envs/vec_actions.h).
    unchecked = build(source.replace('#include "puffer_env.h"',
                                     '#define PL_NO_ACTION_CHECK\n#include "puffer_env.h"'),
                      name="user_target_unchecked")
    envs["in_process_no_action_check"] = puffer_learn.make(unchecked, num_envs=args.num_envs, seed=0,
                                                           isolate=False)
    for env in envs.values():
        env.reset()
    runs = alternate(envs, args.rounds, args.seconds)
    median = {label: statistics.median(v) for label, v in runs.items()}
    result = {"env": "target (user copy, source string)", "num_envs": args.num_envs,
              "agents": envs["isolated"].num_agents, "rounds": args.rounds,
              "seconds_per_round": args.seconds,
              **{f"{label}_agent_steps_per_s": round(m) for label, m in median.items()},
              "isolated_over_in_process": round(median["isolated"] / median["in_process"], 3),
              "action_check_over_unchecked": round(median["in_process"]
                                                   / median["in_process_no_action_check"], 3),
              "rounds_agent_steps_per_s": {label: [round(x) for x in v] for label, v in runs.items()}}
    for env in envs.values():
        env.close()
    print(f"isolated {median['isolated'] / 1e6:.1f}M vs in-process {median['in_process'] / 1e6:.1f}M "
          f"agent-steps/s ({result['isolated_over_in_process']:.0%})", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
