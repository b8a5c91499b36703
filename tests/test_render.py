"""Frames without a display: what is drawn is where the env says it is.
Plus save_gif and record_episode."""
import numpy as np
import pytest
from PIL import Image

import puffer_learn
from puffer_learn import record_episode, save_gif
from scenes import make_scene

GOLD = (255, 203, 0)        # stars (raylib's GOLD)
PUFFER = (0, 187, 187)      # target.h's puffer colour
BACKGROUND = (6, 24, 24)


def pixels_of(frame, colour):
    """(row, col) of every pixel of exactly this colour."""
    return np.argwhere((frame == colour).all(axis=2))


def test_frame_shows_the_star_and_the_puffer_where_they_are():
    # Scene "frame": a puffer at x=80, y=240 facing east, a star at x=240, y=80
    # (y grows downward, so the star is top-right in the picture).
    env = make_scene("frame")
    env.reset()
    frame = env.render(0)
    assert frame.shape == (320, 320, 3) and frame.dtype == np.uint8
    assert (frame == BACKGROUND).all(axis=2).mean() > 0.9

    gold = pixels_of(frame, GOLD)
    assert 250 < len(gold) < 400  # a disc of radius 10 (eat radius): ~314 pixels
    np.testing.assert_allclose(gold.mean(axis=0), [80, 240], atol=1.0)
    assert np.abs(gold - [80, 240]).max() <= 11

    puffer = pixels_of(frame, PUFFER)
    assert len(puffer) > 80  # a disc of radius 7, partly covered by its white nose
    assert np.abs(puffer - [240, 80]).max() <= 8
    assert puffer[:, 1].mean() < 80  # the nose points east: the body shows west of centre

    # After 5 ticks east (4 units each) the puffer is drawn 20 pixels right.
    for _ in range(5):
        env.step(np.array([0], np.int32))
    moved = pixels_of(env.render(0), PUFFER)
    assert moved[:, 1].mean() == pytest.approx(puffer[:, 1].mean() + 20, abs=1.0)
    assert moved[:, 0].mean() == pytest.approx(puffer[:, 0].mean(), abs=1.0)


def test_each_env_draws_its_own_state_and_drawing_changes_nothing():
    env = puffer_learn.make("target", num_envs=2, seed=0)
    obs = env.reset().copy()
    first, second = env.render(0), env.render(1)
    assert not np.array_equal(first, second)
    assert len(pixels_of(first, GOLD)) > 100 and len(pixels_of(first, PUFFER)) > 100
    np.testing.assert_array_equal(env.observations, obs)
    np.testing.assert_array_equal(env.render(0), first)  # same state, same picture
    frames = env.render_substeps(0, frames=3)
    assert len(frames) == 3 and all(f.shape == first.shape for f in frames)


def test_save_gif_round_trip(tmp_path):
    env = make_scene("frame")
    env.reset()
    frames = [env.render(0)]
    for _ in range(4):
        env.step(np.array([0], np.int32))
        frames.append(env.render(0))
    path = save_gif(frames, tmp_path / "episode.gif", fps=20)
    gif = Image.open(path)
    assert gif.n_frames == 5 and gif.size == (320, 320)
    assert gif.info["loop"] == 0          # loops forever
    assert gif.info["duration"] == 50     # ms per frame at 20 fps
    gif.seek(0)
    first = np.asarray(gif.convert("RGB"))
    assert tuple(first[80, 240]) == GOLD  # few colours: the palette keeps them exact


@pytest.mark.parametrize("frames, message", [
    ([], "got no frames"),
    ([np.zeros((8, 8, 3), np.float32)], r"frame 0 must be an \(H, W, 3\) uint8.*float32"),
    ([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8)], r"frame 1 must be an \(H, W, 3\)"),
    ([np.zeros((8, 8, 4), np.uint8)], r"got shape \(8, 8, 4\)"),
    ([np.zeros((8, 8, 3), np.uint8), np.zeros((9, 8, 3), np.uint8)], "same size"),
])
def test_save_gif_refuses_bad_frames(tmp_path, frames, message):
    with pytest.raises(ValueError, match=message):
        save_gif(frames, tmp_path / "bad.gif")


def test_save_gif_refuses_bad_fps(tmp_path):
    with pytest.raises(ValueError, match="fps must be > 0"):
        save_gif([np.zeros((8, 8, 3), np.uint8)], tmp_path / "bad.gif", fps=0)


def test_record_episode_stops_at_the_end_of_the_episode():
    env = make_scene("frame", num_envs=2, episode_ticks=12)
    east = lambda obs: np.zeros(len(obs), np.int32)  # noqa: E731
    frames = record_episode(env, policy=east, index=1)
    # The state after reset, then ticks 1..11; tick 12 ends the episode and
    # the env has already reset, so it is not drawn.
    assert len(frames) == 12
    first, last = pixels_of(frames[0], PUFFER), pixels_of(frames[-1], PUFFER)
    assert last[:, 1].mean() == pytest.approx(first[:, 1].mean() + 11 * 4, abs=1.0)

    assert len(record_episode(env, policy=east, substeps=2)) == 1 + 11 * 2
    assert len(record_episode(env, policy="random", max_steps=5)) == 6


def test_record_episode_with_the_scripted_and_random_policies():
    env = puffer_learn.make("target", num_envs=1, seed=0, episode_ticks=30)
    scripted = record_episode(env, policy="scripted")
    assert len(scripted) == 30
    assert env.log()["episodes"] == 1  # the episode really ended
    random_a = record_episode(env, policy="random", seed=1)
    random_b = record_episode(env, policy="random", seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(random_a, random_b))


def test_record_episode_bad_arguments():
    env = puffer_learn.make("target", num_envs=2)
    with pytest.raises(IndexError, match=r"env index 2 does not exist.*\(0..1\)"):
        record_episode(env, index=2)
    with pytest.raises(ValueError, match="policy must be 'scripted', 'random' or a function"):
        record_episode(env, policy="greedy")
    with pytest.raises(ValueError, match="substeps must be an integer >= 1"):
        record_episode(env, substeps=0)
