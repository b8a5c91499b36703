"""No behaviour change, proven: a short fixed-seed training run of target must
give exactly the metrics stream and final weights recorded before the trainer
was refactored. Wall-time fields are left out; everything else is
compared bit for bit (floats by repr, tensors by sha256 of their bytes).

Recorded with torch 2.13.0 (CPU) on one thread, one file per machine kind
(machine_kind(): the last bits differ between CPU vendors' kernels). To record
for a new machine kind, run at a commit whose trainer is known good, or to
re-record after an INTENDED change of behaviour:
PUFFER_LEARN_RECORD_GOLDEN=1 pytest tests/test_golden.py
"""
import hashlib
import json
import os
from pathlib import Path

import pytest
import torch

import puffer_learn
from puffer_learn.training.checkpoints import load_checkpoint

GOLDEN = Path(__file__).parent / "golden_train.json"


def machine_kind():
    """CPU vendor and torch's kernel level: the same float ops round differently
    on another vendor's or ISA's BLAS and kernels (the first record, golden_train.json,
    was made on an AMD machine; an Intel AVX-512 one gives other last bits)."""
    vendor = next((line.split(":")[1].strip() for line in open("/proc/cpuinfo")
                   if line.startswith("vendor_id")), "unknown") if Path("/proc/cpuinfo").exists() else "unknown"
    return f"{vendor}-{torch.backends.cpu.get_cpu_capability()}"


def golden_file():
    """This machine kind's record if one exists, else the first record."""
    own = GOLDEN.with_name(f"golden_train.{machine_kind()}.json")
    return own if own.exists() else GOLDEN
WALL_TIME = {"elapsed_s", "agent_steps_per_s", "time_env", "time_forward", "time_learn"}
RUNS = {
    "mlp": dict(policy_config={"name": "mlp", "hidden_size": 32}),
    "lstm": dict(policy_config={"name": "lstm", "hidden_size": 16}),
}


def fingerprint(tmp_path, name):
    # 40-tick episodes: several end inside the run, so the episode-end paths
    # (score metrics, LSTM memory reset) are covered too.
    run = puffer_learn.train(
        "target", seed=3, out=str(tmp_path / name), env_config={"episode_ticks": 40},
        train_config=dict(total_timesteps=6 * 16 * 128, time_limit=0.0, num_envs=16, horizon=16,
                          minibatches=4, update_epochs=2, torch_threads=1, eval_episodes=8,
                          checkpoint_interval=2),
        **RUNS[name])
    weights = load_checkpoint(run["checkpoint"])["model"]
    return {
        "metrics": [{k: repr(v) for k, v in m.items() if k not in WALL_TIME} for m in run["metrics"]],
        "result": {k: repr(run[k]) for k in ("score", "baseline_score", "ratio", "solved",
                                              "episode_length", "global_step", "updates")},
        "weights": {k: hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest()
                    for k, t in weights.items()},
    }


@pytest.mark.parametrize("name", list(RUNS))
def test_training_matches_the_recorded_run(tmp_path, name):
    if torch.__version__.split("+")[0] != "2.13.0":
        pytest.skip(f"golden values were recorded with torch 2.13.0, this is {torch.__version__}")
    got = fingerprint(tmp_path, name)
    golden = golden_file()
    if os.environ.get("PUFFER_LEARN_RECORD_GOLDEN"):
        golden = GOLDEN.with_name(f"golden_train.{machine_kind()}.json")
        recorded = json.loads(golden.read_text()) if golden.exists() else {}
        recorded[name] = got
        golden.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    want = json.loads(golden.read_text())[name]
    assert len(got["metrics"]) == len(want["metrics"])
    for update, (g, w) in enumerate(zip(got["metrics"], want["metrics"]), 1):
        assert g == w, f"update {update} differs"
    assert got["result"] == want["result"]
    assert got["weights"] == want["weights"]
