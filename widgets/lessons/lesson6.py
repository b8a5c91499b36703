"""Lesson 6, profile and fix a slow env (06_profile_slow_env.ipynb).

envs/slow_target/slow_target.h is target's game with four faults, each in a
marked section; the student rewrites those sections, assemble puts the
answers in. Each check: the fault's call is gone (read from the answer, for a
message that names it), then the env plays exactly target's game
(compare_envs); the speed itself is measured in the lesson."""
import re

import numpy as np

import puffer_learn
from puffer_learn.cenv.build import strip_comments
from puffer_learn.widgets.exercises import Exercise, compare_envs
from puffer_learn.widgets.lessons.shared import numbered_hints, require_each, section_assembler

LESSON = "06_profile_slow_env.ipynb"
SLOW_PARTS = ("background", "score", "observations", "timed_step")
SLOW_PATH = "slow_target/slow_target.h"
# ex.assemble(score=SCORE): slow_target.h with some sections replaced by
# yours; sections you leave out stay slow.
assemble = section_assembler(SLOW_PATH, SLOW_PARTS, "section")


def _same_game(name, code):
    ok, message = compare_envs(assemble(**{name: code}), "target", seeds=(1, 2), steps=300)
    if not ok:
        return False, f"the game changed: {message}"
    return True, "same game as target (seeds 1 and 2, 300 steps, an episode end included)"


def _function_body(code, function):
    match = re.search(rf"\b{function}\s*\([^)]*\)\s*\{{(.*?)^\}}", code, re.S | re.M)
    return None if match is None else match.group(1)


def _check_background(code):
    code, answer = strip_comments(code), code
    for function in ("env_init", "env_reset", "draw_background"):
        if _function_body(code, function) is None:
            return False, f"keep all three functions of the section: {function} is missing"
    if "build_background" in _function_body(code, "env_reset"):
        return False, "env_reset still builds the background: every episode pays for it again"
    if "build_background" not in code:
        return False, ("nothing builds the background any more, so env_render would draw garbage: "
                       "build it once (in env_init, or the first time draw_background runs)")
    ok, message = _same_game("background", answer)
    if not ok:
        return ok, message

    frames = []
    for env in (assemble(background=answer), "slow_target"):
        vec = puffer_learn.make(env, num_envs=1, seed=3, name="student_env")
        vec.reset()
        frames.append(vec.render(0))
        vec.close()
    if not np.array_equal(frames[0], frames[1]):
        return False, "the game is the same, but the picture differs from slow_target's: is the background built before it is drawn?"
    return True, message + "; the same picture; no background work in env_reset"


background = Exercise("build the background once", _check_background, numbered_hints("""
    1. The picture depends only on arena_size: it is the same for every episode.
    2. Work that depends only on the settings belongs where it runs once: env_init, or the first call that needs
       it.
    3. Move the allocation and the build_background call out of env_reset; draw_background can build it the
       first time, when env->background is still NULL (training never draws)."""),
    number=1, lesson=LESSON, cell="BACKGROUND =")


def _check_score(code):
    if re.search(r"\b(for|while)\b", strip_comments(code)):
        return False, ("count_stars still loops: each tick adds one reward to a puffer's total, "
                       "so no loop over the history is needed")
    return _same_game("score", code)


score = Exercise("a running total", _check_score, numbered_hints("""
    1. Each tick a puffer's total grows by exactly this tick's reward.
    2. Keep the total in env->puffers[a].eaten and add to it; env_reset already sets it to 0.
    3. One line: add reward to the puffer's eaten. The history is no longer needed."""),
    number=2, lesson=LESSON, cell="SCORE =")


ALLOCATION = re.compile(r"\b(malloc|calloc|realloc|free)\s*\(")


def _check_observations(code):
    found = ALLOCATION.search(strip_comments(code))
    if found:
        return False, (f"write_observations still calls {found.group(1)} for every puffer, every "
                       f"step: scratch this small belongs on the stack")
    return _same_game("observations", code)


observations = Exercise("no allocation per step", _check_observations, numbered_hints("""
    1. 16 vectors of 4 floats is 256 bytes: small enough for the stack.
    2. Declare the two scratch arrays as local arrays (f4 name[16]) instead of calloc, once, before the loop
       over puffers; they need no free.
    3. Lanes past n may hold anything finite: zero them once when you declare them ({0})."""),
    number=3, lesson=LESSON, cell="OBSERVATIONS =")


CLOCK = re.compile(r"\b(clock|clock_gettime|gettimeofday|time)\s*\(")


def _check_timed_step(code):
    found = CLOCK.search(strip_comments(code))
    if found:
        return False, f"env_step still calls {found.group(1)}() every step"
    return _same_game("timed_step", code)


timed_step = Exercise("no clock in the step", _check_timed_step, numbered_hints("""
    1. What does env_step do besides the game? Is any of it needed for the game?
    2. Time is counted in ticks inside an env; measure speed from outside (bench, a profiler).
    3. env_step only has to run the game's tick and return whether the episode ended."""),
    number=4, lesson=LESSON, cell="TIMED_STEP =")

require_all = require_each(background, score, observations, timed_step)


def env_share(metrics):
    """The env's share of a run's training time: seconds in env.step() over
    all seconds, summed over updates (not the mean of per-update shares: an
    update where every env resets at once weighs what it cost)."""
    times = [m["elapsed_s"] for m in metrics]
    walls = [t - s for s, t in zip([0.0] + times[:-1], times)]
    return sum(m["time_env"] * w for m, w in zip(metrics, walls)) / sum(walls)
