"""puffer_learn: learn fast reinforcement learning by doing it.

    import puffer_learn
    env = puffer_learn.make("target", num_envs=512, seed=1)
    obs = env.reset()
    obs, rewards, terminals, truncations, info = env.step(actions)
    frame = env.render(0)
    run = puffer_learn.train("target", seed=1)   # PPO; see puffer_learn/train.py
    study = puffer_learn.sweep("target", trials=8, budget=500_000)  # Optuna; see sweep.py
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

from puffer_learn.build import CompileError, ContractError, EnvCrashError, packaged_envs  # noqa: E402
from puffer_learn.vector import VecEnv, make  # noqa: E402
from puffer_learn.render import record_episode, save_gif  # noqa: E402
# The names `train` and `evaluate` are the functions; the trainer's other
# pieces are importable as `from puffer_learn.train import compute_gae, ...`.
from puffer_learn.config import SOLVED_RATIO, ConfigError  # noqa: E402
from puffer_learn.evaluation import EpisodesNeverEnd  # noqa: E402
from puffer_learn.train import TrainingDiverged, evaluate, train  # noqa: E402
from puffer_learn.sweep import SweepError, SweepInterrupted, sweep  # noqa: E402

__version__ = "0.1.0"
__all__ = ["make", "VecEnv", "packaged_envs", "CompileError", "ContractError", "EnvCrashError",
           "record_episode", "save_gif", "train", "evaluate", "TrainingDiverged", "ConfigError",
           "EpisodesNeverEnd", "SOLVED_RATIO", "sweep", "SweepError", "SweepInterrupted"]
