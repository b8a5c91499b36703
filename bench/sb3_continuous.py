"""Stable-Baselines3's PPO on a continuous-action env, through the Gymnasium adapter.

    pip install 'puffer_learn[bench]'
    python bench/sb3_continuous.py --steps 4096

A check that a Gymnasium tool sees target_continuous as it should (a Box
action space, episodes that end and reset) and can train on it: SB3's PPO
runs `--steps` steps of agent 0 (the other puffers play the scripted
baseline), then its deterministic policy (the Gaussian's mean) plays one
episode. The last stdout line is JSON: steps/s, and that episode's reward
next to the same episode played by the scripted baseline and by random
actions.
"""
import argparse
import json
import time

from puffer_learn.cenv.gym_adapter import GymEnv


def play(env, choose, seed):
    """Agent 0's reward over one episode, `choose(obs)` picking its actions."""
    obs, _ = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(choose(obs))
        total += reward
        done = terminated or truncated
    return total


def main():
    from stable_baselines3 import PPO

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="target_continuous")
    parser.add_argument("--steps", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    env = GymEnv(args.env, seed=args.seed)
    model = PPO("MlpPolicy", env, n_steps=1024, batch_size=256, seed=args.seed, verbose=0)
    start = time.perf_counter()
    model.learn(total_timesteps=args.steps)
    seconds = time.perf_counter() - start
    env.action_space.seed(args.seed)  # the random episode's draws
    result = {"env": args.env, "action_space": str(env.action_space), "steps": model.num_timesteps,
              "steps_per_s": round(model.num_timesteps / seconds),
              "sb3_episode_reward": play(env, lambda o: model.predict(o, deterministic=True)[0], 1),
              "scripted_episode_reward": play(env, lambda o: env.vec.scripted_actions()[0], 1),
              "random_episode_reward": play(env, lambda o: env.action_space.sample(), 1)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
