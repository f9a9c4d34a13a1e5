"""Small helpers shared by the named schedules (each schedule lives in a file of its own)."""

from __future__ import annotations

import math

from torch.optim import Optimizer


def set_initial_lr(optimizer: Optimizer, lr: float | None) -> None:
    """Start every group at ``lr`` (when given), as a scheduler created afterwards expects."""
    if lr is None:
        return
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    for group in optimizer.param_groups:
        group["lr"] = lr
        group.pop("initial_lr", None)


def epochs_to_steps(name: str, epochs: float, steps_per_epoch: int) -> int:
    """A length given in epochs, as optimizer steps (at least 1)."""
    if not (epochs > 0 and steps_per_epoch > 0):
        raise ValueError(f"{name} and steps_per_epoch must be positive, got {epochs} and {steps_per_epoch}")
    return max(1, round(epochs * steps_per_epoch))
