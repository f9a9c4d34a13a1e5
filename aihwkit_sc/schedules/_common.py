"""Small helpers shared by the named schedules (each schedule lives in a file of its own)."""

from __future__ import annotations

import math

from torch.optim import Optimizer


def positive(name: str, value: object) -> None:
    """Raise one line unless ``value`` is a finite positive number."""
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def set_initial_lr(optimizer: Optimizer, lr: float | None, per_group: dict[int, float] | None = None) -> None:
    """Start every group at ``lr`` (when given) and group ``i`` at ``per_group[i]``, as a scheduler created
    afterwards expects."""
    if lr is not None:
        positive("lr", lr)
    for i, group in enumerate(optimizer.param_groups):
        start = (per_group or {}).get(i, lr)
        if start is not None:
            group["lr"] = start
            group.pop("initial_lr", None)


def epochs_to_steps(name: str, epochs: float, steps_per_epoch: int) -> int:
    """A length given in epochs, as optimizer steps (at least 1)."""
    if not (epochs > 0 and steps_per_epoch > 0):
        raise ValueError(f"{name} and steps_per_epoch must be positive, got {epochs} and {steps_per_epoch}")
    return max(1, round(epochs * steps_per_epoch))
