"""Lesson 4, frame skip (04_frame_skip.ipynb): how many decisions an episode
takes, and the discount per step that keeps the same horizon."""
import numpy as np

from puffer_learn.widgets.exercises import Exercise
from puffer_learn.widgets.lessons.shared import is_int, numbered_hints

LESSON = "04_frame_skip.ipynb"


def _check_decisions(fn):
    for frames, k, want in ((2048, 1, 2048), (2048, 4, 512), (100, 3, 34), (7, 8, 1)):
        got = fn(frames, k)
        if got == want and not is_int(got):
            return False, f"decisions({frames}, {k}) gave {got!r}: a number of steps is a whole number (int)"
        if got is not None and got > frames:
            return False, f"decisions({frames}, {k}) gave {got!r}: frame skip means fewer decisions, not more"
        if got != want:
            return False, f"decisions({frames}, {k}) gave {got!r}; a last partial step still counts"
    return True, "k times fewer decisions: a k times shorter horizon for credit assignment"


decisions = Exercise("decisions per episode", _check_decisions, numbered_hints("""
    1. Each step repeats one action for frame_skip frames.
    2. Divide and round up.
    3. math.ceil of the division, or floor division of the negated numbers."""),
    number=1, lesson=LESSON, cell="def decisions")


def _check_gamma(fn):
    for gamma, k in ((0.99, 4), (0.999, 8), (0.9, 1)):
        want = gamma ** k
        got = fn(gamma, k)
        if got is None or not np.isclose(got, want, rtol=1e-9):
            return False, f"gamma_per_step({gamma}, {k}) gave {got!r}; discounting compounds every frame"
    return True, "the same horizon in frames needs gamma ** k per step"


gamma = Exercise("discount per step", _check_gamma, numbered_hints("""
    1. A reward k frames away is discounted once per frame at gamma per frame.
    2. One step now spans k frames: the per-frame discount applies k times."""),
    number=2, lesson=LESSON, cell="def gamma_per_step")
