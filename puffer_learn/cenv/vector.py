"""VecEnv: many copies of one C env, stepped by one call.

Python owns five numpy buffers (observations, actions, rewards, terminals,
truncations). C gets pointers into them once, at init (cffi ``from_buffer``:
no copies), and writes into them in place on every step. ``step`` returns the
same arrays every time: they are live views, copy what you want to keep.

A student's env (a path or source string) runs in a worker process over
shared memory (puffer_learn/cenv/isolation.py): the same arrays, and a crash in
its C code raises EnvCrashError instead of killing the kernel.
"""
import math
import numbers
import os
import struct

import numpy as np

from puffer_learn.cenv.build import Built, ContractError, EnvCrashError, build


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


class _WorkerLib:
    """The env's own functions (env_defaults, env_check, env_spaces) called
    in the worker process, with the signatures of the cffi lib's."""

    def __init__(self, worker, ffi):
        self.worker, self.ffi = worker, ffi

    def pl_defaults(self, cfg):
        self.ffi.memmove(cfg, self.worker.call(b"d"), self.ffi.sizeof("Config"))

    def pl_check(self, cfg, err, err_len):
        reply = self.worker.call(b"c" + bytes(self.ffi.buffer(cfg)))
        message = reply[4:4 + err_len - 1] + b"\0"
        self.ffi.memmove(err, message, len(message))
        return struct.unpack("<i", reply[:4])[0]

    def pl_spaces(self, cfg, out):
        self.ffi.memmove(out, self.worker.call(b"p" + bytes(self.ffi.buffer(cfg))),
                         self.ffi.sizeof("Spaces"))


def _memory_limit():
    """Bytes of physical memory (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


class VecEnv:
    def __init__(self, module, name, num_envs=1, seed=0, threads=1, isolate=False, header=None,
                 sanitize=False, **config):
        self.ffi, self.lib, self.name = module.ffi, module.lib, name
        self.num_envs = _check_int(num_envs, "num_envs", 1)
        self.threads = _check_int(threads, "threads", 1, 64)
        self.seed = _check_int(seed, "seed", 0, 2**63 - 1)
        self._vec = self._worker = None
        # Calls that run the env's own code go to the worker when isolated.
        env_code = self.lib
        if isolate:
            from puffer_learn.cenv.isolation import Worker
            self._worker = Worker(module, header or f"{name}.h", sanitize=sanitize, name=name)
            env_code = _WorkerLib(self._worker, self.ffi)
        try:
            self._setup(env_code, config)
        except BaseException:
            self.close(quiet=True)
            raise

    def _setup(self, env_code, config):
        name = self.name
        self._cfg = self._make_config(config, env_code)
        spaces = self.ffi.new("Spaces*")
        env_code.pl_spaces(self._cfg, spaces)
        # [CONTRACT] sizes >= 1 and sane, checked before any buffer exists.
        err = self.ffi.new("char[256]")
        if self.lib.pl_check_spaces(spaces, err, 256):
            raise ContractError(f"{name}: {self.ffi.string(err).decode()}")
        self.agents_per_env, self.obs_size = spaces.num_agents, spaces.obs_size
        self.num_actions = spaces.num_actions
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
        per_agent = self.obs_size * self.obs_dtype.itemsize + 4 + 4 + 1 + 1
        need = self.num_agents * per_agent + self.num_envs * self.lib.pl_env_bytes()
        limit = _memory_limit()
        if limit and need > limit:
            raise MemoryError(f"{name}: {self.num_envs} envs need {need / 1e9:.3g} GB (buffers of "
                              f"{self.num_agents} agents x {per_agent} bytes, plus {self.num_envs} "
                              f"Env structs of {self.lib.pl_env_bytes()} bytes), more than this "
                              f"machine's {limit / 1e9:.3g} GB: use fewer envs or a smaller "
                              f"struct Env (allocate big arrays in env_init)")
        shapes = [("observations", (self.num_agents, self.obs_size), self.obs_dtype),
                  ("actions", (self.num_agents,), np.int32), ("rewards", (self.num_agents,), np.float32),
                  ("_terminals", (self.num_agents,), np.uint8),
                  ("_truncations", (self.num_agents,), np.uint8)]
        if self._worker is None:
            for field, shape, dtype in shapes:
                setattr(self, field, np.zeros(shape, dtype))
        else:  # the same arrays, in memory the worker maps too
            shapes += [("_frame", (*self.render_size, 3), np.uint8),
                       ("_scripted", (self.num_agents,), np.int32)]
            offsets, total = [], 0
            for _, shape, dtype in shapes:
                offsets.append(total)
                total += -(-int(np.prod(shape)) * np.dtype(dtype).itemsize // 64) * 64
            memory = self._worker.map(max(total, 64))
            for (field, shape, dtype), offset in zip(shapes, offsets):
                setattr(self, field, np.frombuffer(memory, dtype, int(np.prod(shape)), offset).reshape(shape))
        self.terminals = self._terminals.view(np.bool_)    # C writes 0/1 only
        self.truncations = self._truncations.view(np.bool_)
        err = self.ffi.new("char[512]")
        if self._worker is None:
            ptr = self.ffi.from_buffer
            vec = self.lib.pl_vec_init(
                self._cfg, self.num_envs, ptr(self.observations), ptr("int*", self.actions),
                ptr("float*", self.rewards), ptr("uint8_t*", self._terminals),
                ptr("uint8_t*", self._truncations), self.seed, self.threads, err, 512)
            failed = vec == self.ffi.NULL
            message = self.ffi.string(err).decode() if failed else ""
        else:
            reply = self._worker.call(b"i" + bytes(self.ffi.buffer(self._cfg)) + struct.pack(
                "<iQiQ7Q", self.num_envs, self.seed, self.threads, total, *offsets))
            vec, failed, message = True, bool(reply), reply.decode(errors="replace")
        if failed:
            error = MemoryError if "out of memory" in message else ContractError
            raise error(f"{name}: {message}")
        self._vec = vec
        self._log = self.ffi.new("Log*")
        self._was_reset = False
        self._log_fields = [f for f, _ in self.ffi.typeof("Log").fields if f != "n"]

    def _make_config(self, overrides, env_code):
        cfg = self.ffi.new("Config*")
        env_code.pl_defaults(cfg)
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
        err = self.ffi.new("char[256]")
        if env_code.pl_check(cfg, err, 256):
            raise ValueError(f"{self.name}: {self.ffi.string(err).decode()}")
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
        if self._vec is None:
            raise RuntimeError(f"this {self.name} env is closed; make a new one with "
                               f"puffer_learn.make(...)")

    def reset(self, seed=None):
        """Starts a new episode in every env. The same seed replays the same episodes."""
        self._alive()
        if seed is not None:
            self.seed = _check_int(seed, "seed", 0, 2**63 - 1)
        if self._worker is None:
            self.lib.pl_vec_reset(self._vec, self.seed)
        else:
            self._call(b"r" + struct.pack("<Q", self.seed))
        self._read_log()  # drop stats from before the reset
        self._was_reset = True
        return self.observations

    def step(self, actions=None):
        """Applies actions (int, one per agent) and steps every env once.

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
        if self._worker is None:
            bad = self.lib.pl_vec_step(self._vec)
        else:
            bad = struct.unpack("<i", self._call(b"s"))[0]
        if bad:  # C refused the buffer before stepping (see pl_vec_step)
            k = bad - 1
            raise ValueError(f"env.actions[{k}] = {self.actions[k]} is not an action: actions must be "
                             f"in 0..{self.num_actions - 1}; nothing was stepped")
        return self.observations, self.rewards, self.terminals, self.truncations, {}

    def _set_actions(self, actions):
        actions = np.asarray(actions)
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
        """The env's scripted baseline policy: one action per agent, for the current state."""
        self._alive()
        if self._worker is not None:
            self._call(b"a")
            return self._scripted.copy()
        actions = np.empty(self.num_agents, np.int32)
        self.lib.pl_vec_scripted(self._vec, self.ffi.from_buffer("int*", actions))
        return actions

    def _call(self, request):
        """One request to the worker; if the env crashed there, this env is
        closed and EnvCrashError says what happened."""
        try:
            return self._worker.call(request)
        except EnvCrashError:
            self._vec = self._worker = None
            raise

    def _read_log(self):
        if self._worker is None:
            self.lib.pl_vec_log(self._vec, self._log)
        else:
            self.ffi.memmove(self._log, self._call(b"l"), self.ffi.sizeof("Log"))

    def unflagged_ends(self):
        """Episodes that ended (env_step returned 1) without setting any
        terminal or truncation flag, since the last call: a contract bug."""
        self._alive()
        if self._worker is None:
            return self.lib.pl_vec_unflagged_ends(self._vec)
        return struct.unpack("<i", self._call(b"u"))[0]

    def log(self):
        """Means over the episodes finished since the last call, e.g.
        {"score": 4.2, "episode_length": 256.0, "episodes": 512}; {} if none."""
        self._alive()
        self._read_log()
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
        if self._worker is not None:
            drawn = struct.unpack("<i", self._call(b"f" + struct.pack("<if", int(index), float(t))))[0]
            frame[:] = self._frame
        else:
            drawn = self.lib.pl_vec_render(self._vec, int(index), self.ffi.from_buffer("uint8_t*", frame),
                                           float(t))
        if not drawn:
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
        vec, worker = self._vec, self._worker
        self._vec = self._worker = None
        if worker is not None:
            try:
                worker.close()
            except EnvCrashError:
                if not quiet:
                    raise
        elif vec is not None:
            self.lib.pl_vec_close(vec)

    def __del__(self):
        if getattr(self, "_vec", None) is not None or getattr(self, "_worker", None) is not None:
            self.close(quiet=True)

    def __repr__(self):
        return (f"VecEnv({self.name!r}, num_envs={self.num_envs}, agents={self.num_agents}, "
                f"obs=({self.obs_size},) {self.obs_dtype}, actions={self.num_actions})")
