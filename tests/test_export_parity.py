"""C inference (envs/puffernet.h) against torch: whole-network parity on
random observations and real rollouts, weight files that must be refused, and
the classic porting bugs."""
import numpy as np
import pytest
import torch

import puffer_learn
from puffer_learn.export.weights import CPolicy, WeightFileError, read_weights, write_weights
from puffer_learn.training.policies import MLP, LSTMPolicy

TOL = 1e-5


def torch_outputs(policy, obs, state=None):
    with torch.no_grad():
        logits, value, state = policy(torch.as_tensor(obs), state)
    return logits.numpy(), value.numpy(), state


def max_diff(c_out, t_out):
    return max(float(np.abs(c - t).max()) for c, t in zip(c_out, t_out))


@pytest.fixture
def rollout_obs():
    """Observations from a real target rollout under the scripted policy."""
    env = puffer_learn.make("target", num_envs=4, seed=5)
    env.reset()
    frames = []
    for _ in range(120):
        env.step(env.scripted_actions())
        frames.append(env.observations.copy())
    return np.stack(frames)  # [T, agents, 27]


@pytest.mark.parametrize("layers,hidden", [(1, 32), (2, 128), (3, 64)])
def test_mlp_parity_on_random_observations(tmp_path, layers, hidden):
    torch.manual_seed(layers)
    policy = MLP(27, 8, hidden_size=hidden, layers=layers)
    write_weights(policy, tmp_path / "mlp.bin")
    obs = np.random.default_rng(0).normal(0, 2, (256, 27)).astype(np.float32)
    diff = max_diff(CPolicy(tmp_path / "mlp.bin").forward(obs), torch_outputs(policy, obs)[:2])
    assert diff <= TOL


def test_mlp_parity_on_a_real_rollout(tmp_path, rollout_obs):
    torch.manual_seed(1)
    policy = MLP(27, 8)
    write_weights(policy, tmp_path / "mlp.bin")
    c = CPolicy(tmp_path / "mlp.bin", obs_size=27, num_actions=8)
    worst = max(max_diff(c.forward(obs), torch_outputs(policy, obs)[:2]) for obs in rollout_obs)
    assert worst <= TOL


def test_continuous_policy_parity_on_a_real_rollout(tmp_path, continuous_policy):
    """A continuous env's network is an MLP with 2 outputs per action float
    (the means, then the log stds): C computes all of them as torch does, on
    target_continuous's own observations, under a random and the hand-built
    policy."""
    from puffer_learn.export.weights import policy_outputs

    env = puffer_learn.make("target_continuous", num_envs=4, seed=5)
    env.reset()
    torch.manual_seed(1)
    worst = 0.0
    for name, policy in [("random", MLP(27, policy_outputs(env))), ("greedy", continuous_policy)]:
        write_weights(policy, tmp_path / f"{name}.bin")
        c = CPolicy(tmp_path / f"{name}.bin", obs_size=27, num_actions=4)
        for _ in range(120):
            env.step(env.scripted_actions())
            worst = max(worst, max_diff(c.forward(env.observations), torch_outputs(policy, env.observations)[:2]))
    print(f"max |C - torch| = {worst:.2e}")
    assert worst <= TOL


def test_lstm_parity_with_state_carried_and_reset(tmp_path, rollout_obs):
    """120 steps with memory carried over, and agents' memory zeroed at
    (staggered) episode ends on both sides."""
    torch.manual_seed(2)
    policy = LSTMPolicy(27, 8, hidden_size=64)
    write_weights(policy, tmp_path / "lstm.bin")
    c = CPolicy(tmp_path / "lstm.bin")
    state, worst = None, 0.0
    for t, obs in enumerate(rollout_obs):
        c_out = c.forward(obs)
        logits, value, state = torch_outputs(policy, obs, state)
        worst = max(worst, max_diff(c_out, (logits, value)))
        ended = [a for a in range(obs.shape[0]) if (t + a) % 37 == 0]
        for a in ended:
            c.reset_agent(a)
            state[0][a] = 0
            state[1][a] = 0
    assert worst <= TOL
    # Memory matters: the same obs after a different history (none) gives
    # another value, so the parity above really exercised the carried state.
    assert np.abs(torch_outputs(policy, rollout_obs[-1])[1] - value).max() > 1e-3


def test_read_weights_round_trip(tmp_path):
    policy = MLP(27, 8, hidden_size=16)
    header = write_weights(policy, tmp_path / "w.bin")
    read, floats = read_weights(tmp_path / "w.bin", obs_size=27, num_actions=8)
    assert read == header
    assert floats.size == sum(p.numel() for p in policy.parameters())
    assert np.array_equal(floats[:16 * 27], policy.body[0].weight.detach().numpy().ravel())


def corrupt(path, offset=None, data=None, truncate=None):
    raw = bytearray(path.read_bytes())
    if truncate is not None:
        raw = raw[:truncate]
    if offset is not None:
        raw[offset:offset + len(data)] = data
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage,message", [
    (dict(offset=0, data=b"NOTANET\0"), "bad magic"),
    (dict(offset=8, data=(7).to_bytes(4, "little")), "version"),
    (dict(truncate=1000), "truncated or corrupted"),
    (dict(offset=28, data=(99).to_bytes(4, "little")), "floats"),  # hidden size lies
])
def test_damaged_weight_files_are_refused_by_python_and_c(tmp_path, damage, message):
    path = tmp_path / "w.bin"
    write_weights(MLP(27, 8, hidden_size=16), path)
    corrupt(path, **damage)
    with pytest.raises(WeightFileError, match=message):
        read_weights(path)
    with pytest.raises(WeightFileError):
        CPolicy(path)


def test_mismatched_sizes_are_detected_at_load_time(tmp_path):
    """A policy for a grid env with vision 5 sees (2*5+1)^2 = 121 cells: it
    must not load against an env with another observation size."""
    path = tmp_path / "grid.bin"
    write_weights(MLP(121, 5, hidden_size=16), path)
    with pytest.raises(WeightFileError, match="121 numbers but the env gives 27"):
        CPolicy(path, obs_size=27, num_actions=5)
    with pytest.raises(WeightFileError, match="5 actions but the env has 8"):
        CPolicy(path, obs_size=121, num_actions=8)
    with pytest.raises(WeightFileError, match="121 numbers but the env gives 27"):
        read_weights(path, obs_size=27)


def test_uint8_observations_must_be_converted(tmp_path):
    """An env that stores observations as uint8 (pixels, grid cells) must
    convert them to float before the network: reading the bytes as if they
    were floats is silent garbage."""
    torch.manual_seed(3)
    policy = MLP(16, 4, hidden_size=16)
    write_weights(policy, tmp_path / "u8.bin", obs_dtype="uint8")
    assert read_weights(tmp_path / "u8.bin")[0]["obs_dtype"] == 1
    pixels = np.random.default_rng(0).integers(0, 256, (8, 64), dtype=np.uint8)
    c = CPolicy(tmp_path / "u8.bin")
    converted = pixels[:, :16].astype(np.float32)
    for c_out, t_out in zip(c.forward(converted), torch_outputs(policy, converted)[:2]):
        assert np.allclose(c_out, t_out, rtol=TOL, atol=TOL)  # values near 255: relative
    reinterpreted = pixels.view(np.float32)  # the bug: 4 bytes read as one float
    with np.errstate(all="ignore"):
        wrong = c.forward(np.nan_to_num(reinterpreted))[0]
    assert np.abs(wrong - torch_outputs(policy, converted)[0]).max() > 1.0


def test_argmax_gets_stuck_at_a_wall_while_sampling_recovers(tmp_path):
    """A policy that says "most often go right (p=0.3), else anything else":
    argmax turns that into "always right", so every puffer ends pinned to the
    right wall and stops eating; sampling keeps wandering and keeps eating."""
    policy = MLP(27, 8, hidden_size=8, layers=1)
    with torch.no_grad():
        for p in policy.parameters():
            p.zero_()
        policy.actor.bias[:] = torch.log(torch.tensor([0.3] + [0.1] * 7))
    write_weights(policy, tmp_path / "right.bin")
    c = CPolicy(tmp_path / "right.bin")
    scores = {}
    for mode in ("argmax", "sample"):
        env = puffer_learn.make("target", num_envs=16, seed=4)
        env.reset()
        rng = np.random.default_rng(0)
        for _ in range(256 * 3):
            logits, _ = c.forward(env.observations)
            if mode == "argmax":
                actions = [c.argmax(row) for row in logits]
            else:
                actions = [c.sample(row, u) for row, u in zip(logits, rng.random(len(logits)))]
            env.step(np.asarray(actions, np.int32))
        scores[mode] = env.log()["score"]
    assert scores["sample"] > 2 * scores["argmax"], scores  # 0.21 vs 0.10 on these seeds


def test_c_sampling_matches_the_softmax():
    module_policy = MLP(27, 4, hidden_size=8, layers=1)
    path = "/tmp/_pl_sampling.bin"
    write_weights(module_policy, path)
    c = CPolicy(path)
    logits = np.log(np.array([0.1, 0.2, 0.3, 0.4], np.float32))
    us = (np.arange(20_000) + 0.5) / 20_000
    counts = np.bincount([c.sample(logits, u) for u in us], minlength=4) / len(us)
    assert np.allclose(counts, [0.1, 0.2, 0.3, 0.4], atol=1e-3)


def test_entity_encoder_parity_on_a_real_rollout(tmp_path):
    from puffer_learn.training.policies import EntityPolicy

    env = puffer_learn.make("asteroids", num_envs=4, seed=2)
    env.reset()
    torch.manual_seed(4)
    policy = EntityPolicy(env.obs_size, env.num_actions, env.entity_layout, hidden_size=64,
                          entity_hidden=16)
    write_weights(policy, tmp_path / "entity.bin")
    assert read_weights(tmp_path / "entity.bin")[0]["num_entities"] == env.entity_layout[1]
    c = CPolicy(tmp_path / "entity.bin", obs_size=env.obs_size, num_actions=env.num_actions)
    worst = 0.0
    for _ in range(100):
        env.step(env.scripted_actions())
        worst = max(worst, max_diff(c.forward(env.observations), torch_outputs(policy, env.observations)[:2]))
    assert worst <= TOL
