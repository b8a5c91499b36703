"""The lessons as nbgrader coursework, with nbgrader from the test extra.

`puffer-learn course` writes the course once for the module (lessons 00 and
01); `nbgrader generate_assignment` releases them with no solution line (the
exercise cells read as in lessons/student/, C stubs inside the C strings);
`nbgrader autograde` gives the solved notebooks full marks, the untouched
releases zero and a half-done one exactly the points of what it completed
(a share where an exercise has parts). Lesson 08 runs the same way in
bench/autograde_lessons.py, outside CI."""
import json
import re

import nbformat
import pytest

from classroom import HALF_DONE, ROOT, autograde_lesson, nbgrader, released_code, student_copy_code
from puffer_learn import cli
from puffer_learn.course.markers import solution_blocks

LESSONS = ["00_quickstart", "01_build_target"]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    folder = tmp_path_factory.mktemp("course")
    cli.main(["course", str(folder), "--only", *LESSONS])
    return folder


@pytest.fixture(scope="module")
def released(course):
    for lesson in LESSONS:
        nbgrader(course, "generate_assignment", lesson, "--force")
    return course


def solution_lines(lesson):
    """The lines of every solution block of a solved lesson, whitespace collapsed."""
    nb = nbformat.read(ROOT / "lessons" / f"{lesson}.ipynb", as_version=4)
    return {" ".join(line.split()) for cell in nb.cells if cell.cell_type == "code"
            for block in solution_blocks(cell.source) for line in block.splitlines() if line.strip()}


@pytest.mark.parametrize("lesson", LESSONS)
def test_release_holds_no_solution_line(released, lesson):
    code = released_code(released, lesson)
    starter = {" ".join(line.split()) for source in student_copy_code(lesson) for line in source.splitlines()}
    shown = {" ".join(line.split()) for source in code for line in source.splitlines()}
    leaked = (solution_lines(lesson) - starter) & shown
    assert not leaked, leaked
    assert not any("BEGIN SOLUTION" in source or "HIDDEN TESTS" in source for source in code)
    # every exercise cell reads as in the student copy: our stubs, not nbgrader's Python stub in C
    student = student_copy_code(lesson)
    for source in code:
        if "TODO: your code here" in source or "NotImplementedError" in source:
            assert source in student, source
    assert not any(re.search(r'r"""[^"]*NotImplementedError', source) for source in code)


def test_the_course_config_stops_nbgrader_when_our_release_step_cannot_load(tmp_path):
    """nbgrader runs on with its default (Python) stubs when its config fails: ours exits instead."""
    cli.main(["course", str(tmp_path / "course"), "--only", "01_build_target"])
    fake = tmp_path / "shadow" / "puffer_learn"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('puffer_learn is not installed here')\n")
    done = nbgrader(tmp_path / "course", "generate_assignment", "01_build_target",
                    env={"PYTHONPATH": str(fake.parent)}, check=False)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "error: nbgrader_config.py: ImportError: puffer_learn is not installed here" in done.stderr
    assert not (tmp_path / "course" / "release").exists()


def test_course_cli(tmp_path, capsys):
    cli.main(["course", str(tmp_path / "c"), "--only", "00_quickstart"])
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["assignments"] == ["00_quickstart"]
    nb = nbformat.read(tmp_path / "c" / "source" / "00_quickstart" / "00_quickstart.ipynb", as_version=4)
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert [c.metadata.nbgrader.grade_id for c in graded] == ["agents", "solve_step"]
    assert graded[0].source.endswith("ex.agents.points(agents_stepped, out_of=1)\n### END HIDDEN TESTS")
    assert not any("remove-student" in c.metadata.get("tags", []) for c in nb.cells)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["course", str(tmp_path / "d"), "--only", "99_nope"])
    assert exit_info.value.code == 2 and "no lesson 99_nope" in capsys.readouterr().err


@pytest.mark.parametrize("lesson", LESSONS)
def test_autograde_solved_untouched_and_half_done(released, lesson):
    points, cells, seconds = autograde_lesson(released, lesson, release=False)
    print(f"\n{lesson}: seconds of cells per notebook {seconds}; points {points}")
    assert points["solved"] == cells and sum(cells.values()) == len(cells)  # 1 point per exercise
    assert points["untouched"] == dict.fromkeys(cells, 0.0)
    assert points["half_done"] == pytest.approx(HALF_DONE[lesson][1])


def test_budget_shrinks_training_only_while_grading(monkeypatch):
    from puffer_learn.course.grading_mode import GRADING_BUDGET, budget

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert budget() == {} and budget(total_timesteps=400_000, eval_episodes=10) == {"total_timesteps": 400_000,
                                                                                   "eval_episodes": 10}
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert budget(total_timesteps=400_000, time_limit=0) == {"time_limit": 0, **GRADING_BUDGET}


def test_course_copies_the_c_files_a_lesson_keeps_beside_it(tmp_path):
    from nbformat.v4 import new_code_cell, new_notebook

    from puffer_learn.course.nbgrader_course import write_course

    lessons = tmp_path / "lessons"
    (lessons / "envs").mkdir(parents=True)
    (lessons / "envs" / "my_env.h").write_text("// the lesson's env\n")
    nb = new_notebook(cells=[new_code_cell('env = puffer_learn.make("envs/my_env.h")'),
                             new_code_cell('fn = compile_c(SOURCE, DECLARATIONS, "scratch.c")')])
    nbformat.write(nb, lessons / "03_mine.ipynb")
    assert write_course(tmp_path / "course", lessons) == ["03_mine"]
    assert (tmp_path / "course" / "source" / "03_mine" / "envs" / "my_env.h").read_text() == "// the lesson's env\n"
    assert not (tmp_path / "course" / "source" / "03_mine" / "scratch.c").exists()  # a name, not a file
