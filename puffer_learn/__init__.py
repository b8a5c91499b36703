"""puffer_learn: learn fast reinforcement learning by doing it.

    import puffer_learn
    env = puffer_learn.make("target", num_envs=512, seed=1)
    obs = env.reset()
    obs, rewards, terminals, truncations, info = env.step(actions)
    frame = env.render(0)
    run = puffer_learn.train("target", seed=1)   # PPO; see puffer_learn/training/trainer.py
    study = puffer_learn.sweep("target", trials=8, budget=500_000)  # Optuna; see training/sweep.py

The package in layers, each importing only from the ones above it here:
    cenv/       build C envs (cffi), step them (VecEnv and its backends), render frames
    training/   settings, policies, the PPO trainer, checkpoints, evaluation, sweeps
    export/     a trained policy as C: the weight file, the standalone program, the web page
    course/     lesson tooling: student C checks, experiments, the docs' lesson copies, nbgrader, grading
    cli.py      the puffer-learn command, on top of all of them
"""
import os

# raylib draws into an offscreen software framebuffer: no display needed.
# Must be set before the first window opens.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
# torch's OpenMP threads spin while they wait for work. On a 2-core laptop
# with anything else busy (a browser, the notebook server) the spinning
# threads fight for the cores and training slowed 3-60x in our measurements;
# sleeping waiters cost ~20% on an idle machine and stay steady under load.
# Takes effect only if torch was not imported before puffer_learn.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# The short entries: puffer_learn.make, .train, .evaluate, .sweep and the errors they raise.
from puffer_learn.cenv.build import CompileError, ContractError, EnvCrashError, packaged_envs  # noqa: E402
from puffer_learn.cenv.vector import VecEnv, make  # noqa: E402
from puffer_learn.cenv.render import record_episode, save_gif  # noqa: E402

# The training entries load on first use: torch and optuna take seconds to import
# (6 s under AddressSanitizer), and a process that only builds or steps envs,
# such as a student env's sanitized smoke run, never needs them.
_TRAINING = {"SOLVED_RATIO": "config", "ConfigError": "config", "EpisodesNeverEnd": "evaluation",
             "evaluate": "evaluation", "TrainingDiverged": "trainer", "train": "trainer",
             "SweepError": "sweep", "SweepInterrupted": "sweep", "sweep": "sweep"}


def __getattr__(name):
    if name not in _TRAINING:
        raise AttributeError(f"module 'puffer_learn' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"puffer_learn.training.{_TRAINING[name]}"), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"
__all__ = ["make", "VecEnv", "packaged_envs", "CompileError", "ContractError", "EnvCrashError",
           "record_episode", "save_gif", "train", "evaluate", "TrainingDiverged", "ConfigError",
           "EpisodesNeverEnd", "SOLVED_RATIO", "sweep", "SweepError", "SweepInterrupted"]
