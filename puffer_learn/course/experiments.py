"""A/B experiments: the same training for several configs x seeds under one
fixed budget, returning learning curves and final ratios as a table.

    result = compare("asteroids", {
        "raw":        {"env_config": {"obs_mode": "raw"}},
        "normalized": {"env_config": {"obs_mode": "normalized"}},
    }, seeds=[1, 2, 3], total_timesteps=1_000_000)
    result.beats("normalized", "raw")       # [True, True, True]: one per seed
    result                                   # shows the table in a notebook

Each variant is a dict of puffer_learn.train keyword arguments (env_config,
policy_config, train settings). Every run gets the same budget; nothing else
differs unless the variant says so.
"""
import html
from dataclasses import dataclass, field

import numpy as np


def curve_of(metrics, key="ratio"):
    """(agent steps, values) over the updates that logged an episode."""
    points = [(m["global_step"], m[key]) for m in metrics if m.get(key) is not None]
    if not points:
        return np.zeros(0), np.zeros(0)
    steps, values = zip(*points)
    return np.asarray(steps, float), np.asarray(values, float)


def area_under_curve(steps, values):
    """Mean value over the run (area divided by the steps covered): higher
    means the agent got good earlier, not only at the end."""
    if len(steps) < 2:
        return float(values[0]) if len(values) else float("nan")
    area = np.sum((values[1:] + values[:-1]) / 2 * np.diff(steps))  # trapezoids
    return float(area / (steps[-1] - steps[0]))


@dataclass
class Comparison:
    rows: list = field(default_factory=list)      # one dict per (variant, seed)
    curves: dict = field(default_factory=dict)    # variant -> [(steps, ratios) per seed]

    def per_seed(self, variant, metric="final_ratio"):
        return {r["seed"]: r[metric] for r in self.rows if r["variant"] == variant}

    def beats(self, a, b, metric="final_ratio"):
        """One boolean per seed: did variant a score higher than variant b?"""
        mine, theirs = self.per_seed(a, metric), self.per_seed(b, metric)
        return [bool(mine[s] > theirs[s]) for s in sorted(mine) if s in theirs]

    def table(self):
        """Per variant: mean / min / max final ratio, mean AUC, agent-steps/s."""
        out = []
        for variant in self.curves:
            rows = [r for r in self.rows if r["variant"] == variant]
            finals = [r["final_ratio"] for r in rows]
            out.append({"variant": variant, "seeds": len(rows),
                        "final_ratio_mean": float(np.mean(finals)),
                        "final_ratio_min": float(np.min(finals)),
                        "final_ratio_max": float(np.max(finals)),
                        "auc_mean": float(np.mean([r["auc"] for r in rows])),
                        "agent_steps_per_s": float(np.mean([r["agent_steps_per_s"] for r in rows])),
                        "wall_s": float(np.mean([r["wall_s"] for r in rows]))})
        return out

    def _repr_html_(self):
        head = ["variant", "seeds", "final ratio (mean)", "min", "max", "AUC", "agent-steps/s", "wall s"]
        cells = "".join(
            f"<tr><td>{html.escape(t['variant'])}</td><td>{t['seeds']}</td>"
            f"<td>{t['final_ratio_mean']:.3f}</td><td>{t['final_ratio_min']:.3f}</td>"
            f"<td>{t['final_ratio_max']:.3f}</td><td>{t['auc_mean']:.3f}</td>"
            f"<td>{t['agent_steps_per_s']:,.0f}</td><td>{t['wall_s']:.1f}</td></tr>" for t in self.table())
        header = "".join(f"<th>{h}</th>" for h in head)
        return f'<table class="pl-comparison"><tr>{header}</tr>{cells}</table>'


def compare(env, variants, seeds=(1, 2, 3), total_timesteps=None, on_update=None, on_run=None,
            out="runs/experiments", **common):
    """Trains every variant on every seed with the same budget.

    on_update(variant, seed, metrics) is called after every update (a live
    plot uses it); on_run(row) after each run. **common: train() arguments
    shared by all variants (e.g. time_limit=None, num_envs=...)."""
    from puffer_learn.training.trainer import train

    if not variants:
        raise ValueError("compare needs at least one variant: {label: {train kwargs}}")
    result = Comparison(curves={label: [] for label in variants})
    budget = {} if total_timesteps is None else {"total_timesteps": total_timesteps}
    for label, settings in variants.items():
        for seed in seeds:
            callback = None
            if on_update is not None:
                callback = (lambda m, label=label, seed=seed: on_update(label, seed, m))
            run = train(env, seed=seed, out=f"{out}/{label}", callback=callback,
                        **{**common, **budget, **settings})
            steps, ratios = curve_of(run["metrics"])
            result.curves[label].append((steps, ratios))
            row = {"variant": label, "seed": seed, "final_ratio": run["ratio"],
                   "final_score": run["score"], "auc": area_under_curve(steps, ratios),
                   "agent_steps_per_s": run["agent_steps_per_s"], "wall_s": run["wall_s"],
                   "global_step": run["global_step"]}
            result.rows.append(row)
            if on_run is not None:
                on_run(row)
    return result
