"""The PPO trainer: its math on hand-checked numbers, and short real runs on a
tiny C env (a contextual bandit that learns in a second or two)."""
import json
import math
import sys
import threading

import pytest
import torch

import puffer_learn
from puffer_learn import cli
from puffer_learn.training.losses import clipped_policy_loss, compute_gae, value_loss
from puffer_learn.training.trainer import TrainingDiverged, train
from puffer_learn.training.policies import entropy
from puffer_learn.training.evaluation import evaluate
from puffer_learn.training.checkpoints import load_checkpoint, policy_from_checkpoint
from puffer_learn.training.config import ConfigError, check_train_value, resolve_config

# Each of 4 agents sees a one-hot cue and earns 1 for the matching action.
# Episodes end (terminal) after `episode_ticks` steps; score = reward per agent.
BANDIT = r"""
#include "puffer_env.h"
typedef struct Log { float score; float episode_length; float n; } Log;
typedef struct Config { int episode_ticks; } Config;
typedef struct Env { ENV_CONTRACT_FIELDS int tick; int cue[4]; float got[4]; } Env;
static void env_defaults(Config* c) { c->episode_ticks = 5; }
static int env_check(const Config* c, char* err, int n) {
    if (c->episode_ticks < 1) { snprintf(err, n, "episode_ticks must be >= 1"); return 1; }
    return 0;
}
static void env_spaces(const Config* c, Spaces* s) {
    s->num_agents = 4; s->obs_size = 4; s->num_actions = 4; s->render_width = 16; s->render_height = 16;
}
static void env_init(Env* env) {}
static void env_close(Env* env) {}
static void observe(Env* env) {
    for (int a = 0; a < 4; a++) {
        env->cue[a] = pl_rand_int(&env->rng, 4);
        for (int k = 0; k < 4; k++) env->observations[a * 4 + k] = k == env->cue[a];
    }
}
static void env_reset(Env* env) { env->tick = 0; for (int a = 0; a < 4; a++) env->got[a] = 0; observe(env); }
static int env_step(Env* env) {
    env->tick++;
    for (int a = 0; a < 4; a++) {
        float r = env->actions[a] == env->cue[a];
        env->rewards[a] = r; env->got[a] += r; env->terminals[a] = 0; env->truncations[a] = 0;
    }
    if (env->tick < env->cfg.episode_ticks) { observe(env); return 0; }
    float total = 0;
    for (int a = 0; a < 4; a++) { total += env->got[a]; env->terminals[a] = 1; }
    env->log.score += total / 4; env->log.episode_length += env->tick; env->log.n += 1;
    return 1;
}
static void env_scripted(Env* env, int* actions) { for (int a = 0; a < 4; a++) actions[a] = env->cue[a]; }
static void env_render(Env* env) {
    ClearBackground(BLACK);
    DrawCircle(4 + 2 * env->cue[0], 8, 3, GOLD);
}
"""

# Small and quick: 64 envs x 4 agents, 8-step rollouts (episodes of 5 end inside them).
FAST = dict(num_envs=64, horizon=8, minibatches=4, update_epochs=2, learning_rate=3e-3,
            eval_episodes=64, torch_threads=1, checkpoint_interval=1, time_limit=0.0)


@pytest.fixture(scope="module")
def bandit(tmp_path_factory):
    path = tmp_path_factory.mktemp("bandit") / "bandit.h"
    path.write_text(BANDIT)
    puffer_learn.make(str(path)).close()  # build it (and pass the first-build smoke run) once
    return str(path)


# ---- the math, by hand ------------------------------------------------------
def test_gae_matches_hand_computation_with_an_episode_end_and_a_bootstrapped_last_step():
    rewards = torch.tensor([[1.0, 0.0], [0.0, 0.0], [2.0, 0.0]])
    values = torch.tensor([[0.5, 0.0], [0.4, 0.0], [0.3, 0.0]])
    ended = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])  # agent 0's episode ends at t=1
    last_value = torch.tensor([1.0, 2.0])
    advantages, returns = compute_gae(rewards, values, ended, last_value, gamma=0.9, gae_lambda=0.8)
    # Agent 0: t=2 bootstraps from last_value: 2 + 0.9*1.0 - 0.3 = 2.6
    #          t=1 ends the episode: 0 - 0.4 = -0.4 (nothing flows back across the end)
    #          t=0: delta = 1 + 0.9*0.4 - 0.5 = 0.86; A = 0.86 + 0.72*(-0.4) = 0.572
    # Agent 1: no reward at all, yet the last step is bootstrapped: 0.9*2 = 1.8,
    #          then 0.72*1.8 = 1.296, then 0.72*1.296 = 0.93312
    expected = torch.tensor([[0.572, 0.93312], [-0.4, 1.296], [2.6, 1.8]])
    assert torch.allclose(advantages, expected, atol=1e-5)
    assert torch.allclose(returns, expected + values)


def test_clipped_policy_loss_on_hand_checked_numbers():
    ratios = torch.tensor([1.5, 0.5, 1.0])
    new_logprobs = ratios.log().requires_grad_()
    old_logprobs = torch.zeros(3)
    advantages = torch.tensor([1.0, 1.0, -1.0])
    loss, approx_kl, clip_fraction = clipped_policy_loss(new_logprobs, old_logprobs, advantages, 0.2)
    # min(1.5*1, 1.2*1) = 1.2;  min(0.5*1, 0.8*1) = 0.5;  min(-1, -1) = -1
    assert loss.item() == pytest.approx(-(1.2 + 0.5 - 1.0) / 3)
    assert clip_fraction.item() == pytest.approx(2 / 3)
    kl = ((0.5 - math.log(1.5)) + (-0.5 - math.log(0.5)) + 0.0) / 3
    assert approx_kl.item() == pytest.approx(kl, rel=1e-5)
    loss.backward()
    # The first sample is clipped (ratio above 1.2 with A > 0): no gradient flows.
    assert new_logprobs.grad[0].item() == 0.0
    assert new_logprobs.grad[1].item() == pytest.approx(-0.5 / 3)


def test_value_loss_plain_and_clipped():
    new, old, returns = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 2.5]), torch.tensor([2.0, 2.0])
    assert value_loss(new, old, returns).item() == pytest.approx(0.5)
    # clipped values: 0.0+0.2 = 0.2 and 2.5+0.2 = 2.7 -> errors 3.24 and 0.49; max with 1, 1
    assert value_loss(new, old, returns, value_clip=0.2).item() == pytest.approx(0.5 * (3.24 + 1.0) / 2)


def test_entropy_of_uniform_and_certain_policies():
    assert entropy(torch.zeros(3, 4)).item() == pytest.approx(math.log(4))
    assert entropy(torch.tensor([[50.0, 0.0, 0.0]])).item() == pytest.approx(0.0, abs=1e-6)


# ---- config -------------------------------------------------------------------
def test_unknown_settings_name_the_valid_ones(bandit):
    with pytest.raises(ValueError, match="learning_rate"):
        resolve_config(bandit, overrides={"learning_rat": 1e-3})
    with pytest.raises(TypeError, match="num_envs must be int"):
        resolve_config(bandit, train_config={"num_envs": 1.5})
    with pytest.raises(ValueError, match="hidden_size"):
        resolve_config(bandit, policy_config={"hiden_size": 3})
    with pytest.raises(ValueError, match="episode_ticks"):
        train(bandit, env_config={"episode_tick": 3}, **FAST)


def test_misspelled_settings_get_the_closest_name():
    with pytest.raises(ConfigError, match=r"^unknown setting 'learnig_rate'; did you mean 'learning_rate'\?$"):
        train("target", learnig_rate=3e-4)
    with pytest.raises(ConfigError, match=r"unknown train setting 'learnig_rate'; did you mean 'learning_rate'\?"):
        resolve_config("target", train_config={"learnig_rate": 3e-4})
    with pytest.raises(ConfigError, match=r"did you mean 'hidden_size'\?"):
        resolve_config("target", overrides={"hiden_size": 32})  # a policy setting
    with pytest.raises(ConfigError, match=r"did you mean 'hidden_size'\?"):
        resolve_config("target", policy_config={"hiden_size": 32})
    # Nothing close: the message lists the valid names instead
    with pytest.raises(ConfigError, match="unknown train setting 'zzz'; valid settings are: total_timesteps"):
        check_train_value("zzz", 1)


def test_target_toml_is_read_and_overridable():
    cfg = resolve_config("target", overrides={"learning_rate": 1e-4, "hidden_size": 32},
                         env_config={"num_stars": 6})
    assert cfg["train"]["learning_rate"] == 1e-4
    assert cfg["policy"]["hidden_size"] == 32 and cfg["env"]["num_stars"] == 6
    import tomllib
    from puffer_learn.cenv.build import ENVS_DIR
    toml = tomllib.loads((ENVS_DIR / "target" / "train.toml").read_text())
    assert {k: cfg["train"][k] for k in toml["train"] if k != "learning_rate"} == {
        k: v for k, v in toml["train"].items() if k != "learning_rate"}  # the file's settings, read
    # Another policy drops the file's settings for the MLP (layers) instead of failing on them.
    assert resolve_config("target", policy_config={"name": "lstm"})["policy"] == {
        "name": "lstm"}
    assert resolve_config("target", overrides={"policy": "lstm", "hidden_size": 32})["policy"] == {
        "name": "lstm", "hidden_size": 32}


def test_cli_settings_parse_into_sections():
    settings = cli.parse_settings(["--train.learning_rate", "3e-4", "--env.num_stars=6",
                                   "--policy.name", "lstm", "--train.anneal_lr", "false"])
    assert settings == {"train": {"learning_rate": 3e-4, "anneal_lr": False},
                        "env": {"num_stars": 6}, "policy": {"name": "lstm"}}
    with pytest.raises(cli.UsageError, match="--train.KEY"):
        cli.parse_settings(["--learning_rate", "3"])


# ---- real runs ------------------------------------------------------------------
def test_short_training_run_improves_the_score(bandit, tmp_path):
    seen = []
    result = train(bandit, seed=3, out=tmp_path, total_timesteps=60_000, callback=seen.append, **FAST)
    first = next(m["ratio"] for m in seen if m["ratio"] is not None)
    assert first < 0.5            # random play scores about 1/4 of the baseline
    assert result["ratio"] > 0.8  # and a few seconds of PPO gets most of the way
    assert result["ratio"] > first + 0.3
    assert result["baseline_score"] == pytest.approx(5.0)  # 5 ticks, always right
    for key in ("update", "global_step", "total_timesteps", "elapsed_s", "agent_steps_per_s",
                "time_env", "time_forward", "time_learn", "score", "baseline_score", "ratio",
                "episode_length", "policy_loss", "value_loss", "entropy", "approx_kl",
                "clip_fraction", "explained_variance", "learning_rate"):
        assert key in seen[-1]
    assert 0 < seen[-1]["time_env"] + seen[-1]["time_forward"] + seen[-1]["time_learn"] <= 1
    assert seen[-1]["learning_rate"] < FAST["learning_rate"]  # annealed


@pytest.mark.parametrize("policy", ["mlp", "lstm"])
def test_learning_replays_exactly_what_the_rollout_saw(bandit, tmp_path, policy):
    """With one epoch of one minibatch, the only gradient step sees the rollout's
    own policy: the probability ratio must be exactly 1 (KL 0, nothing clipped).
    For the LSTM this holds only if the rollout and the minibatch replay start
    from the same state and reset memory at the same episode ends."""
    seen = []

    def sharpen_after_first_update(m):
        seen.append(m)
        if m["update"] == 1:  # make the policy decisive, so any replay mismatch shows in the KL
            policy = sys._getframe(1).f_locals["policy"]  # train()'s own policy
            with torch.no_grad():
                policy.actor.weight.mul_(1000.0)

    train(bandit, seed=1, out=tmp_path, total_timesteps=3 * 64 * 4 * 8,
          callback=sharpen_after_first_update, policy_config={"name": policy, "hidden_size": 16},
          **{**FAST, "minibatches": 1, "update_epochs": 1})
    assert len(seen) == 3
    for m in seen[1:]:
        assert m["entropy"] < 1.2  # decisive (uniform: 1.39) policy: the check below has teeth
        assert m["approx_kl"] == pytest.approx(0.0, abs=1e-6)
        assert m["clip_fraction"] == 0.0


def test_parts_replace_the_trainers_math_and_bad_parts_fail_early(bandit, tmp_path):
    """train(parts=...) calls the given functions in place of its own (lesson 8);
    wrapping every part in a counter changes nothing else, and a typo in a
    part's name fails before anything is built, naming the valid parts."""
    from puffer_learn.training.losses import PARTS
    from puffer_learn.training.config import ConfigError

    calls = {}

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] = calls.get(name, 0) + 1
            return fn(*args, **kwargs)
        return wrapper

    steps = 2 * 64 * 4 * 8  # two updates
    ours = train(bandit, seed=2, out=tmp_path / "ours", total_timesteps=steps, **FAST)
    swapped = train(bandit, seed=2, out=tmp_path / "swapped", total_timesteps=steps,
                    parts={name: counted(name, fn) for name, fn in PARTS.items()}, **FAST)
    assert set(calls) == set(PARTS)
    assert calls["gae"] == 2 and calls["policy_loss"] == 2 * FAST["update_epochs"] * FAST["minibatches"]
    for a, b in zip(ours["metrics"], swapped["metrics"]):
        for key in ("policy_loss", "value_loss", "entropy", "approx_kl", "explained_variance"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-7), key
    marked = train(bandit, seed=2, out=tmp_path / "marked", total_timesteps=steps,
                   parts={"explained_variance": lambda values, returns: 42.0}, **FAST)
    assert [m["explained_variance"] for m in marked["metrics"]] == [42.0, 42.0]
    with pytest.raises(ConfigError, match="unknown trainer part 'advantage'; the parts are: gae, "):
        train(bandit, out=tmp_path, parts={"advantage": compute_gae})
    with pytest.raises(ConfigError, match="trainer part 'gae' must be a function"):
        train(bandit, out=tmp_path, parts={"gae": "compute_gae"})
    with pytest.raises(ConfigError, match="parts must be a dict"):
        train(bandit, out=tmp_path, parts=[compute_gae])


def test_checkpoint_round_trip_and_resume(bandit, tmp_path):
    first = train(bandit, seed=2, out=tmp_path, total_timesteps=4 * 64 * 4 * 8, **FAST)
    data = load_checkpoint(first["checkpoint"])
    assert data["update"] == 4 and data["global_step"] == 4 * 64 * 4 * 8 and len(data["metrics"]) == 4
    assert data["config"]["train"]["horizon"] == 8 and data["optimizer"]["state"]
    policy = policy_from_checkpoint(data)
    obs = torch.eye(4)
    assert torch.allclose(policy(obs)[0], policy_from_checkpoint(data)(obs)[0])

    resumed = train(bandit, seed=2, out=tmp_path, resume=first["checkpoint"],
                    total_timesteps=6 * 64 * 4 * 8)
    again = load_checkpoint(resumed["checkpoint"])
    assert again["update"] == 6 and len(again["metrics"]) == 6
    assert [m["update"] for m in again["metrics"]] == [1, 2, 3, 4, 5, 6]
    assert again["config"]["train"]["horizon"] == 8  # the run's settings came back with it

    result = evaluate(resumed["checkpoint"], episodes=16, gif=tmp_path / "agent.gif")
    assert set(result) >= {"score", "baseline_score", "ratio"}
    assert (tmp_path / "agent.gif").read_bytes()[:3] == b"GIF"


def test_bad_checkpoint_files_say_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(IsADirectoryError, match=r"is a directory; pass the model.pt file inside it, e.g. .*model.pt"):
        load_checkpoint(tmp_path)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="not a readable puffer_learn checkpoint"):
        load_checkpoint(garbage)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(ValueError, match="not a puffer_learn checkpoint"):
        load_checkpoint(other)


def test_interrupt_keeps_the_checkpoint_and_metrics(bandit, tmp_path):
    def interrupt_at_third(m):
        if m["update"] == 3:
            raise KeyboardInterrupt

    result = train(bandit, seed=4, out=tmp_path, total_timesteps=10**6, callback=interrupt_at_third,
                   **{**FAST, "checkpoint_interval": 100})
    assert result["stopped_by"] == "interrupt" and result["score"] is None
    data = load_checkpoint(result["checkpoint"])
    assert data["update"] == 3 and len(data["metrics"]) == 3


def test_stop_event_ends_training_cleanly(bandit, tmp_path):
    stop = threading.Event()
    result = train(bandit, seed=5, out=tmp_path, total_timesteps=10**6,
                   callback=lambda m: stop.set() if m["update"] == 2 else None, stop=stop, **FAST)
    assert result["stopped_by"] == "stop" and result["updates"] == 2
    assert result["ratio"] is not None  # a clean stop still evaluates


def test_nan_is_caught_and_the_last_good_checkpoint_is_kept(bandit, tmp_path):
    def poison_after_second_update(m):
        if m["update"] == 2:  # update 2 is already saved; now break a weight
            policy = sys._getframe(1).f_locals["policy"]  # train()'s own policy
            with torch.no_grad():
                next(policy.parameters()).fill_(float("nan"))

    with pytest.raises(TrainingDiverged, match=r"update 3.*last good checkpoint is kept"):
        train(bandit, seed=6, out=tmp_path, total_timesteps=10**6,
              callback=poison_after_second_update, **FAST)
    data = load_checkpoint(tmp_path / "bandit-6" / "model.pt")
    assert data["update"] == 2
    assert all(torch.isfinite(t).all() for t in data["model"].values())


def test_cli_train_and_eval_print_json_last(bandit, tmp_path, capsys):
    cli.main(["train", bandit, "--seed", "7", "--total-timesteps", "20000", "--out", str(tmp_path),
              "--quiet", "--train.num_envs", "64", "--train.horizon", "8",
              "--train.eval_episodes", "32", "--train.torch_threads", "1"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"env", "seed", "score", "baseline_score", "ratio", "wall_s", "agent_steps_per_s",
            "checkpoint"} <= set(result)
    cli.main(["eval", bandit, "--checkpoint", result["checkpoint"], "--episodes", "16",
              "--deterministic"])
    evaluated = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert evaluated["deterministic"] and evaluated["episodes"] == 16
    assert {"score", "baseline_score", "ratio"} <= set(evaluated)
