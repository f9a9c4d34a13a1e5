"""``multistep``: step decay at fractions of the run (×0.1 at 50 % and 75 % by default), the usual step baseline of
image classification (He et al. 2016), as opposed to the poster's slow ``step/0.01/0.94/2``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch.optim import Optimizer
from torch.optim.lr_scheduler import MultiStepLR

from aihwkit_sc.schedules._common import LR, Fraction, Positive, epochs_to_steps, set_initial_lr
from aihwkit_sc.schedules.device import analog_start
from aihwkit_sc.schedules.sync import TileSyncMixin


class AnalogMultiStepLR(TileSyncMixin, MultiStepLR):
    """torch ``MultiStepLR`` that keeps analog tiles' LR in sync."""


def multistep(
    optimizer: Optimizer, *, steps_per_epoch: int, epochs: int, lr: LR | None = None, gamma: Positive = 0.1,
    milestones: Sequence[Fraction] = (0.5, 0.75), analog_lr: LR | Literal["device"] | None = None,
    xd_product: Positive | Sequence[Positive] | None = None, device_pulses: Positive = 1.0,
    device_reference: str | None = None,
) -> AnalogMultiStepLR:
    """LR times ``gamma`` at each of ``milestones`` (fractions of the run, in (0, 1)), stepped once per batch.

    Args:
        analog_lr: starting LR of the analog groups: a number, or ``"device"`` for ``device_pulses`` device LR units
            per group (:mod:`aihwkit_sc.schedules.device`; needs ``xd_product``). Default: ``lr``.
    """
    if not gamma > 0:
        raise ValueError(f"gamma must be positive, got {gamma}")
    fractions = list(milestones)
    if not fractions or any(not 0 < f < 1 for f in fractions) or fractions != sorted(fractions):
        raise ValueError(f"milestones must be increasing fractions of the run in (0, 1), got {list(milestones)}")
    total = epochs_to_steps("epochs", epochs, steps_per_epoch)
    set_initial_lr(optimizer, lr, analog_start(optimizer, analog_lr, xd_product, device_pulses, device_reference))
    scheduler = AnalogMultiStepLR(optimizer, milestones=[max(1, round(f * total)) for f in fractions], gamma=gamma)
    scheduler.end_step = total
    return scheduler
