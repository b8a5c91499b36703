"""The breakout env: frame skip repeats the action for exactly k frames and
sums the rewards (checked against k=1 played with each action repeated k
times), speed s plays the same game as frame skip s, episode length is
logged in steps and frames, in-between frames are smooth and end on the real
frame, and the scripted baseline beats random play."""
import numpy as np
import pytest

import puffer_learn

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


def test_speed_s_plays_the_same_game_as_frame_skip_s():
    fast = puffer_learn.make("breakout", num_envs=4, seed=3, frame_skip=1, speed=4)
    skip = puffer_learn.make("breakout", num_envs=4, seed=3, frame_skip=4, speed=1)
    fast.reset(), skip.reset()
    for a in random_actions(300, n=4):
        out_fast, out_skip = fast.step(a), skip.step(a)
        for x, y in zip(out_fast[:4], out_skip[:4]):
            np.testing.assert_array_equal(x, y)


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
        for a, b in zip(frames, frames[1:]):
            assert not np.array_equal(a, b)  # the ball moved 16 pixels
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
