"""The page `puffer-learn export --web` writes, in headless Chromium with
requests leaving 127.0.0.1 blocked: the agent plays (ticks grow, the canvas
changes), no console errors, the score after N episodes is the native demo's,
and bad weights show the loader's message instead of a blank canvas.
Every wait is on a tick or episode count the page reports, never on time."""
import re
import subprocess
import sys

import pytest

from conftest import free_port, wait_for_http

pytestmark = pytest.mark.browser
pytest.importorskip("ziglang")
ENVS = ["target", "asteroids", "breakout"]


@pytest.fixture(scope="module")
def pages(web_exports):
    """{env: export() result}, each env's page in its own folder, all served over http."""
    out = {env: web_exports[env] for env in ENVS}
    root = web_exports.root
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", str(root)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/target/index.html", process=server)
        yield f"http://127.0.0.1:{port}/", root, out
    finally:
        server.terminate()
        server.wait(10)


def open_page(browser, url):
    page = browser.new_page(viewport={"width": 900, "height": 800})
    problems = []
    page.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), lambda route: route.abort())
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(url, wait_until="load")
    return page, problems


def demo(page):
    return page.evaluate("() => JSON.parse(JSON.stringify(window.pufferDemo))")


def test_the_page_plays_and_its_score_is_the_native_demos(browser, pages, artifacts):
    from puffer_learn.export.program import run_demo

    url, _, exported = pages
    page, problems = open_page(browser, url + "target/index.html?seed=2&episodes=3")
    page.wait_for_function("() => window.pufferDemo.ticks > 300 || window.pufferDemo.error", timeout=60_000)
    assert demo(page)["error"] is None
    canvas = page.locator("canvas")
    first = canvas.screenshot(path=str(artifacts / "web_page_target_1.png"))
    ticks = demo(page)["ticks"]
    page.wait_for_function(f"() => window.pufferDemo.ticks > {ticks + 30}", timeout=60_000)
    second = canvas.screenshot(path=str(artifacts / "web_page_target_2.png"))
    assert first != second, "the canvas did not change while the agent played"
    # Frames per second with target's 8 agents: the rate the page draws at
    # (requestAnimationFrame, capped by the display's 60 Hz) and how many
    # frames of work (step + draw) the page could do back to back.
    frames = demo(page)["frames"]
    page.wait_for_function(f"() => window.pufferDemo.frames > {frames + 130}", timeout=60_000)
    state = demo(page)
    capacity = page.evaluate("() => window.pufferDemo.benchmark(600)")
    print(f"target, 8 agents: {state['fps']:.1f} frames/s drawn in headless Chromium; "
          f"{capacity:.0f} frames/s of step + draw back to back")
    # The drawn rate also depends on what else loads the machine (2 shared
    # cores here: it fell below 20 at a load average of 12), so the budget is
    # asserted on the page's own work: >= 60 frames/s; the drawn rate is printed.
    assert capacity >= 60 and state["fps"] > 0
    page.wait_for_function("() => window.pufferDemo.done", timeout=120_000)
    state = demo(page)
    native = run_demo(exported["target"]["program"], episodes=3, seed=2)
    print(f"page: score {state['score']} after {state['result']['episodes']} episodes; native demo: {native}")
    assert state["score"] == native["score"] and state["result"]["episodes"] == native["episodes"]
    assert "score" in page.locator(".pl-status").inner_text()
    assert not problems, problems
    page.close()


@pytest.mark.parametrize("env,argmax", [("asteroids", False), ("breakout", True), ("target", True)])
def test_the_pages_score_matches_the_native_demo_for_every_env(browser, pages, env, argmax):
    from puffer_learn.export.program import run_demo

    url, _, exported = pages
    flag = "&argmax=1" if argmax else ""
    page, problems = open_page(browser, url + f"{env}/index.html?seed=7&episodes=4&speed=8{flag}")
    page.wait_for_function("() => window.pufferDemo.done || window.pufferDemo.error", timeout=120_000)
    state = demo(page)
    native = run_demo(exported[env]["program"], episodes=4, seed=7, argmax=argmax)
    assert state["error"] is None
    print(f"{env} ({'argmax' if argmax else 'sampled'}): page {state['result']}, native {native}")
    assert state["result"] == native  # every field, not only the score
    assert not problems, problems
    page.close()


@pytest.mark.parametrize("weights,message", [
    (b"JUNKJUNK" + b"\0" * 100, "not a puffernet weight file (bad magic bytes)"),
    ("breakout", "numbers but the env gives"),  # another env's policy
])
def test_bad_weights_show_the_loaders_message(browser, pages, weights, message):
    url, root, exported = pages
    folder = root / f"bad_{len(str(weights))}"
    folder.mkdir(exist_ok=True)
    for name in ("index.html", "player.js", "target.wasm"):
        (folder / name).write_bytes((root / "target" / name).read_bytes())
    data = weights if isinstance(weights, bytes) else (root / weights / f"{weights}_demo.bin").read_bytes()
    (folder / "target_demo.bin").write_bytes(data)
    page, problems = open_page(browser, url + f"{folder.name}/index.html")
    page.wait_for_function("() => window.pufferDemo.error", timeout=60_000)
    assert message in demo(page)["error"]
    assert message in page.locator(".pl-status").inner_text()
    assert page.locator("canvas").count() == 0  # a message, not a blank canvas
    assert not problems, problems
    page.close()


def test_a_bad_seed_in_the_address_is_named(browser, pages):
    url, _, _ = pages
    page, _ = open_page(browser, url + "target/index.html?seed=abc")
    page.wait_for_function("() => window.pufferDemo.error", timeout=60_000)
    assert "seed must be a whole number" in demo(page)["error"]
    page.close()
