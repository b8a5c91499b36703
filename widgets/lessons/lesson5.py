"""Lesson 5, C inference (05_c_inference.ipynb): the trained policy's forward
pass in C, layer by layer, then its input from the env's uint8 observations,
then an LSTM's memory reset. The student's C is compiled by
puffer_learn.course.student_c (gcc + AddressSanitizer, every call in a child
process): compile errors show the line, crashes are caught."""
import copy

import numpy as np
import torch

from puffer_learn.course.student_c import compile_c
from puffer_learn.export.weights import policy_layout
from puffer_learn.training.policies import MLP
from puffer_learn.widgets.exercises import Exercise
from puffer_learn.widgets.lessons.shared import numbered_hints

LESSON = "05_c_inference.ipynb"
# What the student's C defines, as the checks declare it to the compiler.
LAYER_DECLS = ("void linear(const float* W, const float* b, const float* x, float* y, int n_in, int n_out);\n"
               "void relu(float* x, int n);")
FORWARD_DECL = ("void forward(const float* w, const float* obs, float* logits, float* value, "
                "int obs_size, int hidden, int num_actions);")
INPUT_DECL = "void policy_input(const void* env_obs, int agent, int obs_size, float* out);"
RESET_DECL = "void end_episodes(float* h, float* c, const uint8_t* ended, int agents, int hidden);"


def c_layers(code):
    return compile_c(code, LAYER_DECLS, "layers.c")


def per_layer_errors(code, seed=0):
    """Max |C - torch| of the student's linear and relu on random inputs, per layer shape."""
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


layers = Exercise("linear and relu in C", _check_layers, numbered_hints("""
    1. torch stores a Linear's weight as [out][in], row by row: W[o * n_in + i].
    2. linear: for every output o, start from b[o] and add W[o * n_in + i] * x[i] over i. relu: replace each
       negative x[i] by 0, in place.
    3. Two nested for loops in linear (outputs outside, inputs inside); one loop with an if in relu."""),
    number=1, lesson=LESSON, cell="LAYERS =")


def c_forward(layers, forward):
    return compile_c(layers + "\n" + forward, LAYER_DECLS + "\n" + FORWARD_DECL, "policy.c")


def flat_weights(policy):
    """The tensors of a 2-layer MLP in the weight file's order, as one float32 array."""
    _, tensors = policy_layout(policy)
    return np.concatenate([t.detach().float().numpy().ravel() for t in tensors]).astype(np.float32)


def network_errors(lib, policy, obs):
    """Max |C - float64 torch| of logits and values over rows of obs."""
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


def _check_network_forward(code, layers=None):
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
    return layers.reference()


forward = Exercise("the whole network in C", _check_network_forward, numbered_hints("""
    1. w holds the tensors one after another: W1 [hidden][obs_size], b1, W2 [hidden][hidden], b2, actor W
       [num_actions][hidden], actor b, critic W [1][hidden], critic b.
    2. Keep a pointer into w and move it past each tensor as you use it; two float buffers of hidden floats hold
       the activations.
    3. linear + relu twice for the body, then linear into logits (no relu) and linear into value."""),
    number=2, lesson=LESSON, cell="FORWARD =")


def _check_input(code):
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


obs_input = Exercise("uint8 observations", _check_input, numbered_hints("""
    1. The env's buffer holds one byte per value: read it as const uint8_t*.
    2. Agent a's row starts at byte a * obs_size.
    3. out[i] = (float) of the byte at a * obs_size + i: a conversion, not a reinterpretation."""),
    number=3, lesson=LESSON, cell="POLICY_INPUT =")


def _check_reset(code):
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


lstm_reset = Exercise("zero the memory of ended episodes", _check_reset, numbered_hints("""
    1. An LSTM agent carries two vectors between steps, h and c, each [agents][hidden].
    2. For every agent a with ended[a] == 1, set all hidden numbers of its rows of h and c to 0.
    3. Two loops: agents outside; inside, if ended, zero h[a * hidden + j] and c[a * hidden + j]."""),
    number=4, lesson=LESSON, cell="END_EPISODES =")
