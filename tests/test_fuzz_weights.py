"""Fuzzing the C weight-file loader (envs/puffernet.h) under AddressSanitizer
and UndefinedBehaviorSanitizer: 10,000 generated and mutated weight files,
no crash, no leak, no hang, and every refusal comes with a message.

The inputs start from valid files of the three architectures and are
mutated the ways real files go wrong: a header field set to a boundary or
random value (with the float count and the file length made to agree, so the
loader gets past its length check), bytes flipped, the file cut or padded,
NaN/inf written into a weight, random bytes after the magic. Generation is
seeded: the same 10,000 inputs every run.
"""
import functools
import json
import random
import shutil
import struct
import subprocess

import numpy as np
import pytest

from puffer_learn.cenv.build import ENVS_DIR
from puffer_learn.export.weights import (ARCH, FIELDS, HEADER, MAGIC, VERSION, WeightFileError, expected_floats,
                                         read_weights)

HARNESS = ENVS_DIR.parent / "tests" / "fuzz" / "puffernet_fuzz.c"
NUM_INPUTS = 10_000
INTERESTING = [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 255, 256, 65535, 65536, 65537, (1 << 20) - 1, 1 << 20,
               (1 << 20) + 1, 2**31 - 1, 2**31, 2**32 - 1]
SIZE_FIELDS = [f for f in FIELDS if f not in ("version", "num_floats")]


def weight_file(h, rng, floats=None):
    if floats is None:
        floats = rng.standard_normal(h["num_floats"]).astype("<f4")
    return HEADER.pack(MAGIC, *(h[f] for f in FIELDS)) + floats.tobytes()


def seeds():
    """Valid headers of each architecture (obs 5, actions 3: the sizes the
    harness checks every third input against)."""
    base = dict({f: 0 for f in FIELDS}, version=VERSION)
    heads = [dict(base, arch=ARCH["mlp"], obs_size=5, num_actions=3, hidden_size=4, num_layers=2),
             dict(base, arch=ARCH["mlp"], obs_size=5, num_actions=3, hidden_size=1, num_layers=1),
             dict(base, arch=ARCH["lstm"], obs_size=5, num_actions=3, hidden_size=4, num_layers=1),
             dict(base, arch=ARCH["entity"], obs_size=5, num_actions=3, hidden_size=4, num_layers=1,
                  self_size=1, num_entities=2, entity_size=2, entity_hidden=3),
             dict(base, arch=ARCH["mlp"], obs_size=7, obs_dtype=1, num_actions=2, hidden_size=3,
                  num_layers=8)]
    for h in heads:
        h["num_floats"] = expected_floats(h)
    return heads


def mutate(rng, nprng, heads):
    h = dict(rng.choice(heads))
    kind = rng.randrange(6)
    if kind <= 1:  # header fields at boundaries, float count made consistent when small
        for _ in range(rng.randint(1, 3)):
            h[rng.choice(SIZE_FIELDS)] = rng.choice(INTERESTING) if rng.random() < 0.8 else rng.getrandbits(32)
        need = expected_floats(h)
        h["num_floats"] = need if 0 <= need <= 50_000 and kind == 0 else h["num_floats"]
        if h["num_floats"] > 50_000:
            h["num_floats"] = rng.randrange(50_000)
        return weight_file(h, nprng)
    data = bytearray(weight_file(h, nprng))
    if kind == 2:  # flip bytes anywhere
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 3:  # cut or pad
        data = data[:rng.randrange(len(data) + 1)] if rng.random() < 0.5 else data + bytes(rng.randrange(1, 64))
    elif kind == 4:  # a NaN or inf in one weight
        at = HEADER.size + 4 * rng.randrange(h["num_floats"])
        data[at:at + 4] = struct.pack("<f", rng.choice([float("nan"), float("inf"), float("-inf")]))
    else:  # the magic, then noise
        data = bytearray(MAGIC + bytes(rng.getrandbits(8) for _ in range(rng.randrange(120))))
    return bytes(data)


@functools.lru_cache(maxsize=1)
def corpus(n):
    rng, nprng = random.Random(18), np.random.default_rng(18)
    heads = seeds()
    inputs = [weight_file(h, nprng) for h in heads]  # the valid seeds load
    while len(inputs) < n:
        inputs.append(mutate(rng, nprng, heads))
    return tuple(inputs)


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (gcc) on PATH")
    out = tmp_path_factory.mktemp("fuzz") / "puffernet_fuzz"
    flags = ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
             "-fno-omit-frame-pointer"]
    result = subprocess.run([cc, *flags, "-I", str(ENVS_DIR), str(HARNESS), "-o", str(out), "-lm"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        if "asan" in result.stderr or "sanitize" in result.stderr:
            pytest.skip(f"the compiler has no AddressSanitizer: {result.stderr.strip()[:200]}")
        pytest.fail(result.stderr)
    return out


def test_loader_survives_10000_generated_files(harness, tmp_path):
    inputs = corpus(NUM_INPUTS)
    path = tmp_path / "corpus.bin"
    with open(path, "wb") as f:
        for data in inputs:
            f.write(struct.pack("<I", len(data)) + data)
    result = subprocess.run([str(harness), str(path), str(tmp_path / "scratch.bin")], capture_output=True,
                            text=True, timeout=60,
                            env={"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
                                 "UBSAN_OPTIONS": "print_stacktrace=1"})
    assert result.returncode == 0, result.stderr[-3000:]
    stats = json.loads(result.stdout.strip().splitlines()[-1])
    print(stats)
    assert stats["inputs"] == NUM_INPUTS
    # Both paths are exercised: some files load and run, most are refused.
    assert stats["loaded"] >= 100 and stats["refused"] >= 1000


def test_python_reader_refuses_the_same_inputs_cleanly(tmp_path):
    """read_weights (export.py) on the same 10,000 inputs: each one either
    reads or raises WeightFileError; never another exception, never a hang
    (a header claiming 4 billion layers once made it loop for hours)."""
    scratch = tmp_path / "w.bin"
    read = refused = 0
    for data in corpus(NUM_INPUTS):
        scratch.write_bytes(data)
        try:
            read_weights(scratch)
            read += 1
        except WeightFileError:
            refused += 1
    assert read + refused == NUM_INPUTS and read >= 100
