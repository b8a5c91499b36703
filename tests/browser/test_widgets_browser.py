"""The widgets in a real JupyterLab, in headless Chromium: the dashboard
renders and its numbers change while training runs in the background, another
cell (the viewer) runs meanwhile, and the viewer shows an image."""
import json
import time
import urllib.request

import nbformat
import pytest

pytestmark = pytest.mark.browser

CELLS = [
    # Proves which kernel runs the cells: its connection file is kernel-<id>.json.
    "import os, ipykernel\n"
    "print('kernel', os.path.basename(ipykernel.get_connection_file())[7:-5])\n"
    "import puffer_learn\nfrom puffer_learn.widgets import EnvViewer, TrainingDashboard",
    "dash = TrainingDashboard('browser test')\n"
    "dash.train('target', seed=1, total_timesteps=4_000_000, time_limit=40, background=True)",
    # Runs while training goes on: the kernel stays free.
    "viewer = EnvViewer('target', {'scripted': 'scripted'}, seed=2, max_steps=40)",
    "print('training still running:', not dash.done())",
]


def api(url, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def start_kernel(url, notebook):
    """Starts the notebook's kernel through the server's REST API, so that
    JupyterLab attaches to this session when it opens the notebook instead of
    starting a kernel of its own while the page already looks ready (its
    status indicator reads 'idle' before any kernel exists, and a Run All
    clicked then is lost)."""
    session = api(url, "/api/sessions", {"path": notebook, "name": notebook, "type": "notebook",
                                         "kernel": {"name": "python3"}})
    return session["kernel"]["id"]


def wait_until_idle(url, kernel_id, timeout=90.0):
    """The server says the kernel answered a client and is idle. (A kernel
    nobody has talked to stays 'starting': the page's connection moves it.)"""
    deadline = time.monotonic() + timeout
    while api(url, f"/api/kernels/{kernel_id}")["execution_state"] != "idle":
        if time.monotonic() > deadline:
            raise TimeoutError(f"kernel {kernel_id} did not become idle within {timeout:.0f} s")
        time.sleep(0.2)


def stat(page, name):
    return page.locator(f"td.pl-{name}").first.inner_text()


def test_dashboard_updates_live_and_viewer_shows_frames(browser, jupyter_lab, artifacts):
    url, folder = jupyter_lab
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "widgets_demo.ipynb")
    kernel_id = start_kernel(url, "widgets_demo.ipynb")

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/lab/tree/widgets_demo.ipynb")
    wait_until_idle(url, kernel_id)
    # The page is attached to our kernel once the toolbar names it and it is idle.
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
    page.wait_for_function("() => { const k = document.querySelector('.jp-KernelName');"
                           " return k && /Python/.test(k.innerText); }", timeout=90_000)
    page.click("li.lm-MenuBar-item:has-text('Run')")
    page.click("li.lm-Menu-item[data-command='runmenu:run-all']")
    # The first cell's output proves the cells run, and in the kernel we started.
    page.wait_for_selector(f"text=kernel {kernel_id}", timeout=120_000)

    page.wait_for_selector("td.pl-agent-steps", timeout=120_000)
    page.wait_for_function("() => { const td = document.querySelector('td.pl-agent-steps');"
                           " return td && td.innerText.replace(/,/g, '') > 0; }", timeout=60_000)
    first = stat(page, "agent-steps")
    # The dashboard redraws at most twice a second: wait for the count to move.
    page.wait_for_function(f"() => document.querySelector('td.pl-agent-steps').innerText"
                           f".replace(/,/g, '') > {int(first.replace(',', ''))}", timeout=60_000)
    second = stat(page, "agent-steps")
    page.screenshot(path=str(artifacts / "dashboard_mid_run.png"), full_page=True)
    assert int(second.replace(",", "")) > int(first.replace(",", "")), (first, second)
    assert page.locator("td.pl-agent-stepss").count() >= 1  # agent-steps/s is shown too

    # The viewer cell ran while training was still going on.
    page.wait_for_selector("text=training still running: True", timeout=120_000)
    image = page.locator(".widget-image").last
    image.wait_for(timeout=30_000)
    width = image.evaluate("img => img.complete ? img.naturalWidth : 0")
    assert width == 320
    image.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "viewer.png"), full_page=True)
    errors = page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']")
    assert "Traceback" not in " ".join(errors.all_inner_texts())
