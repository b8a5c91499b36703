"""The target env: observations and rewards on hand-placed scenes (see
scenes.py), then determinism, auto-reset and log aggregation on the
packaged env with random actions."""
import numpy as np
import pytest

import puffer_learn
from scenes import make_scene

EAST, SOUTH, WEST, NORTH = 0, 2, 4, 6  # heading k points at k * 45 degrees; y grows downward
SIZE = 320.0                           # default arena_size


def expected_obs(me, heading, last_reward, stars, others):
    """Target's observation worked out by hand: own position scaled to [-1, 1],
    heading cos/sin, last reward, then stars and other puffers relative to me,
    each group nearest first."""
    x, y = me
    angle = np.radians(45 * heading)
    row = [2 * x / SIZE - 1, 2 * y / SIZE - 1, np.cos(angle), np.sin(angle), last_reward]
    def nearest_first(points):
        return sorted(points, key=lambda p: (p[0] - x) ** 2 + (p[1] - y) ** 2)
    for ox, oy in [*nearest_first(stars), *nearest_first(others)]:
        row += [(ox - x) / SIZE, (oy - y) / SIZE]
    return np.array(row, np.float32)


def test_first_observation_is_the_placed_scene():
    env = make_scene("basic")
    obs = env.reset()
    stars = [(132, 200), (300, 300)]
    np.testing.assert_allclose(obs[0], expected_obs((100, 200), EAST, 0, stars, [(160, 40)]), atol=1e-6)
    np.testing.assert_allclose(obs[1], expected_obs((160, 40), SOUTH, 0, stars, [(100, 200)]), atol=1e-6)


def test_stars_and_puffers_are_listed_nearest_first():
    """Slot 0 is always the nearest star (and the nearest other puffer)."""
    env = puffer_learn.make("target", num_envs=8, seed=3)
    env.reset()
    rng = np.random.default_rng(0)
    for _ in range(50):
        env.step(rng.integers(0, 8, env.num_agents, dtype=np.int32))
        stars = env.observations[:, 5:13].reshape(-1, 4, 2)
        others = env.observations[:, 13:].reshape(-1, 7, 2)
        for group in (stars, others):
            dist = np.hypot(group[..., 0], group[..., 1])
            assert np.all(np.diff(dist, axis=1) >= -1e-6)


def test_swimming_and_eating_a_star():
    # Puffer 0 swims east at 4 units a tick toward the star 32 units away;
    # eat radius 10: after 5 ticks it is 12 away, after 6 ticks 8 away.
    env = make_scene("basic")
    env.reset()
    for t in range(1, 6):
        obs, rewards, _, _, _ = env.step(np.array([EAST, NORTH], np.int32))
        p0, p1 = (100 + 4 * t, 200), (160, 40 - 4 * t)
        stars = [(132, 200), (300, 300)]
        np.testing.assert_array_equal(rewards, [0, 0])
        np.testing.assert_allclose(obs[0], expected_obs(p0, EAST, 0, stars, [p1]), atol=1e-6)
        np.testing.assert_allclose(obs[1], expected_obs(p1, NORTH, 0, stars, [p0]), atol=1e-6)

    obs, rewards, _, _, _ = env.step(np.array([EAST, NORTH], np.int32))
    np.testing.assert_array_equal(rewards, [1, 0])
    assert obs[0, 4] == 1 and obs[1, 4] == 0  # "last reward" feature
    # The eaten star moved: it is no longer 8 units east of puffer 0 ...
    assert not np.allclose(obs[0, 5:7], [8 / SIZE, 0], atol=1e-3)
    # ... both puffers agree on where it went, and it is inside the arena.
    star_from_p0 = np.array([124, 200]) + obs[0, 5:7] * SIZE
    star_from_p1 = np.array([160, 16]) + obs[1, 5:7] * SIZE
    np.testing.assert_allclose(star_from_p0, star_from_p1, atol=1e-3)
    assert np.all((star_from_p0 >= 0) & (star_from_p0 <= SIZE))
    # The other star did not move.
    np.testing.assert_allclose(obs[0, 7:9], [(300 - 124) / SIZE, 100 / SIZE], atol=1e-6)

    obs, rewards, _, _, _ = env.step(np.array([EAST, NORTH], np.int32))
    assert obs[0, 4] == 0  # the last-reward feature is only the last tick's


def test_walls_stop_puffers():
    # Puffer 0 swims west from x=100 and puffer 1 south from y=40 for 80
    # ticks (320 units): both end pinned to a wall, the other coordinate
    # unchanged. Neither path passes within 10 units of a star.
    env = make_scene("basic")
    env.reset()
    for _ in range(80):
        obs, rewards, _, _, _ = env.step(np.array([WEST, SOUTH], np.int32))
        assert rewards.sum() == 0
    assert obs[0, 0] == -1.0 and obs[0, 1] == pytest.approx(2 * 200 / SIZE - 1)  # x = 0
    assert obs[1, 1] == 1.0 and obs[1, 0] == pytest.approx(0.0)                  # y = 320
    np.testing.assert_allclose(obs[0, 9:11], [160 / SIZE, 120 / SIZE], atol=1e-6)


def test_two_stars_in_one_tick():
    env = make_scene("double")
    env.reset()
    obs, rewards, _, _, _ = env.step(np.array([EAST], np.int32))
    assert rewards[0] == 2.0
    # The observation stays in [-1, 1] (the env declares these bounds).
    assert obs[0, 4] == 1.0
    assert env.obs_bounds == (-1.0, 1.0)


def test_episode_truncates_and_logs_stars_per_puffer():
    env = make_scene("basic", episode_ticks=20)
    first = env.reset().copy()
    total = np.zeros(2)
    for t in range(1, 21):
        obs, rewards, terminals, truncations, _ = env.step(np.array([EAST, NORTH], np.int32))
        total += rewards
        assert not terminals.any()  # running out of time is a truncation, not a failure
        assert truncations.all() == (t == 20) and truncations.any() == (t == 20)
    assert total[0] >= 1  # the star eaten at tick 6
    # Auto-reset: the observations are already those of the next episode,
    # which starts from the same placed scene.
    np.testing.assert_array_equal(obs, first)
    log = env.log()
    assert log["episodes"] == 1
    assert log["episode_length"] == 20
    assert log["score"] == pytest.approx(total.sum() / 2)  # stars eaten per puffer
    assert log["episode_return"] == pytest.approx(log["score"])
    assert env.log() == {}


def rollout(seed=0, num_envs=4, threads=1, steps=300, action_seed=0, **config):
    """Observation and reward streams of the packaged target under random actions.
    Actions for env i come from columns of one table, so they do not depend
    on num_envs."""
    env = puffer_learn.make("target", num_envs=num_envs, seed=seed, threads=threads, **config)
    table = np.random.default_rng(action_seed).integers(0, 8, (steps, 16 * 8), dtype=np.int32)
    obs = [env.reset().copy()]
    rewards = []
    for t in range(steps):
        o, r, _, _, _ = env.step(table[t, :env.num_agents])
        obs.append(o.copy())
        rewards.append(r.copy())
    log = env.log()
    env.close()
    return np.array(obs), np.array(rewards), log


def test_same_seed_same_streams_different_seed_differs():
    obs_a, rew_a, log_a = rollout(seed=3, episode_ticks=100)
    obs_b, rew_b, log_b = rollout(seed=3, episode_ticks=100)
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(rew_a, rew_b)
    assert log_a == log_b and log_a["episodes"] == 4 * 3
    assert rew_a.sum() > 0  # random puffers do eat stars now and then
    obs_c, _, _ = rollout(seed=4, episode_ticks=100)
    assert not np.array_equal(obs_a[0], obs_c[0])
    assert not np.array_equal(obs_a, obs_c)


def test_env_trajectory_does_not_depend_on_num_envs():
    obs_2, rew_2, _ = rollout(num_envs=2)
    obs_5, rew_5, _ = rollout(num_envs=5)
    np.testing.assert_array_equal(obs_2, obs_5[:, :16])
    np.testing.assert_array_equal(rew_2, rew_5[:, :16])


@pytest.mark.parametrize("threads", [2, 3, 9])
def test_threads_give_the_same_results_as_one(threads):
    obs_1, rew_1, log_1 = rollout(num_envs=9, threads=1, episode_ticks=50)
    obs_2, rew_2, log_2 = rollout(num_envs=9, threads=threads, episode_ticks=50)
    np.testing.assert_array_equal(obs_1, obs_2)
    np.testing.assert_array_equal(rew_1, rew_2)
    assert log_1 == log_2


def test_env_threads_are_a_persistent_pool():
    """Workers start with the VecEnv and end with close(): stepping creates
    no thread (the number of this process's threads stays put)."""
    import os
    def threads_now():
        return len(os.listdir("/proc/self/task"))
    if not os.path.isdir("/proc/self/task"):
        pytest.skip("needs Linux /proc")
    before = threads_now()
    env = puffer_learn.make("target", num_envs=16, seed=0, threads=3)
    env.reset()
    assert threads_now() == before + 2  # the caller steps envs too
    for _ in range(200):
        env.step(np.zeros(env.num_agents, np.int32))
        assert threads_now() == before + 2
    env.close()
    assert threads_now() == before


def test_auto_reset_every_episode_ticks():
    env = puffer_learn.make("target", num_envs=3, seed=1, episode_ticks=10)
    env.reset()
    rng = np.random.default_rng(0)
    for episode in range(3):
        for t in range(1, 11):
            before = env.observations.copy()
            obs, rewards, terminals, truncations, _ = env.step(rng.integers(0, 8, 24, dtype=np.int32))
            assert not terminals.any()
            assert truncations.all() == (t == 10) and truncations.any() == (t == 10)
        # A fresh episode: nobody has a last reward, and positions jumped
        # further than one tick's swim (4 units) could move them.
        assert (obs[:, 4] == 0).all()
        moved = np.abs(obs[:, :2] - before[:, :2]) * 320 / 2
        assert (moved > 4.01).any()


def test_log_means_over_finished_episodes_and_clears_after_read():
    env = puffer_learn.make("target", num_envs=3, seed=2, episode_ticks=5)
    assert env.log() == {}
    env.reset()
    rng = np.random.default_rng(0)
    eaten = np.zeros(3)
    for _ in range(5):
        _, rewards, _, _, _ = env.step(rng.integers(0, 8, 24, dtype=np.int32))
        eaten += rewards.reshape(3, 8).sum(axis=1)
    log = env.log()
    assert log["episodes"] == 3
    assert log["episode_length"] == 5
    assert log["score"] == pytest.approx((eaten / 8).mean())  # mean over envs of stars per puffer
    assert env.log() == {}  # cleared by the read
    for _ in range(12):
        env.step(rng.integers(0, 8, 24, dtype=np.int32))
    assert env.log()["episodes"] == 6  # ticks 10 and 15 ended two more per env
    for _ in range(5):
        env.step(rng.integers(0, 8, 24, dtype=np.int32))
    env.reset()  # a reset drops the stats of episodes before it
    assert env.log() == {}


def test_scripted_baseline_beats_random():
    _, random_rewards, _ = rollout(num_envs=8, steps=256)
    env = puffer_learn.make("target", num_envs=8, seed=0)
    env.reset()
    for _ in range(256):
        env.step(env.scripted_actions())
    scripted = env.log()
    assert scripted["episodes"] == 8
    assert scripted["score"] > 3 * random_rewards.sum() / 64


def test_binding_declarations_come_from_the_headers():
    """build.py reads struct Spaces and the pl_* functions from the C headers
    (no hand-copied cdef): every pl_* function the Python side calls is
    declared, the static helpers are not, and Spaces has the header's fields."""
    import re
    from pathlib import Path
    from puffer_learn.cenv.build import binding_cdef, build

    package = Path(puffer_learn.__file__).parent
    used = {name for path in package.rglob("*.py")
            for name in re.findall(r"lib\.(pl_\w+)", path.read_text())}
    lib = build("target").module.lib
    assert used and used <= set(dir(lib)), used - set(dir(lib))
    assert "pl_step_range" not in binding_cdef() and "pl_fail" not in binding_cdef()
    fields = [name for name, _ in build("target").module.ffi.typeof("Spaces").fields]
    assert fields[:3] == ["num_agents", "obs_size", "num_actions"] and "entity_size" in fields
