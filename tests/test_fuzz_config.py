"""Fuzzing the command line and the config resolution: generated
argv lists and settings dicts must either resolve to a valid config or fail
with our own one-line errors (UsageError, ConfigError, argparse's exit 2),
never with another exception, and never hang. Runs in seconds: nothing is
built or trained, only parsed, resolved and checked.

The examples are derandomized (the same inputs every run), so CI is stable;
FUZZ_EXAMPLES=100000 runs more."""
import contextlib
import io
import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from puffer_learn import cli
from puffer_learn.training.config import TRAIN_DEFAULTS, ConfigError, check_train_value, resolve_config

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 5000))
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=2000,
                suppress_health_check=list(HealthCheck))
seen = {"argv": 0, "dicts": 0, "resolved": 0}
PARSER = cli.build_parser()

KEYS = list(TRAIN_DEFAULTS) + ["name", "hidden_size", "layers", "entity_hidden", "num_stars",
                               "episode_ticks", "bogus", ""]
TEXT_VALUES = st.sampled_from(["0", "-1", "1", "3", "64", "1e3", "1.5", "-0.0", "nan", "inf", "-inf",
                               "1e400", "99999999999999999999999", "true", "false", "cpu", "cuda",
                               "mlp", "lstm", "entity", "abc", "", "=", "--", "os.system",
                               "puffer_learn.training.policies.MLP", "0x10", "1_000", "☃"])
VALUES = st.one_of(st.integers(), st.floats(), st.booleans(), st.none(), st.text(max_size=8),
                   st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def flag():
    section = st.sampled_from(["--train.", "--env.", "--policy.", "--", "-", "", "--train", "--x."])
    key = st.one_of(st.sampled_from(KEYS), st.text(max_size=6))
    return st.tuples(section, key, st.sampled_from([" ", "="]), st.one_of(TEXT_VALUES, st.text(max_size=6)))


def argv_lists():
    fixed = st.sampled_from([["--seed", "2"], ["--seed", "x"], ["--total-timesteps", "-5"],
                             ["--total-timesteps", "0"], ["--time-limit", "-1"], ["--time-limit", "nan"],
                             ["--device", "cuda"], ["--device", "tpu"], ["--quiet"], ["--resume"],
                             ["--out"], ["--total-timesteps"], ["--total-timesteps", "1e9"]])

    def as_args(parts):
        out = []
        for prefix, key, sep, value in parts:
            out += [prefix + key + "=" + value] if sep == "=" else [prefix + key, value]
        return out
    return st.tuples(st.lists(fixed, max_size=3), st.lists(flag(), max_size=5)).map(
        lambda t: ["train", "target"] + [a for group in t[0] for a in group] + as_args(t[1]))


def resolve_or_clean_error(call):
    """Runs call(); our clean errors are fine, anything else fails the test."""
    try:
        config = call()
    except (cli.UsageError, ConfigError) as e:
        message = str(e)
        assert len(message.splitlines()) == 1 and "Traceback" not in message
        return None
    seen["resolved"] += 1
    return config


@FUZZ
@given(argv_lists())
def test_cli_settings_resolve_or_fail_cleanly(argv):
    seen["argv"] += 1
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            args, extra = PARSER.parse_known_args(argv)
        except SystemExit as e:  # argparse: our Parser prints one line and exits 2
            assert e.code == 2 and err.getvalue().startswith("error: ")
            assert len(err.getvalue().strip().splitlines()) == 1
            return

    def resolve():
        settings = cli.train_settings(args, extra)
        return resolve_config(args.env, train_config=settings["train"], env_config=settings["env"],
                              policy_config=settings["policy"])
    config = resolve_or_clean_error(resolve)
    if config is not None:  # a resolved config holds only checked values
        for key, value in config["train"].items():
            assert check_train_value(key, value) == value


@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=4),
       st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=3),
       st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=3))
def test_python_settings_resolve_or_fail_cleanly(train_config, policy_config, overrides):
    seen["dicts"] += 1
    config = resolve_or_clean_error(lambda: resolve_config(
        "target", train_config=train_config, policy_config=policy_config, overrides=overrides))
    if config is not None:
        assert 0 < config["train"]["gamma"] <= 1 and config["train"]["total_timesteps"] >= 1
        assert all(math.isfinite(v) for v in config["train"].values()
                   if isinstance(v, float))


def test_fuzz_ran_enough_inputs():
    """The two fuzz tests above ran (module order) and tried >= 10,000 inputs."""
    if seen["argv"] == 0 or seen["dicts"] == 0:
        pytest.skip("run the whole module to count the fuzz inputs")
    print(f"fuzz inputs: {seen['argv']} argv lists, {seen['dicts']} settings dicts, "
          f"{seen['resolved']} resolved to a valid config")
    assert seen["argv"] + seen["dicts"] >= 2 * EXAMPLES >= 10_000 or EXAMPLES < 5000
