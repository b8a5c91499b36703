"""Checks shared by export, eval and resume (kept free of trainer imports).

    check_finite_state_dict(policy.state_dict(), "runs/x/model.pt")
"""


class NonFiniteWeightsError(ValueError):
    """A checkpoint or weight tensor holds NaN or inf."""


def check_finite_state_dict(state_dict, where):
    """Raises NonFiniteWeightsError naming the first tensor (in order) that
    holds a NaN or inf. Nested dicts are searched too (keys joined with '.')."""
    import torch

    for key, value in state_dict.items():
        if isinstance(value, dict):
            check_finite_state_dict(value, f"{where}: {key}" if ": " not in where else f"{where}.{key}")
            continue
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            continue
        finite = torch.isfinite(value)
        if not bool(finite.all()):
            bad = (~finite).flatten()
            first = int(bad.nonzero()[0, 0])
            number = float(value.flatten()[first])
            raise NonFiniteWeightsError(
                f"{where}: tensor {key!r} holds {int(bad.sum())} non-finite value(s) of "
                f"{value.numel()} ({number} at flat index {first}); training diverged (try a lower "
                f"learning rate) or the file is corrupted: use a checkpoint from before the NaNs")
