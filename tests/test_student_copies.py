"""Student copies of the lessons: current with their solved sources, and
every exercise stub answers check() with "not attempted"."""
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
STUDENT = sorted((ROOT / "lessons" / "student").glob("[0-9][0-9]_*.ipynb"))


def tags(cell):
    return cell.metadata.get("tags", [])


def test_student_copies_are_current():
    result = subprocess.run([sys.executable, "scripts/make_student_copies.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert {p.name for p in STUDENT} == {p.name for p in (ROOT / "lessons").glob("[0-9][0-9]_*.ipynb")}


def test_copies_hold_no_solutions():
    for path in STUDENT:
        text = path.read_text()
        assert "BEGIN SOLUTION" not in text and "remove-student" not in text, path.name


@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.name)
def test_every_stub_is_not_attempted(path):
    """Runs the setup cells, then each exercise stub and its check cell."""
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    setup = [c for c in cells if "setup" in tags(c)]
    pairs = [(c, cells[k + 1]) for k, c in enumerate(cells[:-1])
             if "exercise" in tags(c) and "check" in tags(cells[k + 1])]
    assert len(pairs) >= 2, f"{path.name}: expected 2-4 exercises with check cells"
    run = nbformat.v4.new_notebook(cells=[*setup, *[cell for pair in pairs for cell in pair]])
    NotebookClient(run, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent.parent)}}).execute()
    for exercise, check in pairs:
        shown = " ".join(str(out.get("data", {}).get("text/plain", "")) for out in check.outputs)
        assert "not attempted" in shown, f"{path.name}: {check.source!r} said {shown!r}"
