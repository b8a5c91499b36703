"""Generate the student copies of the lessons: solutions out, stubs in.

The lessons in lessons/ are the solved source. In their code cells, an answer
sits between markers, optionally followed by the stub students get instead:

    # BEGIN SOLUTION
    reward = stars_eaten
    # END SOLUTION
    # BEGIN STUB
    # reward = 0  # TODO: your code here
    # END STUB

(`//` instead of `#` inside C source.) The student copy replaces the whole
block with the stub lines, uncommented (puffer_learn/course/markers.py: student_source). Cells tagged `remove-student` (the
solved notebook's own asserts on exercise answers) are left out. Without a STUB block the stub is
`raise NotImplementedError("your code here")` (or `// TODO: your code here`
in C). Outputs are cleared; everything else is kept, checks included.

    python scripts/make_student_copies.py            # write lessons/student/
    python scripts/make_student_copies.py --check    # fail if they are stale
"""
import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ROOT / "lessons"
STUDENT = LESSONS / "student"

# The marker grammar lives with the exercises (one place): the checks read
# their solutions and stubs from the solved lessons with the same code.
from puffer_learn.course.markers import student_source  # noqa: E402


def student_notebook(path):
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if "remove-student" not in c.metadata.get("tags", [])]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = student_source(cell.source)
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)  # saved widget state belongs to the solved run
    return nb


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if a copy is missing or stale")
    args = parser.parse_args(argv)
    STUDENT.mkdir(exist_ok=True)
    stale = []
    for lesson in sorted(LESSONS.glob("[0-9][0-9]_*.ipynb")):
        text = nbformat.writes(student_notebook(lesson)) + "\n"
        target = STUDENT / lesson.name
        if args.check:
            if not target.exists() or target.read_text() != text:
                stale.append(target.relative_to(ROOT))
        elif not target.exists() or target.read_text() != text:
            target.write_text(text)
            print(f"wrote {target.relative_to(ROOT)}")
    if stale:
        sys.exit("student copies are stale, run `python scripts/make_student_copies.py`: "
                 + ", ".join(map(str, stale)))


if __name__ == "__main__":
    main()
