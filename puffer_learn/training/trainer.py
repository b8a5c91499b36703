"""PPO in one file: read it top to bottom.

    result = puffer_learn.train("target", seed=1)
    result = puffer_learn.train("target", seed=1, total_timesteps=2_000_000,
                                learning_rate=3e-3, env_config={"num_stars": 6},
                                callback=print)

The file, in order: the math (GAE and the three PPO loss terms, as small
testable functions), then train(): collect a rollout from the C env's shared
buffers, learn from it, repeat. The settings and their defaults are in
config.py (TRAIN_DEFAULTS), saving and loading in checkpoints.py, the
baseline and the final score in evaluation.py, the networks in policies.py.

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
  entropy             mean policy entropy in nats (log(num_actions) = uniform)
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
                                          make_policy, resolve_config)
from puffer_learn.training.errors import nonfinite
from puffer_learn.training.evaluation import baseline_score, evaluate_policy
from puffer_learn.training.policies import entropy, log_prob, sample_actions


# ---- The math ------------------------------------------------------------------
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


def explained_variance(values, returns):
    var = returns.var()
    return float("nan") if var == 0 else float(1 - (returns - values).var() / var)


# ---- Swappable parts -------------------------------------------------------------
# train(env, parts={"gae": my_gae}) runs the trainer with your function in place
# of ours (lesson 8 swaps in the student's own, or a deliberately broken one).
# A part takes the same arguments and returns the same things as the function
# it replaces. Parts are not saved in the checkpoint: a resumed run uses ours.
PARTS = {"gae": compute_gae, "normalize": normalize, "policy_loss": clipped_policy_loss,
         "value_loss": value_loss, "entropy": entropy, "explained_variance": explained_variance}


def resolve_parts(parts):
    """PARTS with the given ones swapped in; a bad name or value fails here."""
    if parts is None:
        return dict(PARTS)
    if not isinstance(parts, dict):
        raise ConfigError(f"parts must be a dict such as {{'gae': my_gae}}, got {type(parts).__name__}")
    for name, fn in parts.items():
        if name not in PARTS:
            raise ConfigError(f"unknown trainer part {name!r}; the parts are: {', '.join(PARTS)}")
        if not callable(fn):
            raise ConfigError(f"trainer part {name!r} must be a function, got {fn!r}")
    return {**PARTS, **parts}


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
    parts     {name: function} in place of the trainer's own math (see PARTS), e.g.
              parts={"gae": my_gae, "normalize": lambda x: x}
    **overrides: flat train or policy settings, e.g. learning_rate=3e-4, hidden_size=64

    Ctrl-C (KeyboardInterrupt) saves a checkpoint and returns normally with
    stopped_by="interrupt" and score None (no final evaluation).
    A NaN/inf loss or parameter raises TrainingDiverged and keeps the last
    good checkpoint on disk.
    """
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
    probe = make(built, num_envs=1, seed=seed, **config["env"])  # sizes per env, tiny
    check_batch(cfg, probe)  # minibatches divide the agents, buffers fit in memory
    probe.close()

    torch.manual_seed(seed)
    if cfg["torch_threads"] > 0:
        torch.set_num_threads(cfg["torch_threads"])
    vec = make(built, num_envs=cfg["num_envs"], seed=seed, threads=cfg["env_threads"], **config["env"])
    policy = make_policy(config, vec).to(device)
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg["learning_rate"], eps=cfg["adam_eps"])
    metrics, update, global_step = [], 0, 0
    if resumed:
        load_weights(policy, resumed["model"], f"checkpoint {resume}")
        try:
            optimizer.load_state_dict(resumed["optimizer"])
        except (ValueError, KeyError, RuntimeError) as e:
            raise CheckpointError(f"checkpoint {resume}: its optimizer state does not fit its "
                              f"weights ({e})") from None
        metrics, update, global_step = list(resumed["metrics"]), resumed["update"], resumed["global_step"]

    baseline = baseline_score(built, config["env"], cfg["eval_episodes"], cfg["eval_seed"])

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
    state = policy.initial_state(N, device)  # None for a policy without memory
    if cfg["obs_norm"] and not resumed:  # running mean/std: start from the first observations
        policy.obs_norm.update(env_obs.to(device, torch.float32))

    def save():
        return save_checkpoint(saved_at, env, seed, config, policy, optimizer, metrics,
                               update, global_step, vec.obs_size, vec.num_actions)

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
            check_finite(policy.named_parameters(), f"update {update}: policy parameter {{}} is "
                         f"NaN/inf before the rollout (changed outside training?)")
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
            start_state = state  # the learn step replays the rollout from here
            for t in range(T):
                with torch.no_grad():
                    obs_buf[t].copy_(env_obs)  # float32 whatever the env's obs dtype
                    logits, value, state = policy(obs_buf[t], state)
                    if nonfinite([("logits", logits)]):
                        culprit = ("the env wrote NaN/inf observations" if nonfinite([("obs", obs_buf[t])])
                                   else "the policy's output")
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
                state = policy.mask_state(state, ended)  # forget where an episode ended
            rollout_time = time.perf_counter() - rollout_start
            global_step += T * N
            run_steps += T * N

            # ---- Learn ----
            learn_start = time.perf_counter()
            with torch.no_grad():
                _, last_value, _ = policy(env_obs.to(device, torch.float32), state)
                advantages, returns = part["gae"](rewards_buf, values_buf, ended_buf, last_value,
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
                    logits, new_values, _ = policy.forward_sequence(
                        obs_buf[:, idx], policy.state_rows(start_state, idx), ended_buf[:, idx])
                    logits, new_values = logits.reshape(-1, logits.shape[-1]), new_values.reshape(-1)
                    new_logprobs = log_prob(logits, actions_buf[:, idx].reshape(-1))
                    mb_advantages = part["normalize"](advantages[:, idx].reshape(-1))
                    pg_loss, approx_kl, clip_fraction = part["policy_loss"](
                        new_logprobs, logprobs_buf[:, idx].reshape(-1), mb_advantages, cfg["clip_coef"])
                    v_loss = part["value_loss"](new_values, values_buf[:, idx].reshape(-1),
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
                policy.obs_norm.update(obs_buf)
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
                 "explained_variance": part["explained_variance"](values_buf, returns),
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
        kept = saved_at if saved_at.exists() else None
        vec.close()
        raise TrainingDiverged(f"{e}. Training stopped; "
                               + (f"the last good checkpoint is kept at {kept}" if kept else
                                  "no checkpoint had been saved yet")) from None

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
