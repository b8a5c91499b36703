"""Exercise checks for the lessons: check(), tiered hint(), solution().

    ex = Exercise("reward", checker=..., starter=STARTER, hints=[...], solution=SOLUTION)
    ex.check(my_answer)   # correct / incorrect (what is wrong, not the answer) / not attempted
    ex.hint()             # the next hint, one tier more concrete each call
    ex.solution()         # the worked answer

A checker is a function answer -> (ok, message). "Not attempted" is decided
before the checker runs: the answer is the untouched starter (same code up to
whitespace and comments), None, source still holding "TODO: your code here",
or a function that raises NotImplementedError.
"""
import html
import re
from dataclasses import dataclass

import numpy as np
from IPython.display import HTML, display

CORRECT, INCORRECT, NOT_ATTEMPTED = "correct", "incorrect", "not attempted"
TODO_MARK = "TODO: your code here"  # what scripts/make_student_copies.py puts in C stubs
STYLE = {CORRECT: ("#e6f4ea", "#1e7e34", "✔"), INCORRECT: ("#fdecea", "#b02a37", "✘"),
         NOT_ATTEMPTED: ("#f1f3f5", "#555", "…")}


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


def normalized_code(source):
    """C or Python source without comments and whitespace, for comparisons."""
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    source = re.sub(r"(//|#)[^\n]*", "", source)
    return re.sub(r"\s+", "", source)


class Exercise:
    def __init__(self, name, checker, hints, solution, starter=None):
        self.name, self.checker, self.hints, self._solution = name, checker, list(hints), solution
        self.starter = starter
        self.hints_shown = 0

    def untouched(self, answer):
        if answer is None:
            return True
        if isinstance(answer, str) and TODO_MARK in answer:  # a stub left as generated
            return True
        if isinstance(answer, str) and self.starter is not None:
            return normalized_code(answer) == normalized_code(self.starter)
        return False

    def check(self, answer):
        """Checks an answer; returns a Result that shows itself in a notebook."""
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
        """Shows the worked solution."""
        display(HTML(f'<details open class="pl-solution"><summary>Solution: {html.escape(self.name)}'
                     f'</summary><pre>{html.escape(self._solution)}</pre></details>'))
        return self._solution


def compare_envs(candidate, reference, seeds=(1, 2, 3), steps=600, num_envs=4, atol=1e-5,
                 **config):
    """Steps a student's env and a packaged env with the same seeds and the
    same random actions; returns (ok, message) naming the first difference."""
    import puffer_learn

    for seed in seeds:
        mine = puffer_learn.make(candidate, num_envs=num_envs, seed=seed, name="student_env", **config)
        ref = puffer_learn.make(reference, num_envs=num_envs, seed=seed, **config)
        if (mine.obs_size, mine.num_actions, mine.agents_per_env) != (ref.obs_size, ref.num_actions,
                                                                       ref.agents_per_env):
            return False, (f"sizes differ: yours has obs_size {mine.obs_size}, {mine.num_actions} "
                           f"actions, {mine.agents_per_env} agents; expected {ref.obs_size}, "
                           f"{ref.num_actions}, {ref.agents_per_env}")
        rng = np.random.default_rng(seed)
        if not np.allclose(mine.reset(), ref.reset(), atol=atol):
            return False, f"observations after reset differ (seed {seed}): check env_reset"
        for t in range(steps):
            actions = rng.integers(0, ref.num_actions, ref.num_agents, dtype=np.int32)
            mine.step(actions)
            ref.step(actions)
            for what, a, b in [("observations", mine.observations, ref.observations),
                               ("rewards", mine.rewards, ref.rewards),
                               ("terminals", mine.terminals, ref.terminals),
                               ("truncations", mine.truncations, ref.truncations)]:
                if not np.allclose(a, b, atol=atol):
                    bad = np.argwhere(~np.isclose(a, b, atol=atol))[0]
                    return False, (f"{what} differ at step {t + 1} (seed {seed}), first at index "
                                   f"{tuple(int(i) for i in bad)}")
        mine_log, ref_log = mine.log(), ref.log()
        for key in ref_log:
            if key not in mine_log or not np.isclose(mine_log[key], ref_log[key], atol=atol):
                return False, (f"episode logs differ (seed {seed}): your {key} is "
                               f"{mine_log.get(key)}, expected another value")
        mine.close()
        ref.close()
    return True, f"matches {reference} on seeds {list(seeds)} for {steps} steps each"
