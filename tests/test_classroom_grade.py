"""`puffer-learn grade` on a class of 20 notebooks, 5 of them hostile: an
endless loop, a memory hog, a fork storm, a C env that segfaults the kernel,
and cells that write outside their folder (the grader's home, the course
folder, the project). The batch must finish with 20 rows, each hostile row
saying why, the 15 others scored exactly, no file changed outside the
sandbox folders, no process left and the time bounded by the limits.

A small assignment made for the test (squares: three exercises, 6 points,
one with partial credit) keeps each ordinary notebook to a second or two.
The full sandbox needs root (CI runs as root): elsewhere the test skips,
and in CI (CI=true) an incomplete sandbox is a failure."""
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from puffer_learn.course import sandbox

ROOT = Path(__file__).resolve().parent.parent
LIMIT_S = 10  # per notebook: the segfaulting env compiles twice (fast and ASan) inside it
MEMORY_MB = 1024
TOKEN = secrets.token_hex(4)


def meta(grade_id, solution=False, grade=False, locked=False, points=None):
    m = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    return {"nbgrader": {**m, "points": points} if points else m}


def squares(square="return x * x", double="return 2 * x", powers="return [x ** k for k in range(4)]",
            extra=(), test_square="assert square(3) == 9"):
    """The assignment: the source (solved) or a student's version of it."""
    cells = [new_markdown_cell("# Squares", metadata=meta("intro", locked=True)),
             new_code_cell(f"def square(x):\n    {square}", metadata=meta("answer_square", solution=True)),
             new_code_cell(f"{test_square}\n### BEGIN HIDDEN TESTS\nassert square(-2) == 4\n### END HIDDEN TESTS",
                           metadata=meta("square", grade=True, locked=True, points=1)),
             *(new_code_cell(code) for code in extra),
             new_code_cell(f"def double(x):\n    {double}", metadata=meta("answer_double", solution=True)),
             new_code_cell("assert double(3) == 6", metadata=meta("double", grade=True, locked=True, points=2)),
             new_code_cell(f"def powers(x):\n    {powers}", metadata=meta("answer_powers", solution=True)),
             # partial credit: the last value, a float, is the points earned (nbgrader's rule)
             new_code_cell("want = {2: [1, 2, 4, 8], 3: [1, 3, 9, 27], -1: [1, -1, 1, -1]}\n"
                           "float(sum(powers(x) == w for x, w in want.items()))",
                           metadata=meta("powers", grade=True, locked=True, points=3))]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


# The 15 ordinary students: their notebook and the points each graded cell must get.
ORDINARY = {
    "ada": (squares(), {"square": 1, "double": 2, "powers": 3}),
    "bo": (squares(double="return x + x"), {"square": 1, "double": 2, "powers": 3}),
    "cy": (squares(powers="return [x ** k if x > 0 else 0 for k in range(4)]"),  # 2 of 3 parts
           {"square": 1, "double": 2, "powers": 2}),
    "di": (squares(double="return x"), {"square": 1, "double": 0, "powers": 3}),
    "ed": (squares(square="raise NotImplementedError()", double="raise NotImplementedError()",
                   powers="raise NotImplementedError()"), {"square": 0, "double": 0, "powers": 0}),
    "flo": (squares(square="return 9"), {"square": 0, "double": 2, "powers": 3}),  # fails the hidden test
    "gus": (squares(square="return 9", test_square="pass"),  # edits the test: restored from source/
            {"square": 0, "double": 2, "powers": 3}),
    "hal": (squares(extra=["import sys\nprint('warning', file=sys.stderr)"]),  # stderr outside tests is fine
            {"square": 1, "double": 2, "powers": 3}),
    "ivy": (squares(powers="return [1, x, x * x, x ** 3]"), {"square": 1, "double": 2, "powers": 3}),
    "jo": (squares(powers="return [1, x, x, x]"), {"square": 1, "double": 2, "powers": 0}),
    "kai": (squares(square="return abs(x) ** 2"), {"square": 1, "double": 2, "powers": 3}),
    "lu": (squares(square="import sys; print('oops', file=sys.stderr); return x * x"),  # stderr in a test: 0
           {"square": 0, "double": 2, "powers": 3}),
    "max": (squares(extra=["raise ValueError('broken helper')"]), {"square": 1, "double": 2, "powers": 3}),
    "nia": (squares(powers="return [x ** k for k in range(4)] if x != 3 else []"),
            {"square": 1, "double": 2, "powers": 2}),
    "oz": (squares(double="return 2 * x  # done"), {"square": 1, "double": 2, "powers": 3}),
}

SEGFAULT_ENV = """
import puffer_learn
from puffer_learn.cenv.build import ENVS_DIR
source = (ENVS_DIR / "target" / "target.h").read_text().replace(
    "static int env_step(Env* env) {",
    "static int env_step(Env* env) {\\n    static long calls = 0;\\n"
    "    if (++calls > 40000) env->observations[-(1L << 40)] = 1.0f;  // past the smoke run: a wild write")
env = puffer_learn.make(source, num_envs=4, isolate=False, name="crashy")  # in the kernel's own process
env.reset()
for _ in range(20000):
    env.step()
"""


def hostile(targets):
    """name -> (cells, the status its row must have, words its reason must hold)."""
    writes = [f"open({str(path)!r}, 'a').write('pwned')" for path in targets]
    return {
        "loop": (["while True:\n    pass"], "timed out", ["cell 3"]),
        "hog": (["chunks = []\nwhile True:\n    chunks.append(bytearray(64 << 20))"], "out of memory", ["cell 3"]),
        "forks": (["import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"],
                  "timed out", ["cell 3"]),
        "segv": ([SEGFAULT_ENV], "crashed", ["SIGSEGV", "cell 3"]),
        # /tmp is the notebook's own folder inside the sandbox: that write lands there; the others are refused
        "writes": (writes, "graded", [f"{len(writes) - 1} cell(s) raised", "PermissionError"]),
    }


def fingerprint(path):
    return path.stat().st_mtime_ns, path.read_bytes() if path.is_file() else None


@pytest.fixture
def isolation_or_skip():
    found = sandbox.isolation(sandbox.Limits(seconds=LIMIT_S, memory_mb=MEMORY_MB))
    if not found.complete:
        message = "the grading sandbox cannot be set up here: " + "; ".join(found.missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_a_class_with_hostile_submissions(tmp_path, isolation_or_skip):
    course = tmp_path / "course"
    (course / "source" / "squares").mkdir(parents=True)
    nbformat.write(squares(), course / "source" / "squares" / "squares.ipynb")
    kept = course / "keep.txt"
    kept.write_text("the course's own file\n")
    home_target = Path.home() / f"puffer-pwned-{TOKEN}"
    tmp_target = Path("/tmp") / f"puffer-pwned-{TOKEN}"
    targets = [home_target, kept, ROOT / "README.md", tmp_target]
    before = {path: fingerprint(path) for path in (kept, ROOT / "README.md")}
    folders_before = set(Path(tempfile.gettempdir()).glob("puffer-grade-*"))
    students = {name: (nb, points) for name, (nb, points) in ORDINARY.items()}
    for name, (cells, _, _) in hostile(targets).items():
        students[name] = (squares(extra=cells), None)
    for name, (nb, _) in students.items():
        folder = course / "submitted" / name / "squares"
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / "squares.ipynb")
    assert len(students) == 20

    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "puffer_learn.cli", "grade", str(course / "submitted"),
                           "--out", str(tmp_path / "grades.csv"), "--timeout", str(LIMIT_S),
                           "--memory", str(MEMORY_MB)], capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - start
    assert done.returncode == 0, done.stderr[-3000:]
    first = done.stderr.splitlines()[0]
    assert first.startswith("isolation: user puffer-grader, no network, own /tmp, own processes, memory cgroup"), first
    assert json.loads(done.stdout.splitlines()[-1])["notebooks"] == 20

    import csv
    rows = {row["student"]: row for row in csv.DictReader(open(tmp_path / "grades.csv"))}
    assert len(rows) == 20
    print("\n" + "\n".join(f"{n:6s} {r['status']:13s} {r['total']:>4s}/{r['max_total']} {r['seconds']:>5s} s  "
                           f"{r['reason'][:90]}" for n, r in rows.items()))
    for name, (_, points) in ORDINARY.items():
        row = rows[name]
        assert row["status"] == "graded", (name, row)
        assert {k: float(row[k]) for k in points} == points, (name, row)
        assert float(row["total"]) == sum(points.values()) and float(row["max_total"]) == 6
    for name, (_, status, words) in hostile(targets).items():
        row = rows[name]
        assert row["status"] == status, (name, row)
        for word in words:
            assert word in row["reason"], (name, word, row["reason"])
        assert float(row["square"]) == 1  # what ran before the hostile cell still counts
    assert all(row["isolation"].startswith("user puffer-grader") for row in rows.values())

    # Nothing outside the sandbox folders changed; nothing of the sandbox user is left running.
    assert not home_target.exists() and not tmp_target.exists()
    assert {path: fingerprint(path) for path in before} == before
    assert sandbox.processes_of_sandbox_user(isolation_or_skip) == []
    assert not list(Path("/sys/fs/cgroup/memory").glob("puffer-grade-*"))
    assert set(Path(tempfile.gettempdir()).glob("puffer-grade-*")) <= folders_before  # each removed after its run
    # The time is bounded by the limits: no row past its limit, little else between rows.
    seconds = [float(row["seconds"]) for row in rows.values()]
    assert max(seconds) <= LIMIT_S + 1
    assert wall <= sum(seconds) + 3 * len(rows) + 30, (wall, sum(seconds))


def test_grade_names_a_missing_folder_before_any_sandbox(tmp_path, capsys):
    from puffer_learn import cli

    (tmp_path / "submitted" / "ada" / "squares").mkdir(parents=True)
    for argv, words in ((["grade", str(tmp_path / "nope"), "--out", "g.csv"], "no submissions folder"),
                        (["grade", str(tmp_path / "submitted"), "--out", "g.csv"], "no source folder"),
                        (["grade", str(tmp_path / "submitted"), "--out", "g.csv", "--source", str(tmp_path)],
                         "no notebooks in")):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        err = capsys.readouterr().err.strip()
        assert exit_info.value.code == 2 and err.startswith("error: ") and words in err, err
