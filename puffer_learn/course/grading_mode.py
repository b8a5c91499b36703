"""Grading mode: short training runs while a grader executes a lesson.

nbgrader sets NBGRADER_EXECUTION in the kernel it grades with (`autograde`,
or `validate`), and so does `puffer-learn grade`. A lesson passes its
training settings through budget():

    run = puffer_learn.train("target", seed=1, **budget(total_timesteps=400_000))

Normally budget() returns the settings unchanged, so the lesson runs as
written. While grading it returns GRADING_BUDGET instead: a few updates on a
few envs, enough to run the student's code (their env, their loss functions)
through the trainer, so a lesson grades in seconds. Points come from the
exercise checks, never from how well a short run learned.
"""
import os

# Four updates of 8 envs x 32 steps, a short evaluation: about a second per run.
GRADING_BUDGET = {"total_timesteps": 8192, "num_envs": 8, "eval_episodes": 4}


def grading():
    """Whether a grader is executing this notebook."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def budget(**settings):
    """The training settings a lesson gives train(): unchanged, or the small
    grading budget in place of them while a grader executes the notebook."""
    if not grading():
        return settings
    kept = {key: value for key, value in settings.items() if key not in GRADING_BUDGET}
    return {**kept, **GRADING_BUDGET}
