"""From a policy's action head to actions: one object per kind of action space,
so the trainer's loop is the same for discrete and continuous envs.

    dist = distribution_for(vec)            # Categorical or Gaussian, from the env
    head, value, state = policy(obs, state)  # the policy outputs dist.num_outputs per agent
    actions, logprobs = dist.sample(head)
    vec.actions[:] = dist.to_env(actions)    # what the env receives
    dist.log_prob(head, actions), dist.entropy(head)

Categorical: the head holds one logit per action (num_actions of them).
Gaussian: the head holds a mean and a log standard deviation per action float
(2 x num_actions numbers), the way CleanRL's continuous PPO does it: an action
is sampled from N(mean, std) and its log-probability is that of the UNCLIPPED
sample; only where it enters the env is it clipped to the env's bounds.
(Clipping first would give actions at the bound a density the sample never
had, and the policy gradient would push on the wrong numbers.)
"""
import math

import torch

from puffer_learn.training.policies import entropy, log_prob, sample_actions


class Categorical:
    """num_actions discrete actions; the head is their logits."""
    continuous = False

    def __init__(self, num_actions):
        self.num_actions = self.num_outputs = num_actions

    def sample(self, logits, deterministic=False, generator=None):
        """(actions [B], their log-probabilities [B]); deterministic = the argmax."""
        return sample_actions(logits, deterministic, generator)

    def log_prob(self, logits, actions):
        return log_prob(logits, actions)

    def entropy(self, logits):
        return entropy(logits)

    def to_env(self, actions):
        return actions

    def action_buffer(self, steps, agents, device):
        return torch.zeros(steps, agents, dtype=torch.long, device=device)


class Gaussian:
    """num_actions floats per agent, each in [low, high]; the head is
    [mean (num_actions), log std (num_actions)]. The log std is clamped to
    [LOG_STD_MIN, LOG_STD_MAX] so a wild head cannot make the density overflow."""
    continuous = True
    LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0

    def __init__(self, num_actions, low, high):
        if not low < high:
            raise ValueError(f"continuous action bounds need low < high, got low={low}, high={high}; "
                             f"fix action_low/action_high in the env's env_spaces")
        self.num_actions, self.num_outputs = num_actions, 2 * num_actions
        self.low, self.high = float(low), float(high)

    def split(self, head):
        """(mean, log std), each [..., num_actions]."""
        mean, log_std = head[..., :self.num_actions], head[..., self.num_actions:]
        return mean, log_std.clamp(self.LOG_STD_MIN, self.LOG_STD_MAX)

    def sample(self, head, deterministic=False, generator=None):
        """(actions [B, num_actions], unclipped; their log-probabilities [B]).
        deterministic = the mean action (what the exported C program plays)."""
        mean, log_std = self.split(head)
        if deterministic:
            actions = mean
        else:
            noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
            actions = mean + log_std.exp() * noise
        return actions, self.log_prob(head, actions)

    def log_prob(self, head, actions):
        """log N(actions | mean, std), summed over the action floats."""
        mean, log_std = self.split(head)
        z = (actions - mean) / log_std.exp()
        return (-0.5 * z * z - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)

    def entropy(self, head):
        """Mean entropy in nats (0.5 log(2 pi e) + log std per float). Unlike a
        categorical's it can be negative: a narrow Gaussian is a density, not a probability."""
        _, log_std = self.split(head)
        return (log_std + 0.5 * math.log(2 * math.pi * math.e)).sum(-1).mean()

    def to_env(self, actions):
        return actions.clamp(self.low, self.high)

    def action_buffer(self, steps, agents, device):
        return torch.zeros(steps, agents, self.num_actions, device=device)


def distribution_for(vec):
    """The action distribution of a VecEnv's action space."""
    if getattr(vec, "continuous", False):
        return Gaussian(vec.num_actions, vec.action_low, vec.action_high)
    return Categorical(vec.num_actions)
