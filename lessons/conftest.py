"""When nbval runs the lessons (the README's test command does), keep what
they printed: as soon as a lesson's last cell has run, the lesson is written,
with its fresh outputs, to docs/lessons/ for the docs site, if every cell
passed. `scripts/build_docs.py --reuse` (which the docs browser test runs
later in the same session) then publishes those copies instead of running
every lesson a second time. A lesson with a failing cell leaves no copy, so
it cannot be published."""
import time
from pathlib import Path

import pytest

from puffer_learn.course.lesson_copies import LESSON_COPIES, error_outputs, write_copy

_runs = {}  # notebook path -> {"file": nbval's collector, "failed": bool, "start": t}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if report.when != "call" or not hasattr(item, "test_outputs"):
        return  # not an nbval cell
    run = _runs.setdefault(Path(str(item.fspath)), {"file": item.parent, "failed": False,
                                                    "start": time.monotonic()})
    run["failed"] |= report.failed
    run["end"] = time.monotonic()
    item.cell.outputs = item.test_outputs or []  # the collector's notebook now holds the run


def pytest_runtest_teardown(item, nextitem):
    """After the last cell of a notebook: write its executed copy."""
    source = Path(str(item.fspath))
    if source not in _runs or (nextitem is not None and nextitem.parent is item.parent):
        return
    run = _runs.pop(source)
    target = LESSON_COPIES / source.name
    nb = run["file"].nb
    if run["failed"] or error_outputs(nb):
        target.unlink(missing_ok=True)
        return
    write_copy(nb, source, target, executed_by="nbval", executed_s=round(run["end"] - run["start"], 1))
