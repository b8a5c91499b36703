"""The trainer's running mean/std observation normalization (train setting
obs_norm, off by default): its statistics are the observations' own, they
are saved in the checkpoint, evaluation rebuilds the policy with them, and
the C export folds them into the first layer so C computes the same network."""
import copy

import numpy as np
import torch

import puffer_learn
from puffer_learn.training.checkpoints import load_checkpoint, policy_from_checkpoint
from puffer_learn.export.weights import CPolicy, write_weights
from puffer_learn.training.policies import MLP, ObsNorm


def test_running_statistics_match_numpy():
    norm = ObsNorm(3)
    rng = np.random.default_rng(0)
    batches = [rng.normal(5, 3, (n, 3)) for n in (7, 100, 1)]
    for batch in batches:
        norm.update(torch.from_numpy(batch))
    seen = np.concatenate(batches)
    assert np.allclose(norm.mean.numpy(), seen.mean(0)) and np.allclose(norm.var.numpy(), seen.var(0))
    assert int(norm.count) == len(seen)


def test_off_by_default_and_saved_in_the_checkpoint(tmp_path):
    plain = puffer_learn.train("asteroids", seed=1, out=tmp_path / "plain", total_timesteps=8192,
                               num_envs=32, eval_episodes=4, env_config={"obs_mode": "raw"})
    assert not any("obs_norm" in k for k in load_checkpoint(plain["checkpoint"])["model"])
    run = puffer_learn.train("asteroids", seed=1, out=tmp_path / "norm", total_timesteps=8192,
                             num_envs=32, eval_episodes=4, env_config={"obs_mode": "raw"}, obs_norm=True)
    data = load_checkpoint(run["checkpoint"])
    mean = data["model"]["obs_norm.mean"].numpy()
    assert 50 < mean[0] < 206  # the ship's x in pixels: raw observations, not normalized ones
    policy = policy_from_checkpoint(data).eval()
    env = puffer_learn.make("asteroids", num_envs=8, seed=3, obs_mode="raw")
    obs = torch.from_numpy(env.reset().copy())
    with torch.no_grad():
        got = policy(obs)[0]
        inner = copy.deepcopy(policy)
        inner._forward_pre_hooks.clear()
        std = torch.sqrt(policy.obs_norm.var.float() + 1e-8)
        want = inner((obs - policy.obs_norm.mean.float()) / std)[0]
    assert torch.allclose(got, want, atol=1e-6)


def test_export_folds_the_statistics(tmp_path):
    torch.manual_seed(0)
    policy = MLP(84, 9, hidden_size=32)
    from puffer_learn.training.policies import add_obs_norm
    add_obs_norm(policy, 84)
    obs = torch.rand(64, 84) * 256
    policy.obs_norm.update(obs)
    write_weights(policy, tmp_path / "w.bin")
    logits, values = CPolicy(tmp_path / "w.bin", obs_size=84, num_actions=9).forward(obs.numpy())
    with torch.no_grad():
        exact = copy.deepcopy(policy).double()
        want_logits, want_values, _ = exact(obs.double())
    assert np.abs(logits - want_logits.numpy()).max() < 1e-4
    assert np.abs(values - want_values.numpy()).max() < 1e-4
