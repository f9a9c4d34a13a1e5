"""``constant``: the same LR throughout."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from aihwkit_sc.schedules._common import set_initial_lr
from aihwkit_sc.schedules.sync import TileSyncMixin


def _one(step: int) -> float:
    return 1.0


class AnalogConstantLR(TileSyncMixin, LambdaLR):
    """A constant LR that keeps analog tiles' LR in sync."""


def constant(
    optimizer: Optimizer, *, steps_per_epoch: int | None = None, epochs: int | None = None, lr: float | None = None
) -> AnalogConstantLR:
    """Constant LR (``lr``, default: the optimizer's)."""
    set_initial_lr(optimizer, lr)
    return AnalogConstantLR(optimizer, _one)
