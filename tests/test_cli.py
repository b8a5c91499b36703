"""The puffer-learn command on bad input: one line `error: ...` naming the
setting and the fix, exit code 2 for usage errors and 1 for runtime errors, no
traceback unless --debug. And `lab`: which folder, and Jupyter gets the rest."""
import sys
from pathlib import Path

import pytest
import torch

import puffer_learn
from puffer_learn import cli
from puffer_learn.training.config import TRAIN_SETTINGS
from puffer_learn.training.evaluation import EpisodesNeverEnd, baseline_score

# A one-agent env whose episodes never end (env_step always returns 0).
NEVER_ENDS = r"""
#include "puffer_env.h"
typedef struct Log { float score; float episode_length; float n; } Log;
typedef struct Config { int unused; } Config;
typedef struct Env { ENV_CONTRACT_FIELDS int tick; } Env;
static void env_defaults(Config* c) { c->unused = 0; }
static int env_check(const Config* c, char* err, int n) { return 0; }
static void env_spaces(const Config* c, Spaces* s) {
    s->num_agents = 1; s->obs_size = 1; s->num_actions = 2; s->render_width = 8; s->render_height = 8;
}
static void env_init(Env* env) {}
static void env_close(Env* env) {}
static void env_reset(Env* env) { env->tick = 0; env->observations[0] = 0; }
static int env_step(Env* env) {
    env->tick++; env->rewards[0] = 0; env->terminals[0] = 0; env->truncations[0] = 0;
    return 0;
}
static void env_scripted(Env* env, int* actions) { actions[0] = 0; }
static void env_render(Env* env) { ClearBackground(BLACK); }
"""

SMALL = ["--total-timesteps", "4096", "--quiet", "--train.num_envs", "8", "--train.eval_episodes", "8"]


@pytest.fixture(scope="module")
def never_ends(tmp_path_factory):
    path = tmp_path_factory.mktemp("never") / "never_ends.h"
    path.write_text(NEVER_ENDS)
    return str(path)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    run = puffer_learn.train("target", seed=1, out=str(out), total_timesteps=2048, time_limit=0.0,
                             num_envs=8, horizon=32, eval_episodes=8, torch_threads=1)
    return run["checkpoint"]


def fails(argv, capsys):
    """Runs the CLI; returns (exit code, the stderr line)."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return exit_info.value.code, lines[0]


@pytest.mark.parametrize("argv,code,words", [
    (["bench", "nosuch"], 2, ["unknown env 'nosuch'", "packaged envs are"]),
    (["bench", "target", "--num-envs", "0"], 2, ["--num-envs", "must be > 0"]),
    (["train", "target", "--train.minibatches", "0", *SMALL], 2, ["minibatches", ">= 1"]),
    (["train", "target", "--train.minibatches", "3", *SMALL], 2, ["minibatches (3) must divide", "64"]),
    (["train", "target", "--train.num_envs", "1000000000000", "--quiet"], 2,
     ["num_envs=1000000000000", "GiB", "smaller num_envs"]),
    (["train", "target", "--total-timesteps", "-5", "--quiet"], 2, ["total_timesteps must be >= 1", "-5"]),
    (["train", "target", "--total-timesteps", "0", "--quiet"], 2, ["total_timesteps must be >= 1"]),
    (["train", "target", "--time-limit", "-1", *SMALL], 2, ["time_limit must be >= 0"]),
    (["train", "target", "--train.gamma", "1.5", *SMALL], 2, ["gamma must be in (0, 1]", "1.5"]),
    (["train", "target", "--train.gae_lambda", "-0.1", *SMALL], 2, ["gae_lambda must be between 0 and 1"]),
    (["train", "target", "--train.horizon", "0", *SMALL], 2, ["horizon must be >= 1"]),
    (["train", "target", "--train.eval_episodes", "0", "--quiet"], 2, ["eval_episodes must be between 1"]),
    (["train", "target", "--policy.hidden_size", "abc", *SMALL], 2, ["hidden_size must be a whole number", "'abc'"]),
    (["train", "target", "--policy.layers", "0", *SMALL], 2, ["layers must be a whole number >= 1"]),
    (["train", "target", "--train.learning_rat", "1", *SMALL], 2, ["unknown train setting 'learning_rat'"]),
    (["train", "target", "--train.learnig_rate", "3e-4", *SMALL], 2,
     ["unknown train setting 'learnig_rate'", "did you mean 'learning_rate'?"]),
    (["train", "target", "--policy.hiden_size", "8", *SMALL], 2,
     ["no setting 'hiden_size'", "did you mean 'hidden_size'?"]),
    (["train", "target", "--trian.horizon", "8", *SMALL], 2,
     ["unknown argument '--trian.horizon'", "did you mean --train.horizon?"]),
    (["train", "target", "--bogus", "1"], 2, ["unknown argument '--bogus'", "--train.KEY VALUE"]),
    (["train", "target", "--train.horizon"], 2, ["--train.horizon needs a value"]),
    (["eval", "target", "--checkpoint", "/nonexistent/model.pt"], 2, ["does not exist"]),
    (["export", "nosuch", "--checkpoint", "x.pt", "--out", "x"], 2, ["does not exist"]),
    (["nosuch"], 2, ["invalid choice"]),
])
def test_bad_input_is_one_clear_line(argv, code, words, capsys):
    got, line = fails(argv, capsys)
    assert got == code, line
    for word in words:
        assert word in line


def test_cuda_without_a_gpu_is_a_usage_error(capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    code, line = fails(["train", "target", "--device", "cuda", *SMALL], capsys)
    assert code == 2 and "no CUDA GPU" in line and "--device cpu" in line


def test_unwritable_out_fails_before_training(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    code, line = fails(["train", "target", "--out", str(blocker / "runs"), *SMALL], capsys)
    assert code == 2 and "not writable" in line and "--out" in line


def test_env_whose_episodes_never_end_is_a_runtime_error(never_ends, capsys):
    code, line = fails(["train", never_ends, *SMALL], capsys)
    assert code == 1 and "no episode ended" in line and "env_step ever return 1" in line
    with pytest.raises(EpisodesNeverEnd, match="log->n"):  # lessons can catch it by name
        baseline_score(never_ends, episodes=4)


def test_checkpoints_with_bad_weights_name_the_tensor(checkpoint, tmp_path, capsys):
    data = torch.load(checkpoint, weights_only=True)
    data["model"]["actor.bias"][0] = float("inf")
    torch.save(data, tmp_path / "inf.pt")
    for argv in (["eval", "target", "--checkpoint", str(tmp_path / "inf.pt")],
                 ["train", "target", "--resume", str(tmp_path / "inf.pt"), "--out", str(tmp_path), *SMALL]):
        code, line = fails(argv, capsys)
        assert code == 1 and "'actor.bias' holds NaN/inf" in line and "inf.pt" in line

    data = torch.load(checkpoint, weights_only=True)
    data["config"]["policy"]["hidden_size"] = 16  # the weights are 64 wide
    torch.save(data, tmp_path / "mismatch.pt")
    code, line = fails(["train", "target", "--resume", str(tmp_path / "mismatch.pt"),
                        "--out", str(tmp_path), *SMALL], capsys)
    assert code == 1 and "do not fit the policy its config describes" in line
    assert "'body.0.weight'" in line and "(64, 27)" in line and "(16, 27)" in line


def test_a_run_folder_as_checkpoint_is_called_a_folder(checkpoint, capsys):
    folder = Path(checkpoint).parent
    code, line = fails(["eval", "target", "--checkpoint", str(folder)], capsys)
    assert code == 2 and f"{folder} is a directory" in line and str(folder / "model.pt") in line
    assert "does not exist" not in line


def test_train_help_lists_every_setting_with_its_default(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    rows = {line.split()[0]: line for line in text.splitlines() if line.startswith("  ") and line.split()}
    for key, (default, description) in TRAIN_SETTINGS.items():
        assert key in rows, f"{key} is missing from train --help"
        assert rows[key].split()[1] == cli.cli_text(default), rows[key]
        assert rows[key].endswith(description), rows[key]
    assert "anneal_lr" in rows and rows["anneal_lr"].split()[1] == "true"  # as typed on the command line
    for words in ("envs/<env>/train.toml", "--train.KEY VALUE overrides both", "--env.KEY VALUE",
                  "--policy.KEY VALUE"):
        assert words in " ".join(text.split()), words


def test_debug_shows_the_traceback():
    with pytest.raises(ValueError, match="unknown env"):
        cli.main(["bench", "nosuch", "--debug"])


# ---- lab ---------------------------------------------------------------------------
@pytest.fixture
def lab_argv(monkeypatch, tmp_path):
    (tmp_path / "lessons" / "student").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr(cli.os, "execv", lambda path, argv: calls.append(argv))

    def run(*args):
        cli.main(["lab", *args])
        return calls.pop()
    return run, tmp_path / "lessons"


def test_lab_opens_the_student_lessons_and_passes_other_flags_to_jupyter(lab_argv):
    run, lessons = lab_argv
    argv = run()
    assert argv[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f"--notebook-dir={lessons / 'student'}" in argv
    argv = run("--solutions", "--port", "9000", "--ServerApp.token=abc", "--no-browser")
    assert f"--notebook-dir={lessons}" in argv
    assert argv[-4:] == ["--port", "9000", "--ServerApp.token=abc", "--no-browser"]


def test_lab_without_lessons_says_how_to_get_them(monkeypatch, tmp_path, capsys):
    code, line = fails(["lab", "--dir", str(tmp_path / "nowhere")], capsys)
    assert code == 2 and "no lessons folder" in line and "--dir" in line


def test_a_train_run_builds_its_env_once(monkeypatch, tmp_path, capsys):
    """Baseline, training and evaluation envs all come from one build."""
    import puffer_learn.cenv.build as build_module
    calls = []
    compile_module = build_module.compile_module
    monkeypatch.setattr(build_module, "compile_module",
                        lambda *a, **k: calls.append(a[0]) or compile_module(*a, **k))
    cli.main(["train", "target", "--out", str(tmp_path), *SMALL])
    assert calls == ["target"]
    assert '"ratio"' in capsys.readouterr().out.splitlines()[-1]
