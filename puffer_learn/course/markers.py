"""The solution markers of the solved lessons: one grammar for every tool.

In a solved cell an answer sits between markers, optionally followed by the
stub students get instead (commented out):

    # BEGIN SOLUTION            (// BEGIN SOLUTION inside C source)
    reward = stars_eaten
    # END SOLUTION
    # BEGIN STUB
    # reward = 0
    # END STUB

Readers: scripts/make_student_copies.py (the student copies), the nbgrader
course's release step (course/nbgrader_solutions.py) and the exercise checks
(widgets/exercises.py: the starter and the reference answer).
"""
import re

SOLUTION_BLOCK = re.compile(
    r"^(?P<indent>[ \t]*)(?P<mark>#|//) BEGIN SOLUTION[^\n]*\n(?P<solution>.*?)^[ \t]*(?P=mark) END SOLUTION[^\n]*\n"
    r"(?:[ \t]*(?P=mark) BEGIN STUB[^\n]*\n(?P<stub>.*?)^[ \t]*(?P=mark) END STUB[^\n]*\n)?",
    re.S | re.M)
C_STUB = "// TODO: your code here"
PY_STUB = 'raise NotImplementedError("your code here")'


def _stub_for(match):
    indent, mark, stub = match["indent"], match["mark"], match["stub"]
    if stub is None:
        return f"{indent}{C_STUB if mark == '//' else PY_STUB}\n"
    # Uncomment the stub: drop the comment mark and one space after it.
    return "".join(re.sub(rf"^([ \t]*){re.escape(mark)} ?", r"\1", line, count=1)
                   for line in stub.splitlines(keepends=True))


def _with_blocks(source, replace):
    text = source if source.endswith("\n") else source + "\n"
    if "BEGIN SOLUTION" in text and not SOLUTION_BLOCK.search(text):
        raise ValueError(f"unbalanced solution markers in cell:\n{source}")
    out = SOLUTION_BLOCK.sub(replace, text)
    return out if source.endswith("\n") else out.rstrip("\n")


def has_solution(source):
    """Whether a cell holds a solution block."""
    return "BEGIN SOLUTION" in source


def student_source(source):
    """A solved cell as students get it: every solution block -> its stub."""
    return _with_blocks(source, _stub_for)


def solved_source(source):
    """A solved cell without its markers (the worked answer as it runs)."""
    return _with_blocks(source, lambda m: m["solution"])


def solution_blocks(source):
    """The answer lines of every solution block in a cell."""
    text = source if source.endswith("\n") else source + "\n"
    return [m["solution"] for m in SOLUTION_BLOCK.finditer(text)]
