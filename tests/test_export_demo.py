"""puffer-learn export end to end: a checkpoint becomes a weight file and a
standalone C program that plays the env with the policy and prints JSON."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import puffer_learn
from puffer_learn.export.weights import CPolicy, read_weights


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    run = puffer_learn.train("target", seed=1, total_timesteps=65_536, out=str(folder / "runs"),
                             eval_episodes=4)
    cmd = [sys.executable, "-m", "puffer_learn.cli", "export", "target", "--checkpoint",
           run["checkpoint"], "--out", str(folder / "demo"), "--run", "3"]
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return run, json.loads(result.stdout.strip().splitlines()[-1])


def test_export_writes_weights_and_a_program_that_plays(exported):
    run, result = exported
    assert result["arch"] == "mlp"
    header, floats = read_weights(result["weights"], obs_size=27, num_actions=8)
    assert header["num_floats"] == floats.size
    demo = result["demo"]
    assert demo["env"] == "target" and demo["episodes"] == 3 and demo["episode_length"] == 256
    assert np.isfinite(demo["score"]) and demo["score"] >= 0


def test_the_exported_weights_are_the_checkpoint_network(exported):
    run, result = exported
    from puffer_learn.training.checkpoints import load_checkpoint, policy_from_checkpoint

    policy = policy_from_checkpoint(load_checkpoint(run["checkpoint"]))
    env = puffer_learn.make("target", num_envs=2, seed=9)
    env.reset()
    logits, values = CPolicy(result["weights"]).forward(env.observations)
    with torch.no_grad():
        t_logits, t_values, _ = policy(torch.from_numpy(env.observations))
    assert np.abs(logits - t_logits.numpy()).max() <= 1e-5
    assert np.abs(values - t_values.numpy()).max() <= 1e-5


def test_the_program_writes_frames_and_is_reproducible(exported, tmp_path):
    _, result = exported
    cmd = [result["program"], "--episodes", "1", "--seed", "4", "--frames", str(tmp_path / "f"),
           "--max-frames", "5"]
    first = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    again = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    assert first == again and first["frames"] == 5
    assert sorted(p.name for p in (tmp_path / "f").iterdir())[0] == "frame_00000.png"


@pytest.mark.parametrize("damage,message", [
    (lambda b: b"JUNKJUNK" + b[8:], "bad magic"),
    (lambda b: b[:500], "truncated or corrupted"),
])
def test_the_program_refuses_a_damaged_weight_file(exported, tmp_path, damage, message):
    _, result = exported
    bad = tmp_path / "bad.bin"
    bad.write_bytes(damage(open(result["weights"], "rb").read()))
    out = subprocess.run([result["program"], "--weights", str(bad)], capture_output=True, text=True)
    assert out.returncode == 1 and message in out.stderr and out.stdout == ""


def test_the_program_refuses_weights_for_another_env(exported, tmp_path):
    """A policy trained with 6 stars observes 31 numbers; target's default has 27."""
    _, result = exported
    from puffer_learn.export.weights import write_weights
    from puffer_learn.training.policies import MLP

    write_weights(MLP(31, 8, hidden_size=16), tmp_path / "six_stars.bin")
    out = subprocess.run([result["program"], "--weights", str(tmp_path / "six_stars.bin")],
                         capture_output=True, text=True)
    assert out.returncode == 1 and "31 numbers but the env gives 27" in out.stderr


def test_the_program_refuses_a_directory_as_weights(exported, tmp_path):
    """A directory opens like a file; sizing a buffer from it once asked malloc for 2^63 bytes."""
    _, result = exported
    out = subprocess.run([result["program"], "--weights", str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr == (f"error: weights path {tmp_path} is a directory, not a weight file (pass the "
                          f".bin written by puffer-learn export)\n")


# ---- A continuous env: the program plays the policy's mean action -------------
@pytest.fixture(scope="module")
def continuous_demo(tmp_path_factory, continuous_policy):
    from puffer_learn.export.program import export_policy

    return export_policy("target_continuous", continuous_policy, {}, tmp_path_factory.mktemp("continuous"))


def test_a_continuous_program_plays_the_mean_action(continuous_demo):
    """Python steps the env with the C network's means (the first 2 of its 4
    outputs): the same episodes as the program, to the last digit."""
    from puffer_learn.export.program import run_demo

    demo = run_demo(continuous_demo["program"], episodes=3, seed=5)
    assert demo["policy"] == "mean" and demo["episodes"] == 3
    assert run_demo(continuous_demo["program"], episodes=3, seed=5, argmax=True) == demo  # no sampling to change
    network = CPolicy(continuous_demo["weights"], obs_size=27, num_actions=4)
    env = puffer_learn.make("target_continuous", num_envs=1, seed=5)
    obs, scores = env.reset(), []
    while len(scores) < 3:
        outputs, _ = network.forward(obs)
        obs, *_ = env.step(outputs[:, :2])  # out-of-bounds means are clipped by the env, as in C
        log = env.log()
        if log:
            scores.append(log["score"])
    assert demo["score"] == float(f"{np.mean(scores):.6g}") and demo["score"] > 1.5


def test_a_continuous_program_refuses_weights_with_the_wrong_outputs(continuous_demo, tmp_path):
    from puffer_learn.export.program import export_policy
    from puffer_learn.export.weights import WeightFileError, write_weights
    from puffer_learn.training.policies import MLP

    write_weights(MLP(27, 2, hidden_size=16), tmp_path / "means_only.bin")  # no log stds
    out = subprocess.run([continuous_demo["program"], "--weights", str(tmp_path / "means_only.bin")],
                         capture_output=True, text=True)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr == (f"error: {tmp_path / 'means_only.bin'} has 2 outputs but the env's 2 continuous "
                          f"actions need 4 (a mean and a log std each)\n")
    with pytest.raises(WeightFileError, match=r"the policy outputs 2 numbers but target_continuous's 2 "
                                              r"continuous actions need 4 \(a mean and a log std each\)"):
        export_policy("target_continuous", MLP(27, 2, hidden_size=16), {}, tmp_path / "refused")



def test_a_continuous_program_stops_on_an_action_that_is_not_finite(continuous_demo, overflowing_policy,
                                                                    tmp_path):
    from puffer_learn.export.weights import write_weights

    write_weights(overflowing_policy, tmp_path / "inf.bin")
    out = subprocess.run([continuous_demo["program"], "--weights", str(tmp_path / "inf.bin")],
                         capture_output=True, text=True)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.startswith("error: the policy's action 0 is not a finite number (NaN or inf)")
