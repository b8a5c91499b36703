"""Notebook widgets (installed as puffer_learn.widgets): a live training
dashboard, an env viewer, run comparisons and exercise checks."""
from puffer_learn.widgets.dashboard import TrainingDashboard
from puffer_learn.widgets.exercises import Exercise, compare_envs
from puffer_learn.widgets.viewer import EnvViewer

__all__ = ["TrainingDashboard", "EnvViewer", "Exercise", "compare_envs"]
