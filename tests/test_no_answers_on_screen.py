"""No answer on screen: every student copy (lessons/student/*.ipynb) runs top
to bottom as a student would leave it (stubs untouched, errors allowed), and
no output shows a line of any solution block of the solved lessons.

Searched: every output (stream text, text/plain, HTML with tags stripped,
markdown, error messages) and every string of the saved widget state (HTML
a widget renders). Solution lines are compared with whitespace collapsed;
lines shorter than MIN_CHARS and lines that also appear in a student copy's
own code (the starter) are skipped.

To stay ~1-2 minutes, training runs with a tiny budget (the training
outputs are numbers, curves and tables, the same kinds of text at any
budget) and the student copies fail fast: a cell that needs an unfinished
exercise stops with one line (Exercise.require). Slow: marked `slow`; CI runs
it (the default selection includes it)."""
import html
import json
import re
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from puffer_learn.widgets.exercises import solution_blocks

ROOT = Path(__file__).resolve().parent.parent
SOLVED = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))
STUDENT = ROOT / "lessons" / "student"
MIN_CHARS = 12

# Runs first in every copy: training keeps every output but does ~2 updates.
SHRINK_TRAINING = """
import puffer_learn
from puffer_learn.training import trainer as _train_module
_real_train = _train_module.train
def _tiny_train(env, *args, **kwargs):
    kwargs.update(total_timesteps=1, eval_episodes=4, time_limit=0)
    return _real_train(env, *args, **kwargs)
_train_module.train = puffer_learn.train = _tiny_train
"""


def squash(text):
    return re.sub(r"\s+", " ", text).strip()


def solution_lines():
    """{normalized line: lesson} over every solution block of every solved lesson."""
    lines = {}
    for path in SOLVED:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                for block in solution_blocks(cell.source):
                    for line in block.splitlines():
                        line = squash(line)
                        if len(line) >= MIN_CHARS:
                            lines.setdefault(line, path.name)
    return lines


def starter_text():
    """All code of the student copies: lines found there are not answers."""
    return squash(" \n ".join(c.source for p in sorted(STUDENT.glob("*.ipynb"))
                              for c in nbformat.read(p, as_version=4).cells if c.cell_type == "code"))


def output_texts(nb):
    """(cell index, text) for everything a student sees in the outputs."""
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                yield index, out.text
            elif out.output_type == "error":
                yield index, out.ename + ": " + out.evalue + "\n" + "\n".join(out.traceback)
            else:
                for mime, data in out.get("data", {}).items():
                    if mime.startswith("text/") or mime.endswith("json"):
                        data = data if isinstance(data, str) else json.dumps(data)
                        yield index, html.unescape(re.sub(r"<[^>]+>", "", data)) if "html" in mime else data
    state = nb.metadata.get("widgets", {})  # what widgets rendered (HTML values, labels)
    strings = []

    def walk(x):
        if isinstance(x, str):
            strings.append(x)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(state)
    for s in strings:
        yield "widget", html.unescape(re.sub(r"<[^>]+>", "", s))


def run_student_copy(path, workdir):
    """Runs a student copy in `workdir` (where its runs/ and demo/ files go)."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(SHRINK_TRAINING))
    start = time.perf_counter()
    NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(workdir)}}).execute()
    first = nb.cells.pop(0)
    assert not first.outputs, f"the training shrinker failed: {first.outputs}"
    return nb, time.perf_counter() - start


def test_solution_lines_are_found_when_shown():
    """The search itself works: a solved lesson's line in an output is caught."""
    lines = solution_lines()
    line = next(iter(lines))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x")])
    nb.cells[0].outputs = [nbformat.v4.new_output("display_data", data={
        "text/html": f"<pre><span>{html.escape(line[:5])}</span>{html.escape(line[5:])}</pre>"})]
    assert any(line in squash(text) for _, text in output_texts(nb))


@pytest.mark.slow
def test_no_solution_line_in_any_student_output(tmp_path):
    lines = solution_lines()
    starter = starter_text()
    searched = {line: lesson for line, lesson in lines.items() if line not in starter}
    assert len(searched) > 20, "too few solution lines: is the marker grammar still found?"
    found, report = [], []
    for path in sorted(STUDENT.glob("[0-9][0-9]_*.ipynb")):
        nb, wall = run_student_copy(path, tmp_path)
        texts = [(i, squash(t)) for i, t in output_texts(nb)]
        errors = sum(out.output_type == "error" for c in nb.cells for out in c.get("outputs", []))
        report.append(f"{path.name}: {wall:.0f} s, {len(texts)} outputs, {errors} cells stopped")
        for line, lesson in searched.items():
            for where, text in texts:
                if line in text:
                    found.append(f"{path.name} cell {where} shows {line!r} (from {lesson})")
    print(f"\nsearched {len(searched)} solution lines ({len(lines) - len(searched)} more are also "
          f"in starter code) in the outputs of {len(report)} student copies:")
    print("\n".join(report))
    print(f"found: {len(found)}")
    assert not found, "\n".join(found)
