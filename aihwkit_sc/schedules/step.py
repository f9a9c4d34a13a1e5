"""``step``: the poster's baseline, LR multiplied by ``gamma`` every ``step_size`` epochs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch.optim import Optimizer
from torch.optim.lr_scheduler import StepLR

from aihwkit_sc.schedules._common import LR, Positive, epochs_to_steps, run_steps, set_initial_lr
from aihwkit_sc.schedules.device import analog_start
from aihwkit_sc.schedules.sync import TileSyncMixin


class AnalogStepLR(TileSyncMixin, StepLR):
    """torch ``StepLR`` that keeps analog tiles' LR in sync."""


def step(
    optimizer: Optimizer, *, steps_per_epoch: int, epochs: int | None = None, lr: LR | None = None,
    gamma: Positive = 0.5, step_size: Positive = 10, analog_lr: LR | Literal["device"] | None = None,
    xd_product: Positive | Sequence[Positive] | None = None, device_pulses: Positive = 1.0,
    device_reference: str | None = None,
) -> AnalogStepLR:
    """Step decay, stepped once per batch: ``lr · gamma ** floor(epoch / step_size)``.

    The poster's settings read ``step/LR/GAMMA/STEP_SIZE``: ``step/0.01/0.5/10`` for ResNet-18 on CIFAR-10,
    ``step/0.01/0.94/2`` for LeNet-5 on MNIST.

    Args:
        lr: initial LR (default: the optimizer's).
        gamma: multiplicative decay.
        step_size: epochs between decays.
        analog_lr: initial LR of the analog groups: a number, or ``"device"`` for ``device_pulses`` device LR
            units per group (:mod:`aihwkit_sc.schedules.device`; needs ``xd_product``). Default: ``lr``.
    """
    if not gamma > 0:
        raise ValueError(f"gamma must be positive, got {gamma}")
    set_initial_lr(optimizer, lr, analog_start(optimizer, analog_lr, xd_product, device_pulses, device_reference))
    scheduler = AnalogStepLR(optimizer, step_size=epochs_to_steps("step_size", step_size, steps_per_epoch), gamma=gamma)
    scheduler.end_step = run_steps(epochs, steps_per_epoch)
    return scheduler
