"""Exercise checks for the lessons: check(), tiered hint(), solution(), require().

    ex = Exercise("reward", checker=..., hints=[...], number=2,
                  lesson="01_build_target.ipynb", cell="REWARD")
    ex.check(my_answer)    # correct / incorrect (what is wrong, not the answer) / not attempted
    ex.hint()              # the next hint, one tier more concrete each call
    ex.solution()          # the worked answer
    ex.require(my_answer)  # in a cell that needs the exercise done: stops with one line if not
    ex.points(my_answer, out_of=1)  # for graders: the points it earns (a share for parts done)

The solved notebook is the one source of every answer: with `lesson` and
`cell`, the solution is that notebook's exercise cell (the one whose code
contains `cell`) and the starter is its student stub, both cut from the
`BEGIN SOLUTION` / `END SOLUTION` markers (see scripts/make_student_copies.py).

A checker is a function answer -> (ok, message). "Not attempted" is decided
before the checker runs: the answer is None, the untouched starter (the same
code once comments and whitespace are removed), or a function that raises
NotImplementedError. Anything else is judged by the checker.
"""
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from IPython.display import HTML, display

# The marker grammar (BEGIN SOLUTION / END SOLUTION, optional STUB) lives in
# puffer_learn/course/markers.py: the student copies and the nbgrader course read it too.
from puffer_learn.course.markers import SOLUTION_BLOCK, solution_blocks, solved_source, student_source  # noqa: F401

CORRECT, INCORRECT, NOT_ATTEMPTED = "correct", "incorrect", "not attempted"
STYLE = {CORRECT: ("#e6f4ea", "#1e7e34", "✔"), INCORRECT: ("#fdecea", "#b02a37", "✘"),
         NOT_ATTEMPTED: ("#f1f3f5", "#555", "…")}
# The solved lessons, in the source checkout (they are not packaged).
LESSONS_DIR = Path(__file__).resolve().parent.parent / "lessons"


def exercise_cell(lesson, key, folder=None):
    """The source of the code cell of a solved lesson that holds a solution
    block and contains `key` (e.g. "def decisions" or "EAT =")."""
    path = Path(folder or LESSONS_DIR) / lesson
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: solutions live in the solved lessons of the "
                                f"puffer_learn source checkout")
    cells = json.loads(path.read_text())["cells"]
    for cell in cells:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code" and "BEGIN SOLUTION" in source and key in source:
            return source
    raise LookupError(f"no exercise cell containing {key!r} in {path}")


def string_value(cell_source):
    """The text of a cell `NAME = r\"\"\"...\"\"\"` (C exercises), else None."""
    match = re.fullmatch(r'\s*\w+\s*=\s*r?"""(.*)"""\s*', cell_source, re.S)
    return None if match is None else match.group(1)


@dataclass
class Result:
    status: str
    message: str

    @property
    def correct(self):
        return self.status == CORRECT

    def _repr_html_(self):
        background, color, mark = STYLE[self.status]
        return (f'<div class="pl-check pl-{self.status.replace(" ", "-")}" style="background:'
                f'{background};color:{color};padding:6px 10px;border-radius:4px">{mark} '
                f'<b>{self.status}</b>: {html.escape(self.message)}</div>')

    def __repr__(self):
        return f"{self.status}: {self.message}"


class ExerciseNotDone(Exception):
    """Raised by Exercise.require: a cell needs an exercise that is not done.
    In Jupyter it shows as its one-line message, without a traceback."""

    def _render_traceback_(self):  # IPython shows these lines instead of a traceback
        return [f"\x1b[1;31m⛔ {self}\x1b[0m"]


def normalized_code(source):
    """C or Python source without comments and whitespace, for comparisons."""
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    source = re.sub(r"(//|#)[^\n]*", "", source)
    return re.sub(r"\s+", "", source)


def _function_source(fn):
    import inspect
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return None


class Exercise:
    def __init__(self, name, checker, hints, solution=None, starter=None, number=None,
                 lesson=None, cell=None, parts=None):
        self.name, self.checker, self.hints = name, checker, list(hints)
        self._solution, self.starter, self.number = solution, starter, number
        self.lesson, self.cell = lesson, cell
        # parts: answer -> {part: bool} for an exercise made of parts, so a grade can give partial credit.
        self.parts = parts
        self.hints_shown = 0
        self._checked = {}  # answer key -> Result, so require() does not recheck

    @property
    def label(self):
        return f"exercise {self.number} ({self.name})" if self.number else f"exercise '{self.name}'"

    # The answer and the stub, cut from the solved notebook (the one source).
    def solved_cell(self):
        return exercise_cell(self.lesson, self.cell)

    def reference(self):
        """The reference answer, as a student would pass it to check():
        the string of a C exercise, or the function a Python cell defines."""
        source = solved_source(self.solved_cell())
        text = string_value(source)
        if text is not None:
            return text
        namespace = {}
        exec("import math\nimport numpy as np\nimport torch\nfrom puffer_learn.training.policies import *\n"
             + source, namespace)
        defined = re.search(r"^(?:def|class) (\w+)", source, re.M)
        if defined is None:  # an answer given as a value: NAME = {...} (the last assignment)
            defined = list(re.finditer(r"^(\w+)\s*=", source, re.M))[-1]
        return namespace[defined.group(1)]

    def stub(self):
        """What the student copy holds before the student writes anything."""
        if self.starter is not None:
            return self.starter
        if self.lesson is None:
            return None
        source = student_source(self.solved_cell())
        text = string_value(source)
        return source if text is None else text

    def untouched(self, answer):
        if answer is None:
            return True
        stub = self.stub()
        if stub is None:
            return False
        if not isinstance(answer, str):
            answer = _function_source(answer) if callable(answer) else None
            if answer is None:
                return False
        return normalized_code(answer) == normalized_code(stub)

    def _key(self, answer):
        """Cache key: code without comments/whitespace, or the function
        itself (kept alive by the cache, so a redefinition never reuses it)."""
        if isinstance(answer, str):
            return normalized_code(answer)
        try:
            hash(answer)
            return answer
        except TypeError:  # unhashable (an array...): never cached
            return object()

    def check(self, answer):
        """Checks an answer; returns a Result that shows itself in a notebook."""
        result = self._judge(answer)
        self._checked[self._key(answer)] = result  # require() reuses it
        return result

    def _judge(self, answer):
        if self.untouched(answer):
            return Result(NOT_ATTEMPTED, f"{self.name}: the starter is unchanged. Fill in the "
                                         f"TODO parts, then check again.")
        try:
            ok, message = self.checker(answer)
        except NotImplementedError:
            return Result(NOT_ATTEMPTED, f"{self.name}: still raises NotImplementedError. "
                                         f"Replace it with your code.")
        except Exception as error:  # the student's code failed: say how, kindly
            return Result(INCORRECT, f"{self.name}: your answer raised {type(error).__name__}: "
                                     f"{error}")
        return Result(CORRECT if ok else INCORRECT, message)

    def require(self, answer):
        """For cells that build on this exercise: returns quietly when the
        answer is correct, else stops the cell with ONE line naming the
        exercise to finish (ExerciseNotDone: no traceback in Jupyter)."""
        result = self._checked.get(self._key(answer))
        if result is None:
            result = self.check(answer)
        if result.correct:
            return
        why = ("it is not attempted yet" if result.status == NOT_ATTEMPTED
               else result.message.removeprefix(f"{self.name}: "))
        raise ExerciseNotDone(f"finish {self.label} first: {why}")

    def score(self, answer):
        """The share of the exercise an answer gets right, for graders: 1.0
        when check() says correct, 0.0 when not attempted or wrong, and for an
        exercise with parts the share of its parts that are right (never all
        of them while check() still finds something wrong)."""
        result = self._checked.get(self._key(answer)) or self.check(answer)  # the visible check's, if run
        if result.correct:
            return 1.0
        if result.status == NOT_ATTEMPTED or self.parts is None:
            return 0.0
        try:
            marks = self.parts(answer)
        except Exception:  # the student's code failed: no part is right
            return 0.0
        if not marks:
            return 0.0
        right = sum(bool(ok) for ok in marks.values())
        return min(right, len(marks) - 1) / len(marks)

    def points(self, answer, out_of=1):
        """The points an answer earns out of `out_of`, as a plain float: the
        last line of an nbgrader test cell, which nbgrader reads as partial credit."""
        return float(out_of) * self.score(answer)

    def hint(self):
        """Shows the next hint; each one is more concrete than the last."""
        if not self.hints:
            text = "No hints for this one."
        else:
            level = min(self.hints_shown, len(self.hints) - 1)
            self.hints_shown += 1
            text = f"Hint {level + 1}/{len(self.hints)}: {self.hints[level]}"
        display(HTML(f'<div class="pl-hint" style="background:#fff8e1;padding:6px 10px;'
                     f'border-radius:4px">💡 {html.escape(text)}</div>'))
        return text

    def solution(self):
        """Shows the worked solution (from the solved lesson, when there is one)."""
        text = self._solution if self._solution is not None else solved_source(self.solved_cell())
        display(HTML(f'<details open class="pl-solution"><summary>Solution: {html.escape(self.name)}'
                     f'</summary><pre>{html.escape(text)}</pre></details>'))
        return text


def compare_envs(candidate, reference, seeds=(1, 2, 3), steps=600, num_envs=4, atol=1e-5,
                 feature_names=None, **config):
    """Steps a student's env and a packaged env with the same seeds and the
    same random actions; returns (ok, message) naming the first difference,
    with both values. feature_names: {observation index: name} for messages."""
    import puffer_learn

    feature_names = feature_names or {}
    for seed in seeds:
        mine = puffer_learn.make(candidate, num_envs=num_envs, seed=seed, name="student_env", **config)
        ref = puffer_learn.make(reference, num_envs=num_envs, seed=seed, **config)
        if (mine.obs_size, mine.num_actions, mine.agents_per_env) != (ref.obs_size, ref.num_actions,
                                                                       ref.agents_per_env):
            return False, (f"sizes differ: yours has obs_size {mine.obs_size}, {mine.num_actions} "
                           f"actions, {mine.agents_per_env} agents; expected {ref.obs_size}, "
                           f"{ref.num_actions}, {ref.agents_per_env}")
        rng = np.random.default_rng(seed)
        steps_done = 0

        def differs(what, a, b, when):
            bad = np.argwhere(~np.isclose(a, b, atol=atol))[0]
            index = tuple(int(i) for i in bad)
            where = f"agent {index[0]}" if len(index) == 1 else f"agent {index[0]}, feature {index[1]}"
            if len(index) == 2 and index[1] in feature_names:
                where += f" ({feature_names[index[1]]})"
            return False, (f"{what} differ {when} (seed {seed}), first at {where}: yours "
                           f"{float(a[index]):.4g}, expected {float(b[index]):.4g}")

        mine_obs, ref_obs = mine.reset(), ref.reset()
        if not np.allclose(mine_obs, ref_obs, atol=atol):
            return differs("observations", mine_obs, ref_obs, "after reset")
        for t in range(steps):
            actions = rng.integers(0, ref.num_actions, ref.num_agents, dtype=np.int32)
            mine.step(actions)
            ref.step(actions)
            steps_done += 1
            for what, a, b in [("rewards", mine.rewards, ref.rewards),
                               ("observations", mine.observations, ref.observations),
                               ("terminals", mine.terminals, ref.terminals),
                               ("truncations", mine.truncations, ref.truncations)]:
                if not np.allclose(a, b, atol=atol):
                    return differs(what, a, b, f"at step {t + 1}")
        mine_log, ref_log = mine.log(), ref.log()
        if ref_log and not mine_log:
            return False, (f"your env never reports a finished episode (after {steps_done} steps "
                           f"the log's n is still 0): env_step must count the episode in env->log.n")
        for key in ref_log:
            if key not in mine_log or not np.isclose(mine_log[key], ref_log[key], atol=atol):
                return False, (f"episode logs differ (seed {seed}): your {key} is "
                               f"{mine_log.get(key):.4g} per episode, expected {ref_log[key]:.4g}")
        mine.close()
        ref.close()
    return True, f"matches {reference} on seeds {list(seeds)} for {steps} steps each"
