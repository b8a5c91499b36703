"""Train setting frame_stack = k: the policy sees the last k observations side
by side (oldest first), zeros before an episode's first step, never a
previous episode's; the learn step replays exactly what the rollout saw;
evaluation and checkpoints use the same stack; the setting is range-checked;
the C export refuses it with a clear message."""
import pytest
import torch

import puffer_learn
from puffer_learn.training.config import ConfigError, resolve_config
from puffer_learn.export.weights import WeightFileError, write_weights
from puffer_learn.training.policies import MLP, FrameStack, LSTMPolicy, add_obs_norm
from puffer_learn.training.checkpoints import load_checkpoint, policy_from_checkpoint


class Echo(MLP):
    """Returns its input as the logits: shows exactly what the stack fed it."""

    def forward(self, obs, state=None):
        return obs, obs[:, 0], state


def test_the_stack_shifts_in_the_newest_and_zeroes_at_episode_ends():
    stack = FrameStack(Echo(6, 6, hidden_size=2), obs_size=2, k=3)
    state = stack.initial_state(2)
    seen = []
    ended_after = {1: torch.tensor([1, 0])}  # row 0's episode ends with step 1
    for t in range(4):
        obs = torch.tensor([[t + 1.0, -(t + 1.0)], [10.0 * (t + 1), 0.0]])
        stacked, _, state = stack(obs, state)
        seen.append(stacked)
        state = stack.mask_state(state, ended_after.get(t, torch.zeros(2)))
    assert seen[0][0].tolist() == [0, 0, 0, 0, 1, -1]            # zeros before the first step
    assert seen[1][0].tolist() == [0, 0, 1, -1, 2, -2]           # oldest first, newest last
    assert seen[2][0].tolist() == [0, 0, 0, 0, 3, -3]            # a new episode: the old one is gone
    assert seen[3][0].tolist() == [0, 0, 3, -3, 4, -4]
    assert seen[3][1].tolist() == [20, 0, 30, 0, 40, 0]          # row 1 went on: the last 3 steps


@pytest.mark.parametrize("obs_norm", [False, True], ids=["plain", "obs_norm"])
@pytest.mark.parametrize("inner", [MLP, LSTMPolicy])
def test_forward_sequence_is_stepping_with_the_same_resets(inner, obs_norm):
    torch.manual_seed(0)
    stack = FrameStack(inner(4 * 3, 5, hidden_size=8), obs_size=3, k=4)
    if obs_norm:  # as build_policy adds it: on the stack, normalizing each observation
        add_obs_norm(stack, 3)
        stack.obs_norm.update(torch.randn(50, 3) * 3 + 2)
    T, B = 6, 4
    obs, ended = torch.randn(T, B, 3), torch.zeros(T, B)
    ended[1, 0] = ended[3, 2] = ended[0, 1] = ended[T - 1, 3] = 1
    # carried in from a previous segment: frames, and the inner policy's memory
    inner_start = stack.inner.initial_state(B)
    if inner_start is not None:
        inner_start = tuple(torch.randn_like(s) for s in inner_start)
    start = (torch.randn(B, 3 * 3), inner_start)
    logits, values, end = stack.forward_sequence(obs, start, ended)
    state = start
    for t in range(T):
        step_logits, step_values, state = stack(obs[t], state)
        assert torch.allclose(step_logits, logits[t], atol=1e-6), f"step {t}"
        assert torch.allclose(step_values, values[t], atol=1e-6)
        state = stack.mask_state(state, ended[t])
    assert torch.equal(end[0], state[0])  # the frames carried into the next segment
    if inner_start is not None:
        assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(end[1], state[1]))
    rows = stack.state_rows(state, torch.tensor([1, 3]))
    assert rows[0].shape == (2, 9)


def test_the_setting_is_range_checked():
    assert resolve_config("recall")["train"]["frame_stack"] == 1
    assert resolve_config("recall", overrides={"frame_stack": 4})["train"]["frame_stack"] == 4
    with pytest.raises(ConfigError, match="frame_stack must be between 1 and 64, got 0"):
        resolve_config("recall", overrides={"frame_stack": 0})
    with pytest.raises(ConfigError, match="frame_stack must be int"):
        resolve_config("recall", overrides={"frame_stack": 2.5})


def test_training_evaluation_and_checkpoints_use_the_stack(tmp_path):
    """A short run on recall with delay 2 (and obs_norm, which normalizes each
    observation before it joins the stack): its checkpoint rebuilds the stacked
    policy, evaluation gives the run's own final score, the learn step
    replays the rollout exactly (KL 0 on a single step) and export refuses it."""
    run = puffer_learn.train("recall", seed=1, out=tmp_path, env_config={"delay": 2}, frame_stack=3, obs_norm=True,
                             policy_config={"name": "mlp", "hidden_size": 8}, total_timesteps=2 * 64 * 6,
                             num_envs=64, horizon=6, minibatches=1, update_epochs=1, eval_episodes=32)
    assert run["metrics"][0]["approx_kl"] == pytest.approx(0.0, abs=1e-6)  # replay = rollout
    data = load_checkpoint(run["checkpoint"])
    assert data["policy_class"] == "mlp" and data["config"]["train"]["frame_stack"] == 3
    policy = policy_from_checkpoint(data)
    assert isinstance(policy, FrameStack) and policy.inner.body[0].in_features == 3 * 5
    again = puffer_learn.evaluate(run["checkpoint"], episodes=32)
    assert again["score"] == run["score"]
    with pytest.raises(WeightFileError, match="frame_stack=3: envs/puffernet.h has no frame stack"):
        write_weights(policy, tmp_path / "stacked.bin")


def test_an_entity_policy_refuses_a_stack():
    with pytest.raises(ConfigError, match="frame_stack=2 needs a policy that reads one flat observation"):
        puffer_learn.train("asteroids", frame_stack=2, policy_config={"name": "entity"},
                           total_timesteps=1)
