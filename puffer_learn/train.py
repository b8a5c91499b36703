"""PPO in one file: read it top to bottom.

    result = puffer_learn.train("target", seed=1)
    result = puffer_learn.train("target", seed=1, total_timesteps=2_000_000,
                                learning_rate=3e-3, env_config={"num_stars": 6},
                                callback=print)

The file, in order:
  1. config: defaults below, the env's own envs/<env>/train.toml, your overrides
  2. the math: GAE and the three PPO loss terms, as small testable functions
  3. checkpoints: what is saved, and loading with clear errors
  4. evaluation: the scripted baseline and the trained policy on fixed seeds
  5. train(): collect a rollout from the C env's shared buffers, learn, repeat

METRICS. After every update train() builds one plain dict and passes it to
`callback(metrics)`; the terminal dashboard and the notebook widgets draw this
stream. Keys:
  update              updates done so far (1, 2, ...)
  global_step         agent steps so far (one agent acting once = one step)
  total_timesteps     the step budget of this run
  elapsed_s           wall seconds since training started (resumed runs: this run only)
  agent_steps_per_s   agent steps per wall second during this update
  time_env            share (0..1) of this update's wall time spent in env.step()
  time_forward        share spent running the policy to pick actions (rollout)
  time_learn          share spent on GAE and gradient steps; the rest of the
                      wall time is logging, callbacks and the dashboard
  score               mean episode score (env.log()) of the episodes that ended
                      during this update; None if none ended
  baseline_score      the env's scripted baseline on the fixed eval seeds
  ratio               score / baseline_score (None with score); >= 0.9 = solved
  episode_length      mean length in steps of those episodes (None if none)
  episodes            how many episodes ended during this update
  policy_loss         clipped PPO surrogate loss (mean over all minibatches of the update)
  value_loss          0.5 * squared error of the value head
  entropy             mean policy entropy in nats (log(num_actions) = uniform)
  approx_kl           estimated KL(old || new) policy: how far one update moved it
  clip_fraction       share of samples whose probability ratio hit the clip
  explained_variance  1 - Var(returns - values) / Var(returns): 1 = the critic
                      predicts returns perfectly, 0 = no better than a constant
  learning_rate       the (annealed) learning rate used in this update
"""
import copy
import importlib
import inspect
import numbers
import time
import tomllib
from pathlib import Path

import numpy as np
import torch

from puffer_learn.build import locate
from puffer_learn.policies import POLICIES
from puffer_learn.vector import make

# ---------------------------------------------------------------------------
# 1. Config
# ---------------------------------------------------------------------------
# Every [train] setting with its default. envs/<env>/train.toml overrides
# these per env; keyword arguments and --train.KEY on the command line
# override both.
TRAIN_DEFAULTS = {
    "total_timesteps": 5_000_000,  # agent steps to train for
    "time_limit": 0.0,          # wall seconds to train for at most (0 = no limit)
    "num_envs": 256,            # env copies stepped together (agents = num_envs * agents per env)
    "env_threads": 1,           # C threads stepping the envs
    "torch_threads": 0,         # torch.set_num_threads (0 = leave torch's default)
    "device": "cpu",            # "cpu" or "cuda"
    "horizon": 32,              # steps per agent in one rollout
    "minibatches": 4,           # a rollout is split into this many minibatches (by agent)
    "update_epochs": 2,         # passes over each rollout
    "learning_rate": 3e-3,
    "anneal_lr": True,          # decay the learning rate linearly to 0 over the run
    "adam_eps": 1e-5,
    "gamma": 0.99,              # discount per step
    "gae_lambda": 0.95,         # GAE's bias/variance knob
    "clip_coef": 0.2,           # PPO's probability-ratio clip
    "value_clip": 0.0,          # clip value updates to +-this (0 = no value clipping)
    "value_coef": 0.5,
    "entropy_coef": 0.01,
    "max_grad_norm": 0.5,
    "checkpoint_interval": 100,  # save every this many updates (and at the end)
    "eval_episodes": 100,       # episodes for the baseline and the final score
    "eval_seed": 1_000_000,     # fixed seed: baseline and policy see the same episodes
}
POLICY_DEFAULTS = {"name": "mlp"}  # other [policy] keys go to the policy's constructor


def config_file(env):
    """envs/<env>/train.toml next to the env's header (None if it has none)."""
    _, header, _ = locate(env)
    path = Path(header).parent / "train.toml"
    return path if path.is_file() else None


def load_env_config(env):
    """The env's train.toml as {"train": ..., "env": ..., "policy": ...}."""
    sections = {"train": {}, "env": {}, "policy": {}}
    path = config_file(env)
    if path is None:
        return sections
    with open(path, "rb") as f:
        data = tomllib.load(f)
    for name, values in data.items():
        if name not in sections or not isinstance(values, dict):
            raise ValueError(f"{path}: unknown section [{name}]; sections are [train], [env], [policy]")
        sections[name].update(values)
    return sections


def check_train_value(key, value, where):
    """Unknown keys and wrong types fail here, naming what is valid."""
    if key not in TRAIN_DEFAULTS:
        raise ValueError(f"{where}: unknown train setting {key!r}; valid settings are: "
                         f"{', '.join(TRAIN_DEFAULTS)}")
    default = TRAIN_DEFAULTS[key]
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, str)
    if not ok:
        raise TypeError(f"{where}: train setting {key} must be {type(default).__name__}, "
                        f"got {value!r}")
    return value


def policy_class(name):
    """A [policy] name ("mlp", "lstm") or an importable "module.Class" path."""
    if name in POLICIES:
        return POLICIES[name]
    module, _, attr = name.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError):
        raise ValueError(f"unknown policy {name!r}: use one of {', '.join(POLICIES)} or an "
                         f"importable 'module.ClassName'") from None


def check_policy_settings(settings, where):
    cls = policy_class(settings["name"])
    params = inspect.signature(cls.__init__).parameters
    valid = [p for p in params if p not in ("self", "obs_size", "num_actions")]
    takes_any = any(p.kind == p.VAR_KEYWORD for p in params.values())
    for key in settings:
        if key != "name" and key not in valid and not takes_any:
            raise ValueError(f"{where}: policy {settings['name']!r} has no setting {key!r}; its "
                             f"settings are: name, {', '.join(valid)}")


def resolve_config(env, base=None, train_config=None, env_config=None, policy_config=None,
                   overrides=None):
    """Defaults < env's train.toml (or a resumed checkpoint's config) < arguments.

    overrides: flat keyword arguments; each must be a train or a policy setting."""
    if base is None:
        base = load_env_config(env)
        base["train"] = {**TRAIN_DEFAULTS, **base["train"]}
        base["policy"] = {**POLICY_DEFAULTS, **base["policy"]}
    config = copy.deepcopy(base)
    config["train"].update(train_config or {})
    config["env"].update(env_config or {})
    overrides = dict(overrides or {})
    asked = {**(policy_config or {}), **({"name": overrides.pop("policy")} if "policy" in overrides else {})}
    if asked.get("name", config["policy"]["name"]) != config["policy"]["name"]:
        # Another policy than the file's: the file's settings were for that one.
        config["policy"] = {"name": asked["name"]}
    config["policy"].update(asked)
    policy_keys = set(inspect.signature(policy_class(config["policy"]["name"]).__init__).parameters)
    for key, value in overrides.items():
        if key in TRAIN_DEFAULTS:
            config["train"][key] = value
        elif key in policy_keys - {"self", "obs_size", "num_actions"}:
            config["policy"][key] = value
        else:
            raise ValueError(f"unknown setting {key!r}. Train settings: {', '.join(TRAIN_DEFAULTS)}. "
                             f"Policy settings go in policy_config={{...}}, env settings in "
                             f"env_config={{...}}")
    for key, value in config["train"].items():
        config["train"][key] = check_train_value(key, value, "config")
    check_policy_settings(config["policy"], "config")
    return config


# ---------------------------------------------------------------------------
# 2. The math
# ---------------------------------------------------------------------------
def compute_gae(rewards, values, ended, last_value, gamma, gae_lambda):
    """Generalized advantage estimation over a rollout of T steps.

    rewards, values, ended: [T, agents]. values[t] = V(obs_t); ended[t] = 1 if
    the episode ended with step t (terminal OR truncation). last_value =
    V(obs after the last step): the LAST step is bootstrapped from it, it is
    not treated as the end of the episode (unless it really ended there).

        delta_t = r_t + gamma * V(s_t+1) * (1 - ended_t) - V(s_t)
        A_t     = delta_t + gamma * lambda * (1 - ended_t) * A_t+1

    Returns (advantages, returns = advantages + values).
    """
    advantages = torch.zeros_like(rewards)
    next_advantage = torch.zeros_like(last_value)
    next_value = last_value
    for t in reversed(range(rewards.shape[0])):
        not_ended = 1.0 - ended[t]
        delta = rewards[t] + gamma * next_value * not_ended - values[t]
        next_advantage = delta + gamma * gae_lambda * not_ended * next_advantage
        advantages[t] = next_advantage
        next_value = values[t]
    return advantages, advantages + values


def normalize(x, eps=1e-8):
    """Zero mean, unit std: keeps the policy step size independent of reward scale."""
    return (x - x.mean()) / (x.std() + eps)


def clipped_policy_loss(new_logprobs, old_logprobs, advantages, clip_coef):
    """PPO's clipped surrogate. Returns (loss, approx_kl, clip_fraction).

    ratio = pi_new(a|s) / pi_old(a|s). The objective takes the smaller of
    ratio * A and clip(ratio, 1 - c, 1 + c) * A, so moving the policy further
    than the clip range earns nothing. The loss is its negative mean."""
    log_ratio = new_logprobs - old_logprobs
    ratio = log_ratio.exp()
    unclipped = ratio * advantages
    clipped = ratio.clamp(1 - clip_coef, 1 + clip_coef) * advantages
    loss = -torch.min(unclipped, clipped).mean()
    with torch.no_grad():
        approx_kl = ((ratio - 1) - log_ratio).mean()  # low-variance KL(old||new) estimate
        clip_fraction = ((ratio - 1).abs() > clip_coef).float().mean()
    return loss, approx_kl, clip_fraction


def value_loss(new_values, old_values, returns, value_clip=0.0):
    """0.5 * (V - return)^2. With value_clip > 0, the new value may not move
    more than value_clip from the rollout's value without paying the larger
    of the two errors (PPO2-style value clipping)."""
    error = (new_values - returns) ** 2
    if value_clip > 0:
        clipped = old_values + (new_values - old_values).clamp(-value_clip, value_clip)
        error = torch.max(error, (clipped - returns) ** 2)
    return 0.5 * error.mean()


def entropy(logits):
    """Mean entropy of the categorical distributions given by logits (nats)."""
    logp = torch.log_softmax(logits, -1)
    return -(logp.exp() * logp).sum(-1).mean()


def sample_actions(logits, deterministic=False, generator=None):
    """Samples one action per row; returns (actions, their log-probabilities).
    deterministic=True takes the argmax instead (can get an agent stuck).
    generator: a torch.Generator for reproducible sampling (evaluation)."""
    logp = torch.log_softmax(logits, -1)
    if deterministic:
        actions = logp.argmax(-1)
    else:
        actions = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(1)
    return actions, logp.gather(1, actions.unsqueeze(1)).squeeze(1)


def explained_variance(values, returns):
    var = returns.var()
    return float("nan") if var == 0 else float(1 - (returns - values).var() / var)


# ---------------------------------------------------------------------------
# 3. Checkpoints
# ---------------------------------------------------------------------------
CHECKPOINT_FORMAT = "puffer_learn checkpoint"
CHECKPOINT_KEYS = ["format", "version", "env", "seed", "config", "policy_class", "obs_size",
                   "num_actions", "model", "optimizer", "metrics", "update", "global_step"]


def save_checkpoint(path, env, seed, config, policy, optimizer, metrics, update, global_step,
                    obs_size, num_actions):
    """Everything needed to evaluate or resume: weights, optimizer state, the
    full config and the metrics so far. Written to a temporary file first and
    then renamed, so a crash mid-save never leaves a broken checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cls = type(policy)
    name = next((k for k, v in POLICIES.items() if v is cls), f"{cls.__module__}.{cls.__qualname__}")
    data = {"format": CHECKPOINT_FORMAT, "version": 1, "env": str(env), "seed": seed,
            "config": config, "policy_class": name, "obs_size": obs_size,
            "num_actions": num_actions, "model": policy.state_dict(),
            "optimizer": optimizer.state_dict(), "metrics": metrics, "update": update,
            "global_step": global_step}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(data, tmp)
    tmp.replace(path)
    return path


def load_checkpoint(path):
    """Loads and checks a checkpoint dict; errors say what is wrong with the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist (train writes OUT/ENV-SEED/model.pt)")
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":  # torch.save writes a zip archive
            raise ValueError(f"{path} is not a readable puffer_learn checkpoint (not a file "
                             f"written by torch.save; expected OUT/ENV-SEED/model.pt from train)")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"{path} is not a readable puffer_learn checkpoint "
                         f"(torch.load failed: {str(e).splitlines()[0]})") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is a torch file but not a puffer_learn checkpoint "
                         f"(no format={CHECKPOINT_FORMAT!r} entry)")
    missing = [k for k in CHECKPOINT_KEYS if k not in data]
    if missing:
        raise ValueError(f"checkpoint {path} is incomplete: missing {', '.join(missing)}")
    return data


def policy_from_checkpoint(data, device="cpu"):
    cls = policy_class(data["policy_class"])
    settings = {k: v for k, v in data["config"]["policy"].items() if k != "name"}
    policy = cls(data["obs_size"], data["num_actions"], **settings)
    try:
        policy.load_state_dict(data["model"])
    except RuntimeError as e:
        raise ValueError(f"checkpoint weights do not fit policy {data['policy_class']}: "
                         f"{str(e).splitlines()[0]}") from None
    return policy.to(device)


# ---------------------------------------------------------------------------
# 4. Evaluation: baseline and trained policy on the same fixed seeds
# ---------------------------------------------------------------------------
def run_episodes(env, choose_actions, episodes, on_step=None, max_steps=1_000_000):
    """Steps `env` with `choose_actions()` (writes env.actions) until at least
    `episodes` episodes ended; returns their mean score and episode length.
    Use one env per episode wanted: with equal-length episodes (target) every
    env then contributes exactly one. With unequal lengths, the first episodes
    to end are the short ones, a bias to keep in mind."""
    env.reset()
    score_sum = length_sum = 0.0
    count = 0
    for _ in range(max_steps):
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
    raise RuntimeError(f"{env.name}: only {count} of {episodes} episodes ended in {max_steps} steps")


_baseline_cache = {}


def baseline_score(env, env_config=None, episodes=100, seed=TRAIN_DEFAULTS["eval_seed"]):
    """The scripted baseline's mean score on the fixed eval seeds, cached per
    (env, settings, episodes, seed) for the life of this Python process."""
    env_config = dict(env_config or {})
    key = (str(env), tuple(sorted(env_config.items())), episodes, seed)
    if key not in _baseline_cache:
        vec = make(env, num_envs=episodes, seed=seed, **env_config)

        def scripted():
            vec.actions[:] = vec.scripted_actions()

        _baseline_cache[key] = run_episodes(vec, scripted, episodes)[0]
        vec.close()
    return _baseline_cache[key]


def policy_fn(policy, deterministic=False, seed=0, device="cpu"):
    """A function obs (numpy [agents, obs_size]) -> actions (int32 numpy),
    for viewers and recorders. policy: a policy module or a checkpoint path.
    Recurrent memory is carried from call to call (one episode at a time)."""
    if isinstance(policy, (str, Path)):
        policy = policy_from_checkpoint(load_checkpoint(policy), device)
    policy.eval()
    generator = torch.Generator(device=device).manual_seed(seed)
    state = None

    def act(obs):
        nonlocal state
        with torch.no_grad():
            logits, _, state = policy(torch.as_tensor(obs, dtype=torch.float32, device=device), state)
        return sample_actions(logits, deterministic, generator)[0].cpu().numpy().astype(np.int32)
    return act


def evaluate_policy(policy, env, env_config=None, episodes=100, seed=TRAIN_DEFAULTS["eval_seed"],
                    deterministic=False, device="cpu", frames=None):
    """The policy's mean score on the fixed eval seeds (sampling by default).
    With a `frames` list, env 0's frames are appended to it until its first
    episode ends (for a gif)."""
    vec = make(env, num_envs=episodes, seed=seed, **dict(env_config or {}))
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
            actions.copy_(sample_actions(logits, deterministic, generator)[0])

    def after_step():
        nonlocal state, recording
        if getattr(policy, "is_recurrent", False):  # forget at episode ends
            ended = torch.from_numpy(terminals | truncations)
            keep = (~ended).to(device, torch.float32).unsqueeze(1)
            state = tuple(s * keep for s in state)
        if recording:
            if (terminals[env0] | truncations[env0]).any():
                recording = False  # env 0's first episode is over (obs are already the next one's)
            else:
                frames.append(vec.render(0))

    if recording:
        vec.reset()
        frames.append(vec.render(0))
    policy.eval()
    score, length = run_episodes(vec, act, episodes, on_step=after_step)
    policy.train()
    vec.close()
    return score, length


def evaluate(checkpoint, episodes=None, deterministic=False, gif=None, fps=30, device="cpu"):
    """Scores a saved policy against the scripted baseline on the fixed eval seeds.
    Returns {"env", "score", "baseline_score", "ratio", "episodes", ...}."""
    data = load_checkpoint(checkpoint)
    policy = policy_from_checkpoint(data, device)
    cfg, env = data["config"], data["env"]
    episodes = episodes or cfg["train"]["eval_episodes"]
    seed = cfg["train"]["eval_seed"]
    frames = [] if gif else None
    score, length = evaluate_policy(policy, env, cfg["env"], episodes, seed, deterministic,
                                    device, frames)
    base = baseline_score(env, cfg["env"], episodes, seed)
    result = {"env": env, "checkpoint": str(checkpoint), "episodes": episodes,
              "deterministic": deterministic, "score": score, "baseline_score": base,
              "ratio": score / base if base else None, "episode_length": length}
    result["solved"] = result["ratio"] is not None and result["ratio"] >= 0.9
    if gif:
        from puffer_learn.render import save_gif
        save_gif(frames, gif, fps=fps)
        result["gif"] = str(gif)
    return result


# ---------------------------------------------------------------------------
# 5. Training
# ---------------------------------------------------------------------------
class TrainingDiverged(FloatingPointError):
    """A loss or a parameter became NaN/inf; the last good checkpoint is kept."""


def should_stop(stop):
    """stop may be a threading.Event (a notebook Stop button) or a callable."""
    if stop is None:
        return False
    if hasattr(stop, "is_set"):
        return stop.is_set()
    return bool(stop())


def train(env, seed=1, *, out="runs", resume=None, callback=None, stop=None,
          train_config=None, env_config=None, policy_config=None, **overrides):
    """Trains a policy on `env` with PPO and returns a result dict:
    {"env", "seed", "score", "baseline_score", "ratio", "solved", "wall_s",
     "agent_steps_per_s", "global_step", "updates", "checkpoint", "stopped_by",
     "metrics": [one dict per update]}.

    seed      seeds torch and the training envs
    out       checkpoints go to OUT/ENV-SEED/model.pt
    resume    a checkpoint path: continue its run (weights, optimizer, metrics, step count)
    callback  callback(metrics) after every update (see the module docstring)
    stop      a threading.Event or a callable; checked every update to end training cleanly
    train_config / env_config / policy_config: dicts of [train] / [env] / [policy] settings
    **overrides: flat train or policy settings, e.g. learning_rate=3e-4, hidden_size=64

    Ctrl-C (KeyboardInterrupt) saves a checkpoint and returns normally with
    stopped_by="interrupt" and score None (no final evaluation).
    A NaN/inf loss or parameter raises TrainingDiverged and keeps the last
    good checkpoint on disk.
    """
    wall_start = time.perf_counter()
    resumed = load_checkpoint(resume) if resume else None
    if resumed and Path(str(resumed["env"])).name != Path(str(env)).name:
        raise ValueError(f"checkpoint {resume} was trained on {resumed['env']!r}, not {env!r}")
    config = resolve_config(env, resumed["config"] if resumed else None, train_config, env_config,
                            policy_config, overrides)
    cfg = config["train"]
    env_name = locate(env)[0]
    checkpoint_path = Path(out) / f"{env_name}-{seed}" / "model.pt"

    torch.manual_seed(seed)
    if cfg["torch_threads"] > 0:
        torch.set_num_threads(cfg["torch_threads"])
    if cfg["device"] not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {cfg['device']!r}")
    if cfg["device"] == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' asked for, but torch sees no CUDA GPU; use device='cpu'")
    device = torch.device(cfg["device"])

    vec = make(env, num_envs=cfg["num_envs"], seed=seed, threads=cfg["env_threads"], **config["env"])
    if vec.num_agents % cfg["minibatches"]:
        raise ValueError(f"minibatches ({cfg['minibatches']}) must divide the number of agents "
                         f"({vec.num_agents} = num_envs {vec.num_envs} x {vec.agents_per_env})")
    cls = policy_class(config["policy"]["name"])
    if "entity_layout" in inspect.signature(cls.__init__).parameters and vec.entity_layout:
        # An entity encoder reads the env's own layout; saved with the config
        # so the checkpoint (and the C export) rebuilds the same network.
        config["policy"].setdefault("entity_layout", list(vec.entity_layout))
    policy_settings = {k: v for k, v in config["policy"].items() if k != "name"}
    policy = cls(vec.obs_size, vec.num_actions, **policy_settings).to(device)
    recurrent = getattr(policy, "is_recurrent", False)
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg["learning_rate"], eps=cfg["adam_eps"])
    metrics, update, global_step = [], 0, 0
    if resumed:
        policy.load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        metrics, update, global_step = list(resumed["metrics"]), resumed["update"], resumed["global_step"]

    baseline = baseline_score(env, config["env"], cfg["eval_episodes"], cfg["eval_seed"])

    # Rollout storage, allocated once. [T, agents, ...]
    T, N = cfg["horizon"], vec.num_agents
    obs_buf = torch.zeros(T, N, vec.obs_size, device=device)
    actions_buf = torch.zeros(T, N, dtype=torch.long, device=device)
    logprobs_buf = torch.zeros(T, N, device=device)
    values_buf = torch.zeros(T, N, device=device)
    rewards_buf = torch.zeros(T, N, device=device)
    ended_buf = torch.zeros(T, N, device=device)

    # The env's own numpy buffers seen as tensors: same memory, no copies.
    # C writes observations/rewards/flags here; we write actions here.
    env_obs = torch.from_numpy(vec.observations)
    env_actions = torch.from_numpy(vec.actions)
    env_rewards = torch.from_numpy(vec.rewards)
    env_terminals = torch.from_numpy(vec.terminals)
    env_truncations = torch.from_numpy(vec.truncations)

    # A resumed run starts fresh episodes on a new seed rather than replaying old ones.
    vec.reset(seed=seed + 1_000_003 * update)
    state = policy.initial_state(N, device) if recurrent else None

    def save():
        return save_checkpoint(checkpoint_path, env, seed, config, policy, optimizer, metrics,
                               update, global_step, vec.obs_size, vec.num_actions)

    def params_finite():
        return all(torch.isfinite(p).all() for p in policy.parameters())

    train_start = time.perf_counter()
    run_steps = 0  # agent steps in this call (resumed runs count from here)
    stopped_by = "total_timesteps"
    last_saved_update = None
    mark = time.perf_counter()  # end of the previous update: its wall time includes the callback
    try:
        while global_step < cfg["total_timesteps"]:
            if should_stop(stop):
                stopped_by = "stop"
                break
            elapsed = time.perf_counter() - train_start
            if cfg["time_limit"] and elapsed >= cfg["time_limit"]:
                stopped_by = "time_limit"
                break
            update += 1
            if not params_finite():  # e.g. broken by a callback between updates
                raise TrainingDiverged(f"update {update}: a policy parameter is NaN/inf before "
                                       f"the rollout (changed outside training?)")
            # Anneal by whichever budget runs out first, so a time-limited
            # run still ends with a small learning rate.
            progress = global_step / cfg["total_timesteps"]
            if cfg["time_limit"]:
                progress = max(progress, elapsed / cfg["time_limit"])
            lr = cfg["learning_rate"] * (1.0 - progress) if cfg["anneal_lr"] else cfg["learning_rate"]
            for group in optimizer.param_groups:
                group["lr"] = lr

            # ---- Rollout: T steps of every agent ----
            time_env = 0.0
            rollout_start = time.perf_counter()
            start_state = tuple(s.clone() for s in state) if recurrent else None
            for t in range(T):
                with torch.no_grad():
                    obs_buf[t].copy_(env_obs)  # float32 whatever the env's obs dtype
                    logits, value, state = policy(obs_buf[t], state)
                    if not torch.isfinite(logits).all():
                        culprit = ("the env wrote NaN/inf observations" if not
                                   torch.isfinite(obs_buf[t]).all() else "the policy's output")
                        raise TrainingDiverged(f"update {update}, rollout step {t}: NaN/inf "
                                               f"action logits ({culprit})")
                    actions, logprobs = sample_actions(logits)
                    actions_buf[t] = actions
                    logprobs_buf[t] = logprobs
                    values_buf[t] = value
                    env_actions.copy_(actions)  # into the env's action buffer
                step_start = time.perf_counter()
                vec.step()
                time_env += time.perf_counter() - step_start
                rewards_buf[t].copy_(env_rewards)
                # An episode ends by termination OR truncation. Target's episodes
                # end by truncation (a tick limit) and its observations carry no
                # clock, so the value cannot know time is running out; we treat
                # the cut like an ending and do not bootstrap through it. (The
                # binding has already reset those envs, so the final observation
                # needed for that bootstrap is gone anyway.)
                ended = env_terminals | env_truncations
                ended_buf[t].copy_(ended)
                if recurrent:  # zero the memory of agents whose episode ended
                    keep = (~ended).to(device, torch.float32).unsqueeze(1)
                    state = tuple(s * keep for s in state)
            rollout_time = time.perf_counter() - rollout_start
            global_step += T * N
            run_steps += T * N

            # ---- Learn ----
            learn_start = time.perf_counter()
            with torch.no_grad():
                _, last_value, _ = policy(env_obs.to(device, torch.float32), state)
                advantages, returns = compute_gae(rewards_buf, values_buf, ended_buf, last_value,
                                                  cfg["gamma"], cfg["gae_lambda"])
            agents_per_minibatch = N // cfg["minibatches"]
            stats = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "approx_kl": 0.0,
                     "clip_fraction": 0.0}
            num_minibatches = 0
            for epoch in range(cfg["update_epochs"]):
                # Minibatches are groups of whole agents: each keeps its T steps
                # in order, which an LSTM needs to replay its memory.
                agent_order = torch.randperm(N, device=device)
                for start in range(0, N, agents_per_minibatch):
                    idx = agent_order[start:start + agents_per_minibatch]
                    mb_obs = obs_buf[:, idx]
                    if recurrent:
                        mb_state = tuple(s[idx] for s in start_state)
                        logits, new_values, _ = policy.forward_sequence(mb_obs, mb_state, ended_buf[:, idx])
                        logits = logits.reshape(-1, logits.shape[-1])
                    else:
                        logits, new_values, _ = policy(mb_obs.reshape(-1, vec.obs_size))
                    new_values = new_values.reshape(-1)
                    logp_all = torch.log_softmax(logits, -1)
                    new_logprobs = logp_all.gather(1, actions_buf[:, idx].reshape(-1, 1)).squeeze(1)
                    mb_advantages = normalize(advantages[:, idx].reshape(-1))
                    pg_loss, approx_kl, clip_fraction = clipped_policy_loss(
                        new_logprobs, logprobs_buf[:, idx].reshape(-1), mb_advantages, cfg["clip_coef"])
                    v_loss = value_loss(new_values, values_buf[:, idx].reshape(-1),
                                        returns[:, idx].reshape(-1), cfg["value_clip"])
                    ent = entropy(logits)
                    loss = pg_loss + cfg["value_coef"] * v_loss - cfg["entropy_coef"] * ent
                    if not torch.isfinite(loss):
                        raise TrainingDiverged(f"update {update}: the loss became {loss.item()} "
                                               f"(policy {pg_loss.item()}, value {v_loss.item()})")
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg["max_grad_norm"])
                    optimizer.step()
                    for key, value in (("policy_loss", pg_loss), ("value_loss", v_loss),
                                       ("entropy", ent), ("approx_kl", approx_kl),
                                       ("clip_fraction", clip_fraction)):
                        stats[key] += value.item()
                    num_minibatches += 1
            if not params_finite():
                raise TrainingDiverged(f"update {update}: a policy parameter became NaN/inf")
            now = time.perf_counter()
            learn_time = now - learn_start
            update_wall = now - mark
            mark = now

            # ---- Metrics ----
            log = vec.log()
            score = log.get("score")
            m = {"update": update, "global_step": global_step,
                 "total_timesteps": cfg["total_timesteps"],
                 "elapsed_s": now - train_start,
                 "agent_steps_per_s": T * N / update_wall,
                 "time_env": time_env / update_wall,
                 "time_forward": (rollout_time - time_env) / update_wall,
                 "time_learn": learn_time / update_wall,
                 "score": score, "baseline_score": baseline,
                 "ratio": None if score is None or not baseline else score / baseline,
                 "episode_length": log.get("episode_length"), "episodes": log.get("episodes", 0),
                 **{k: v / num_minibatches for k, v in stats.items()},
                 "explained_variance": explained_variance(values_buf, returns),
                 "learning_rate": lr}
            metrics.append(m)
            if update % cfg["checkpoint_interval"] == 0:
                save()
                last_saved_update = update
            if callback is not None:
                callback(m)
    except KeyboardInterrupt:
        stopped_by = "interrupt"
    except TrainingDiverged as e:
        kept = checkpoint_path if checkpoint_path.exists() else None
        vec.close()
        raise TrainingDiverged(f"{e}. Training stopped; "
                               + (f"the last good checkpoint is kept at {kept}" if kept else
                                  "no checkpoint had been saved yet")) from None

    # Save the end state, unless the params went bad mid-update (e.g. Ctrl-C
    # while a NaN was being written): then keep the previous good checkpoint.
    if params_finite():
        if last_saved_update != update or not checkpoint_path.exists():
            save()
    train_s = time.perf_counter() - train_start
    vec.close()

    score = length = None
    if stopped_by != "interrupt":  # Ctrl-C means "get me out": skip the final evaluation
        score, length = evaluate_policy(policy, env, config["env"], cfg["eval_episodes"],
                                        cfg["eval_seed"], device=device)
    ratio = None if score is None or not baseline else score / baseline
    return {"env": str(env), "seed": seed, "score": score, "baseline_score": baseline,
            "ratio": ratio, "solved": ratio is not None and ratio >= 0.9,
            "episode_length": length, "wall_s": time.perf_counter() - wall_start,
            "train_s": train_s, "agent_steps_per_s": run_steps / train_s if train_s else 0.0,
            "global_step": global_step, "updates": update, "stopped_by": stopped_by,
            "checkpoint": str(checkpoint_path) if checkpoint_path.exists() else None,
            "config": config, "metrics": metrics}
