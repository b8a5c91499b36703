"""Batch-1 inference latency: the C network (envs/puffernet.h) vs torch, same
policy, same observation, on the CPU. One agent choosing one action is what a
deployed policy does (a game, a robot, a web demo), and where per-call
overhead dominates.

    python bench/c_inference.py [--checkpoint runs/target-1/model.pt] [--policy mlp|lstm|entity]

The entity policy needs observations with an entity layout: it runs on
asteroids by default (target has none); other policies default to target.

Last stdout line: JSON with c_us_per_step, torch_us_per_step, speedup.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

import puffer_learn
from puffer_learn.export.weights import CPolicy, write_weights
from puffer_learn.training.policies import POLICIES
from puffer_learn.training.checkpoints import load_checkpoint, policy_from_checkpoint
from puffer_learn.training.policy_setup import policy_for_env


def torch_seconds_per_step(policy, obs, iters):
    state = None
    with torch.no_grad():
        for _ in range(200):  # warm up
            _, _, state = policy(obs, state)
        start = time.perf_counter()
        for _ in range(iters):
            _, _, state = policy(obs, state)
    return (time.perf_counter() - start) / iters


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="a trained checkpoint (default: a fresh policy)")
    parser.add_argument("--env", help="default: asteroids for --policy entity, else target")
    parser.add_argument("--policy", default="mlp", choices=sorted(POLICIES))
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--iters", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (C uses one)")
    parser.add_argument("--repeats", type=int, default=3, help="C/torch alternations (medians reported)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if args.checkpoint:
        data = load_checkpoint(args.checkpoint)
        env = puffer_learn.make(data["env"], num_envs=1, **data["config"]["env"])
        policy = policy_from_checkpoint(data)
    else:
        env = puffer_learn.make(args.env or ("asteroids" if args.policy == "entity" else "target"), num_envs=1)
        if args.policy == "entity" and not env.entity_layout:
            parser.error(f"--policy entity needs an env whose observations have an entity layout "
                         f"(Spaces.num_entities > 0), e.g. --env asteroids; {env.name} has none")
        config = {"policy": {"name": args.policy, "hidden_size": args.hidden_size}, "train": {}}
        policy = policy_for_env(config, env)  # built as training builds it
    policy.eval()
    env.reset()
    obs = torch.from_numpy(env.observations[:1].copy())

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.bin"
        write_weights(policy, path)
        c_policy = CPolicy(path, env.obs_size, env.num_actions)
        c_policy.seconds_per_forward(obs.numpy(), 1000)  # warm up
        # Alternate C and torch, then take medians: on a shared machine a
        # burst of load then hits both columns alike.
        c_runs, torch_runs = [], []
        for _ in range(args.repeats):
            c_runs.append(c_policy.seconds_per_forward(obs.numpy(), args.iters))
            torch_runs.append(torch_seconds_per_step(policy, obs, args.iters // 4))
    c_s, torch_s = sorted(c_runs)[len(c_runs) // 2], sorted(torch_runs)[len(torch_runs) // 2]
    result = {"env": env.name, "policy": type(policy).__name__,
              "parameters": sum(p.numel() for p in policy.parameters()), "torch_threads": args.threads,
              "c_us_per_step": round(c_s * 1e6, 3), "torch_us_per_step": round(torch_s * 1e6, 3),
              "speedup": round(torch_s / c_s, 1)}
    print(f"{result['policy']} ({result['parameters']} parameters), batch 1: C {result['c_us_per_step']} us, "
          f"torch {result['torch_us_per_step']} us per step -> {result['speedup']}x", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
