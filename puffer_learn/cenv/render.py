"""Frames of an episode, and saving them as an animated GIF.

    frames = record_episode(env, policy="scripted")   # env 0, one episode
    save_gif(frames, "episode.gif", fps=30)

Frames come from ``VecEnv.render`` (raylib's software renderer, no display).
"""
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

# Guard for envs whose episodes never end: 10,000 frames of 320x320 are ~3 GB.
MAX_EPISODE_STEPS = 10_000


def save_gif(frames, path, fps=30):
    """Saves a list of (H, W, 3) uint8 RGB frames as a GIF that loops forever.

    path: a file path, or a binary file object such as io.BytesIO.
    Returns the path. GIF timing is in 1/100 s, so fps above 50 plays slower
    than asked in most viewers.
    """
    frames = list(frames)
    if not frames:
        raise ValueError("save_gif got no frames: record some first, e.g. "
                         "frames = record_episode(env)")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps!r}")
    shape = None
    for i, frame in enumerate(frames):
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame {i} must be an (H, W, 3) uint8 RGB array like env.render() "
                             f"returns, got shape {frame.shape} dtype {frame.dtype}")
        if shape is not None and frame.shape != shape:
            raise ValueError(f"frame {i} has shape {frame.shape}, frame 0 has {shape}: "
                             f"all frames of a GIF must have the same size")
        shape = frame.shape
    images = [Image.fromarray(np.ascontiguousarray(f)) for f in frames]
    if not hasattr(path, "write"):  # a file path; a file object (BytesIO) is used as is
        path = Path(path)
    # loop=0: repeat forever; duration is milliseconds per frame.
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:],
                   duration=max(1, round(1000 / fps)), loop=0)
    return path


def _policy_fn(env, policy, seed):
    if policy == "scripted":
        return lambda obs: env.scripted_actions()
    if policy == "random":
        rng = np.random.default_rng(seed)
        return lambda obs: env.random_actions(rng)
    if callable(policy):
        return policy
    raise ValueError(f"policy must be 'scripted', 'random' or a function obs -> actions, "
                     f"got {policy!r}")


def record_episode(env, policy="scripted", index=0, max_steps=None, substeps=1, seed=None):
    """Resets `env` (a VecEnv) and records one episode of env `index`.

    policy: "scripted" (the env's baseline), "random", or a function taking
    the observations of ALL agents (num_agents, obs_size) and returning
    actions shaped like env.actions (one int per agent; for a continuous env,
    num_actions floats per agent). Every env of the vector steps; only env
    `index` is drawn.

    The first frame is the state after reset, then one frame per step
    (`substeps` in-between frames per step with env.render_substeps, for envs
    that move far in one step). The episode ends when all of env `index`'s
    agents are flagged terminal or truncated; that step is not drawn, because
    the env has already reset itself to the next episode. max_steps stops
    earlier (None: until the episode ends, at most MAX_EPISODE_STEPS).
    seed: for policy="random" (default: the env's seed).
    """
    if not 0 <= index < env.num_envs:
        raise IndexError(f"env index {index} does not exist: this vector has {env.num_envs} "
                         f"envs (0..{env.num_envs - 1})")
    if not isinstance(substeps, int) or substeps < 1:
        raise ValueError(f"substeps must be an integer >= 1, got {substeps!r}")
    act = _policy_fn(env, policy, env.seed if seed is None else seed)
    limit = MAX_EPISODE_STEPS if max_steps is None else max_steps
    mine = slice(index * env.agents_per_env, (index + 1) * env.agents_per_env)
    obs = env.reset()
    frames = [env.render(index)]
    for _ in range(limit):
        obs, _, terminals, truncations, _ = env.step(act(obs))
        if (terminals[mine] | truncations[mine]).all():
            return frames
        frames += env.render_substeps(index, substeps) if substeps > 1 else [env.render(index)]
    if max_steps is None:
        warnings.warn(f"record_episode stopped after {limit} steps without the episode ending; "
                      f"pass max_steps to choose the length")
    return frames
