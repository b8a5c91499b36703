"""experiments.compare on a tiny budget: the shapes lessons rely on, and the
area-under-curve helper on hand-checked numbers."""
import math

import numpy as np

from puffer_learn.course.experiments import area_under_curve, compare, curve_of


def test_area_under_curve_is_the_mean_over_steps():
    # 0 -> 1 linearly over 100 steps, then flat at 1 for 100: area 50 + 100 over 200 steps.
    assert math.isclose(area_under_curve(np.array([0.0, 100, 200]), np.array([0.0, 1, 1])), 0.75)
    assert area_under_curve(np.array([5.0]), np.array([0.4])) == 0.4
    assert math.isnan(area_under_curve(np.zeros(0), np.zeros(0)))


def test_curve_of_skips_updates_without_episodes():
    steps, values = curve_of([{"global_step": 10, "ratio": None}, {"global_step": 20, "ratio": 0.5}])
    assert steps.tolist() == [20.0] and values.tolist() == [0.5]


def test_compare_returns_rows_curves_and_beats(tmp_path):
    seen = []
    result = compare("asteroids", {"sorted": {}, "unsorted": {"env_config": {"entity_order": "unsorted"}}},
                     seeds=[1, 2], total_timesteps=4096 * 3, out=str(tmp_path),
                     on_run=seen.append, num_envs=32, eval_episodes=8)
    assert len(result.rows) == 4 and len(seen) == 4
    assert {(r["variant"], r["seed"]) for r in result.rows} == {
        (v, s) for v in ("sorted", "unsorted") for s in (1, 2)}
    for row in result.rows:
        assert row["global_step"] == 4096 * 3
        assert math.isfinite(row["final_ratio"]) and math.isfinite(row["auc"])
    assert list(result.curves) == ["sorted", "unsorted"]
    for curves in result.curves.values():
        assert len(curves) == 2  # one (steps, ratios) pair per seed
        for steps, ratios in curves:
            assert steps.shape == ratios.shape and len(steps) >= 1
            assert np.all(np.diff(steps) > 0)
    for metric in ("final_ratio", "auc"):
        wins = result.beats("sorted", "unsorted", metric)
        assert len(wins) == 2 and all(isinstance(w, bool) for w in wins)
    table = result.table()
    assert [t["variant"] for t in table] == ["sorted", "unsorted"]
    assert all(t["seeds"] == 2 for t in table)
    assert "<table" in result._repr_html_()
