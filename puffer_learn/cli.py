"""The puffer-learn command. Each subcommand is one small function; commands
that measure something print a JSON object as their last stdout line.

Errors: one line on stderr, `error: ...`, naming the setting and the fix; exit
code 2 for a bad argument or setting (fix the command line), 1 for a failure
while running (a compile error, a crash, a diverged run, a broken file).
`--debug` shows the Python traceback instead."""
import argparse
import difflib
import json
import os
import sys
import time
from pathlib import Path


USAGE, RUNTIME = 2, 1


class UsageError(ValueError):
    """A bad command line: exit code 2."""


def one_line(error):
    """An exception as one line (compile diagnostics are joined with ' | ')."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " | ".join(lines) or type(error).__name__


def exit_code(error):
    """2 for what the user typed (a bad setting, path or env name), 1 for the rest."""
    typed = (ValueError, TypeError, FileNotFoundError, IsADirectoryError)  # exactly these, not subclasses
    if isinstance(error, UsageError) or type(error) in typed:
        return USAGE
    from puffer_learn.training.config import ConfigError

    if isinstance(error, ConfigError):
        return USAGE
    return RUNTIME


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as our one line and exit code 2."""

    def error(self, message):
        print(f"error: {self.prog}: {one_line(message)}; see {self.prog} --help", file=sys.stderr)
        sys.exit(USAGE)


def positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


def lessons_dir():
    """The lessons folder: ./lessons if it exists, else the source checkout's."""
    here = Path.cwd() / "lessons"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent / "lessons"


def lab_command(args, jupyter_args):
    """The argv that starts JupyterLab: lessons/student/ (the exercises) by
    default, the solved lessons with --solutions; every other flag is Jupyter's."""
    if args.dir:
        folder = Path(args.dir)
    else:
        folder = lessons_dir() if args.solutions else lessons_dir() / "student"
    if not folder.is_dir():
        raise UsageError(f"no lessons folder at {folder}: run from the puffer_learn checkout, "
                         f"pass --dir FOLDER, or make the student copies with "
                         f"python scripts/make_student_copies.py")
    cmd = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={folder}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # JupyterLab refuses to run as root without it
    return cmd + list(jupyter_args)


def cmd_lab(args, extra):
    """Opens JupyterLab on the lessons."""
    cmd = lab_command(args, extra)
    print("starting:", " ".join(cmd), flush=True)
    os.execv(sys.executable, cmd)


def cmd_bench(args, extra):
    """Env-only throughput with random actions: no network in the loop."""
    from puffer_learn.cenv.profiling import bench

    result = bench(args.env, num_envs=args.num_envs, seconds=args.seconds, threads=args.threads)
    print(f"{args.env}: {result['agent_steps_per_s'] / 1e6:.1f}M agent-steps/s "
          f"({result['num_agents']} agents, {args.threads} thread(s))", file=sys.stderr)
    print(json.dumps(result))


def parse_value(text):
    """'3e-4' -> 0.0003, '512' -> 512, 'true' -> True, anything else stays a string."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def cli_text(value):
    """A setting's value as it is typed on the command line (true, not True)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def settings_help():
    """The train command's epilog: every [train] setting with its global
    default and what it sets, read from config.TRAIN_SETTINGS."""
    from puffer_learn.training.config import POLICY_DEFAULTS, TRAIN_SETTINGS
    from puffer_learn.training.policies import POLICIES

    width = max(map(len, TRAIN_SETTINGS))
    lines = ["settings: --train.KEY VALUE (or --train.KEY=VALUE). The defaults below hold for every env;",
             "an env's envs/<env>/train.toml may override them, and --train.KEY VALUE overrides both.", ""]
    lines += [f"  {key:<{width}}  {cli_text(default):<9}  {text}"
              for key, (default, text) in TRAIN_SETTINGS.items()]
    others = ", ".join(n for n in POLICIES if n != POLICY_DEFAULTS["name"])
    lines += ["",
              "--env.KEY VALUE sets a field of the env's C Config, e.g. --env.num_stars 6 for target.",
              f"--policy.KEY VALUE sets the policy: --policy.name {POLICY_DEFAULTS['name']} (the default), "
              f"{others} or an",
              "importable module.Class, and its constructor settings, e.g. --policy.hidden_size 64."]
    return "\n".join(lines)


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
            close = difflib.get_close_matches(section, settings, n=1) if dot and name else []
            hint = f"did you mean --{close[0]}.{name}? " if close else ""
            raise UsageError(f"unknown argument {flag!r}; {hint}settings are given as --train.KEY VALUE, "
                             f"--env.KEY VALUE or --policy.KEY VALUE")
        if not eq:
            if not items:
                raise UsageError(f"{flag} needs a value, e.g. {flag} 64")
            value = items.pop(0)
        settings[section][name] = parse_value(value)
    return settings


class Dashboard:
    """Live terminal view of the metrics stream (drawn by rich on stderr, so
    stdout keeps only the JSON result). The progress bar is sized by the
    first metrics dict's total_timesteps."""

    def __init__(self, env, seed):
        from rich.console import Console, Group
        from rich.live import Live
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
        from rich.table import Table

        self.Table, self.Group = Table, Group
        self.progress = Progress(TextColumn(f"[bold]{env}[/] seed {seed}"), BarColumn(),
                                 TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                                 console=Console(stderr=True))
        self.task = None
        self.last_score = None
        self.live = Live(self.progress, console=Console(stderr=True), refresh_per_second=4)

    def __enter__(self):
        self.live.__enter__()
        return self

    def __exit__(self, *exc):
        return self.live.__exit__(*exc)

    def __call__(self, m):
        if self.task is None:
            self.task = self.progress.add_task("train", total=m["total_timesteps"])
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


def train_settings(args, extra):
    """The train command's --train/--env/--policy settings, with --total-timesteps,
    --time-limit and --device folded into the train section."""
    settings = parse_settings(extra)
    for key in ("total_timesteps", "time_limit", "device"):
        if getattr(args, key) is not None:
            settings["train"][key] = getattr(args, key)
    return settings


def cmd_train(args, extra):
    """Trains with PPO; the last stdout line is the JSON result."""
    from puffer_learn.training.trainer import train

    settings = train_settings(args, extra)
    start = time.perf_counter()
    with Dashboard(args.env, args.seed) if not args.quiet else _nothing() as dash:
        result = train(args.env, seed=args.seed, out=args.out, resume=args.resume,
                       callback=dash, train_config=settings["train"],
                       env_config=settings["env"], policy_config=settings["policy"])
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


def cmd_eval(args, extra):
    """Scores a checkpoint against the scripted baseline on the fixed eval seeds."""
    from puffer_learn.training.evaluation import evaluate
    from puffer_learn.training.checkpoints import load_checkpoint

    trained_on = load_checkpoint(args.checkpoint)["env"]
    if Path(str(trained_on)).stem != Path(args.env).stem:
        raise UsageError(f"{args.checkpoint} was trained on {trained_on!r}, not {args.env!r}; "
                         f"pass that env or another checkpoint")
    result = evaluate(args.checkpoint, episodes=args.episodes, deterministic=args.deterministic,
                      gif=args.gif, fps=args.fps)
    print(f"{args.env}: score {result['score']:.3f}, baseline {result['baseline_score']:.3f}, "
          f"ratio {result['ratio']:.3f} over {result['episodes']} episodes "
          f"({'argmax or mean' if args.deterministic else 'sampled, or the mean of continuous'} actions)",
          file=sys.stderr)
    print(json.dumps(result))


def cmd_export(args, extra):
    """Weights file + standalone C program (env + policy, no Python)."""
    from puffer_learn.export.program import export, run_demo

    result = export(args.env, args.checkpoint, args.out, web=args.web)
    if args.run:
        result["demo"] = run_demo(result["program"], episodes=args.run, seed=args.seed)
    print(f"wrote {result['weights']} ({result['arch']}) and compiled {result['program']}; run it:\n"
          f"  {result['program']} --episodes 10 [--argmax] [--frames DIR]", file=sys.stderr)
    if args.web:
        print(f"wrote the page {result['page']} ({result['wasm_bytes'] // 1024} KB of wasm); serve it:\n"
              f"  python -m http.server -d {args.out}   # then open http://localhost:8000/"
              f"?seed=0&episodes=10[&argmax=1]", file=sys.stderr)
    print(json.dumps(result))


def cmd_sweep(args, extra):
    """An Optuna study over the env's [sweep] space; the last stdout line is
    its summary (best value and params, trials completed/pruned/failed, wall time)."""
    from puffer_learn.training.sweep import SweepInterrupted, summary, sweep

    settings = parse_settings(extra)  # fixed settings of every trial
    start = time.perf_counter()
    try:
        study = sweep(args.env, trials=args.trials, storage=args.storage, study=args.study,
                      workers=args.workers, budget=args.budget, seed=args.seed, out=args.out,
                      progress=not args.quiet, env_config=settings["env"],
                      **settings["train"], **settings["policy"])
    except SweepInterrupted as e:
        print(f"\n{e}", file=sys.stderr)
        print(json.dumps({"env": args.env, **summary(e.study, time.perf_counter() - start),
                          "interrupted_now": True}))
        sys.exit(130)  # the shell's code for Ctrl-C
    result = {"env": args.env, **summary(study, time.perf_counter() - start)}
    if result["best_value"] is not None:
        print(f"\n{args.env}: best ratio {result['best_value']:.3f} (trial {result['best_trial']}) "
              f"with {result['best_params']}; {result['completed']} completed, {result['pruned']} "
              f"pruned, {result['failed']} failed in {result['wall_s']:.1f} s", file=sys.stderr)
    print(json.dumps(result))


def cmd_course(args, extra):
    """Writes the nbgrader course: nbgrader_config.py and source/LESSON/LESSON.ipynb per lesson."""
    from puffer_learn.course.nbgrader_course import write_course

    lessons = Path(args.lessons) if args.lessons else lessons_dir()
    names = write_course(args.dir, lessons, args.only)
    print(f"wrote {Path(args.dir) / 'nbgrader_config.py'} and {len(names)} assignments in "
          f"{Path(args.dir) / 'source'}/ ({', '.join(names)}); next:\n"
          f"  cd {args.dir} && nbgrader generate_assignment {names[0]}   # the release, for students\n"
          f"  puffer-learn grade {Path(args.dir) / 'submitted'} --out grades.csv   # their submissions",
          file=sys.stderr)
    print(json.dumps({"course": str(args.dir), "assignments": names}))


def cmd_grade(args, extra):
    """Grades every STUDENT/ASSIGNMENT/*.ipynb under SUBMISSIONS, each in its own sandbox, into a CSV."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from puffer_learn.course import grading, sandbox

    notebooks, _ = grading.class_to_grade(args.submissions, args.source)  # before setting up the sandbox
    limits = sandbox.Limits(seconds=args.timeout, memory_mb=args.memory)
    found = sandbox.isolation(limits)
    if found.complete:  # the first line says which isolation is in force, or what is missing
        print(f"isolation: {found.describe()}; limits per notebook: {limits.describe()}", file=sys.stderr)
    else:
        print(f"isolation INCOMPLETE: {'; '.join(found.missing)}", file=sys.stderr)
    statuses = {}
    with Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                  TimeElapsedColumn(), console=Console(stderr=True)) as bar:
        task = bar.add_task("", total=len(notebooks))

        def progress(row):
            statuses[row["status"]] = statuses.get(row["status"], 0) + 1
            bar.update(task, advance=1, description=f"{row['student']}/{row['assignment']}: {row['status']}")

        rows = grading.grade(args.submissions, args.out, args.source, limits, found, progress)
    print(f"wrote {args.out}: {len(rows)} notebooks, "
          + ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())), file=sys.stderr)
    print(json.dumps({"out": str(args.out), "notebooks": len(rows), "statuses": statuses,
                      "isolation": found.describe(), "missing": found.missing}))


def build_parser():
    parser = Parser(prog="puffer-learn", description=__doc__,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the Python traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    lab = sub.add_parser("lab", parents=[common], allow_abbrev=False,
                         help="open JupyterLab on the lessons (other flags go to Jupyter)",
                         description="Opens JupyterLab on lessons/student/ (the exercises), or on the "
                                     "solved lessons with --solutions. Every other flag is passed "
                                     "to Jupyter, e.g. --port 9000 --ServerApp.token=abc --no-browser.")
    lab.add_argument("--solutions", action="store_true", help="open the solved lessons (lessons/)")
    lab.add_argument("--dir", help="open this notebook folder instead")
    lab.set_defaults(func=cmd_lab, passes_extra=True)

    bench = sub.add_parser("bench", parents=[common], help="env-only steps per second with random actions")
    bench.add_argument("env")
    bench.add_argument("--num-envs", type=positive(int), default=512)
    bench.add_argument("--seconds", type=positive(float), default=3.0)
    bench.add_argument("--threads", type=positive(int), default=1)
    bench.set_defaults(func=cmd_bench)

    train = sub.add_parser("train", parents=[common],
                           help="train a policy with PPO (settings: --train.KEY VALUE, "
                                "--env.KEY VALUE, --policy.KEY VALUE)",
                           description="Trains a policy on ENV with PPO and scores it against the env's "
                                       "scripted baseline;\nthe last stdout line is the JSON result.",
                           epilog=settings_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("env")
    train.add_argument("--seed", type=int, default=1)
    train.add_argument("--total-timesteps", type=int, help="agent steps (default: the env's train.toml)")
    train.add_argument("--time-limit", type=float, help="stop after this many seconds of training")
    train.add_argument("--device", choices=["cpu", "cuda"])
    train.add_argument("--out", default="runs", help="checkpoints go to OUT/ENV-SEED/model.pt")
    train.add_argument("--resume", help="a checkpoint to continue from")
    train.add_argument("--quiet", action="store_true", help="no live dashboard")
    train.set_defaults(func=cmd_train, passes_extra=True, prints_json=True)

    sweep = sub.add_parser("sweep", parents=[common],
                           help="an Optuna hyperparameter study over the env's [sweep] table "
                                "(fixed settings: --train.KEY VALUE, ...)",
                           description="Runs an Optuna study (TPE sampler, median pruner) over the "
                                       "search space in the env's train.toml [sweep] table; each "
                                       "trial is a training run kept in OUT/sweeps/STUDY/trial-N/. "
                                       "Rerun the same command to continue a study.")
    sweep.add_argument("env")
    sweep.add_argument("--trials", type=positive(int), required=True,
                       help="the study's total number of trials (those already in it count)")
    sweep.add_argument("--storage", help="a journal file path (default OUT/sweeps/STUDY/journal.log) "
                                         "or a database URL such as postgresql://USER:PASS@HOST/DB")
    sweep.add_argument("--study", help="the study's name (default: the env's name)")
    sweep.add_argument("--workers", type=positive(int), default=1, help="local worker processes")
    sweep.add_argument("--budget", type=positive(int), metavar="STEPS",
                       help="agent steps per trial (default: the env's total_timesteps)")
    sweep.add_argument("--seed", type=int, default=1, help="training seed of every trial")
    sweep.add_argument("--out", default="runs", help="trials go to OUT/sweeps/STUDY/trial-N/")
    sweep.add_argument("--quiet", action="store_true", help="no progress display")
    sweep.set_defaults(func=cmd_sweep, passes_extra=True, prints_json=True)

    evaluate = sub.add_parser("eval", parents=[common],
                              help="score a checkpoint against the scripted baseline")
    evaluate.add_argument("env")
    evaluate.add_argument("--checkpoint", required=True)
    evaluate.add_argument("--episodes", type=positive(int), help="default: the run's eval_episodes")
    evaluate.add_argument("--gif", help="record env 0's first episode to this gif")
    evaluate.add_argument("--fps", type=positive(int), default=30)
    evaluate.add_argument("--deterministic", action="store_true", default=None,
                          help="argmax actions instead of sampling (can get an agent stuck); continuous "
                               "actions always play the mean")
    evaluate.set_defaults(func=cmd_eval, prints_json=True)

    export = sub.add_parser("export", parents=[common],
                            help="write the weight file and compile OUT/ENV_demo, "
                                 "a pure C program of the env and the policy")
    export.add_argument("env")
    export.add_argument("--checkpoint", required=True)
    export.add_argument("--out", required=True, help="folder for ENV_demo, ENV_demo.bin, ENV_config.h")
    export.add_argument("--run", type=int, default=0, metavar="EPISODES",
                        help="also run the program for this many episodes and report its score")
    export.add_argument("--seed", type=int, default=0)
    export.add_argument("--web", action="store_true",
                        help="also write OUT/ENV.wasm, OUT/player.js and OUT/index.html: the agent "
                             "playing live in a web page (needs pip install ziglang)")
    export.set_defaults(func=cmd_export, prints_json=True)

    course = sub.add_parser("course", parents=[common],
                            help="write an nbgrader course from the solved lessons (one assignment per lesson)",
                            description="Writes DIR/nbgrader_config.py and DIR/source/LESSON/LESSON.ipynb "
                                        "with nbgrader's cell metadata for each solved lesson; then: cd DIR "
                                        "&& nbgrader generate_assignment LESSON.")
    course.add_argument("dir")
    course.add_argument("--lessons", help="the solved lessons' folder (default: ./lessons or the checkout's)")
    course.add_argument("--only", nargs="+", metavar="LESSON", help="just these lessons, e.g. 00_quickstart")
    course.set_defaults(func=cmd_course, prints_json=True)

    grade = sub.add_parser("grade", parents=[common],
                           help="grade a class's notebooks, each in its own sandbox, into a CSV",
                           description="Runs every SUBMISSIONS/STUDENT/ASSIGNMENT/*.ipynb (a course's "
                                       "submitted/) with its tests restored from source/, each in its own "
                                       "sandbox, and writes one CSV row per notebook. As root the sandbox "
                                       "is complete; the first line says which isolation is in force.")
    grade.add_argument("submissions")
    grade.add_argument("--out", required=True, help="the CSV to write")
    grade.add_argument("--source", help="the course's source/ folder (default: SUBMISSIONS/../source)")
    grade.add_argument("--timeout", type=positive(float), default=300.0, help="seconds per notebook")
    grade.add_argument("--memory", type=positive(int), default=4096, help="MB of memory per notebook")
    grade.set_defaults(func=cmd_grade, prints_json=True)
    return parser


def main(argv=None):
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    try:
        if extra and not getattr(args, "passes_extra", False):
            raise UsageError(f"unrecognized arguments: {' '.join(extra)}; see puffer-learn "
                             f"{args.command} --help")
        args.func(args, extra)
    except Exception as e:
        if args.debug:
            raise
        print(f"error: {one_line(e)}", file=sys.stderr)
        if getattr(args, "prints_json", False):  # the JSON-last-line contract holds for errors too
            named = {"env": args.env} if hasattr(args, "env") else {}
            print(json.dumps({**named, "error": one_line(e)}))
        sys.exit(exit_code(e))


if __name__ == "__main__":
    main()
