"""The breakout env: frame skip repeats the action for exactly k frames and
sums the rewards (checked against k=1 played with each action repeated k
times); speed s is a coarser game whose tick moves things s times farther in
one swept move, so a fast ball cannot tunnel through a brick, a one-brick
gap's edges or the paddle; episode length is logged in steps and frames,
in-between frames are smooth and end on the real frame, and the scripted
baseline beats random play."""
import numpy as np
import pytest

import puffer_learn
from puffer_learn.cenv.build import ENVS_DIR

WIDTH = 192
PADDLE_SPEED = 3  # pixels per frame
STAY, LEFT, RIGHT = 0, 1, 2
NUM_BRICKS = 48


def random_actions(steps, n=1, seed=0):
    return np.random.default_rng(seed).integers(0, 3, (steps, n)).astype(np.int32)


def test_first_observation():
    env = puffer_learn.make("breakout", num_envs=1, seed=0)
    obs = env.reset()[0]
    assert env.obs_size == 6 + NUM_BRICKS and env.num_actions == 3
    assert obs[0] == 0          # paddle in the middle
    assert obs[4] < 0           # the ball starts upward
    assert obs[5] == 1          # all lives left
    assert np.all(obs[6:] == 1)  # every brick standing
    assert np.abs(obs).max() <= 1


@pytest.mark.parametrize("k", [1, 2, 4, 6])
def test_one_step_moves_the_paddle_for_exactly_k_frames(k):
    env = puffer_learn.make("breakout", num_envs=1, seed=0, frame_skip=k)
    before = env.reset()[0, 0]
    after = env.step(np.array([RIGHT], np.int32))[0][0, 0]
    assert (after - before) * WIDTH / 2 == pytest.approx(k * PADDLE_SPEED, abs=1e-4)


@pytest.mark.parametrize("k", [2, 4])
def test_frame_skip_equals_repeating_the_action_and_summing_rewards(k):
    """k=1 with every action repeated k times plays exactly the same game as
    frame_skip=k: same observations after each group of k frames, and the
    k-frame step's reward is the sum of the k single-frame rewards."""
    skip = puffer_learn.make("breakout", num_envs=1, seed=7, frame_skip=k, max_frames=100000)
    single = puffer_learn.make("breakout", num_envs=1, seed=7, frame_skip=1, max_frames=100000)
    skip.reset(), single.reset()
    total, rewarded_steps = 0.0, 0
    for a in random_actions(600, seed=k):
        obs, reward, term, trunc, _ = skip.step(a)
        summed = 0.0
        for _ in range(k):
            single_obs, single_reward, single_term, _, _ = single.step(a)
            summed += single_reward[0]
            if single_term[0]:
                break
        assert reward[0] == summed
        total += summed
        rewarded_steps += reward[0] > 0
        if term[0]:  # out of lives: both end on the same frame
            assert single_term[0]
            break
        np.testing.assert_array_equal(obs, single_obs)
    assert rewarded_steps > 0 and total > 0  # bricks broke, so sums were checked


def test_speed_s_moves_everything_s_times_farther_per_tick():
    """The first tick after reset is free flight: the ball and the paddle
    move exactly s times as far as at speed 1, and an episode's game time
    (episode_frames) is s speed-1 frames per tick."""
    moves = {}
    for s in (1, 4, 16):
        env = puffer_learn.make("breakout", num_envs=1, seed=5, frame_skip=1, speed=s)
        before = env.reset()[0, :3].copy()
        after = env.step(np.array([RIGHT], np.int32))[0][0, :3]
        moves[s] = (after - before) * np.array([WIDTH, WIDTH, 240]) / 2
    for s in (4, 16):
        np.testing.assert_allclose(moves[s], s * moves[1], rtol=1e-4, atol=1e-3)
    assert moves[1][0] == pytest.approx(PADDLE_SPEED, abs=1e-3)
    env = puffer_learn.make("breakout", num_envs=4, seed=0, frame_skip=1, speed=4, max_frames=512)
    env.reset()
    for _ in range(128):
        env.step(env.scripted_actions())
    log = env.log()
    assert log["episodes"] == 4 and log["episode_frames"] == 512 and log["episode_length"] == 128


def test_speed_is_a_coarser_game_than_frame_skip():
    """speed 4 and frame_skip 4 cover the same game time per step but are
    different games: the paddle only collides where it is at the tick's end."""
    fast = puffer_learn.make("breakout", num_envs=8, seed=3, frame_skip=1, speed=4)
    skip = puffer_learn.make("breakout", num_envs=8, seed=3, frame_skip=4, speed=1)
    fast.reset(), skip.reset()
    same = []
    for a in random_actions(300, n=8):
        same.append(np.allclose(fast.step(a)[0], skip.step(a)[0], atol=1e-5))
    assert same[0] and not all(same)


def scene_env(scene, speed=16, name=None):
    """breakout.h with env_reset followed by `scene` (C statements that set
    the ball and the bricks): a hand-made situation to test collisions."""
    source = (ENVS_DIR / "breakout" / "breakout.h").read_text()
    source = source.replace("static void env_reset(Env* env) {", "static void breakout_reset(Env* env) {")
    source += ("\nstatic void env_reset(Env* env) {\n    breakout_reset(env);\n" + scene +
               "\n    env->path_len = 0;\n    path_point(env, 0);\n    write_observations(env);\n}\n")
    env = puffer_learn.make(source, num_envs=1, seed=0, frame_skip=1, speed=speed, lives=3,
                            name=name or f"breakout_scene_{abs(hash(scene)) % 10**8}_{speed}")
    return env, env.reset()[0].copy()


def ball(obs):
    """(x, y, vx, vy) in pixels (velocity per speed-1 frame)."""
    return obs[1] * WIDTH / 2 + WIDTH / 2, obs[2] * 120 + 120, obs[3] * 2, obs[4] * 2


@pytest.mark.parametrize("speed", [4, 16])
def test_a_fast_ball_breaks_the_first_brick_on_its_path(speed):
    """Straight up under column 3 at 2 * speed pixels per tick (up to 32,
    four brick heights): the bottom brick breaks and the ball bounces; it
    never skips to a brick behind it."""
    env, obs = scene_env("env->ball_x = 84; env->ball_y = 130; env->ball_vx = 0; env->ball_vy = -2;",
                         speed=speed)
    bottom = 5 * 8 + 3  # row 5, column 3
    for _ in range(60):
        obs, reward, *_ = env.step(np.array([STAY], np.int32))
        if reward[0]:
            break
    bricks = obs[0, 6:]
    assert reward[0] == 1 and bricks[bottom] == 0 and bricks.sum() == NUM_BRICKS - 1
    x, y, vx, vy = ball(obs[0])
    assert vy > 0 and y >= 40 + 6 * 8 + 3 - 1e-3  # bounced back down from under the wall


@pytest.mark.parametrize("speed", [4, 16])
def test_a_fast_ball_goes_through_a_one_brick_gap_and_not_through_its_edges(speed):
    """Bottom row with one brick missing: a ball aimed up the middle of the
    gap breaks the brick above the gap; aimed at the gap's edge (where the
    ball's radius overlaps the neighbour) it breaks the neighbour."""
    gap = 5 * 8 + 3
    for x, breaks in ((84, gap - 8), (72 - 2.5, gap - 1)):
        env, obs = scene_env(f"env->bricks[{gap}] = 0; env->ball_x = {x}; env->ball_y = 130; "
                             f"env->ball_vx = 0; env->ball_vy = -2;", speed=speed)
        for _ in range(60):
            obs, reward, *_ = env.step(np.array([STAY], np.int32))
            if reward[0]:
                break
        bricks = obs[0, 6:]
        assert reward[0] == 1 and bricks[breaks] == 0, (x, np.flatnonzero(bricks == 0))
        assert bricks.sum() == NUM_BRICKS - 2  # the gap and the one brick it hit


@pytest.mark.parametrize("offset,returned", [(0, True), (18, True), (20, False)])
def test_a_fast_ball_cannot_tunnel_through_the_paddle(offset, returned):
    """At 32 pixels per tick the ball crosses the paddle's top line between
    two ticks; the swept test still catches it within the paddle's half width
    (16) plus the ball's radius (3), and misses it beyond."""
    env, obs = scene_env(f"env->ball_x = {96 + offset}; env->ball_y = 150; env->ball_vx = 0; "
                         f"env->ball_vy = 2; env->paddle_x = 96;", speed=16)
    for _ in range(6):
        obs, *_ = env.step(np.array([STAY], np.int32))
    x, y, vx, vy = ball(obs[0])
    if returned:
        assert vy < 0 and obs[0, 5] == 1  # bounced up, no life lost
    else:
        assert obs[0, 5] < 1  # missed: a life lost


def test_speed_costs_less_per_second_of_game_time_than_frame_skip():
    """speed 4 does one swept move per step, frame_skip 4 does four frames:
    per frame of game time speed is cheaper (alternating timings, median)."""
    import time

    envs = {k: puffer_learn.make("breakout", num_envs=256, seed=0, frame_skip=k, speed=4 // k) for k in (1, 4)}
    actions = random_actions(32, n=256)
    rates = {1: [], 4: []}
    for _ in range(5):
        for k, env in envs.items():
            env.reset()
            start = time.perf_counter()
            for a in actions:
                env.step(a)
            rates[k].append(1 / (time.perf_counter() - start))
    assert np.median(rates[1]) > 1.2 * np.median(rates[4])  # speed 4 (k=1) vs frame_skip 4


@pytest.mark.parametrize("k", [1, 4])
def test_episode_length_is_logged_in_steps_and_frames(k):
    env = puffer_learn.make("breakout", num_envs=8, seed=0, frame_skip=k, max_frames=512)
    env.reset()
    for _ in range(512 // k):
        _, _, terminals, truncations, _ = env.step(env.scripted_actions())
    assert truncations.all() and not terminals.any()  # the scripted paddle never missed
    log = env.log()
    assert log["episodes"] == 8
    assert log["episode_frames"] == 512 and log["episode_length"] == 512 / k


def test_frames_per_step_with_random_play():
    k = 4
    env = puffer_learn.make("breakout", num_envs=32, seed=1, frame_skip=k, lives=1)
    env.reset()
    for a in random_actions(400, n=32):
        env.step(a)
    log = env.log()
    assert log["episodes"] > 20
    # An episode may end inside its last step, so frames <= k * steps.
    steps, frames = log["episode_length"], log["episode_frames"]
    assert k * (steps - 1) < frames <= k * steps


def test_losing_the_last_life_is_a_terminal():
    env = puffer_learn.make("breakout", num_envs=1, seed=0, lives=2)
    env.reset()
    for t in range(2000):
        obs, _, terminals, truncations, _ = env.step(np.array([STAY], np.int32))
        if terminals[0]:
            break
    assert terminals[0] and not truncations[0]
    assert env.log()["episodes"] == 1
    assert obs[0, 5] == 1  # the next episode already started, lives full


def test_in_between_frames_are_smooth_and_end_on_the_real_frame():
    env = puffer_learn.make("breakout", num_envs=1, seed=2, speed=8, frame_skip=1)
    env.reset()
    checked = 0
    for _ in range(40):
        previous, lives = env.render(0), env.observations[0, 5]
        obs, reward, terminals, truncations, _ = env.step(env.scripted_actions())
        frames = env.render_substeps(0, frames=4)
        assert len(frames) == 4
        if obs[0, 5] == lives:  # (a lost life relaunches the ball: no streak is drawn)
            for a, b in zip(frames, frames[1:]):
                assert not np.array_equal(a, b)  # the ball moved 16 pixels in a quarter tick
        np.testing.assert_array_equal(frames[-1], env.render(0, t=1.0))
        if reward[0] == 0 and obs[0, 5] == lives:  # same HUD text: t=0 is where the step started
            np.testing.assert_array_equal(env.render(0, t=0.0), previous)
            checked += 1
    assert checked > 10


def test_scripted_baseline_beats_random_play():
    scores = {}
    for policy in ("scripted", "random"):
        env = puffer_learn.make("breakout", num_envs=32, seed=11, frame_skip=4, max_frames=2048)
        env.reset()
        for a in random_actions(512, n=32, seed=1):
            env.step(env.scripted_actions() if policy == "scripted" else a)
        scores[policy] = env.log()["score"]
    assert scores["scripted"] > 2 * scores["random"] + 4


def test_same_seed_same_game_other_seed_other_game():
    runs = []
    for seed in (3, 3, 4):
        env = puffer_learn.make("breakout", num_envs=4, seed=seed)
        trace = [env.reset().copy()]
        for a in random_actions(200, n=4):
            obs, rewards, *_ = env.step(a)
            trace += [obs.copy(), rewards.copy()]
        runs.append(np.concatenate([t.ravel() for t in trace]))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])
