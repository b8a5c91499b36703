"""slow_target (lesson 6): the same game as target, slowly; and the profiler
that finds why (puffer_learn/cenv/profiling.py)."""
import numpy as np
import pytest

import puffer_learn
from puffer_learn.cenv.profiling import bench, gprof, parse_flat_profile
from puffer_learn.widgets.exercises import compare_envs


def test_slow_target_plays_the_same_game_as_target():
    # Same seed, same actions: identical observations, rewards, flags and logs,
    # across episode ends (256 ticks) and so across the slow reset.
    ok, message = compare_envs("slow_target", "target", seeds=(1, 2), steps=600, atol=0)
    assert ok, message


def test_slow_target_is_much_slower_than_target():
    rates = {"target": [], "slow_target": []}
    for _ in range(2):  # alternate, so a busy moment hits both alike
        for env in rates:
            rates[env].append(bench(env, num_envs=64, seconds=0.3)["agent_steps_per_s"])
    assert max(rates["target"]) > 5 * max(rates["slow_target"]), rates


def test_flat_profile_parser_reads_rows_with_and_without_call_counts():
    text = """Flat profile:

Each sample counts as 0.01 seconds.
  %   cumulative   self              self     total
 time   seconds   seconds    calls  ms/call  ms/call  name
 61.80      3.51     3.51     1024     3.43     3.43  build_background
 33.30      5.40     1.89                             __sinf_fma
  0.50      5.43     0.03   256064     0.00     0.00  pl_rand_range.constprop.0
"""
    rows = parse_flat_profile(text)
    assert [r["name"] for r in rows] == ["build_background", "__sinf_fma", "pl_rand_range.constprop.0"]
    assert rows[0] == {"name": "build_background", "percent": 61.8, "self_s": 3.51, "calls": 1024}
    assert rows[1]["calls"] is None and rows[1]["self_s"] == 1.89


def test_gprof_names_the_slow_reset():
    profile = gprof("slow_target", steps=600, num_envs=8)
    names = [r["name"] for r in profile.top(3)]
    assert "build_background" in names, profile.table()
    calls = {r["name"]: r["calls"] for r in profile.rows}
    # one build per episode per env: 8 envs x (1 + 600 // 256) episodes
    assert calls["build_background"] == 8 * (1 + 600 // 256)
    assert profile.share("build_background|sin|cos") > 0.5
    assert profile.run["agent_steps"] == 600 * 8 * 8


def test_gprof_reports_a_compile_error_with_the_line():
    source = puffer_learn.cenv.build.ENVS_DIR.joinpath("target/target.h").read_text()
    broken = source.replace("env->tick++;", "env->tick++ oops;")
    with pytest.raises(puffer_learn.CompileError, match=r"student_env.h:\d+"):
        gprof(broken)
