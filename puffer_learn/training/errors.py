"""The errors every part of training raises or checks, kept free of other
package imports so any module can use them: ConfigError (a bad setting) and
the finite-weights check, shared by the trainer, evaluation, checkpoints and
export.

    nonfinite(policy.named_parameters())        # name of the first bad tensor, or None
    check_finite_state_dict(policy.state_dict(), "runs/x/model.pt")
"""
import torch


class ConfigError(ValueError, TypeError):
    """A setting has the wrong name, type or value; the message says which and how to fix it.
    (A ValueError and a TypeError, so either `except` catches it.)"""


class NonFiniteWeightsError(ValueError):
    """A checkpoint or weight tensor holds NaN or inf."""


def nonfinite(named_tensors):
    """The name of the first tensor holding a NaN or an inf, or None if all
    are finite. The one finite check of the package."""
    for name, tensor in named_tensors:
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            return name
    return None


def check_finite_state_dict(state_dict, where):
    """Raises NonFiniteWeightsError naming the first tensor (in order) that
    holds a NaN or inf. Nested dicts are searched too (keys joined with '.')."""
    for key, value in state_dict.items():
        if isinstance(value, dict):
            check_finite_state_dict(value, f"{where}: {key}" if ": " not in where else f"{where}.{key}")
        elif torch.is_tensor(value) and nonfinite([(key, value)]):
            bad = ~torch.isfinite(value.flatten())
            first = int(bad.nonzero()[0, 0])
            number = float(value.flatten()[first])
            raise NonFiniteWeightsError(
                f"{where}: tensor {key!r} holds {int(bad.sum())} non-finite value(s) of "
                f"{value.numel()} ({number} at flat index {first}); training diverged (try a lower "
                f"learning rate) or the file is corrupted: use a checkpoint from before the NaNs")
