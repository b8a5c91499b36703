"""Helpers that several lessons' exercises use: sections of the packaged C
files (shown in a notebook, or replaced by a student's code), hints written
as a numbered list, require_all for cells that build on several exercises,
and small checks on answers."""
import math
import re

import numpy as np

# ---- Sections of the packaged C files ----------------------------------------
MARKER = re.compile(r"^(?P<indent>[ \t]*)// --8<-- \[(?P<kind>start|end):(?P<name>[-\w]+)\][^\n]*\n", re.M)
# Sections of the packaged C files that are exercises: show_source hides them,
# so the step function can be shown above the exercises without the answers.
EXERCISE_SECTIONS = {"own_features": "exercise 1", "eat": "exercise 2", "episode_log": "exercise 3"}


def read_env_file(path):
    """The text of a packaged C file, by its path under envs/."""
    from puffer_learn.cenv.build import ENVS_DIR

    return (ENVS_DIR / path).read_text()


def section_span(text, section, path):
    """Where the lines between `// --8<-- [start:NAME]` and `[end:NAME]` begin and end in text."""
    start = re.search(rf"^[ \t]*// --8<-- \[start:{re.escape(section)}\][^\n]*\n", text, re.M)
    end = re.search(rf"^[ \t]*// --8<-- \[end:{re.escape(section)}\][^\n]*\n", text, re.M)
    if start is None or end is None:
        raise LookupError(f"{path} has no section {section!r} (// --8<-- [start:{section}] ... [end:{section}])")
    return start.end(), end.start()


def section_assembler(path, names, what):
    """A lesson's assemble(**parts): the packaged C file at envs/PATH with
    some of its sections `names` replaced by the student's code, e.g.
    assemble(eat=MY_EAT); sections left out stay as packaged. `what` names a
    section in the error message ("part", "section")."""
    def assemble(**parts):
        source = read_env_file(path)
        for name, code in parts.items():
            if name not in names:
                raise ValueError(f"unknown {what} {name!r}; {what}s are {', '.join(names)}")
            begin, end = section_span(source, name, "envs/" + path)
            source = source[:begin] + code.strip("\n") + "\n" + source[end:]
        return source
    return assemble


def source_section(path, section, hide=EXERCISE_SECTIONS):
    """The lines of a packaged C file between `// --8<-- [start:NAME]` and
    `[end:NAME]` markers (the same lines the docs embed). Nested sections
    named in `hide` (the exercises) become one placeholder line; other
    nested markers are dropped."""
    text = read_env_file(path)
    begin, end = section_span(text, section, path)
    body = text[begin:end]
    for name, label in hide.items():
        if f"[start:{name}]" in body:
            inner_begin, inner_end = section_span(body, name, path)
            indent = re.match(r"[ \t]*", body[inner_begin:]).group(0)
            body = body[:inner_begin] + f"{indent}// ... {label}: you write this part ...\n" + body[inner_end:]
    return MARKER.sub("", body)


def show_source(path, section, hide=EXERCISE_SECTIONS):
    """Displays a section of a packaged C file with syntax highlighting
    (exercise parts hidden)."""
    from IPython.display import Code, display

    display(Code(source_section(path, section, hide), language="c"))


def show_python(code):
    from IPython.display import Code, display

    display(Code(code, language="python"))


# ---- Exercises -----------------------------------------------------------------
def numbered_hints(text):
    """An exercise's hints from a numbered list ("1. ...", "2. ...", each
    more concrete than the last); a hint may wrap onto the next lines."""
    return [" ".join(hint.split()) for hint in re.split(r"^\s*\d+\. ", text, flags=re.M)[1:]]


def require_each(*exercises):
    """A lesson's require_all(answer, ...): one answer per exercise, in this
    order. For cells that build on all of them: stops the cell with one line
    naming the first exercise that is not done (checks are cached)."""
    def require_all(*answers):
        if len(answers) != len(exercises):
            raise TypeError(f"require_all takes {len(exercises)} answers, one for each of: "
                            f"{', '.join(exercise.name for exercise in exercises)}")
        for exercise, answer in zip(exercises, answers):
            exercise.require(answer)
    return require_all


# ---- Checks on answers ---------------------------------------------------------
def is_int(x):
    """A whole number as Python or numpy gives it (a bool is not one)."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def as_tensor(x, what):
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} must be a torch tensor, got {type(x).__name__}")
    return x


def close(a, b, tol=1e-5):
    """Same shape, and no element further apart than tol."""
    return a.shape == b.shape and bool((a - b).abs().max() <= tol)


def wrong_answer(value, known, setting, otherwise, tol=1e-5):
    """(False, message) for a wrong value: the message of the first known
    mistake (candidate, message) whose candidate equals it, then the setting
    it was seen at; else otherwise."""
    for candidate, message in known:
        candidate = float(candidate)
        if math.isfinite(candidate) and abs(value - candidate) < tol:
            return False, message + setting
    return False, otherwise
