"""Lesson 6's numbers: slow_target with its four fixes added one at a time
(the solved lesson's answers), each row with target measured in the same run.

    python bench/slow_env.py              # timings and profiles (~30 s)
    python bench/slow_env.py --train      # + the env's share of a 300k-step training run

Per row, printed as JSON (then a table on stderr):
  c_loop_sps   agent-steps/s of envs/profile_main.c built -O3 (64 envs, no Python),
               best of --rounds, the rows timed in turn (a busy moment hits all alike);
  bench_sps    puffer_learn.cenv.profiling.bench (what `puffer-learn bench` runs), 64 envs,
               best of --rounds, in turn (the fixed variants are your-own-env builds:
               they run in a worker process, one socket round trip per step);
  env_share    (--train) seconds in env.step() / training seconds, target's settings;
  gprof_top    the flat profile's top 3 lines (16 envs).
"""
import argparse
import json
import os
import sys

from puffer_learn.training.config import load_env_config
from puffer_learn.cenv.profiling import bench, gprof, time_steps
from puffer_learn.widgets.lessons import lesson6


def variants():
    parts = lesson6.SLOW_PARTS
    answers = {name: getattr(lesson6, name).reference() for name in parts}
    rows = {"slow_target": "slow_target"}
    for k in range(1, len(parts) + 1):
        rows["+" + "+".join(parts[:k])] = lesson6.assemble(**{n: answers[n] for n in parts[:k]})
    rows["target"] = "target"
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--train", action="store_true")
    args = parser.parse_args()
    rows = variants()
    c_loop = {name: [] for name in rows}
    py = {name: [] for name in rows}
    for _ in range(args.rounds):
        for name, env in rows.items():
            steps = 300 if name == "slow_target" else 3000
            c_loop[name].append(time_steps(env, steps=steps, num_envs=64)["agent_steps_per_s"])
            py[name].append(bench(env, num_envs=64, seconds=0.5)["agent_steps_per_s"])
    shares = {}
    if args.train:
        import puffer_learn
        target = load_env_config("target")
        for name, env in rows.items():
            run = puffer_learn.train(env, seed=1, out="runs/bench_slow_env", policy_config=target["policy"],
                                     train_config={**target["train"], "total_timesteps": 300_000,
                                                   "eval_episodes": 10})
            shares[name] = lesson6.env_share(run["metrics"])
    table = []
    for name, env in rows.items():
        profile = gprof(env, steps=1500 if name == "slow_target" else 40000, num_envs=16)
        row = {"row": name, "c_loop_sps": round(max(c_loop[name])), "bench_sps": round(max(py[name])),
               "env_share": round(shares[name], 4) if name in shares else None,
               "gprof_top": [f"{r['percent']:.1f}% {r['name']}" for r in profile.top(3)],
               "load_average": os.getloadavg()[0]}
        print(json.dumps(row), flush=True)
        table.append(row)
    slow = table[0]
    for row in table:
        share = "" if row["env_share"] is None else f"  env share {row['env_share']:6.1%}"
        print(f"{row['row']:50s} C loop {row['c_loop_sps'] / 1e6:6.2f}M ({row['c_loop_sps'] / slow['c_loop_sps']:5.1f}x)"
              f"  bench {row['bench_sps'] / 1e6:6.2f}M ({row['bench_sps'] / slow['bench_sps']:5.1f}x){share}"
              f"  gprof: {', '.join(row['gprof_top'])}", file=sys.stderr)


if __name__ == "__main__":
    main()
