"""target_continuous: target's game with two action floats per puffer (a
velocity), and the binding's side of continuous actions: float buffers,
clipping into the bounds, refusing NaN/inf, dtype and shape, and bounds that
cannot work, on both backends."""
import math

import numpy as np
import pytest

import puffer_learn
from puffer_learn import ContractError
from puffer_learn.cenv.build import (ENVS_DIR, FAST_FLAGS, build, compile_module, env_source, load_module,
                                     locate)
from puffer_learn.cenv.vector import VecEnv

SIZE, SPEED = 320, 4.0
SOURCE = (ENVS_DIR / "target_continuous" / "target_continuous.h").read_text()


def position(obs):
    """(x, y) of each puffer in arena units, from its own features."""
    return (obs[:, :2] + 1) / 2 * SIZE


def test_spaces_and_buffers():
    env = puffer_learn.make("target_continuous", num_envs=3)
    assert env.continuous and (env.action_low, env.action_high) == (-1.0, 1.0)
    assert env.num_actions == 2 and env.obs_size == 27 and env.obs_bounds == (-1.0, 1.0)
    assert env.actions.shape == (24, 2) and env.actions.dtype == np.float32
    env.reset()
    for actions in (env.scripted_actions(), env.random_actions(np.random.default_rng(0))):
        assert actions.shape == (24, 2) and actions.dtype == np.float32
        assert np.abs(actions).max() <= 1
    assert "2 floats in [-1.0, 1.0]" in repr(env)
    # A discrete env says so too.
    target = puffer_learn.make("target")
    assert not target.continuous and target.action_low is None and target.actions.dtype == np.int32


def test_the_build_reads_target_h_through_its_include():
    """The contract checks, the cffi declarations (Log, Config) and the build
    caches read the env whole: target.h pasted in place of its #include, so
    an edit to target.h rebuilds target_continuous too."""
    text = env_source(ENVS_DIR / "target_continuous" / "target_continuous.h")
    target = (ENVS_DIR / "target" / "target.h").read_text()
    assert target.replace('#include "puffer_env.h"', "") in text.replace('#include "puffer_env.h"', "")
    assert '#include "target/target.h"' not in text and text.count('#include "puffer_env.h"') == 1


def test_moves_worked_out_by_hand():
    env = puffer_learn.make("target_continuous", num_envs=1, seed=2, num_puffers=1, num_stars=1)
    obs = env.reset().copy()
    x, y = position(obs)[0]
    star = position(obs)[0] + obs[0, 5:7] * SIZE  # the star's offset, in arena units
    assert 20 < x < SIZE - 20 and 20 < y < SIZE - 20  # seed 2: no wall within three moves
    h = 0.70710678
    # (0.6, 0.8) has length 1: the move is speed * (0.6, 0.8). Nearest
    # compass heading: south-east (45 degrees), observed as (cos, sin).
    # (3, -7) is clipped to (1, -1), then shortened to length 1: the move
    # is speed * (h, -h), heading north-east. (0, 0) stands still and keeps it.
    for action, move, heading in [((0.6, 0.8), (2.4, 3.2), (h, h)),
                                  ((3.0, -7.0), (SPEED * h, -SPEED * h), (h, -h)),
                                  ((0.0, 0.0), (0.0, 0.0), (h, -h))]:
        obs, rewards, _, _, _ = env.step(np.array([action], np.float32))
        x, y = x + move[0], y + move[1]
        assert position(obs)[0] == pytest.approx((x, y), abs=1e-4)
        np.testing.assert_allclose(obs[0, 2:4], heading, atol=1e-6)
        assert rewards[0] == 0 and obs[0, 4] == 0
        np.testing.assert_allclose(obs[0, 5:7], (star - (x, y)) / SIZE, atol=1e-6)
    env.step(np.array([[3.0, -7.0]], np.float32))
    assert env.actions.tolist() == [[1.0, -1.0]]  # clipped where they enter the env: in the buffer


def test_scripted_baseline_and_random_play():
    """The baseline's score is fixed (ratios divide by it); random actions
    score a few percent of it."""
    env = puffer_learn.make("target_continuous", num_envs=16, seed=0)
    scores = {}
    for policy in ("scripted", "random"):
        env.reset(seed=1)
        rng = np.random.default_rng(0)
        for _ in range(256):
            env.step(env.scripted_actions() if policy == "scripted" else env.random_actions(rng))
        log = env.log()
        assert log["episodes"] == 16 and log["episode_length"] == 256
        scores[policy] = log["score"]
    print(scores, scores["random"] / scores["scripted"])
    assert scores["scripted"] == pytest.approx(4.3, abs=0.3)
    assert scores["random"] / scores["scripted"] <= 0.1


@pytest.mark.parametrize("isolate", [False, True])
def test_bad_actions_are_refused_with_one_line(isolate):
    env = puffer_learn.make("target_continuous", num_envs=2, isolate=isolate)
    env.reset()
    before = env.observations.copy()
    for value, word in [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")]:
        actions = env.scripted_actions()
        actions[3, 1] = value
        with pytest.raises(ValueError, match=rf"^action of agent 3 is {word} \(env.actions\[3, 1\]\); .*"
                                             r"nothing was stepped$"):
            env.step(actions)
        # Written straight into the buffer (as the trainer does): refused the same way.
        env.actions[:] = actions
        with pytest.raises(ValueError, match=rf"action of agent 3 is {word}"):
            env.step()
    np.testing.assert_array_equal(env.observations, before)
    with pytest.raises(TypeError, match=r"actions must be floats \(2 per agent.*got dtype int64; "
                                        r"convert with actions.astype\(np.float32\)"):
        env.step(np.zeros((16, 2), np.int64))
    with pytest.raises(ValueError, match=r"actions must have shape \(16, 2\) = \(num_envs 2 x agents 8, "
                                         r"num_actions 2\), got \(16,\)"):
        env.step(np.zeros(16, np.float32))
    env.step(np.full((16, 2), 5.0))  # float64 and out of bounds: cast, then clipped
    assert (env.actions == 1).all()


def test_both_backends_play_the_same_game():
    envs = [puffer_learn.make("target_continuous", num_envs=2, seed=4, isolate=isolate, episode_ticks=50)
            for isolate in (False, True)]
    streams = [[], []]
    rng = np.random.default_rng(1)
    for env in envs:
        env.reset()
    for t in range(120):  # two episode ends included
        actions = envs[0].scripted_actions() if t % 3 else envs[0].random_actions(rng) * 1.5
        for env, stream in zip(envs, streams):
            obs, rewards, _, truncations, _ = env.step(actions)
            stream.append(np.concatenate([obs.ravel(), rewards, truncations, env.actions.ravel()]))
    np.testing.assert_array_equal(np.array(streams[0]), np.array(streams[1]))
    np.testing.assert_array_equal(envs[0].scripted_actions(), envs[1].scripted_actions())
    assert envs[0].log() == envs[1].log() != {}


def test_renders_like_target():
    env = puffer_learn.make("target_continuous")
    env.reset()
    frame = env.render(0)
    assert frame.shape == (SIZE, SIZE, 3) and frame.dtype == np.uint8 and frame.std() > 0


def test_bounds_that_cannot_work_are_refused():
    module = build("target_continuous").module
    ffi, lib = module.ffi, module.lib
    spaces = ffi.new("Spaces*", {"num_agents": 1, "obs_size": 1, "num_actions": 2, "render_width": 8,
                                 "render_height": 8})
    err = ffi.new("char[256]")
    for low, high in [(1, -1), (1, 1), (0, math.inf), (math.nan, 1)]:
        spaces.action_low, spaces.action_high = low, high
        assert lib.pl_check_spaces(spaces, err, 256) == 1
        assert ffi.string(err).decode() == (
            f"env_spaces set action_low = {low:g} and action_high = {high:g}; a continuous env (ACTION_TYPE "
            f"float) must set finite action_low < action_high, the bounds of every action number (e.g. -1 and 1)")
    spaces.action_low, spaces.action_high = -2, 0.5
    assert lib.pl_check_spaces(spaces, err, 256) == 0
    # Discrete envs leave the bounds 0.
    target = build("target").module
    spaces = target.ffi.new("Spaces*", {"num_agents": 1, "obs_size": 1, "num_actions": 2, "render_width": 8,
                                        "render_height": 8})
    assert target.lib.pl_check_spaces(spaces, err, 256) == 0


def test_an_env_with_swapped_bounds_is_refused_in_one_line():
    """Through VecEnv (as make does after the build; a student's env would
    also get its smoke run first, which relays the same line)."""
    source = SOURCE.replace("s->action_low = -1;", "s->action_low = 1;").replace(
        "s->action_high = 1;", "s->action_high = -1;")
    name, header, _ = locate(source, "bad_bounds")
    module = load_module(*compile_module(name, header, FAST_FLAGS))
    with pytest.raises(ContractError, match=r"^bad_bounds: env_spaces set action_low = 1 and action_high = -1; "
                                            r"a continuous env") as info:
        VecEnv(module, name)
    assert "\n" not in str(info.value)
