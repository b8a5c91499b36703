"""`puffer-learn course DIR`: the solved lessons as an nbgrader course.

    DIR/nbgrader_config.py                   nbgrader's settings (our release step, cell timeout)
    DIR/source/LESSON/LESSON.ipynb           one assignment per lesson, e.g. source/01_build_target/

The solved lessons stay the one source: a cell with a solution block (the
`# BEGIN SOLUTION` markers, puffer_learn/course/markers.py) becomes an
nbgrader solution cell; each visible check, `ex.NAME.check(ANSWER)`, becomes
a graded test cell worth POINTS, whose hidden test (stripped from the
release, put back at autograde) is the cell's last line:

    ex.agents.check(agents_stepped)
    ### BEGIN HIDDEN TESTS
    ex.agents.points(agents_stepped, out_of=1)
    ### END HIDDEN TESTS

`points` is a float, which nbgrader reads as partial credit (a share of an
exercise's parts, widgets/exercises.py). The solved lesson's own asserts on
answers (cells tagged remove-student) are left out, as in the student
copies. Locked (read-only, and restored from the source at autograde): the
setup cells, the text, and every other cell that calls the exercises (`ex.`).
C or header files a lesson names and keeps beside it in lessons/ are copied
next to its notebook.
"""
import re
import shutil
from pathlib import Path

import nbformat

from puffer_learn.course.markers import has_solution

POINTS = 1  # per exercise; with parts, a share of it
CHECK = re.compile(r"ex\.(?P<name>\w+)\.check\((?P<answer>.+)\)")
USES_EXERCISES = re.compile(r"\bex\.")
LOCAL_FILE = re.compile(r"""["']([\w./-]+\.[ch])["']""")
CONFIG = '''"""nbgrader's settings for the puffer_learn course (written by `puffer-learn course`).
Run nbgrader in this folder with the Python that has puffer_learn installed."""
import os
import sys

c = get_config()  # noqa: F821 (nbgrader defines get_config)
c.CourseDirectory.course_id = "puffer_learn"
try:
    # The release step with the lessons' own stubs: C stubs inside C strings, their STUB blocks.
    from puffer_learn.course.nbgrader_solutions import release_preprocessors
    c.GenerateAssignment.preprocessors = release_preprocessors()
except Exception as error:
    # nbgrader would log this, carry on with its own Python stubs pasted into C and exit 0: stop here.
    sys.stderr.write(f"error: nbgrader_config.py: {type(error).__name__}: {error}; run nbgrader with "
                     f"the Python that has puffer_learn installed (its venv's bin/ first on PATH)\\n")
    os._exit(2)
# Grading mode (NBGRADER_EXECUTION set) keeps every cell short: a cell past this is stuck.
c.Execute.timeout = 120
'''


def _nbgrader(cell, grade_id, solution=False, grade=False, locked=False, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution}
    if points is not None:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta


def _answer_name(source):
    """What a solution cell defines (its function or variable), for its grade_id."""
    found = re.search(r"^(?:def|class) (\w+)|^(\w+)\s*=", source, re.M)
    return (found.group(1) or found.group(2)) if found else "answer"


def course_notebook(path):
    """A solved lesson as an nbgrader source notebook (see the module docstring)."""
    nb = nbformat.read(path, as_version=4)
    cells, ids = [], set()

    def unique(name):
        grade_id, n = name, 2
        while grade_id in ids:
            grade_id, n = f"{name}_{n}", n + 1
        ids.add(grade_id)
        return grade_id

    for k, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        if "remove-student" in tags:
            continue  # an assert on an answer: the check cell's hidden test grades it
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        check = CHECK.fullmatch(cell.source.strip()) if cell.cell_type == "code" else None
        if cell.cell_type == "code" and has_solution(cell.source):
            _nbgrader(cell, unique("answer_" + _answer_name(cell.source)), solution=True)
        elif check:
            name, answer = check["name"], check["answer"]
            cell.source = (f"{cell.source.rstrip()}\n### BEGIN HIDDEN TESTS\n"
                           f"ex.{name}.points({answer}, out_of={POINTS})\n### END HIDDEN TESTS")
            _nbgrader(cell, unique(name), grade=True, locked=True, points=POINTS)
        elif cell.cell_type == "markdown" or "setup" in tags or USES_EXERCISES.search(cell.source):
            _nbgrader(cell, unique(f"locked_{k}"), locked=True)
        cells.append(cell)
    nb.cells = cells
    nb.metadata.pop("widgets", None)  # saved widget state belongs to the solved run
    return nb


def local_files(nb, folder):
    """C and header files a notebook names that sit in `folder` (paths relative to it)."""
    names = {name for cell in nb.cells if cell.cell_type == "code"
             for name in LOCAL_FILE.findall(cell.source)}
    return sorted(name for name in names if (Path(folder) / name).is_file())


def write_course(folder, lessons_dir, names=None):
    """Writes the nbgrader course for the solved lessons in `lessons_dir`
    (all of them, or those named, e.g. ["00_quickstart"]) into `folder`.
    Returns the assignment names."""
    folder, lessons_dir = Path(folder), Path(lessons_dir)
    lessons = sorted(lessons_dir.glob("[0-9][0-9]_*.ipynb"))
    if not lessons:
        raise FileNotFoundError(f"no lessons (NN_name.ipynb) in {lessons_dir}: run from the puffer_learn "
                                f"checkout or pass --lessons FOLDER")
    if names:
        unknown = sorted(set(names) - {p.stem for p in lessons})
        if unknown:
            raise ValueError(f"no lesson {', '.join(unknown)} in {lessons_dir}; lessons are "
                             f"{', '.join(p.stem for p in lessons)}")
        lessons = [p for p in lessons if p.stem in names]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nbgrader_config.py").write_text(CONFIG)
    for lesson in lessons:
        target = folder / "source" / lesson.stem
        target.mkdir(parents=True, exist_ok=True)
        nb = course_notebook(lesson)
        nbformat.write(nb, target / lesson.name)
        for name in local_files(nb, lessons_dir):
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(lessons_dir / name, target / name)
    return [lesson.stem for lesson in lessons]
