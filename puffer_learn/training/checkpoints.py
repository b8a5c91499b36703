"""Checkpoints: what a run saves, and loading it back with clear errors.

A checkpoint is one torch.save file, OUT/ENV-SEED/model.pt, holding the
weights, the optimizer state, the full config and the metrics so far:
everything needed to evaluate the policy, export it to C or resume the run.
Its num_actions is the policy's output count per agent: the env's number of
discrete actions, or 2 x its action floats for a continuous env (a mean and a
log std each; see distributions.py).
"""
from pathlib import Path

import torch

from puffer_learn.training.errors import nonfinite
from puffer_learn.training.policy_setup import build_policy, policy_name

CHECKPOINT_FORMAT = "puffer_learn checkpoint"
CHECKPOINT_KEYS = ["format", "version", "env", "seed", "config", "policy_class", "obs_size",
                   "num_actions", "model", "optimizer", "metrics", "update", "global_step"]


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, incomplete, or its weights do not fit its config."""


def save_checkpoint(path, env, seed, config, policy, optimizer, metrics, update, global_step,
                    obs_size, num_actions, continuous=False):
    """Writes a temporary file first and then renames it, so a crash mid-save
    never leaves a broken checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": CHECKPOINT_FORMAT, "version": 1, "env": str(env), "seed": seed,
            "config": config, "policy_class": policy_name(policy), "obs_size": obs_size,
            "num_actions": num_actions, "continuous": continuous, "model": policy.state_dict(),
            "optimizer": optimizer.state_dict(), "metrics": metrics, "update": update,
            "global_step": global_step}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(data, tmp)
    tmp.replace(path)
    return path


def load_checkpoint(path):
    """Loads and checks a checkpoint dict; errors say what is wrong with the file."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"checkpoint {path} is a directory; pass the model.pt file inside it, "
                                f"e.g. {path / 'model.pt'}")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist (train writes OUT/ENV-SEED/model.pt)")
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":  # torch.save writes a zip archive
            raise CheckpointError(f"{path} is not a readable puffer_learn checkpoint (not a file "
                                  f"written by torch.save; expected OUT/ENV-SEED/model.pt from train)")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path} is not a readable puffer_learn checkpoint "
                              f"(torch.load failed: {str(e).splitlines()[0]})") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is a torch file but not a puffer_learn checkpoint "
                              f"(no format={CHECKPOINT_FORMAT!r} entry)")
    missing = [k for k in CHECKPOINT_KEYS if k not in data]
    if missing:
        raise CheckpointError(f"checkpoint {path} is incomplete: missing {', '.join(missing)}")
    return data


def load_weights(policy, weights, where="checkpoint"):
    """Loads a state dict into policy, refusing NaN/inf weights (naming the
    tensor) and weights that do not fit the policy built from the config."""
    if not isinstance(weights, dict):
        raise CheckpointError(f"{where}: its weights are not a state dict")
    bad = nonfinite((k, v) for k, v in weights.items() if torch.is_tensor(v))
    if bad:
        raise CheckpointError(f"{where}: weight tensor {bad!r} holds NaN/inf values; use an "
                              f"earlier checkpoint or retrain")
    expected = policy.state_dict()
    for key, tensor in expected.items():
        got = weights.get(key)
        if got is None or not torch.is_tensor(got) or got.shape != tensor.shape:
            found = "missing" if got is None else f"shaped {tuple(getattr(got, 'shape', ()))}"
            raise CheckpointError(f"{where}: its weights do not fit the policy its config describes: "
                                  f"tensor {key!r} is {found} in the file, but "
                                  f"{type(policy).__name__} needs {tuple(tensor.shape)}; the file was "
                                  f"edited or mixes two runs, use the checkpoint train wrote")
    extra = sorted(set(weights) - set(expected))
    if extra:
        raise CheckpointError(f"{where}: weight tensor {extra[0]!r} is not part of the policy its "
                              f"config describes ({type(policy).__name__}); the file was edited or "
                              f"mixes two runs")
    policy.load_state_dict(weights)
    return policy


def policy_from_checkpoint(data, device="cpu", where=None):
    """The checkpoint's policy, rebuilt from its config, with its weights.
    where: how errors name the checkpoint (default: by its env)."""
    where = where or f"checkpoint of {data['env']!r}"
    # The class saved by name; the rest of [policy] and [train] rebuild it as trained.
    config = {"policy": {**data["config"]["policy"], "name": data["policy_class"]},
              "train": data["config"]["train"]}
    try:
        # obs_norm's running mean/std statistics come back with the weights
        policy = build_policy(config, data["obs_size"], data["num_actions"],
                              continuous=data.get("continuous", False))  # older files: discrete
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{where}: its config cannot rebuild policy {data['policy_class']}: "
                              f"{e}") from None
    return load_weights(policy, data["model"], where).to(device)
