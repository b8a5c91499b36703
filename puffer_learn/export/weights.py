"""A trained policy as a weight file for C, and its C twin for parity tests.

    write_weights(policy, "target.bin")          # the format of envs/puffernet.h
    read_weights("target.bin")                    # header dict + floats, checked
    CPolicy("target.bin").forward(obs)            # the C network, from Python

The standalone demo program that loads such a file is built by program.py.
"""
import struct
from pathlib import Path

import cffi
import numpy as np
import torch
from torch import nn

from puffer_learn.cenv import build
from puffer_learn.training.errors import check_finite_state_dict
from puffer_learn.training.policies import FrameStack

MAGIC = b"PUFFNET\0"
VERSION = 1
HEADER = struct.Struct("<8s12I")  # magic, then 12 little-endian uint32 (see puffernet.h)
FIELDS = ["version", "arch", "obs_size", "obs_dtype", "num_actions", "hidden_size", "num_layers",
          "self_size", "num_entities", "entity_size", "entity_hidden", "num_floats"]
ARCH = {"mlp": 1, "lstm": 2, "entity": 3}
OBS_DTYPE = {"float32": 0, "uint8": 1}


# -fopenmp-simd turns on the SIMD pragmas in puffernet.h (no OpenMP runtime).
C_POLICY_FLAGS = ["-O3", "-fopenmp-simd"]


class WeightFileError(ValueError):
    """A weight file is not one this version of puffer_learn can use."""


def linears_of(sequential, what):
    """The Linear layers of a Linear/ReLU stack; refuses other activations,
    because the C side implements ReLU only."""
    layers = []
    for module in sequential:
        if isinstance(module, nn.Linear):
            layers.append(module)
        elif not isinstance(module, nn.ReLU):
            raise WeightFileError(f"{what} uses {type(module).__name__}; the C library implements "
                                  f"Linear and ReLU (add the layer to envs/puffernet.h to export it)")
    return layers


def policy_layout(policy):
    """(header fields, tensors in file order) for a supported policy."""
    def flat(*layers):
        return [t for layer in layers for t in (layer.weight, layer.bias)]
    head = {}
    if hasattr(policy, "cell"):  # LSTMPolicy
        (encoder,) = linears_of(policy.encoder, "the LSTM encoder")
        cell = policy.cell
        head.update(arch="lstm", obs_size=encoder.in_features, hidden_size=cell.hidden_size,
                    num_layers=1, num_actions=policy.actor.out_features)
        tensors = flat(encoder) + [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]
    elif hasattr(policy, "entity"):  # EntityPolicy
        (entity,) = linears_of(policy.entity, "the entity layer")
        body = linears_of(policy.body, "the body")
        self_size, num_entities, entity_size = policy.entity_layout
        head.update(arch="entity", obs_size=self_size + num_entities * entity_size,
                    hidden_size=body[0].out_features, num_layers=len(body),
                    num_actions=policy.actor.out_features, self_size=self_size,
                    num_entities=num_entities, entity_size=entity_size,
                    entity_hidden=entity.out_features)
        tensors = flat(entity, *body)
    elif hasattr(policy, "body"):  # MLP
        body = linears_of(policy.body, "the body")
        head.update(arch="mlp", obs_size=body[0].in_features, hidden_size=body[0].out_features,
                    num_layers=len(body), num_actions=policy.actor.out_features)
        tensors = flat(*body)
    else:
        raise WeightFileError(f"cannot export {type(policy).__name__}: supported policies are MLP, "
                              f"LSTMPolicy and EntityPolicy from puffer_learn.training.policies")
    return head, tensors + flat(policy.actor, policy.critic)


def fold_obs_norm(policy):
    """A policy trained with obs_norm, as one without it: (x - mean) / std
    followed by W x + b is W' x + b' with W' = W / std, b' = b - W' mean, so
    the C side runs the same network with no extra step. Returns a copy."""
    import copy

    if not hasattr(policy, "obs_norm"):
        return policy
    first = (policy.encoder[0] if hasattr(policy, "cell") else None if hasattr(policy, "entity")
             else policy.body[0])
    if first is None:
        raise WeightFileError("cannot export an EntityPolicy trained with obs_norm: its shared "
                              "entity layer cannot hold per-slot statistics; train it without obs_norm")
    folded = copy.deepcopy(policy)
    layer = folded.encoder[0] if hasattr(folded, "cell") else folded.body[0]
    std = torch.sqrt(policy.obs_norm.var + 1e-8)
    with torch.no_grad():
        weight = layer.weight.double() / std
        layer.bias.copy_(layer.bias.double() - weight @ policy.obs_norm.mean)
        layer.weight.copy_(weight)
    del folded.obs_norm
    folded._forward_pre_hooks.clear()
    return folded


def write_weights(policy, path, obs_dtype="float32"):
    """Writes the header and the float32 tensors; returns the header dict.
    Refuses (NonFiniteWeightsError) a policy with NaN or inf weights."""
    check_finite_state_dict(policy.state_dict(), f"the policy to write to {path}")
    if isinstance(policy, FrameStack):
        raise WeightFileError(f"cannot export a policy trained with frame_stack={policy.k}: "
                              f"envs/puffernet.h has no frame stack; export an MLP or LSTM policy")
    policy = fold_obs_norm(policy)
    head, tensors = policy_layout(policy)
    floats = np.concatenate([t.detach().cpu().float().numpy().ravel() for t in tensors]).astype("<f4")
    fields = {name: 0 for name in FIELDS}
    fields.update({k: v for k, v in head.items() if k in fields})
    fields.update(version=VERSION, arch=ARCH[head["arch"]], obs_dtype=OBS_DTYPE[obs_dtype],
                  num_floats=floats.size)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(HEADER.pack(MAGIC, *(fields[name] for name in FIELDS)))
        f.write(floats.tobytes())
    return fields


def expected_floats(h):
    """How many floats the header's architecture needs (mirrors puffernet_load)."""
    H, A = h["hidden_size"], h["num_actions"]
    heads = H * A + A + H + 1
    if h["arch"] == ARCH["lstm"]:
        return h["obs_size"] * H + H + 8 * H * H + 8 * H + heads
    width = h["obs_size"]
    total = 0
    if h["arch"] == ARCH["entity"]:
        total += h["entity_size"] * h["entity_hidden"] + h["entity_hidden"]
        width = h["self_size"] + h["entity_hidden"]
    if h["num_layers"] >= 1:  # closed form: a header may claim 4 billion layers
        total += width * H + H + (h["num_layers"] - 1) * (H * H + H)
    return total + heads


def tensor_spans(h):
    """[(tensor name, float count)] in file order, as puffernet.h names them."""
    H, A = h["hidden_size"], h["num_actions"]

    def linear(name, n_in, n_out):
        return [(f"{name} weight", n_in * n_out), (f"{name} bias", n_out)]
    spans = []
    width = h["obs_size"]
    if h["arch"] == ARCH["lstm"]:
        spans += linear("encoder", h["obs_size"], H)
        spans += [("lstm weight_ih", 4 * H * H), ("lstm weight_hh", 4 * H * H),
                  ("lstm bias_ih", 4 * H), ("lstm bias_hh", 4 * H)]
    else:
        if h["arch"] == ARCH["entity"]:
            spans += linear("entity layer", h["entity_size"], h["entity_hidden"])
            width = h["self_size"] + h["entity_hidden"]
        for k in range(min(h["num_layers"], 64)):  # only called once the sizes add up
            spans += linear(f"body layer {k + 1}", width, H)
            width = H
    return spans + linear("actor", H, A) + linear("critic", H, 1)


def policy_outputs(vec):
    """Numbers a policy network for this env (a VecEnv) outputs per agent, the
    weight file's num_actions: one logit per action; for a continuous env a
    mean and a log std per action float (the C programs play the means)."""
    return 2 * vec.num_actions if vec.continuous else vec.num_actions


def read_weights(path, obs_size=None, num_actions=None):
    """Reads and checks a weight file: magic, version, sizes, length. Returns
    (header dict, float32 array). Raises WeightFileError saying what is wrong."""
    path = Path(path)
    data = path.read_bytes()
    if len(data) < HEADER.size or data[:8] != MAGIC:
        raise WeightFileError(f"{path} is not a puffernet weight file (bad magic bytes); export one "
                              f"with `puffer-learn export`")
    values = HEADER.unpack_from(data)
    h = dict(zip(FIELDS, values[1:]))
    if h["version"] != VERSION:
        raise WeightFileError(f"{path} has format version {h['version']}; this puffer_learn reads "
                              f"version {VERSION}")
    if h["arch"] not in ARCH.values():
        raise WeightFileError(f"{path} has unknown architecture code {h['arch']}")
    entity_fields = [f for f in ("self_size", "num_entities", "entity_size", "entity_hidden") if h[f]]
    if h["arch"] != ARCH["entity"] and entity_fields:
        raise WeightFileError(f"{path}: header fields {', '.join(entity_fields)} must be 0 for this "
                              f"architecture (they belong to the entity policy)")
    if len(data) != HEADER.size + 4 * h["num_floats"]:
        raise WeightFileError(f"{path} is {len(data)} bytes but its header promises "
                              f"{h['num_floats']} floats: the file is truncated or corrupted")
    if expected_floats(h) != h["num_floats"]:
        raise WeightFileError(f"{path}: the header's layer sizes need {expected_floats(h)} floats, "
                              f"the file holds {h['num_floats']}")
    if obs_size is not None and h["obs_size"] != obs_size:
        raise WeightFileError(f"{path} expects observations of {h['obs_size']} numbers but the env "
                              f"gives {obs_size}: the policy was trained on another env or config")
    if num_actions is not None and h["num_actions"] != num_actions:
        raise WeightFileError(f"{path} has {h['num_actions']} actions but the env has {num_actions}")
    floats = np.frombuffer(data, "<f4", offset=HEADER.size)
    if not np.isfinite(floats).all():
        first = int(np.flatnonzero(~np.isfinite(floats))[0])
        start = 0
        for name, count in tensor_spans(h):
            if first < start + count:
                raise WeightFileError(f"{path} holds a non-finite weight: {name}[{first - start}] = "
                                      f"{floats[first]} (training diverged or the file is corrupted)")
            start += count
    return h, floats


# ---- The C network, callable from Python (for parity tests and lessons) ----
CPOLICY_CDEF = """
typedef struct PufferNet PufferNet;
PufferNet* pn_load(const char* path, int obs_size, int num_actions, char* err, int err_len);
int pn_forward(PufferNet* n, const float* obs, int num_agents, float* logits, float* values);
void pn_reset_agent(PufferNet* n, int agent);
int pn_sample(const float* logits, int n, float u);
int pn_argmax(const float* logits, int n);
void pn_free(PufferNet* n);
double pn_time_forward(PufferNet* n, const float* obs, int iters);
"""
CPOLICY_SOURCE = """
#include "puffernet.h"
PufferNet* pn_load(const char* path, int obs_size, int num_actions, char* err, int err_len) {
    PufferNet* n = calloc(1, sizeof(PufferNet));
    if (puffernet_load(n, path, obs_size, num_actions, err, err_len)) { free(n); return NULL; }
    return n;
}
// Row a of obs is agent a; LSTM memory is kept per agent between calls.
// Returns 1 if memory for num_agents LSTM states could not be had.
int pn_forward(PufferNet* n, const float* obs, int num_agents, float* logits, float* values) {
    if (n->arch == ARCH_LSTM && n->num_agents != num_agents && puffernet_init_agents(n, num_agents, NULL, 0))
        return 1;
    for (int a = 0; a < num_agents; a++)
        puffernet_forward(n, a, obs + (size_t)a * n->obs_size, logits + (size_t)a * n->num_actions,
                          values + a);
    return 0;
}
void pn_reset_agent(PufferNet* n, int agent) { puffernet_reset_agent(n, agent); }
int pn_sample(const float* logits, int n, float u) { return puffernet_sample(logits, n, u); }
int pn_argmax(const float* logits, int n) { return puffernet_argmax(logits, n); }
void pn_free(PufferNet* n) { puffernet_free(n); free(n); }
// Seconds per forward pass of agent 0, timed inside C (no Python per call).
#include <time.h>
double pn_time_forward(PufferNet* n, const float* obs, int iters) {
    float logits[4096], value;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < iters; i++) puffernet_forward(n, 0, obs, logits, &value);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return ((t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec)) / iters;
}
"""
_cpolicy_module = None


def cpolicy_module():
    global _cpolicy_module
    if _cpolicy_module is None:
        ffi = cffi.FFI()
        ffi.cdef(CPOLICY_CDEF)
        header = build.ENVS_DIR / "puffernet.h"
        modname, path = build.compile_extension(ffi, "puffernet", CPOLICY_SOURCE, [header.read_text()],
                                                C_POLICY_FLAGS, header=header)
        _cpolicy_module = build.load_module(modname, path)
    return _cpolicy_module


class CPolicy:
    """A weight file run by envs/puffernet.h. forward(obs [agents, obs_size])
    returns (logits [agents, actions], values [agents]) computed in C."""

    def __init__(self, path, obs_size=0, num_actions=0):
        self.module = cpolicy_module()
        ffi, lib = self.module.ffi, self.module.lib
        err = ffi.new("char[512]")
        self._net = lib.pn_load(str(path).encode(), obs_size, num_actions, err, 512)
        if self._net == ffi.NULL:
            raise WeightFileError(ffi.string(err).decode())
        self.header, _ = read_weights(path)

    def forward(self, obs):
        ffi, lib = self.module.ffi, self.module.lib
        obs = np.ascontiguousarray(obs, np.float32)
        if obs.ndim != 2 or obs.shape[1] != self.header["obs_size"]:
            raise ValueError(f"obs must have shape (agents, {self.header['obs_size']}), got {obs.shape}")
        logits = np.empty((obs.shape[0], self.header["num_actions"]), np.float32)
        values = np.empty(obs.shape[0], np.float32)
        if lib.pn_forward(self._net, ffi.from_buffer("float*", obs), obs.shape[0],
                          ffi.from_buffer("float*", logits), ffi.from_buffer("float*", values)):
            raise MemoryError(f"out of memory allocating the LSTM state of {obs.shape[0]} agents "
                              f"({2 * 4 * obs.shape[0] * self.header['hidden_size']} bytes)")
        return logits, values

    def seconds_per_forward(self, obs, iters=20_000):
        """Batch-1 latency of the C network, timed inside C."""
        obs = np.ascontiguousarray(obs, np.float32).ravel()
        return self.module.lib.pn_time_forward(self._net, self.module.ffi.from_buffer("float*", obs), iters)

    def reset_agent(self, agent):
        self.module.lib.pn_reset_agent(self._net, agent)

    def argmax(self, logits):
        return self.module.lib.pn_argmax(self.module.ffi.from_buffer("float*", np.ascontiguousarray(
            logits, np.float32)), len(logits))

    def sample(self, logits, u):
        return self.module.lib.pn_sample(self.module.ffi.from_buffer("float*", np.ascontiguousarray(
            logits, np.float32)), len(logits), float(u))

    def __del__(self):
        if getattr(self, "_net", None) is not None and self._net != self.module.ffi.NULL:
            self.module.lib.pn_free(self._net)
            self._net = None
