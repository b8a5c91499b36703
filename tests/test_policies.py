"""Policies: the shared interface, LSTM memory resets, and clear errors."""
import pytest
import torch

from puffer_learn.policies import MLP, POLICIES, LSTMPolicy
from puffer_learn.train import policy_class


def test_mlp_shapes_and_layers():
    policy = MLP(obs_size=7, num_actions=5, hidden_size=32, layers=3)
    logits, value, state = policy(torch.randn(10, 7))
    assert logits.shape == (10, 5) and value.shape == (10,) and state is None
    assert [m.in_features for m in policy.body if isinstance(m, torch.nn.Linear)] == [7, 32, 32]
    assert not policy.is_recurrent
    with pytest.raises(ValueError, match="at least 1 hidden layer"):
        MLP(7, 5, layers=0)


def test_new_policies_start_close_to_uniform():
    logits, _, _ = MLP(7, 5)(torch.randn(100, 7))
    assert logits.abs().max() < 0.5  # small action head: explore first


def test_lstm_carries_memory_between_steps():
    torch.manual_seed(0)
    policy = LSTMPolicy(obs_size=3, num_actions=2, hidden_size=8)
    obs = torch.randn(4, 3)
    first, _, state = policy(obs)
    second, _, _ = policy(obs, state)
    assert state[0].shape == (4, 8) and policy.is_recurrent
    assert not torch.allclose(first, second)  # same input, different memory


def test_forward_sequence_resets_memory_where_episodes_end():
    torch.manual_seed(0)
    policy = LSTMPolicy(obs_size=3, num_actions=2, hidden_size=8)
    obs = torch.randn(4, 2, 3)  # T=4 steps, 2 agents
    ended = torch.zeros(4, 2)
    ended[1, 0] = 1  # agent 0's episode ends with step 1
    start = tuple(torch.randn(2, 8) for _ in range(2))
    logits, values, state = policy.forward_sequence(obs, start, ended)
    assert logits.shape == (4, 2, 2) and values.shape == (4, 2) and state[0].shape == (2, 8)
    # Step 2 of agent 0 starts a new episode: it must act as if from a fresh state.
    fresh, _, _ = policy(obs[2, :1])
    assert torch.allclose(logits[2, 0], fresh[0], atol=1e-6)
    # Agent 1 never ended: its step 2 depends on the memory it carried.
    fresh1, _, _ = policy(obs[2, 1:])
    assert not torch.allclose(logits[2, 1], fresh1[0])
    # Replaying step by step with the same resets gives the same outputs.
    h = start
    for t in range(4):
        step_logits, _, h = policy(obs[t], h)
        assert torch.allclose(step_logits, logits[t], atol=1e-6)
        keep = 1 - ended[t].unsqueeze(1)
        h = (h[0] * keep, h[1] * keep)


def test_policy_names_and_import_paths():
    assert policy_class("mlp") is MLP and policy_class("lstm") is LSTMPolicy
    assert policy_class("puffer_learn.policies.MLP") is MLP
    assert set(POLICIES) >= {"mlp", "lstm"}
    with pytest.raises(ValueError, match="mlp, lstm"):
        policy_class("transformer")
