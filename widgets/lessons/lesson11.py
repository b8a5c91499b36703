"""Lesson 11, continuous control (11_continuous_control.ipynb).

The student's Gaussian log-probability is checked against the package's own
(puffer_learn/training/distributions.py) on random tensors; each known
mistake is recognised by computing it here and comparing."""
import math

import torch

from puffer_learn.training.distributions import Gaussian
from puffer_learn.widgets.exercises import Exercise
from puffer_learn.widgets.lessons.shared import numbered_hints

LESSON = "11_continuous_control.ipynb"


def random_gaussian(seed, rows=64, floats=2):
    """(mean, log_std, actions) with log stds away from 0, so that std and log std differ."""
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(rows, floats, generator=g)
    log_std = torch.rand(rows, floats, generator=g) * 1.5 - 1.2
    actions = mean + log_std.exp() * torch.randn(rows, floats, generator=g) * 1.5
    return mean, log_std, actions


def reference_log_prob(mean, log_std, actions):
    """The package's: Gaussian.log_prob on the head [mean, log std]."""
    return Gaussian(mean.shape[-1], -1.0, 1.0).log_prob(torch.cat([mean, log_std], -1), actions)


def _mistakes(mean, log_std, actions):
    """What common wrong answers compute, each with what to tell the student."""
    std = log_std.exp()
    z = (actions - mean) / std
    per_float = -0.5 * z ** 2 - log_std - 0.5 * math.log(2 * math.pi)
    return [
        (per_float.mean(-1), "each row is right up to a factor: the floats of one action are "
                             "independent, so their log-densities add up, they are not averaged"),
        ((-0.5 * z ** 2 - log_std).sum(-1), "every row is off by the same amount: the normal "
                                            "density's normalizing constant is missing"),
        ((-0.5 * z ** 2 - std - 0.5 * math.log(2 * math.pi)).sum(-1),
         "rows with log_std far from 0 are off: the density's normalizer divides by the standard "
         "deviation, so its log subtracts the log of it"),
        ((-0.5 * ((actions - mean) / std ** 2) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1),
         "the squared distance is measured in the wrong unit: distance from the mean counts in "
         "standard deviations, not variances"),
        ((-0.5 * ((actions - mean) / log_std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1),
         "the distance from the mean is divided by the log std; the standard deviation is its exp"),
        ((0.5 * z ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1),
         "actions far from the mean come out MORE likely than the mean itself: check a sign"),
    ]


def _check_log_prob(fn):
    for seed in (0, 1, 2):
        mean, log_std, actions = random_gaussian(seed)
        try:
            got = fn(mean.clone(), log_std.clone(), actions.clone())
        except Exception as e:  # a shape error, a missing import: say which
            return False, f"gaussian_log_prob raised {type(e).__name__}: {e}"
        if not torch.is_tensor(got):
            return False, f"gaussian_log_prob returned {type(got).__name__}: return a tensor"
        want = reference_log_prob(mean, log_std, actions)
        if got.shape != want.shape:
            return False, (f"on a batch of {mean.shape[0]} actions of {mean.shape[1]} floats each you "
                           f"returned shape {tuple(got.shape)}; the trainer needs one log-probability "
                           f"per action, shape {tuple(want.shape)}")
        if torch.allclose(got, want, atol=1e-4):
            continue
        for wrong, message in _mistakes(mean, log_std, actions):
            if torch.allclose(got, wrong, atol=1e-4):
                return False, message
        row = int((got - want).abs().argmax())
        return False, (f"row {row} (mean {mean[row].tolist()}, log std {log_std[row].tolist()}, "
                       f"action {actions[row].tolist()}): expected {want[row].item():.4f}, got "
                       f"{got[row].item():.4f}")
    return True, "the log-density of a diagonal Gaussian, one number per action"


log_prob = Exercise("the Gaussian log-probability", _check_log_prob, numbered_hints("""
    1. Treat each action float as its own normal distribution; the action's log-probability combines them.
    2. A normal's log-density at a point depends on how many standard deviations the point lies from the mean, on the standard deviation itself, and on a constant.
    3. Write the log of the normal density formula for one float, then combine the floats of a row with one reduction over the last dimension."""),
    number=1, lesson=LESSON, cell="def gaussian_log_prob")


def score_bias(log_prob_fn, mean=0.9, log_std=math.log(0.5), samples=200_000, seed=0, clip_first=False):
    """The average of d log p(a) / d mean over sampled actions: 0 for an honest
    estimator (the score function has mean 0). clip_first: the actions are
    clipped to [-1, 1] BEFORE their log-probability is taken."""
    g = torch.Generator().manual_seed(seed)
    m = torch.full((samples, 1), mean, requires_grad=True)
    s = torch.full((samples, 1), log_std)
    actions = mean + math.exp(log_std) * torch.randn(samples, 1, generator=g)
    if clip_first:
        actions = actions.clamp(-1.0, 1.0)
    log_prob_fn(m, s, actions).sum().backward()
    return m.grad.mean().item()
