"""Sweeps on Optuna: the [sweep] space's checks, the storages (journal file,
a real PostgreSQL server), workers sharing one study without losing or
duplicating trials, a diverging trial, and Ctrl-C then a rerun.
Every trial is tiny (8 envs, a few thousand steps): seconds each."""
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import puffer_learn
from puffer_learn import cli
from puffer_learn.training.config import ConfigError
from puffer_learn.training.sweep import check_space, counted, open_storage

TARGET = Path(puffer_learn.__file__).parent.parent / "envs" / "target"
# Tiny trials: 8 envs x 8 puffers x 16 steps per update, 10 eval episodes.
TINY = dict(num_envs=8, horizon=16, eval_episodes=10, torch_threads=1)
SPACE = {"learning_rate": {"low": 1e-3, "high": 1e-2, "log": True}, "update_epochs": {"low": 1, "high": 2}}


def load(storage, name):
    return optuna.load_study(study_name=name, storage=open_storage(storage))


def check_trials(study, requested, workers):
    """Exactly `requested` counted trials, numbered without gaps or repeats,
    each with its own run folder, run by `workers` different processes."""
    trials = [t for t in study.get_trials() if counted(t)]
    assert len(trials) == requested, [(t.number, t.state) for t in study.get_trials()]
    assert sorted(t.number for t in trials) == list(range(requested))
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    assert len({t.user_attrs["worker"] for t in trials}) == workers
    for t in trials:
        assert (Path(t.user_attrs["run_dir"]) / "result.json").is_file()


# ---- The [sweep] space -------------------------------------------------------------
@pytest.mark.parametrize("table, words", [
    ({"learnig_rate": {"low": 1e-4, "high": 1e-2}}, ["learnig_rate", "unknown parameter"]),
    ({"learning_rate": {"low": 1e-2, "high": 1e-2}}, ["learning_rate", "empty range"]),
    ({"update_epochs": {"low": 1.5, "high": 4}}, ["update_epochs", "whole-number"]),
    ({"learning_rate": {"low": -1.0, "high": 1e-2}}, ["learning_rate", ">= 0"]),
    ({"learning_rate": {"low": 0.0, "high": 1e-2, "log": True}}, ["learning_rate", "log-scale", "low > 0"]),
    ({"minibatches": {"choices": []}}, ["minibatches", "non-empty list"]),
    ({"minibatches": {"choices": [2, "four"]}}, ["minibatches", "must be int", "'four'"]),
    ({"minibatches": 4}, ["minibatches", "must be a table"]),
    ({"gamma": {"low": 0.9}}, ["gamma", "low and high"]),
    ({"hidden_size": {"low": 0, "high": 64}}, ["hidden_size", ">= 1"]),
    ({}, ["empty"]),
])
def test_bad_space_fails_in_one_line_naming_the_field(table, words):
    with pytest.raises(ConfigError) as e:
        check_space(table)
    assert "\n" not in str(e.value)
    for word in words:
        assert word in str(e.value)


def test_good_space_and_the_target_table():
    space = check_space({"learning_rate": {"low": 1e-4, "high": 1e-2, "log": True},
                         "minibatches": {"choices": [2, 4, 8]}, "hidden_size": {"low": 32, "high": 128}})
    assert space["learning_rate"] == {"low": 1e-4, "high": 1e-2, "log": True}
    assert space["minibatches"] == {"choices": [2, 4, 8]}
    assert puffer_learn.sweep.__module__ == "puffer_learn.training.sweep"
    from puffer_learn.training.sweep import load_space
    assert "learning_rate" in load_space("target")  # envs/target/train.toml's [sweep]
    # and training still reads that train.toml ([sweep] is not a training section)
    from puffer_learn.training.config import load_env_config
    assert load_env_config("target")["train"]["learning_rate"] == 3e-3


def cli_fails(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    if captured.out:  # past argparse, the JSON last line holds for errors too
        assert json.loads(captured.out.splitlines()[-1])["error"]
    return exit_info.value.code, lines[0]


def test_cli_bad_input(tmp_path, capsys):
    # An env whose train.toml sweeps an unknown parameter: the file and the field are named.
    shutil.copy(TARGET / "target.h", tmp_path / "mine.h")
    (tmp_path / "train.toml").write_text("[sweep]\nlearnig_rate = {low = 1e-4, high = 1e-2}\n")
    code, line = cli_fails(["sweep", str(tmp_path / "mine.h"), "--trials", "2"], capsys)
    assert code == 2 and "[sweep] learnig_rate: unknown parameter" in line
    code, line = cli_fails(["sweep", "target", "--trials", "2", "--storage", "nosuchdb://x/y"], capsys)
    assert code == 2 and "nosuchdb" in line and "postgresql://" in line
    code, line = cli_fails(["sweep", "target", "--trials", "2", "--storage", str(tmp_path)], capsys)
    assert code == 2 and "is a folder" in line
    # Nothing listens on port 1: the database is unreachable (a runtime error), the password hidden.
    code, line = cli_fails(["sweep", "target", "--trials", "2", "--storage",
                            "postgresql://me:secret@127.0.0.1:1/study"], capsys)
    assert code == 1 and "cannot reach the database" in line and "secret" not in line
    code, line = cli_fails(["sweep", "target", "--trials", "2", "--budget", "-5"], capsys)
    assert code == 2 and "--budget" in line


def test_bad_arguments_fail_before_any_trial(tmp_path):
    for kwargs, words in ((dict(learning_rate=1e-3), "learning_rate: both swept"),
                          (dict(trials=0), "trials must be"), (dict(workers=1.5), "workers must be"),
                          (dict(budget=0), "total_timesteps must be >= 1"),
                          (dict(gamma=2.0), "gamma must be")):
        with pytest.raises(ConfigError, match=words):
            puffer_learn.sweep("target", **{"trials": 2, "space": SPACE, "out": tmp_path, **kwargs})
    assert not (tmp_path / "sweeps").exists()  # nothing was created


# ---- Trials: workers, divergence, Ctrl-C -------------------------------------------
def test_two_workers_share_a_journal_file(tmp_path):
    study = puffer_learn.sweep("target", trials=4, workers=2, budget=4096, out=tmp_path, space=SPACE,
                               progress=False, **TINY)
    journal = tmp_path / "sweeps" / "target" / "journal.log"
    assert journal.is_file()
    check_trials(load(journal, "target"), 4, workers=2)
    assert study.best_value == max(t.value for t in study.trials if t.state == TrialState.COMPLETE)
    # The same call again: the study already holds 4 trials, so nothing runs.
    again = puffer_learn.sweep("target", trials=4, workers=2, budget=4096, out=tmp_path, space=SPACE,
                               progress=False, **TINY)
    assert len(again.trials) == 4
    # Asking for 5 in all runs exactly one more.
    more = puffer_learn.sweep("target", trials=5, workers=2, budget=4096, out=tmp_path, space=SPACE,
                              progress=False, **TINY)
    assert sorted(t.number for t in more.trials if counted(t)) == [0, 1, 2, 3, 4]


def test_a_diverging_trial_fails_and_the_study_goes_on(tmp_path):
    # A learning rate of 1e9 makes the loss or the weights NaN/inf within the first update.
    space = {"learning_rate": {"choices": [1e9, 3e-3]}}
    study = puffer_learn.sweep("target", trials=4, budget=4096, out=tmp_path, space=space,
                               progress=False, seed=3, **TINY)
    states = {t.number: t.state for t in study.trials}
    assert len(states) == 4
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert failed and all(t.params["learning_rate"] == 1e9 for t in failed)
    assert "Training stopped" in failed[0].user_attrs["error"] and counted(failed[0])
    assert any(t.state == TrialState.COMPLETE for t in study.trials)
    assert all(t.params["learning_rate"] == 3e-3 for t in study.trials if t.state == TrialState.COMPLETE)


def run_cli(args, cwd, **kw):
    return subprocess.Popen([sys.executable, "-m", "puffer_learn.cli", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_ctrl_c_then_rerun_continues_the_study(tmp_path):
    # ~2-3 s trials in two worker processes; Ctrl-C (SIGINT to the process group,
    # as a terminal sends it) once a trial has finished and another is running.
    # The rerun uses one worker (in-process), so both paths record and resume.
    args = ["sweep", "target", "--trials", "4", "--budget", "60000", "--quiet",
            "--train.num_envs", "8", "--train.horizon", "16", "--train.eval_episodes", "10",
            "--train.torch_threads", "1"]
    journal = tmp_path / "runs" / "sweeps" / "target" / "journal.log"
    proc = run_cli(args + ["--workers", "2"], tmp_path, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.3)
        if journal.exists():
            states = [t.state for t in load(journal, "target").get_trials()]
            if states.count(TrialState.COMPLETE) >= 1 and TrialState.RUNNING in states:
                break
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["interrupted_now"] and summary["interrupted"] >= 1
    study = load(journal, "target")
    assert not [t for t in study.get_trials() if t.state == TrialState.RUNNING]  # storage consistent
    interrupted = [t for t in study.get_trials() if not counted(t)]
    assert interrupted and all(t.user_attrs["interrupted"] for t in interrupted)
    # The same command again finishes the study: 4 counted trials in all.
    proc = run_cli(args, tmp_path)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["trials"] == 4 and summary["completed"] + summary["pruned"] == 4
    study = load(journal, "target")
    assert len([t for t in study.get_trials() if counted(t)]) == 4
    assert not [t for t in study.get_trials() if t.state == TrialState.RUNNING]


# ---- PostgreSQL: a real server, two workers ------------------------------------------
def postgres_bin(name):
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))[-1:]
    return found if isinstance(found, str) else (found[0] if found else None)


@pytest.fixture
def postgres_url():
    """A throwaway PostgreSQL server (the Debian postgresql package's initdb
    and pg_ctl) on a free port; its URL. Skips, saying why, if it cannot start."""
    initdb, pg_ctl = postgres_bin("initdb"), postgres_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL is not installed (no initdb/pg_ctl; apt-get install postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("the PostgreSQL driver psycopg is not installed (pip install 'puffer_learn[cluster]')")
    folder = tempfile.mkdtemp(prefix="pl-pg-")
    as_user = []
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as the postgres user
        try:
            shutil.chown(folder, "postgres")
        except LookupError:
            pytest.skip("running as root and there is no postgres user to run the server as")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = os.path.join(folder, "data")
    subprocess.run([*as_user, initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    start = subprocess.run([*as_user, pg_ctl, "-D", data, "-l", os.path.join(folder, "log"), "-w",
                            "-o", f"-p {port} -h 127.0.0.1 -k {folder}", "start"], capture_output=True,
                           text=True)
    if start.returncode:
        log = Path(folder, "log").read_text() if Path(folder, "log").exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"pg_ctl start failed: {start.stdout} {start.stderr} {log}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_two_workers_share_a_postgresql_study(postgres_url, tmp_path):
    study = puffer_learn.sweep("target", trials=4, workers=2, budget=4096, out=tmp_path, space=SPACE,
                               storage=postgres_url, study="pg", progress=False, **TINY)
    check_trials(load(postgres_url, "pg"), 4, workers=2)
    print(f"PostgreSQL study: {[(t.number, t.state.name, round(t.value or 0, 3), round(t.duration.total_seconds(), 1)) for t in study.trials]}")
    # Another worker, as a second machine would start it: joins the study and tops it up to 6.
    proc = run_cli(["sweep", "target", "--trials", "6", "--storage", postgres_url, "--study", "pg",
                    "--budget", "4096", "--quiet", "--out", str(tmp_path), "--train.num_envs", "8",
                    "--train.horizon", "16", "--train.eval_episodes", "10"], tmp_path)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert json.loads(out.splitlines()[-1])["trials"] == 6
