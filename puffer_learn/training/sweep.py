"""Hyperparameter sweeps on Optuna: one study, many training runs.

    study = puffer_learn.sweep("target", trials=8, budget=500_000, workers=2)
    study.best_value, study.best_params

The search space is the env's train.toml `[sweep]` table, one line per setting:

    [sweep]
    learning_rate = {low = 1e-4, high = 1e-2, log = true}   # a float range, log scale
    update_epochs = {low = 1, high = 4}                      # an int range (ints in, ints out)
    minibatches = {choices = [2, 4, 8]}                      # a list of values

Each trial is a normal `puffer_learn.training.trainer` run (same seed for every trial, so
trials differ only in their settings) kept under OUT/sweeps/STUDY/trial-N/
(checkpoint, result.json). The objective is the run's final ratio to the
scripted baseline (maximized). While a trial trains, its ratio is reported
to Optuna at every percent of the step budget; the pruner stops trials that
are below the median of earlier trials at the same point.

The study lives in a storage: by default a journal file,
OUT/sweeps/STUDY/journal.log, which K local worker processes share and a
rerun continues (Ctrl-C marks the running trials "interrupted": they do not
count). `storage` may also be another journal file path or a database URL
(postgresql://..., sqlite:///..., anything Optuna's RDBStorage accepts): then
workers on many machines join the same study.

`trials` is the study's total: trials already in the study (completed,
pruned or failed, running in another worker) count toward it.
"""
import json
import math
import multiprocessing
import os
import signal
import socket
import sys
import time
import tomllib
from pathlib import Path

import optuna
from optuna.trial import TrialState

from puffer_learn.cenv.build import build, locate
from puffer_learn.training.config import (TRAIN_DEFAULTS, ConfigError, check_policy_settings,
                                          check_train_value, config_file, load_env_config)
from puffer_learn.training.policy_setup import policy_class, policy_settings
from puffer_learn.training.trainer import TrainingDiverged, train


class SweepError(RuntimeError):
    """The sweep could not run (storage unreachable, a worker crashed); the message says why."""


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: the running trials were recorded as interrupted
    (they do not count) and the storage is consistent; .study is the study."""

    def __init__(self, study):
        super().__init__("sweep interrupted: the running trials are recorded as interrupted; "
                         "run the same sweep again to continue the study")
        self.study = study


# ---- The search space: train.toml's [sweep] --------------------------------------
def load_space(env):
    """The env's [sweep] table, checked: {name: {"low", "high", "log"} or {"choices"}}.
    Each name must be a train setting (config.py's TRAIN_DEFAULTS) or a setting
    of the env's policy; its values must pass the same checks as a training run."""
    path = config_file(locate(env)[1])
    if path is None:
        raise ConfigError(f"env {env!r} has no train.toml, so no [sweep] table; write one "
                          f"next to its header with e.g. learning_rate = {{low = 1e-4, high = 1e-2, log = true}}")
    with open(path, "rb") as f:
        table = tomllib.load(f).get("sweep")
    if not table:
        raise ConfigError(f"{path} has no [sweep] table; add one, e.g. [sweep] learning_rate = "
                          f"{{low = 1e-4, high = 1e-2, log = true}}")
    return check_space(table, policy_name=load_env_config(env)["policy"].get("name", "mlp"),
                       where=f"{path} [sweep]")


def check_space(table, policy_name="mlp", where="[sweep]"):
    """Checks a [sweep] table (a dict) and returns it normalized; one-line
    ConfigError naming the field otherwise."""
    valid_policy = policy_settings(policy_class(policy_name)) or {}
    space = {}
    for name, spec in table.items():
        if name not in TRAIN_DEFAULTS and name not in valid_policy:
            raise ConfigError(f"{where} {name}: unknown parameter; sweep a train setting "
                              f"({', '.join(TRAIN_DEFAULTS)}) or a {policy_name} policy setting "
                              f"({', '.join(valid_policy) or 'none'})")
        if not isinstance(spec, dict):
            raise ConfigError(f"{where} {name}: must be a table such as {{low = 1, high = 8}} or "
                              f"{{choices = [2, 4, 8]}}, got {spec!r}")

        def check(value):  # the same check as a training run's setting, named as a sweep field
            try:
                if name in TRAIN_DEFAULTS:
                    return check_train_value(name, value)
                check_policy_settings({"name": policy_name, name: value})
                return value
            except ConfigError as e:
                raise ConfigError(f"{where} {name}: {e}") from None

        if "choices" in spec:
            extra = set(spec) - {"choices"}
            choices = spec["choices"]
            if extra:
                raise ConfigError(f"{where} {name}: choices cannot be mixed with "
                                  f"{', '.join(sorted(extra))}; give either choices or low/high")
            if not isinstance(choices, list) or not choices:
                raise ConfigError(f"{where} {name}: choices must be a non-empty list, got {choices!r}")
            space[name] = {"choices": [check(c) for c in choices]}
            continue
        unknown = set(spec) - {"low", "high", "log"}
        if unknown or "low" not in spec or "high" not in spec:
            raise ConfigError(f"{where} {name}: a range needs low and high (and optionally "
                              f"log = true), got keys {', '.join(sorted(spec)) or 'none'}")
        low, high, log = spec["low"], spec["high"], spec.get("log", False)
        integer = isinstance(TRAIN_DEFAULTS.get(name, valid_policy.get(name)), int) \
            and not isinstance(TRAIN_DEFAULTS.get(name), bool)
        if integer and not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)):
            raise ConfigError(f"{where} {name}: a whole-number setting needs whole-number low and "
                              f"high, got low = {low!r}, high = {high!r}")
        if isinstance(TRAIN_DEFAULTS.get(name), (bool, str)):
            raise ConfigError(f"{where} {name}: a {type(TRAIN_DEFAULTS[name]).__name__} setting "
                              f"has no range; use choices = [...]")
        low, high = check(low), check(high)
        if not low < high:
            raise ConfigError(f"{where} {name}: empty range (low = {low} is not below high = "
                              f"{high}); use low < high, or choices = [{low}] to fix it")
        if not isinstance(log, bool):
            raise ConfigError(f"{where} {name}: log must be true or false, got {log!r}")
        if log and low <= 0:
            raise ConfigError(f"{where} {name}: a log-scale range needs low > 0, got {low}")
        space[name] = {"low": low, "high": high, "log": log}
    if not space:
        raise ConfigError(f"{where} is empty: name at least one setting to sweep")
    return space


def suggest(trial, name, spec):
    """One value for one setting, drawn by the study's sampler."""
    if "choices" in spec:
        return trial.suggest_categorical(name, spec["choices"])
    if isinstance(spec["low"], int) and isinstance(spec["high"], int):
        return trial.suggest_int(name, spec["low"], spec["high"], log=spec["log"])
    return trial.suggest_float(name, spec["low"], spec["high"], log=spec["log"])


# ---- The storage: a journal file or a database -------------------------------------
def open_storage(storage):
    """A path -> Optuna's journal file storage (created if missing); a URL with
    '://' -> its RDB storage. Bad URLs and unreachable databases fail here in one line."""
    storage = str(storage)
    if "://" not in storage:
        path = Path(storage).expanduser()
        if path.is_dir():
            raise ConfigError(f"storage {path} is a folder; pass a journal file path such as "
                              f"{path / 'journal.log'} or a database URL")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        except OSError as e:
            raise ConfigError(f"storage {path}: cannot create the journal file "
                              f"({e.strerror or e}); pass a path you can write to") from None
        from optuna.storages.journal import JournalFileBackend, JournalStorage
        return JournalStorage(JournalFileBackend(str(path)))
    import sqlalchemy.exc
    from sqlalchemy.engine import make_url
    try:
        url = make_url(storage)
        shown = url.render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        raise ConfigError(f"storage {storage!r} is not a valid database URL; use e.g. "
                          f"postgresql://USER:PASSWORD@HOST:5432/DB, sqlite:///FILE or a journal "
                          f"file path") from None
    engine = {}
    if url.get_backend_name() == "postgresql":
        engine = {"connect_args": {"connect_timeout": 10}}  # an unreachable host fails in 10 s
        if url.drivername == "postgresql":  # a plain URL: the driver we install (psycopg 3),
            url = url.set(drivername="postgresql+psycopg")  # whatever SQLAlchemy's default
    try:
        return optuna.storages.RDBStorage(url.render_as_string(hide_password=False),
                                          engine_kwargs=engine)
    except (sqlalchemy.exc.NoSuchModuleError, ValueError) as e:
        raise ConfigError(f"storage {shown}: unknown database kind {url.drivername!r} ({e}); "
                          f"use postgresql://, mysql://, sqlite:/// or a journal file path") from None
    except ImportError as e:  # Optuna wraps the driver's ModuleNotFoundError
        missing = getattr(e.__cause__, "name", None) or url.drivername
        raise ConfigError(f"storage {shown}: the database driver {missing!r} is not installed; "
                          f"pip install 'puffer_learn[cluster]' (PostgreSQL) or that driver") from None
    except sqlalchemy.exc.SQLAlchemyError as e:
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        raise SweepError(f"storage {shown}: cannot reach the database ({reason}); start it, "
                         f"or check the host, port, user and password") from None


# ---- Counting trials toward the requested total -----------------------------------
def counted(trial):
    """Does this trial count toward the study's total? Completed, pruned and
    failed ones do, and running ones (another worker has them); interrupted
    ones (Ctrl-C, a killed worker) do not: a rerun runs them again."""
    if trial.state == TrialState.FAIL:
        return not trial.user_attrs.get("interrupted", False)
    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)


def release_dead_trials(study):
    """A RUNNING trial whose worker process on this machine is gone (killed
    before it could record the interrupt) is marked failed + interrupted, so it
    does not count forever. Trials of other machines are left alone."""
    host = socket.gethostname()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker_host, _, pid = str(t.user_attrs.get("worker", "")).rpartition(":")
        if worker_host == host and pid.isdigit() and not pid_alive(int(pid)):
            study._storage.set_trial_user_attr(t._trial_id, "interrupted", True)
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def summary(study, wall_s=None):
    """Counts and the best trial, as the CLI's JSON line reports them."""
    trials = study.get_trials(deepcopy=False)
    count = {state: sum(t.state == s and counted(t) for t in trials)
             for state, s in (("completed", TrialState.COMPLETE), ("pruned", TrialState.PRUNED),
                              ("failed", TrialState.FAIL))}
    best = max((t for t in trials if t.state == TrialState.COMPLETE), key=lambda t: t.value,
               default=None)
    return {"study": study.study_name, "best_value": best.value if best else None,
            "best_params": best.params if best else None,
            "best_trial": best.number if best else None, "trials": sum(count.values()), **count,
            "interrupted": sum(t.state == TrialState.FAIL and not counted(t) for t in trials),
            **({"wall_s": round(wall_s, 2)} if wall_s is not None else {})}


# ---- One trial: one training run ---------------------------------------------------
def run_trial(study, trial, env, space, run_dir, seed, fixed):
    """Trains with the trial's settings; tells the study how it ended. Returns
    the trial's final state. Re-raises KeyboardInterrupt after recording it."""
    host_pid = f"{socket.gethostname()}:{os.getpid()}"
    try:
        trial.set_user_attr("worker", host_pid)
        params = {name: suggest(trial, name, spec) for name, spec in space.items()}
        out = Path(run_dir) / f"trial-{trial.number}"
        trial.set_user_attr("run_dir", str(out))
        stop_event = [False]
        reported = [0]  # the last percent of the budget reported

        def report(m):
            """The trainer's callback: the ratio at each percent of the budget,
            so every trial has values at the same steps for the pruner."""
            if m["ratio"] is None:
                return
            percent = min(100, int(100 * m["global_step"] / m["total_timesteps"]))
            if percent <= reported[0]:
                return
            for step in range(reported[0] + 1, percent + 1):
                trial.report(m["ratio"], step)
            reported[0] = percent
            if trial.should_prune():  # asks the storage: only when there is something new
                stop_event[0] = True

        try:
            result = train(env, seed=seed, out=out, callback=report, stop=lambda: stop_event[0],
                           **{**fixed, **params})
        except (TrainingDiverged, ConfigError) as e:
            trial.set_user_attr("error", " ".join(str(e).split()))
            study.tell(trial, state=TrialState.FAIL)
            return TrialState.FAIL
        if result["stopped_by"] == "interrupt":
            raise KeyboardInterrupt
        keep = {k: v for k, v in result.items() if k not in ("config", "metrics")}
        out.mkdir(parents=True, exist_ok=True)
        (out / "result.json").write_text(json.dumps(
            {"params": params, **keep, "config": result["config"], "metrics": result["metrics"]}))
        if stop_event[0]:
            trial.set_user_attr("final_ratio", result["ratio"])
            study.tell(trial, state=TrialState.PRUNED)
            return TrialState.PRUNED
        if result["ratio"] is None or not math.isfinite(result["ratio"]):
            trial.set_user_attr("error", f"no final ratio (score {result['score']})")
            study.tell(trial, state=TrialState.FAIL)
            return TrialState.FAIL
        study.tell(trial, result["ratio"])
        return TrialState.COMPLETE
    except KeyboardInterrupt:
        # Record the interrupt and leave; a second Ctrl-C must not cut the write short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            study._storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
            study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        raise
    except BaseException:
        study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        raise


def load_study(storage, study_name, seed, trials, worker=0, done=0):
    """The study (created if missing) with a seeded TPE sampler and a median pruner."""
    storage = open_storage(storage)
    study = optuna.create_study(study_name=study_name, storage=storage, direction="maximize",
                                load_if_exists=True)
    # Seeded, but not the same draws in every worker or on every rerun
    # (done: the trials the study held when this sweep started).
    study.sampler = optuna.samplers.TPESampler(seed=seed + 1000 * worker + done,
                                               n_startup_trials=max(2, min(10, trials // 3)))
    # Prune a trial below the median of earlier trials at the same percent of
    # the budget, once 2 trials have finished and after the first 30%.
    study.pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=30)
    return study


def run_worker(env, storage, study_name, trials, quota, space, run_dir, seed, fixed, worker=0,
               done=0, on_trial=None):
    """Runs trials until the study holds `trials` counted trials (or this worker
    has run `quota` of them)."""
    study = load_study(storage, study_name, seed, trials, worker, done)
    ran = 0
    while ran < quota:
        trial = study.ask()
        before = [t for t in study.get_trials(deepcopy=False) if t.number < trial.number and counted(t)]
        if len(before) >= trials:  # another machine's worker took the last slot first
            study._storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
            study.tell(trial, state=TrialState.FAIL)
            break
        state = run_trial(study, trial, env, space, run_dir, seed, fixed)
        ran += 1
        if on_trial is not None:
            on_trial(study, state)


def _worker_main(errors, *args, **kwargs):
    """A worker process: quiet, and its error (one line) goes back to the parent."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        run_worker(*args, **kwargs)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:
        errors.put(f"worker {kwargs.get('worker', 0)}: {' '.join(str(e).split()) or type(e).__name__}")
        sys.exit(1)


# ---- The sweep -------------------------------------------------------------------------
def sweep(env, trials=20, *, storage=None, study=None, workers=1, budget=None, seed=1,
          out="runs", space=None, progress=True, env_config=None, **overrides):
    """Runs an Optuna study of `trials` training runs on `env` and returns the
    optuna Study (study.best_params, study.best_value, study.trials_dataframe()).

    storage   None: the journal file OUT/sweeps/STUDY/journal.log; a path: that
              journal file; a URL (postgresql://...): a database many machines share
    study     the study's name (default: the env's name)
    workers   local worker processes sharing the study (each gets cores / workers torch threads)
    budget    agent steps per trial (default: the env's total_timesteps)
    seed      the training seed of every trial (and the sampler's)
    space     a [sweep]-style dict instead of the env's train.toml table
    progress  a live progress line on stderr
    env_config / **overrides: fixed env settings, and train or policy settings, of every trial

    Ctrl-C stops the running trials (recorded as interrupted, not counted)
    and raises SweepInterrupted (a KeyboardInterrupt, with .study); a rerun
    continues the study."""
    for name, value in (("trials", trials), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a whole number >= 1, got {value!r}")
    if budget is not None:
        budget = check_train_value("total_timesteps", budget)
        overrides["total_timesteps"] = budget
    if space is None:
        space = load_space(env)
    else:
        space = check_space(space, load_env_config(env)["policy"].get("name", "mlp"))
    both = sorted(set(space) & set(overrides))
    if both:
        raise ConfigError(f"{', '.join(both)}: both swept ([sweep]) and fixed (an argument); "
                          f"drop one of the two")
    env_name = locate(env)[0]
    study_name = study or env_name
    run_dir = Path(out) / "sweeps" / study_name
    storage = str(run_dir / "journal.log") if storage is None else storage
    if workers > 1 and "torch_threads" not in overrides:
        overrides["torch_threads"] = max(1, (os.cpu_count() or 1) // workers)  # no oversubscribing
    for key, value in overrides.items():  # fail on a bad fixed setting before any trial starts
        if key in TRAIN_DEFAULTS:
            check_train_value(key, value)
    if env_config:
        overrides["env_config"] = dict(env_config)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    the_study = load_study(storage, study_name, seed, trials)
    release_dead_trials(the_study)
    done = len(the_study.get_trials(deepcopy=False))
    remaining = trials - sum(counted(t) for t in the_study.get_trials(deepcopy=False))
    if remaining <= 0:
        return the_study
    build(env)  # compile once here, not once per worker
    display = Progress(the_study, trials) if progress else None
    try:
        if workers == 1:
            run_worker(env, storage, study_name, trials, remaining, space, run_dir, seed, overrides,
                       done=done, on_trial=display.update if display else None)
        else:
            run_processes(env, storage, study_name, trials, remaining, space, run_dir, seed,
                          overrides, workers, display, done)
    except KeyboardInterrupt:
        raise SweepInterrupted(the_study) from None
    finally:
        if display:
            display.close()
    return the_study


def run_processes(env, storage, study_name, trials, remaining, space, run_dir, seed, fixed,
                  workers, display, done):
    """K worker processes; the remaining trials are split between them up
    front, so together they run exactly that many."""
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked torch threads
    errors = ctx.Queue()
    procs = []
    for w in range(workers):
        quota = remaining // workers + (w < remaining % workers)
        if quota:
            p = ctx.Process(target=_worker_main, args=(errors, env, storage, study_name, trials,
                                                        quota, space, run_dir, seed, fixed),
                            kwargs={"worker": w, "done": done}, daemon=False)
            p.start()
            procs.append(p)
    try:
        poll = load_study(storage, study_name, seed, trials)
        while any(p.is_alive() for p in procs):
            time.sleep(0.5)
            if display:
                display.update(poll)
    except KeyboardInterrupt:
        # A terminal's Ctrl-C reached the workers too; a notebook's did not: pass it on.
        deadline = time.time() + 3
        while any(p.is_alive() for p in procs) and time.time() < deadline:
            time.sleep(0.1)
        for p in procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGINT)
        for p in procs:
            p.join(60)
            if p.is_alive():
                p.terminate()
        raise
    for p in procs:
        p.join()
    failed = []
    while not errors.empty():
        failed.append(errors.get())
    if not failed and any(p.exitcode for p in procs):  # died before its error handler (at import)
        codes = ", ".join(f"worker {w}: {p.exitcode}" for w, p in enumerate(procs) if p.exitcode)
        failed.append(f"worker processes exited early ({codes}); a script that calls "
                      f"puffer_learn.sweep(workers > 1) must do it under "
                      f"`if __name__ == \"__main__\":` (each worker imports the script)")
    if failed:
        raise SweepError("; ".join(failed))


class Progress:
    """A rich progress bar of the study on stderr: trials counted, best ratio so far."""

    def __init__(self, study, trials):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        self.bar = RichProgress(TextColumn(f"[bold]sweep {study.study_name}[/]"), BarColumn(),
                                MofNCompleteColumn(), TextColumn("{task.description}"),
                                TimeElapsedColumn(), console=Console(stderr=True))
        self.task = self.bar.add_task("", total=trials)
        self.bar.start()
        self.update(study)

    def update(self, study, state=None):
        s = summary(study)
        finished = s["completed"] + s["pruned"] + s["failed"]
        best = "-" if s["best_value"] is None else f"{s['best_value']:.3f}"
        self.bar.update(self.task, completed=finished,
                        description=f"best ratio {best} | {s['completed']} completed, "
                                    f"{s['pruned']} pruned, {s['failed']} failed")

    def close(self):
        self.bar.stop()
