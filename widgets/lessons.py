"""The lessons' exercises: one namespace per lesson, each exercise with its
checker, tiered hints and solution. A notebook does

    from puffer_learn.widgets.lessons import lesson0 as ex
    ex.agents.check(agents_stepped)

Checkers say what is wrong without giving the answer away.
"""
from types import SimpleNamespace

import numpy as np

from puffer_learn.widgets.exercises import Exercise


# ---- Lesson 0: quickstart ---------------------------------------------------
def _check_agents(fn):
    for n in (1, 3, 64, 512):
        got = fn(n)
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
    return True, "you can read a learning curve from the metrics stream"


lesson0 = SimpleNamespace(
    agents=Exercise("agents", _check_agents, [
        "Look at print(env): it says how many agents a vector holds.",
        "env.agents_per_env is the number of puffers in one arena.",
        "Multiply num_envs by the puffers per arena (8 by default)."],
        "def agents_stepped(num_envs):\n    return num_envs * 8"),
    solve_step=Exercise("steps to solve", _check_solve_step, [
        "Walk through the metrics in order and stop at the first good one.",
        "Skip dicts whose 'ratio' is None before comparing.",
        "for m in metrics: if m['ratio'] is not None and m['ratio'] >= threshold: return m['global_step']"],
        "def steps_to_solve(metrics, threshold=0.9):\n"
        "    for m in metrics:\n"
        "        if m.get('ratio') is not None and m['ratio'] >= threshold:\n"
        "            return m['global_step']\n"
        "    return None"),
)


# ---- Helpers shared by lessons -------------------------------------------------
def source_section(path, section):
    """The lines of a packaged C file between `// --8<-- [start:NAME]` and
    `[end:NAME]` markers (the same lines the docs embed)."""
    from puffer_learn.build import ENVS_DIR

    text = (ENVS_DIR / path).read_text()
    start = text.index(f"// --8<-- [start:{section}]")
    end = text.index(f"// --8<-- [end:{section}]")
    return text[text.index("\n", start) + 1:end]


def show_source(path, section):
    """Displays a section of a packaged C file with syntax highlighting."""
    from IPython.display import Code, display

    display(Code(source_section(path, section), language="c"))


# ---- Lesson 1: build the target env ----------------------------------------------
# The parts of envs/target/target.h the student writes, exactly as packaged.
TARGET_PARTS = {
    "own_features": """        *o++ = 2.0f * me->x * inv - 1.0f;
        *o++ = 2.0f * me->y * inv - 1.0f;
        *o++ = HEADING_DX[me->heading];
        *o++ = HEADING_DY[me->heading];
        *o++ = fminf(me->last_reward, 1.0f);  // 2 stars in one tick still reads 1
""",
    "eat": """            if (dx * dx + dy * dy <= r2) {  // eaten: +1, and the star moves
                reward += 1;
                respawn_star(env, &env->stars[s]);
            }
""",
    "episode_log": """    float per_puffer = total / env->cfg.num_puffers;
    env->log.score += per_puffer;
    env->log.episode_return += per_puffer;
    env->log.episode_length += env->tick;
    env->log.n += 1;
""",
}


def target_source():
    from puffer_learn.build import ENVS_DIR

    return (ENVS_DIR / "target" / "target.h").read_text()


def assemble_target(**parts):
    """target.h with some parts replaced by yours, e.g.
    assemble_target(eat=MY_EAT). Parts you leave out stay as packaged."""
    source = target_source()
    for name, code in parts.items():
        if name not in TARGET_PARTS:
            raise ValueError(f"unknown part {name!r}; parts are {', '.join(TARGET_PARTS)}")
        if TARGET_PARTS[name] not in source:
            raise RuntimeError(f"envs/target/target.h changed: part {name!r} is not in it any more")
        source = source.replace(TARGET_PARTS[name], code.strip("\n") + "\n")
    return source


def _target_part_checker(part):
    def check(code):
        from puffer_learn.widgets.exercises import compare_envs
        return compare_envs(assemble_target(**{part: code}), "target", seeds=(1, 2), steps=520)
    return check


lesson1 = SimpleNamespace(
    assemble=assemble_target,
    own_features=Exercise("own features", _target_part_checker("own_features"), [
        "Five numbers, in this order: x, y, heading dx, heading dy, last reward.",
        "Scale positions from [0, arena_size] to [-1, 1]: 2 * x / size - 1 (inv = 1 / size).",
        "Headings: HEADING_DX[me->heading] and HEADING_DY[...]; the last reward is capped at 1 "
        "with fminf so the observation stays in [-1, 1]."],
        TARGET_PARTS["own_features"]),
    eat=Exercise("eating a star", _target_part_checker("eat"), [
        "A star is eaten when its distance to the puffer is at most eat_radius.",
        "Compare squared distances (dx*dx + dy*dy <= r2): no square root needed.",
        "Inside the if: reward += 1; then move the star with respawn_star(env, &env->stars[s])."],
        TARGET_PARTS["eat"]),
    episode_log=Exercise("episode log", _target_part_checker("episode_log"), [
        "Every Log field is a sum over finished episodes; n counts them.",
        "score is stars eaten PER PUFFER: divide the total by num_puffers.",
        "Add per_puffer to score and episode_return, env->tick to episode_length, 1 to n."],
        TARGET_PARTS["episode_log"]),
)


# ---- Lesson 5: C inference ---------------------------------------------------------
def _check_linear(fn):
    import torch

    torch.manual_seed(0)
    for n_in, n_out in ((27, 64), (5, 3), (64, 8)):
        layer = torch.nn.Linear(n_in, n_out)
        x = torch.randn(n_in)
        want = layer(x).detach().numpy()
        got = np.asarray(fn(layer.weight.detach().numpy(), layer.bias.detach().numpy(), x.numpy()))
        if got.shape != want.shape:
            return False, f"for a {n_in}->{n_out} layer you returned shape {got.shape}, expected {want.shape}"
        if np.abs(got - want).max() > 1e-5:
            return False, (f"a {n_in}->{n_out} layer differs from torch by {np.abs(got - want).max():.3g}: "
                           f"mind the [out, in] layout and the bias")
    return True, "matches torch.nn.Linear to 1e-5"


def _check_grid(fn):
    for vision, cells in ((0, 1), (1, 9), (2, 25), (5, 121)):
        if fn(vision) != cells:
            return False, f"grid_obs_size({vision}) returned {fn(vision)!r}; draw the square for vision {vision}"
    return True, "vision 5 means 11 x 11 = 121 cells"


def _check_dtype(fn):
    obs = np.array([[0, 1, 7, 200, 255]], np.uint8)
    got = np.asarray(fn(obs))
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
        "W @ x + b"], "def linear(W, b, x):\n    return W @ x + b"),
    grid_obs_size=Exercise("grid observation size", _check_grid, [
        "With vision v the agent sees v cells left, v right, and its own column.",
        "The square is (2v + 1) cells wide and as tall."],
        "def grid_obs_size(vision):\n    return (2 * vision + 1) ** 2"),
    dtype=Exercise("uint8 observations", _check_dtype, [
        "The bytes are fine; their type is not.",
        "numpy's astype converts values; view reinterprets bytes.",
        "obs.astype(np.float32)"], "def to_network_input(obs):\n    return obs.astype(np.float32)"),
)


# ---- Lesson 2: observation normalization ---------------------------------------------
def _check_relative(fn):
    cases = [((100, 120, 256), 20 / 128), ((120, 100, 256), -20 / 128), ((10, 250, 256), -16 / 128),
             ((250, 10, 256), 16 / 128), ((0, 128, 256), 1.0), ((50, 50, 256), 0.0)]
    for (ship, obj, size), want in cases:
        got = fn(ship, obj, size)
        if got is None or not np.isclose(got, want, atol=1e-6):
            if abs(obj - ship) > size / 2:
                return False, (f"relative({ship}, {obj}, {size}) gave {got!r}: these two are close "
                               f"the other way round the wrapped arena")
            return False, f"relative({ship}, {obj}, {size}) gave {got!r}; mind the scale"
    return True, "offsets the short way round, divided by half the arena: always in [-1, 1]"


def _check_cooldown(fn):
    for seconds, tps, want in ((0.5, 30, 15), (1.0, 30, 30), (0.1, 30, 3), (0.25, 60, 15), (0.01, 30, 1)):
        got = fn(seconds, tps)
        if got != want:
            return False, f"cooldown_ticks({seconds}, {tps}) gave {got!r}; a cooldown is a whole number of ticks"
    return True, "timers in ticks mean the same game at any simulation speed"


lesson2 = SimpleNamespace(
    relative=Exercise("relative position", _check_relative, [
        "Start with obj - ship; in a wrapped arena the other way round can be shorter.",
        "If the offset is more than half the arena, subtract the arena size (or add it if below "
        "minus half).",
        "Divide by size / 2: the farthest anything can be along one axis."],
        "def relative(ship, obj, size):\n    d = obj - ship\n    if d > size / 2: d -= size\n"
        "    elif d < -size / 2: d += size\n    return d / (size / 2)"),
    cooldown=Exercise("cooldown in ticks", _check_cooldown, [
        "ticks = seconds x ticks per second.",
        "Round to a whole number of ticks, and never below 1.",
        "max(1, round(seconds * ticks_per_second))"],
        "def cooldown_ticks(seconds, ticks_per_second=30):\n    return max(1, round(seconds * ticks_per_second))"),
)


# ---- Lesson 3: sorting vs entity encoders ------------------------------------------
def _check_nearest_first(fn):
    rng = np.random.default_rng(3)
    for n in (1, 4, 16):
        offsets = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
        want = np.argsort(np.hypot(offsets[:, 0], offsets[:, 1]), kind="stable")
        got = np.asarray(fn(offsets))
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
        return False, "close, but not the shared layer + ReLU + max over objects"
    return True, "one shared layer, max-pooled: the order of objects no longer matters"


lesson3 = SimpleNamespace(
    nearest_first=Exercise("nearest first", _check_nearest_first, [
        "Compute each object's distance from its (dx, dy) offset.",
        "np.argsort gives the indices that would sort an array.",
        "np.argsort(np.hypot(offsets[:, 0], offsets[:, 1]), kind='stable')"],
        "def nearest_first(offsets):\n    return np.argsort(np.hypot(offsets[:, 0], offsets[:, 1]), kind='stable')"),
    encode=Exercise("entity encoder", _check_encode, [
        "Apply the same layer to every object: objects @ W.T + b gives [objects, hidden].",
        "Then ReLU, then the max over the objects axis (axis 0).",
        "np.maximum(objects @ W.T + b, 0).max(axis=0)"],
        "def encode(objects, W, b):\n    return np.maximum(objects @ W.T + b, 0).max(axis=0)"),
)


# ---- Lesson 4: frame skip ----------------------------------------------------------
def _check_decisions(fn):
    for frames, k, want in ((2048, 1, 2048), (2048, 4, 512), (100, 3, 34), (7, 8, 1)):
        if fn(frames, k) != want:
            return False, f"decisions({frames}, {k}) gave {fn(frames, k)!r}; a last partial step still counts"
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
        "-(-max_frames // frame_skip)  or  math.ceil(max_frames / frame_skip)"],
        "def decisions(max_frames, frame_skip):\n    return -(-max_frames // frame_skip)"),
    gamma=Exercise("discount per step", _check_gamma, [
        "A reward k frames away is discounted once per frame at gamma per frame.",
        "One step now spans k frames."],
        "def gamma_per_step(gamma_per_frame, frame_skip):\n    return gamma_per_frame ** frame_skip"),
)
