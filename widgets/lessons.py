"""The lessons' exercises: one namespace per lesson, each exercise with its
checker, tiered hints and solution. A notebook does

    from puffer_learn.widgets.lessons import lesson0 as ex
    ex.agents.check(agents_stepped)

Checkers say what is wrong without giving the answer away.
"""
import re
from types import SimpleNamespace

import numpy as np

from puffer_learn.widgets.exercises import Exercise


# ---- Lesson 0: quickstart ---------------------------------------------------
def _is_int(x):
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _check_agents(fn):
    for n in (1, 3, 64, 512):
        got = fn(n)
        if got == 8 * n and not _is_int(got):
            return False, f"agents_stepped({n}) returned {got!r}: a count of puffers is a whole number (int)"
        if got != 8 * n:
            return False, f"agents_stepped({n}) returned {got!r}; count the puffers in every arena"
    return True, "one step moves num_envs x 8 puffers"


def _check_solve_step(fn):
    metrics = [{"global_step": 100, "ratio": None}, {"global_step": 200, "ratio": 0.5},
               {"global_step": 300, "ratio": None}, {"global_step": 400, "ratio": 0.95},
               {"global_step": 500, "ratio": 0.99}]
    if fn(metrics) != 400:
        return False, f"on a made-up run that first reaches 0.9 at step 400 you returned {fn(metrics)!r}"
    if fn(metrics[:3]) is not None:
        return False, "a run that never reaches the threshold should give None"
    if fn([{"global_step": 10, "ratio": None}]) is not None:
        return False, "updates without finished episodes (ratio None) must be skipped"
    if fn(metrics, threshold=0.97) != 500:
        return False, "use the threshold argument"
    exact = [{"global_step": 100, "ratio": 0.5}, {"global_step": 200, "ratio": 0.9},
             {"global_step": 300, "ratio": 0.95}]
    if fn(exact) != 200:
        return False, (f"a run whose ratio is exactly 0.9 at step 200 gave {fn(exact)!r}: a ratio equal "
                       f"to the threshold counts as reached")
    return True, "you can read a learning curve from the metrics stream"


LESSON0 = "00_quickstart.ipynb"
lesson0 = SimpleNamespace(
    agents=Exercise("agents", _check_agents, [
        "Look at print(env): it says how many agents a vector holds.",
        "env.agents_per_env is the number of puffers in one arena.",
        "Multiply num_envs by the puffers per arena (8 by default)."],
        number=1, lesson=LESSON0, cell="def agents_stepped"),
    solve_step=Exercise("steps to solve", _check_solve_step, [
        "Walk through the metrics in order and stop at the first good one.",
        "Skip dicts whose 'ratio' is None before comparing.",
        "Return that dict's global_step; after the loop, return None."],
        number=2, lesson=LESSON0, cell="def steps_to_solve"),
)


# ---- Helpers shared by lessons -------------------------------------------------
MARKER = re.compile(r"^(?P<indent>[ \t]*)// --8<-- \[(?P<kind>start|end):(?P<name>[-\w]+)\][^\n]*\n", re.M)
# Sections of the packaged C files that are exercises: show_source hides them,
# so the step function can be shown above the exercises without the answers.
EXERCISE_SECTIONS = {"own_features": "exercise 1", "eat": "exercise 2", "episode_log": "exercise 3"}


def _read(path):
    from puffer_learn.build import ENVS_DIR

    return (ENVS_DIR / path).read_text()


def _section_span(text, section, path):
    start = re.search(rf"^[ \t]*// --8<-- \[start:{re.escape(section)}\][^\n]*\n", text, re.M)
    end = re.search(rf"^[ \t]*// --8<-- \[end:{re.escape(section)}\][^\n]*\n", text, re.M)
    if start is None or end is None:
        raise LookupError(f"{path} has no section {section!r} (// --8<-- [start:{section}] ... [end:{section}])")
    return start.end(), end.start()


def source_section(path, section, hide=EXERCISE_SECTIONS):
    """The lines of a packaged C file between `// --8<-- [start:NAME]` and
    `[end:NAME]` markers (the same lines the docs embed). Nested sections
    named in `hide` (the exercises) become one placeholder line; other
    nested markers are dropped."""
    text = _read(path)
    begin, end = _section_span(text, section, path)
    body = text[begin:end]
    for name, label in hide.items():
        if f"[start:{name}]" in body:
            inner_begin, inner_end = _section_span(body, name, path)
            indent = re.match(r"[ \t]*", body[inner_begin:]).group(0)
            body = body[:inner_begin] + f"{indent}// ... {label}: you write this part ...\n" + body[inner_end:]
    return MARKER.sub("", body)


def show_source(path, section, hide=EXERCISE_SECTIONS):
    """Displays a section of a packaged C file with syntax highlighting
    (exercise parts hidden)."""
    from IPython.display import Code, display

    display(Code(source_section(path, section, hide), language="c"))


# ---- Lesson 1: build the target env ----------------------------------------------
# The parts of envs/target/target.h the student writes are its marked sections
# own_features, eat and episode_log; assemble_target swaps in the student's.
TARGET_PARTS = ("own_features", "eat", "episode_log")


def target_source():
    return _read("target/target.h")


def assemble_target(**parts):
    """target.h with some parts replaced by yours, e.g.
    assemble_target(eat=MY_EAT). Parts you leave out stay as packaged."""
    source = target_source()
    for name, code in parts.items():
        if name not in TARGET_PARTS:
            raise ValueError(f"unknown part {name!r}; parts are {', '.join(TARGET_PARTS)}")
        begin, end = _section_span(source, name, "envs/target/target.h")
        source = source[:begin] + code.strip("\n") + "\n" + source[end:]
    return source


OWN_FEATURE_NAMES = {0: "x", 1: "y", 2: "heading dx", 3: "heading dy", 4: "last reward"}
# A crowded scene: 2 puffers, 32 big stars in a small arena, so a puffer often
# eats two stars in one tick (its last-reward feature must still read 1).
CROWDED = {"num_puffers": 2, "num_stars": 32, "arena_size": 64, "eat_radius": 16.0, "episode_ticks": 64}


def _check_own_features(code):
    from puffer_learn.widgets.exercises import compare_envs

    ok, message = compare_envs(assemble_target(own_features=code), "target", seeds=(1,), steps=130,
                               feature_names=OWN_FEATURE_NAMES, **CROWDED)
    if not ok:
        if "(last reward)" in message:
            message += (". In this scene one puffer eats two stars in one tick: the observation "
                        "must stay in [-1, 1]")
        return False, "crowded scene: " + message
    ok, message = compare_envs(assemble_target(own_features=code), "target", seeds=(1, 2), steps=300,
                               feature_names=OWN_FEATURE_NAMES)
    return ok, message if not ok else message + ", and in a scene where a puffer eats 2 stars in one tick"


def _check_eat(code):
    from puffer_learn.widgets.exercises import compare_envs

    ok, message = compare_envs(assemble_target(eat=code), "target", seeds=(1, 2), steps=300)
    if not ok and message.startswith("observations"):
        message += ": rewards match but the stars are not where they should be (does the eaten star move?)"
    elif not ok and message.startswith("rewards"):
        message += ": a star within eat_radius (squared distance <= r2) gives exactly +1"
    return ok, message


def _check_episode_log(code):
    from puffer_learn.widgets.exercises import compare_envs

    return compare_envs(assemble_target(episode_log=code), "target", seeds=(1, 2), steps=520)


def crowded_scene_has_double_eats(seed=1, steps=130):
    """True when the packaged target gives some puffer 2+ stars in one tick
    in the CROWDED scene (so the own-features check tests the cap)."""
    import puffer_learn

    env = puffer_learn.make("target", num_envs=4, seed=seed, **CROWDED)
    env.reset()
    rng = np.random.default_rng(seed)  # the same actions compare_envs uses
    best = 0.0
    for _ in range(steps):
        env.step(rng.integers(0, env.num_actions, env.num_agents, dtype=np.int32))
        best = max(best, float(env.rewards.max()))
    return best >= 2


def require_target_parts(own_features, eat, episode_log):
    """For cells that build on all three parts of lesson 1: stops the cell with
    one line naming the first exercise that is not done (checks are cached)."""
    lesson1.own_features.require(own_features)
    lesson1.eat.require(eat)
    lesson1.episode_log.require(episode_log)


LESSON1 = "01_build_target.ipynb"
lesson1 = SimpleNamespace(
    assemble=assemble_target,
    require_all=require_target_parts,
    own_features=Exercise("own features", _check_own_features, [
        "Five numbers, in this order: x, y, heading dx, heading dy, last reward.",
        "Scale positions from [0, arena_size] to [-1, 1] (inv is 1 / arena_size). The heading "
        "tables are indexed by me->heading.",
        "The last reward can be 2 when a puffer eats two stars in one tick: cap it at 1 (fminf)."],
        number=1, lesson=LESSON1, cell="OWN_FEATURES ="),
    eat=Exercise("eating a star", _check_eat, [
        "A star is eaten when its distance to the puffer is at most eat_radius.",
        "Compare squared distances with r2: no square root needed.",
        "Inside the if: add 1 to reward, then move that star with respawn_star."],
        number=2, lesson=LESSON1, cell="EAT ="),
    episode_log=Exercise("episode log", _check_episode_log, [
        "Every Log field is a sum over finished episodes; n counts them.",
        "score is stars eaten PER PUFFER: divide the total by num_puffers.",
        "Add the per-puffer total to score and episode_return, the ticks to episode_length, "
        "and count the episode in n."],
        number=3, lesson=LESSON1, cell="EPISODE_LOG ="),
)


# ---- Lesson 5: C inference ---------------------------------------------------------
def _check_linear(fn):
    import torch

    torch.manual_seed(0)
    for n_in, n_out in ((27, 64), (5, 3), (64, 8)):
        layer = torch.nn.Linear(n_in, n_out)
        x = torch.randn(n_in)
        want = layer(x).detach().numpy()
        try:
            got = np.asarray(fn(layer.weight.detach().numpy(), layer.bias.detach().numpy(), x.numpy()))
        except ValueError as error:
            return False, (f"for a {n_in}->{n_out} layer the shapes do not fit ({error}): mind the "
                           f"[out, in] layout of W")
        if got.shape != want.shape:
            return False, (f"for a {n_in}->{n_out} layer you returned shape {got.shape}, expected "
                           f"{want.shape}: mind the [out, in] layout of W")
        W, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
        if np.abs(got - W @ x.numpy()).max() < 1e-5 or np.abs(got - (W @ x.numpy() - b)).max() < 1e-5:
            return False, f"a {n_in}->{n_out} layer: the bias is missing or has the wrong sign"
        if np.abs(got - want).max() > 1e-5:
            return False, (f"a {n_in}->{n_out} layer differs from torch by {np.abs(got - want).max():.3g}: "
                           f"mind the [out, in] layout and the bias")
    return True, "matches torch.nn.Linear to 1e-5"


def _check_grid(fn):
    for vision, cells in ((1, 9), (2, 25), (5, 121), (0, 1)):
        got = fn(vision)
        if got == (2 * vision) ** 2:
            return False, (f"grid_obs_size({vision}) returned {got!r}: count the agent's own column and "
                           f"row too")
        if got != cells:
            return False, (f"grid_obs_size({vision}) returned {got!r}; draw the square for vision "
                           f"{vision}: it is as tall as it is wide")
    return True, "vision 5 means 11 x 11 = 121 cells"


def _check_dtype(fn):
    obs = np.array([[0, 1, 7, 200, 255]], np.uint8)
    got = np.asarray(fn(obs))
    if got.dtype == np.float32 and got.shape != obs.shape:
        return False, (f"you returned shape {got.shape}: the bytes were reinterpreted as floats; "
                       f"convert the values instead")
    if got.dtype != np.float32:
        return False, f"the network takes float32, you returned {got.dtype}"
    if got.shape != obs.shape:
        return False, f"keep the shape {obs.shape}, got {got.shape}"
    if not np.array_equal(got, obs.astype(np.float32)):
        return False, "the values changed: the network saw 0-255 during training, convert without rescaling"
    return True, "convert the values, do not reinterpret the bytes"


lesson5 = SimpleNamespace(
    linear=Exercise("linear layer", _check_linear, [
        "y[o] = sum over i of W[o, i] * x[i], plus b[o].",
        "In numpy that is a matrix-vector product.",
        "A matrix-vector product of W with x, then add b."],
        number=1, lesson="05_c_inference.ipynb", cell="def linear"),
    grid_obs_size=Exercise("grid observation size", _check_grid, [
        "With vision v the agent sees v cells left, v right, and its own column.",
        "The square is (2v + 1) cells wide and as tall."],
        number=2, lesson="05_c_inference.ipynb", cell="def grid_obs_size"),
    dtype=Exercise("uint8 observations", _check_dtype, [
        "The bytes are fine; their type is not.",
        "numpy's astype converts values; view reinterprets bytes.",
        "Convert to float32 with astype."],
        number=3, lesson="05_c_inference.ipynb", cell="def to_network_input"),
)


# ---- Lesson 2: observation normalization ---------------------------------------------
def _check_relative(fn):
    cases = [((100, 120, 256), 20 / 128), ((120, 100, 256), -20 / 128), ((10, 250, 256), -16 / 128),
             ((250, 10, 256), 16 / 128), ((0, 128, 256), 1.0), ((50, 50, 256), 0.0)]
    for (ship, obj, size), want in cases:
        got = fn(ship, obj, size)
        if got is None or not np.isclose(got, want, atol=1e-6):
            if abs(obj - ship) > size / 2 and not (got is not None and np.isclose(got, -want, atol=1e-6)):
                return False, (f"relative({ship}, {obj}, {size}) gave {got!r}: these two are close "
                               f"the other way round the wrapped arena")
            if got is not None and np.isclose(got, -want, atol=1e-6):
                return False, (f"relative({ship}, {obj}, {size}) gave {got!r}: wrong sign, the offset "
                               f"goes from the ship to the object")
            return False, f"relative({ship}, {obj}, {size}) gave {got!r}; mind the scale"
    return True, "offsets the short way round, divided by half the arena: always in [-1, 1]"


def _check_cooldown(fn):
    for seconds, tps, want in ((0.5, 30, 15), (1.0, 30, 30), (0.1, 30, 3), (0.25, 60, 15), (0.01, 30, 1)):
        got = fn(seconds, tps)
        if got == want and not _is_int(got):
            return False, f"cooldown_ticks({seconds}, {tps}) gave {got!r}: return a whole number of ticks (int)"
        if got == 0:
            return False, (f"cooldown_ticks({seconds}, {tps}) gave 0: a cooldown shorter than a tick "
                           f"still lasts at least 1 tick")
        if got != want:
            return False, (f"cooldown_ticks({seconds}, {tps}) gave {got!r}, expected {want}: round to "
                           f"the nearest whole tick")
    return True, "timers in ticks mean the same game at any simulation speed"


lesson2 = SimpleNamespace(
    relative=Exercise("relative position", _check_relative, [
        "Start with obj - ship; in a wrapped arena the other way round can be shorter.",
        "If the offset is more than half the arena, subtract the arena size (or add it if below "
        "minus half).",
        "Divide by size / 2: the farthest anything can be along one axis."],
        number=1, lesson="02_observation_normalization.ipynb", cell="def relative"),
    cooldown=Exercise("cooldown in ticks", _check_cooldown, [
        "ticks = seconds x ticks per second.",
        "Round to a whole number of ticks, and never below 1.",
        "round() to the nearest tick, and max() with 1."],
        number=2, lesson="02_observation_normalization.ipynb", cell="def cooldown_ticks"),
)


# ---- Lesson 3: sorting vs entity encoders ------------------------------------------
def _check_nearest_first(fn):
    rng = np.random.default_rng(3)
    for n in (1, 4, 16):
        offsets = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
        want = np.argsort(np.hypot(offsets[:, 0], offsets[:, 1]), kind="stable")
        got = np.asarray(fn(offsets))
        if got.shape == (n,) and not np.issubdtype(got.dtype, np.integer):
            return False, (f"you returned {got.dtype} values: return the objects' indices (ints) in "
                           f"nearest-first order, not the distances")
        if got.shape != (n,) or not np.array_equal(got, want):
            return False, f"for {n} objects the order {got.tolist()} is not nearest first"
    return True, "slot 0 is now always the nearest object"


def _check_encode(fn):
    import torch

    torch.manual_seed(1)
    layer = torch.nn.Linear(7, 16)
    objects = torch.randn(10, 7)
    want = torch.relu(layer(objects)).amax(0).detach().numpy()
    W, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    got = np.asarray(fn(objects.numpy(), W, b))
    if got.shape != want.shape:
        return False, f"one pooled vector of {want.shape[0]} numbers expected, got shape {got.shape}"
    shuffled = np.asarray(fn(objects.numpy()[::-1].copy(), W, b))
    if not np.allclose(got, shuffled, atol=1e-5):
        return False, "reversing the objects changed your output: pool over objects, not features"
    if not np.allclose(got, want, atol=1e-5):
        pre = objects.numpy() @ W.T
        if np.allclose(got, (pre + b).max(0), atol=1e-5):
            return False, "negative values came through: apply the ReLU before pooling"
        if np.allclose(got, np.maximum(pre - b, 0).max(0), atol=1e-5):
            return False, "the bias has the wrong sign: the layer is objects @ W.T plus b"
        if np.allclose(got, np.maximum(pre + b, 0).mean(0), atol=1e-5):
            return False, "a mean pool: this encoder pools with the max over objects"
        return False, "close, but not the shared layer + ReLU + max over objects"
    return True, "one shared layer, max-pooled: the order of objects no longer matters"


lesson3 = SimpleNamespace(
    nearest_first=Exercise("nearest first", _check_nearest_first, [
        "Compute each object's distance from its (dx, dy) offset.",
        "np.argsort gives the indices that would sort an array.",
        "np.hypot gives the distances; argsort them with kind='stable' so ties keep their order."],
        number=1, lesson="03_sorting_vs_entity.ipynb", cell="def nearest_first"),
    encode=Exercise("entity encoder", _check_encode, [
        "Apply the same layer to every object: objects @ W.T + b gives [objects, hidden].",
        "Then ReLU, then the max over the objects axis (axis 0).",
        "ReLU is np.maximum with 0; the pool is .max over axis 0."],
        number=2, lesson="03_sorting_vs_entity.ipynb", cell="def encode"),
)


# ---- Lesson 4: frame skip ----------------------------------------------------------
def _check_decisions(fn):
    for frames, k, want in ((2048, 1, 2048), (2048, 4, 512), (100, 3, 34), (7, 8, 1)):
        got = fn(frames, k)
        if got == want and not _is_int(got):
            return False, f"decisions({frames}, {k}) gave {got!r}: a number of steps is a whole number (int)"
        if got is not None and got > frames:
            return False, f"decisions({frames}, {k}) gave {got!r}: frame skip means fewer decisions, not more"
        if got != want:
            return False, f"decisions({frames}, {k}) gave {got!r}; a last partial step still counts"
    return True, "k times fewer decisions: a k times shorter horizon for credit assignment"


def _check_gamma(fn):
    for gamma, k in ((0.99, 4), (0.999, 8), (0.9, 1)):
        want = gamma ** k
        got = fn(gamma, k)
        if got is None or not np.isclose(got, want, rtol=1e-9):
            return False, f"gamma_per_step({gamma}, {k}) gave {got!r}; discounting compounds every frame"
    return True, "the same horizon in frames needs gamma ** k per step"


lesson4 = SimpleNamespace(
    decisions=Exercise("decisions per episode", _check_decisions, [
        "Each step repeats one action for frame_skip frames.",
        "Divide and round up.",
        "math.ceil of the division, or floor division of the negated numbers."],
        number=1, lesson="04_frame_skip.ipynb", cell="def decisions"),
    gamma=Exercise("discount per step", _check_gamma, [
        "A reward k frames away is discounted once per frame at gamma per frame.",
        "One step now spans k frames: the per-frame discount applies k times."],
        number=2, lesson="04_frame_skip.ipynb", cell="def gamma_per_step"),
)
