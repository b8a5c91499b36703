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
# The student's C, compiled by puffer_learn.student_c (gcc + AddressSanitizer,
# every call in a child process): compile errors show the line, crashes are caught.
LAYER_DECLS = ("void linear(const float* W, const float* b, const float* x, float* y, int n_in, int n_out);\n"
               "void relu(float* x, int n);")
FORWARD_DECL = ("void forward(const float* w, const float* obs, float* logits, float* value, "
                "int obs_size, int hidden, int num_actions);")
INPUT_DECL = "void policy_input(const void* env_obs, int agent, int obs_size, float* out);"


def c_layers(code):
    from puffer_learn.student_c import compile_c

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
    from puffer_learn.student_c import compile_c

    return compile_c(layers + "\n" + forward, LAYER_DECLS + "\n" + FORWARD_DECL, "policy.c")


def flat_weights(policy):
    """The tensors of a 2-layer MLP in the weight file's order, as one float32 array."""
    from puffer_learn.export import policy_layout

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

    from puffer_learn.policies import MLP

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
    from puffer_learn.student_c import compile_c

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
    from puffer_learn.student_c import compile_c

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

    from puffer_learn.policies import EntityPolicy

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
    from puffer_learn.build import strip_comments

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
