"""Evaluation: the env's scripted baseline and a trained policy, scored on the
same fixed seeds, so their ratio says how close the policy is to the script.

    evaluate("runs/target-1/model.pt")   # {"score", "baseline_score", "ratio", ...}
"""
from pathlib import Path

import numpy as np
import torch

from puffer_learn.cenv.build import Built, build
from puffer_learn.training.checkpoints import load_checkpoint, policy_from_checkpoint
from puffer_learn.training.errors import nonfinite
from puffer_learn.training.config import SOLVED_RATIO, TRAIN_DEFAULTS
from puffer_learn.training.distributions import Categorical, distribution_for
from puffer_learn.cenv.vector import make

# Steps (per env) with not one finished episode after which run_episodes gives
# up: many episode lengths of every packaged env (target: 256 ticks).
NO_EPISODE_END_STEPS = 5_000


class EpisodesNeverEnd(RuntimeError):
    """No episode ended in many episode lengths' worth of steps: env_step never
    returns 1, or the env's Log `n` is never incremented."""


def run_episodes(env, choose_actions, episodes, on_step=None, max_steps=1_000_000,
                 give_up_steps=NO_EPISODE_END_STEPS):
    """Steps `env` with `choose_actions()` (writes env.actions) until at least
    `episodes` episodes ended; returns their mean score and episode length.
    Use one env per episode wanted: with equal-length episodes (target) every
    env then contributes exactly one. With unequal lengths, the first episodes
    to end are the short ones, a bias to keep in mind.
    Raises EpisodesNeverEnd if none ended in the first `give_up_steps` steps."""
    env.reset()
    score_sum = length_sum = 0.0
    count = 0
    for step in range(max_steps):
        if count == 0 and step == give_up_steps:
            raise EpisodesNeverEnd(
                f"{env.name}: no episode ended in {give_up_steps} steps of {env.num_envs} envs; "
                f"does env_step ever return 1 (episode over), and does it count the episode "
                f"in the Log (log->n += 1)?")
        choose_actions()
        env.step()
        if on_step is not None:
            on_step()
        log = env.log()
        if log:
            score_sum += log["score"] * log["episodes"]
            length_sum += log["episode_length"] * log["episodes"]
            count += log["episodes"]
            if count >= episodes:
                return score_sum / count, length_sum / count
    raise EpisodesNeverEnd(f"{env.name}: only {count} of {episodes} episodes ended in "
                           f"{max_steps} steps")


_baseline_cache = {}


def baseline_score(env, env_config=None, episodes=100, seed=TRAIN_DEFAULTS["eval_seed"]):
    """The scripted baseline's mean score on the fixed eval seeds, cached per
    (env, settings, episodes, seed) for the life of this Python process.
    env: a name, path or source, or what build() returned."""
    env_config = dict(env_config or {})
    built = env if isinstance(env, Built) else build(env, config=env_config)
    key = (str(built.header), tuple(sorted(env_config.items())), episodes, seed)
    if key not in _baseline_cache:
        vec = make(built, num_envs=episodes, seed=seed, **env_config)

        def scripted():
            vec.actions[:] = vec.scripted_actions()

        try:
            _baseline_cache[key] = run_episodes(vec, scripted, episodes)[0]
        finally:
            vec.close()
    return _baseline_cache[key]


def policy_fn(policy, deterministic=None, seed=0, device="cpu", dist=None):
    """A function obs (numpy [agents, obs_size]) -> actions for the env's buffer
    (int32 [agents], or float32 [agents, floats] clipped to the bounds), for
    viewers and recorders. policy: a policy module or a checkpoint path; dist:
    the env's distribution_for(vec) (default: discrete, the head's size).
    Recurrent memory is carried from call to call (one episode at a time)."""
    if isinstance(policy, (str, Path)):
        policy = policy_from_checkpoint(load_checkpoint(policy), device, f"checkpoint {policy}")
    policy.eval()
    generator = torch.Generator(device=device).manual_seed(seed)
    state = None

    def act(obs):
        nonlocal state
        with torch.no_grad():
            logits, _, state = policy(torch.as_tensor(obs, dtype=torch.float32, device=device), state)
        chosen = dist or Categorical(logits.shape[-1])
        best = chosen.continuous if deterministic is None else deterministic
        actions = chosen.to_env(chosen.sample(logits, best, generator)[0]).cpu().numpy()
        return actions.astype(np.float32 if chosen.continuous else np.int32)
    return act


def evaluate_policy(policy, env, env_config=None, episodes=100, seed=TRAIN_DEFAULTS["eval_seed"],
                    deterministic=None, device="cpu", frames=None):
    """The policy's mean score on the fixed eval seeds. deterministic=None (the
    default) samples discrete actions and plays the mean of continuous ones (what
    the exported C program does); True takes the argmax or the mean, False samples.
    With a `frames` list, env 0's frames are appended to it until its first
    episode ends (for a gif). env: a name, path or source, or a Built."""
    bad = nonfinite(policy.named_parameters())
    if bad:
        raise ValueError(f"policy parameter {bad!r} holds NaN/inf values; it cannot be evaluated")
    vec = make(env, num_envs=episodes, seed=seed, **dict(env_config or {}))
    dist = distribution_for(vec)
    if deterministic is None:
        deterministic = dist.continuous
    obs = torch.from_numpy(vec.observations)
    actions = torch.from_numpy(vec.actions)
    terminals, truncations = vec.terminals, vec.truncations
    env0 = slice(0, vec.agents_per_env)
    state = None
    recording = frames is not None
    # Sampling has its own seeded generator: the same checkpoint always gets
    # the same score, whatever ran before in this process.
    generator = torch.Generator(device=device).manual_seed(seed)

    def act():
        nonlocal state
        with torch.no_grad():
            logits, _, state = policy(obs.to(device, torch.float32), state)
            actions.copy_(dist.to_env(dist.sample(logits, deterministic, generator)[0]))

    def after_step():
        nonlocal state, recording
        state = policy.mask_state(state, torch.from_numpy(terminals | truncations))  # forget at episode ends
        if recording:
            if (terminals[env0] | truncations[env0]).any():
                recording = False  # env 0's first episode is over (obs are already the next one's)
            else:
                frames.append(vec.render(0))

    if recording:
        vec.reset()
        frames.append(vec.render(0))
    policy.eval()
    try:
        score, length = run_episodes(vec, act, episodes, on_step=after_step)
    finally:
        policy.train()
        vec.close()
    return score, length


def evaluate(checkpoint, episodes=None, deterministic=None, gif=None, fps=30, device="cpu"):
    """Scores a saved policy against the scripted baseline on the fixed eval seeds.
    Returns {"env", "score", "baseline_score", "ratio", "episodes", ...}."""
    data = load_checkpoint(checkpoint)
    policy = policy_from_checkpoint(data, device, f"checkpoint {checkpoint}")
    cfg = data["config"]
    episodes = episodes or cfg["train"]["eval_episodes"]
    seed = cfg["train"]["eval_seed"]
    built = build(data["env"], config=cfg["env"])
    frames = [] if gif else None
    score, length = evaluate_policy(policy, built, cfg["env"], episodes, seed, deterministic,
                                    device, frames)
    base = baseline_score(built, cfg["env"], episodes, seed)
    result = {"env": data["env"], "checkpoint": str(checkpoint), "episodes": episodes,
              "deterministic": deterministic, "score": score, "baseline_score": base,
              "ratio": score / base if base else None, "episode_length": length}
    result["solved"] = result["ratio"] is not None and result["ratio"] >= SOLVED_RATIO
    if gif:
        from puffer_learn.cenv.render import save_gif
        save_gif(frames, gif, fps=fps)
        result["gif"] = str(gif)
    return result
