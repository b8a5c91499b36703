"""Training: the settings table and its checks (config), the policies and the
one place a run's policy is built (policies, policy_setup), the PPO trainer,
checkpoints, evaluation against the scripted baseline, and Optuna sweeps.
Builds on cenv/."""
