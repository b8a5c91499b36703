"""Lesson 7, memory: frame stacking vs an LSTM (07_memory_lstm.ipynb): push a
frame onto a stack, and how far back a stack of k frames reaches."""
import numpy as np

from puffer_learn.widgets.exercises import Exercise
from puffer_learn.widgets.lessons.shared import numbered_hints

LESSON = "07_memory_lstm.ipynb"


def _push_frame_reference(stack, obs, new_episode):
    stack = np.where(np.asarray(new_episode, bool)[:, None, None], 0, stack)
    return np.concatenate([stack[:, 1:], obs[:, None]], axis=1)


def _check_push_frame(fn):
    rng = np.random.default_rng(7)
    for k, n, rows in ((4, 5, 6), (3, 2, 5), (1, 3, 4)):
        stack = rng.normal(size=(rows, k, n)).astype(np.float32)
        obs = rng.normal(size=(rows, n)).astype(np.float32)
        new = np.arange(rows) % 2 == 0  # rows 0, 2, 4 start a new episode
        want = _push_frame_reference(stack, obs, new)
        got = np.asarray(fn(stack.copy(), obs.copy(), new.copy()))
        where = f"k={k}, {rows} rows of {n} numbers"
        if got.shape != want.shape:
            return False, f"{where}: you returned shape {got.shape}, the stack's shape is {want.shape}"
        if not np.array_equal(got[:, -1], obs):
            return False, (f"{where}: the newest observation must be in the last slot (stack[:, -1]): "
                           f"the stack is oldest first")
        if not np.array_equal(got[~new], want[~new]):
            return False, (f"{where}: the rows that go on must shift their frames one slot towards the "
                           f"front (the oldest drops out) and keep them")
        if not np.array_equal(got[new], want[new]):
            return False, (f"{where}: a row that starts a new episode still holds frames of the previous "
                           f"episode: zeros must come before its first observation")
    return True, "the frames shift, the oldest drops out, and a new episode starts from zeros"


push_frame = Exercise("push a frame", _check_push_frame, numbered_hints("""
    1. Two moves: forget the old frames of the rows that start a new episode, then shift every row by one slot
       and put obs in the last slot.
    2. stack[new_episode] = 0 zeroes whole rows (work on a copy); np.concatenate along axis 1 joins the kept
       frames and the new one.
    3. Keep stack[:, 1:] (drop the oldest) and add obs[:, None] (one slot of n numbers) after it."""),
    number=1, lesson=LESSON, cell="def push_frame")


def _check_cue_in_stack(fn):
    for delay in range(1, 13):
        for k in range(1, 11):
            got = fn(delay, k)
            want = delay <= k - 1
            if not isinstance(got, (bool, np.bool_)):
                return False, f"cue_in_stack({delay}, {k}) returned {got!r}: return True or False"
            if bool(got) != want:
                near = abs(delay - (k - 1)) <= 1
                return False, (f"cue_in_stack({delay}, {k}) returned {got}"
                               + ("; count the steps: the stack holds step `delay` (the choice) and how "
                                  "many before it?" if near else ""))
    return True, "a stack of k reaches k - 1 steps back, and not one step more"


cue_in_stack = Exercise("the stack's reach", _check_cue_in_stack, numbered_hints("""
    1. Number the steps: the cue is at step 0, the choice at step `delay`.
    2. At the choice the stack holds steps delay - k + 1 up to delay.
    3. The cue is in it when the oldest step held is step 0 or earlier."""),
    number=2, lesson=LESSON, cell="def cue_in_stack")
