"""Every exercise's check, judged honestly: the reference solution (cut from
the solved lesson) passes, and known-wrong answers fail with a message that
says what is wrong (off-by-one, missing cap, wrong sign, wrong dtype, a typo
that compiles). The table this prints (pytest -s) is the one the closing
note quotes."""
import math

import numpy as np
import pytest

from puffer_learn.widgets import lessons as L
from puffer_learn.widgets.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, normalized_code

# (lesson namespace, exercise) -> [(what is wrong, wrong answer, a fragment the message must hold)]
WRONG = {
    ("lesson0", "agents"): [
        ("forgot the puffers per arena", lambda n: n, "count the puffers"),
        ("off by one", lambda n: 8 * n + 1, "count the puffers"),
        ("float instead of a count", lambda n: 8.0 * n, "whole number"),
    ],
    ("lesson0", "solve_step"): [
        ("ignores the threshold argument",
         lambda metrics, threshold=0.9: next((m["global_step"] for m in metrics
                                              if m["ratio"] is not None and m["ratio"] >= 0.9), None),
         "threshold argument"),
        ("strict > (off by one at the threshold)",
         lambda metrics, threshold=0.9: next((m["global_step"] for m in metrics
                                              if m["ratio"] is not None and m["ratio"] > threshold), None),
         "equal to the threshold"),
        ("last hit instead of the first",
         lambda metrics, threshold=0.9: ([m["global_step"] for m in metrics
                                          if m["ratio"] is not None and m["ratio"] >= threshold] or [None])[-1],
         "first reaches"),
    ],
    ("lesson1", "own_features"): [
        ("missing fminf cap", """
        *o++ = 2.0f * me->x * inv - 1.0f;
        *o++ = 2.0f * me->y * inv - 1.0f;
        *o++ = HEADING_DX[me->heading];
        *o++ = HEADING_DY[me->heading];
        *o++ = me->last_reward;""", "two stars in one tick"),
        ("x scaled to [0, 1] (off by one)", """
        *o++ = me->x * inv;
        *o++ = 2.0f * me->y * inv - 1.0f;
        *o++ = HEADING_DX[me->heading];
        *o++ = HEADING_DY[me->heading];
        *o++ = fminf(me->last_reward, 1.0f);""", "feature 0 (x)"),
        ("a typo that compiles: DX twice", """
        *o++ = 2.0f * me->x * inv - 1.0f;
        *o++ = 2.0f * me->y * inv - 1.0f;
        *o++ = HEADING_DX[me->heading];
        *o++ = HEADING_DX[me->heading];
        *o++ = fminf(me->last_reward, 1.0f);""", "feature 3 (heading dy)"),
        ("wrong sign on y", """
        *o++ = 2.0f * me->x * inv - 1.0f;
        *o++ = 1.0f - 2.0f * me->y * inv;
        *o++ = HEADING_DX[me->heading];
        *o++ = HEADING_DY[me->heading];
        *o++ = fminf(me->last_reward, 1.0f);""", "feature 1 (y)"),
    ],
    ("lesson1", "eat"): [
        ("the star is not respawned", """
            if (dx * dx + dy * dy <= r2) {
                reward += 1;
            }""", "does the eaten star move"),
        ("a typo that compiles: +2", """
            if (dx * dx + dy * dy <= r2) {
                reward += 2;
                respawn_star(env, &env->stars[s]);
            }""", "exactly +1"),
        ("wrong sign in the distance", """
            if (dx * dx - dy * dy <= r2) {
                reward += 1;
                respawn_star(env, &env->stars[s]);
            }""", "rewards differ"),
        ("radius not squared", """
            if (dx * dx + dy * dy <= env->cfg.eat_radius) {
                reward += 1;
                respawn_star(env, &env->stars[s]);
            }""", "rewards differ"),
    ],
    ("lesson1", "episode_log"): [
        ("n never incremented", """
    float per_puffer = total / env->cfg.num_puffers;
    env->log.score += per_puffer;
    env->log.episode_return += per_puffer;
    env->log.episode_length += env->tick;""", "never reports a finished episode"),
        ("score not per puffer", """
    env->log.score += total;
    env->log.episode_return += total;
    env->log.episode_length += env->tick;
    env->log.n += 1;""", "your score is"),
        ("off by one: length counts episodes", """
    float per_puffer = total / env->cfg.num_puffers;
    env->log.score += per_puffer;
    env->log.episode_return += per_puffer;
    env->log.episode_length += 1;
    env->log.n += 1;""", "your episode_length is"),
        ("wrong sign", """
    float per_puffer = total / env->cfg.num_puffers;
    env->log.score -= per_puffer;
    env->log.episode_return += per_puffer;
    env->log.episode_length += env->tick;
    env->log.n += 1;""", "your score is"),
    ],
    ("lesson2", "relative"): [
        ("no wrap-around", lambda ship, obj, size: (obj - ship) / (size / 2), "the other way round"),
        ("divided by the whole size", lambda ship, obj, size: ((obj - ship + size / 2) % size - size / 2) / size,
         "mind the scale"),
        ("wrong sign", lambda ship, obj, size: ((ship - obj + size / 2) % size - size / 2) / (size / 2),
         "sign"),
    ],
    ("lesson2", "cooldown"): [
        ("truncates (off by one)", lambda seconds, tps=30: max(1, int(seconds * tps - 1e-9)), "nearest"),
        ("no floor at 1 tick", lambda seconds, tps=30: round(seconds * tps), "at least 1 tick"),
        ("float ticks (wrong dtype)", lambda seconds, tps=30: max(1.0, float(round(seconds * tps))), "int"),
    ],
    ("lesson3", "nearest_first"): [
        ("farthest first (wrong sign)", lambda o: np.argsort(-np.hypot(o[:, 0], o[:, 1]), kind="stable"),
         "nearest first"),
        ("sorted by dx only", lambda o: np.argsort(np.abs(o[:, 0]), kind="stable"), "nearest first"),
        ("the distances, not the indices (wrong dtype)", lambda o: np.sort(np.hypot(o[:, 0], o[:, 1])),
         "indices"),
    ],
    ("lesson3", "encode"): [
        ("pooled over features", lambda x, W, b: np.maximum(x @ W.T + b, 0).max(axis=1), "pooled vector"),
        ("no ReLU", lambda x, W, b: (x @ W.T + b).max(axis=0), "ReLU"),
        ("mean pool", lambda x, W, b: np.maximum(x @ W.T + b, 0).mean(axis=0), "max"),
        ("bias subtracted (wrong sign)", lambda x, W, b: np.maximum(x @ W.T - b, 0).max(axis=0), "bias"),
    ],
    ("lesson4", "decisions"): [
        ("floor division (off by one)", lambda frames, k: frames // k, "partial step"),
        ("float division (wrong dtype)", lambda frames, k: math.ceil(frames / k) * 1.0, "int"),
        ("multiplied", lambda frames, k: frames * k, "fewer"),
    ],
    ("lesson4", "gamma"): [
        ("k-th root instead of power", lambda g, k: g ** (1 / k), "compounds"),
        ("unchanged", lambda g, k: g, "compounds"),
        ("multiplied", lambda g, k: g * k, "compounds"),
    ],
    ("lesson5", "linear"): [
        ("no bias", lambda W, b, x: W @ x, "bias"),
        ("bias subtracted (wrong sign)", lambda W, b, x: W @ x - b, "bias"),
        ("transposed weights", lambda W, b, x: x @ W + b, "layout"),
    ],
    ("lesson5", "grid_obs_size"): [
        ("not squared", lambda v: 2 * v + 1, "square"),
        ("off by one", lambda v: (2 * v) ** 2, "own column"),
        ("vision squared", lambda v: v ** 2, "square"),
    ],
    ("lesson5", "dtype"): [
        ("float64 (wrong dtype)", lambda obs: obs.astype(np.float64), "float32"),
        ("rescaled to 0-1", lambda obs: obs.astype(np.float32) / 255, "rescaling"),
        ("bytes reinterpreted", lambda obs: np.frombuffer(np.ascontiguousarray(obs).tobytes() + bytes(3),
                                                          np.float32), "reinterpret"),
    ],
}

CASES = [(ns, name, *case) for (ns, name), cases in WRONG.items() for case in cases]


def exercises():
    return [(ns, name, getattr(getattr(L, ns), name)) for ns in ("lesson0", "lesson1", "lesson2", "lesson3",
                                                                 "lesson4", "lesson5")
            for name in vars(getattr(L, ns)) if hasattr(getattr(getattr(L, ns), name), "check")]


def test_every_exercise_has_three_wrong_answers():
    names = {(ns, name) for ns, name, _ in exercises()}
    assert names == set(WRONG), names ^ set(WRONG)
    assert all(len(cases) >= 3 for cases in WRONG.values())


@pytest.mark.parametrize("ns,name,ex", exercises(), ids=lambda x: x if isinstance(x, str) else "")
def test_reference_passes_and_stub_is_not_attempted(ns, name, ex):
    result = ex.check(ex.reference())
    print(f"\n{ns}.{name:14s} reference: {result}")
    assert result.status == CORRECT, result
    stub = ex.stub()
    if isinstance(stub, str) and normalized_code(stub) == "":  # a C stub: only the TODO comment
        assert ex.check(stub).status == NOT_ATTEMPTED
        # A correct answer typed under the TODO line is judged, not "not attempted".
        assert ex.check(stub + ex.reference()).status == CORRECT


@pytest.mark.parametrize("ns,name,what,answer,fragment", CASES,
                         ids=[f"{ns}.{name}:{what}" for ns, name, what, _, _ in CASES])
def test_wrong_answer_fails_with_a_helpful_message(ns, name, what, answer, fragment):
    result = getattr(getattr(L, ns), name).check(answer)
    print(f"\n{ns}.{name:14s} {what:40s} -> {result}")
    assert result.status == INCORRECT, result
    assert fragment.lower() in result.message.lower(), result.message


@pytest.mark.parametrize("ns,name,ex", exercises(), ids=lambda x: x if isinstance(x, str) else "")
def test_hints_do_not_quote_the_answer(ns, name, ex):
    """The solved lesson is the one source of the answer: no hint repeats a
    line of it (whitespace collapsed; lines under 12 characters skipped)."""
    from puffer_learn.widgets.exercises import solution_blocks

    lines = [" ".join(line.split()) for block in solution_blocks(ex.solved_cell())
             for line in block.splitlines() if len(line.strip()) >= 12]
    assert lines
    for hint in ex.hints:
        for line in lines:
            assert line not in " ".join(hint.split()), (hint, line)


def test_require_stops_with_one_line_naming_the_exercise():
    from puffer_learn.widgets.exercises import ExerciseNotDone

    ex = L.lesson4.decisions
    stub = ex.stub()
    namespace = {}
    exec(stub, namespace)  # the student copy's cell, untouched
    with pytest.raises(ExerciseNotDone) as stopped:
        ex.require(namespace["decisions"])
    assert str(stopped.value) == "finish exercise 1 (decisions per episode) first: it is not attempted yet"
    assert len(stopped.value._render_traceback_()) == 1
    with pytest.raises(ExerciseNotDone, match="a last partial step still counts"):
        ex.require(lambda frames, k: frames // k)
    ex.require(ex.reference())  # done: returns quietly
    # A redefined answer is judged again, never mistaken for an earlier one.
    for _ in range(3):
        with pytest.raises(ExerciseNotDone):
            ex.require(lambda frames, k: frames // k)
        ex.require(lambda frames, k: -(-frames // k))


def test_unfinished_episode_log_names_the_likely_cause():
    from puffer_learn.widgets.exercises import ExerciseNotDone

    ex = L.lesson1.episode_log
    missing_n = ex.reference().replace("env->log.n += 1;", "")
    with pytest.raises(ExerciseNotDone) as stopped:
        ex.require(missing_n)
    message = str(stopped.value)
    print("\n" + message)
    assert message.startswith("finish exercise 3 (episode log) first: your env never reports a finished episode")
