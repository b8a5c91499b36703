"""The Gymnasium view: passes check_env, seeds like Gymnasium expects, and
plays agent 0 while the other agents follow the scripted baseline."""
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import puffer_learn

from puffer_learn.cenv.gym_adapter import GymEnv
from scenes import scene_source
from test_user_env import tiny


def test_check_env_passes_without_warnings():
    env = gymnasium.make("puffer_learn/target-v0", render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any complaint of the checker fails the test
        check_env(env.unwrapped)        # with a spec: also render modes and double close
    env.close()


def test_check_env_on_a_direct_instance_with_settings():
    env = GymEnv("target", seed=3, num_puffers=3, num_stars=2, render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*not having a spec")  # no gymnasium.make here
        check_env(env)
    env.close()


def test_spaces_have_the_true_bounds():
    env = GymEnv("target")
    assert env.observation_space == gymnasium.spaces.Box(-1.0, 1.0, (27,), np.float32)
    assert env.action_space == gymnasium.spaces.Discrete(8)
    # An env that declares no bounds claims none.
    free = GymEnv(tiny(""), name="tiny_unbounded")
    assert np.isneginf(free.observation_space.low).all() and np.isposinf(free.observation_space.high).all()


def run_episode(env, seed, actions):
    obs, _ = env.reset(seed=seed)
    stream = [obs]
    for a in actions:
        obs, reward, terminated, truncated, _ = env.step(a)
        stream.append(np.append(obs, [reward, terminated, truncated]))
    return np.concatenate(stream)


def test_same_seed_same_episode_other_seed_other_episode():
    env = GymEnv("target", episode_ticks=50)
    actions = np.random.default_rng(0).integers(0, 8, 50)
    a, b = run_episode(env, 7, actions), run_episode(env, 7, actions)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, run_episode(env, 8, actions))
    # reset() without a seed continues the seeded sequence: reproducible too.
    env.reset(seed=7)
    follow_1 = env.reset()[0]
    env.reset(seed=7)
    np.testing.assert_array_equal(env.reset()[0], follow_1)
    assert not np.array_equal(follow_1, env.reset(seed=7)[0])


def test_agent_zero_is_yours_and_the_others_play_the_baseline():
    # Scene "basic": puffer 0 at (100, 200), puffer 1 at (160, 40); stars at
    # (132, 200) and (300, 300). The baseline heads puffer 1 for the nearest
    # star, (132, 200): of the 8 headings, south points most nearly at it.
    env = GymEnv(scene_source(), name="target_scenes", scene="basic", num_puffers=2, num_stars=2)
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(4)  # west
    assert obs[0] == pytest.approx(2 * 96 / 320 - 1)      # I moved 4 units west
    np.testing.assert_allclose(obs[9:11], [(160 - 96) / 320, (44 - 200) / 320], atol=1e-6)  # it went south
    assert (reward, terminated, truncated, info) == (0.0, False, False, {})


def test_episode_end_then_reset_is_required():
    env = GymEnv("target", episode_ticks=5)
    with pytest.raises(RuntimeError, match=r"call reset\(\) before step\(\)"):
        env.step(0)
    env.reset(seed=1)
    for t in range(1, 6):
        obs, _, terminated, truncated, _ = env.step(0)
        assert not terminated and truncated == (t == 5)
    # Documented: obs is already the first of the next episode (auto-reset in C).
    assert obs[4] == 0 and obs in env.observation_space
    with pytest.raises(RuntimeError, match=r"call reset\(\) before step\(\)"):
        env.step(0)
    env.reset()
    env.step(0)


def test_bad_action_and_render_mode():
    env = GymEnv("target")
    env.reset(seed=0)
    for bad in (8, -1, 1.5, "left"):
        with pytest.raises(ValueError, match=r"action must be an int in 0..7"):
            env.step(bad)
    env.step(np.int64(3))  # what vectorised tools hand in
    with pytest.raises(ValueError, match="render_mode must be None or 'rgb_array'"):
        GymEnv("target", render_mode="human")
    assert GymEnv("target").render() is None
    frame = GymEnv("target", render_mode="rgb_array").render()
    assert frame.shape == (320, 320, 3) and frame.dtype == np.uint8


def test_returned_observations_are_not_overwritten():
    env = GymEnv("target")
    first, _ = env.reset(seed=0)
    kept = first.copy()
    env.step(0)
    np.testing.assert_array_equal(first, kept)


def greedy(obs):
    """Heads for the nearest star, read from the observation alone (4 stars after 5 self features)."""
    stars = obs[5:13].reshape(4, 2)
    dx, dy = stars[np.argmin((stars ** 2).sum(axis=1))]
    return int(np.round(np.arctan2(dy, dx) / (np.pi / 4))) % 8


def test_smoke_like_a_gymnasium_trainer_would_use_it():
    # No Stable-Baselines3 here: the same calls it makes, through Gymnasium's
    # own vector env (auto-reset) and episode-statistics wrapper.
    envs = gymnasium.vector.SyncVectorEnv(
        [lambda: gymnasium.wrappers.RecordEpisodeStatistics(GymEnv("target", episode_ticks=64))] * 2)
    obs, _ = envs.reset(seed=0)
    returns = []
    for _ in range(3 * 65):  # 3 episodes each (+1 step per episode for the vector's reset)
        obs, rewards, terminated, truncated, infos = envs.step(np.array([greedy(o) for o in obs]))
        if "episode" in infos:
            returns += list(infos["episode"]["r"][infos["_episode"]])
    assert len(returns) == 6
    # Heading for stars seen in the observations pays: the scripted baseline
    # eats ~1.5 stars per 64 ticks here (7 rivals), random actions ~0.07.
    assert np.mean(returns) > 0.75
    envs.close()


@pytest.mark.parametrize("name", puffer_learn.packaged_envs())
def test_every_packaged_env_passes_check_env(name):
    env = gymnasium.make(f"puffer_learn/{name}-v0", render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*infinity")  # an env that declares no bounds
        check_env(env.unwrapped)
    env.close()


@pytest.mark.parametrize("name", puffer_learn.packaged_envs())
def test_declared_observation_bounds_hold(name):
    # The bug to avoid: a Box that claims bounds the data breaks. Scripted
    # play (it eats, scores, meets walls) and random play, over whole episodes.
    env = puffer_learn.make(name, num_envs=16, seed=0)
    if env.obs_bounds is None:
        pytest.skip(f"{name} declares no observation bounds")
    low, high = env.obs_bounds
    obs = env.reset()
    rng = np.random.default_rng(0)
    for t in range(600):
        actions = env.random_actions(rng) if t % 2 else env.scripted_actions()
        obs, _, _, _, _ = env.step(actions)
        assert low <= obs.min() and obs.max() <= high, f"tick {t}: obs outside [{low}, {high}]"


def test_a_continuous_env_is_a_box():
    env = GymEnv("target_continuous", seed=0)
    assert env.action_space == gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)
    obs, _ = env.reset(seed=0)
    x = obs[0]
    env.step([5.0, 0.0])  # a list, out of the box: clipped to (1, 0), a full-speed move east
    assert env.vec.actions[0].tolist() == [1.0, 0.0]
    assert env.vec.observations[0, 0] == pytest.approx(min(x + 2 * 4 / 320, 1.0))
    for bad in ([np.nan, 0.0], [1.0], [[0.0, 0.0]], "left"):
        with pytest.raises(ValueError, match=r"action must be 2 finite floats \(shape \(2,\)\)"):
            env.step(bad)
    env.step(env.action_space.sample())
