"""nbgrader autograde on the solved lessons, as a class would be graded.

    python bench/autograde_lessons.py                   # lessons 00, 01 and 08
    python bench/autograde_lessons.py 08_ppo_inside     # just these

For each lesson: `puffer-learn course` writes the nbgrader course, nbgrader
releases the lesson (generate_assignment) and autogrades three submissions:
the solved notebook (full marks), the untouched release (0 everywhere) and a
half-done one (tests/classroom.py HALF_DONE: some exercises done, one partly
right where an exercise has parts). Grading mode (NBGRADER_EXECUTION) keeps
each notebook short. Prints each submission's points per exercise, the
seconds its cells took, and whether every score is the expected one; the
LAST stdout line is one JSON object. tests/test_classroom_nbgrader.py runs
lessons 00 and 01 the same way in CI; lesson 08 (17 short training runs)
runs here.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from classroom import HALF_DONE, autograde_lesson  # noqa: E402

from puffer_learn.course.nbgrader_course import write_course  # noqa: E402


def expected(lesson, student, cells):
    if student == "solved":
        return dict(cells)
    if student == "untouched":
        return dict.fromkeys(cells, 0.0)
    return {k: float(v) for k, v in HALF_DONE[lesson][1].items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", default=["00_quickstart", "01_build_target", "08_ppo_inside"])
    args = parser.parse_args()
    course = Path(tempfile.mkdtemp(prefix="autograde-"))
    write_course(course, ROOT / "lessons", args.lessons)
    results, ok = {}, True
    for lesson in args.lessons:
        start = time.perf_counter()
        points, cells, seconds = autograde_lesson(course, lesson)
        wall = time.perf_counter() - start
        for student, got in points.items():
            want = expected(lesson, student, cells)
            right = {k: round(v, 4) for k, v in got.items()} == {k: round(v, 4) for k, v in want.items()}
            ok &= right
            print(f"{lesson} {student:10s} {sum(got.values()):5.2f}/{sum(cells.values()):g} "
                  f"{'as expected' if right else f'EXPECTED {want}'}  cells {seconds[student]:5.1f} s  "
                  + " ".join(f"{k}={v:.2f}" for k, v in got.items()))
        print(f"{lesson}: release + autograde of 3 submissions in {wall:.1f} s")
        results[lesson] = {"points": points, "max": cells, "cell_seconds": seconds, "wall_s": round(wall, 1)}
    print(json.dumps({"as_expected": ok, "course": str(course), "lessons": results}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
