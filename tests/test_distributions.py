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
