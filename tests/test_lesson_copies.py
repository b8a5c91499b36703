"""The one module behind the docs' lesson copies: written by nbval's hook and
build_docs.py, checked by the mkdocs hook."""
import importlib.util
from pathlib import Path

import nbformat
import pytest

from puffer_learn.course import lesson_copies as lc

ROOT = Path(__file__).resolve().parents[1]


def lesson(tmp_path, outputs):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Lesson 9 · A test"),
                nbformat.v4.new_code_cell("print(1)", outputs=outputs)]
    nb.metadata["widgets"] = {"state": {}}
    source = tmp_path / "lessons" / "09_test.ipynb"
    source.parent.mkdir(exist_ok=True)
    nbformat.write(nb, source)
    return nb, source


def test_copy_round_trip_drops_widgets_and_tracks_the_source(tmp_path):
    widget = nbformat.v4.new_output("display_data", data={lc.WIDGET_VIEW: {"model_id": "x"},
                                                          "text/plain": "w"})
    text = nbformat.v4.new_output("stream", name="stdout", text="1\n")
    nb, source = lesson(tmp_path, [widget, text])
    target = tmp_path / "docs" / "09_test.ipynb"
    assert not lc.is_current(source, target)
    assert lc.write_copy(nb, source, target, executed_s=1.0) == 1
    copy = lc.read_copy(target)
    assert "".join(copy["cells"][1]["outputs"][0]["text"]) == "1\n" and len(copy["cells"][1]["outputs"]) == 1
    assert "widgets" not in copy["metadata"] and copy["metadata"][lc.STAMP]["executed_s"] == 1.0
    assert lc.is_current(source, target)
    assert lc.copy_problem(target, source.parent) is None
    assert lc.notebook_title(copy, "x") == "Lesson 9 · A test"
    source.write_text(source.read_text().replace("print(1)", "print(2)"))
    assert not lc.is_current(source, target)
    assert "is older than" in lc.copy_problem(target, source.parent)


def test_error_outputs_are_found_and_refused(tmp_path):
    error = nbformat.v4.new_output("error", ename="ValueError", evalue="boom", traceback=[])
    printed = nbformat.v4.new_output("stream", name="stderr",
                                     text="Traceback (most recent call last):\n  ...\nKeyError: 'k'\n")
    nb, source = lesson(tmp_path, [error, printed])
    assert lc.error_outputs(nb) == [(1, "ValueError: boom"), (1, "KeyError: 'k'")]
    target = tmp_path / "docs" / "09_test.ipynb"
    lc.write_copy(nb, source, target)
    assert "has error output (cell 1: ValueError: boom" in lc.copy_problem(target, source.parent)


def test_docs_tools_use_this_module_and_pin_mathjax_once():
    for script in ("scripts/build_docs.py", "scripts/docs_hooks.py", "lessons/conftest.py"):
        text = (ROOT / script).read_text()
        assert "puffer_learn.course.lesson_copies" in text and "sys.path" not in text
        assert "2.7.9" not in text and "def sha256" not in text and "def error_outputs" not in text
    pytest.importorskip("mkdocs")
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "scripts" / "docs_hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    assert hooks.MATHJAX_CDN.count(lc.MATHJAX_VERSION) == 1
