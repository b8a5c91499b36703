"""The experiments of lessons 2-4, measured with the package's own trainer.

    python bench/lesson_experiments.py                  # all four, 3 seeds
    python bench/lesson_experiments.py --only sorting --seeds 1 2
    python bench/lesson_experiments.py --budget 0.5     # half the step budgets

Every variant of an experiment trains with the same PPO settings (the env's
train.toml) and the same agent-step budget; only what the variant names
differs. Experiments:

  normalization  asteroids, MLP, sorted:      obs_mode raw vs normalized
  sorting        asteroids, MLP, normalized:  entity_order unsorted vs sorted
  entity         asteroids, normalized, unsorted: the entity encoder vs the MLP
  frameskip      breakout, MLP: the budget fixed is agent steps (decisions).
                 k4        frame_skip 4, gamma 0.99 per step
                 k1        frame_skip 1, the same decisions (a quarter of the game time)
                 k1_frames frame_skip 1, 4x the decisions: the same game time as k4
                 k1_gamma  frame_skip 1, gamma 0.99 ** (1/4) per step: k4's horizon in
                           frames, with k1's decisions (separates horizon from decisions)
                 speed4    speed 4, frame_skip 1: the coarser game, same game time as k4

"a beats b" on a seed = a higher final ratio (the final 100-episode
evaluation against the scripted baseline) AND a higher area under the
learning curve (mean ratio over the run). A run is deterministic given its
settings and seed, so a run shared by two experiments (normalized + sorted +
MLP; unsorted + MLP) is trained once and reused.

Prints a table per experiment; the LAST stdout line is one JSON object.
Wall-clock numbers (steps/s, time to reach a ratio) assume nothing else is
using the CPU: each run records how many cores other processes used while it
ran ("other_load"), and the JSON carries a warning when that was high.
"""
import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from puffer_learn.course.experiments import Comparison, compare  # noqa: E402

MLP_SETTINGS = {"name": "mlp", "hidden_size": 64, "layers": 2}   # = the envs' train.toml
ENTITY_SETTINGS = {"name": "entity", "hidden_size": 64, "layers": 2, "entity_hidden": 32}

# name -> (env, agent-step budget per run, {variant: train() kwargs}, (a, b) for "a beats b")
EXPERIMENTS = {
    "normalization": ("asteroids", 1_500_000, {
        "raw":        {"env_config": {"obs_mode": "raw", "entity_order": "sorted"}},
        "normalized": {"env_config": {"obs_mode": "normalized", "entity_order": "sorted"}},
    }, ("normalized", "raw")),
    "sorting": ("asteroids", 1_500_000, {
        "unsorted": {"env_config": {"obs_mode": "normalized", "entity_order": "unsorted"}},
        "sorted":   {"env_config": {"obs_mode": "normalized", "entity_order": "sorted"}},
    }, ("sorted", "unsorted")),
    "entity": ("asteroids", 1_500_000, {
        "mlp_unsorted":    {"env_config": {"obs_mode": "normalized", "entity_order": "unsorted"}},
        "entity_unsorted": {"env_config": {"obs_mode": "normalized", "entity_order": "unsorted"},
                            "policy_config": ENTITY_SETTINGS},
    }, ("entity_unsorted", "mlp_unsorted")),
    "frameskip": ("breakout", 1_000_000, {
        "k4":        {"env_config": {"frame_skip": 4}},
        "k1":        {"env_config": {"frame_skip": 1}},
        "k1_frames": {"env_config": {"frame_skip": 1}, "budget_x": 4},
        "k1_gamma":  {"env_config": {"frame_skip": 1}, "gamma": 0.99 ** 0.25},
        "speed4":    {"env_config": {"frame_skip": 1, "speed": 4}},
    }, ("k4", "k1")),
}
FRAMESKIP_TARGET = 0.75  # "reached" = a ratio this high, averaged over 3 consecutive logged updates
REACH_WINDOW = 3


def busy_seconds():
    """CPU seconds all processes have spent (user + system), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [float(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    user, nice, system, idle, iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def own_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def reach_time(metrics, target, window=REACH_WINDOW):
    """Training seconds until the mean ratio of `window` consecutive logged
    updates first reaches `target`, or None if it never does."""
    logged = [m for m in metrics if m.get("ratio") is not None]
    for i in range(window - 1, len(logged)):
        if np.mean([m["ratio"] for m in logged[i - window + 1:i + 1]]) >= target:
            return logged[i]["elapsed_s"]
    return None


_cache = {}


def run_one(env, label, settings, seed, budget):
    """One training via experiments.compare, with its per-update metrics kept."""
    key = (env, json.dumps({**settings, "policy_config": settings.get("policy_config", MLP_SETTINGS)},
                           sort_keys=True), seed, budget)
    if key in _cache:
        return {**_cache[key], "variant": label, "reused": True}
    metrics = []
    busy0, own0, t0 = busy_seconds(), own_seconds(), time.perf_counter()
    result = compare(env, {label: settings}, seeds=[seed], total_timesteps=budget,
                     on_update=lambda v, s, m: metrics.append(m), out="runs/lesson_experiments")
    wall = time.perf_counter() - t0
    row = dict(result.rows[0])
    other = None if busy0 is None else max(0.0, (busy_seconds() - busy0) - (own_seconds() - own0)) / wall
    row.update(
        train_sps=float(np.median([m["agent_steps_per_s"] for m in metrics])),
        train_s=metrics[-1]["elapsed_s"], metrics=metrics, curve=result.curves[label][0],
        other_load=other, reused=False)
    _cache[key] = row
    return row


def clean(x):
    """JSON-safe: NaN/inf (e.g. the AUC of a run with no finished episode) become null."""
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return round(float(x), 4) if np.isfinite(x) else None
    return x


def fmt(x, spec=".3f"):
    return "-" if x is None else format(x, spec)


def run_experiment(name, seeds, scale):
    env, budget, variants, (a, b) = EXPERIMENTS[name]
    budget = int(budget * scale)
    print(f"\n== {name}: {env}, {budget:,} agent steps per run, seeds {list(seeds)} ==", flush=True)
    comp = Comparison(curves={label: [] for label in variants})
    runs = {}
    for label, settings in variants.items():
        settings = dict(settings)
        run_budget = budget * settings.pop("budget_x", 1)  # a variant may train longer
        for seed in seeds:
            row = run_one(env, label, settings, seed, run_budget)
            runs[(label, seed)] = row
            comp.rows.append({k: v for k, v in row.items() if k not in ("metrics", "curve")})
            comp.curves[label].append(row["curve"])
            note = " (same run as above, reused)" if row["reused"] else ""
            load = "" if not row["other_load"] or row["other_load"] < 0.25 else \
                f"  [other processes used {row['other_load']:.1f} cores: times inflated]"
            print(f"  {label:16s} seed {seed}: final ratio {row['final_ratio']:6.3f}  AUC {row['auc']:6.3f}"
                  f"  {row['train_sps']:9,.0f} agent-steps/s  train {row['train_s']:5.1f} s"
                  f"  {row['global_step']:,} agent steps{note}{load}", flush=True)
    print(f"  {'variant':16s} {'final (mean)':>12s} {'min':>7s} {'max':>7s} {'AUC':>7s} {'steps/s':>10s}")
    for t in comp.table():
        sps = np.mean([runs[(t['variant'], s)]["train_sps"] for s in seeds])
        print(f"  {t['variant']:16s} {t['final_ratio_mean']:12.3f} {t['final_ratio_min']:7.3f} "
              f"{t['final_ratio_max']:7.3f} {t['auc_mean']:7.3f} {sps:10,.0f}")
    final, auc = comp.beats(a, b, "final_ratio"), comp.beats(a, b, "auc")
    wins = [f and u for f, u in zip(final, auc)]
    print(f"  {a} beats {b} (final ratio and AUC), per seed: {wins}")
    out = {"env": env, "budget_agent_steps": budget, "beats": wins, "a": a, "b": b,
           "runs": [{k: v for k, v in r.items()
                     if k in ("variant", "seed", "final_ratio", "final_score", "auc", "train_sps",
                              "train_s", "wall_s", "global_step", "other_load", "reused")}
                    for r in runs.values()]}
    if name == "entity":
        ratios = [runs[(a, s)]["train_sps"] / runs[(b, s)]["train_sps"] for s in seeds]
        out["sps_ratio_per_seed"] = [round(r, 3) for r in ratios]
        print(f"  entity encoder agent-steps/s / MLP agent-steps/s: "
              f"{', '.join(f'{r:.2f}' for r in ratios)} (mean {np.mean(ratios):.2f})")
    if name == "frameskip":
        per_seed = []
        k1_runs = {s: runs[("k1_frames", s)] for s in seeds}  # the same game time as k4
        for s in seeds:
            t1 = reach_time(k1_runs[s]["metrics"], FRAMESKIP_TARGET)
            t4 = reach_time(runs[("k4", s)]["metrics"], FRAMESKIP_TARGET)
            lower = t1 is None
            t1_used = k1_runs[s]["train_s"] if lower else t1
            speedup = None if t4 is None else t1_used / t4
            per_seed.append({"seed": s, "k1_reach_s": t1, "k4_reach_s": t4, "k1_train_s": k1_runs[s]["train_s"],
                             "speedup": speedup, "lower_bound": lower})
            print(f"  seed {s}: k=4 reaches ratio {FRAMESKIP_TARGET} after {fmt(t4, '.1f')} s; k=1 "
                  + (f"after {t1:.1f} s" if not lower else
                     f"never within its {t1_used:.1f} s budget") + f" -> speedup "
                  + ("-" if speedup is None else ((">= " if lower else "") + f"{speedup:.1f}x")))
        out["frameskip"] = {"target_ratio": FRAMESKIP_TARGET, "window_updates": REACH_WINDOW,
                            "k1_steps": 4 * budget,
                            "per_seed": per_seed}
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--budget", type=float, default=1.0, help="scale every step budget")
    parser.add_argument("--only", choices=list(EXPERIMENTS), nargs="+", help="run only these")
    args = parser.parse_args(argv)
    names = args.only or list(EXPERIMENTS)
    results = {name: run_experiment(name, args.seeds, args.budget) for name in names}

    summary = {"seeds": args.seeds, "budget_scale": args.budget}
    for name, key in (("normalization", "normalized_beats_raw"), ("sorting", "sorted_beats_unsorted"),
                      ("entity", "entity_beats_unsorted")):
        summary[key] = results[name]["beats"] if name in results else None
    if "entity" in results:
        summary["entity_sps_over_mlp_sps"] = round(float(np.mean(results["entity"]["sps_ratio_per_seed"])), 3)
    else:
        summary["entity_sps_over_mlp_sps"] = None
    summary["frameskip_wall_speedup"] = None
    if "frameskip" in results:
        per = results["frameskip"]["frameskip"]["per_seed"]
        speeds = [p["speedup"] for p in per if p["speedup"] is not None]
        summary["frameskip_wall_speedup"] = round(min(speeds), 2) if speeds else None
        summary["frameskip_wall_speedup_is_lower_bound"] = any(p["lower_bound"] for p in per)
        summary["frameskip_note"] = (
            f"min over seeds of (k=1 training seconds to reach ratio {FRAMESKIP_TARGET}, mean of "
            f"{REACH_WINDOW} logged updates) / (k=4's); k=1 trained for "
            f"{results['frameskip']['frameskip']['k1_steps']:,} agent steps; "
            + ("k=4 never reached it: no speedup measured" if not speeds else
               "k=1 never reached it on some seed, so its full training time is used and the "
               "speedup is a LOWER BOUND" if summary["frameskip_wall_speedup_is_lower_bound"]
               else "both reached it on every seed"))
    loads = [r["other_load"] for res in results.values() for r in res["runs"] if r["other_load"] is not None]
    summary["max_other_load"] = round(max(loads), 2) if loads else None
    if loads and max(loads) >= 0.25:
        summary["warning"] = ("other processes used the CPU during some runs: wall times and "
                              "steps/s of those runs are inflated (final ratios and AUC are not affected)")
    summary["experiments"] = results
    print(json.dumps(clean(summary), allow_nan=False))


if __name__ == "__main__":
    main()
