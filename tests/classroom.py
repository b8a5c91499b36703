"""Helpers for the classroom tests (tests/test_classroom_*.py) and
bench/autograde_lessons.py: an nbgrader course built from the solved lessons,
submissions made from it (solved, untouched, half-done) and nbgrader's scores."""
import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # nbgrader runs `alembic` from here: it must be on PATH


def nbgrader(course, *args, env=None, check=True):
    """Runs `nbgrader ARGS` in the course folder with this venv's bin/ first on PATH."""
    env = {**os.environ, **(env or {}), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([str(BIN / "nbgrader"), *args], cwd=course, env=env, capture_output=True, text=True)
    if check and result.returncode:
        raise AssertionError(f"nbgrader {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def submit(course, student, lesson, nb):
    folder = Path(course) / "submitted" / student / lesson
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{lesson}.ipynb")


# A half-done submission per lesson: {test cell: None (answered as solved) or
# (old, new), the solved answer with one edit (partly right)}, and the points
# nbgrader must give each test cell (1 per exercise; a share for parts right).
HALF_DONE = {
    "00_quickstart": ({"agents": None}, {"agents": 1, "solve_step": 0}),
    "01_build_target": ({"eat": None, "own_features": ("fminf(me->last_reward, 1.0f)", "me->last_reward")},
                        {"own_features": 0.8, "eat": 1, "episode_log": 0}),  # 4 of 5 features
    "08_ppo_inside": ({"gae": None, "entropy": None, "diagnosis": None,
                       "policy_loss": ("approx_kl = ((ratio - 1) - log_ratio)", "approx_kl = -((ratio - 1) - log_ratio)"),
                       "match": ('"run B": "learning rate x10", "run C": "advantages not normalized"',
                                 '"run B": "advantages not normalized", "run C": "learning rate x10"')},
                      {"gae": 1, "policy_loss": 2 / 3, "value_loss": 0, "entropy": 1, "explained_variance": 0,
                       "match": 1 / 3, "diagnosis": 1}),
}


def half_done(course, lesson, answers):
    """The release notebook with the exercises whose test cells are named in
    `answers` answered: their solution cells as in the solved source, or with
    the (old, new) edit given."""
    release = nbformat.read(Path(course) / "release" / lesson / f"{lesson}.ipynb", as_version=4)
    source = nbformat.read(Path(course) / "source" / lesson / f"{lesson}.ipynb", as_version=4)
    solved = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
              if c.metadata.get("nbgrader", {}).get("solution")}
    answered = set()
    for k, cell in enumerate(release.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("grade") and grade_id in answers:
            answer = previous_solution(release.cells, k)
            text = solved[answer.metadata["nbgrader"]["grade_id"]]
            if answers[grade_id] is not None:
                old, new = answers[grade_id]
                assert text.count(old) == 1, (lesson, grade_id, old)
                text = text.replace(old, new)
            answer.source = text
            answered.add(grade_id)
    assert answered == set(answers), f"no test cells {set(answers) - answered} in {lesson}"
    return release


def previous_solution(cells, k):
    return next(c for c in reversed(cells[:k]) if c.metadata.get("nbgrader", {}).get("solution"))


def scores(course, lesson, student):
    """{grade_id: points} of a student's autograded lesson, from nbgrader's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{Path(course) / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(lesson, lesson, student)
        return {grade.name: grade.score for grade in nb.grades}


def max_scores(course, lesson):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{Path(course) / 'gradebook.db'}") as gb:
        return {cell.name: cell.max_score for cell in gb.find_notebook(lesson, lesson).grade_cells}


def released_code(course, lesson):
    nb = nbformat.read(Path(course) / "release" / lesson / f"{lesson}.ipynb", as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


def student_copy_code(lesson):
    nb = nbformat.read(ROOT / "lessons" / "student" / f"{lesson}.ipynb", as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]



def autograde_lesson(course, lesson, release=True):
    """Releases `lesson` (unless already released), submits it solved,
    untouched and half-done (HALF_DONE), autogrades the three with nbgrader;
    returns ({student: {test cell: points}}, {test cell: max points},
    {student: seconds its cells took})."""
    if release:
        nbgrader(course, "generate_assignment", lesson, "--force")
    submit(course, "solved", lesson, nbformat.read(Path(course) / "source" / lesson / f"{lesson}.ipynb", as_version=4))
    submit(course, "untouched", lesson,
           nbformat.read(Path(course) / "release" / lesson / f"{lesson}.ipynb", as_version=4))
    submit(course, "half_done", lesson, half_done(course, lesson, HALF_DONE[lesson][0]))
    nbgrader(course, "autograde", lesson, "--create", "--force")
    students = ("solved", "untouched", "half_done")
    return ({s: scores(course, lesson, s) for s in students}, max_scores(course, lesson),
            {s: cell_seconds(Path(course) / "autograded" / s / lesson / f"{lesson}.ipynb") for s in students})


def cell_seconds(path):
    """Seconds the notebook's cells took to execute (nbclient's timing metadata)."""
    from datetime import datetime

    total = 0.0
    for cell in nbformat.read(path, as_version=4).cells:
        timing = cell.metadata.get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            start, end = (datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                          for k in ("iopub.execute_input", "shell.execute_reply"))
            total += (end - start).total_seconds()
    return round(total, 1)
