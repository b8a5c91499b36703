"""PPO in one file: read it top to bottom.

    result = puffer_learn.train("target", seed=1)
    result = puffer_learn.train("target", seed=1, total_timesteps=2_000_000,
                                learning_rate=3e-3, env_config={"num_stars": 6},
                                callback=print)

The file, in order: the steps of one update (rollout: collect T steps from
the C env's shared buffers; learn: advantages and minibatch gradient steps;
update_metrics: the numbers logged), then train(): set up once, then loop over
those steps. The math (GAE, the PPO loss terms) is in losses.py, the settings
and their defaults in config.py (TRAIN_SETTINGS), saving and loading in
checkpoints.py, the baseline and the final score in evaluation.py, the
networks in policies.py.

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
  ratio               score / baseline_score (None with score); >= SOLVED_RATIO = solved
  episode_length      mean length in steps of those episodes (None if none)
  episodes            how many episodes ended during this update
  policy_loss         clipped PPO surrogate loss (mean over all minibatches of the update)
  value_loss          0.5 * squared error of the value head
  entropy             mean policy entropy in nats (log(num_actions) = uniform; for
                      continuous actions the Gaussian's, which can be negative)
  approx_kl           estimated KL(old || new) policy: how far one update moved it
  clip_fraction       share of samples whose probability ratio hit the clip
  explained_variance  1 - Var(returns - values) / Var(returns): 1 = the critic
                      predicts returns perfectly, 0 = no better than a constant
  learning_rate       the (annealed) learning rate used in this update
"""
import time
from pathlib import Path

import torch

from puffer_learn.cenv.build import build
from puffer_learn.cenv.vector import make
from puffer_learn.training.checkpoints import CheckpointError, load_checkpoint, load_weights, save_checkpoint
from puffer_learn.training.config import (SOLVED_RATIO, ConfigError, check_batch, checkpoint_path, device_for,
                                          resolve_config)
from puffer_learn.training.errors import nonfinite
from puffer_learn.training.evaluation import baseline_score, evaluate_policy
from puffer_learn.training.losses import resolve_parts
from puffer_learn.training.distributions import distribution_for
from puffer_learn.training.policy_setup import policy_for_env


class TrainingDiverged(FloatingPointError):
    """A loss or a parameter became NaN/inf; the last good checkpoint is kept."""


def check_finite(named_tensors, message):
    """Raises TrainingDiverged(message with {} = the first NaN/inf tensor's name)."""
    bad = nonfinite(named_tensors)
    if bad:
        raise TrainingDiverged(message.format(bad))


def should_stop(stop):
    """stop may be a threading.Event (a notebook Stop button) or a callable."""
    if stop is None:
        return False
    if hasattr(stop, "is_set"):
        return stop.is_set()
    return bool(stop())


# ---- The steps of one update ---------------------------------------------------
class Rollout:
    """One rollout's storage, [T, agents, ...], allocated once and refilled every
    update, next to the env's own numpy buffers seen as tensors (same memory, no
    copies): C writes observations, rewards and flags there; we write actions."""

    def __init__(self, vec, horizon, device, dist):
        T, N = horizon, vec.num_agents
        self.horizon, self.num_agents, self.device = T, N, device
        self.obs = torch.zeros(T, N, vec.obs_size, device=device)
        self.actions = dist.action_buffer(T, N, device)  # [T, N] ints, or [T, N, floats] unclipped
        self.logprobs = torch.zeros(T, N, device=device)
        self.values = torch.zeros(T, N, device=device)
        self.rewards = torch.zeros(T, N, device=device)
        self.ended = torch.zeros(T, N, device=device)
        self.start_state = None  # the policy's memory when the rollout began (learn replays from it)
        self.env_obs = torch.from_numpy(vec.observations)
        self.env_actions = torch.from_numpy(vec.actions)
        self.env_rewards = torch.from_numpy(vec.rewards)
        self.env_terminals = torch.from_numpy(vec.terminals)
        self.env_truncations = torch.from_numpy(vec.truncations)


def rollout(policy, dist, vec, buf, state, update):
    """T steps of every agent: the policy picks actions, C steps all envs at
    once, the buffers fill. Returns (the policy's memory after the last step,
    seconds spent inside vec.step())."""
    time_env = 0.0
    buf.start_state = state
    for t in range(buf.horizon):
        with torch.no_grad():
            buf.obs[t].copy_(buf.env_obs)  # float32 whatever the env's obs dtype
            logits, value, state = policy(buf.obs[t], state)
            if nonfinite([("logits", logits)]):
                culprit = ("the env wrote NaN/inf observations" if nonfinite([("obs", buf.obs[t])])
                           else "the policy's output")
                raise TrainingDiverged(f"update {update}, rollout step {t}: NaN/inf "
                                       f"action logits ({culprit})")
            actions, logprobs = dist.sample(logits)
            buf.actions[t] = actions
            buf.logprobs[t] = logprobs
            buf.values[t] = value
            buf.env_actions.copy_(dist.to_env(actions))  # into the env's action buffer (clipped to its bounds)
        step_start = time.perf_counter()
        vec.step()
        time_env += time.perf_counter() - step_start
        buf.rewards[t].copy_(buf.env_rewards)
        # An episode ends by termination OR truncation. Target's episodes
        # end by truncation (a tick limit) and its observations carry no
        # clock, so the value cannot know time is running out; we treat
        # the cut like an ending and do not bootstrap through it. (The
        # binding has already reset those envs, so the final observation
        # needed for that bootstrap is gone anyway.)
        ended = buf.env_terminals | buf.env_truncations
        buf.ended[t].copy_(ended)
        state = policy.mask_state(state, ended)  # forget where an episode ended
    return state, time_env


def learn(policy, dist, optimizer, buf, state, cfg, part, update):
    """Advantages for the rollout, then update_epochs passes of minibatch
    gradient steps on the PPO loss. Returns (the losses and statistics
    averaged over the minibatches, the returns the critic was fitted to)."""
    with torch.no_grad():
        _, last_value, _ = policy(buf.env_obs.to(buf.device, torch.float32), state)
        advantages, returns = part["gae"](buf.rewards, buf.values, buf.ended, last_value,
                                          cfg["gamma"], cfg["gae_lambda"])
    N = buf.num_agents
    agents_per_minibatch = N // cfg["minibatches"]
    stats = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "approx_kl": 0.0,
             "clip_fraction": 0.0}
    num_minibatches = 0
    for epoch in range(cfg["update_epochs"]):
        # Minibatches are groups of whole agents: each keeps its T steps
        # in order, which an LSTM needs to replay its memory.
        agent_order = torch.randperm(N, device=buf.device)
        for start in range(0, N, agents_per_minibatch):
            idx = agent_order[start:start + agents_per_minibatch]
            logits, new_values, _ = policy.forward_sequence(
                buf.obs[:, idx], policy.state_rows(buf.start_state, idx), buf.ended[:, idx])
            logits, new_values = logits.reshape(-1, logits.shape[-1]), new_values.reshape(-1)
            actions = buf.actions[:, idx]
            new_logprobs = dist.log_prob(logits, actions.reshape(-1, *actions.shape[2:]))
            mb_advantages = part["normalize"](advantages[:, idx].reshape(-1))
            pg_loss, approx_kl, clip_fraction = part["policy_loss"](
                new_logprobs, buf.logprobs[:, idx].reshape(-1), mb_advantages, cfg["clip_coef"])
            v_loss = part["value_loss"](new_values, buf.values[:, idx].reshape(-1),
                                        returns[:, idx].reshape(-1), cfg["value_clip"])
            ent = part["entropy"](logits)
            loss = pg_loss + cfg["value_coef"] * v_loss - cfg["entropy_coef"] * ent
            check_finite([("loss", loss)], f"update {update}: the {{}} became {loss.item()} "
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
    check_finite(policy.named_parameters(), f"update {update}: policy parameter {{}} became NaN/inf")
    if cfg["obs_norm"]:  # after learning: each rollout and its update see the same statistics
        policy.obs_norm.update(buf.obs)
    return {k: v / num_minibatches for k, v in stats.items()}, returns


def update_metrics(vec, buf, returns, stats, part, times, *, update, global_step, cfg, baseline, lr):
    """The metrics dict of one update (its keys are listed at the top of this file).
    times: wall seconds of the update, of its env steps, its rollout and its learn
    step, and since training started."""
    update_wall, time_env, rollout_time, learn_time, elapsed = times
    log = vec.log()
    score = log.get("score")
    return {"update": update, "global_step": global_step,
            "total_timesteps": cfg["total_timesteps"],
            "elapsed_s": elapsed,
            "agent_steps_per_s": buf.horizon * buf.num_agents / update_wall,
            "time_env": time_env / update_wall,
            "time_forward": (rollout_time - time_env) / update_wall,
            "time_learn": learn_time / update_wall,
            "score": score, "baseline_score": baseline,
            "ratio": None if score is None or not baseline else score / baseline,
            "episode_length": log.get("episode_length"), "episodes": log.get("episodes", 0),
            **stats,
            "explained_variance": part["explained_variance"](buf.values, returns),
            "learning_rate": lr}


def learning_rate_at(cfg, global_step, elapsed):
    """The learning rate of the next update. Annealed by whichever budget runs
    out first (steps or time), so a time-limited run still ends with a small one."""
    if not cfg["anneal_lr"]:
        return cfg["learning_rate"]
    progress = global_step / cfg["total_timesteps"]
    if cfg["time_limit"]:
        progress = max(progress, elapsed / cfg["time_limit"])
    return cfg["learning_rate"] * (1.0 - progress)


def stop_reason(stop, cfg, elapsed):
    """Why training should end before the next update, or None to go on."""
    if should_stop(stop):
        return "stop"
    if cfg["time_limit"] and elapsed >= cfg["time_limit"]:
        return "time_limit"
    return None


# ---- Training --------------------------------------------------------------------
def train(env, seed=1, *, out="runs", resume=None, callback=None, stop=None,
          train_config=None, env_config=None, policy_config=None, parts=None, **overrides):
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
    parts     {name: function} in place of the trainer's own math (see losses.PARTS), e.g.
              parts={"gae": my_gae, "normalize": lambda x: x}
    **overrides: flat train or policy settings, e.g. learning_rate=3e-4, hidden_size=64

    Ctrl-C (KeyboardInterrupt) saves a checkpoint and returns normally with
    stopped_by="interrupt" and score None (no final evaluation).
    A NaN/inf loss or parameter raises TrainingDiverged and keeps the last
    good checkpoint on disk.
    """
    # ---- Setup: settings, then the env built once, then the policy ----
    wall_start = time.perf_counter()
    part = resolve_parts(parts)
    resumed = load_checkpoint(resume) if resume else None
    if resumed and Path(str(resumed["env"])).name != Path(str(env)).name:
        raise ConfigError(f"checkpoint {resume} was trained on {resumed['env']!r}, not {env!r}")
    config = resolve_config(env, resumed["config"] if resumed else None, train_config, env_config,
                            policy_config, overrides)
    cfg = config["train"]
    device = device_for(cfg)
    built = build(env, config=config["env"])  # once: every VecEnv of this run comes from it
    saved_at = checkpoint_path(out, built.name, seed)  # checked writable before training
    vec = make_training_envs(built, config, seed)
    dist = distribution_for(vec)  # how the policy's outputs become actions: Categorical or Gaussian
    if not parts or "entropy" not in parts:
        part["entropy"] = dist.entropy
    policy = policy_for_env(config, vec).to(device)
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg["learning_rate"], eps=cfg["adam_eps"])
    metrics, update, global_step = restore(resumed, resume, policy, optimizer) if resumed else ([], 0, 0)
    baseline = baseline_score(built, config["env"], cfg["eval_episodes"], cfg["eval_seed"])
    buf = Rollout(vec, cfg["horizon"], device, dist)
    # A resumed run starts fresh episodes on a new seed rather than replaying old ones.
    vec.reset(seed=seed + 1_000_003 * update)
    state = policy.initial_state(vec.num_agents, device)  # None for a policy without memory
    if cfg["obs_norm"] and not resumed:  # running mean/std: start from the first observations
        policy.obs_norm.update(buf.env_obs.to(device, torch.float32))

    def save():
        return save_checkpoint(saved_at, env, seed, config, policy, optimizer, metrics,
                               update, global_step, vec.obs_size, dist.num_outputs, dist.continuous)

    # ---- The loop: rollout, learn, log ----
    train_start = mark = time.perf_counter()  # mark: end of the previous update (its wall time includes the callback)
    run_steps = 0  # agent steps in this call (resumed runs count from here)
    stopped_by, last_saved_update = "total_timesteps", None
    try:
        while global_step < cfg["total_timesteps"]:
            elapsed = time.perf_counter() - train_start
            reason = stop_reason(stop, cfg, elapsed)
            if reason:
                stopped_by = reason
                break
            update += 1
            check_finite(policy.named_parameters(), f"update {update}: policy parameter {{}} is "
                         f"NaN/inf before the rollout (changed outside training?)")
            lr = learning_rate_at(cfg, global_step, elapsed)
            for group in optimizer.param_groups:
                group["lr"] = lr

            rollout_start = time.perf_counter()
            state, time_env = rollout(policy, dist, vec, buf, state, update)
            rollout_time = time.perf_counter() - rollout_start
            global_step += buf.horizon * buf.num_agents
            run_steps += buf.horizon * buf.num_agents

            learn_start = time.perf_counter()
            stats, returns = learn(policy, dist, optimizer, buf, state, cfg, part, update)
            now = time.perf_counter()
            times = (now - mark, time_env, rollout_time, now - learn_start, now - train_start)
            mark = now

            m = update_metrics(vec, buf, returns, stats, part, times, update=update,
                               global_step=global_step, cfg=cfg, baseline=baseline, lr=lr)
            metrics.append(m)
            if update % cfg["checkpoint_interval"] == 0:
                save()
                last_saved_update = update
            if callback is not None:
                callback(m)
    except KeyboardInterrupt:
        stopped_by = "interrupt"
    except TrainingDiverged as e:
        kept = saved_at if saved_at.exists() else None
        vec.close()
        raise TrainingDiverged(f"{e}. Training stopped; "
                               + (f"the last good checkpoint is kept at {kept}" if kept else
                                  "no checkpoint had been saved yet")) from None

    # ---- The end: save, then score on the fixed evaluation seeds ----
    # Save the end state, unless the params went bad mid-update (e.g. Ctrl-C
    # while a NaN was being written): then keep the previous good checkpoint.
    if nonfinite(policy.named_parameters()) is None:
        if last_saved_update != update or not saved_at.exists():
            save()
    train_s = time.perf_counter() - train_start
    vec.close()

    score = length = None
    if stopped_by != "interrupt":  # Ctrl-C means "get me out": skip the final evaluation
        score, length = evaluate_policy(policy, built, config["env"], cfg["eval_episodes"],
                                        cfg["eval_seed"], device=device)
    ratio = None if score is None or not baseline else score / baseline
    return {"env": str(env), "seed": seed, "score": score, "baseline_score": baseline,
            "ratio": ratio, "solved": ratio is not None and ratio >= SOLVED_RATIO,
            "episode_length": length, "wall_s": time.perf_counter() - wall_start,
            "train_s": train_s, "agent_steps_per_s": run_steps / train_s if train_s else 0.0,
            "global_step": global_step, "updates": update, "stopped_by": stopped_by,
            "checkpoint": str(saved_at) if saved_at.exists() else None,
            "config": config, "metrics": metrics}


def make_training_envs(built, config, seed):
    """The run's VecEnv. A one-env probe first checks that the batch fits (the
    minibatches divide the agents, the buffers fit in memory) before the big
    allocation; torch is seeded here, before the policy's weights are drawn."""
    cfg = config["train"]
    probe = make(built, num_envs=1, seed=seed, **config["env"])  # sizes per env, tiny
    check_batch(cfg, probe)
    probe.close()
    torch.manual_seed(seed)
    if cfg["torch_threads"] > 0:
        torch.set_num_threads(cfg["torch_threads"])
    return make(built, num_envs=cfg["num_envs"], seed=seed, threads=cfg["env_threads"], **config["env"])


def restore(resumed, path, policy, optimizer):
    """Loads a resumed checkpoint's weights and optimizer state; returns its
    (metrics so far, update count, global step)."""
    load_weights(policy, resumed["model"], f"checkpoint {path}")
    try:
        optimizer.load_state_dict(resumed["optimizer"])
    except (ValueError, KeyError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint {path}: its optimizer state does not fit its "
                              f"weights ({e})") from None
    return list(resumed["metrics"]), resumed["update"], resumed["global_step"]
