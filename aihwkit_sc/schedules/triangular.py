"""``triangular``: cyclical learning rates (Smith 2017, "Cyclical Learning Rates for Training Neural Networks")."""

from __future__ import annotations

from typing import Literal

from torch.optim import Optimizer
from torch.optim.lr_scheduler import CyclicLR

from aihwkit_sc.schedules._common import LR, Positive, epochs_to_steps, run_steps
from aihwkit_sc.schedules.sync import TileSyncMixin

Mode = Literal["triangular", "triangular2", "exp_range"]


class AnalogCyclicLR(TileSyncMixin, CyclicLR):
    """torch ``CyclicLR`` that keeps analog tiles' LR in sync."""


def triangular(
    optimizer: Optimizer, *, steps_per_epoch: int, epochs: int | None = None, base_lr: LR = 0.001,
    max_lr: LR = 0.1, step_size: Positive = 2, mode: Mode = "triangular", cycle_momentum: bool = False,
) -> AnalogCyclicLR:
    """LR going linearly ``base_lr`` -> ``max_lr`` -> ``base_lr``, each half cycle ``step_size`` epochs long.

    Args:
        mode: ``triangular`` (constant amplitude), ``triangular2`` (halved each cycle) or ``exp_range``.
        cycle_momentum: cycle momentum inversely (off by default: pulsed analog tiles ignore momentum).
    """
    if not 0 < base_lr <= max_lr:
        raise ValueError(f"need 0 < base_lr <= max_lr, got base_lr={base_lr}, max_lr={max_lr}")
    scheduler = AnalogCyclicLR(
        optimizer, base_lr=base_lr, max_lr=max_lr, mode=mode, cycle_momentum=cycle_momentum,
        step_size_up=epochs_to_steps("step_size", step_size, steps_per_epoch),
    )
    scheduler.end_step = run_steps(epochs, steps_per_epoch)
    return scheduler
