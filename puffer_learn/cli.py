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


def parse_value(text):
    """'3e-4' -> 0.0003, '512' -> 512, 'true' -> True, anything else stays a string."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def parse_settings(extra):
    """['--train.learning_rate', '3e-4', '--env.num_stars=6'] ->
    {"train": {"learning_rate": 0.0003}, "env": {"num_stars": 6}, "policy": {}}."""
    settings = {"train": {}, "env": {}, "policy": {}}
    items = list(extra)
    while items:
        flag = items.pop(0)
        key, eq, value = flag.partition("=")
        section, dot, name = key[2:].partition(".")
        if not key.startswith("--") or not dot or section not in settings or not name:
            raise SystemExit(f"puffer-learn train: unknown argument {flag!r}; settings are given as "
                             f"--train.KEY VALUE, --env.KEY VALUE or --policy.KEY VALUE")
        if not eq:
            if not items:
                raise SystemExit(f"puffer-learn train: {flag} needs a value")
            value = items.pop(0)
        settings[section][name] = parse_value(value)
    return settings


class Dashboard:
    """Live terminal view of the metrics stream (drawn by rich on stderr, so
    stdout keeps only the JSON result)."""

    def __init__(self, env, seed, total):
        from rich.console import Console, Group
        from rich.live import Live
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
        from rich.table import Table

        self.Table, self.Group = Table, Group
        self.progress = Progress(TextColumn(f"[bold]{env}[/] seed {seed}"), BarColumn(),
                                 TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                                 console=Console(stderr=True))
        self.task = self.progress.add_task("train", total=total)
        self.last_score = None
        self.live = Live(self.progress, console=Console(stderr=True), refresh_per_second=4)

    def __enter__(self):
        self.live.__enter__()
        return self

    def __exit__(self, *exc):
        return self.live.__exit__(*exc)

    def __call__(self, m):
        if m["score"] is not None:
            self.last_score = m
        table = self.Table(show_header=False, box=None, padding=(0, 2))
        table.add_column(style="cyan")
        table.add_column(justify="right")
        table.add_column(style="cyan")
        table.add_column(justify="right")
        shown = self.last_score or {}

        def fmt(value, spec):
            return "-" if value is None else format(value, spec)

        rows = [("agent steps/s", fmt(m["agent_steps_per_s"], ",.0f"), "score", fmt(shown.get("score"), ".3f")),
                ("env time", fmt(m["time_env"], ".1%"), "baseline", fmt(m["baseline_score"], ".3f")),
                ("policy forward", fmt(m["time_forward"], ".1%"), "ratio", fmt(shown.get("ratio"), ".3f")),
                ("learning", fmt(m["time_learn"], ".1%"), "entropy", fmt(m["entropy"], ".3f")),
                ("steps", f"{m['global_step']:,}", "approx kl", fmt(m["approx_kl"], ".4f")),
                ("update", str(m["update"]), "clip fraction", fmt(m["clip_fraction"], ".3f")),
                ("learning rate", fmt(m["learning_rate"], ".2e"), "explained var", fmt(m["explained_variance"], ".3f")),
                ("value loss", fmt(m["value_loss"], ".4f"), "policy loss", fmt(m["policy_loss"], ".4f"))]
        for row in rows:
            table.add_row(*row)
        self.progress.update(self.task, completed=min(m["global_step"], m["total_timesteps"]))
        self.live.update(self.Group(self.progress, table))


def cmd_train(args, extra):
    """Trains with PPO; the last stdout line is the JSON result."""
    from puffer_learn.train import TrainingDiverged, resolve_config, train

    settings = parse_settings(extra)
    for option, key in (("total_timesteps", "total_timesteps"), ("time_limit", "time_limit"),
                        ("device", "device")):
        if getattr(args, option) is not None:
            settings["train"][key] = getattr(args, option)
    try:
        total = resolve_config(args.env, train_config=settings["train"], env_config=settings["env"],
                               policy_config=settings["policy"])["train"]["total_timesteps"]
        start = time.perf_counter()
        with Dashboard(args.env, args.seed, total) if not args.quiet else _nothing() as dash:
            result = train(args.env, seed=args.seed, out=args.out, resume=args.resume,
                           callback=dash, train_config=settings["train"],
                           env_config=settings["env"], policy_config=settings["policy"])
    except (ValueError, TypeError, FileNotFoundError, TrainingDiverged) as e:
        print(f"puffer-learn train: {e}", file=sys.stderr)
        print(json.dumps({"env": args.env, "seed": args.seed, "error": str(e)}))
        sys.exit(1)
    result.pop("metrics")
    result.pop("config")
    result["wall_s"] = time.perf_counter() - start
    if result["ratio"] is not None:
        print(f"\n{args.env} seed {args.seed}: score {result['score']:.3f}, baseline "
              f"{result['baseline_score']:.3f}, ratio {result['ratio']:.3f} in {result['wall_s']:.1f} s "
              f"({result['agent_steps_per_s']:,.0f} agent-steps/s)", file=sys.stderr)
    print(json.dumps(result))


class _nothing:
    """A do-nothing dashboard for --quiet."""

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def cmd_eval(args):
    """Scores a checkpoint against the scripted baseline on the fixed eval seeds."""
    from puffer_learn.train import evaluate, load_checkpoint

    try:
        trained_on = load_checkpoint(args.checkpoint)["env"]
        if Path(trained_on).stem != Path(args.env).stem:
            raise ValueError(f"{args.checkpoint} was trained on {trained_on!r}, not {args.env!r}")
        result = evaluate(args.checkpoint, episodes=args.episodes, deterministic=args.deterministic,
                          gif=args.gif, fps=args.fps)
    except (ValueError, TypeError, FileNotFoundError) as e:
        print(f"puffer-learn eval: {e}", file=sys.stderr)
        print(json.dumps({"env": args.env, "error": str(e)}))
        sys.exit(1)
    print(f"{args.env}: score {result['score']:.3f}, baseline {result['baseline_score']:.3f}, "
          f"ratio {result['ratio']:.3f} over {result['episodes']} episodes "
          f"({'argmax' if args.deterministic else 'sampled'} actions)", file=sys.stderr)
    print(json.dumps(result))


def cmd_export(args):
    """Weights file + standalone C program (env + policy, no Python)."""
    from puffer_learn.build import CompileError
    from puffer_learn.export import WeightFileError, export, run_demo

    try:
        result = export(args.env, args.checkpoint, args.out)
        if args.run:
            result["demo"] = run_demo(result["program"], episodes=args.run, seed=args.seed)
    except (ValueError, FileNotFoundError, CompileError, WeightFileError, RuntimeError) as e:
        print(f"puffer-learn export: {e}", file=sys.stderr)
        print(json.dumps({"env": args.env, "error": str(e)}))
        sys.exit(1)
    print(f"wrote {result['weights']} ({result['arch']}) and compiled {result['program']}; run it:\n"
          f"  {result['program']} --episodes 10 [--argmax] [--frames DIR]", file=sys.stderr)
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

    train = sub.add_parser("train", help="train a policy with PPO (settings: --train.KEY VALUE, "
                                         "--env.KEY VALUE, --policy.KEY VALUE)")
    train.add_argument("env")
    train.add_argument("--seed", type=int, default=1)
    train.add_argument("--total-timesteps", type=int, help="agent steps (default: the env's train.toml)")
    train.add_argument("--time-limit", type=float, help="stop after this many seconds of training")
    train.add_argument("--device", choices=["cpu", "cuda"])
    train.add_argument("--out", default="runs", help="checkpoints go to OUT/ENV-SEED/model.pt")
    train.add_argument("--resume", help="a checkpoint to continue from")
    train.add_argument("--quiet", action="store_true", help="no live dashboard")
    train.set_defaults(func=cmd_train, takes_settings=True)

    evaluate = sub.add_parser("eval", help="score a checkpoint against the scripted baseline")
    evaluate.add_argument("env")
    evaluate.add_argument("--checkpoint", required=True)
    evaluate.add_argument("--episodes", type=int, help="default: the run's eval_episodes")
    evaluate.add_argument("--gif", help="record env 0's first episode to this gif")
    evaluate.add_argument("--fps", type=int, default=30)
    evaluate.add_argument("--deterministic", action="store_true",
                          help="argmax actions instead of sampling (can get an agent stuck)")
    evaluate.set_defaults(func=cmd_eval)

    export = sub.add_parser("export", help="write the weight file and compile OUT/ENV_demo, "
                                           "a pure C program of the env and the policy")
    export.add_argument("env")
    export.add_argument("--checkpoint", required=True)
    export.add_argument("--out", required=True, help="folder for ENV_demo, ENV_demo.bin, ENV_config.h")
    export.add_argument("--run", type=int, default=0, metavar="EPISODES",
                        help="also run the program for this many episodes and report its score")
    export.add_argument("--seed", type=int, default=0)
    export.set_defaults(func=cmd_export)
    return parser


def main(argv=None):
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "takes_settings", False):
        args.func(args, extra)
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    else:
        args.func(args)


if __name__ == "__main__":
    main()
