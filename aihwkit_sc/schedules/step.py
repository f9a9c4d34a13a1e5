"""``step``: the poster's baseline, LR multiplied by ``gamma`` every ``step_size`` epochs."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import StepLR

from aihwkit_sc.schedules._common import epochs_to_steps, set_initial_lr
from aihwkit_sc.schedules.sync import TileSyncMixin


class AnalogStepLR(TileSyncMixin, StepLR):
    """torch ``StepLR`` that keeps analog tiles' LR in sync."""


def step(
    optimizer: Optimizer, *, steps_per_epoch: int, epochs: int | None = None, lr: float | None = None,
    gamma: float = 0.5, step_size: float = 10,
) -> AnalogStepLR:
    """Step decay, stepped once per batch: ``lr · gamma ** floor(epoch / step_size)``.

    The poster's settings read ``step/LR/GAMMA/STEP_SIZE``: ``step/0.01/0.5/10`` for ResNet-18 on CIFAR-10,
    ``step/0.01/0.94/2`` for LeNet-5 on MNIST.

    Args:
        lr: initial LR (default: the optimizer's).
        gamma: multiplicative decay.
        step_size: epochs between decays.
    """
    if not gamma > 0:
        raise ValueError(f"gamma must be positive, got {gamma}")
    set_initial_lr(optimizer, lr)
    return AnalogStepLR(optimizer, step_size=epochs_to_steps("step_size", step_size, steps_per_epoch), gamma=gamma)
