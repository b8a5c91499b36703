"""The built docs site in headless Chromium: the landing page shows its
gallery, every lesson page has its title, a rendered image and no error
output, and no page has a broken image or a missing local file.

The site is built once by `python scripts/build_docs.py` (CI runs it before
pytest); if site/ holds no build yet, this test builds it with --reuse.
Requests leaving 127.0.0.1 are blocked, so the pages are checked as they
render offline."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import free_port, wait_for_http

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "site"
OTHER_PAGES = ["getting-started/", "env-contract/", "api/", "instructors/", "troubleshooting/"]

IMAGES_JS = """() => Array.from(document.images).map(i => ({src: i.src.slice(0, 80),
    complete: i.complete, width: i.naturalWidth}))"""


@pytest.fixture(scope="session")
def docs_site(browser):  # needs the browser first: no build at all where chromium is missing
    if not (SITE / "index.html").exists():
        subprocess.run([sys.executable, "scripts/build_docs.py", "--reuse"], cwd=ROOT, check=True)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", str(SITE)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for_http(url, process=server)
        yield url
    finally:
        server.terminate()
        server.wait(10)


def open_page(browser, url, path):
    """Opens a page with outside requests blocked; returns (page, problems)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = []
    page.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), lambda route: route.abort())
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(url + path, wait_until="load")
    return page, problems


def check_images(page, path, need_one=True):
    page.wait_for_load_state("load")
    images = page.evaluate(IMAGES_JS)
    broken = [i["src"] for i in images if i["complete"] and i["width"] == 0]
    assert not broken, f"{path}: broken images {broken}"
    if need_one:
        assert any(i["width"] > 0 for i in images), f"{path}: no rendered image ({images})"


def check_no_errors(page, path):
    stderr = page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']")
    text = " ".join(stderr.all_inner_texts())
    assert "Traceback" not in text, f"{path}: error output on the page: {text[:500]}"
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']").count() == 0


def lesson_titles():
    """{"lessons/NAME/": title} from the executed lesson copies the site was built from."""
    titles = {}
    for nb_path in sorted((ROOT / "docs" / "lessons").glob("*.ipynb")):
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        title = nb_path.stem
        for cell in nb["cells"]:
            match = re.search(r"^#\s+(.+)$", "".join(cell["source"]), re.M) \
                if cell["cell_type"] == "markdown" else None
            if match:
                title = match.group(1).strip()
                break
        titles[f"lessons/{nb_path.stem}/"] = title
    return titles


def test_landing_page_shows_the_gallery(browser, docs_site, artifacts):
    page, problems = open_page(browser, docs_site, "")
    assert page.title().startswith("puffer_learn")
    assert page.locator("h1").first.inner_text().startswith("puffer_learn")
    check_images(page, "index", need_one=False)  # live agents replace their GIFs with canvases
    gallery = page.locator(".pl-gallery .pl-agent")
    assert gallery.count() >= 1, "the landing page has no trained agents (run scripts/build_docs.py)"
    for k in range(gallery.count()):
        figure = gallery.nth(k)
        # The GIF, or the live canvas that replaced it (test_gallery_agents_play_live).
        figure.locator("img, canvas").first.wait_for()
        if figure.locator("canvas").count() == 0:
            assert figure.locator("img").evaluate("i => i.naturalWidth") > 0
        assert "puffer-learn train" in figure.inner_text()
    for path in lesson_titles():  # the nav links every lesson
        assert page.locator(f'a[href="{path}"]').count() >= 1, f"no link to {path}"
    page.screenshot(path=str(artifacts / "docs_landing.png"), full_page=True)
    assert not problems, problems
    page.close()


def test_every_lesson_page_renders_without_errors(browser, docs_site, artifacts):
    titles = lesson_titles()
    sources = sorted(p.stem for p in (ROOT / "lessons").glob("*.ipynb"))
    assert sorted(p.split("/")[1] for p in titles) == sources or not sources, \
        f"the site's lessons {sorted(titles)} are not lessons/ ({sources}): rebuild the site"
    if not titles:
        pytest.skip("no lessons in lessons/ yet")
    for path, title in titles.items():
        page, problems = open_page(browser, docs_site, path)
        assert title in page.title(), (path, page.title())
        assert title in page.locator("h1").first.inner_text()
        check_images(page, path)
        check_no_errors(page, path)
        assert not problems, (path, problems)
        page.close()


def test_other_pages_render(browser, docs_site):
    for path in OTHER_PAGES:
        page, problems = open_page(browser, docs_site, path)
        assert page.locator("h1").first.inner_text().strip(), path
        check_images(page, path, need_one=False)
        assert not problems, (path, problems)
        if path == "env-contract/":  # the real header lines were embedded
            assert "ENV_CONTRACT_FIELDS" in page.inner_text("article")
            assert "--8<--" not in page.inner_text("article")
        if path == "getting-started/":  # the README's commands were included
            assert "constraints.txt" in page.inner_text("article")
        page.close()


def web_agents():
    path = ROOT / "docs" / "generated" / "web.json"
    return json.loads(path.read_text()) if path.exists() else {}


PLAYING_JS = """() => Object.values(window.pufferDemos || {}).map(d => ({ticks: d.ticks, error: d.error}))"""


def test_gallery_and_lesson_agents_play_live(browser, docs_site, artifacts):
    """Every agent the site lists in generated/web.json plays in its page:
    past 300 ticks, no error, the canvas changes. Waits on tick counts."""
    agents = web_agents()
    if not agents:
        pytest.skip("this site was built without live agents (build_docs.py --no-web)")
    pages = {"": sum(k.startswith("gallery/") for k in agents)}
    pages.update({f"lessons/{k.split('/', 1)[1]}/": 1 for k in agents if k.startswith("lessons/")})
    for path, count in pages.items():
        page, problems = open_page(browser, docs_site, path)
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.wait_for_function(f"() => ({PLAYING_JS})().length === {count} && ({PLAYING_JS})()"
                               f".every(d => d.ticks > 300 || d.error)", timeout=120_000)
        states = page.evaluate(PLAYING_JS)
        assert all(d["error"] is None for d in states), (path, states)
        canvas = page.locator(".pl-live canvas").first
        first = canvas.screenshot()
        ticks = min(d["ticks"] for d in states)
        page.wait_for_function(f"() => ({PLAYING_JS})().every(d => d.ticks > {ticks + 30})", timeout=60_000)
        assert canvas.screenshot() != first, f"{path}: the live agent's canvas did not change"
        assert page.locator(".pl-live canvas").count() == count
        name = path.strip("/").replace("/", "_") or "index"
        page.screenshot(path=str(artifacts / f"docs_live_{name}.png"), full_page=False)
        assert not problems and not errors, (path, problems, errors)
        page.close()


def test_without_webassembly_the_gallery_keeps_its_gifs(browser, docs_site):
    if not any(k.startswith("gallery/") for k in web_agents()):
        pytest.skip("this site was built without live gallery agents")
    page = browser.new_page()
    page.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), lambda route: route.abort())
    page.add_init_script("delete window.WebAssembly")
    page.goto(docs_site, wait_until="load")
    page.wait_for_function("() => Object.values(window.pufferDemos || {}).length > 0 && "
                           "Object.values(window.pufferDemos).every(d => d.error)", timeout=60_000)
    check_images(page, "index (no WebAssembly)")
    assert page.locator(".pl-live canvas").count() == 0
    assert page.locator(".pl-live img").count() >= 1
    assert "no WebAssembly" in page.locator(".pl-live .pl-status").first.inner_text()
    page.close()
