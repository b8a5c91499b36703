"""Lesson 9, sweeps (09_sweep.ipynb): a search space for puffer-learn sweep,
and the best trial's settings as a command line."""
from puffer_learn.cli import UsageError, parse_settings
from puffer_learn.training.config import ConfigError
from puffer_learn.training.sweep import check_space
from puffer_learn.widgets.exercises import Exercise
from puffer_learn.widgets.lessons.shared import numbered_hints

LESSON = "09_sweep.ipynb"


def _check_space(fn):
    space = fn()
    if not isinstance(space, dict):
        return False, f"lesson_space() returned {type(space).__name__}: return a dict, one entry per setting"
    try:
        space = check_space(space)
    except ConfigError as e:
        return False, str(e)
    if set(space) != {"learning_rate", "update_epochs"}:
        return False, (f"the space sweeps {', '.join(sorted(space))}: sweep exactly learning_rate "
                       f"and update_epochs, leave every other setting as it is")
    lr, epochs = space["learning_rate"], space["update_epochs"]
    if "choices" in lr or (lr["low"], lr["high"]) != (1e-3, 3e-2):
        return False, "learning_rate: a range from 1e-3 to 3e-2 (low and high)"
    if not lr["log"]:
        return False, ("learning_rate spans a factor of 30: on a linear scale almost every draw "
                       "lands above 1e-2; sample it on a log scale")
    if "choices" in epochs or (epochs["low"], epochs["high"]) != (1, 4) or epochs["log"]:
        return False, "update_epochs: a whole-number range from 1 to 4, on a linear scale"
    return True, "a log-scale learning rate and a whole-number epoch count: the sweep can run"


space = Exercise("a search space", _check_space, numbered_hints("""
    1. Return a dict shaped like a [sweep] table: one entry per setting, each a dict.
    2. A range is {'low': ..., 'high': ...}; add 'log': True where the setting spans orders of magnitude.
    3. Whole-number settings take whole-number bounds (1, not 1.0)."""),
    number=1, lesson=LESSON, cell="def lesson_space")


def _check_flags(fn):
    for params in ({"learning_rate": 0.0125, "update_epochs": 4},
                   {"update_epochs": 1, "learning_rate": 3e-3, "entropy_coef": 0.02},
                   {"minibatches": 8}):
        flags = fn(dict(params))
        if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
            return False, (f"as_flags({params}) gave {flags!r}: a command line is a list of strings "
                           f"(str(value) turns a number into one)")
        try:
            got = parse_settings(flags)["train"]
        except UsageError as e:
            return False, f"as_flags({params}) gave {flags!r}, which puffer-learn rejects: {e}"
        if got != params or any(type(got[k]) is not type(v) for k, v in params.items()):
            return False, (f"as_flags({params}) gave {flags!r}, which puffer-learn reads as {got}; "
                           f"each setting once, its value written exactly (an int stays an int)")
    return True, "the best trial's settings, ready for a full-length run from the terminal"


flags = Exercise("the winner as a command line", _check_flags, numbered_hints("""
    1. puffer-learn train takes each train setting as two arguments: the flag and the value.
    2. The flag is --train. followed by the setting's name; the value is the number as a string.
    3. Loop over params.items() and extend a list with the flag and str(value)."""),
    number=2, lesson=LESSON, cell="def as_flags")
