"""Training settings: the defaults, the env's train.toml, your overrides, and
every check on them, in one place. Bad settings fail here with one line that
names the setting and the fix, before anything is built or allocated.

    config = resolve_config("target", overrides={"learning_rate": 3e-4})
    config["train"]["learning_rate"], config["env"], config["policy"]["name"]
"""
import copy
import difflib
import math
import numbers
import os
import tomllib
from pathlib import Path

import torch

from puffer_learn.cenv.build import locate
from puffer_learn.training.errors import ConfigError
from puffer_learn.training.policy_setup import policy_class, policy_settings

# A run is "solved" when its score reaches this share of the scripted baseline's.
SOLVED_RATIO = 0.9

# Every [train] setting: (its default, what it sets). envs/<env>/train.toml
# overrides the defaults per env; keyword arguments and --train.KEY on the
# command line override both. `puffer-learn train --help` prints this table.
TRAIN_SETTINGS = {
    "total_timesteps": (5_000_000, "agent steps to train for"),
    "time_limit": (0.0, "wall seconds to train for at most (0 = no limit)"),
    "num_envs": (256, "env copies stepped together (agents = num_envs x agents per env)"),
    "env_threads": (1, "C threads stepping the envs"),
    "torch_threads": (0, "torch.set_num_threads (0 = leave torch's default)"),
    "device": ("cpu", "where the policy runs: cpu or cuda"),
    "horizon": (32, "steps per agent in one rollout"),
    "minibatches": (4, "a rollout is split into this many minibatches (by agent)"),
    "update_epochs": (2, "passes over each rollout"),
    "learning_rate": (3e-3, "Adam's step size"),
    "anneal_lr": (True, "decay the learning rate linearly to 0 over the run"),
    "adam_eps": (1e-5, "Adam's epsilon, added to its denominator: bounds steps where gradients are tiny"),
    "gamma": (0.99, "discount per step"),
    "gae_lambda": (0.95, "GAE's bias/variance knob (0 = one-step TD, 1 = Monte Carlo)"),
    "clip_coef": (0.2, "PPO's probability-ratio clip"),
    "value_clip": (0.0, "clip value updates to +-this (0 = no value clipping)"),
    "value_coef": (0.5, "weight of the value loss in the total loss"),
    "entropy_coef": (0.01, "weight of the entropy bonus: higher explores longer"),
    "max_grad_norm": (0.5, "clip the gradient's total norm to this"),
    "obs_norm": (False, "running mean/std observation normalization (saved in the checkpoint)"),
    "frame_stack": (1, "the policy sees the last k observations side by side (1 = only the current)"),
    "checkpoint_interval": (100, "save every this many updates (and at the end)"),
    "eval_episodes": (100, "episodes for the baseline and the final score"),
    "eval_seed": (1_000_000, "fixed seed: baseline and policy see the same episodes"),
}
TRAIN_DEFAULTS = {key: default for key, (default, _) in TRAIN_SETTINGS.items()}
POLICY_DEFAULTS = {"name": "mlp"}  # other [policy] keys go to the policy's constructor

# The range (low, high) each numeric setting must lie in; gamma (0 < gamma <= 1)
# is checked on its own. num_envs has no fixed top: check_batch weighs its memory.
RANGES = {
    **dict.fromkeys(["total_timesteps", "num_envs", "horizon", "minibatches", "update_epochs",
                     "checkpoint_interval"], (1, None)),
    **dict.fromkeys(["time_limit", "torch_threads", "learning_rate", "adam_eps", "clip_coef",
                     "value_clip", "value_coef", "entropy_coef", "max_grad_norm"], (0, None)),
    "env_threads": (1, 64), "frame_stack": (1, 64), "gae_lambda": (0, 1), "eval_episodes": (1, 1_000_000),
    "eval_seed": (0, 2**63 - 1),
}


def config_file(header):
    """train.toml next to the env's header (None if it has none)."""
    path = Path(header).parent / "train.toml"
    return path if path.is_file() else None


def load_env_config(env):
    """The env's train.toml as {"train": ..., "env": ..., "policy": ...}."""
    sections = {"train": {}, "env": {}, "policy": {}}
    path = config_file(locate(env)[1])
    if path is None:
        return sections
    with open(path, "rb") as f:
        try:
            data = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML ({e}); fix the file") from None
    for name, values in data.items():
        if name == "sweep" and isinstance(values, dict):
            continue  # the search space of `puffer-learn sweep`, read by sweep.py
        if name not in sections or not isinstance(values, dict):
            raise ConfigError(f"{path}: unknown section [{name}]; sections are [train], [env], "
                              f"[policy] (and [sweep])")
        sections[name].update(values)
    return sections


def did_you_mean(key, valid):
    """' did you mean 'learning_rate'?' for a misspelled key ('' if none is close)."""
    close = difflib.get_close_matches(str(key), list(valid), n=2)
    return f" did you mean {' or '.join(map(repr, close))}?" if close else ""


def check_train_value(key, value):
    """Unknown keys, wrong types and out-of-range values fail here, naming what is valid."""
    where = "train setting"
    if key not in TRAIN_DEFAULTS:
        hint = did_you_mean(key, TRAIN_DEFAULTS) or f" valid settings are: {', '.join(TRAIN_DEFAULTS)}"
        raise ConfigError(f"unknown {where} {key!r};{hint}")
    default = TRAIN_DEFAULTS[key]
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        value = float(value) if ok else value
        if ok and not math.isfinite(value):
            raise ConfigError(f"{where} {key} must be a finite number, got {value}")
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ConfigError(f"{where} {key} must be {type(default).__name__}, "
                          f"got {value!r}")
    low, high = RANGES.get(key, (None, None))
    if (low is not None and value < low) or (high is not None and value > high):
        text = f">= {low}" if high is None else f"between {low} and {high}"
        raise ConfigError(f"{where} {key} must be {text}, got {value}")
    if key == "gamma" and not 0 < value <= 1:
        raise ConfigError(f"{where} gamma must be in (0, 1] (e.g. 0.99), got {value}")
    if key == "device" and value not in ("cpu", "cuda"):
        raise ConfigError(f"{where} device must be 'cpu' or 'cuda', got {value!r}")
    return value


def check_policy_settings(settings):
    """The one place that checks [policy] settings: names, and sizes as positive ints."""
    cls = policy_class(settings["name"])
    valid = policy_settings(cls)
    if valid is None:
        return
    for key, value in settings.items():
        if key == "name":
            continue
        if key not in valid:
            hint = did_you_mean(key, valid) or f" its settings are: name, {', '.join(valid)}"
            raise ConfigError(f"policy {settings['name']!r} has no setting {key!r};{hint}")
        default = valid[key]
        if isinstance(default, int) and not isinstance(default, bool):  # a size or a count
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ConfigError(f"policy setting {key} must be a whole number >= 1 "
                                  f"(e.g. {key}={default}), got {value!r}")


def resolve_config(env, base=None, train_config=None, env_config=None, policy_config=None,
                   overrides=None):
    """Defaults < env's train.toml (or a resumed checkpoint's config) < arguments.

    overrides: flat keyword arguments; each must be a train or a policy setting."""
    if base is None:
        base = load_env_config(env)
        base["train"] = {**TRAIN_DEFAULTS, **base["train"]}
        base["policy"] = {**POLICY_DEFAULTS, **base["policy"]}
    config = copy.deepcopy(base)
    for section, given in (("train", train_config), ("env", env_config), ("policy", policy_config)):
        if given is not None and not isinstance(given, dict):
            raise ConfigError(f"{section}_config must be a dict of settings, got {type(given).__name__}")
    config["train"].update(train_config or {})
    config["env"].update(env_config or {})
    overrides = dict(overrides or {})
    asked = {**(policy_config or {}), **({"name": overrides.pop("policy")} if "policy" in overrides else {})}
    if asked.get("name", config["policy"]["name"]) != config["policy"]["name"]:
        # Another policy than the file's: the file's settings were for that one.
        config["policy"] = {"name": asked["name"]}
    config["policy"].update(asked)
    valid_policy = policy_settings(policy_class(config["policy"]["name"]))
    for key, value in overrides.items():
        if key in TRAIN_DEFAULTS:
            config["train"][key] = value
        elif valid_policy is None or key in valid_policy:
            config["policy"][key] = value
        else:
            hint = did_you_mean(key, [*TRAIN_DEFAULTS, *(valid_policy or {})]) or (
                f" train settings are: {', '.join(TRAIN_DEFAULTS)}; policy settings go in "
                f"policy_config={{...}}, env settings in env_config={{...}}")
            raise ConfigError(f"unknown setting {key!r};{hint}")
    for key, value in config["train"].items():
        config["train"][key] = check_train_value(key, value)
    check_policy_settings(config["policy"])
    return config


def device_for(cfg):
    """torch.device of the run, failing early when CUDA is asked for but absent."""
    if cfg["device"] == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train setting device is 'cuda', but torch sees no CUDA GPU; "
                          "use --device cpu (device='cpu')")
    return torch.device(cfg["device"])


def check_batch(cfg, vec):
    """minibatches must split the agents evenly, and the env and rollout
    buffers must fit in memory (checked before anything big is allocated).
    vec: any VecEnv of the env (its sizes per env are what count)."""
    agents = cfg["num_envs"] * vec.agents_per_env
    obs_bytes = vec.obs_size * vec.obs_dtype.itemsize
    # env buffers (obs, action, reward, 2 flags) + rollout (float obs, action,
    # logprob, value, reward, ended) per step + C env structs (rough: 1 KiB each)
    need = agents * (obs_bytes + 10) + cfg["horizon"] * agents * (4 * vec.obs_size + 28) \
        + cfg["num_envs"] * 1024
    have = available_memory()
    if have and need > 0.8 * have:
        raise ConfigError(f"train setting num_envs={cfg['num_envs']} with horizon={cfg['horizon']} "
                          f"needs about {need / 2**30:,.1f} GiB for env and rollout buffers, more "
                          f"than the {have / 2**30:.1f} GiB this machine has free; use a smaller "
                          f"num_envs or horizon")
    if agents % cfg["minibatches"]:
        raise ConfigError(f"train setting minibatches ({cfg['minibatches']}) must divide the number "
                          f"of agents ({agents} = num_envs {cfg['num_envs']} x {vec.agents_per_env}); "
                          f"use a divisor such as 1, 2 or 4, or change num_envs")


def available_memory():
    """Bytes of memory free for this process (0 if unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def checkpoint_path(out, env_name, seed):
    """OUT/ENV-SEED/model.pt, with its folder created and checked writable now,
    so a bad `out` fails before training instead of at the first save."""
    folder = Path(out) / f"{env_name}-{seed}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write_test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"out folder {folder} is not writable ({e.strerror or e}); pass "
                          f"out=/--out a folder you can write to") from None
    return folder / "model.pt"
