"""Fixtures shared by the test files here and in tests/browser."""
import pytest

import puffer_learn


class WebExports:
    """{env: export(..., web=True) result} for a briefly trained agent per
    env, each env trained and exported once per test session, on first use;
    every env's page in its own folder under root."""

    def __init__(self, root):
        self.root, self.results = root, {}

    def __getitem__(self, env):
        from puffer_learn.export.program import export

        if env not in self.results:
            run = puffer_learn.train(env, seed=1, total_timesteps=20_000, out=str(self.root / "runs"),
                                     eval_episodes=2)
            self.results[env] = export(env, run["checkpoint"], self.root / env, web=True)
        return self.results[env]


@pytest.fixture(scope="session")
def web_exports(tmp_path_factory):
    return WebExports(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="session")
def continuous_policy():
    """A hand-built policy for target_continuous, until the trainer makes one:
    an MLP(27, 4) (a mean and a log std per action float, as the trainer's
    will be) whose mean heads for the nearest star. Its first hidden units
    copy the nearest star's offset (obs[5:7]) as relu(dx), relu(-dx),
    relu(dy), relu(-dy); the actor turns them into 8 * offset, which the env
    clips to [-1, 1]. Every other weight keeps torch's random init, so each
    sum in C runs over real, untidy numbers. It eats ~0.6x the baseline."""
    import torch
    from puffer_learn.training.policies import MLP

    torch.manual_seed(0)
    policy = MLP(27, 4, hidden_size=16, layers=2)
    first, second, gain = policy.body[0], policy.body[2], 8.0
    with torch.no_grad():
        for layer in (first, second):
            layer.weight[:4] = 0
            layer.bias[:4] = 0
        for unit, (feature, sign) in enumerate([(5, 1), (5, -1), (6, 1), (6, -1)]):
            first.weight[unit, feature] = sign
            second.weight[unit, unit] = 1
        policy.actor.weight[0, :2] += torch.tensor([gain, -gain])
        policy.actor.weight[1, 2:4] += torch.tensor([gain, -gain])
    return policy


@pytest.fixture(scope="session")
def overflowing_policy():
    """An MLP(27, 4) for target_continuous with finite weights whose first
    mean overflows float to inf (8 hidden units of 1, times 3e38): an
    exported program must stop with a message, not loop on steps the
    binding refuses."""
    import torch
    from puffer_learn.training.policies import MLP

    policy = MLP(27, 4, hidden_size=8, layers=1)
    with torch.no_grad():
        policy.body[0].weight.zero_()
        policy.body[0].bias.fill_(1.0)
        policy.actor.weight[0] = 3e38
    return policy
