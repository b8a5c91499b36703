"""`puffer-learn grade SUBMISSIONS --out grades.csv`: a whole class, safely.

SUBMISSIONS is nbgrader's layout, STUDENT/ASSIGNMENT/NOTEBOOK.ipynb (a
course's submitted/ folder as it is). Each notebook is copied into a fresh
temporary folder and run there in its own sandbox (sandbox.py) with
NBGRADER_EXECUTION=autograde (grading mode), after its graded and locked
cells are put back from the course's source notebook, as nbgrader's
autograde does (a student cannot edit a test, and hidden tests come back).
Each graded cell scores as nbgrader scores it (nbgrader.utils.determine_grade:
an error or any stderr output gives 0, a float as its last value is partial
credit). One CSV row per notebook: the points per graded cell, the total,
the status (graded, timed out, out of memory, crashed) with its reason, and
the isolation it ran under. A notebook that fails in any way never stops
the batch.
"""
import csv
import os
import shutil
from pathlib import Path

import nbformat

from puffer_learn.course import sandbox

FIXED = ["student", "assignment", "notebook", "status", "reason", "total", "max_total"]


def submissions_in(folder):
    """[(student, assignment, notebook path)] in nbgrader's layout, sorted."""
    found = sorted(Path(folder).glob("*/*/*.ipynb"))
    return [(p.parent.parent.name, p.parent.name, p) for p in found
            if not p.name.startswith(".") and ".ipynb_checkpoints" not in p.parts]


def with_master_cells(nb, master):
    """The submitted notebook with its graded and locked cells replaced by the
    source's (hidden tests included), matched by nbgrader's grade_id."""
    source_cells = {c.metadata["nbgrader"]["grade_id"]: c for c in master.cells if _graded_or_locked(c)}
    for k, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in source_cells:
            original = source_cells[grade_id]
            nb.cells[k] = nbformat.from_dict({**cell, "cell_type": original.cell_type,
                                              "source": original.source, "metadata": original.metadata})
            if original.cell_type == "code":
                nb.cells[k].setdefault("outputs", [])
                nb.cells[k].setdefault("execution_count", None)
            else:
                nb.cells[k].pop("outputs", None)
                nb.cells[k].pop("execution_count", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None  # nothing submitted counts: it runs here
    return nb


def _graded_or_locked(cell):
    meta = cell.metadata.get("nbgrader", {})
    return (meta.get("grade") or meta.get("locked")) and not meta.get("solution")


def graded_cells(master):
    """[(grade_id, max points)] of the source notebook's graded code cells, in order."""
    return [(c.metadata["nbgrader"]["grade_id"], float(c.metadata["nbgrader"]["points"]))
            for c in master.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]


def score(nb, run, master):
    """{grade_id: points} for the executed notebook: a graded cell that never
    reported (the run was killed first) or is missing scores 0."""
    from nbgrader.utils import determine_grade

    for report in run.reports:
        if "cell" in report and 0 <= report["cell"] < len(nb.cells):
            nb.cells[report["cell"]].outputs = [nbformat.from_dict(o) for o in report["outputs"]]
    reported = {r["cell"] for r in run.reports if "cell" in r}
    executed = {c.metadata["nbgrader"]["grade_id"]: (k in reported, c) for k, c in enumerate(nb.cells)
                if c.metadata.get("nbgrader", {}).get("grade")}
    points = {}
    for grade_id, _ in graded_cells(master):
        ran, cell = executed.get(grade_id, (False, None))
        points[grade_id] = float(determine_grade(cell)[0] or 0) if ran else 0.0
    return points


def status_of(run, nb, limits):
    """(status, reason) of a run, in words."""
    reported = [r["cell"] for r in run.reports if "cell" in r]
    code = [k for k, c in enumerate(nb.cells) if c.cell_type == "code"]
    stuck = next((k for k in code if k not in reported), None)
    where = f" in cell {stuck}" if stuck is not None else ""
    died = next((r["kernel_died"] for r in run.reports if "kernel_died" in r), None)
    if run.out_of_memory:
        return "out of memory", f"went over {limits.memory_mb} MB{where}; {died or 'killed'}"
    if run.timed_out:
        return "timed out", f"still running after {limits.seconds:g} s{where}; killed"
    if died:
        xcpu = " (the CPU time limit)" if "SIGXCPU" in died else ""
        return "crashed", f"{died}{xcpu}{where}"
    if not any("finished" in r for r in run.reports):
        last = run.stderr.strip().splitlines()[-3:] or [f"exit status {run.returncode}"]
        return "crashed", "the runner failed: " + " | ".join(line.strip() for line in last)
    errors = [f"cell {k}: {o.ename}: {o.evalue}"[:200] for k, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.get("outputs", []) if o.output_type == "error"]
    return "graded", (f"{len(errors)} cell(s) raised, first {errors[0]}" if errors else "")


def grade_one(student, assignment, path, source_dir, found, limits, hide):
    """The CSV row of one notebook."""
    row = {"student": student, "assignment": assignment, "notebook": path.name}
    master_path = Path(source_dir) / assignment / path.name
    if not master_path.is_file():
        return {**row, "status": "not graded", "reason": f"no source notebook {master_path}"}
    master = nbformat.read(master_path, as_version=4)
    try:
        nb = with_master_cells(nbformat.read(path, as_version=4), master)
    except Exception as error:  # not a notebook (or not one of ours): say so, go on
        return {**row, "status": "not graded", "reason": f"unreadable notebook: {type(error).__name__}: {error}",
                "total": 0.0, "max_total": sum(p for _, p in graded_cells(master))}
    work = sandbox.make_folder(found)
    try:
        for item in path.parent.iterdir():  # the notebook's folder, links kept as links (never followed)
            if item.is_dir() and not item.is_symlink():
                shutil.copytree(item, work / item.name, symlinks=True)
            else:
                shutil.copy2(item, work / item.name, follow_symlinks=False)
        if found.user:  # the student's files become the sandbox user's, and only theirs
            for folder, dirs, files in os.walk(work):
                for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                    os.lchown(name, found.user[1], found.user[2])
        run = sandbox.run(nbformat.writes(nb), work, found, limits, hide)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    points = score(nb, run, master)
    status, reason = status_of(run, nb, limits)
    if run.left_behind:
        reason += f"; {run.left_behind} process(es) could not be killed"
    return {**row, "status": status, "reason": reason, "total": round(sum(points.values()), 4),
            "max_total": sum(p for _, p in graded_cells(master)), "seconds": round(run.seconds, 1),
            "isolation": found.describe(), **points}


def class_to_grade(submissions, source=None):
    """([(student, assignment, notebook path)], the course's source folder);
    raises FileNotFoundError naming what is missing."""
    submissions = Path(submissions).resolve()
    if not submissions.is_dir():
        raise FileNotFoundError(f"no submissions folder {submissions}: pass a course's submitted/ folder")
    source = Path(source).resolve() if source else submissions.parent / "source"
    if not source.is_dir():
        raise FileNotFoundError(f"no source folder {source} (the course's source/, with the graded "
                                f"notebooks): pass --source COURSE/source")
    notebooks = submissions_in(submissions)
    if not notebooks:
        raise FileNotFoundError(f"no notebooks in {submissions}: the layout is STUDENT/ASSIGNMENT/NOTEBOOK.ipynb")
    return notebooks, source


def grade(submissions, out, source=None, limits=None, found=None, progress=None):
    """Grades every notebook under `submissions` into the CSV `out`; returns the rows.
    progress(row) is called after each notebook."""
    notebooks, source = class_to_grade(submissions, source)
    submissions = Path(submissions).resolve()
    limits = limits or sandbox.Limits()
    found = found or sandbox.isolation(limits)
    hide = hidden_folders(submissions, source)
    rows = []
    for student, assignment, path in notebooks:
        try:
            row = grade_one(student, assignment, path, source, found, limits, hide)
        except Exception as error:  # a fault of ours must not stop the class either
            row = {"student": student, "assignment": assignment, "notebook": path.name, "status": "not graded",
                   "reason": f"grader error: {type(error).__name__}: {error}"}
        rows.append(row)
        if progress:
            progress(row)
    write_csv(rows, out)
    return rows


def hidden_folders(submissions, source):
    """The course folders a notebook must not see: the other students' work and
    the source with its hidden tests (the whole course folder when it holds both)."""
    return [submissions.parent] if source.parent == submissions.parent else [submissions, source]


def write_csv(rows, out):
    """One row per notebook; a column per graded cell (ASSIGNMENT:ID when several assignments)."""
    assignments = {row["assignment"] for row in rows}
    columns, table = [], []
    for row in rows:
        named = {}
        for key, value in row.items():
            if key in FIXED or key in ("seconds", "isolation"):
                named[key] = value
            else:
                named[key if len(assignments) == 1 else f"{row['assignment']}:{key}"] = value
        table.append(named)
        columns += [key for key in named if key not in columns and key not in FIXED
                    and key not in ("seconds", "isolation")]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, FIXED + columns + ["seconds", "isolation"])
        writer.writeheader()
        writer.writerows(table)
