"""Lesson 1, build the target env (01_build_target.ipynb): the student writes
three marked parts of envs/target/target.h in C; each check compiles target
with the student's part in and plays it next to the packaged target."""
import numpy as np

import puffer_learn
from puffer_learn.widgets.exercises import Exercise, compare_envs
from puffer_learn.widgets.lessons.shared import numbered_hints, require_each, section_assembler

LESSON = "01_build_target.ipynb"
# The parts of envs/target/target.h the student writes are its marked sections
# own_features, eat and episode_log; assemble swaps in the student's
# (ex.assemble(eat=MY_EAT): parts you leave out stay as packaged).
TARGET_PARTS = ("own_features", "eat", "episode_log")
assemble = section_assembler("target/target.h", TARGET_PARTS, "part")


OWN_FEATURE_NAMES = {0: "x", 1: "y", 2: "heading dx", 3: "heading dy", 4: "last reward"}
# A crowded scene: 2 puffers, 32 big stars in a small arena, so a puffer often
# eats two stars in one tick (its last-reward feature must still read 1).
CROWDED = {"num_puffers": 2, "num_stars": 32, "arena_size": 64, "eat_radius": 16.0, "episode_ticks": 64}


def _check_own_features(code):
    ok, message = compare_envs(assemble(own_features=code), "target", seeds=(1,), steps=130,
                               feature_names=OWN_FEATURE_NAMES, **CROWDED)
    if not ok:
        if "(last reward)" in message:
            message += (". In this scene one puffer eats two stars in one tick: the observation "
                        "must stay in [-1, 1]")
        return False, "crowded scene: " + message
    ok, message = compare_envs(assemble(own_features=code), "target", seeds=(1, 2), steps=300,
                               feature_names=OWN_FEATURE_NAMES)
    return ok, message if not ok else message + ", and in a scene where a puffer eats 2 stars in one tick"


def _own_feature_parts(code, steps=130):
    """{feature: right} for partial credit: each of the five features against
    the packaged target's, in the crowded scene (where the cap matters)."""
    mine = puffer_learn.make(assemble(own_features=code), num_envs=4, seed=1, name="student_env", **CROWDED)
    ref = puffer_learn.make("target", num_envs=4, seed=1, **CROWDED)
    right = [np.allclose(a, b, atol=1e-5) for a, b in zip(mine.reset().T[:5], ref.reset().T[:5])]
    rng = np.random.default_rng(1)
    for _ in range(steps):
        actions = rng.integers(0, ref.num_actions, ref.num_agents, dtype=np.int32)
        mine.step(actions)
        ref.step(actions)
        right = [ok and np.allclose(mine.observations[:, k], ref.observations[:, k], atol=1e-5)
                 for k, ok in enumerate(right)]
    mine.close()
    ref.close()
    return dict(zip(OWN_FEATURE_NAMES.values(), right))


own_features = Exercise("own features", _check_own_features, numbered_hints("""
    1. Five numbers, in this order: x, y, heading dx, heading dy, last reward.
    2. Scale positions from [0, arena_size] to [-1, 1] (inv is 1 / arena_size). The heading tables are indexed
       by me->heading.
    3. The last reward can be 2 when a puffer eats two stars in one tick: cap it at 1 (fminf)."""),
    number=1, lesson=LESSON, cell="OWN_FEATURES =", parts=_own_feature_parts)


def _check_eat(code):
    ok, message = compare_envs(assemble(eat=code), "target", seeds=(1, 2), steps=300)
    if not ok and message.startswith("observations"):
        message += ": rewards match but the stars are not where they should be (does the eaten star move?)"
    elif not ok and message.startswith("rewards"):
        message += ": a star within eat_radius (squared distance <= r2) gives exactly +1"
    return ok, message


eat = Exercise("eating a star", _check_eat, numbered_hints("""
    1. A star is eaten when its distance to the puffer is at most eat_radius.
    2. Compare squared distances with r2: no square root needed.
    3. Inside the if: add 1 to reward, then move that star with respawn_star."""),
    number=2, lesson=LESSON, cell="EAT =")


def _check_episode_log(code):
    return compare_envs(assemble(episode_log=code), "target", seeds=(1, 2), steps=520)


episode_log = Exercise("episode log", _check_episode_log, numbered_hints("""
    1. Every Log field is a sum over finished episodes; n counts them.
    2. score is stars eaten PER PUFFER: divide the total by num_puffers.
    3. Add the per-puffer total to score and episode_return, the ticks to episode_length, and count the episode
       in n."""),
    number=3, lesson=LESSON, cell="EPISODE_LOG =")

require_all = require_each(own_features, eat, episode_log)


def crowded_scene_has_double_eats(seed=1, steps=130):
    """True when the packaged target gives some puffer 2+ stars in one tick
    in the CROWDED scene (so the own-features check tests the cap)."""
    env = puffer_learn.make("target", num_envs=4, seed=seed, **CROWDED)
    env.reset()
    rng = np.random.default_rng(seed)  # the same actions compare_envs uses
    best = 0.0
    for _ in range(steps):
        env.step(rng.integers(0, env.num_actions, env.num_agents, dtype=np.int32))
        best = max(best, float(env.rewards.max()))
    return best >= 2
