"""VecEnv: many copies of one C env, stepped by one call.

Python owns five numpy buffers (observations, actions, rewards, terminals,
truncations). C gets pointers into them once, at init (cffi ``from_buffer``:
no copies), and writes into them in place on every step. ``step`` returns the
same arrays every time: they are live views, copy what you want to keep.
Actions are int32, one per agent, for a discrete env; float32, shaped
(num_agents, num_actions), for a continuous one (``env.continuous``).

Where the C code runs is VecEnv's backend, chosen once when it is made:
InProcessBackend (below) calls it right here, through the cffi lib; a
student's env (a path or source string) gets isolation.IsolatedBackend,
which runs it in a worker process over shared memory: the same arrays, and
a crash in its C code raises EnvCrashError instead of killing the kernel.
"""
import functools
import math
import numbers
import os

import numpy as np

from puffer_learn.cenv.build import Built, ContractError, EnvCrashError, build
from puffer_learn.cenv.isolation import IsolatedBackend


def make(env, num_envs=1, seed=0, threads=1, name=None, isolate=None, sanitize=False, **config):
    """Builds (or loads from the cache) an env and returns a VecEnv.

    env: a packaged env name ("target"), the path of a .h file, C source as a
    string, or what build() returned (build once, make many VecEnvs from it).
    isolate: run the env's C code in a worker process. Default: yes for your
    own envs (a path or source), no for packaged ones.
    sanitize: run the worker on the env's AddressSanitizer build, so a bad
    memory access at any step is reported with its line (several times slower).
    Extra keyword arguments set fields of the env's Config struct.
    """
    built = env if isinstance(env, Built) else build(env, name=name, config=config)
    if isolate is None:
        isolate = not built.packaged or sanitize
    if sanitize and not isolate:
        raise ValueError("sanitize=True runs the env in a worker process: drop isolate=False")
    return VecEnv(built.module, built.name, num_envs=num_envs, seed=seed, threads=threads,
                  isolate=isolate, header=built.header, sanitize=sanitize, **config)


def _check_int(value, what, low, high=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be an integer, got {value!r} ({type(value).__name__})")
    if value < low or (high is not None and value > high):
        limit = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ValueError(f"{what} must be {limit}, got {value}")
    return int(value)


class InProcessBackend:
    """VecEnv's backend that calls the env's C code in this process, through
    its cffi lib: the fastest way, for packaged envs. isolation.IsolatedBackend
    has the same methods and makes the same calls in a worker process."""

    def __init__(self, module):
        self.ffi, self.lib = module.ffi, module.lib
        self.vec = None
        self.step = None  # start() makes it: pl_vec_step bound to the new vec
        self.closed = False

    # The env's own functions that make its Config and Spaces.
    def defaults(self, cfg):
        self.lib.pl_defaults(cfg)

    def check(self, cfg):
        """None if env_check accepts cfg, else its message."""
        err = self.ffi.new("char[256]")
        return self.ffi.string(err).decode() if self.lib.pl_check(cfg, err, 256) else None

    def spaces(self, cfg, out):
        self.lib.pl_spaces(cfg, out)

    def start(self, cfg, num_envs, seed, threads, shapes, frame_shape):
        """Makes the buffers, {field: zeroed array} for the (field, shape,
        dtype) in shapes, and the envs on them. Returns (buffers, "") or
        (buffers, C's message) if the envs could not be made. frame_shape
        is for backends that need a frame buffer of their own."""
        self.buffers = {field: np.zeros(shape, dtype) for field, shape, dtype in shapes}
        b, ptr, err = self.buffers, self.ffi.from_buffer, self.ffi.new("char[512]")
        vec = self.lib.pl_vec_init(
            cfg, num_envs, ptr(b["observations"]), ptr(b["actions"]), ptr("float*", b["rewards"]),
            ptr("uint8_t*", b["_terminals"]), ptr("uint8_t*", b["_truncations"]), seed, threads, err, 512)
        if vec == self.ffi.NULL:
            return self.buffers, self.ffi.string(err).decode()
        self.vec = vec
        # The step is the C call itself, bound to this vec: no Python frame per step.
        self.step = functools.partial(self.lib.pl_vec_step, vec)
        return self.buffers, ""

    def reset(self, seed):
        self.lib.pl_vec_reset(self.vec, seed)

    def read_log(self, out):
        self.lib.pl_vec_log(self.vec, out)

    def unflagged_ends(self):
        return self.lib.pl_vec_unflagged_ends(self.vec)

    def scripted(self):
        actions = np.empty_like(self.buffers["actions"])
        self.lib.pl_vec_scripted(self.vec, self.ffi.from_buffer(actions))
        return actions

    def render(self, index, t, frame):
        return self.lib.pl_vec_render(self.vec, index, self.ffi.from_buffer("uint8_t*", frame), t)

    def close(self):
        self.closed = True
        vec, self.vec = self.vec, None
        if vec is not None:
            self.lib.pl_vec_close(vec)


def _memory_limit():
    """Bytes of physical memory (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


class VecEnv:
    """num_envs copies of one C env, stepped together (make() builds one).

    Sizes: num_envs, agents_per_env, num_agents (= both), obs_size,
    num_actions. Actions: `continuous` False means one int per agent in
    0..num_actions-1 (`action_low` and `action_high` are None); True means
    num_actions floats per agent, each clipped to [action_low, action_high]
    by the binding. Buffers (live numpy views, written in place): observations
    (num_agents, obs_size), actions (num_agents,) int32 or (num_agents,
    num_actions) float32, rewards, terminals, truncations (num_agents,)."""

    def __init__(self, module, name, num_envs=1, seed=0, threads=1, isolate=False, header=None,
                 sanitize=False, **config):
        self.ffi, self.lib, self.name = module.ffi, module.lib, name
        self.num_envs = _check_int(num_envs, "num_envs", 1)
        self.threads = _check_int(threads, "threads", 1, 64)
        self.seed = _check_int(seed, "seed", 0, 2**63 - 1)
        # Every call that runs the env's C code goes through this backend.
        self._backend = (IsolatedBackend(module, header or f"{name}.h", sanitize=sanitize, name=name)
                         if isolate else InProcessBackend(module))
        try:
            self._setup(config)
        except BaseException:
            self.close(quiet=True)
            raise

    def _setup(self, config):
        name = self.name
        self._cfg = self._make_config(config)
        spaces = self.ffi.new("Spaces*")
        self._backend.spaces(self._cfg, spaces)
        # [CONTRACT] sizes >= 1 and sane, checked before any buffer exists.
        err = self.ffi.new("char[256]")
        if self.lib.pl_check_spaces(spaces, err, 256):
            raise ContractError(f"{name}: {self.ffi.string(err).decode()}")
        self.agents_per_env, self.obs_size = spaces.num_agents, spaces.obs_size
        self.num_actions = spaces.num_actions
        # Discrete: one int per agent in 0..num_actions-1; action_low/high are None.
        # Continuous: num_actions floats per agent, clipped by C to [action_low, action_high].
        self.continuous = bool(self.lib.pl_actions_are_float())
        self.action_low = float(spaces.action_low) if self.continuous else None
        self.action_high = float(spaces.action_high) if self.continuous else None
        self.render_size = (spaces.render_height, spaces.render_width)
        # Every observation lies in [low, high], or None when the env does not say.
        self.obs_bounds = None
        if spaces.obs_low < spaces.obs_high:
            self.obs_bounds = (float(spaces.obs_low), float(spaces.obs_high))
        # (self features, number of objects, features per object) or None
        self.entity_layout = None
        if spaces.num_entities > 0 and spaces.entity_size > 0:
            self_size = spaces.obs_size - spaces.num_entities * spaces.entity_size
            if self_size < 0:
                raise ContractError(f"{name}: env_spaces declares {spaces.num_entities} entities of "
                                    f"{spaces.entity_size} features, more than obs_size {spaces.obs_size}")
            self.entity_layout = (self_size, spaces.num_entities, spaces.entity_size)
        self.num_agents = self.num_envs * self.agents_per_env
        if self.lib.pl_obs_is_float():
            self.obs_dtype = np.dtype({4: np.float32, 8: np.float64}[self.lib.pl_obs_itemsize()])
        else:
            self.obs_dtype = np.dtype({1: np.uint8, 2: np.int16, 4: np.int32}[self.lib.pl_obs_itemsize()])

        # The shared buffers. C holds pointers into them until close().
        # [DESIGN] Their size (and the Env structs') is checked against the
        # machine's memory first: a clear error instead of a half-built vector.
        action_shape = (self.num_agents, self.num_actions) if self.continuous else (self.num_agents,)
        action_dtype = np.float32 if self.continuous else np.int32
        per_agent = self.obs_size * self.obs_dtype.itemsize + 4 * math.prod(action_shape[1:]) + 4 + 1 + 1
        need = self.num_agents * per_agent + self.num_envs * self.lib.pl_env_bytes()
        limit = _memory_limit()
        if limit and need > limit:
            raise MemoryError(f"{name}: {self.num_envs} envs need {need / 1e9:.3g} GB (buffers of "
                              f"{self.num_agents} agents x {per_agent} bytes, plus {self.num_envs} "
                              f"Env structs of {self.lib.pl_env_bytes()} bytes), more than this "
                              f"machine's {limit / 1e9:.3g} GB: use fewer envs or a smaller "
                              f"struct Env (allocate big arrays in env_init)")
        shapes = [("observations", (self.num_agents, self.obs_size), self.obs_dtype),
                  ("actions", action_shape, action_dtype), ("rewards", (self.num_agents,), np.float32),
                  ("_terminals", (self.num_agents,), np.uint8),
                  ("_truncations", (self.num_agents,), np.uint8)]
        buffers, message = self._backend.start(self._cfg, self.num_envs, self.seed, self.threads,
                                               shapes, (*self.render_size, 3))
        for field, array in buffers.items():
            setattr(self, field, array)
        self.terminals = self._terminals.view(np.bool_)    # C writes 0/1 only
        self.truncations = self._truncations.view(np.bool_)
        if message:
            error = MemoryError if "out of memory" in message else ContractError
            raise error(f"{name}: {message}")
        self._log = self.ffi.new("Log*")
        self._was_reset = False
        self._log_fields = [f for f, _ in self.ffi.typeof("Log").fields if f != "n"]

    def _make_config(self, overrides):
        cfg = self.ffi.new("Config*")
        self._backend.defaults(cfg)
        fields = dict(self.ffi.typeof("Config").fields)
        for key, value in overrides.items():
            if key not in fields:
                raise ValueError(f"{self.name} has no setting {key!r}; its settings are: "
                                 f"{', '.join(fields)}")
            if fields[key].type.cname == "int" and isinstance(value, str):
                value = self._named_value(key, value)
            if fields[key].type.cname == "int":
                if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                    raise TypeError(f"{self.name} setting {key} must be an integer, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{self.name} setting {key} must be a number, got {value!r}")
            try:
                setattr(cfg, key, value)
            except OverflowError:  # C int is 32 bits; C float tops out near 3.4e38
                raise ValueError(f"{self.name} setting {key}={value!r} is too large for a C "
                                 f"{fields[key].type.cname}") from None
            if not math.isfinite(getattr(cfg, key)):  # 1e300 silently becomes inf in a C float
                raise ValueError(f"{self.name} setting {key}={value!r} must be a finite number "
                                 f"that fits a C float (|x| < 3.4e38)")
        message = self._backend.check(cfg)
        if message is not None:
            raise ValueError(f"{self.name}: {message}")
        return cfg

    def _named_value(self, key, value):
        """obs_mode="raw" -> the header's enum constant OBS_MODE_RAW."""
        prefix = key.upper() + "_"
        choices = {c[len(prefix):].lower(): getattr(self.lib, c) for c in dir(self.lib)
                   if c.startswith(prefix)}
        if not choices:
            raise TypeError(f"{self.name} setting {key} must be an integer, got {value!r}")
        if value.lower() not in choices:
            named = ", ".join(repr(c) for c in choices) or "none (give an integer)"
            raise ValueError(f"{self.name} setting {key}={value!r} is not a known choice; "
                             f"choices: {named}")
        return choices[value.lower()]

    @property
    def config(self):
        """The env's settings (defaults with your overrides) as a dict."""
        return {f: getattr(self._cfg, f) for f, _ in self.ffi.typeof("Config").fields}

    def _alive(self):
        if self._backend.closed:
            raise RuntimeError(f"this {self.name} env is closed; make a new one with "
                               f"puffer_learn.make(...)")

    def reset(self, seed=None):
        """Starts a new episode in every env. The same seed replays the same episodes."""
        self._alive()
        if seed is not None:
            self.seed = _check_int(seed, "seed", 0, 2**63 - 1)
        self._backend.reset(self.seed)
        self._backend.read_log(self._log)  # drop stats from before the reset
        self._was_reset = True
        return self.observations

    def step(self, actions=None):
        """Applies actions and steps every env once: one int per agent
        (discrete), or (num_agents, num_actions) floats (continuous; values
        outside [action_low, action_high] are clipped, in env.actions too).

        With actions=None the env uses what is already in self.actions (the
        trainer writes there directly). Envs whose episode ended are reset
        automatically: their terminal/truncation flags are set and the
        observations are already those of the next episode.
        """
        self._alive()
        if not self._was_reset:
            raise RuntimeError(f"call env.reset() before env.step(): the {self.name} envs have "
                               f"not started an episode yet")
        if actions is not None:
            self._set_actions(actions)
        bad = self._backend.step()
        if bad:  # C refused the buffer before stepping (see envs/vec_actions.h)
            k = bad - 1
            if self.continuous:
                agent, j = divmod(k, self.num_actions)
                raise ValueError(f"action of agent {agent} is {self.actions[agent, j]} (env.actions[{agent}, "
                                 f"{j}]); continuous actions must be finite numbers, find where the policy "
                                 f"makes NaN or inf (values outside [{self.action_low}, "
                                 f"{self.action_high}] are clipped); nothing was stepped")
            raise ValueError(f"env.actions[{k}] = {self.actions[k]} is not an action: actions must be "
                             f"in 0..{self.num_actions - 1}; nothing was stepped")
        return self.observations, self.rewards, self.terminals, self.truncations, {}

    def _set_actions(self, actions):
        actions = np.asarray(actions)
        if self.continuous:
            if actions.dtype.kind != "f":
                raise TypeError(f"actions must be floats ({self.num_actions} per agent: this env's actions "
                                f"are continuous), got dtype {actions.dtype}; convert with "
                                f"actions.astype(np.float32)")
            if actions.shape != self.actions.shape:
                raise ValueError(f"actions must have shape {self.actions.shape} = (num_envs {self.num_envs} "
                                 f"x agents {self.agents_per_env}, num_actions {self.num_actions}), got "
                                 f"{actions.shape}")
            np.copyto(self.actions, actions, casting="unsafe")  # C refuses NaN/inf and clips the rest
            return
        if actions.dtype.kind not in "iu":
            raise TypeError(f"actions must be integers (one discrete action per agent), got dtype "
                            f"{actions.dtype}; convert with actions.astype(np.int32)")
        if actions.shape != (self.num_agents,):
            raise ValueError(f"actions must have shape ({self.num_agents},) = num_envs "
                             f"{self.num_envs} x agents {self.agents_per_env}, got {actions.shape}")
        if actions.size and (actions.min() < 0 or actions.max() >= self.num_actions):
            raise ValueError(f"actions must be in 0..{self.num_actions - 1}, got values from "
                             f"{actions.min()} to {actions.max()}")
        np.copyto(self.actions, actions, casting="unsafe")

    def scripted_actions(self):
        """The env's scripted baseline policy for the current state: an array
        shaped and typed like env.actions."""
        self._alive()
        return self._backend.scripted()

    def random_actions(self, rng):
        """Uniformly random actions for every agent, shaped and typed like
        env.actions: ints in 0..num_actions-1, or floats in [action_low,
        action_high]. rng: a numpy Generator (np.random.default_rng(seed))."""
        if self.continuous:
            return rng.uniform(self.action_low, self.action_high, self.actions.shape).astype(np.float32)
        return rng.integers(0, self.num_actions, self.num_agents, dtype=np.int32)

    def unflagged_ends(self):
        """Episodes that ended (env_step returned 1) without setting any
        terminal or truncation flag, since the last call: a contract bug."""
        self._alive()
        return self._backend.unflagged_ends()

    def log(self):
        """Means over the episodes finished since the last call, e.g.
        {"score": 4.2, "episode_length": 256.0, "episodes": 512}; {} if none."""
        self._alive()
        self._backend.read_log(self._log)
        n = self._log.n
        if n <= 0:
            return {}
        stats = {f: getattr(self._log, f) / n for f in self._log_fields}
        stats["episodes"] = int(n)
        return stats

    def render(self, index=0, t=1.0):
        """Env `index` drawn as an (H, W, 3) uint8 RGB array. Needs no display.

        t in [0, 1] picks a moment inside the last step for envs that draw
        in-between frames (1 = the current state; other envs ignore t)."""
        self._alive()
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"render index must be an integer, got {index!r}")
        if not 0 <= index < self.num_envs:
            raise IndexError(f"render index {index} does not exist: this {self.name} vector has "
                             f"{self.num_envs} envs (0..{self.num_envs - 1})")
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"render t must be in [0, 1], got {t}")
        frame = np.empty((*self.render_size, 3), np.uint8)
        if not self._backend.render(int(index), float(t), frame):
            raise RuntimeError("raylib could not open its offscreen window. puffer_learn needs the "
                               "raylib-software wheel and SDL_VIDEODRIVER=dummy (set on import of "
                               "puffer_learn unless you set it yourself).")
        return frame

    def render_substeps(self, index=0, frames=4):
        """The last step of env `index` as `frames` in-between frames, the
        last one being the current state (for smooth playback)."""
        return [self.render(index, t=(k + 1) / frames) for k in range(frames)]

    def close(self, quiet=False):
        """Frees the envs (env_close). Closing twice is fine."""
        try:
            self._backend.close()
        except EnvCrashError:  # env_close crashed (in the worker: this process is fine)
            if not quiet:
                raise

    def __del__(self):
        if getattr(self, "_backend", None) is not None:
            self.close(quiet=True)

    def __repr__(self):
        return (f"VecEnv({self.name!r}, num_envs={self.num_envs}, agents={self.num_agents}, "
                f"obs=({self.obs_size},) {self.obs_dtype}, actions={self.num_actions}"
                + (f" floats in [{self.action_low}, {self.action_high}])" if self.continuous else ")"))
