"""The asteroids env: observation layouts on hand-placed scenes, then
properties that must hold on random games (same game in every obs_mode and
entity_order, sorted really is nearest first, determinism), the stun timer,
and the scripted baseline against random play.

Hand-placed scenes: asteroids.h places everything at random and has no test
hook (nor should it). As in tests/scenes.py for the target env, we build a
user env from asteroids.h's own text (make(source_string), the path a
student's env takes), with two small additions: a test-only `scene` int in
Config, and a macro that renames asteroids' env_reset so a new env_reset can
call it and then move the ship and objects to known coordinates. Step,
observations, sorting and the scripted policy stay asteroids.h's code.
"""
import numpy as np
import pytest

import puffer_learn
from puffer_learn.cenv.build import ENVS_DIR

SIZE = 256.0       # default arena_size
HALF = SIZE / 2    # normalized offsets are divided by half the arena
MAX_SPEED = 60.0   # default max_speed (pixels per second)
ROCK_MAX_R = 24.0  # sizes are observed as radius / 24
DT = 1 / 30        # seconds of game time per tick
GEM, ROCK = 1, -1

SCENES_C = r"""
#undef env_reset
enum { SCENE_RANDOM = 0, SCENE_LAYOUT = 1, SCENE_TOUCH = 2 };

static void place(Object* ob, float x, float y, float vx, float vy, float r, int kind) {
    *ob = (Object){.x = x, .y = y, .vx = vx, .vy = vy, .radius = r, .kind = kind};
}

static void env_reset(Env* env) {
    asteroids_env_reset(env);  // random placement, tick 0, counters cleared
    Object* o = env->objects;
    switch (env->cfg.scene) {
    case SCENE_LAYOUT:  // 2 gems + 2 rocks around a ship near the left edge
        env->ship.x = 30; env->ship.y = 160;
        place(&o[0], 70, 160, 30, 0, 20, KIND_ROCK);    // 40 px east
        place(&o[1], 30, 100, 0, -60, 6, KIND_GEM);     // 60 px north
        place(&o[2], 10, 160, -15, 15, 5, KIND_GEM);    // 20 px west
        place(&o[3], 236, 160, 0, 0, 12, KIND_ROCK);    // 50 px west, across the wrap
        break;
    case SCENE_TOUCH:   // 1 gem touching the ship, 1 still rock 15 px south
        env->ship.x = 160; env->ship.y = 160;
        place(&o[0], 170, 160, 0, 0, 5, KIND_GEM);      // 10 px < 6 + 5: collected
        place(&o[1], 160, 175, 0, 0, 8, KIND_ROCK);     // 15 px > 6 + 8: not yet hit
        break;
    }
    write_observations(env);
}
"""

SCENE_CONFIG = {"layout": {"num_gems": 2, "num_rocks": 2},
                "touch": {"num_gems": 1, "num_rocks": 1}}


def scene_source():
    source = (ENVS_DIR / "asteroids" / "asteroids.h").read_text()
    anchor = "typedef struct Config {\n"
    assert source.count(anchor) == 1, "asteroids.h's Config struct changed: update this test"
    source = source.replace(anchor, anchor + "    int scene;  // test-only\n")
    return "#define env_reset asteroids_env_reset\n" + source + SCENES_C


def make_scene(scene, **config):
    return puffer_learn.make(scene_source(), name="asteroids_scenes", scene=scene,
                             **SCENE_CONFIG[scene], **config)


# The LAYOUT scene by hand: ship at (30, 160); per slot x, y, vx, vy, radius, kind.
SHIP = (30.0, 160.0)
OBJECTS = [(70, 160, 30, 0, 20, ROCK), (30, 100, 0, -60, 6, GEM),
           (10, 160, -15, 15, 5, GEM), (236, 160, 0, 0, 12, ROCK)]
RELATIVE = [(40, 0), (0, -60), (-20, 0), (-50, 0)]  # the short way round the wrap
NEAREST_FIRST = [2, 0, 3, 1]                          # distances 20, 40, 50, 60


def raw_row(order):
    row = [*SHIP, 0, 256]  # ship x, y, stun ticks left, ticks left
    for k in order:
        x, y, vx, vy, _, kind = OBJECTS[k]
        row += [x, y, vx, vy, kind]
    return np.array(row, np.float32)


def normalized_row(order):
    row = [0, 1]  # stun fraction, fraction of the episode left
    for k in order:
        _, _, vx, vy, r, kind = OBJECTS[k]
        dx, dy = RELATIVE[k]
        row += [dx / HALF, dy / HALF, np.hypot(dx, dy) / HALF, vx / MAX_SPEED, vy / MAX_SPEED,
                r / ROCK_MAX_R, kind]
    return np.array(row, np.float32)


@pytest.mark.parametrize("obs_mode", ["raw", "normalized"])
@pytest.mark.parametrize("entity_order", ["unsorted", "sorted"])
def test_layout_of_a_placed_scene(obs_mode, entity_order):
    env = make_scene("layout", obs_mode=obs_mode, entity_order=entity_order)
    obs = env.reset()
    order = NEAREST_FIRST if entity_order == "sorted" else [0, 1, 2, 3]
    expected = raw_row(order) if obs_mode == "raw" else normalized_row(order)
    np.testing.assert_allclose(obs[0], expected, atol=1e-5)
    # The declared layout splits the row honestly: self, then 4 objects of F.
    self_size, n, f = env.entity_layout
    assert (self_size, n, f) == ((4, 4, 5) if obs_mode == "raw" else (2, 4, 7))
    assert self_size + n * f == env.obs_size


def test_raw_mode_has_absolute_pixels_and_no_size():
    env = make_scene("layout", obs_mode="raw", entity_order="unsorted")
    obs = env.reset()[0]
    objects = obs[4:].reshape(4, 5)
    # Absolute positions: the rock across the wrap reads 236, not -50.
    assert objects[3, 0] == 236 and objects[0, 0] == 70
    # Unscaled velocity (pixels per second) and no radius anywhere in the row.
    assert objects[1, 3] == -60
    assert not {20, 6, 5, 12} & set(obs.tolist())  # the radii appear nowhere
    assert np.abs(obs).max() > 100  # large magnitudes: what lesson 2 fixes


def test_one_tick_moves_objects_by_velocity_times_dt():
    env = make_scene("layout", obs_mode="raw", entity_order="unsorted")
    env.reset()
    obs, rewards, *_ = env.step(np.zeros(1, np.int32))  # 0 = stay
    objects = obs[0, 4:].reshape(4, 5)
    for k, (x, y, vx, vy, _, _) in enumerate(OBJECTS):
        np.testing.assert_allclose(objects[k, :2], [x + vx * DT, y + vy * DT], atol=1e-4)
    assert rewards[0] == 0 and obs[0, 3] == 255  # one tick fewer left


def test_touching_a_gem_pays_and_a_rock_stuns_for_stun_ticks():
    env = make_scene("touch", obs_mode="normalized", entity_order="unsorted", stun_ticks=5)
    env.reset()
    obs, rewards, *_ = env.step(np.zeros(1, np.int32))
    assert rewards[0] == 1
    gem = obs[0, 2:9]  # dx, dy, distance, vx, vy, size, kind; then the rock at 9:16
    assert gem[2] * HALF > 48  # the gem reappeared away from the ship
    np.testing.assert_allclose(obs[0, 9:12], [0, 15 / HALF, 15 / HALF], atol=1e-6)  # the rock is still
    SOUTH, EAST = 3, 1
    obs, rewards, *_ = env.step(np.array([SOUTH], np.int32))  # 4 px south: 11 < 6 + 8
    assert rewards[0] == -1
    assert obs[0, 0] == 1.0  # stunned: the full 5 ticks ahead
    rock_before = obs[0, 9:11].copy()
    assert obs[0, 11] * HALF > 48  # the rock shattered and reappeared elsewhere
    # For 5 ticks the ship cannot move: the (respawned) rock drifts by its own
    # velocity only. The timer counts ticks, 5 to 0.
    for t in range(5):
        obs, rewards, *_ = env.step(np.array([EAST], np.int32))
        assert obs[0, 0] == pytest.approx((4 - t) / 5)
        drift = obs[0, 12:14] * MAX_SPEED * DT / HALF
        expected = rock_before + drift * (t + 1)
        np.testing.assert_allclose(obs[0, 9:11], (expected + 1) % 2 - 1, atol=1e-5)
    obs, *_ = env.step(np.array([EAST], np.int32))  # free again: moves 4 px east
    moved = obs[0, 9:11] - ((expected + drift + 1) % 2 - 1)
    np.testing.assert_allclose(moved, [-4 / HALF, 0], atol=1e-5)


def random_actions(env, steps, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, env.num_actions, (steps, env.num_agents)).astype(np.int32)


def wrap(d):
    return (d + SIZE / 2) % SIZE - SIZE / 2


def test_every_mode_plays_the_same_game():
    """obs_mode and entity_order change only the encoding: with one seed and
    one action sequence, rewards agree, normalized = wrapped (raw - ship) /
    size, and sorted is a permutation of unsorted, nearest first."""
    envs = {(m, o): puffer_learn.make("asteroids", num_envs=8, seed=5, obs_mode=m, entity_order=o)
            for m in ("raw", "normalized") for o in ("unsorted", "sorted")}
    for env in envs.values():
        env.reset()
    actions = random_actions(envs["raw", "sorted"], 300)
    for step, a in enumerate(actions):
        out = {key: env.step(a) for key, env in envs.items()}
        rewards = [o[1].copy() for o in out.values()]
        for r in rewards[1:]:
            np.testing.assert_array_equal(r, rewards[0])
        if step % 37:
            continue
        for order in ("unsorted", "sorted"):
            raw = envs["raw", order].observations
            norm = envs["normalized", order].observations
            ship = raw[:, None, :2]
            raw_obj, norm_obj = raw[:, 4:].reshape(8, 16, 5), norm[:, 2:].reshape(8, 16, 7)
            offset = wrap(raw_obj[..., :2] - ship)
            np.testing.assert_allclose(norm_obj[..., :2], offset / HALF, atol=1e-5)
            np.testing.assert_allclose(norm_obj[..., 2], np.hypot(*offset.T).T / HALF, atol=1e-5)
            np.testing.assert_allclose(norm_obj[..., 3:5], raw_obj[..., 2:4] / MAX_SPEED, atol=1e-5)
            np.testing.assert_array_equal(norm_obj[..., 6], raw_obj[..., 4])
        unsorted = envs["normalized", "unsorted"].observations[:, 2:].reshape(8, 16, 7)
        ordered = envs["normalized", "sorted"].observations[:, 2:].reshape(8, 16, 7)
        dist = np.hypot(ordered[..., 0], ordered[..., 1])
        assert np.all(np.diff(dist, axis=1) >= -1e-6), "sorted objects are not nearest first"
        for i in range(8):  # the same objects, in another order
            key = lambda rows: sorted(map(tuple, np.round(rows, 5)))
            assert key(unsorted[i]) == key(ordered[i])


def test_normalized_values_stay_small():
    env = puffer_learn.make("asteroids", num_envs=64, seed=2)
    env.reset()
    biggest = 0
    for a in random_actions(env, 300):
        obs, *_ = env.step(a)
        biggest = max(biggest, np.abs(obs).max())
    assert biggest <= 2**0.5 + 1e-6  # the distance reaches sqrt(2) at the far corner


def test_same_seed_same_game_other_seed_other_game():
    runs = []
    for seed in (3, 3, 4):
        env = puffer_learn.make("asteroids", num_envs=4, seed=seed)
        trace = [env.reset().copy()]
        for a in random_actions(env, 100):
            obs, rewards, *_ = env.step(a)
            trace += [obs.copy(), rewards.copy()]
        runs.append(np.concatenate([t.ravel() for t in trace]))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_episodes_end_after_episode_ticks_and_log_the_score():
    env = puffer_learn.make("asteroids", num_envs=4, seed=0, episode_ticks=50)
    env.reset()
    total = np.zeros(4)
    for t in range(50):
        _, rewards, terminals, truncations, _ = env.step(env.scripted_actions())
        total += rewards
        assert truncations.all() == (t == 49) and not terminals.any()
    log = env.log()
    assert log["episodes"] == 4 and log["episode_length"] == 50
    assert log["score"] == pytest.approx(total.mean())
    assert log["score"] == pytest.approx(log["gems"] - log["hits"])


def test_scripted_baseline_beats_random_play():
    scores = {}
    for policy in ("scripted", "random"):
        env = puffer_learn.make("asteroids", num_envs=64, seed=11)
        env.reset()
        actions = random_actions(env, 512, seed=1)
        for a in actions:
            env.step(env.scripted_actions() if policy == "scripted" else a)
        scores[policy] = env.log()["score"]
    assert scores["random"] < 1.5
    assert scores["scripted"] > 12


def test_render_draws_the_scene():
    env = puffer_learn.make("asteroids", num_envs=2, seed=0)
    env.reset()
    frame = env.render(1)
    assert frame.shape == (256, 256, 3) and frame.dtype == np.uint8
    gold = (frame[..., 0] > 200) & (frame[..., 1] > 150) & (frame[..., 2] < 80)
    assert gold.sum() > 50  # gems are drawn
