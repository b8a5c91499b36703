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
    from puffer_learn.cenv.build import ENVS_DIR

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
# The student's C, compiled by puffer_learn.course.student_c (gcc + AddressSanitizer,
# every call in a child process): compile errors show the line, crashes are caught.
LAYER_DECLS = ("void linear(const float* W, const float* b, const float* x, float* y, int n_in, int n_out);\n"
               "void relu(float* x, int n);")
FORWARD_DECL = ("void forward(const float* w, const float* obs, float* logits, float* value, "
                "int obs_size, int hidden, int num_actions);")
INPUT_DECL = "void policy_input(const void* env_obs, int agent, int obs_size, float* out);"


def c_layers(code):
    from puffer_learn.course.student_c import compile_c

    return compile_c(code, LAYER_DECLS, "layers.c")


def per_layer_errors(code, seed=0):
    """Max |C - torch| of the student's linear and relu on random inputs, per layer shape."""
    import torch

    lib = c_layers(code)
    torch.manual_seed(seed)
    calls, want, names = [], [], []
    for n_in, n_out in ((27, 64), (64, 64), (64, 8), (5, 3)):
        layer = torch.nn.Linear(n_in, n_out)
        x = torch.randn(n_in)
        W, b = layer.weight.detach().numpy().copy(), layer.bias.detach().numpy().copy()
        calls.append(("linear", [W, b, x.numpy().copy(), np.zeros(n_out, np.float32), n_in, n_out]))
        want.append(layer(x).detach().numpy())
        names.append(f"linear {n_in}->{n_out}")
    x = np.array([-2.0, -0.5, 0.0, 0.25, 3.0, -1e-3], np.float32)
    calls.append(("relu", [x.copy(), x.size]))
    want.append(np.maximum(x, 0))
    names.append("relu")
    results = lib.call_many(calls)
    errors = {}
    for name, (_, arrays), w, (_, args) in zip(names, results, want, calls):
        got = arrays[3] if name.startswith("linear") else arrays[0]
        errors[name] = float(np.abs(got - w).max())
    return errors, results, calls


def _check_layers(code):
    errors, results, calls = per_layer_errors(code)
    for (name, error), (_, arrays), (_, args) in zip(errors.items(), results, calls):
        if error <= 1e-5:
            continue
        if name == "relu":
            return False, (f"relu differs from torch by {error:.3g} on [-2, -0.5, 0, 0.25, 3, -0.001]: "
                           f"negatives become 0, the rest stay, in place")
        W, b, x, y = args[0], args[1], args[2], arrays[3]
        if np.abs(y - W @ x).max() < 1e-5 or np.abs(y - (W @ x - b)).max() < 1e-5:
            return False, f"{name}: the bias is missing or has the wrong sign"
        if W.shape[0] == W.shape[1] and np.abs(y - (W.T @ x + b)).max() < 1e-5:
            return False, f"{name}: you read W as [in][out]; torch stores it [out][in]: W[o * n_in + i]"
        return False, (f"{name} differs from torch.nn.Linear by {error:.3g}: y[o] = b[o] + sum over i "
                       f"of W[o * n_in + i] * x[i] (torch's [out][in] layout)")
    return True, "every layer matches torch to 1e-5: " + ", ".join(f"{n} {e:.1e}" for n, e in errors.items())


def c_forward(layers, forward):
    from puffer_learn.course.student_c import compile_c

    return compile_c(layers + "\n" + forward, LAYER_DECLS + "\n" + FORWARD_DECL, "policy.c")


def flat_weights(policy):
    """The tensors of a 2-layer MLP in the weight file's order, as one float32 array."""
    from puffer_learn.export.weights import policy_layout

    _, tensors = policy_layout(policy)
    return np.concatenate([t.detach().float().numpy().ravel() for t in tensors]).astype(np.float32)


def network_errors(lib, policy, obs):
    """Max |C - float64 torch| of logits and values over rows of obs."""
    import copy

    import torch

    hidden, actions = policy.body[0].out_features, policy.actor.out_features
    w = flat_weights(policy)
    calls = [("forward", [w, np.ascontiguousarray(row, np.float32), np.zeros(actions, np.float32),
                          np.zeros(1, np.float32), obs.shape[1], hidden, actions]) for row in obs]
    results = lib.call_many(calls)
    got_logits = np.stack([arrays[2] for _, arrays in results])
    got_values = np.concatenate([arrays[3] for _, arrays in results])
    with torch.no_grad():
        logits, values, _ = copy.deepcopy(policy).double()(torch.from_numpy(np.asarray(obs, np.float64)))
    return (float(np.abs(got_logits - logits.numpy()).max()), float(np.abs(got_values - values.numpy()).max()))


def _check_forward(code, layers=None):
    import torch

    from puffer_learn.training.policies import MLP

    if layers is None:
        layers = solved_layers()
    lib = c_forward(layers, code)
    for obs_size, hidden, actions in ((27, 32, 8), (10, 16, 4)):
        torch.manual_seed(obs_size)
        policy = MLP(obs_size, actions, hidden_size=hidden, layers=2)
        for p in policy.parameters():  # away from the init, so every layer matters
            torch.nn.init.normal_(p, 0, 0.3)
        obs = np.random.default_rng(obs_size).uniform(-1, 1, (6, obs_size)).astype(np.float32)
        logit_error, value_error = network_errors(lib, policy, obs)
        if value_error > 1e-4 and logit_error <= 1e-4:
            return False, (f"a {obs_size}-{hidden}-{hidden} network: logits match, the value differs by "
                           f"{value_error:.3g}: the critic is the last tensors (after the actor) and reads "
                           f"the same hidden vector")
        if logit_error > 1e-4:
            return False, (f"a {obs_size}-{hidden}-{hidden} network: logits differ from float64 torch by "
                           f"{logit_error:.3g}: per layer: body Linear, ReLU, Linear, ReLU, then the actor "
                           f"(no ReLU); the weights are W1 b1 W2 b2 actor_W actor_b critic_W critic_b")
    return True, "matches the float64 reference on two network sizes (to 1e-4)"


def solved_layers():
    return lesson5.layers.reference()


def _check_input(code):
    from puffer_learn.course.student_c import compile_c

    lib = compile_c(code, INPUT_DECL, "input.c")
    obs = np.random.default_rng(5).integers(0, 256, (8, 27), dtype=np.uint8)
    calls = [("policy_input", [obs, agent, 27, np.zeros(27, np.float32)]) for agent in (0, 3, 7)]
    for (_, arrays), (_, args) in zip(lib.call_many(calls), calls):
        got, agent = arrays[1], args[1]
        want = obs[agent].astype(np.float32)
        if np.array_equal(got, want):
            continue
        if np.allclose(got, want / 255):
            return False, f"agent {agent}: the values were rescaled to 0-1; the network saw 0-255 in training"
        if np.array_equal(got, obs[0].astype(np.float32)):
            return False, f"agent {agent}: you read agent 0's row: start at agent * obs_size"
        return False, (f"agent {agent}: got {got[:4].tolist()}..., expected {want[:4].tolist()}...: each byte "
                       f"is one observation value; convert it to float, do not reinterpret 4 bytes as a float")
    return True, "each uint8 value converted to a float, for every agent's row"


RESET_DECL = "void end_episodes(float* h, float* c, const uint8_t* ended, int agents, int hidden);"


def _check_reset(code):
    from puffer_learn.course.student_c import compile_c

    lib = compile_c(code, RESET_DECL, "reset.c")
    rng = np.random.default_rng(7)
    agents, hidden = 6, 5
    h, c = rng.normal(size=(2, agents, hidden)).astype(np.float32)
    ended = np.array([0, 1, 0, 0, 1, 1], np.uint8)
    (_, (h_after, c_after, _)), = lib.call_many([("end_episodes", [h.copy(), c.copy(), ended, agents, hidden])])
    keep = ended == 0
    for name, before, after in (("h", h, h_after), ("c", c, c_after)):
        stale = [int(a) for a in np.flatnonzero(~keep) if np.any(after[a] != 0)]
        if stale:
            return False, (f"agent {stale[0]}'s episode ended but its memory {name} was kept: its next "
                           f"episode starts from the last one's state (zero every number of h and c)")
        changed = [int(a) for a in np.flatnonzero(keep) if not np.array_equal(after[a], before[a])]
        if changed:
            return False, (f"agent {changed[0]}'s episode goes on, but its memory {name} changed: "
                           f"zero only the agents whose ended flag is 1")
    return True, "ended agents start their next episode with zero memory; the others keep theirs"


lesson5 = SimpleNamespace(
    lstm_reset=Exercise("zero the memory of ended episodes", _check_reset, [
        "An LSTM agent carries two vectors between steps, h and c, each [agents][hidden].",
        "For every agent a with ended[a] == 1, set all hidden numbers of its rows of h and c to 0.",
        "Two loops: agents outside; inside, if ended, zero h[a * hidden + j] and c[a * hidden + j]."],
        number=4, lesson="05_c_inference.ipynb", cell="END_EPISODES ="),
    layers=Exercise("linear and relu in C", _check_layers, [
        "torch stores a Linear's weight as [out][in], row by row: W[o * n_in + i].",
        "linear: for every output o, start from b[o] and add W[o * n_in + i] * x[i] over i. relu: "
        "replace each negative x[i] by 0, in place.",
        "Two nested for loops in linear (outputs outside, inputs inside); one loop with an if in relu."],
        number=1, lesson="05_c_inference.ipynb", cell="LAYERS ="),
    forward=Exercise("the whole network in C", _check_forward, [
        "w holds the tensors one after another: W1 [hidden][obs_size], b1, W2 [hidden][hidden], b2, "
        "actor W [num_actions][hidden], actor b, critic W [1][hidden], critic b.",
        "Keep a pointer into w and move it past each tensor as you use it; two float buffers of "
        "hidden floats hold the activations.",
        "linear + relu twice for the body, then linear into logits (no relu) and linear into value."],
        number=2, lesson="05_c_inference.ipynb", cell="FORWARD ="),
    obs_input=Exercise("uint8 observations", _check_input, [
        "The env's buffer holds one byte per value: read it as const uint8_t*.",
        "Agent a's row starts at byte a * obs_size.",
        "out[i] = (float) of the byte at a * obs_size + i: a conversion, not a reinterpretation."],
        number=3, lesson="05_c_inference.ipynb", cell="POLICY_INPUT ="),
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


def assemble_asteroids(object_row):
    """asteroids.h with the normalized object row (section object_row) replaced by yours."""
    source = _read("asteroids/asteroids.h")
    begin, end = _section_span(source, "object_row", "envs/asteroids/asteroids.h")
    return source[:begin] + object_row.strip("\n") + "\n" + source[end:]


OBJECT_FEATURES = ("dx", "dy", "distance", "vx", "vy", "size", "kind")
# obs index -> "object K name" for the 16 objects after the 2 self features
OBJECT_FEATURE_NAMES = {2 + 7 * k + j: f"object {k} {name}" for k in range(16)
                        for j, name in enumerate(OBJECT_FEATURES)}
ROW_ADVICE = {"dx": "the offset the short way round the wrap (wrap_delta), times inv",
              "dy": "the offset the short way round the wrap (wrap_delta), times inv",
              "distance": "the square root of env->dist2[env->order[k]], times inv",
              "vx": "the velocity times inv_v (1 / max speed)",
              "vy": "the velocity times inv_v (1 / max speed)",
              "size": "the radius divided by the largest rock radius, ROCK_MAX_R",
              "kind": "the kind as a float: +1 gem, -1 rock"}


def _check_object_row(code):
    from puffer_learn.widgets.exercises import compare_envs

    if code.count("*o++") != 7:
        return False, (f"one object row is 7 numbers (dx, dy, distance, vx, vy, size, kind): your "
                       f"code writes {code.count('*o++')} with *o++")
    ok, message = compare_envs(assemble_asteroids(code), "asteroids", seeds=(1, 2), steps=200,
                               feature_names=OBJECT_FEATURE_NAMES, entity_order="unsorted")
    if not ok:
        for name, advice in ROW_ADVICE.items():
            if f" {name})" in message:
                return False, f"{message}: {name} should be {advice}"
    return ok, message


lesson2 = SimpleNamespace(
    object_row=Exercise("a normalized object row", _check_object_row, [
        "Seven numbers, in this order: dx, dy, distance, vx, vy, size, kind; write each with *o++ = ...;",
        "Offsets go the short way round the wrapped arena: wrap_delta(ob->x - s->x, size), then times "
        "inv (2 / arena size). The distance is already computed: env->dist2[env->order[k]] is its square.",
        "Velocities times inv_v (1 / max speed); the size is ob->radius / ROCK_MAX_R; the kind is "
        "(float)ob->kind."],
        number=2, lesson="02_observation_normalization.ipynb", cell="OBJECT_ROW ="),
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
        number=3, lesson="02_observation_normalization.ipynb", cell="def cooldown_ticks"),
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


def _check_forward(cls):
    """cls: a subclass of EntityPolicy with the student's forward(). Same
    weights as the package's EntityPolicy, so the outputs must match."""
    import torch

    from puffer_learn.training.policies import EntityPolicy

    if not (isinstance(cls, type) and issubclass(cls, EntityPolicy)):
        return False, f"pass the class itself (MyEntityPolicy), got {cls!r}"
    # Two layouts, so sizes cannot be hard-coded: asteroids' own and a small one.
    for layout, hidden, entity_hidden in (((2, 16, 7), 64, 32), ((3, 5, 4), 16, 8)):
        self_size, n, f = layout
        obs_size = self_size + n * f
        torch.manual_seed(1)
        mine = cls(obs_size, 9, layout, hidden_size=hidden, layers=2, entity_hidden=entity_hidden)
        ref = EntityPolicy(obs_size, 9, layout, hidden_size=hidden, layers=2, entity_hidden=entity_hidden)
        ref.load_state_dict(mine.state_dict())
        with torch.no_grad():
            mine.actor.weight.normal_()  # a non-trivial head, so differences show
            ref.actor.weight.copy_(mine.actor.weight)
            obs = torch.randn(32, obs_size)
            try:
                logits, value, _ = mine(obs)
            except NotImplementedError:
                raise  # the untouched stub: "not attempted"
            except RuntimeError as error:
                return False, (f"layout {layout}: running your forward failed ({str(error).splitlines()[0]}): "
                               f"the body reads [batch, self_size + entity_hidden] = [32, "
                               f"{self_size + entity_hidden}]: the self features next to the pooled vector")
            want_logits, want_value, _ = ref(obs)
            if logits.shape != want_logits.shape or value.shape != want_value.shape:
                return False, (f"layout {layout}: logits {tuple(logits.shape)} and value {tuple(value.shape)}, "
                               f"expected {tuple(want_logits.shape)} and {tuple(want_value.shape)}")
            perm = torch.randperm(n)
            objects = obs[:, self_size:].reshape(-1, n, f)
            shuffled = torch.cat([obs[:, :self_size], objects[:, perm].reshape(len(obs), -1)], 1)
            if (mine(shuffled)[0] - logits).abs().max() > 1e-5:
                return False, (f"layout {layout}: shuffling the objects changed your logits: encode each "
                               f"object (reshape to [batch, {n}, {f}]) and pool over the objects axis")
            if (mine(obs[:1])[0] - logits[:1]).abs().max() > 1e-5:
                return False, f"layout {layout}: one observation alone gives other logits than in a batch: pool over objects, not over the batch"
            pooled = ref.entity(objects)
            mean_logits = ref.actor(ref.body(torch.cat([obs[:, :self_size], pooled.mean(1)], 1)))
            sum_logits = ref.actor(ref.body(torch.cat([obs[:, :self_size], pooled.sum(1)], 1)))
            if (logits - mean_logits).abs().max() < 1e-5 or (logits - sum_logits).abs().max() < 1e-5:
                return False, f"layout {layout}: order-free, but a mean or sum pool: this encoder keeps the max over objects"
            gap = (logits - want_logits).abs().max().item()
            if gap > 1e-5 or (value - want_value).abs().max() > 1e-5:
                return False, (f"layout {layout}: order-free, but your logits differ from the package's "
                               f"EntityPolicy by {gap:.3g} with the same weights: use self.entity on the "
                               f"objects, the max over objects, and the self features first in the concatenation")
    return True, "order-free, and the same outputs as the package's EntityPolicy on two layouts"


lesson3 = SimpleNamespace(
    nearest_first=Exercise("nearest first", _check_nearest_first, [
        "Compute each object's distance from its (dx, dy) offset.",
        "np.argsort gives the indices that would sort an array.",
        "np.hypot gives the distances; argsort them with kind='stable' so ties keep their order."],
        number=2, lesson="03_sorting_vs_entity.ipynb", cell="def nearest_first"),
    forward=Exercise("entity encoder forward", _check_forward, [
        "The objects are obs[:, self_size:]; view them as [batch, num_entities, entity_size].",
        "self.entity runs on the last axis, so it encodes every object with the same weights; then "
        "take the max over the objects axis (dim=1).",
        "torch.cat the self features (obs[:, :self_size]) and the pooled vector along dim=1, run "
        "self.body on that, and the heads on its output."],
        number=1, lesson="03_sorting_vs_entity.ipynb", cell="class MyEntityPolicy"),
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


# ---- Lesson 6: profile and fix a slow env ----------------------------------------
# envs/slow_target/slow_target.h is target's game with four faults, each in a
# marked section; the student rewrites those sections, assemble_slow_target
# puts the answers in. Each check: the fault's call is gone (read from the
# answer, for a message that names it), then the env plays exactly target's
# game (compare_envs); the speed itself is measured in the lesson.
SLOW_PARTS = ("background", "score", "observations", "timed_step")
SLOW_PATH = "slow_target/slow_target.h"


def slow_target_source():
    return _read(SLOW_PATH)


def assemble_slow_target(**parts):
    """slow_target.h with some sections replaced by yours, e.g.
    assemble_slow_target(score=SCORE). Sections you leave out stay slow."""
    source = slow_target_source()
    for name, code in parts.items():
        if name not in SLOW_PARTS:
            raise ValueError(f"unknown section {name!r}; sections are {', '.join(SLOW_PARTS)}")
        begin, end = _section_span(source, name, "envs/" + SLOW_PATH)
        source = source[:begin] + code.strip("\n") + "\n" + source[end:]
    return source


def _same_game(name, code):
    from puffer_learn.widgets.exercises import compare_envs

    ok, message = compare_envs(assemble_slow_target(**{name: code}), "target", seeds=(1, 2), steps=300)
    if not ok:
        return False, f"the game changed: {message}"
    return True, "same game as target (seeds 1 and 2, 300 steps, an episode end included)"


def _function_body(code, function):
    match = re.search(rf"\b{function}\s*\([^)]*\)\s*\{{(.*?)^\}}", code, re.S | re.M)
    return None if match is None else match.group(1)


def _code_only(code):
    from puffer_learn.cenv.build import strip_comments

    return strip_comments(code)


def _check_background(code):
    code, answer = _code_only(code), code
    for function in ("env_init", "env_reset", "draw_background"):
        if _function_body(code, function) is None:
            return False, f"keep all three functions of the section: {function} is missing"
    if "build_background" in _function_body(code, "env_reset"):
        return False, "env_reset still builds the background: every episode pays for it again"
    if "build_background" not in code:
        return False, ("nothing builds the background any more, so env_render would draw garbage: "
                       "build it once (in env_init, or the first time draw_background runs)")
    ok, message = _same_game("background", answer)
    if not ok:
        return ok, message
    import puffer_learn

    frames = []
    for env in (assemble_slow_target(background=answer), "slow_target"):
        vec = puffer_learn.make(env, num_envs=1, seed=3, name="student_env")
        vec.reset()
        frames.append(vec.render(0))
        vec.close()
    if not np.array_equal(frames[0], frames[1]):
        return False, "the game is the same, but the picture differs from slow_target's: is the background built before it is drawn?"
    return True, message + "; the same picture; no background work in env_reset"


def _check_score(code):
    if re.search(r"\b(for|while)\b", _code_only(code)):
        return False, ("count_stars still loops: each tick adds one reward to a puffer's total, "
                       "so no loop over the history is needed")
    return _same_game("score", code)


ALLOCATION = re.compile(r"\b(malloc|calloc|realloc|free)\s*\(")


def _check_observations(code):
    found = ALLOCATION.search(_code_only(code))
    if found:
        return False, (f"write_observations still calls {found.group(1)} for every puffer, every "
                       f"step: scratch this small belongs on the stack")
    return _same_game("observations", code)


CLOCK = re.compile(r"\b(clock|clock_gettime|gettimeofday|time)\s*\(")


def _check_timed_step(code):
    found = CLOCK.search(_code_only(code))
    if found:
        return False, f"env_step still calls {found.group(1)}() every step"
    return _same_game("timed_step", code)


def require_slow_fixes(background, score, observations, timed_step):
    """For cells that need all four fixes: stops with one line naming the first
    exercise that is not done."""
    lesson6.background.require(background)
    lesson6.score.require(score)
    lesson6.observations.require(observations)
    lesson6.timed_step.require(timed_step)


def env_share(metrics):
    """The env's share of a run's training time: seconds in env.step() over
    all seconds, summed over updates (not the mean of per-update shares: an
    update where every env resets at once weighs what it cost)."""
    times = [m["elapsed_s"] for m in metrics]
    walls = [t - s for s, t in zip([0.0] + times[:-1], times)]
    return sum(m["time_env"] * w for m, w in zip(metrics, walls)) / sum(walls)


LESSON6 = "06_profile_slow_env.ipynb"
lesson6 = SimpleNamespace(
    assemble=assemble_slow_target,
    require_all=require_slow_fixes,
    env_share=env_share,
    background=Exercise("build the background once", _check_background, [
        "The picture depends only on arena_size: it is the same for every episode.",
        "Work that depends only on the settings belongs where it runs once: env_init, or the "
        "first call that needs it.",
        "Move the allocation and the build_background call out of env_reset; draw_background can "
        "build it the first time, when env->background is still NULL (training never draws)."],
        number=1, lesson=LESSON6, cell="BACKGROUND ="),
    score=Exercise("a running total", _check_score, [
        "Each tick a puffer's total grows by exactly this tick's reward.",
        "Keep the total in env->puffers[a].eaten and add to it; env_reset already sets it to 0.",
        "One line: add reward to the puffer's eaten. The history is no longer needed."],
        number=2, lesson=LESSON6, cell="SCORE ="),
    observations=Exercise("no allocation per step", _check_observations, [
        "16 vectors of 4 floats is 256 bytes: small enough for the stack.",
        "Declare the two scratch arrays as local arrays (f4 name[16]) instead of calloc, once, "
        "before the loop over puffers; they need no free.",
        "Lanes past n may hold anything finite: zero them once when you declare them ({0})."],
        number=3, lesson=LESSON6, cell="OBSERVATIONS ="),
    timed_step=Exercise("no clock in the step", _check_timed_step, [
        "What does env_step do besides the game? Is any of it needed for the game?",
        "Time is counted in ticks inside an env; measure speed from outside (bench, a profiler).",
        "env_step only has to run the game's tick and return whether the episode ended."],
        number=4, lesson=LESSON6, cell="TIMED_STEP ="),
)


# ---- Lesson 7: memory, frame stacking vs an LSTM ---------------------------------------
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


lesson7 = SimpleNamespace(
    push_frame=Exercise("push a frame", _check_push_frame, [
        "Two moves: forget the old frames of the rows that start a new episode, then shift every row "
        "by one slot and put obs in the last slot.",
        "stack[new_episode] = 0 zeroes whole rows (work on a copy); np.concatenate along axis 1 joins "
        "the kept frames and the new one.",
        "Keep stack[:, 1:] (drop the oldest) and add obs[:, None] (one slot of n numbers) after it."],
        number=1, lesson="07_memory_lstm.ipynb", cell="def push_frame"),
    cue_in_stack=Exercise("the stack's reach", _check_cue_in_stack, [
        "Number the steps: the cue is at step 0, the choice at step `delay`.",
        "At the choice the stack holds steps delay - k + 1 up to delay.",
        "The cue is in it when the oldest step held is step 0 or earlier."],
        number=2, lesson="07_memory_lstm.ipynb", cell="def cue_in_stack"),
)


# ---- Lesson 8: PPO from the inside ---------------------------------------------------
# The student's GAE, losses, entropy and explained variance are checked against the
# package's own functions (puffer_learn/training/trainer.py, puffer_learn/training/policies.py) on random
# tensors; each known mistake is recognised by computing it here and comparing.
LESSON8 = "08_ppo_inside.ipynb"


def trainer_section(name):
    """The lines of train() under its `# ---- NAME ----` header, up to the next
    header or the end of its block (Rollout, Learn, Metrics): shown from
    puffer_learn/training/trainer.py itself, so the lesson never holds a stale copy."""
    import inspect

    from puffer_learn.training import trainer

    lines = inspect.getsource(trainer).splitlines()
    starts = [k for k, line in enumerate(lines) if re.match(rf"\s*# ---- {re.escape(name)}\b", line)]
    if not starts:
        raise LookupError(f"train() has no section '# ---- {name} ----'")
    indent = len(lines[starts[0]]) - len(lines[starts[0]].lstrip())
    # the section ends at the next header or where its block ends (a line indented less)
    end = next((k for k in range(starts[0] + 1, len(lines)) if re.match(r"\s*# ---- ", lines[k])
                or (lines[k].strip() and len(lines[k]) - len(lines[k].lstrip()) < indent)), len(lines))
    body = lines[starts[0]:end]
    return "\n".join(line[indent:] for line in body).rstrip() + "\n"


def show_python(code):
    from IPython.display import Code, display

    display(Code(code, language="python"))


def _rollout(seed, steps=12, agents=6, ends=True):
    """Random rollout tensors: rewards, values, ended [T, agents], last_value [agents].
    With ends: episode ends inside the rollout and at its last step for some agents."""
    import torch

    g = torch.Generator().manual_seed(seed)
    rewards = torch.randn(steps, agents, generator=g)
    values = torch.randn(steps, agents, generator=g)
    last_value = torch.randn(agents, generator=g) + 2.0  # away from 0, so a missing bootstrap shows
    ended = torch.zeros(steps, agents)
    if ends:
        ended[3, 0] = ended[7, 1] = ended[0, 2] = ended[5, 2] = ended[steps - 1, 3] = ended[steps - 2, 4] = 1
    return rewards, values, ended, last_value


def _gae_variant(rewards, values, ended, last_value, gamma, lam, *, cut_delta=True, cut_trace=True,
                 bootstrap=True, shift=0, decay=None):
    """GAE with one known mistake switched on (for the check's messages)."""
    import torch

    T = rewards.shape[0]
    if shift:  # the mask read one step late/early
        ended = torch.roll(ended, shift, 0)
        ended[0 if shift > 0 else T - 1] = 0
    advantages = torch.zeros_like(rewards)
    next_advantage = torch.zeros_like(last_value)
    next_value = last_value if bootstrap else torch.zeros_like(last_value)
    for t in reversed(range(T)):
        keep = 1.0 - ended[t]
        delta = rewards[t] + gamma * next_value * (keep if cut_delta else 1.0) - values[t]
        next_advantage = delta + (gamma * lam if decay is None else decay) * (keep if cut_trace else 1.0) * next_advantage
        advantages[t] = next_advantage
        next_value = values[t]
    return advantages


def _as_tensor(x, what):
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} must be a torch tensor, got {type(x).__name__}")
    return x


def _close(a, b, tol=1e-5):
    return a.shape == b.shape and bool((a - b).abs().max() <= tol)


def _check_gae(fn):
    from puffer_learn.training.trainer import compute_gae

    for gamma, lam in ((0.99, 0.95), (0.9, 0.7)):
        for seed, ends in ((1, False), (2, True), (3, True)):
            args = _rollout(seed, ends=ends)
            copies = [a.clone() for a in args]
            out = fn(*args, gamma, lam)
            if not isinstance(out, tuple) or len(out) != 2:
                return False, "return two tensors: (advantages, returns)"
            adv, ret = (_as_tensor(x, name) for x, name in zip(out, ("advantages", "returns")))
            if any(not (a == c).all() for a, c in zip(args, copies)):
                return False, "your function changed its inputs in place: write into new tensors"
            want_adv, want_ret = compute_gae(*args, gamma, lam)
            if adv.shape != want_adv.shape:
                return False, f"advantages have shape {tuple(adv.shape)}, expected {tuple(want_adv.shape)} ([T, agents])"
            where = "with episode ends inside the rollout" if ends else "without episode ends"
            if not _close(adv, want_adv):
                rewards, values, ended, last_value = args
                known = [
                    (dict(bootstrap=False), "the last step is not bootstrapped: after the last step comes "
                     "last_value (the critic's estimate of the observation after the rollout), not 0"),
                    (dict(cut_delta=False, cut_trace=False), "your advantages flow across episode ends: where "
                     "ended[t] = 1, neither the next value nor the next advantage may enter step t"),
                    (dict(cut_trace=False), "the next step's value is cut at episode ends, but the next "
                     "ADVANTAGE still flows back across them"),
                    (dict(cut_delta=False), "the advantage recursion is cut at episode ends, but delta "
                     "still adds gamma * V(next observation) there: that observation is a new episode's"),
                    (dict(shift=1), "your episode cuts are one step late: ended[t] = 1 means the episode "
                     "ended WITH step t, so the cut is between t and t + 1"),
                    (dict(shift=-1), "your episode cuts are one step early: ended[t] = 1 means the episode "
                     "ended WITH step t, so the cut is between t and t + 1"),
                    (dict(decay=gamma), "the advantage of the next step is discounted by gamma alone: GAE "
                     "decays it by gamma * lambda per step"),
                    (dict(decay=lam), "the advantage of the next step is discounted by lambda alone: GAE "
                     "decays it by gamma * lambda per step"),
                ]
                for options, message in known:
                    if _close(adv, _gae_variant(rewards, values, ended, last_value, gamma, lam, **options)):
                        return False, f"{message} (gamma={gamma}, lambda={lam}, {where})"
                if _close(-adv, want_adv):
                    return False, f"your advantages have the wrong sign: delta is r + gamma * V(next) - V(now) ({where})"
                gap = (adv - want_adv).abs().max().item()
                return False, (f"advantages differ from the package's by up to {gap:.3g} (gamma={gamma}, "
                               f"lambda={lam}, {where}); go backwards from the last step, one delta per step")
            if _close(ret, want_adv):
                return False, "returns equal the advantages: the value target is the advantage PLUS the value"
            if not _close(ret, want_ret):
                return False, "the advantages are right, the returns are not: returns = advantages + values"
    return True, ("matches compute_gae with episode ends inside the rollout, at its last step, and a "
                  "bootstrapped last step, for two settings of gamma and lambda")


def _loss_args(seed, n=64):
    import torch

    g = torch.Generator().manual_seed(seed)
    old = -torch.rand(n, generator=g) * 2 - 0.1  # log-probabilities (negative)
    new = (old + torch.randn(n, generator=g) * 0.4).requires_grad_()  # some ratios far outside the clip
    advantages = torch.randn(n, generator=g)
    return new, old, advantages


def _check_policy_loss(fn):
    import torch

    from puffer_learn.training.trainer import clipped_policy_loss

    for seed, clip in ((1, 0.2), (2, 0.1)):
        new, old, adv = _loss_args(seed)
        out = fn(new, old, adv, clip)
        if not isinstance(out, tuple) or len(out) != 3:
            return False, "return three values: (loss, approx_kl, clip_fraction)"
        loss, kl, frac = out
        loss = _as_tensor(loss, "the loss")
        if loss.dim() != 0:
            return False, f"the loss must be one number (a 0-d tensor, the mean over samples), got shape {tuple(loss.shape)}"
        want, want_kl, want_frac = clipped_policy_loss(new, old, adv, clip)
        log_ratio = (new - old).detach()
        ratio = log_ratio.exp()
        clipped = ratio.clamp(1 - clip, 1 + clip)
        if not torch.isclose(loss.detach(), want.detach(), atol=1e-5):
            value = loss.item()
            wrong = [(torch.min(ratio * adv, clipped * adv).mean(), "the loss has the wrong sign: the "
                      "optimizer minimizes the loss, so the loss is MINUS the objective"),
                     (-torch.max(ratio * adv, clipped * adv).mean(), "you take the larger of the clipped "
                      "and unclipped terms: PPO takes the smaller one (a pessimistic bound), so moving "
                      "past the clip earns nothing"),
                     (torch.max(ratio * adv, clipped * adv).mean(), "you take the larger of the two terms and "
                      "the loss has the wrong sign"),
                     (-(ratio * adv).mean(), "nothing is clipped: with the ratio outside [1 - clip, 1 + clip] "
                      "the objective must stop growing"),
                     (-(clipped * adv).mean(), "only the clipped term is used: take the smaller of the "
                      "clipped and unclipped terms"),
                     (-torch.min((1 / ratio) * adv, (1 / ratio).clamp(1 - clip, 1 + clip) * adv).mean(),
                      "the ratio is upside down: it is pi_new / pi_old"),
                     (-torch.min(log_ratio * adv, log_ratio.clamp(1 - clip, 1 + clip) * adv).mean(),
                      "the ratio is computed from log-probabilities without exp: ratio = exp(new - old)"),
                     (-torch.min(ratio * adv, ratio * adv.clamp(-clip, clip)).mean(),
                      "you clip the advantages: clip the probability ratio"),
                     ]
            for candidate, message in wrong:
                if abs(value - candidate.item()) < 1e-5:
                    return False, f"{message} (clip={clip})"
            return False, f"the loss is {value:.4g}, the package's {want.item():.4g} (clip={clip})"
        if loss.grad_fn is None:
            return False, "the loss has no gradient: compute it from new_logprobs without torch.no_grad() or .detach()"
        grad = torch.autograd.grad(loss, new)[0]
        want_grad = torch.autograd.grad(want, new)[0]
        if not torch.allclose(grad, want_grad, atol=1e-6):
            return False, "the loss value is right but its gradient is not: compute it from new_logprobs itself"
        kl, frac = float(kl), float(frac)
        if abs(kl - float(want_kl)) > 1e-6:
            if abs(kl - float((-log_ratio).mean())) < 1e-6:
                return False, ("approx_kl is the plain mean of -log(ratio): use the low-variance estimator "
                               "(ratio - 1) - log(ratio), averaged (always >= 0)")
            if abs(kl + float(want_kl)) < 1e-6:
                return False, "approx_kl has the wrong sign: it is never negative"
            return False, f"approx_kl is {kl:.4g}, the package's {float(want_kl):.4g}: (ratio - 1) - log(ratio), averaged"
        if abs(frac - float(want_frac)) > 1e-6:
            active = float(((ratio * adv) > (clipped * adv)).float().mean())
            if abs(frac - active) < 1e-6:
                return False, ("clip_fraction counts only the samples where the clip changed the loss: "
                               "count every sample whose ratio is outside [1 - clip, 1 + clip]")
            return False, (f"clip_fraction is {frac:.4g}, the package's {float(want_frac):.4g}: the share of "
                           f"samples whose ratio is outside [1 - clip, 1 + clip]")
    return True, "loss, gradient, approx_kl and clip_fraction match clipped_policy_loss at two clip settings"


def _check_value_loss(fn):
    import torch

    from puffer_learn.training.trainer import value_loss

    g = torch.Generator().manual_seed(4)
    old = torch.randn(64, generator=g)
    new = (old + torch.randn(64, generator=g) * 0.5).requires_grad_()
    returns = old + torch.randn(64, generator=g)
    for clip in (0.0, 0.2):
        got = _as_tensor(fn(new, old, returns, clip), "the value loss")
        if got.dim() != 0:
            return False, f"the loss must be one number (a 0-d tensor), got shape {tuple(got.shape)}"
        want = value_loss(new, old, returns, clip)
        if abs(got.item() - want.item()) > 1e-5:
            value, nd = got.item(), new.detach()
            error = (nd - returns) ** 2
            clipped_error = (old + (nd - old).clamp(-clip, clip) - returns) ** 2
            wrong = [((error).mean(), "the package's value loss is HALF the mean squared error"),
                     (0.5 * error.sum(), "average over the samples, do not sum"),
                     (0.5 * (nd - old).pow(2).mean(), "the target is the return, not the rollout's old value"),
                     (0.5 * (nd - returns).abs().mean(), "square the error"),
                     ]
            if clip == 0:
                wrong.append((0.5 * torch.max(error, (old - returns) ** 2).mean(), "with value_clip = 0 "
                              "there is no clipping: only the plain error counts"))
            if clip > 0:
                wrong += [(0.5 * error.mean(), "with value_clip > 0 the clipped error must count too"),
                          (0.5 * torch.min(error, clipped_error).mean(), "with value clipping take the LARGER "
                           "of the two errors (the pessimistic one), not the smaller"),
                          (0.5 * ((nd.clamp(-clip, clip) - returns) ** 2).mean(), "clip the CHANGE from "
                           "old_values to at most value_clip, not the value itself"),
                          (0.5 * clipped_error.mean(), "with value clipping take the larger of the clipped "
                           "and the unclipped error"),
                          ]
            for candidate, message in wrong:
                if abs(value - candidate.item()) < 1e-5:
                    return False, f"{message} (value_clip={clip})"
            return False, f"the value loss is {value:.4g}, the package's {want.item():.4g} (value_clip={clip})"
        if got.grad_fn is None:
            return False, "the loss has no gradient: compute it from new_values without .detach()"
    return True, "matches value_loss with and without value clipping"


def _check_entropy(fn):
    import math

    import torch

    from puffer_learn.training.policies import entropy

    g = torch.Generator().manual_seed(5)
    logits = torch.randn(32, 6, generator=g) * 2 + 3  # unnormalized, shifted: not log-probabilities
    got = _as_tensor(fn(logits), "the entropy")
    if got.dim() != 0:
        return False, f"return one number, the mean over rows (a 0-d tensor), got shape {tuple(got.shape)}"
    want = entropy(logits)
    if abs(got.item() - want.item()) > 1e-5:
        value = got.item()
        p = torch.softmax(logits, -1)
        wrong = [(-want, "the entropy is -sum(p * log p): it is never negative"),
                 (want * 32, "average over the rows (observations), do not sum"),
                 (want / math.log(2), "in nats (natural log), not bits"),
                 (-(logits.exp() * logits).sum(-1).mean(), "logits are unnormalized: turn them into "
                  "log-probabilities first (log_softmax)"),
                 (-(p * logits).sum(-1).mean(), "logits are unnormalized: turn them into log-probabilities "
                  "first (log_softmax)"),
                 ]
        for candidate, message in wrong:
            if abs(value - candidate.item()) < 1e-4:
                return False, message
        return False, f"your entropy is {value:.4g}, the package's {want.item():.4g}"
    uniform = fn(torch.zeros(4, 8)).item()
    if abs(uniform - math.log(8)) > 1e-5:
        return False, f"a uniform policy over 8 actions should have entropy log(8) = {math.log(8):.4f}, yours {uniform:.4g}"
    certain = torch.tensor([[200.0, 0.0, -200.0], [0.0, 0.0, 300.0]])
    sure = fn(certain).item()
    if not math.isfinite(sure) or abs(sure) > 1e-5:
        return False, (f"a certain policy (one huge logit) gave {sure}, expected 0: log(softmax) is -inf where "
                       f"a probability underflows to 0; use log_softmax")
    return True, "matches the package's entropy, including uniform and certain policies"


def _check_explained_variance(fn):
    import math

    import torch

    from puffer_learn.training.trainer import explained_variance

    g = torch.Generator().manual_seed(6)
    returns = torch.randn(16, 8, generator=g) * 2 + 1
    cases = {"a good critic": returns + 0.3 * torch.randn(16, 8, generator=g),
             "a poor critic": 0.5 * torch.randn(16, 8, generator=g),
             "a constant critic": torch.full((16, 8), 1.0)}
    for name, values in cases.items():
        got = fn(values, returns)
        if not isinstance(got, float):
            return False, f"return a plain Python float (float(...)): the metrics hold numbers, got {type(got).__name__}"
        want = explained_variance(values, returns)
        if abs(got - want) > 1e-5:
            wrong = [(1 - float(values.var() / returns.var()), "compare the variance of the ERRORS "
                      "(returns - values) with the variance of the returns"),
                     (1 - float((returns - values).var() / values.var()), "divide by the variance of the "
                      "returns (what is to be explained), not of the values"),
                     (float((returns - values).var() / returns.var()), "that is the unexplained share: "
                      "explained variance is 1 minus it"),
                     (float(torch.corrcoef(torch.stack([values.flatten(), returns.flatten()]))[0, 1] ** 2)
                      if values.std() > 0 else float("nan"), "that is the squared correlation: explained "
                      "variance also punishes a critic that is off by a constant or a scale"),
                     ]
            for candidate, message in wrong:
                if math.isfinite(candidate) and abs(got - candidate) < 1e-5:
                    return False, f"{message} (case: {name})"
            return False, f"for {name} you gave {got:.4g}, the package's {want:.4g}"
    try:
        flat = fn(torch.randn(8), torch.full((8,), 3.0))
    except ZeroDivisionError:
        flat = None
    if not (isinstance(flat, float) and math.isnan(flat)):
        return False, (f"with constant returns (variance 0) you gave {flat!r}: nothing is there to "
                       f"explain, return float('nan')")
    return True, "matches explained_variance: 1 for a perfect critic, <= 0 for one no better than a constant"


# The runs of section 3 in the lesson: labels shown to the student -> what was broken.
BROKEN_RUNS = {"run A": "value loss off", "run B": "learning rate x10", "run C": "advantages not normalized"}
CAUSES = ("learning rate x10", "advantages not normalized", "value loss off")
EVIDENCE = {  # what each cause does to the logged numbers (shown for a wrong match)
    "learning rate x10": "a 10x learning rate makes the FIRST update (the same rollout for every run) move "
                         "the policy MORE: approx_kl above the healthy run's, clip_fraction several times it",
    "advantages not normalized": "raw (unnormalized) advantages move the policy LESS per update here: "
                                 "approx_kl far below the healthy run's, clip_fraction ~0, entropy stays near "
                                 "log(8)",
    "value loss off": "without the value loss the critic is never fitted: value_loss stays far above the "
                      "healthy run's",
}


def _check_match(answer):
    if not isinstance(answer, dict):
        return False, 'a dict {"run A": cause, "run B": cause, "run C": cause}'
    if set(answer) != set(BROKEN_RUNS):
        return False, f"name each run once: the keys are {', '.join(BROKEN_RUNS)}; you gave {sorted(answer)}"
    for run, cause in answer.items():
        if cause not in CAUSES:
            return False, f"{run}: {cause!r} is not one of the causes: {', '.join(CAUSES)}"
    if len(set(answer.values())) != len(CAUSES):
        return False, "each cause broke exactly one run: use each cause once"
    wrong = [run for run in BROKEN_RUNS if answer[run] != BROKEN_RUNS[run]]
    if wrong:
        run = wrong[0]
        return False, (f"{len(wrong)} of 3 are wrong. {run} is not '{answer[run]}': {EVIDENCE[answer[run]]}; "
                       f"is that what {run}'s row shows?")
    return True, "each broken run matched to its cause from its numbers alone"


# The silent bug: one of the trainer's parts has one subtle mistake.
def _value_loss_swapped(new_values, old_values, returns, value_clip=0.0):
    from puffer_learn.training.trainer import value_loss

    return value_loss(new_values, returns, old_values, value_clip)  # two arguments swapped


def mystery_parts():
    """The parts of the mystery trainer: all the package's, one with a subtle
    bug. Each is wrapped, so comparing them with PARTS by identity says nothing."""
    import functools

    from puffer_learn.training.trainer import PARTS

    def wrapped(fn):
        @functools.wraps(fn)
        def part(*args, **kwargs):
            return fn(*args, **kwargs)
        del part.__wrapped__
        return part
    return {name: wrapped(_value_loss_swapped if name == "value_loss" else fn) for name, fn in PARTS.items()}


SUSPECTS = {
    "gae: no bootstrap": "GAE treats the rollout's last step as an episode end (last_value unused)",
    "gae: not cut at episode ends": "GAE lets values and advantages flow across episode ends",
    "policy loss: max instead of min": "the clipped loss takes the larger of the two terms",
    "normalize: advantages not normalized": "the advantages reach the loss unnormalized",
    "value loss: wrong target": "the value loss fits the critic to something other than the returns",
    "entropy: wrong sign": "the entropy part returns minus the entropy",
}
SILENT_BUG = "value loss: wrong target"
SUSPECT_EVIDENCE = {
    "gae: no bootstrap": "a GAE bug gives the critic wrong returns, but the critic would still be fitted to "
                         "them, with an error like the healthy run's; is the mystery value_loss like the "
                         "healthy one? Feed the mystery gae and yours the same rollout",
    "gae: not cut at episode ends": "in target every episode ends at the last step of a rollout (256 ticks = 8 "
                                    "rollouts of 32), so a missing cut would change little here; and is the "
                                    "mystery value_loss like the healthy one?",
    "policy loss: max instead of min": "a max would make the updates reckless: approx_kl and clip_fraction far "
                                       "above the healthy run's; are they?",
    "normalize: advantages not normalized": "unnormalized advantages shrink the updates here: entropy would "
                                            "stay near log(8); does it?",
    "entropy: wrong sign": "an entropy part with the wrong sign would log a negative entropy; is it negative? "
                           "Call the mystery entropy on uniform logits",
}


def _check_diagnosis(answer):
    if answer not in SUSPECTS:
        return False, f"answer with one of the suspects' names: {', '.join(repr(s) for s in SUSPECTS)}"
    if answer != SILENT_BUG:
        return False, f"not '{answer}': {SUSPECT_EVIDENCE[answer]}"
    return True, ("the critic was fitted to its own old values: a value loss near 0 and a high explained "
                  "variance that mean nothing, and advantages from a critic that never learns")


def _identity(x):
    return x


def broken_settings():
    """Section 6's short runs: label -> train() keyword arguments. The labels
    hide the causes; BROKEN_RUNS names them (for the check)."""
    return {"healthy": {}, "run A": {"value_coef": 0.0}, "run B": {"learning_rate": 3e-2},
            "run C": {"parts": {"normalize": _identity}}}


def max_differences(parts, seed=0):
    """{part: max |yours - package's|} on fresh random tensors: a rollout with
    episode ends inside it and at its last step, ratios outside the clip,
    value clipping on; the policy loss's gradient counts too."""
    import torch

    from puffer_learn.training.trainer import PARTS

    gaps = {}
    args = _rollout(seed, steps=32, agents=16)
    gaps["gae"] = max((a - b).abs().max().item() for a, b in zip(parts["gae"](*args, 0.99, 0.95),
                                                                    PARTS["gae"](*args, 0.99, 0.95)))
    new, old, adv = _loss_args(seed, n=512)
    mine, ref = parts["policy_loss"](new, old, adv, 0.2), PARTS["policy_loss"](new, old, adv, 0.2)
    grads = [torch.autograd.grad(out[0], new)[0] for out in (mine, ref)]
    gaps["policy_loss"] = max([abs(float(torch.as_tensor(a).detach()) - float(torch.as_tensor(b).detach()))
                               for a, b in zip(mine, ref)]
                              + [(grads[0] - grads[1]).abs().max().item()])
    g = torch.Generator().manual_seed(seed)
    old_v, returns = torch.randn(512, generator=g), torch.randn(512, generator=g)
    new_v = old_v + torch.randn(512, generator=g) * 0.5
    gaps["value_loss"] = max(abs(parts["value_loss"](new_v, old_v, returns, clip).item()
                                 - PARTS["value_loss"](new_v, old_v, returns, clip).item()) for clip in (0.0, 0.2))
    logits = torch.randn(512, 8, generator=g) * 3
    gaps["entropy"] = abs(parts["entropy"](logits).item() - PARTS["entropy"](logits).item())
    values = returns + torch.randn(512, generator=g)
    gaps["explained_variance"] = abs(parts["explained_variance"](values, returns)
                                     - PARTS["explained_variance"](values, returns))
    return gaps


def require_all(gae, policy_loss, value_loss, entropy, explained_variance):
    """For cells that need exercises 1-5: stops with one line naming the first not done."""
    lesson8.gae.require(gae)
    lesson8.policy_loss.require(policy_loss)
    lesson8.value_loss.require(value_loss)
    lesson8.entropy.require(entropy)
    lesson8.explained_variance.require(explained_variance)


lesson8 = SimpleNamespace(
    trainer_section=trainer_section,
    broken_settings=broken_settings,
    max_differences=max_differences,
    require_all=require_all,
    show=show_python,
    mystery_parts=mystery_parts,
    broken_runs=list(BROKEN_RUNS),
    causes=CAUSES,
    suspects=SUSPECTS,
    gae=Exercise("GAE", _check_gae, [
        "Walk backwards from the last step t = T - 1 to 0, carrying the next step's value and advantage.",
        "After the last step the next value is last_value; where ended[t] = 1, multiply both the next "
        "value and the next advantage by 0 (1 - ended[t]).",
        "delta = r_t + gamma * V_next * (1 - ended_t) - V_t; A_t = delta + gamma * lambda * (1 - ended_t) "
        "* A_next; then V_next becomes V_t. Returns are A + V."],
        number=1, lesson=LESSON8, cell="def my_gae"),
    policy_loss=Exercise("clipped policy loss", _check_policy_loss, [
        "The ratio pi_new / pi_old is exp of the difference of the log-probabilities.",
        "Objective per sample: the smaller of ratio * A and clamp(ratio, 1 - clip, 1 + clip) * A. "
        "The loss is minus its mean.",
        "Under torch.no_grad(): approx_kl = mean of (ratio - 1) - log_ratio; clip_fraction = mean of "
        "(|ratio - 1| > clip) as floats."],
        number=2, lesson=LESSON8, cell="def my_policy_loss"),
    value_loss=Exercise("value loss", _check_value_loss, [
        "The critic is fitted to the returns GAE produced: half the mean squared error.",
        "With value_clip > 0, a clipped prediction is old_values plus the change clamped to +-value_clip.",
        "With clipping, take torch.max of the plain and the clipped squared errors before the mean."],
        number=3, lesson=LESSON8, cell="def my_value_loss"),
    entropy=Exercise("entropy", _check_entropy, [
        "Entropy of a categorical distribution: -sum over actions of p * log p, per row; then the mean.",
        "Get log p from the logits with torch.log_softmax (stable), and p as its exp."],
        number=4, lesson=LESSON8, cell="def my_entropy"),
    explained_variance=Exercise("explained variance", _check_explained_variance, [
        "1 - Var(returns - values) / Var(returns).",
        "Guard the case Var(returns) == 0 first; return float(...) of the tensor result."],
        number=5, lesson=LESSON8, cell="def my_explained_variance"),
    match=Exercise("match runs to causes", _check_match, [
        "Compare each broken run's row with the healthy run's, one column at a time.",
        "Which cause makes each update move the policy more? Less? Which one leaves the critic unfitted?",
        "approx_kl and clip_fraction measure how far an update moved the policy; value_loss how well "
        "the critic fits."],
        number=6, lesson=LESSON8, cell="MATCH ="),
    diagnosis=Exercise("silent bug", _check_diagnosis, [
        "Which columns of the mystery run differ from the healthy run's, and in which direction? A number "
        "that looks too good is a clue too.",
        "A critic's error near 0 on returns it should find hard to predict: what is it being fitted to?",
        "Call each mystery part next to yours on the same random tensors (ex.mystery_parts()); the one "
        "that disagrees is the bug."],
        number=7, lesson=LESSON8, cell="DIAGNOSIS ="),
)


# ---- Lesson 9: sweeps ----------------------------------------------------------------
def _check_space(fn):
    from puffer_learn.training.config import ConfigError
    from puffer_learn.training.sweep import check_space

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


def _check_flags(fn):
    from puffer_learn.cli import UsageError, parse_settings

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


lesson9 = SimpleNamespace(
    space=Exercise("a search space", _check_space, [
        "Return a dict shaped like a [sweep] table: one entry per setting, each a dict.",
        "A range is {'low': ..., 'high': ...}; add 'log': True where the setting spans orders of magnitude.",
        "Whole-number settings take whole-number bounds (1, not 1.0)."],
        number=1, lesson="09_sweep.ipynb", cell="def lesson_space"),
    flags=Exercise("the winner as a command line", _check_flags, [
        "puffer-learn train takes each train setting as two arguments: the flag and the value.",
        "The flag is --train. followed by the setting's name; the value is the number as a string.",
        "Loop over params.items() and extend a list with the flag and str(value)."],
        number=2, lesson="09_sweep.ipynb", cell="def as_flags"),
)
