"""Student copies of the lessons: current with their solved sources, every
exercise stub answers check() with "not attempted", cells that build on an
exercise stop with one line when it is not done, lesson 1's answers are
target.h's marked sections (one source), and every lesson opens with its
objectives, prerequisites and time and has a predict-then-run cell."""
import re
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


SOLVED = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))


def exercise_names(nb):
    """The names exercise cells define (functions, or C snippet strings)."""
    names = []
    for cell in nb.cells:
        if cell.cell_type == "code" and "exercise" in tags(cell):
            match = re.search(r"^(?:def|class) (\w+)|^(\w+)\s*=", cell.source, re.M)
            names.append(match.group(1) or match.group(2))
    return names


@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.name)
def test_cells_that_use_an_exercise_require_it_first(path):
    """A cell that builds on an exercise's answer starts with require(), so an
    unfinished exercise stops it with one line instead of a traceback."""
    nb = nbformat.read(path, as_version=4)
    names = exercise_names(nb)
    for cell in nb.cells:
        if cell.cell_type != "code" or {"exercise", "check"} & set(tags(cell)):
            continue
        code = re.sub(r"#[^\n]*|\"[^\"\n]*\"", "", cell.source)  # not in comments or strings
        used = [n for n in names if re.search(rf"\b{n}\b", code)]
        if used:
            first = cell.source.lstrip().splitlines()[0]
            assert ".require" in first or "require_all" in first, (path.name, used, cell.source[:120])


def test_lesson1_answers_are_the_marked_sections_of_target_h():
    """One source: lesson 1's solution blocks are target.h's marked sections
    (up to comments and whitespace), which the checks compare against."""
    from puffer_learn.widgets.exercises import normalized_code, solution_blocks
    from puffer_learn.widgets.lessons import lesson1
    from puffer_learn.widgets.lessons.shared import source_section

    for part in lesson1.TARGET_PARTS:
        exercise = getattr(lesson1, part)
        blocks = solution_blocks(exercise.solved_cell())
        assert len(blocks) == 1
        assert normalized_code(blocks[0]) == normalized_code(source_section("target/target.h", part)), part


def test_step_section_shown_above_the_exercises_hides_their_answers():
    from puffer_learn.widgets.exercises import solution_blocks
    from puffer_learn.widgets.lessons import lesson1
    from puffer_learn.widgets.lessons.shared import source_section

    shown = source_section("target/target.h", "step")
    assert "exercise 2: you write this part" in shown and "exercise 3: you write this part" in shown
    assert "--8<--" not in shown
    for part in lesson1.TARGET_PARTS:
        for line in solution_blocks(getattr(lesson1, part).solved_cell())[0].splitlines():
            if len(line.strip()) >= 12:
                assert line.strip() not in shown, line


@pytest.mark.parametrize("path", SOLVED, ids=lambda p: p.name)
def test_every_lesson_opens_with_objectives_prerequisites_time_and_has_a_prediction(path):
    nb = nbformat.read(path, as_version=4)
    opening = nb.cells[0].source
    for part in ("**You will:**", "**You need:**", "**Time:**"):
        assert part in opening, (path.name, part)
    readme = (ROOT / "lessons" / "README.md").read_text()
    assert path.name in readme
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    guesses = [k for k, source in enumerate(code) if re.match(r"MY_GUESS\s*=", source)]
    assert guesses, f"{path.name}: no predict-then-run cell (MY_GUESS = ...)"
    assert any("MY_GUESS" in source for source in code[guesses[0] + 1:]), \
        f"{path.name}: nothing compares the measurement with MY_GUESS"


def test_unmodified_lesson1_stops_each_dependent_cell_with_one_line(tmp_path):
    """Lesson 1's student copy, untouched, run top to bottom with errors
    allowed: every cell that needs the exercises stops at once with one line
    naming the exercise to finish, and the whole run takes seconds."""
    import time

    nb = nbformat.read(ROOT / "lessons" / "student" / "01_build_target.ipynb", as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    wall = time.perf_counter() - start
    errors = [(k, out) for k, c in enumerate(nb.cells) for out in c.get("outputs", [])
              if out.output_type == "error"]
    print(f"\nlesson 1 student copy, untouched: {wall:.1f} s")
    for k, out in errors:
        print(f"  cell {k}: {out.traceback}")
    assert len(errors) == 4
    for k, out in errors:
        assert out.ename == "ExerciseNotDone" and len(out.traceback) == 1
        assert "finish exercise 1 (own features) first" in out.traceback[0]
    assert wall < 60
