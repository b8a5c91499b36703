"""The math of PPO as small functions you can test on their own: generalized
advantage estimation and the three loss terms (policy, value, entropy), plus
the explained variance the trainer logs. trainer.py calls them through PARTS,
so a lesson can swap in its own version of any one of them.

    advantages, returns = compute_gae(rewards, values, ended, last_value, 0.99, 0.95)
    loss, approx_kl, clip_fraction = clipped_policy_loss(new_logp, old_logp, advantages, 0.2)
"""
import torch

from puffer_learn.training.config import ConfigError
from puffer_learn.training.policies import entropy


def compute_gae(rewards, values, ended, last_value, gamma, gae_lambda):
    """Generalized advantage estimation over a rollout of T steps.

    rewards, values, ended: [T, agents]. values[t] = V(obs_t); ended[t] = 1 if
    the episode ended with step t (terminal OR truncation). last_value =
    V(obs after the last step): the LAST step is bootstrapped from it, it is
    not treated as the end of the episode (unless it really ended there).

        delta_t = r_t + gamma * V(s_t+1) * (1 - ended_t) - V(s_t)
        A_t     = delta_t + gamma * lambda * (1 - ended_t) * A_t+1

    Returns (advantages, returns = advantages + values).
    """
    advantages = torch.zeros_like(rewards)
    next_advantage = torch.zeros_like(last_value)
    next_value = last_value
    for t in reversed(range(rewards.shape[0])):
        not_ended = 1.0 - ended[t]
        delta = rewards[t] + gamma * next_value * not_ended - values[t]
        next_advantage = delta + gamma * gae_lambda * not_ended * next_advantage
        advantages[t] = next_advantage
        next_value = values[t]
    return advantages, advantages + values


def normalize(x, eps=1e-8):
    """Zero mean, unit std: keeps the policy step size independent of reward scale."""
    return (x - x.mean()) / (x.std() + eps)


def clipped_policy_loss(new_logprobs, old_logprobs, advantages, clip_coef):
    """PPO's clipped surrogate. Returns (loss, approx_kl, clip_fraction).

    ratio = pi_new(a|s) / pi_old(a|s). The objective takes the smaller of
    ratio * A and clip(ratio, 1 - c, 1 + c) * A, so moving the policy further
    than the clip range earns nothing. The loss is its negative mean."""
    log_ratio = new_logprobs - old_logprobs
    ratio = log_ratio.exp()
    unclipped = ratio * advantages
    clipped = ratio.clamp(1 - clip_coef, 1 + clip_coef) * advantages
    loss = -torch.min(unclipped, clipped).mean()
    with torch.no_grad():
        approx_kl = ((ratio - 1) - log_ratio).mean()  # low-variance KL(old||new) estimate
        clip_fraction = ((ratio - 1).abs() > clip_coef).float().mean()
    return loss, approx_kl, clip_fraction


def value_loss(new_values, old_values, returns, value_clip=0.0):
    """0.5 * (V - return)^2. With value_clip > 0, the new value may not move
    more than value_clip from the rollout's value without paying the larger
    of the two errors (PPO2-style value clipping)."""
    error = (new_values - returns) ** 2
    if value_clip > 0:
        clipped = old_values + (new_values - old_values).clamp(-value_clip, value_clip)
        error = torch.max(error, (clipped - returns) ** 2)
    return 0.5 * error.mean()


def explained_variance(values, returns):
    var = returns.var()
    return float("nan") if var == 0 else float(1 - (returns - values).var() / var)


# ---- Swappable parts -------------------------------------------------------------
# train(env, parts={"gae": my_gae}) runs the trainer with your function in place
# of ours (lesson 8 swaps in the student's own, or a deliberately broken one).
# A part takes the same arguments and returns the same things as the function
# it replaces. Parts are not saved in the checkpoint: a resumed run uses ours.
PARTS = {"gae": compute_gae, "normalize": normalize, "policy_loss": clipped_policy_loss,
         "value_loss": value_loss, "entropy": entropy, "explained_variance": explained_variance}


def resolve_parts(parts):
    """PARTS with the given ones swapped in; a bad name or value fails here."""
    if parts is None:
        return dict(PARTS)
    if not isinstance(parts, dict):
        raise ConfigError(f"parts must be a dict such as {{'gae': my_gae}}, got {type(parts).__name__}")
    for name, fn in parts.items():
        if name not in PARTS:
            raise ConfigError(f"unknown trainer part {name!r}; the parts are: {', '.join(PARTS)}")
        if not callable(fn):
            raise ConfigError(f"trainer part {name!r} must be a function, got {fn!r}")
    return {**PARTS, **parts}
