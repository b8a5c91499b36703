"""Training: the settings table, the policies, the PPO trainer, checkpoints,
evaluation against the scripted baseline, and Optuna sweeps. Builds on cenv/."""
