"""Training speed and time to solve target on a GPU, with the same trainer on
the same machine's CPU as the reference (run in this same command).

    python bench/gpu_train.py                       # needs a CUDA GPU
    python bench/gpu_train.py --arms cpu            # the CPU reference alone

Each arm trains target with train.toml's settings except the ones listed
(bigger batches for the GPU: more envs, more minibatches). Prints per arm:
agent-steps/s, the first elapsed time at which the training episodes' mean
score reached 0.9 of the scripted baseline, the final evaluated ratio, and
the wall time; the last stdout line is JSON with every arm.
"""
import argparse
import json
import sys

import torch

import puffer_learn

ARMS = {
    # name: (device, overrides)
    "cpu": ("cpu", {}),
    "gpu-1k-envs": ("cuda", {"num_envs": 1024, "minibatches": 4, "learning_rate": 3e-3}),
    "gpu-4k-envs": ("cuda", {"num_envs": 4096, "minibatches": 8, "learning_rate": 3e-3}),
    "gpu-4k-envs-h64": ("cuda", {"num_envs": 4096, "minibatches": 8, "horizon": 64,
                                 "learning_rate": 3e-3}),
}


def first_solved_s(metrics):
    return next((m["elapsed_s"] for m in metrics if m["ratio"] is not None and m["ratio"] >= 0.9), None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", default=",".join(ARMS), help="comma-separated: " + ", ".join(ARMS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--total-timesteps", type=int, default=60_000_000)
    args = parser.parse_args()
    rows = {}
    for arm in args.arms.split(","):
        device, overrides = ARMS[arm]
        if device == "cuda" and not torch.cuda.is_available():
            print(f"{arm}: skipped, torch sees no CUDA GPU", file=sys.stderr)
            continue
        total = args.total_timesteps if device == "cuda" else 8_000_000
        run = puffer_learn.train("target", seed=args.seed, out="runs/gpu-bench", device=device,
                                 time_limit=args.time_limit, total_timesteps=total, **overrides)
        rows[arm] = {"device": device, **overrides, "agent_steps_per_s": round(run["agent_steps_per_s"]),
                     "global_step": run["global_step"], "train_s": round(run["train_s"], 1),
                     "first_training_ratio_0.9_s": first_solved_s(run["metrics"]),
                     "final_ratio": run["ratio"], "wall_s": round(run["wall_s"], 1)}
        print(arm, rows[arm], file=sys.stderr, flush=True)
    if "cpu" in rows:
        for row in rows.values():
            row["sps_over_cpu"] = round(row["agent_steps_per_s"] / rows["cpu"]["agent_steps_per_s"], 2)
    print(json.dumps({"gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                      "torch": torch.__version__, "arms": rows}))


if __name__ == "__main__":
    main()
