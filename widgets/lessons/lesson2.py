"""Lesson 2, observation normalization (02_observation_normalization.ipynb):
offsets in a wrapped arena, a normalized object row of asteroids' observation
in C, and timers in ticks."""
import numpy as np

from puffer_learn.widgets.exercises import Exercise, compare_envs
from puffer_learn.widgets.lessons.shared import is_int, numbered_hints, section_assembler

LESSON = "02_observation_normalization.ipynb"


def _check_relative(fn):
    cases = [((100, 120, 256), 20 / 128), ((120, 100, 256), -20 / 128), ((10, 250, 256), -16 / 128),
             ((250, 10, 256), 16 / 128), ((0, 128, 256), 1.0), ((50, 50, 256), 0.0)]
    for (ship, obj, size), want in cases:
        got = fn(ship, obj, size)
        if got is None or not np.isclose(got, want, atol=1e-6):
            if abs(obj - ship) > size / 2 and not (got is not None and np.isclose(got, -want, atol=1e-6)):
                return False, (f"relative({ship}, {obj}, {size}) gave {got!r}: these two are close "
                               f"the other way round the wrapped arena")
            if got is not None and np.isclose(got, -want, atol=1e-6):
                return False, (f"relative({ship}, {obj}, {size}) gave {got!r}: wrong sign, the offset "
                               f"goes from the ship to the object")
            return False, f"relative({ship}, {obj}, {size}) gave {got!r}; mind the scale"
    return True, "offsets the short way round, divided by half the arena: always in [-1, 1]"


relative = Exercise("relative position", _check_relative, numbered_hints("""
    1. Start with obj - ship; in a wrapped arena the other way round can be shorter.
    2. If the offset is more than half the arena, subtract the arena size (or add it if below minus half).
    3. Divide by size / 2: the farthest anything can be along one axis."""),
    number=1, lesson=LESSON, cell="def relative")


# asteroids.h with the normalized object row (section object_row) replaced by yours.
assemble_asteroids = section_assembler("asteroids/asteroids.h", ("object_row",), "section")
OBJECT_FEATURES = ("dx", "dy", "distance", "vx", "vy", "size", "kind")
# obs index -> "object K name" for the 16 objects after the 2 self features
OBJECT_FEATURE_NAMES = {2 + 7 * k + j: f"object {k} {name}" for k in range(16)
                        for j, name in enumerate(OBJECT_FEATURES)}
ROW_ADVICE = {"dx": "the offset the short way round the wrap (wrap_delta), times inv",
              "dy": "the offset the short way round the wrap (wrap_delta), times inv",
              "distance": "the square root of env->dist2[env->order[k]], times inv",
              "vx": "the velocity times inv_v (1 / max speed)",
              "vy": "the velocity times inv_v (1 / max speed)",
              "size": "the radius divided by the largest rock radius, ROCK_MAX_R",
              "kind": "the kind as a float: +1 gem, -1 rock"}


def _check_object_row(code):
    if code.count("*o++") != 7:
        return False, (f"one object row is 7 numbers (dx, dy, distance, vx, vy, size, kind): your "
                       f"code writes {code.count('*o++')} with *o++")
    ok, message = compare_envs(assemble_asteroids(object_row=code), "asteroids", seeds=(1, 2), steps=200,
                               feature_names=OBJECT_FEATURE_NAMES, entity_order="unsorted")
    if not ok:
        for name, advice in ROW_ADVICE.items():
            if f" {name})" in message:
                return False, f"{message}: {name} should be {advice}"
    return ok, message


object_row = Exercise("a normalized object row", _check_object_row, numbered_hints("""
    1. Seven numbers, in this order: dx, dy, distance, vx, vy, size, kind; write each with *o++ = ...;
    2. Offsets go the short way round the wrapped arena: wrap_delta(ob->x - s->x, size), then times inv (2 /
       arena size). The distance is already computed: env->dist2[env->order[k]] is its square.
    3. Velocities times inv_v (1 / max speed); the size is ob->radius / ROCK_MAX_R; the kind is (float)ob->kind."""),
    number=2, lesson=LESSON, cell="OBJECT_ROW =")


def _check_cooldown(fn):
    for seconds, tps, want in ((0.5, 30, 15), (1.0, 30, 30), (0.1, 30, 3), (0.25, 60, 15), (0.01, 30, 1)):
        got = fn(seconds, tps)
        if got == want and not is_int(got):
            return False, f"cooldown_ticks({seconds}, {tps}) gave {got!r}: return a whole number of ticks (int)"
        if got == 0:
            return False, (f"cooldown_ticks({seconds}, {tps}) gave 0: a cooldown shorter than a tick "
                           f"still lasts at least 1 tick")
        if got != want:
            return False, (f"cooldown_ticks({seconds}, {tps}) gave {got!r}, expected {want}: round to "
                           f"the nearest whole tick")
    return True, "timers in ticks mean the same game at any simulation speed"


cooldown = Exercise("cooldown in ticks", _check_cooldown, numbered_hints("""
    1. ticks = seconds x ticks per second.
    2. Round to a whole number of ticks, and never below 1.
    3. round() to the nearest tick, and max() with 1."""),
    number=3, lesson=LESSON, cell="def cooldown_ticks")
