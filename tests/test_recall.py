"""The recall env (lesson 7): the cue is in the observation of step 0 only,
the choice at step `delay` is rewarded and ends the episode, actions before
it change nothing, the scripted baseline (which reads the cue from the env's
state) always scores 1 and a policy that sees one observation at a time
can only guess; settings are checked. Observations are compared with
hand-written ones."""
import numpy as np
import pytest

import puffer_learn


def test_one_episode_by_hand():
    # 4 cues, delay 3: step 0 shows the cue, steps 1-2 are blank, step 3 is the choice.
    env = puffer_learn.make("recall", num_envs=1, seed=0, num_cues=4, delay=3)
    assert (env.obs_size, env.num_actions, env.agents_per_env) == (5, 4, 1)
    assert env.obs_bounds == (0.0, 1.0)
    obs = env.reset()
    cue = int(np.argmax(obs[0, :4]))
    np.testing.assert_array_equal(obs[0], np.eye(5, dtype=np.float32)[cue])  # lamp `cue` lit, no choose light
    wrong = (cue + 1) % 4
    blank, choose = [0, 0, 0, 0, 0], [0, 0, 0, 0, 1]
    for step, want in ((0, blank), (1, blank), (2, choose)):
        obs, reward, term, trunc, _ = env.step(np.array([cue], np.int32))  # acting before the choice: nothing
        assert obs[0].tolist() == want, f"after step {step}"
        assert (reward[0], term[0], trunc[0]) == (0, 0, 0)
    assert env.log() == {}  # no episode has ended yet
    obs, reward, term, trunc, _ = env.step(np.array([wrong], np.int32))  # the choice: wrong lamp
    assert (reward[0], term[0], trunc[0]) == (0, 1, 0)
    assert obs[0, :4].sum() == 1 and obs[0, 4] == 0  # a new episode: its cue showing
    assert env.log() == {"score": 0.0, "episode_return": 0.0, "episode_length": 4.0, "episodes": 1}
    cue = int(np.argmax(obs[0, :4]))
    for _ in range(3):
        env.step(np.array([wrong], np.int32))
    _, reward, term, _, _ = env.step(np.array([cue], np.int32))  # right this time
    assert (reward[0], term[0]) == (1, 1)
    assert env.log()["score"] == 1.0


@pytest.mark.parametrize("delay", [1, 2, 7])
def test_the_cue_never_shows_after_step_0(delay):
    """Over many episodes: lamps only at step 0, the choose light only at step
    `delay`, and every observation of steps 1..delay is the same for every
    cue (nothing in it could tell the cues apart)."""
    env = puffer_learn.make("recall", num_envs=64, seed=3, delay=delay)
    obs = env.reset()
    rng = np.random.default_rng(0)
    for episode in range(5):
        assert (obs[:, :4].sum(1) == 1).all() and (obs[:, 4] == 0).all()
        for t in range(1, delay + 1):
            obs, _, term, _, _ = env.step(rng.integers(0, 4, 64, dtype=np.int32))
            assert not term.any()
            want = np.zeros(5, np.float32)
            want[4] = t == delay
            assert (obs == want).all(), f"step {t} of episode {episode} shows something"
        obs, _, term, _, _ = env.step(rng.integers(0, 4, 64, dtype=np.int32))
        assert term.all()


def test_scripted_remembers_and_guessing_scores_one_in_num_cues():
    env = puffer_learn.make("recall", num_envs=500, seed=1, delay=5)
    env.reset()
    for _ in range(6):
        env.step(env.scripted_actions())
    assert env.log()["score"] == 1.0
    # The best a policy without memory can do: the same guess at every choice.
    env.reset()
    env.log()
    for _ in range(6):
        env.step(np.zeros(500, np.int32))
    assert 0.2 < env.log()["score"] < 0.3


def test_render_shows_the_cue_at_step_0_only():
    env = puffer_learn.make("recall", num_envs=1, seed=0, delay=2)
    env.reset()
    with_cue = env.render(0)
    env.step(np.zeros(1, np.int32))
    blank = env.render(0)
    assert with_cue.shape == (128, 256, 3)
    lamps = slice(20, 60)  # the row of lamps
    assert (with_cue[lamps] != blank[lamps]).any()


@pytest.mark.parametrize("setting, message", [
    (dict(delay=0), "delay must be in 1..1000"),
    (dict(num_cues=1), "num_cues must be in 2..16"),
    (dict(num_cues=17), "num_cues must be in 2..16"),
])
def test_bad_settings_say_what_is_valid(setting, message):
    with pytest.raises(ValueError, match=message):
        puffer_learn.make("recall", **setting)
