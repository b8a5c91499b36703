"""The puffer-learn command. Each subcommand is one small function; commands
that measure something print a JSON object as their last stdout line."""
import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np


def lessons_dir():
    """The lessons folder: ./lessons if it exists, else the source checkout's."""
    here = Path.cwd() / "lessons"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent / "lessons"


def cmd_lab(args):
    """Opens JupyterLab on the lessons."""
    folder = Path(args.dir) if args.dir else lessons_dir()
    if not folder.is_dir():
        sys.exit(f"no lessons folder at {folder}: run from the puffer_learn checkout or pass --dir")
    cmd = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={folder}", f"--port={args.port}"]
    if args.no_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # JupyterLab refuses to run as root without it
    cmd += args.jupyter_args
    print("starting:", " ".join(cmd), flush=True)
    os.execv(sys.executable, cmd)


def cmd_bench(args):
    """Env-only throughput with random actions: no network in the loop."""
    import puffer_learn

    env = puffer_learn.make(args.env, num_envs=args.num_envs, seed=0, threads=args.threads)
    env.reset()
    rng = np.random.default_rng(0)
    # A pool of pre-drawn random actions, so drawing them is not what we time.
    pool = rng.integers(0, env.num_actions, (64, env.num_agents), dtype=np.int32)
    for k in range(20):  # warm up caches and the branch predictor
        env.actions[:] = pool[k % 64]
        env.step()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        for k in range(64):
            env.actions[:] = pool[k]
            env.step()
        steps += 64
    elapsed = time.perf_counter() - start
    result = {"env": args.env, "num_envs": env.num_envs, "num_agents": env.num_agents,
              "threads": args.threads, "seconds": round(elapsed, 3), "vector_steps": steps,
              "agent_steps_per_s": round(steps * env.num_agents / elapsed)}
    print(f"{args.env}: {result['agent_steps_per_s'] / 1e6:.1f}M agent-steps/s "
          f"({env.num_agents} agents, {args.threads} thread(s))", file=sys.stderr)
    print(json.dumps(result))


def build_parser():
    parser = argparse.ArgumentParser(prog="puffer-learn", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    lab = sub.add_parser("lab", help="open JupyterLab on the lessons")
    lab.add_argument("--dir", help="notebook folder (default: lessons/)")
    lab.add_argument("--port", type=int, default=8888)
    lab.add_argument("--no-browser", action="store_true")
    lab.add_argument("jupyter_args", nargs=argparse.REMAINDER, help="passed on to jupyter lab")
    lab.set_defaults(func=cmd_lab)

    bench = sub.add_parser("bench", help="env-only steps per second with random actions")
    bench.add_argument("env")
    bench.add_argument("--num-envs", type=int, default=512)
    bench.add_argument("--seconds", type=float, default=3.0)
    bench.add_argument("--threads", type=int, default=1)
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
