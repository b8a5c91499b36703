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
