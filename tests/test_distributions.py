"""The action distributions: the Gaussian's log-probability and entropy are
those of torch.distributions.Normal, of the UNCLIPPED sample (clipping happens
only in to_env), and the categorical one is the policies' own functions."""
import math

import pytest
import torch

from puffer_learn.training.distributions import Categorical, Gaussian
from puffer_learn.training.policies import entropy, log_prob


def head(batch=64, floats=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 2 * floats, generator=g).clamp(-1.9, 1.9)  # log stds inside the clamp


def test_gaussian_log_prob_and_entropy_are_a_diagonal_normals():
    dist, h = Gaussian(3, -1.0, 1.0), head()
    mean, log_std = h[:, :3], h[:, 3:]
    normal = torch.distributions.Normal(mean, log_std.exp())
    actions, logp = dist.sample(h, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(logp, normal.log_prob(actions).sum(-1), atol=1e-5)
    assert torch.allclose(dist.log_prob(h, actions), logp)
    assert math.isclose(dist.entropy(h).item(), normal.entropy().sum(-1).mean().item(), rel_tol=1e-5)


def test_the_log_prob_is_the_unclipped_samples_and_only_the_env_sees_clipped_actions():
    dist = Gaussian(1, -1.0, 1.0)
    h = torch.tensor([[0.9, math.log(2.0)]] * 4096)  # mean 0.9, std 2: about half the samples leave [-1, 1]
    actions, logp = dist.sample(h, generator=torch.Generator().manual_seed(0))
    outside = (actions.abs() > 1).squeeze(1)
    assert 0.3 < outside.float().mean() < 0.7
    want = torch.distributions.Normal(0.9, 2.0).log_prob(actions).squeeze(1)
    assert torch.allclose(logp, want, atol=1e-5)  # clipping first would give many equal log-probs
    sent = dist.to_env(actions)
    assert sent.min() >= -1 and sent.max() <= 1 and torch.equal(sent[~outside], actions[~outside])


def test_gaussian_mean_action_and_log_std_clamp():
    dist = Gaussian(2, -2.0, 2.0)
    h = torch.tensor([[0.5, -3.0, 50.0, -50.0]])
    actions, _ = dist.sample(h, deterministic=True)
    assert torch.equal(actions, h[:, :2])
    _, log_std = dist.split(h)
    assert log_std.tolist() == [[Gaussian.LOG_STD_MAX, Gaussian.LOG_STD_MIN]]
    assert dist.num_outputs == 4 and dist.action_buffer(5, 3, "cpu").shape == (5, 3, 2)


@pytest.mark.parametrize("low, high", [(1.0, 1.0), (2.0, -2.0)])
def test_bounds_with_low_not_below_high_are_refused(low, high):
    with pytest.raises(ValueError, match=rf"need low < high, got low={low}, high={high}"):
        Gaussian(2, low, high)


def test_categorical_is_the_policies_own_functions():
    dist, logits = Categorical(5), head(floats=4)[:, :5]
    actions, logp = dist.sample(logits, generator=torch.Generator().manual_seed(2))
    assert actions.dtype == torch.long and torch.equal(logp, log_prob(logits, actions))
    assert torch.equal(dist.entropy(logits), entropy(logits)) and dist.to_env(actions) is actions
    assert dist.num_outputs == 5 and dist.action_buffer(4, 3, "cpu").dtype == torch.long


def test_gaussian_head_is_the_linear_layer_the_c_export_writes():
    from puffer_learn.training.policies import MLP, GaussianHead, with_gaussian_head

    policy = with_gaussian_head(MLP(6, 4, hidden_size=16))  # 2 action floats: 4 outputs
    assert isinstance(policy.actor, GaussianHead) and policy.actor.out_features == 4
    with torch.no_grad():
        policy.actor.log_std.copy_(torch.tensor([-1.0, 0.5]))
    hidden = torch.randn(5, 16)
    as_linear = torch.nn.functional.linear(hidden, policy.actor.weight, policy.actor.bias)
    assert torch.allclose(policy.actor(hidden), as_linear, atol=1e-6)
    head, _, _ = policy(torch.randn(3, 6))
    assert head[:, 2:].tolist() == [[-1.0, 0.5]] * 3  # the log std does not depend on the observation


def test_a_continuous_checkpoint_comes_back_with_its_gaussian_head(tmp_path):
    from puffer_learn.training.checkpoints import load_checkpoint, policy_from_checkpoint, save_checkpoint
    from puffer_learn.training.policies import GaussianHead
    from puffer_learn.training.policy_setup import build_policy

    config = {"policy": {"name": "mlp", "hidden_size": 8}, "train": {"frame_stack": 1}, "env": {}}
    policy = build_policy(config, 6, 4, continuous=True)
    optimizer = torch.optim.Adam(policy.parameters())
    path = save_checkpoint(tmp_path / "model.pt", "target_continuous", 1, config, policy, optimizer, [],
                           0, 0, 6, 4, continuous=True)
    back = policy_from_checkpoint(load_checkpoint(path))
    assert isinstance(back.actor, GaussianHead)
    obs = torch.randn(4, 6)
    assert torch.equal(back(obs)[0], policy(obs)[0])


def test_a_continuous_run_trains_saves_evaluates_and_exports(tmp_path):
    """The whole path for a continuous env: the trainer samples Gaussian actions,
    the checkpoint rebuilds the GaussianHead, evaluation plays the mean (as the C
    program does), and the exported program loads the weights."""
    import puffer_learn
    from puffer_learn.export.program import export, run_demo
    from puffer_learn.training.evaluation import evaluate

    run = puffer_learn.train("target_continuous", seed=2, out=str(tmp_path / "runs"), total_timesteps=2 * 512 * 32,
                             eval_episodes=8, num_envs=64)
    assert run["updates"] == 2 and 0 <= run["ratio"] < 0.3  # two updates: nowhere near solved
    first = run["metrics"][0]
    assert first["entropy"] > 0 and first["approx_kl"] >= 0  # log std starts at -0.5: entropy 2 * 0.92
    mean = evaluate(run["checkpoint"], episodes=8)
    assert mean["deterministic"] is None and mean["score"] == run["score"]  # the default plays the mean
    sampled = evaluate(run["checkpoint"], episodes=8, deterministic=False)
    assert sampled["score"] != mean["score"]
    paths = export("target_continuous", run["checkpoint"], tmp_path / "demo")
    assert run_demo(paths["program"], episodes=2)["policy"] == "mean"
