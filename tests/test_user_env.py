"""Envs a student writes: every kind of mistake comes back as a Python error
(CompileError, ContractError, EnvCrashError) while this process stays alive,
and a correct env given as a source string works end to end."""
import os
import time

import numpy as np
import pytest

import puffer_learn
import puffer_learn.cenv.build
from puffer_learn import CompileError, ContractError, EnvCrashError
from scenes import TARGET_SOURCE

# A tiny env that follows the contract; each test breaks one line of it.
# STEP_BUG marks where env_step's mistake goes.
TINY = """#include "puffer_env.h"
typedef struct Log { float score; float episode_length; float n; } Log;
typedef struct Config { int size; } Config;
typedef struct Env { ENV_CONTRACT_FIELDS int tick; int* cells; } Env;

static void env_defaults(Config* c) { c->size = 4; }
static int env_check(const Config* c, char* err, int n) { return 0; }
static void env_spaces(const Config* c, Spaces* s) {
    s->num_agents = 1; s->obs_size = 1; s->num_actions = 2;
    s->render_width = 16; s->render_height = 16;
}
static void env_init(Env* env) { env->cells = calloc(env->cfg.size, sizeof(int)); }
static void env_reset(Env* env) { env->tick = 0; env->observations[0] = 0; }
static int env_step(Env* env) {
    env->tick++;
    STEP_BUG
    env->rewards[0] = env->actions[0];
    env->terminals[0] = 0;
    env->truncations[0] = env->tick >= 10;
    env->observations[0] = env->tick;
    if (env->tick < 10) return 0;
    env->log.score += 1; env->log.episode_length += env->tick; env->log.n += 1;
    return 1;
}
static void env_scripted(Env* env, int* actions) { actions[0] = 1; }
static void env_render(Env* env) { ClearBackground(BLACK); }
static void env_close(Env* env) { free(env->cells); }
"""
BUG_LINE = TINY.splitlines().index("    STEP_BUG") + 1


def tiny(bug):
    return TINY.replace("STEP_BUG", bug)


def smoke_crash(bug, name):
    """The EnvCrashError message of a TINY env whose bug fires in its smoke run."""
    with pytest.raises(EnvCrashError) as info:
        puffer_learn.make(tiny(bug), name=name)
    return str(info.value)


def test_tiny_env_without_bug_works():
    env = puffer_learn.make(tiny("/* no bug */"), name="tiny_ok", num_envs=3)
    env.reset()
    for _ in range(10):
        obs, rewards, _, truncations, _ = env.step(np.ones(3, np.int32))
    assert truncations.all() and (rewards == 1).all() and (obs == 0).all()
    assert env.log() == {"score": 1.0, "episode_length": 10.0, "episodes": 3}


def test_syntax_error_names_the_file_and_line():
    with pytest.raises(CompileError) as info:
        puffer_learn.make(tiny("int x = ;"), name="syntax_env")
    message = str(info.value)
    assert f"syntax_env.h:{BUG_LINE}:" in message
    assert "error" in message
    assert "/tmp" not in message and "cache" not in message  # paths shortened for a notebook


# Signals and exit() in the smoke run: tests/test_isolation.py, beside the same
# crashes after it (one report shape for both).
def test_out_of_bounds_write_is_caught_with_its_line():
    message = smoke_crash("env->cells[env->cfg.size] = 1;  /* one past the end */", "oob_env")
    first, *details = message.splitlines()
    assert first == (f"oob_env.h crashed at step 1 in its smoke run: heap-buffer-overflow "
                     f"(AddressSanitizer) in oob_env.h:{BUG_LINE} (env_step)")
    assert details[0].startswith("WRITE of size 4")
    # The allocation's frame (env_init) comes under its heading, not as a caller.
    assert message.index("allocated by") < message.index("in env_init")


def test_endless_loop_is_stopped_by_the_timeout(monkeypatch):
    monkeypatch.setattr(puffer_learn.cenv.build, "SMOKE_TIMEOUT_S", 4.0)
    bug = "if (env->tick == 5) { volatile int forever = 1; while (forever) {} }"
    start = time.monotonic()
    with pytest.raises(EnvCrashError, match=r"loop_env.h did not finish 2000 random steps within 4 s: "
                                            r"it was stuck at step 5\. Look for a loop that never ends"):
        puffer_learn.make(tiny(bug), name="loop_env")
    assert time.monotonic() - start < 4.0 + 15  # + compiling twice on a busy 2-core machine


def test_header_missing_a_required_function():
    source = tiny("").replace("static void env_scripted(Env* env, int* actions) { actions[0] = 1; }\n", "")
    with pytest.raises(ContractError, match=r"contract_env.h does not follow the env contract.*"
                                            r"missing: env_scripted\(\.\.\.\)"):
        puffer_learn.make(source, name="contract_env")


def test_log_without_n_last_is_refused():
    source = tiny("").replace("float episode_length; float n;", "float n; float episode_length;")
    with pytest.raises(ContractError, match=r"last field of struct Log must be `float n;`"):
        puffer_learn.make(source, name="log_env")


def test_env_from_a_file_path(tmp_path):
    header = tmp_path / "my_env.h"
    header.write_text(tiny("int x = ;"))
    with pytest.raises(CompileError, match=rf"my_env.h:{BUG_LINE}:"):
        puffer_learn.make(str(header))


def test_source_string_env_works_end_to_end():
    # target.h as a student might edit it: two points per star.
    anchor = "reward += 1;"
    assert TARGET_SOURCE.count(anchor) == 1
    env = puffer_learn.make(TARGET_SOURCE.replace(anchor, "reward += 2;"), name="double_target",
                            num_envs=4, seed=0, episode_ticks=64)
    env.reset()
    total = 0.0
    for _ in range(64):
        _, rewards, _, truncations, _ = env.step(env.scripted_actions())
        assert set(np.unique(rewards)) <= {0.0, 2.0, 4.0}
        total += rewards.sum()
    assert truncations.all() and total > 0
    log = env.log()
    assert log["episodes"] == 4
    assert log["score"] == pytest.approx(total / env.num_agents)
    assert env.render(3).shape == (320, 320, 3)
    assert os.getpid()  # still here
