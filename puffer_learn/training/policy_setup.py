"""Which policy a run uses, and the network built for it. The one place that
turns a run's settings into a policy module: the class named by [policy],
its constructor settings, the env's entity layout, and what [train] puts
around it (frame_stack, obs_norm). Training, evaluation and checkpoints all
build here, so a saved run always comes back as the same network.

    policy_class("lstm")                         # LSTMPolicy; or an importable "module.Class"
    policy = policy_for_env(config, vec)         # the trainer's policy, sized for vec
    policy = build_policy(config, obs_size, num_actions)   # the same, from a checkpoint's sizes
"""
import importlib
import inspect

from puffer_learn.training.distributions import distribution_for
from puffer_learn.training.errors import ConfigError
from puffer_learn.training.policies import POLICIES, FrameStack, add_obs_norm, with_gaussian_head

# What the trainer and evaluation call on every policy (the Policy base class has them all).
INTERFACE = ("initial_state", "mask_state", "state_rows", "forward_sequence")


def policy_class(name):
    """A [policy] name ("mlp", "lstm", "entity") or an importable "module.Class" path."""
    if not isinstance(name, str):
        raise ConfigError(f"policy name must be a string such as 'mlp', got {name!r}")
    if name in POLICIES:
        return POLICIES[name]
    module, _, attr = name.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError, TypeError):
        cls = None
    if not isinstance(cls, type):
        raise ConfigError(f"unknown policy {name!r}: use one of {', '.join(POLICIES)} or an "
                          f"importable 'module.ClassName'")
    return cls


def policy_name(policy):
    """The name a checkpoint saves for a built policy: its POLICIES key ("mlp"),
    else its "module.Class" path. A FrameStack is named by the policy inside it:
    the config's frame_stack rebuilds the stack."""
    cls = type(policy.inner if isinstance(policy, FrameStack) else policy)
    return next((k for k, v in POLICIES.items() if v is cls), f"{cls.__module__}.{cls.__qualname__}")


def policy_settings(cls):
    """A policy's settings and their defaults: its constructor's keyword
    parameters, less obs_size and num_actions (the env gives those). None
    for the defaults dict means it takes any keyword (**kwargs)."""
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return None
    return {k: p.default for k, p in params.items() if k not in ("self", "obs_size", "num_actions")}


def build_policy(config, obs_size, num_actions, entity_layout=None, continuous=False):
    """config["policy"]'s class as cls(obs_size, num_actions, **settings), with
    what config["train"] adds around it: frame_stack = k > 1 makes it a
    FrameStack around cls(k * obs_size, ...), obs_norm gives it a running
    mean/std. entity_layout: the env's (VecEnv.entity_layout), for a policy
    that reads it; written into config["policy"], so the checkpoint (and the
    C export) rebuilds the same network. continuous: num_actions counts the
    outputs (2 per action float) and the actor becomes a GaussianHead."""
    name = config["policy"]["name"]
    cls = policy_class(name)
    missing = [m for m in INTERFACE if not hasattr(cls, m)]
    if missing:
        raise ConfigError(f"policy {name!r} lacks {', '.join(missing)}; "
                          f"subclass puffer_learn.training.policies.Policy")
    reads_layout = "entity_layout" in inspect.signature(cls.__init__).parameters
    if reads_layout and entity_layout:
        config["policy"].setdefault("entity_layout", list(entity_layout))
    settings = {k: v for k, v in config["policy"].items() if k != "name"}
    frame_stack = config["train"].get("frame_stack", 1)
    if frame_stack == 1:
        policy = cls(obs_size, num_actions, **settings)
    elif reads_layout:
        raise ConfigError(f"train setting frame_stack={frame_stack} needs a policy that reads one flat "
                          f"observation (mlp or lstm); {cls.__name__} reads the env's entity layout: "
                          f"use frame_stack=1 with it")
    else:
        policy = FrameStack(cls(frame_stack * obs_size, num_actions, **settings), obs_size, frame_stack)
    if continuous:
        with_gaussian_head(policy)
    if config["train"].get("obs_norm"):
        add_obs_norm(policy, obs_size)
    return policy


def policy_for_env(config, vec):
    """The run's policy, sized for vec's observations and its action distribution's
    outputs (the logits of each discrete action, or a mean and a log std per
    continuous action float): what the trainer builds."""
    dist = distribution_for(vec)
    return build_policy(config, vec.obs_size, dist.num_outputs, vec.entity_layout, dist.continuous)
