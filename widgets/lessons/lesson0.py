"""Lesson 0, quickstart (00_quickstart.ipynb): how many puffers one step
moves, and when a run first solves the env."""
from puffer_learn.widgets.exercises import Exercise
from puffer_learn.widgets.lessons.shared import is_int, numbered_hints

LESSON = "00_quickstart.ipynb"


def _check_agents(fn):
    for n in (1, 3, 64, 512):
        got = fn(n)
        if got == 8 * n and not is_int(got):
            return False, f"agents_stepped({n}) returned {got!r}: a count of puffers is a whole number (int)"
        if got != 8 * n:
            return False, f"agents_stepped({n}) returned {got!r}; count the puffers in every arena"
    return True, "one step moves num_envs x 8 puffers"


agents = Exercise("agents", _check_agents, numbered_hints("""
    1. Look at print(env): it says how many agents a vector holds.
    2. env.agents_per_env is the number of puffers in one arena.
    3. Multiply num_envs by the puffers per arena (8 by default)."""),
    number=1, lesson=LESSON, cell="def agents_stepped")


def _check_solve_step(fn):
    metrics = [{"global_step": 100, "ratio": None}, {"global_step": 200, "ratio": 0.5},
               {"global_step": 300, "ratio": None}, {"global_step": 400, "ratio": 0.95},
               {"global_step": 500, "ratio": 0.99}]
    if fn(metrics) != 400:
        return False, f"on a made-up run that first reaches 0.9 at step 400 you returned {fn(metrics)!r}"
    if fn(metrics[:3]) is not None:
        return False, "a run that never reaches the threshold should give None"
    if fn([{"global_step": 10, "ratio": None}]) is not None:
        return False, "updates without finished episodes (ratio None) must be skipped"
    if fn(metrics, threshold=0.97) != 500:
        return False, "use the threshold argument"
    exact = [{"global_step": 100, "ratio": 0.5}, {"global_step": 200, "ratio": 0.9},
             {"global_step": 300, "ratio": 0.95}]
    if fn(exact) != 200:
        return False, (f"a run whose ratio is exactly 0.9 at step 200 gave {fn(exact)!r}: a ratio equal "
                       f"to the threshold counts as reached")
    return True, "you can read a learning curve from the metrics stream"


solve_step = Exercise("steps to solve", _check_solve_step, numbered_hints("""
    1. Walk through the metrics in order and stop at the first good one.
    2. Skip dicts whose 'ratio' is None before comparing.
    3. Return that dict's global_step; after the loop, return None."""),
    number=2, lesson=LESSON, cell="def steps_to_solve")
