"""puffer-learn export --web: the env and policy compiled to WebAssembly play
exactly the native demo's game (run under wasmtime here; the page itself is
tests/browser/test_web_page.py), refuse bad weights with the loader's
message, stay small, and an env drawing with a raylib call the page lacks
fails to build naming that call."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from puffer_learn.cenv import build
from puffer_learn.export import web
from puffer_learn.export.weights import write_weights
from puffer_learn.export.program import run_demo

pytest.importorskip("ziglang")
pytest.importorskip("wasmtime")
ENVS = ["target", "asteroids", "breakout", "recall"]  # recall: an LSTM policy
# target_continuous has no trained agent yet (the trainer's continuous actions
# come later): it is tested below with a hand-built policy.


@pytest.fixture(scope="module")
def exported(web_exports):
    """{env: export() result}: a briefly trained agent per packaged env, exported with --web."""
    return {env: web_exports[env] for env in ENVS}


@pytest.mark.parametrize("argmax", [False, True], ids=["sampled", "argmax"])
@pytest.mark.parametrize("env", ENVS)
def test_the_wasm_module_plays_the_native_demos_game(exported, env, argmax):
    """Same seed, weights and episodes: the same JSON line, every field equal."""
    result = exported[env]
    native = run_demo(result["program"], episodes=6, seed=5, argmax=argmax)
    wasm = web.run_wasm(result["wasm"], result["weights"], episodes=6, seed=5, argmax=argmax)
    ticks, draws = wasm.pop("ticks"), wasm.pop("draw_calls")
    print(f"{env} {'argmax' if argmax else 'sampled'}: {ticks} ticks, {draws} draw calls, {native}")
    assert wasm == native
    assert draws >= ticks  # it drew every tick, and drawing did not change the game


@pytest.fixture(scope="module")
def continuous_exported(tmp_path_factory, continuous_policy):
    """target_continuous with a hand-built policy (conftest.py), until the trainer makes one."""
    from puffer_learn.export.program import export_policy

    return export_policy("target_continuous", continuous_policy, {}, tmp_path_factory.mktemp("continuous"),
                         web=True)


def test_a_continuous_env_plays_the_native_demos_game(continuous_exported):
    """Mean actions straight into the physics, 20 episodes: any last-bit
    difference between the page and the program would move a puffer, and a
    star eaten or missed would change the score. They are equal: the moves
    use sqrtf, exact on both (no sinf, cosf, whose libms differ)."""
    import wasmtime

    result = continuous_exported
    native = run_demo(result["program"], episodes=20, seed=5)
    wasm = web.run_wasm(result["wasm"], result["weights"], episodes=20, seed=5)
    ticks, draws = wasm.pop("ticks"), wasm.pop("draw_calls")
    print(f"target_continuous: {ticks} ticks, {draws} draw calls, {native}")
    assert wasm == native and native["policy"] == "mean" and native["score"] > 1.5
    module = wasmtime.Module.from_file(wasmtime.Engine(), result["wasm"])
    assert result["wasm_bytes"] <= 100 * 1024 and {i.module for i in module.imports} == {"draw"}


def test_a_continuous_page_stops_on_an_action_that_is_not_finite(continuous_exported, overflowing_policy,
                                                                 tmp_path):
    write_weights(overflowing_policy, tmp_path / "inf.bin")
    with pytest.raises(RuntimeError, match=r"^the policy's action 0 is not a finite number \(NaN or inf\)$"):
        web.run_wasm(continuous_exported["wasm"], tmp_path / "inf.bin")


@pytest.mark.parametrize("env", ENVS)
def test_the_module_is_small_and_imports_only_draw_calls(exported, env):
    import wasmtime

    path = Path(exported[env]["wasm"])
    print(f"{env}.wasm: {path.stat().st_size} bytes")
    assert path.stat().st_size <= 100 * 1024
    module = wasmtime.Module.from_file(wasmtime.Engine(), str(path))
    assert {i.module for i in module.imports} == {"draw"}
    assert {"_initialize", "pl_web_init", "pl_web_step", "pl_web_render"} <= {e.name for e in module.exports}


def test_export_web_writes_a_page_next_to_the_native_demo(exported):
    folder = Path(exported["target"]["wasm"]).parent
    assert {"target_demo", "target_demo.bin", "target.wasm", "player.js", "index.html"} <= \
        {p.name for p in folder.iterdir()}
    page = (folder / "index.html").read_text()
    assert '"target.wasm"' in page and '"target_demo.bin"' in page and "{{" not in page


@pytest.mark.parametrize("damage,message", [
    (lambda b: b"JUNKJUNK" + b[8:], "not a puffernet weight file (bad magic bytes)"),
    (lambda b: b[:500], "truncated or corrupted"),
    (lambda b: b"", "bad magic bytes"),
])
def test_the_module_refuses_damaged_weights_with_the_loaders_message(exported, tmp_path, damage, message):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(damage(Path(exported["target"]["weights"]).read_bytes()))
    with pytest.raises(RuntimeError, match=re.escape(message)):
        web.run_wasm(exported["target"]["wasm"], bad)


def test_the_module_refuses_weights_for_another_env(exported, tmp_path):
    from puffer_learn.training.policies import MLP

    write_weights(MLP(31, 8, hidden_size=16), tmp_path / "six_stars.bin")
    with pytest.raises(RuntimeError, match="31 numbers but the env gives 27"):
        web.run_wasm(exported["target"]["wasm"], tmp_path / "six_stars.bin")
    with pytest.raises(RuntimeError, match="numbers but the env gives"):  # breakout's policy
        web.run_wasm(exported["target"]["wasm"], exported["breakout"]["weights"])


def test_a_raylib_call_the_page_cannot_draw_fails_the_build_naming_it(tmp_path):
    source = (build.ENVS_DIR / "target" / "target.h").read_text()
    marker = "static void env_render(Env* env) {"
    assert marker in source
    header = tmp_path / "circles.h"
    header.write_text(source.replace(marker, marker + "\n    DrawCircle(10, 10, 5.0f, RED);"))
    config = tmp_path / "circles_config.h"
    config.write_text('#define ENV_NAME "circles"\nstatic void demo_config(Config* c) { env_defaults(c); }\n'
                      'static const char* LOG_FIELDS[] = {"score"};\n')
    with pytest.raises(build.CompileError) as info:
        web.compile_wasm("circles", header, config, tmp_path / "circles.wasm")
    message = str(info.value)
    print(message)
    assert "\n" not in message
    assert "circles.h:" in message and "DrawCircle" in message and "raylib_canvas.h" in message


def test_a_second_build_of_the_same_sources_comes_from_the_cache(exported, tmp_path, monkeypatch):
    result = exported["target"]
    header = build.ENVS_DIR / "target" / "target.h"

    def no_compiler(*args, **kwargs):
        raise AssertionError("compiled again instead of using the cache")
    monkeypatch.setattr(web.subprocess, "run", no_compiler)
    out = web.compile_wasm("target", header, result["config"], tmp_path / "again.wasm")
    assert out.read_bytes() == Path(result["wasm"]).read_bytes()


def test_the_cli_exports_a_page(exported, tmp_path):
    checkpoint = next(Path(exported["target"]["wasm"]).parents[1].glob("runs/target-1/model.pt"))
    cmd = [sys.executable, "-m", "puffer_learn.cli", "export", "target", "--checkpoint", str(checkpoint),
           "--out", str(tmp_path / "page"), "--web"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(line["page"]).exists() and line["wasm_bytes"] <= 100 * 1024
    assert "http.server" in result.stderr
