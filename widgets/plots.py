"""Figures for the widgets, drawn with matplotlib's object API (no pyplot
global state, so a background training thread can draw safely) and returned
as PNG bytes: the same bytes serve the live widget and the static snapshot."""
import io

import numpy as np
from matplotlib.figure import Figure

from puffer_learn.training.config import SOLVED_RATIO

COLORS = ["#0bb", "#e6a100", "#c33", "#58c", "#7a4", "#a5c"]


def to_png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi, bbox_inches="tight")
    return buffer.getvalue()


def learning_curve_png(history, title=""):
    """Ratio to the scripted baseline (or the raw score) over agent steps."""
    fig = Figure(figsize=(6.4, 3.0), dpi=80)
    ax = fig.add_subplot()
    points = [m for m in history if m.get("score") is not None]
    use_ratio = any(m.get("ratio") is not None for m in points)
    key = "ratio" if use_ratio else "score"
    if points:
        steps = np.array([m["global_step"] for m in points]) / 1e6
        ax.plot(steps, [m[key] for m in points], color=COLORS[0], lw=2, label="agent")
    if use_ratio:
        ax.axhline(1.0, color=COLORS[1], ls="--", lw=1, label="scripted baseline")
        ax.axhline(SOLVED_RATIO, color="gray", ls=":", lw=1, label=f"solved ({SOLVED_RATIO})")
        ax.set_ylabel("score / baseline")
    else:
        ax.set_ylabel("episode score")
    ax.set_xlabel("agent steps (millions)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8)
    return to_png(fig)


def losses_png(history):
    fig = Figure(figsize=(6.4, 2.4), dpi=80)
    axes = fig.subplots(1, 3)
    steps = np.array([m["global_step"] for m in history]) / 1e6
    for ax, key in zip(axes, ["policy_loss", "value_loss", "entropy"]):
        ax.plot(steps, [m.get(key, np.nan) for m in history], color=COLORS[3])
        ax.set_title(key.replace("_", " "), fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return to_png(fig)


def comparison_png(curves, metric="ratio", title=""):
    """curves: {label: [ (steps array, values array) per seed ]}. Draws the
    mean per label with a band from the worst to the best seed."""
    fig = Figure(figsize=(6.4, 3.2), dpi=80)
    ax = fig.add_subplot()
    for color, (label, runs) in zip(COLORS * 4, curves.items()):
        runs = [(np.asarray(s, float), np.asarray(v, float)) for s, v in runs if len(s)]
        if not runs:
            continue
        # Put every seed on a common step grid so they can be averaged.
        end = min(s[-1] for s, _ in runs)
        grid = np.linspace(0, end, 50)
        values = np.array([np.interp(grid, s, v) for s, v in runs])
        ax.plot(grid / 1e6, values.mean(0), color=color, lw=2, label=f"{label} ({len(runs)} seeds)")
        ax.fill_between(grid / 1e6, values.min(0), values.max(0), color=color, alpha=0.2)
    if metric == "ratio":
        ax.axhline(1.0, color="gray", ls="--", lw=1)
    ax.set_xlabel("agent steps (millions)")
    ax.set_ylabel(metric)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return to_png(fig)
