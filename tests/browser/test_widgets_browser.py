"""The widgets in a real JupyterLab, in headless Chromium: the dashboard
renders and its numbers change while training runs in the background, another
cell (the viewer) runs meanwhile, and the viewer shows an image."""
import time

import nbformat
import pytest

pytestmark = pytest.mark.browser

CELLS = [
    "import puffer_learn\nfrom puffer_learn.widgets import EnvViewer, TrainingDashboard",
    "dash = TrainingDashboard('browser test')\n"
    "dash.train('target', seed=1, total_timesteps=4_000_000, time_limit=40, background=True)",
    # Runs while training goes on: the kernel stays free.
    "viewer = EnvViewer('target', {'scripted': 'scripted'}, seed=2, max_steps=40)",
    "print('training still running:', not dash.done())",
]


def stat(page, name):
    return page.locator(f"td.pl-{name}").first.inner_text()


def test_dashboard_updates_live_and_viewer_shows_frames(browser, jupyter_lab, artifacts):
    url, folder = jupyter_lab
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "widgets_demo.ipynb")

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/lab/tree/widgets_demo.ipynb")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
    page.click("li.lm-MenuBar-item:has-text('Run')")
    page.click("li.lm-Menu-item[data-command='runmenu:run-all']")

    page.wait_for_selector("td.pl-agent-steps", timeout=120_000)
    page.wait_for_function("() => { const td = document.querySelector('td.pl-agent-steps');"
                           " return td && td.innerText.replace(/,/g, '') > 0; }", timeout=60_000)
    first = stat(page, "agent-steps")
    time.sleep(4)
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
