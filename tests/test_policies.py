"""Policies: the shared interface, LSTM memory resets, and clear errors."""
import pytest
import torch

from puffer_learn.training.errors import ConfigError
from puffer_learn.training.policies import MLP, POLICIES, EntityPolicy, FrameStack, LSTMPolicy
from puffer_learn.training.policy_setup import build_policy, policy_class, policy_name


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
    assert policy_class("puffer_learn.training.policies.MLP") is MLP
    assert set(POLICIES) >= {"mlp", "lstm"}
    with pytest.raises(ValueError, match="mlp, lstm"):
        policy_class("transformer")


def test_build_policy_puts_the_train_settings_around_the_named_class():
    config = {"policy": {"name": "lstm", "hidden_size": 8}, "train": {"frame_stack": 3, "obs_norm": True}}
    policy = build_policy(config, obs_size=5, num_actions=4)
    assert isinstance(policy, FrameStack) and isinstance(policy.inner, LSTMPolicy)
    assert policy.inner.encoder[0].in_features == 3 * 5 and policy.obs_norm.mean.shape == (5,)
    assert policy_name(policy) == "lstm"  # what a checkpoint saves: the class inside the stack
    plain = build_policy({"policy": {"name": "puffer_learn.training.policies.MLP"}, "train": {}}, 5, 4)
    assert type(plain) is MLP and policy_name(plain) == "mlp" and not hasattr(plain, "obs_norm")


def test_build_policy_hands_an_entity_policy_the_envs_layout_and_keeps_it_in_the_config():
    config = {"policy": {"name": "entity", "hidden_size": 8}, "train": {}}
    policy = build_policy(config, 3 + 2 * 4, 5, entity_layout=(3, 2, 4))
    assert isinstance(policy, EntityPolicy) and policy.entity_layout == (3, 2, 4)
    assert config["policy"]["entity_layout"] == [3, 2, 4]  # saved with the run, so it rebuilds
    with pytest.raises(ConfigError, match="frame_stack=2 needs a policy that reads one flat observation"):
        build_policy({"policy": config["policy"], "train": {"frame_stack": 2}}, 11, 5)
    mlp = {"policy": {"name": "mlp"}, "train": {}}
    build_policy(mlp, 11, 5, entity_layout=(3, 2, 4))
    assert "entity_layout" not in mlp["policy"]  # a flat policy does not take it


def test_a_class_without_the_trainers_interface_is_refused_by_name():
    with pytest.raises(ConfigError, match="'torch.nn.Linear' lacks initial_state, .*subclass .*Policy"):
        build_policy({"policy": {"name": "torch.nn.Linear"}, "train": {}}, 5, 4)


def test_entity_encoder_ignores_object_order_while_the_mlp_does_not():
    from puffer_learn.training.policies import EntityPolicy

    torch.manual_seed(0)
    self_size, n, f = 3, 6, 5
    obs = torch.randn(10, self_size + n * f)
    perm = torch.randperm(n)
    while torch.equal(perm, torch.arange(n)):
        perm = torch.randperm(n)
    shuffled = torch.cat([obs[:, :self_size],
                          obs[:, self_size:].reshape(10, n, f)[:, perm].reshape(10, n * f)], 1)
    entity = EntityPolicy(obs.shape[1], 4, (self_size, n, f), hidden_size=32)
    flat = MLP(obs.shape[1], 4, hidden_size=32)
    with torch.no_grad():
        for policy in (entity, flat):
            policy.actor.weight.normal_()  # make logits big enough to compare
        e1, v1, _ = entity(obs)
        e2, v2, _ = entity(shuffled)
        m1, _, _ = flat(obs)
        m2, _, _ = flat(shuffled)
    assert torch.allclose(e1, e2, atol=1e-5) and torch.allclose(v1, v2, atol=1e-5)
    assert (m1 - m2).abs().max() > 1e-2


def test_entity_encoder_needs_a_layout_that_adds_up():
    from puffer_learn.training.policies import EntityPolicy

    with pytest.raises(ValueError, match="needs entity_layout"):
        EntityPolicy(20, 4)
    with pytest.raises(ValueError, match="describes 19 numbers, obs_size is 20"):
        EntityPolicy(20, 4, (4, 3, 5))


@pytest.mark.parametrize("name", list(POLICIES))
def test_every_policy_has_the_trainers_interface(name):
    """The learn step calls the same methods on every policy: no `if recurrent`."""
    torch.manual_seed(0)
    settings = {"entity_layout": (3, 2, 2)} if name == "entity" else {}
    policy = POLICIES[name](7, 4, hidden_size=8, **settings)
    T, B = 3, 5
    obs = torch.randn(T, B, 7)
    ended = torch.zeros(T, B)
    ended[0, 1] = 1
    state = policy.initial_state(B)
    logits, values, _ = policy.forward_sequence(obs, state, ended)
    assert logits.shape == (T, B, 4) and values.shape == (T, B)
    # forward_sequence = stepping forward() with mask_state at the episode ends
    for t in range(T):
        step_logits, step_values, state = policy(obs[t], state)
        assert torch.allclose(step_logits, logits[t], atol=1e-6)
        assert torch.allclose(step_values, values[t], atol=1e-6)
        state = policy.mask_state(state, ended[t].bool())
    # state_rows picks a minibatch's memory; without memory the state stays None
    rows = torch.tensor([0, 3])
    picked = policy.state_rows(policy.initial_state(B), rows)
    if policy.is_recurrent:
        assert picked[0].shape == (2, 8)
    else:
        assert picked is None and policy.initial_state(B) is None


def test_log_prob_is_the_one_used_by_sampling():
    from puffer_learn.training.policies import log_prob, sample_actions
    logits = torch.tensor([[0.0, 1.0, 2.0], [3.0, 0.0, 0.0]])
    actions, logp = sample_actions(logits, deterministic=True)
    assert actions.tolist() == [2, 0]
    assert torch.equal(logp, log_prob(logits, actions))
    assert torch.allclose(logp, torch.log_softmax(logits, -1).max(-1).values)
