"""Gymnasium view of any puffer_learn env, for Gymnasium-based tools
(Stable-Baselines3 and the like).

    from puffer_learn.cenv.gym_adapter import GymEnv
    env = GymEnv("target", seed=0)                 # or gymnasium.make("puffer_learn/target-v0")
    obs, info = env.reset(seed=1)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())

What the view is (it passes gymnasium.utils.env_checker.check_env):

- ONE agent of ONE env. The C vector runs with num_envs=1 and you control
  agent 0. In a multi-agent env (target has 8 puffers) every other agent
  follows the env's scripted baseline (its C `env_scripted`): the others are
  the baseline, not copies of your policy, so scores are not comparable with
  training all agents at once (use puffer_learn's own trainer for that).
- observation_space: Box(obs_size,) with the bounds the env declares in
  env_spaces (target: [-1, 1]); -inf..inf for a float env that declares none.
  action_space: Discrete(num_actions); for a continuous env (target_continuous)
  Box(action_low, action_high, (num_actions,), float32). A continuous action
  outside the box is clipped into it by the env (as Box-based tools expect);
  NaN or inf is refused.
- reset(seed=s) replays the same episode for the same s; reset() draws a
  fresh seed from the generator that the last seeded reset (or the
  constructor's `seed`) started.
- End of an episode: the C env resets itself inside the same step, so the
  observation returned with terminated/truncated = True is already the FIRST
  observation of the next episode, not the last one of the finished episode.
  Tools that bootstrap a value from that final observation (e.g. on
  truncation) see the next episode's start instead; with long episodes
  (target: 256 ticks) the effect is small, but know it is there. After
  terminated or truncated, call reset(): step() refuses to go on.
- render_mode="rgb_array": render() returns the env's (H, W, 3) uint8 frame.
"""
import gymnasium
import numpy as np
from gymnasium import spaces

from puffer_learn.cenv.build import packaged_envs
from puffer_learn.cenv.vector import make


class GymEnv(gymnasium.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, env="target", seed=0, render_mode=None, **config):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        self.vec = make(env, num_envs=1, seed=seed, **config)
        self.vec.reset()
        v = self.vec
        if v.obs_bounds is not None:
            low, high = v.obs_bounds
        elif np.issubdtype(v.obs_dtype, np.integer):
            low, high = np.iinfo(v.obs_dtype).min, np.iinfo(v.obs_dtype).max
        else:
            low, high = -np.inf, np.inf  # the env does not say: claim nothing false
        self.observation_space = spaces.Box(low, high, (v.obs_size,), v.obs_dtype)
        if v.continuous:
            self.action_space = spaces.Box(v.action_low, v.action_high, (v.num_actions,), np.float32)
        else:
            self.action_space = spaces.Discrete(v.num_actions)
        # Until the first seeded reset, reset() draws episode seeds from `seed`.
        self._np_random, _ = gymnasium.utils.seeding.np_random(seed)
        self._needs_reset = True

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)  # reseeds self.np_random when seed is given
        episode_seed = int(self.np_random.integers(0, 2**63 - 1))
        obs = self.vec.reset(seed=episode_seed)
        self._needs_reset = False
        return obs[0].copy(), {}  # copy: the buffer is overwritten by the next step

    def step(self, action):
        if self._needs_reset:
            raise RuntimeError("call reset() before step(): the episode is over (or never "
                               "started); the C env already began the next one")
        actions = self.vec.scripted_actions()  # the other agents play the baseline
        actions[0] = self._checked(action)
        obs, rewards, terminals, truncations, _ = self.vec.step(actions)
        terminated, truncated = bool(terminals[0]), bool(truncations[0])
        self._needs_reset = terminated or truncated
        return obs[0].copy(), float(rewards[0]), terminated, truncated, {}

    def _checked(self, action):
        if not self.vec.continuous:
            if not self.action_space.contains(action):
                raise ValueError(f"action must be an int in 0..{self.action_space.n - 1}, got {action!r}")
            return int(action)
        shape = self.action_space.shape
        try:
            floats = np.asarray(action, np.float32)
        except (TypeError, ValueError):
            floats = None
        if floats is None or floats.shape != shape or not np.isfinite(floats).all():
            raise ValueError(f"action must be {shape[0]} finite floats (shape {shape}), got {action!r}")
        return floats  # the env clips it to [action_low, action_high]

    def render(self):
        if self.render_mode == "rgb_array":
            return self.vec.render(0)
        return None

    def close(self):
        self.vec.close()  # safe to call twice


# gymnasium.make("puffer_learn/target-v0", num_stars=2, ...) for every packaged env.
for _name in packaged_envs():
    _id = f"puffer_learn/{_name}-v0"
    if _id not in gymnasium.registry:
        gymnasium.register(_id, entry_point=GymEnv, kwargs={"env": _name})
