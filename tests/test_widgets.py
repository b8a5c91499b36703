"""Widget state and callbacks, without a browser: the dashboard fed a
synthetic metrics stream, Stop, the viewer's frames, exercise checks."""
import numpy as np
import pytest

from puffer_learn.widgets.dashboard import TrainingDashboard, eta_seconds, time_split_html
from puffer_learn.widgets.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, Exercise
from puffer_learn.widgets.viewer import EnvViewer, side_by_side


def synthetic_stream(updates=6, total=60_000):
    for u in range(1, updates + 1):
        yield {"update": u, "global_step": u * 10_000, "total_timesteps": total,
               "elapsed_s": u * 0.5, "agent_steps_per_s": 20_000.0 + u,
               "time_env": 0.02, "time_forward": 0.3, "time_learn": 0.6,
               "score": 0.5 * u, "baseline_score": 3.0, "ratio": 0.5 * u / 3.0,
               "episode_length": 256.0, "policy_loss": -0.01 * u, "value_loss": 0.1 / u,
               "entropy": 2.0 - 0.1 * u}


def test_dashboard_follows_the_stream():
    dash = TrainingDashboard("synthetic", redraw_every_s=0.0)
    for m in synthetic_stream():
        dash.update(m)
    assert len(dash.history) == 6
    assert dash.progress.value == pytest.approx(1.0)
    assert "60,000 agent steps" in dash.header.value
    assert "1.00" in dash.stats.value  # ratio 3.0 / 3.0 on the last update
    assert dash.curve.value[:8] == b"\x89PNG\r\n\x1a\n"
    first_curve = dash.curve.value
    dash.update({**list(synthetic_stream(7))[-1], "ratio": 0.1})
    assert dash.curve.value != first_curve  # the plot redraws with new data


def test_dashboard_eta_and_progress_mid_run():
    m = next(iter(synthetic_stream()))
    assert eta_seconds(m) == pytest.approx(0.5 / 10_000 * 50_000)
    dash = TrainingDashboard()
    dash.update(m)
    assert dash.progress.value == pytest.approx(1 / 6)
    assert dash.eta.value == "ETA 2 s"


def test_time_split_warns_only_about_a_slow_env():
    assert "bottleneck" not in time_split_html({"time_env": 0.02, "time_forward": 0.3, "time_learn": 0.6})
    assert "takes 55% of wall time" in time_split_html({"time_env": 0.55, "time_forward": 0.2,
                                                        "time_learn": 0.2})


def test_stop_button_sets_the_stop_flag():
    dash = TrainingDashboard()
    assert not dash.stop_event.is_set()
    dash.stop_button.click()
    assert dash.stop_event.is_set() and dash.stop_button.disabled


def test_snapshot_holds_the_final_picture():
    dash = TrainingDashboard("synthetic")
    assert "No training updates" in dash.snapshot_html()
    for m in synthetic_stream():
        dash.update(m)
    dash.finish()
    (snapshot,) = dash.widget.children
    assert "finished after 60,000 agent steps" in snapshot.value
    assert snapshot.value.count("data:image/png;base64,") == 2  # curve and losses


def test_viewer_plays_scripted_and_random_side_by_side():
    viewer = EnvViewer("target", {"scripted": "scripted", "random": "random"}, seed=3,
                       max_steps=12, show=False)
    assert viewer.length == 13  # the reset frame + 12 steps
    assert set(viewer.images) == {"scripted", "random"}
    first = viewer.images["scripted"].value
    viewer.step(+1)
    assert viewer.slider.value == 1 and viewer.images["scripted"].value != first
    viewer.slider.value = 12
    assert viewer.images["random"].value == viewer._png["random"][12]
    viewer.step(+5)
    assert viewer.slider.value == 12  # clamped at the last frame
    assert viewer.gif_bytes()[:6] == b"GIF89a"
    assert 'src="data:image/gif;base64,' in viewer.gif_html()


def test_side_by_side_pads_the_shorter_episode():
    a = [np.zeros((4, 5, 3), np.uint8)] * 3
    b = [np.full((4, 5, 3), 9, np.uint8)] * 2
    frames = side_by_side([a, b], gap=2)
    assert len(frames) == 3 and frames[0].shape == (4, 12, 3)
    assert (frames[2][:, 7:] == 9).all()  # b's last frame held


STARTER = """
int reward(int stars_eaten) {
    return 0;  // TODO
}
"""


def make_exercise():
    def checker(source):
        if "stars_eaten" not in source.split("return")[-1]:
            return False, "the reward does not depend on the stars eaten yet"
        return True, "reward counts the stars"
    return Exercise("reward", checker, hints=["Look at what the function receives.",
                                              "Return the number you are given."],
                    solution="return stars_eaten;", starter=STARTER)


def test_exercise_answers_untouched_wrong_and_right():
    ex = make_exercise()
    assert ex.check(STARTER.replace("    ", "  ")).status == NOT_ATTEMPTED  # whitespace only
    assert ex.check(None).status == NOT_ATTEMPTED
    wrong = ex.check(STARTER.replace("return 0;", "return 1;"))
    assert wrong.status == INCORRECT and "does not depend" in wrong.message
    assert "stars_eaten;" not in wrong.message  # says what is wrong, not the answer
    right = ex.check(STARTER.replace("return 0;", "return stars_eaten;"))
    assert right.status == CORRECT and right.correct


def test_exercise_hints_are_tiered_and_code_errors_are_reported():
    ex = make_exercise()
    assert ex.hint().startswith("Hint 1/2")
    assert ex.hint().startswith("Hint 2/2")
    assert ex.hint().startswith("Hint 2/2")  # stays on the last tier

    def not_done(answer):
        raise NotImplementedError
    assert Exercise("f", not_done, [], "").check("x").status == NOT_ATTEMPTED

    def crashes(answer):
        return answer() > 0, ""
    result = Exercise("g", crashes, [], "").check(lambda: 1 / 0)
    assert result.status == INCORRECT and "ZeroDivisionError" in result.message
