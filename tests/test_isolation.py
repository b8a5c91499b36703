"""A student's env can never take this process (a notebook kernel) down, and
every contract or memory problem is one clear line.

Crashes after the smoke run happen in the worker process (isolation.py) and
come back as EnvCrashError with the env's file:line; crashes during the
smoke run come back the same way from its AddressSanitizer build. The envs
are TINY (tests/test_user_env.py) with one line changed; compiles are cached
by source hash, so each source below is compiled once per cache.
"""
import os

import numpy as np
import pytest
import torch

import puffer_learn
import puffer_learn.cenv.isolation
from puffer_learn import ContractError, EnvCrashError
from puffer_learn.cenv.build import FAST_FLAGS, Built, build, compile_module, load_module, locate
from puffer_learn.cenv.isolation import IsolatedBackend
from puffer_learn.cenv.vector import InProcessBackend
from puffer_learn.training.errors import NonFiniteWeightsError, check_finite_state_dict
from puffer_learn.export.weights import CPolicy, WeightFileError, read_weights, write_weights
from puffer_learn.training.policies import MLP
from test_user_env import BUG_LINE, smoke_crash, tiny

SCRIPTED = "static void env_scripted(Env* env, int* actions) { actions[0] = 1; }"
# The smoke run makes 4 envs and steps them 2000 times: 8000 env_step calls.
# A bug after call 8000 is one the smoke run cannot see.
AFTER_SMOKE = "static int calls; if (++calls > 8000) "


def crash_after_smoke(bug, name, steps=2100):
    """Builds an env whose bug fires after the smoke run, steps it until it
    does; returns the EnvCrashError's message."""
    env = puffer_learn.make(tiny(AFTER_SMOKE + bug), name=name, num_envs=4)
    env.reset()
    with pytest.raises(EnvCrashError) as info:
        for _ in range(steps):
            env.step()
    # The env is closed, and says so; this process is fine and makes new envs.
    with pytest.raises(RuntimeError, match="env is closed"):
        env.step()
    return str(info.value)


@pytest.mark.parametrize("kind, bug, what", [
    ("abort", "abort();", "SIGABRT (abort() or a failed assert)"),
    # volatile: keep the compiler from deleting the null write as undefined behaviour
    ("segv", "{ int* volatile p = NULL; *p = 1; }", "SIGSEGV (invalid memory access)"),
    ("exit", "exit(0);", "exit(0) was called"),
])
def test_a_crash_reads_the_same_in_the_smoke_run_and_after_it(kind, bug, what):
    """The smoke run (AddressSanitizer's report) and the worker (the stack
    vec_crash_guard.h prints) give one line of one shape: the step, the
    signal or exit, and the env's file:line."""
    # The smoke run's env hits the bug at its 3rd step after reset.
    during = smoke_crash(f"if (env->tick == 3) {bug}", f"{kind}_env")
    assert during == (f"{kind}_env.h crashed at step 3 in its smoke run: {what} in "
                      f"{kind}_env.h:{BUG_LINE} (env_step)")
    # 4 envs: env_step call 8001 is in the 2001st vector step.
    after = crash_after_smoke(bug, f"late_{kind}")
    assert after == (f"late_{kind}.h crashed at step 2001: {what} in late_{kind}.h:{BUG_LINE} "
                     f"(env_step); the env is closed, the kernel is fine")
    assert os.getpid()  # still here


def test_endless_loop_after_the_smoke_run_times_out(monkeypatch):
    monkeypatch.setattr(puffer_learn.cenv.isolation, "CALL_TIMEOUT_S", 2.0)
    message = crash_after_smoke("{ volatile int forever = 1; while (forever) {} }", "late_loop")
    assert "late_loop.h did not finish env_step within 2 s" in message


def test_crash_in_render_is_caught_too():
    source = tiny("").replace("ClearBackground(BLACK);", "ClearBackground(BLACK); "
                              "if (env->cfg.size == 9) abort();")
    line = source.splitlines().index(next(l for l in source.splitlines() if "abort()" in l)) + 1
    env = puffer_learn.make(source, name="render_crash", num_envs=2)
    env.reset()
    assert env.render(1).shape == (16, 16, 3)  # frames come back from the worker
    bad = puffer_learn.make(source, name="render_crash", num_envs=2, size=9)
    bad.reset()
    with pytest.raises(EnvCrashError) as info:
        bad.render(0)
    assert str(info.value) == (f"render_crash.h crashed during env_render: SIGABRT (abort() or a "
                               f"failed assert) in render_crash.h:{line} (env_render); the env is "
                               f"closed, the kernel is fine")
    env.close()


@pytest.mark.parametrize("old, new, error, message", [
    ("s->num_agents = 1;", "s->num_agents = 0;", ContractError,
     r"^zero_agents.h: env_spaces set num_agents = 0; it must be between 1 and 65536$"),
    ("s->obs_size = 1;", "s->obs_size = 0;", ContractError,
     r"^zero_obs.h: env_spaces set obs_size = 0; it must be between 1 and 16777216$"),
    ("s->render_width = 16;", "s->render_width = 100000;", ContractError,
     r"^wide_render.h: env_spaces set render_width = 100000; it must be between 1 and 8192$"),
    ("int tick; int* cells;", "int tick; int* cells; char big[1L << 46];", MemoryError,
     r"^huge_env.h: 4 envs need .* GB .* 4 Env structs of 70368744177760 bytes.*smaller struct Env"),
    (SCRIPTED, "static void env_scripted(Env* env, int* actions);", ContractError,
     r"env_scripted is declared but never defined"),
    ("env->truncations[0] = env->tick >= 10;", "env->truncations[0] = 0;", ContractError,
     r"^noflag_env.h: env_step returned 1 \(episode over\) 800 times in 2000 steps without setting "
     r"any terminal or truncation flag"),
], ids=["zero_agents", "zero_obs", "wide_render", "huge_env", "undefined", "noflag_env"])
def test_contract_and_memory_errors_are_one_line(old, new, error, message):
    name = message.split(".h")[0].lstrip("^") if ".h:" in message else "undef_env"
    source = tiny("")
    assert source.count(old) == 1
    with pytest.raises(error, match=message) as info:
        puffer_learn.make(source.replace(old, new), name=name)
    assert "\n" not in str(info.value) and "Traceback" not in str(info.value)


def test_binding_checks_its_own_calloc():
    """pl_vec_init (C) itself refuses an Env array that does not fit, naming
    the size, for callers that skip Python's estimate (e.g. the C demo)."""
    source = tiny("").replace("int tick; int* cells;", "int tick; int* cells; char big[1L << 46];")
    name, header, _ = locate(source, "huge_env")
    module = load_module(*compile_module(name, header, FAST_FLAGS))
    ffi, lib = module.ffi, module.lib
    cfg = ffi.new("Config*")
    lib.pl_defaults(cfg)
    buf = np.zeros(64, np.float32)
    ints, bytes_ = np.zeros(16, np.int32), np.zeros(16, np.uint8)
    err = ffi.new("char[512]")
    vec = lib.pl_vec_init(cfg, 4, ffi.from_buffer(buf), ffi.from_buffer("int*", ints),
                          ffi.from_buffer("float*", buf), ffi.from_buffer("uint8_t*", bytes_),
                          ffi.from_buffer("uint8_t*", bytes_), 0, 1, err, 512)
    assert vec == ffi.NULL
    assert ffi.string(err).decode().startswith(
        "out of memory allocating 4 Env structs of 70368744177760 bytes each")


@pytest.mark.parametrize("isolate", [False, True])
def test_out_of_range_actions_written_into_the_buffer_are_refused(isolate):
    env = puffer_learn.make("target", num_envs=2, isolate=isolate)
    env.reset()
    env.step()
    before = env.observations.copy()
    for bad in (8, -1, 2**31 - 1):
        env.actions[5] = bad  # straight into the shared buffer, as the trainer writes
        with pytest.raises(ValueError, match=rf"env.actions\[5\] = {bad} is not an action: actions "
                                             rf"must be in 0..7; nothing was stepped"):
            env.step()
        np.testing.assert_array_equal(env.observations, before)
    env.actions[5] = 7
    env.step()  # fine again
    env.close()


def test_built_makes_many_vecenvs():
    built = build("target")
    assert isinstance(built, Built) and built.packaged and built.header.name == "target.h"
    name, packaged, module, header = built  # still unpacks like the old tuple
    a = puffer_learn.make(built, num_envs=2, seed=1)
    b = puffer_learn.make(built, num_envs=3, seed=1)
    assert (a.num_envs, b.num_envs, a.name) == (2, 3, "target")
    a.reset(), b.reset()
    np.testing.assert_array_equal(a.observations, b.observations[:a.num_agents])


def test_isolated_env_matches_in_process_step_for_step():
    source = tiny("")
    built = build(source, name="tiny_same")
    assert not built.packaged
    inside = puffer_learn.make(built, num_envs=3, isolate=False)
    worker = puffer_learn.make(built, num_envs=3)
    assert isinstance(inside._backend, InProcessBackend) and isinstance(worker._backend, IsolatedBackend)
    inside.reset(), worker.reset()
    rng = np.random.default_rng(0)
    for _ in range(25):
        actions = rng.integers(0, 2, 3, dtype=np.int32)
        a, b = inside.step(actions), worker.step(actions)
        for x, y in zip(a[:4], b[:4]):
            np.testing.assert_array_equal(x, y)
    assert inside.log() == worker.log()
    np.testing.assert_array_equal(inside.scripted_actions(), worker.scripted_actions())
    worker.close()
    worker.close()  # twice is fine


# ---- Weights ------------------------------------------------------------------
@pytest.fixture
def weight_file(tmp_path):
    torch.manual_seed(0)
    policy = MLP(5, 3, hidden_size=8, layers=1)
    path = tmp_path / "w.bin"
    write_weights(policy, path)
    return path


def non_finite_weights(data):
    floats = np.frombuffer(data, "<f4", offset=56).copy()
    floats[-10] = np.inf  # actor bias[2]: the critic's 8 + 1 floats come after it
    floats[-2] = np.nan
    data[56:] = floats.tobytes()


def huge_unused_field(data):
    data[36:40] = (2**31).to_bytes(4, "little")  # self_size: an ENTITY field, huge, in an MLP file


@pytest.mark.parametrize("damage, c_message, python_message", [
    (non_finite_weights, r"holds a non-finite weight: actor bias\[2\] = inf",
     r"holds a non-finite weight: actor bias\[2\] = inf"),
    (huge_unused_field, r"entity fields .* must be 0 for this architecture",
     r"header fields self_size must be 0 for this architecture"),
], ids=["non_finite_weight", "unused_header_field"])
def test_both_readers_refuse_a_damaged_file_naming_what_is_wrong(weight_file, damage, c_message,
                                                                 python_message):
    data = bytearray(weight_file.read_bytes())
    damage(data)
    weight_file.write_bytes(bytes(data))
    with pytest.raises(WeightFileError, match=c_message):
        CPolicy(weight_file)
    with pytest.raises(WeightFileError, match=python_message):
        read_weights(weight_file)


def test_a_directory_is_refused_before_it_is_read(tmp_path):
    with pytest.raises(WeightFileError) as info:
        CPolicy(tmp_path)
    assert str(info.value) == (f"weights path {tmp_path} is a directory, not a weight file (pass the "
                               f".bin written by puffer-learn export)")


def test_policy_and_checkpoint_with_nan_are_refused(tmp_path):
    policy = MLP(5, 3, hidden_size=8, layers=1)
    with torch.no_grad():
        policy.actor.weight[1, 2] = float("nan")
    with pytest.raises(NonFiniteWeightsError, match=r"tensor 'actor.weight' holds 1 non-finite value"):
        write_weights(policy, tmp_path / "w.bin")
    assert not (tmp_path / "w.bin").exists()
    with pytest.raises(NonFiniteWeightsError, match=r"^run/model.pt: tensor 'actor.weight'"):
        check_finite_state_dict(policy.state_dict(), "run/model.pt")
    check_finite_state_dict(MLP(5, 3).state_dict(), "fine")  # finite: no error


def test_interrupt_while_waiting_keeps_requests_and_replies_in_step():
    """The notebook's stop button (KeyboardInterrupt) during a step: the next
    call still gets its own reply, not the interrupted one's."""
    import signal
    slow = "if (env->cfg.size == 5) { volatile long i = 0; while (i < 1500000000L) i++; }"
    built = build(tiny(slow), name="slow_env")  # smoke-run at the default size: fast
    env = puffer_learn.make(built, num_envs=1, size=5)
    env.reset()

    def interrupt(*_):
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        with pytest.raises(KeyboardInterrupt):
            env.step(np.ones(1, np.int32))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    obs, rewards, *_ = env.step(np.ones(1, np.int32))  # the interrupted step finished too
    assert obs[0, 0] == 2 and rewards[0] == 1
    assert env.log() == {}
    env.close()


def test_sanitize_reports_a_late_out_of_bounds_write_with_its_line():
    """make(..., sanitize=True): the worker runs the AddressSanitizer build,
    so a heap overflow that only happens after the smoke run is caught too."""
    bug = AFTER_SMOKE + "env->cells[env->cfg.size] = 1;"
    env = puffer_learn.make(tiny(bug), name="late_oob", num_envs=4, sanitize=True)
    env.reset()
    with pytest.raises(EnvCrashError) as info:
        for _ in range(2100):
            env.step()
    first, *details = str(info.value).splitlines()
    assert first == (f"late_oob.h crashed at step 2001: heap-buffer-overflow (AddressSanitizer) in "
                     f"late_oob.h:{BUG_LINE} (env_step); the env is closed, the kernel is fine")
    assert details[0].startswith("WRITE of size 4")
