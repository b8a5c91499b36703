"""Every bad input gets a clear Python error that names the field and the
fix, never a crash or a silent wrong value."""
import numpy as np
import pytest

import puffer_learn


@pytest.fixture
def env():
    env = puffer_learn.make("target", num_envs=2, seed=0)
    env.reset()
    yield env
    env.close()


def test_unknown_env_name_lists_the_packaged_envs():
    with pytest.raises(ValueError, match=r"unknown env 'targte'.*packaged envs are .*target"):
        puffer_learn.make("targte")


def test_env_of_wrong_type_or_missing_file():
    with pytest.raises(TypeError, match="env must be a packaged env name"):
        puffer_learn.make(42)
    with pytest.raises(FileNotFoundError, match="no_such_env.h does not exist"):
        puffer_learn.make("/tmp/no_such_env.h")


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(num_envs=0), ValueError, r"num_envs must be >= 1, got 0"),
    (dict(num_envs=2.5), TypeError, r"num_envs must be an integer"),
    (dict(threads=0), ValueError, r"threads must be between 1 and 64"),
    (dict(seed=-1), ValueError, r"seed must be between 0"),
    (dict(num_stars=-1), ValueError, r"num_stars must be >= 1, got -1"),
    (dict(num_puffers=0), ValueError, r"num_puffers must be >= 1"),
    (dict(arena_size="big"), TypeError, r"setting arena_size must be an integer, got 'big'"),
    (dict(arena_size=8), ValueError, r"arena_size must be in 16..2048, got 8"),
    (dict(num_stars=2.0), TypeError, r"setting num_stars must be an integer"),
    (dict(num_stars=True), TypeError, r"setting num_stars must be an integer"),
    (dict(num_stars=2**40), ValueError, r"num_stars=1099511627776 is too large for a C int"),
    (dict(speed="fast"), TypeError, r"setting speed must be a number"),
    (dict(speed=-1.0), ValueError, r"speed must be > 0"),
    (dict(speed=float("nan")), ValueError, r"speed=nan must be a finite number"),
    (dict(speed=1e300), ValueError, r"speed=1e\+300 must be a finite number"),
    (dict(colour=3), ValueError, r"target has no setting 'colour'; its settings are: num_puffers"),
])
def test_bad_config(kwargs, error, message):
    with pytest.raises(error, match=message):
        puffer_learn.make("target", **kwargs)


def test_good_config_is_applied():
    env = puffer_learn.make("target", num_stars=2, speed=2, arena_size=64)
    assert env.config["num_stars"] == 2 and env.config["speed"] == 2.0
    assert env.obs_size == 5 + 2 * 2 + 2 * 7
    assert env.render_size == (64, 64)


def test_actions_of_wrong_dtype(env):
    with pytest.raises(TypeError, match=r"actions must be integers.*float64.*astype\(np.int32\)"):
        env.step(np.zeros(16))
    with pytest.raises(TypeError, match="actions must be integers"):
        env.step(np.zeros(16, bool))


def test_actions_of_wrong_shape(env):
    with pytest.raises(ValueError, match=r"shape \(16,\) = num_envs 2 x agents 8, got \(8,\)"):
        env.step(np.zeros(8, np.int32))
    with pytest.raises(ValueError, match=r"shape \(16,\).*got \(2, 8\)"):
        env.step(np.zeros((2, 8), np.int32))
    with pytest.raises(ValueError, match=r"shape \(16,\).*got \(\)"):
        env.step(3)


@pytest.mark.parametrize("bad", [8, -1])
def test_actions_out_of_range(env, bad):
    actions = np.zeros(16, np.int32)
    actions[5] = bad
    with pytest.raises(ValueError, match=rf"actions must be in 0..7, got values from {min(bad, 0)} to {max(bad, 0)}"):
        env.step(actions)


def test_bad_actions_leave_the_env_untouched(env):
    obs = env.observations.copy()
    with pytest.raises(ValueError):
        env.step(np.full(16, 9, np.int32))
    np.testing.assert_array_equal(env.observations, obs)
    assert (env.actions < 8).all()


def test_render_of_an_env_that_does_not_exist(env):
    with pytest.raises(IndexError, match=r"render index 2 does not exist.*2 envs \(0..1\)"):
        env.render(2)
    with pytest.raises(IndexError, match="render index -1 does not exist"):
        env.render(-1)
    with pytest.raises(TypeError, match="render index must be an integer"):
        env.render(0.5)
    with pytest.raises(ValueError, match=r"render t must be in \[0, 1\]"):
        env.render(0, t=2)


def test_use_of_a_closed_env(env):
    env.close()
    env.close()  # closing twice is fine
    for use in (env.reset, env.step, env.log, env.render, env.scripted_actions):
        with pytest.raises(RuntimeError, match=r"env is closed; make a new one with puffer_learn.make"):
            use()


def test_step_before_reset_is_refused():
    fresh = puffer_learn.make("target", num_envs=2)
    with pytest.raises(RuntimeError, match=r"call env.reset\(\) before env.step\(\)"):
        fresh.step()
    fresh.reset()
    fresh.step()  # fine once an episode has started
