"""Our trainer vs Stable-Baselines3's PPO on the same env for the same wall time.

    pip install 'puffer_learn[bench]'       # stable-baselines3: bench only, not a dependency
    python bench/trainer_vs_sb3.py --seconds 30

SB3 runs with its default PPO hyperparameters on puffer_learn.cenv.gym_adapter.GymEnv
(one puffer of one env; the other puffers follow the scripted baseline). Ours
runs `puffer_learn.training.trainer` with the env's train.toml. Both are then scored the
same way: their policy drives EVERY agent of the env on the fixed eval seeds,
as a ratio to the scripted baseline. Prints both agent-steps/s, both ratios and
the steps/s ratio; the last stdout line is JSON.
"""
import argparse
import json
import sys
import time

import torch
from torch import nn

import puffer_learn
from puffer_learn.training.evaluation import baseline_score, evaluate_policy
from puffer_learn.training.config import resolve_config


class SB3Logits(nn.Module):
    """SB3's policy seen through our policy interface: obs -> (logits, value, None)."""

    def __init__(self, sb3_policy):
        super().__init__()
        self.sb3_policy = sb3_policy

    def forward(self, obs, state=None):
        distribution = self.sb3_policy.get_distribution(obs)
        return distribution.distribution.logits, self.sb3_policy.predict_values(obs).squeeze(-1), None


def run_sb3(env, seconds, seed):
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

    from puffer_learn.cenv.gym_adapter import GymEnv

    class WallClock(BaseCallback):
        def _on_training_start(self):
            self.start = time.perf_counter()

        def _on_step(self):
            return time.perf_counter() - self.start < seconds

    model = PPO("MlpPolicy", GymEnv(env, seed=seed), seed=seed, device="cpu", verbose=0)
    clock = WallClock()
    model.learn(total_timesteps=10**9, callback=clock)
    elapsed = time.perf_counter() - clock.start
    return model, model.num_timesteps, elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="target")
    parser.add_argument("--seconds", type=float, default=30.0, help="training wall time for each")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(resolve_config(args.env)["train"]["torch_threads"] or torch.get_num_threads())

    ours = puffer_learn.train(args.env, seed=args.seed, out="runs/bench", time_limit=args.seconds,
                              total_timesteps=10**12)
    print(f"puffer_learn: {ours['agent_steps_per_s']:,.0f} agent-steps/s, ratio {ours['ratio']:.3f}",
          file=sys.stderr)

    model, sb3_steps, sb3_seconds = run_sb3(args.env, args.seconds, args.seed)
    cfg = resolve_config(args.env)
    episodes, eval_seed = cfg["train"]["eval_episodes"], cfg["train"]["eval_seed"]
    sb3_score, _ = evaluate_policy(SB3Logits(model.policy), args.env, cfg["env"], episodes, eval_seed)
    baseline = baseline_score(args.env, cfg["env"], episodes, eval_seed)
    sb3_sps = sb3_steps / sb3_seconds
    print(f"stable-baselines3: {sb3_sps:,.0f} agent-steps/s, ratio {sb3_score / baseline:.3f}",
          file=sys.stderr)

    print(json.dumps({
        "env": args.env, "seconds": args.seconds, "seed": args.seed,
        "ours_agent_steps_per_s": round(ours["agent_steps_per_s"]),
        "ours_agent_steps": ours["global_step"], "ours_ratio": ours["ratio"],
        "sb3_agent_steps_per_s": round(sb3_sps), "sb3_agent_steps": sb3_steps,
        "sb3_ratio": sb3_score / baseline, "baseline_score": baseline,
        "sps_ratio": ours["agent_steps_per_s"] / sb3_sps}))


if __name__ == "__main__":
    main()
